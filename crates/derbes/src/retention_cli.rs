//! `derbes retention`: what has expired over every subject, what a legal hold keeps, and what
//! expires soon, grouped by retention rule (counts and a few subject ids, never a value).

use crate::config::Config;
use crate::setup;
use anyhow::Result;
use derbes_core::expiry::{ExpiryGroup, ExpiryReport};
use derbes_service::{Actor, VaultError};
use std::fmt::Write;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum RetentionCommand {
    /// Scan every subject now: expired fields by rule (what destruction or depersonalization
    /// would take), those a legal hold keeps, and those ending within --days
    Scan {
        /// How many days ahead to look for what expires soon
        #[arg(long, default_value_t = 30)]
        days: u32,
        /// Print the scan as JSON (the API's answer)
        #[arg(long)]
        json: bool,
    },
    /// The legal holds in force or to come (set and lifted with `derbes lifecycle record
    /// --kind legal_hold` and `--kind retracted`), those ending first at the top
    Holds {
        /// Print them as JSON (the API's answer)
        #[arg(long)]
        json: bool,
    },
    /// Propose a batch: what one retention rule destroys or depersonalizes today, over every
    /// subject not under a legal hold
    Propose {
        /// The retention rule (a `[retention.*]` key of the declaration)
        rule: String,
    },
    /// Approve a proposed batch (refused, and worked out again, when what has expired changed
    /// since it was proposed)
    Approve {
        /// The batch's id
        batch: uuid::Uuid,
    },
    /// Execute the approved batches now, as the job `retention-run` does
    Run {
        /// Change nothing: list the approved batches a run would execute, then what has
        /// expired today by rule, as the daily scan finds it
        #[arg(long)]
        dry_run: bool,
    },
    /// The latest batches, newest first
    Batches {
        /// Print them as JSON (the API's answer)
        #[arg(long)]
        json: bool,
    },
    /// The acts of destruction (or depersonalization) issued for executed batches, newest first
    Acts,
    /// An executed batch's act of destruction or depersonalization: the signed JSON, or the page
    /// to print and sign
    Act {
        /// The batch's id
        batch: uuid::Uuid,
        /// json (signed), html, or pdf (needs headless Chromium and --out)
        #[arg(long, default_value = "json")]
        format: String,
        /// The page's language: kk, ru or en
        #[arg(long, default_value = "kk")]
        lang: String,
        /// Write to this file instead of standard output
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
    /// Release the depersonalized records a rule keeps, for statistics: only the groups of at
    /// least the rule's k records alike in category and every quasi-identifier
    Release {
        /// The retention rule that depersonalizes (a `[retention.*]` key of the declaration)
        rule: String,
        /// json (with the counts of what was held back) or csv (the records alone)
        #[arg(long, default_value = "json")]
        format: String,
        /// Write to this file instead of standard output
        #[arg(long)]
        out: Option<std::path::PathBuf>,
    },
}

pub async fn run(
    config: &Config,
    person: Option<String>,
    command: &RetentionCommand,
) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let retention = &opened.app.retention;
    let person = Actor::command_line(&format!(
        "retention:{}",
        crate::requests_cli::person(person)
    ));
    let (days, json) = match command {
        RetentionCommand::Propose { rule } => {
            let b = refused_by_field(retention.propose_batch(&person, rule).await, "")?;
            println!("{}", batch_line(&b));
            return Ok(ExitCode::SUCCESS);
        }
        RetentionCommand::Approve { batch } => {
            let b = retention.approve_batch(&person, *batch).await?;
            println!("{}", batch_line(&b));
            return Ok(ExitCode::SUCCESS);
        }
        RetentionCommand::Run { dry_run: true } => {
            let to_run = retention.batches_to_run(&person).await?;
            if to_run.is_empty() {
                println!("no approved batch to execute");
            }
            for b in &to_run {
                println!("would execute {}", batch_line(b));
            }
            (derbes_service::KEPT_SCAN_DAYS, false)
        }
        RetentionCommand::Run { dry_run: false } => {
            let ran = retention.run_batches(&person).await?;
            if ran.is_empty() {
                println!("no approved batch to execute");
            }
            for b in &ran {
                println!("executed {}", derbes_service::batch_summary(b));
            }
            return Ok(ExitCode::SUCCESS);
        }
        RetentionCommand::Batches { json } => {
            let batches = retention.batches(&person).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&batches)?);
            } else if batches.is_empty() {
                println!("no retention batch has been proposed");
            }
            for b in batches.iter().filter(|_| !*json) {
                println!("{}", batch_line(b));
            }
            return Ok(ExitCode::SUCCESS);
        }
        RetentionCommand::Acts => return list_acts(retention, &person).await,
        RetentionCommand::Act {
            batch,
            format,
            lang,
            out,
        } => return write_act(retention, &person, *batch, format, lang, out.as_deref()).await,
        RetentionCommand::Release { rule, format, out } => {
            return write_release(retention, &person, rule, format, out.as_deref()).await
        }
        RetentionCommand::Scan { days, json } => (*days, *json),
        RetentionCommand::Holds { json } => {
            let actor = Actor::command_line("retention-holds");
            let holds = opened.app.retention.legal_holds(&actor).await?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&holds)?);
            } else if holds.is_empty() {
                println!("no legal hold is in force");
            } else {
                for h in &holds {
                    println!(
                        "{} ({}): {} to {}, set by {}; event {}\n    {}",
                        h.subject_id,
                        h.category,
                        h.from,
                        h.until,
                        h.set_by,
                        h.event,
                        h.reason.as_deref().unwrap_or("")
                    );
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
    };
    let report = refused_by_field(
        retention
            .scan(&Actor::command_line("retention-scan"), days)
            .await,
        "--",
    )?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", shown(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// A refusal naming the option (`prefix` `--`) or argument at fault.
fn refused_by_field<T>(r: Result<T, VaultError>, prefix: &str) -> Result<T> {
    match r {
        Ok(v) => Ok(v),
        Err(VaultError::Validation(problems)) => {
            let said: Vec<String> = problems
                .iter()
                .map(|p| format!("{prefix}{}: {}", p.field, p.message))
                .collect();
            anyhow::bail!("{}", said.join("; "))
        }
        Err(e) => Err(e.into()),
    }
}

/// A batch in a few lines: counts, never a value.
fn batch_line(b: &derbes_service::BatchView) -> String {
    let s = &b.batch.summary.tally;
    let approvals: Vec<&str> = b.batch.approvals.iter().map(|a| a.by.as_str()).collect();
    format!(
        "batch {} ({}, {}): {} subject(s), {} whole, {} field(s) [{}]; {}, approvals {}/{}{}",
        b.batch.id,
        b.batch.rule,
        action_word(b.batch.action),
        s.subjects,
        s.whole_subjects,
        s.fields,
        s.field_keys.iter().cloned().collect::<Vec<_>>().join(", "),
        b.batch.status.as_str(),
        approvals.len(),
        b.batch.approvals_needed,
        if approvals.is_empty() {
            String::new()
        } else {
            format!(" by {}", approvals.join(", "))
        }
    )
}

fn action_word(a: derbes_core::declaration::RetentionAction) -> &'static str {
    match a {
        derbes_core::declaration::RetentionAction::Destroy => "destroy",
        derbes_core::declaration::RetentionAction::Depersonalize => "depersonalize",
    }
}

fn shown(r: &ExpiryReport) -> String {
    let mut out = format!("{} subject(s) scanned on {}\n", r.scanned, r.today);
    for (title, groups) in [
        ("expired", &r.expired),
        (
            &*format!(
                "expired, kept by a legal hold ({} subject(s) with an open request, {} with a complaint, {} under a hold the DPO set)",
                r.held_for.requests, r.held_for.complaints, r.held_for.legal_holds
            ),
            &r.held,
        ),
        (&*format!("ending within {} days", r.days), &r.upcoming),
    ] {
        let _ = writeln!(out, "\n{title}:");
        if groups.is_empty() {
            let _ = writeln!(out, "  nothing");
        }
        for g in groups {
            out.push_str(&group(g));
        }
    }
    out
}

fn group(g: &ExpiryGroup) -> String {
    let action = action_word(g.action);
    let list = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    let (t, sample) = (&g.tally, &g.tally.sample);
    let sample: Vec<String> = sample.iter().map(ToString::to_string).collect();
    format!(
        "  {} ({action}): {} subject(s), {} whole; {} field(s), last days {} to {}\n    categories: {}\n    fields: {}\n    for example: {}\n",
        g.rule,
        t.subjects,
        t.whole_subjects,
        t.fields,
        g.first_day,
        g.last_day,
        list(&t.categories),
        list(&t.field_keys),
        sample.join(", ")
    )
}

/// `derbes retention acts`: the acts issued, newest first.
async fn list_acts(retention: &derbes_service::Retention, person: &Actor) -> Result<ExitCode> {
    let acts = retention.acts(person).await?;
    if acts.is_empty() {
        println!("no act of destruction has been issued");
    }
    for a in &acts {
        println!(
            "act {} of {} (batch {}): {}, {} subject(s) destroyed whole, {} lost expired fields, {} field(s)",
            a.number,
            a.date,
            a.batch_id,
            a.rule.code,
            a.whole_subjects,
            a.field_subjects,
            a.fields_destroyed
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `derbes retention release`: the records that pass k-anonymity, as JSON or CSV; what was
/// held back, counted on standard error.
async fn write_release(
    retention: &derbes_service::Retention,
    person: &Actor,
    rule: &str,
    format: &str,
    out: Option<&std::path::Path>,
) -> Result<ExitCode> {
    if !matches!(format, "json" | "csv") {
        anyhow::bail!("--format `{format}`: use json or csv");
    }
    let release = refused_by_field(retention.release(person, rule).await, "")?;
    let bytes = match format {
        "json" => serde_json::to_vec_pretty(&release)?,
        _ => release.csv()?,
    };
    match out {
        Some(path) => std::fs::write(path, &bytes)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?,
        None => {
            use std::io::Write as _;
            std::io::stdout().write_all(&bytes)?;
        }
    }
    let r = &release.release;
    eprintln!(
        "derbes: released {} record(s) in {} group(s) of at least {}; held back {} record(s) in {} smaller group(s)",
        r.records.len(),
        r.groups,
        r.k,
        r.suppressed_records,
        r.suppressed_groups
    );
    Ok(ExitCode::SUCCESS)
}

/// `derbes retention act`: the signed JSON, the page, or the page printed to PDF.
async fn write_act(
    retention: &derbes_service::Retention,
    person: &Actor,
    batch: uuid::Uuid,
    format: &str,
    lang: &str,
    out: Option<&std::path::Path>,
) -> Result<ExitCode> {
    let lang: derbes_core::text::Lang = lang
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--lang: {e}"))?;
    if !matches!(format, "json" | "html" | "pdf") {
        anyhow::bail!("--format `{format}`: use json, html or pdf");
    }
    if format == "pdf" && out.is_none() {
        anyhow::bail!("--format pdf writes a file: name it with --out FILE");
    }
    let signed = retention.act(person, batch).await?;
    let text = match format {
        "json" => serde_json::to_string_pretty(&signed)?,
        _ => derbes_service::act_html(&signed, lang)?,
    };
    let Some(path) = out else {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    };
    if format == "pdf" {
        crate::pdf::print(&text, path)?;
    } else {
        std::fs::write(path, &text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
    }
    eprintln!(
        "derbes: wrote act {} ({format}) to {}",
        signed.act.number,
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

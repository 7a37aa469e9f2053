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
}

pub async fn run(config: &Config, command: &RetentionCommand) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let (days, json) = match command {
        RetentionCommand::Scan { days, json } => (days, json),
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
    let report = match opened
        .app
        .retention
        .scan(&Actor::command_line("retention-scan"), *days)
        .await
    {
        Ok(report) => report,
        Err(VaultError::Validation(problems)) => {
            let said: Vec<String> = problems
                .iter()
                .map(|p| format!("--{}: {}", p.field, p.message))
                .collect();
            anyhow::bail!("{}", said.join("; "))
        }
        Err(e) => return Err(e.into()),
    };
    if *json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", shown(&report));
    }
    Ok(ExitCode::SUCCESS)
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
    let action = match g.action {
        derbes_core::declaration::RetentionAction::Destroy => "destroy",
        derbes_core::declaration::RetentionAction::Depersonalize => "depersonalize",
    };
    let list = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    let sample: Vec<String> = g.sample.iter().map(ToString::to_string).collect();
    format!(
        "  {} ({action}): {} subject(s), {} whole; {} field(s), last days {} to {}\n    categories: {}\n    fields: {}\n    for example: {}\n",
        g.rule,
        g.subjects,
        g.whole_subjects,
        g.fields,
        g.first_day,
        g.last_day,
        list(&g.categories),
        list(&g.field_keys),
        sample.join(", ")
    )
}

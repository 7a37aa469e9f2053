//! `derbes calendar …` and `derbes requests …`: the working-day calendar and deadlines, and the
//! list of data-subject requests by due time, from the command line.

use crate::config::Config;
use anyhow::{bail, Context, Result};
use derbes_core::calendar::Day;
use derbes_core::deadline::{due, rule_for};
use derbes_core::request::RequestKind;
use derbes_core::text::Lang;
use derbes_service::{Actor, RequestFilter};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The year to show [default: this year]
    #[arg(long)]
    pub year: Option<i32>,
    /// A calendar file to check and show instead of the configured one
    #[arg(long)]
    pub file: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DueArgs {
    /// The kind of request: information, access_export, rectification, blocking, unblocking,
    /// destruction, restriction, consent_withdrawal, objection, complaint
    #[arg(long)]
    pub kind: String,
    /// When the request was received, RFC 3339 (e.g. 2026-03-20T10:00:00+05:00) [default: now]
    #[arg(long)]
    pub received: Option<String>,
    /// The language of the explanation: kk, ru or en
    #[arg(long, default_value = "ru")]
    pub lang: String,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only open requests due by the end of the day this many days from today
    #[arg(long)]
    pub due_within_days: Option<u32>,
    /// Only open requests past their due time
    #[arg(long)]
    pub overdue: bool,
    /// Closed requests too
    #[arg(long)]
    pub all: bool,
    /// At most this many
    #[arg(long, default_value_t = 100)]
    pub limit: u32,
}

pub fn show(config: &Config, args: &ShowArgs) -> Result<ExitCode> {
    let c = crate::setup::calendar(args.file.as_deref().or(config.calendar.as_deref()))?;
    let year = args
        .year
        .unwrap_or_else(|| time::OffsetDateTime::now_utc().to_offset(c.offset()).year());
    let r = c.reference();
    println!("{} working-day calendar, {year} ({})", r.name, r.hash);
    if !c.covers(year) {
        println!(
            "warning: the calendar lists movable holidays and transfers for {}-{} only; for {year} it has the fixed holidays and the weekend rule",
            r.covers.from, r.covers.to
        );
    }
    let mut weekdays_off = 0;
    for (date, day) in c.year(year) {
        let what = match &day {
            Day::Working | Day::Weekend => continue,
            Day::Holiday { name } => format!("holiday: {}", name.get(Lang::En)),
            Day::MovedHoliday { name, from } => {
                format!("day off for {} ({from})", name.get(Lang::En))
            }
            Day::TransferredDayOff { basis, worked_on } => {
                format!("day off by transfer, worked on {worked_on} ({basis})")
            }
            Day::TransferredWorkingDay { basis, day_off } => {
                format!("working day by transfer, off on {day_off} ({basis})")
            }
        };
        if !day.is_working() && !c.is_weekend(date) {
            weekdays_off += 1;
        }
        println!("{date}  {:<9}  {what}", date.weekday());
    }
    println!("{weekdays_off} weekdays off besides weekends");
    Ok(ExitCode::SUCCESS)
}

pub fn due_date(
    config: &Config,
    args: &DueArgs,
    declaration: &derbes_core::Declaration,
) -> Result<ExitCode> {
    let c = crate::setup::calendar(config.calendar.as_deref())?;
    let kind: RequestKind = args.kind.parse().map_err(anyhow::Error::msg)?;
    let lang: Lang = args.lang.parse().map_err(anyhow::Error::msg)?;
    let received = match &args.received {
        None => time::OffsetDateTime::now_utc(),
        Some(s) => time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
            .with_context(|| {
            format!(
                "--received `{s}` is not an RFC 3339 time; write e.g. 2026-03-20T10:00:00+05:00"
            )
        })?,
    };
    let (rule, source) = rule_for(&declaration.deadlines, kind.deadline_kind());
    let d = due(&c, received, rule, source);
    println!("{}", d.due_on);
    println!("{}", d.explain(lang));
    for s in &d.skipped {
        println!(
            "  not counted: {}  {}{}",
            s.date,
            s.why,
            if s.note.is_empty() {
                String::new()
            } else {
                format!(" ({})", s.note)
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn list(config: &Config, args: &ListArgs) -> Result<ExitCode> {
    if args.overdue && args.due_within_days.is_some() {
        bail!("give --overdue or --due-within-days, not both");
    }
    let opened = crate::setup::open(config, false).await?;
    let actor = Actor::command_line("requests-list");
    let views = opened
        .app
        .requests
        .requests(
            &actor,
            RequestFilter {
                due_within_days: args.due_within_days,
                overdue: args.overdue,
                open: Some(!args.all),
                limit: Some(args.limit),
                ..Default::default()
            },
        )
        .await?;
    for v in &views {
        println!(
            "{}  {:<18}  {:<17}  due {}{}  subject {}",
            v.id,
            v.kind.code(),
            v.status.code(),
            v.due.due.due_on,
            if v.overdue { " OVERDUE" } else { "" },
            v.subject_id
        );
    }
    eprintln!("derbes: {} request(s)", views.len());
    Ok(ExitCode::SUCCESS)
}

/// `derbes destructions reapply`: after a restore from a backup, destroys again the subjects the
/// destruction log records, and copies to the log the database's records it lacks.
pub async fn reapply_destructions(config: &Config) -> Result<ExitCode> {
    let opened = crate::setup::open(config, false).await?;
    let done = opened.app.destructions.reconcile_destructions().await?;
    report_reconciled(&done, &config.destruction_log);
    Ok(if done.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// What a reconciliation did, on standard error.
pub fn report_reconciled(done: &derbes_service::Reconciled, log: &std::path::Path) {
    eprintln!(
        "derbes: destruction log {}: {} record(s); {} restored subject(s) destroyed again; {} restored subject(s) lost their destroyed fields again; {} record(s) added to the log",
        log.display(),
        done.logged,
        done.reapplied.len(),
        done.reapplied_fields,
        done.appended
    );
    for id in &done.reapplied {
        eprintln!("derbes: destroyed again: subject {id}");
    }
    for r in &done.rejected {
        eprintln!(
            "derbes: warning: destruction log line {} ignored: {}",
            r.line, r.problem
        );
    }
}

/// `derbes destructions list`: the destruction records of the database, one line each.
pub async fn list_destructions(config: &Config) -> Result<ExitCode> {
    let opened = crate::setup::open(config, false).await?;
    let actor = Actor::command_line("destructions-list");
    let mut after = None;
    let mut count = 0;
    loop {
        let page = opened
            .app
            .destructions
            .destructions(&actor, after, 1000)
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.subject_id);
        for d in &page {
            count += 1;
            println!(
                "{}  {:<22}  {}  by {}{}  {} field(s)",
                d.subject_id,
                d.category,
                derbes_core::audit::format_timestamp(d.destroyed_at),
                d.actor,
                d.request_id
                    .map(|r| format!(" for request {r}"))
                    .unwrap_or_default(),
                d.fields.len()
            );
        }
    }
    eprintln!("derbes: {count} destroyed subject(s)");
    Ok(ExitCode::SUCCESS)
}

/// `derbes connectors check`: reads every mapped table and column once, for an identifier that
/// matches nobody, so that the map and the database are known to agree before a request needs
/// them.
pub async fn check_connectors(config: &Config) -> Result<ExitCode> {
    let opened = crate::setup::open(config, false).await?;
    let connectors = opened.app.vault.connectors();
    if connectors.is_empty() {
        eprintln!("derbes: no connectors are configured (`connectors` in derbes.toml)");
        return Ok(ExitCode::SUCCESS);
    }
    let mut failed = false;
    for c in connectors {
        match c.check().await {
            Ok(tables) => println!(
                "{}: ok, {} table(s){} readable on {}",
                c.name(),
                tables,
                if c.map().lifecycle.is_some() {
                    " and the lifecycle columns"
                } else {
                    ""
                },
                c.describe()
            ),
            Err(e) => {
                failed = true;
                println!("{e}");
            }
        }
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[derive(Debug, clap::Subcommand)]
pub enum WorkCommand {
    /// File a request given as JSON (the API's body: kind, subject_id, channel, language, …)
    File { json: String },
    /// One request, with its due date explained, actions and history
    Show { id: uuid::Uuid },
    /// Take a step given as JSON (the API's body: {"step": "submit"}, {"step": "approve"}, …)
    Step { id: uuid::Uuid, json: String },
    /// Record that staff checked the requester's identity document
    Verify {
        id: uuid::Uuid,
        /// id_card, passport, birth_certificate, power_of_attorney, court_decision or other
        #[arg(long)]
        document: String,
        #[arg(long)]
        note: Option<String>,
    },
    /// Write the access package to a file
    Package {
        id: uuid::Uuid,
        #[arg(long)]
        out: PathBuf,
    },
    /// The written answer: as sent, or as it would be sent now
    Answer { id: uuid::Uuid },
}

fn parse_json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).with_context(|| format!("the {what} is not valid JSON of its kind"))
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Who is at the terminal: `--as`, else `$USER`.
pub fn person(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "operator".into())
}

/// `derbes requests file|show|step|verify|package|answer`: a request handled at the terminal,
/// through the same service calls, checks and audit as the API.
pub async fn work(
    config: &Config,
    person: Option<String>,
    command: &WorkCommand,
) -> Result<ExitCode> {
    let actor = Actor::command_line(&format!("requests:{}", self::person(person)));
    let opened = crate::setup::open(config, false).await?;
    let requests = &opened.app.requests;
    match command {
        WorkCommand::File { json } => print_json(
            &requests
                .file_request(&actor, parse_json("request", json)?)
                .await?,
        )?,
        WorkCommand::Show { id } => print_json(&requests.request(&actor, *id).await?)?,
        WorkCommand::Step { id, json } => print_json(
            &requests
                .request_step(&actor, *id, parse_json("step", json)?)
                .await?,
        )?,
        WorkCommand::Verify { id, document, note } => {
            let document = serde_json::from_value(serde_json::Value::String(document.clone()))
                .with_context(|| format!("--document `{document}`: use id_card, passport, birth_certificate, power_of_attorney, court_decision or other"))?;
            print_json(
                &requests
                    .verify_request_by_document(&actor, *id, document, note.clone())
                    .await?,
            )?
        }
        WorkCommand::Package { id, out } => {
            let package = requests.request_package(&actor, *id).await?;
            // The package is personal data: readable by its owner only, also when `out` was
            // there before with wider permissions (narrowed before anything is written).
            use std::io::Write;
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(out)
                .and_then(|mut f| {
                    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
                    f.write_all(&package.zip)
                })
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "derbes: wrote {} ({} bytes)",
                out.display(),
                package.zip.len()
            );
        }
        WorkCommand::Answer { id } => {
            let a = requests.answer_preview(&actor, *id).await?;
            println!("{}\n\n{}", a.letter.subject, a.letter.body);
        }
    }
    Ok(ExitCode::SUCCESS)
}

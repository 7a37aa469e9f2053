//! `derbes lifecycle`: what happened in subjects' lives that starts retention periods (the
//! relationship ended, a purpose achieved, an event retracted) or suspends destruction (a
//! legal hold), recorded one at a time or from
//! a CSV file through the same checks and audit as the API, and shown per subject with how long
//! each field is kept.

use crate::config::Config;
use crate::csv_rows::{refused, row_refused, Columns, RowFile};
use crate::import::{refusals, Refusal};
use crate::setup;
use anyhow::{bail, Result};
use derbes_core::retention::Until;
use derbes_service::{Actor, App, LifecycleInput, LifecycleStep, VaultError};
use std::path::PathBuf;
use std::process::ExitCode;
use uuid::Uuid;

#[derive(Debug, Clone, clap::Subcommand)]
pub enum LifecycleCommand {
    /// Record one event of a subject
    Record(RecordArgs),
    /// Record the events listed in a CSV file, in file order, with per-row errors
    Import(ImportArgs),
    /// Read the platforms' lifecycle columns now (the SQL connectors' `[lifecycle]` maps) and
    /// record what derbes does not have yet, as the daily job does
    Sync,
    /// A subject's events, and each field's holds and last day
    Show {
        /// The subject's id or IIN
        subject: String,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct RecordArgs {
    /// The subject's id or IIN
    pub subject: String,
    /// relationship_ended, purpose_achieved, legal_hold or retracted (which lifts a hold)
    #[arg(long)]
    pub kind: String,
    /// The day it happened (YYYY-MM-DD), not after today; a hold's first day
    #[arg(long)]
    pub on: String,
    /// Why the relationship ended (relationship_ended), or why destruction is suspended
    /// (legal_hold)
    #[arg(long)]
    pub reason: Option<String>,
    /// A legal hold's last day (YYYY-MM-DD), at most ten years ahead
    #[arg(long)]
    pub until: Option<String>,
    /// The declared purpose achieved (purpose_achieved)
    #[arg(long)]
    pub purpose: Option<String>,
    /// The id of the event recorded in error (retracted)
    #[arg(long)]
    pub event: Option<String>,
}

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// CSV with a header row and the columns `subject` (id or IIN), `kind`
    /// (relationship_ended, purpose_achieved, legal_hold or retracted) and `on` (YYYY-MM-DD),
    /// and as the kind needs `reason`, `purpose`, `until` (a hold's last day) or `event` (the
    /// id of the event recorded in error)
    pub file: PathBuf,
    /// Write every refused row (line, column, reason) to this file
    #[arg(long)]
    pub errors: Option<PathBuf>,
}

/// An event as typed: its cells by column name.
struct Typed<'a> {
    kind: &'a str,
    on: &'a str,
    reason: Option<&'a str>,
    purpose: Option<&'a str>,
    event: Option<&'a str>,
    until: Option<&'a str>,
}

impl Typed<'_> {
    /// The event to record, or what is wrong with it, by column.
    fn input(&self) -> Result<LifecycleInput, (&'static str, String)> {
        let kind = match self.kind {
            "relationship_ended" => LifecycleStep::RelationshipEnded,
            "purpose_achieved" => LifecycleStep::PurposeAchieved,
            "retracted" => LifecycleStep::Retracted,
            "legal_hold" => LifecycleStep::LegalHold,
            _ => {
                return Err((
                    "kind",
                    "must be relationship_ended, purpose_achieved, legal_hold or retracted".into(),
                ))
            }
        };
        let on = derbes_core::declaration::parse_date(self.on)
            .ok_or(("on", "must be a date as YYYY-MM-DD".to_owned()))?;
        let until = match self.until {
            None => None,
            Some(u) => Some(
                derbes_core::declaration::parse_date(u)
                    .ok_or(("until", "must be a date as YYYY-MM-DD".to_owned()))?,
            ),
        };
        let event = match self.event {
            None => None,
            Some(e) => Some(
                Uuid::parse_str(e)
                    .map_err(|_| ("event", "must be the id of an event (a UUID)".to_owned()))?,
            ),
        };
        Ok(LifecycleInput {
            kind,
            on,
            reason: self.reason.map(str::to_owned),
            purpose: self.purpose.map(str::to_owned),
            event,
            until,
        })
    }
}

/// Records one event of the subject named by id or IIN; refusals by column.
async fn record(
    app: &App,
    actor: &Actor,
    subject: &str,
    typed: &Typed<'_>,
    line: u64,
) -> Result<Uuid, Vec<Refusal>> {
    let input = typed
        .input()
        .map_err(|(column, message)| refused(line, column, message))?;
    let on_row = |e: VaultError| refusals(line, e);
    let subject_id = app
        .consents
        .resolve_subject(actor, "subject", subject, &[])
        .await
        .map_err(on_row)?;
    app.retention
        .record_lifecycle(actor, subject_id, input)
        .await
        .map(|e| e.id)
        .map_err(|e| row_refused(line, e))
}

pub async fn run(config: &Config, command: &LifecycleCommand) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let app = &opened.app;
    match command {
        LifecycleCommand::Record(a) => {
            let actor = Actor::command_line("lifecycle-record");
            let typed = Typed {
                kind: &a.kind,
                on: &a.on,
                reason: a.reason.as_deref(),
                purpose: a.purpose.as_deref(),
                event: a.event.as_deref(),
                until: a.until.as_deref(),
            };
            match record(app, &actor, &a.subject, &typed, 0).await {
                Ok(id) => {
                    println!("derbes: recorded lifecycle event {id}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(refusals) => {
                    let said: Vec<String> = refusals
                        .iter()
                        .map(|r| match r.field.as_str() {
                            "" => r.message.clone(),
                            field => format!("{field}: {}", r.message),
                        })
                        .collect();
                    bail!("nothing recorded: {}", said.join("; "))
                }
            }
        }
        LifecycleCommand::Import(a) => {
            let actor = Actor::command_line("lifecycle-import");
            RowFile {
                file: &a.file,
                errors: a.errors.as_deref(),
                required: &["subject", "kind", "on"],
                optional: &["reason", "purpose", "event", "until"],
                what: "lifecycle event(s)",
            }
            .record(async |columns: &Columns, line, rec| {
                let typed = Typed {
                    kind: columns.required(rec, line, "kind")?,
                    on: columns.required(rec, line, "on")?,
                    reason: columns.get(rec, "reason"),
                    purpose: columns.get(rec, "purpose"),
                    event: columns.get(rec, "event"),
                    until: columns.get(rec, "until"),
                };
                let subject = columns.required(rec, line, "subject")?;
                record(app, &actor, subject, &typed, line).await.map(|_| ())
            })
            .await
        }
        LifecycleCommand::Sync => {
            let actor = Actor::command_line("lifecycle-sync");
            let sync = app.retention.sync_lifecycle(&actor).await?;
            println!("derbes: {}", sync.summary());
            Ok(if sync.refused.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        LifecycleCommand::Show { subject } => {
            let actor = Actor::command_line("lifecycle-show");
            let id = app
                .consents
                .resolve_subject(&actor, "subject", subject, &[])
                .await?;
            let view = app.retention.lifecycle(&actor, id).await?;
            print!("{}", shown(&view));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The lifecycle as the terminal shows it.
fn shown(view: &derbes_service::LifecycleView) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let day = |u: &Until| match u {
        Until::Day(d) => d.to_string(),
        Until::Open => "open".to_owned(),
    };
    let _ = writeln!(
        out,
        "relationship ended: {}",
        view.relationship_ended.as_deref().unwrap_or("no")
    );
    for (purpose, on) in &view.purposes_achieved {
        let _ = writeln!(out, "purpose achieved: {purpose} on {on}");
    }
    if let Some(until) = view.held_until {
        let _ = writeln!(out, "legal hold in force through {until}");
    }
    let _ = writeln!(out, "\nevents ({}):", view.events.len());
    for e in &view.events {
        let what = match &e.kind {
            derbes_core::lifecycle::LifecycleKind::RelationshipEnded { reason, .. } => {
                format!("relationship ended: {}", reason.as_deref().unwrap_or(""))
            }
            derbes_core::lifecycle::LifecycleKind::PurposeAchieved { purpose } => {
                format!("purpose achieved: {purpose}")
            }
            derbes_core::lifecycle::LifecycleKind::Retracted { event } => {
                format!("retracted {event}")
            }
            derbes_core::lifecycle::LifecycleKind::LegalHold { until, reason, .. } => {
                format!(
                    "legal hold through {until}: {}",
                    reason.as_deref().unwrap_or("")
                )
            }
        };
        let _ = writeln!(out, "  {}  {}  {what}  (by {})", e.id, e.on, e.recorded_by);
    }
    let _ = writeln!(
        out,
        "\n{:<28} {:<10}  {:<10}  held by",
        "field", "collected", "kept until"
    );
    for f in &view.fields {
        let until = match (&f.kept_until, f.ended) {
            (_, true) => "ENDED".to_owned(),
            (Some(u), false) => day(u),
            (None, false) => "-".to_owned(),
        };
        let held: Vec<String> = f
            .holds
            .iter()
            .map(|h| format!("{} ({})", h.purpose, day(&h.until)))
            .collect();
        let _ = writeln!(
            out,
            "{:<28} {}  {:<10}  {}",
            f.field,
            f.collected,
            until,
            held.join(", ")
        );
    }
    out
}

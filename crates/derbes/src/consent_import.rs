//! `derbes consents import`: paper consent forms, one row each, recorded through the same checks
//! and audit as the API (a minor cannot act alone, a representative must be linked, ...).

use crate::config::Config;
use crate::import::{record_line, refusals, report_to, Refusal};
use crate::setup;
use anyhow::{bail, Context, Result};
use derbes_core::consent::Method;
use derbes_core::declaration::representative_categories;
use derbes_service::{Actor, App, ConsentInput, ConsentStep, VaultError};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Clone, clap::Args)]
pub struct ConsentImportArgs {
    /// CSV with a header row and the columns `subject` (id or IIN), `purpose`,
    /// `evidence_sha256` (SHA-256 of the signed form's scan), and optionally `action`
    /// (give, renew or withdraw; default give), `representative` (id or IIN of the linked legal
    /// representative who signed; empty when the subject signed) and `until` (YYYY-MM-DD)
    pub file: PathBuf,
    /// Write every refused row (line, column, reason) to this file
    #[arg(long)]
    pub errors: Option<PathBuf>,
}

const REQUIRED: [&str; 3] = ["subject", "purpose", "evidence_sha256"];
const OPTIONAL: [&str; 3] = ["action", "representative", "until"];

/// The column positions, by name.
struct Columns {
    at: Vec<(&'static str, usize)>,
}

impl Columns {
    fn of(headers: &csv::StringRecord) -> Result<Self> {
        let mut at = Vec::new();
        let mut unknown = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            match REQUIRED.iter().chain(&OPTIONAL).find(|c| **c == h.trim()) {
                Some(c) => at.push((*c, i)),
                None => unknown.push(h.trim().to_owned()),
            }
        }
        let missing: Vec<&str> = REQUIRED
            .into_iter()
            .filter(|c| !at.iter().any(|(n, _)| n == c))
            .collect();
        if !missing.is_empty() || !unknown.is_empty() {
            bail!(
                "the header row must name the columns {} (and may name {}){}{}",
                REQUIRED.join(", "),
                OPTIONAL.join(", "),
                if missing.is_empty() {
                    String::new()
                } else {
                    format!("; missing: {}", missing.join(", "))
                },
                if unknown.is_empty() {
                    String::new()
                } else {
                    format!("; unknown: {}", unknown.join(", "))
                }
            );
        }
        Ok(Self { at })
    }

    /// The trimmed cell of `column`, `None` when absent or empty.
    fn get<'r>(&self, rec: &'r csv::StringRecord, column: &str) -> Option<&'r str> {
        let (_, i) = self.at.iter().find(|(n, _)| *n == column)?;
        rec.get(*i)
            .map(|v| derbes_core::text::from_spreadsheet_cell(v.trim()))
            .filter(|v| !v.is_empty())
    }
}

fn refused(line: u64, field: &str, message: impl Into<String>) -> Vec<Refusal> {
    vec![Refusal {
        line,
        field: field.into(),
        message: message.into(),
    }]
}

/// Turns one row into a consent and records it; the refusal (without values) otherwise.
async fn record_row(
    app: &App,
    actor: &Actor,
    columns: &Columns,
    line: u64,
    rec: &csv::StringRecord,
) -> Result<(), Vec<Refusal>> {
    let required = |c: &str| {
        columns
            .get(rec, c)
            .ok_or_else(|| refused(line, c, "is empty"))
    };
    let (subject, purpose, evidence) = (
        required("subject")?,
        required("purpose")?,
        required("evidence_sha256")?,
    );
    let action = match columns.get(rec, "action").unwrap_or("give") {
        "give" => ConsentStep::Give,
        "renew" => ConsentStep::Renew,
        "withdraw" => ConsentStep::Withdraw,
        _ => return Err(refused(line, "action", "must be give, renew or withdraw")),
    };
    let until = match columns.get(rec, "until") {
        None => None,
        Some(v) => Some(
            derbes_core::declaration::parse_date(v)
                .ok_or_else(|| refused(line, "until", "must be a date as YYYY-MM-DD"))?,
        ),
    };
    let categories: Vec<String> = app
        .vault
        .declaration()
        .purpose(purpose)
        .map(|p| p.categories.clone())
        .unwrap_or_default();
    let on_row = |e: VaultError| refusals(line, e);
    let subject_id = app
        .consents
        .resolve_subject(actor, "subject", subject, &categories)
        .await
        .map_err(on_row)?;
    let representative_id = match columns.get(rec, "representative") {
        None => None,
        Some(r) => Some(
            app.consents
                .resolve_subject(
                    actor,
                    "representative",
                    r,
                    &representative_categories(app.vault.declaration()),
                )
                .await
                .map_err(on_row)?,
        ),
    };
    let input = ConsentInput {
        purpose: purpose.to_owned(),
        action,
        representative_id,
        method: Method::Paper {
            evidence_sha256: evidence.to_ascii_lowercase(),
        },
        until,
    };
    app.consents
        .record_consent(actor, subject_id, input)
        .await
        .map(|_| ())
        .map_err(|e| match e {
            VaultError::NotFound => refused(line, "subject", "no subject has this id"),
            other => on_row(other),
        })
}

pub async fn run(config: &Config, args: &ConsentImportArgs) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let app = &opened.app;
    let actor = Actor::command_line("consents-import");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_path(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let columns = Columns::of(reader.headers().context("cannot read the header row")?)?;
    let rows: Vec<_> = reader.records().collect();
    let bar = indicatif::ProgressBar::new(rows.len() as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("recording consents {bar:40} {pos}/{len} ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut problems = Vec::new();
    let mut recorded = 0u64;
    // In file order: a withdrawal further down must come after the consent it withdraws.
    for rec in rows {
        let line = record_line(&rec);
        let result = match &rec {
            Err(e) => Err(refused(line, "", format!("not valid CSV: {e}"))),
            Ok(r) => record_row(app, &actor, &columns, line, r).await,
        };
        match result {
            Ok(()) => recorded += 1,
            Err(r) => problems.extend(r),
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    report_to(&problems, &args.file, args.errors.as_deref())?;
    println!(
        "derbes: recorded {recorded} consent event(s); {} row problem(s)",
        problems.len()
    );
    Ok(if problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

//! `derbes consents import`: paper consent forms, one row each, recorded through the same checks
//! and audit as the API (a minor cannot act alone, a representative must be linked, ...).

use crate::config::Config;
use crate::csv_rows::{refused, row_refused, Columns, RowFile};
use crate::import::{refusals, Refusal};
use crate::setup;
use anyhow::Result;
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

/// Turns one row into a consent and records it; the refusal (without values) otherwise.
async fn record_row(
    app: &App,
    actor: &Actor,
    columns: &Columns,
    line: u64,
    rec: &csv::StringRecord,
) -> Result<(), Vec<Refusal>> {
    let required = |c: &str| columns.required(rec, line, c);
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
        .map_err(|e| row_refused(line, e))
}

pub async fn run(config: &Config, args: &ConsentImportArgs) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let app = &opened.app;
    let actor = Actor::command_line("consents-import");
    RowFile {
        file: &args.file,
        errors: args.errors.as_deref(),
        required: &["subject", "purpose", "evidence_sha256"],
        optional: &["action", "representative", "until"],
        what: "consent event(s)",
    }
    .record(async |columns, line, rec| record_row(app, &actor, columns, line, rec).await)
    .await
}

//! Files of rows recorded one by one through a service (`derbes consents import`, `derbes
//! lifecycle import`): the named columns, each row in file order, a refusal per row that names
//! its line and column (never a value), and the summary.

use crate::import::{record_line, report_to, Refusal};
use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::ExitCode;

/// The column positions, by name.
pub(crate) struct Columns {
    at: Vec<(&'static str, usize)>,
}

impl Columns {
    /// The columns of `headers`: each of `required` must be there, each other one among
    /// `optional`.
    fn of(
        headers: &csv::StringRecord,
        required: &[&'static str],
        optional: &[&'static str],
    ) -> Result<Self> {
        let mut at = Vec::new();
        let mut unknown = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            match required.iter().chain(optional).find(|c| **c == h.trim()) {
                Some(c) => at.push((*c, i)),
                None => unknown.push(h.trim().to_owned()),
            }
        }
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !at.iter().any(|(n, _)| n == c))
            .collect();
        if !missing.is_empty() || !unknown.is_empty() {
            bail!(
                "the header row must name the columns {} (and may name {}){}{}",
                required.join(", "),
                optional.join(", "),
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
    pub fn get<'r>(&self, rec: &'r csv::StringRecord, column: &str) -> Option<&'r str> {
        let (_, i) = self.at.iter().find(|(n, _)| *n == column)?;
        rec.get(*i)
            .map(|v| derbes_core::text::from_spreadsheet_cell(v.trim()))
            .filter(|v| !v.is_empty())
    }

    /// The cell of a required `column`, or the row's refusal.
    pub fn required<'r>(
        &self,
        rec: &'r csv::StringRecord,
        line: u64,
        column: &str,
    ) -> Result<&'r str, Vec<Refusal>> {
        self.get(rec, column)
            .ok_or_else(|| refused(line, column, "is empty"))
    }
}

/// The refusal of row `line` for `column`.
pub(crate) fn refused(line: u64, column: &str, message: impl Into<String>) -> Vec<Refusal> {
    vec![Refusal {
        line,
        field: column.into(),
        message: message.into(),
    }]
}

/// The refusal of row `line` by the service: an unknown subject named in the `subject`
/// column, or the service's own problems.
pub(crate) fn row_refused(line: u64, e: derbes_service::VaultError) -> Vec<Refusal> {
    match e {
        derbes_service::VaultError::NotFound => refused(line, "subject", "no subject has this id"),
        other => crate::import::refusals(line, other),
    }
}

/// What a file of rows is and how each is recorded.
pub(crate) struct RowFile<'a> {
    pub file: &'a Path,
    /// Where to write every refused row, if anywhere.
    pub errors: Option<&'a Path>,
    pub required: &'static [&'static str],
    pub optional: &'static [&'static str],
    /// What a row records, in the plural ("consent event(s)").
    pub what: &'static str,
}

impl RowFile<'_> {
    /// Records each row with `record`, in file order (a withdrawal or a retraction further
    /// down must come after what it undoes), shows progress, reports every refused row and
    /// says how many were recorded. Fails (exit 1) when a row was refused.
    pub async fn record(
        &self,
        mut record: impl AsyncFnMut(&Columns, u64, &csv::StringRecord) -> Result<(), Vec<Refusal>>,
    ) -> Result<ExitCode> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(self.file)
            .with_context(|| format!("cannot read {}", self.file.display()))?;
        let columns = Columns::of(
            reader.headers().context("cannot read the header row")?,
            self.required,
            self.optional,
        )?;
        let rows: Vec<_> = reader.records().collect();
        let bar = indicatif::ProgressBar::new(rows.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("recording {bar:40} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let mut problems = Vec::new();
        let mut recorded = 0u64;
        for rec in rows {
            let line = record_line(&rec);
            let result = match &rec {
                Err(e) => Err(refused(line, "", format!("not valid CSV: {e}"))),
                Ok(r) => record(&columns, line, r).await,
            };
            match result {
                Ok(()) => recorded += 1,
                Err(r) => problems.extend(r),
            }
            bar.inc(1);
        }
        bar.finish_and_clear();
        report_to(&problems, self.file, self.errors)?;
        println!(
            "derbes: recorded {recorded} {}; {} row problem(s)",
            self.what,
            problems.len()
        );
        Ok(if problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }
}

//! `derbes import`: subjects from CSV, through the same validation, sealing and audit as the API.

use crate::config::Config;
use crate::setup;
use anyhow::{bail, Context, Result};
use derbes_service::{PreparedSubject, Subjects, Vault, VaultError};
use derbes_store::StoreError;
use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// CSV file with a header row
    pub file: PathBuf,
    /// Subject category of every row
    #[arg(long)]
    pub category: String,
    /// Map a column to a field: --map "ЖСН=iin" (repeat). Without --map, columns named like
    /// fields declared for the category are imported and the others ignored.
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    pub maps: Vec<String>,
    /// Refuse the whole file if any row is invalid (default: keep the valid rows)
    #[arg(long)]
    pub all_or_nothing: bool,
    /// Write every refused row (line, field, reason) to this file
    #[arg(long)]
    pub errors: Option<PathBuf>,
}

const CHUNK: usize = 4096;

/// Field values of one CSV row, with its line number.
type Row = (u64, Vec<(String, Option<String>)>);

/// A refused row: its line in the file and why. Never the values.
pub(crate) struct Refusal {
    pub line: u64,
    pub field: String,
    pub message: String,
}

fn mapping(
    headers: &csv::StringRecord,
    args: &ImportArgs,
    vault: &Vault,
) -> Result<Vec<(usize, String)>> {
    let d = vault.declaration();
    if !d.subject_categories.contains_key(&args.category) {
        bail!(
            "subject category `{}` is not declared; declared: {}",
            args.category,
            d.subject_categories
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let column = |name: &str| headers.iter().position(|h| h.trim() == name);
    let mut out = Vec::new();
    if args.maps.is_empty() {
        let mut ignored = Vec::new();
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim();
            match d.field(h) {
                Some(f) if f.categories.iter().any(|c| c == &args.category) => {
                    out.push((i, h.to_owned()))
                }
                _ => ignored.push(h.to_owned()),
            }
        }
        if !ignored.is_empty() {
            eprintln!(
                "derbes: ignoring column(s) that are not fields of `{}`: {} (use --map COLUMN=FIELD to import them)",
                args.category,
                ignored.join(", ")
            );
        }
    } else {
        for m in &args.maps {
            let Some((col, field)) = m.split_once('=') else {
                bail!("--map {m}: write it as COLUMN=FIELD");
            };
            let i = column(col.trim())
                .with_context(|| format!("--map {m}: the file has no column `{}`", col.trim()))?;
            match d.field(field.trim()) {
                Some(f) if f.categories.iter().any(|c| c == &args.category) => {
                    out.push((i, field.trim().to_owned()))
                }
                Some(_) => bail!(
                    "--map {m}: field `{}` is not declared for category `{}`",
                    field.trim(),
                    args.category
                ),
                None => bail!("--map {m}: field `{}` is not declared", field.trim()),
            }
        }
    }
    if out.is_empty() {
        bail!(
            "no column maps to a field of `{}`; name the columns after the fields or use --map",
            args.category
        );
    }
    Ok(out)
}

fn row_values(
    record: &csv::StringRecord,
    map: &[(usize, String)],
) -> Vec<(String, Option<String>)> {
    map.iter()
        .filter_map(|(i, f)| {
            let v = derbes_core::text::from_spreadsheet_cell(record.get(*i).unwrap_or("").trim());
            (!v.is_empty()).then(|| (f.clone(), Some(v.to_owned())))
        })
        .collect()
}

/// The line of the file where a record starts (a quoted value may span lines).
pub(crate) fn record_line(rec: &Result<csv::StringRecord, csv::Error>) -> u64 {
    match rec {
        Ok(r) => r.position().map_or(0, |p| p.line()),
        Err(e) => e.position().map_or(0, |p| p.line()),
    }
}

pub(crate) fn refusals(line: u64, e: VaultError) -> Vec<Refusal> {
    match e {
        VaultError::Validation(problems) => problems
            .into_iter()
            .map(|p| Refusal { line, field: p.field, message: p.message })
            .collect(),
        VaultError::Duplicate { field, category, existing } => vec![Refusal {
            line,
            message: format!("a subject of category `{category}` with the same `{field}` already exists ({existing})"),
            field,
        }],
        VaultError::ConsentRefused(problems) => problems
            .into_iter()
            .map(|p| Refusal { line, field: String::new(), message: p.message() })
            .collect(),
        other => vec![Refusal { line, field: String::new(), message: other.to_string() }],
    }
}

/// Prepares a chunk of rows on every core: validation, sealing, blind indexes.
fn prepare_chunk(
    subjects: &Subjects,
    category: &str,
    rows: Vec<Row>,
) -> Result<Vec<(u64, Result<PreparedSubject, VaultError>)>> {
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let per = rows.len().div_ceil(threads).max(1);
    let mut rows = rows;
    let mut parts = Vec::new();
    while !rows.is_empty() {
        let rest = rows.split_off(per.min(rows.len()));
        parts.push(std::mem::replace(&mut rows, rest));
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| {
                s.spawn(move || {
                    part.into_iter()
                        .map(|(line, values)| {
                            (
                                line,
                                subjects.prepare_subject("cli:import", category, values),
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A thread that panicked would lose its rows: fail the import instead.
        let mut out = Vec::new();
        for h in handles {
            out.extend(
                h.join()
                    .map_err(|_| anyhow::anyhow!("preparing rows failed"))?,
            );
        }
        Ok(out)
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "the import loop: read, prepare in parallel, write in batches, report"
)]
pub async fn run(config: &Config, args: &ImportArgs) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let vault = Arc::clone(&opened.app.vault);
    let subjects = opened.app.subjects.clone();
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let open_reader = || -> Result<csv::Reader<std::fs::File>> {
        csv::ReaderBuilder::new()
            .flexible(false)
            .from_path(&args.file)
            .with_context(|| format!("cannot read {}", args.file.display()))
    };
    let mut reader = open_reader()?;
    let headers = reader
        .headers()
        .context("cannot read the header row")?
        .clone();
    let map = mapping(&headers, args, &vault)?;
    let mut refused: Vec<Refusal> = Vec::new();

    if args.all_or_nothing {
        // First pass: validate every row and look for identifiers held twice, in the file or
        // already in the store; write nothing unless the whole file is clean.
        let mut seen = HashSet::new();
        for rec in reader.records() {
            let line = record_line(&rec);
            let rec = match rec {
                Ok(r) => r,
                Err(e) => {
                    refused.push(Refusal {
                        line,
                        field: String::new(),
                        message: format!("not valid CSV: {e}"),
                    });
                    continue;
                }
            };
            match subjects.prepare_subject("cli:import", &args.category, row_values(&rec, &map)) {
                Err(e) => refused.extend(refusals(line, e)),
                Ok(prepared) => {
                    for entry in prepared.index {
                        if !seen.insert((entry.field.clone(), entry.digest)) {
                            refused.push(Refusal {
                                line,
                                message: format!("`{}` repeats an earlier row", entry.field),
                                field: entry.field,
                            });
                        } else if subjects.category_holds(&args.category, &entry).await? {
                            refused.push(Refusal {
                                line,
                                message: format!(
                                    "a subject of category `{}` with the same `{}` already exists",
                                    args.category, entry.field
                                ),
                                field: entry.field,
                            });
                        }
                    }
                }
            }
        }
        if !refused.is_empty() {
            report(&refused, args)?;
            eprintln!(
                "derbes: nothing imported: {} problem(s) in the file (--all-or-nothing)",
                refused.len()
            );
            return Ok(ExitCode::FAILURE);
        }
        reader = open_reader()?;
        reader.headers()?;
    }

    let bar = indicatif::ProgressBar::new(size);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "importing {bar:40} {bytes}/{total_bytes} {msg} ({eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut imported = 0u64;
    let mut records = reader.records();
    let started = std::time::Instant::now();
    let mut writes = tokio::task::JoinSet::new();
    loop {
        let mut rows = Vec::with_capacity(CHUNK);
        for rec in records.by_ref().take(CHUNK) {
            let line = record_line(&rec);
            match rec {
                Ok(r) => rows.push((line, row_values(&r, &map))),
                Err(e) => refused.push(Refusal {
                    line,
                    field: String::new(),
                    message: format!("not valid CSV: {e}"),
                }),
            }
        }
        if rows.is_empty() && records.reader().is_done() {
            break;
        }
        // Seal this chunk while the previous one is being written.
        let s = subjects.clone();
        let category = args.category.clone();
        let prepared = tokio::task::spawn_blocking(move || prepare_chunk(&s, &category, rows))
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r);
        // The previous chunk's writes finish either way: dropping them would leave rows stored
        // that nobody counted.
        let (written, lost) = finish_writes(&mut writes, &mut refused).await;
        imported += written;
        let prepared = match lost.map_or(prepared, Err) {
            Ok(p) => p,
            Err(e) => {
                bar.finish_and_clear();
                return Err(stop(e, imported, &mut refused, args));
            }
        };
        for (line, op) in prepared {
            match op {
                Err(e) => refused.extend(refusals(line, e)),
                Ok(prepared) => {
                    let subjects = subjects.clone();
                    writes.spawn(async move { (line, subjects.write_prepared(prepared).await) });
                }
            }
        }
        bar.set_position(records.reader().position().byte());
        bar.set_message(format!("{imported} subjects"));
    }
    let (written, lost) = finish_writes(&mut writes, &mut refused).await;
    imported += written;
    bar.finish_and_clear();
    if let Some(e) = lost {
        return Err(stop(e, imported, &mut refused, args));
    }
    let secs = started.elapsed().as_secs_f64();
    refused.sort_by_key(|r| r.line);
    report(&refused, args)?;
    println!(
        "derbes: imported {imported} subject(s) of category `{}` in {secs:.1} s ({:.0}/s); {} row problem(s)",
        args.category,
        imported as f64 / secs.max(0.001),
        refused.len()
    );
    Ok(if refused.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Waits for every write in flight, records the refused rows and returns how many were stored,
/// with the error of a write task that was lost (its row's fate is unknown).
async fn finish_writes(
    writes: &mut tokio::task::JoinSet<(u64, Result<derbes_store::Applied, StoreError>)>,
    refused: &mut Vec<Refusal>,
) -> (u64, Option<anyhow::Error>) {
    let mut ok = 0;
    let mut lost = None;
    while let Some(done) = writes.join_next().await {
        match done {
            Ok((_, Ok(_))) => ok += 1,
            Ok((line, Err(e))) => refused.extend(refusals(line, e.into())),
            Err(e) => lost = Some(anyhow::Error::from(e).context("a write task failed")),
        }
    }
    (ok, lost)
}

/// Reports the rows refused so far and turns `e` into the error that ends the import.
fn stop(
    e: anyhow::Error,
    imported: u64,
    refused: &mut [Refusal],
    args: &ImportArgs,
) -> anyhow::Error {
    refused.sort_by_key(|r| r.line);
    if let Err(r) = report(refused, args) {
        return r;
    }
    e.context(format!(
        "the import stopped; {imported} subject(s) were stored before it did"
    ))
}

fn report(refused: &[Refusal], args: &ImportArgs) -> Result<()> {
    report_to(refused, &args.file, args.errors.as_deref())
}

/// Prints the first refused rows as `FILE:LINE: field: problem` and writes them all to `errors`.
pub(crate) fn report_to(
    refused: &[Refusal],
    file: &std::path::Path,
    errors: Option<&std::path::Path>,
) -> Result<()> {
    const SHOWN: usize = 50;
    for r in refused.iter().take(SHOWN) {
        eprintln!(
            "{}:{}: {}{}",
            file.display(),
            r.line,
            if r.field.is_empty() {
                String::new()
            } else {
                format!("{}: ", r.field)
            },
            r.message
        );
    }
    if refused.len() > SHOWN {
        eprintln!(
            "… and {} more{}",
            refused.len() - SHOWN,
            if errors.is_some() {
                ""
            } else {
                " (use --errors FILE to keep them all)"
            }
        );
    }
    if let Some(path) = errors {
        let mut w = csv::Writer::from_path(path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        w.write_record(["line", "field", "problem"])?;
        for r in refused {
            w.write_record([
                r.line.to_string(),
                derbes_core::text::spreadsheet_cell(&r.field).into_owned(),
                derbes_core::text::spreadsheet_cell(&r.message).into_owned(),
            ])?;
        }
        w.flush()?;
        std::io::stderr().flush()?;
    }
    Ok(())
}

//! `derbes audit verify` and `derbes audit checkpoint`: the whole chain checked, and a
//! checkpoint signed for the auditor's file.

use crate::config::Config;
use crate::setup;
use anyhow::{bail, Result};
use derbes_core::audit::ChainBreak;
use derbes_service::CheckpointFile;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// Verifies every event, the database's checkpoints, and the checkpoints kept in `checkpoints`
/// (by default the configured checkpoint file, when it exists): the chain must still hold each,
/// or it was rolled back.
pub async fn verify(
    config: &Config,
    checkpoints: Option<&Path>,
    archive: Option<&Path>,
) -> Result<ExitCode> {
    let file = CheckpointFile::new(checkpoints.unwrap_or(&config.checkpoint_file));
    if checkpoints.is_some() && !file.path().exists() {
        bail!(
            "the checkpoint file {} does not exist; give the file serve appends checkpoints to ([audit] checkpoint_file), or a copy of it",
            file.path().display()
        );
    }
    let entries = match file.read_all() {
        Ok(e) => e,
        Err(e) => bail!("{e}; a checkpoint file holds lines written by derbes (`derbes audit checkpoint` prints one)"),
    };
    let (exported, restores) = derbes_service::since_last_restore(&entries);
    let keys = Arc::new(setup::key_ring(&config.key_file, false)?);
    let store = setup::store(config, &keys).await?;
    if let Some(dir) = archive.filter(|d| !d.is_dir()) {
        bail!(
            "the archive directory {} does not exist; give the directory `derbes audit archive` writes segments to ([audit] archive_dir), or a copy of it",
            dir.display()
        );
    }
    let archive = derbes_service::AuditArchive::new(archive.unwrap_or(&config.audit_archive_dir));
    let files = archive
        .dir()
        .is_dir()
        .then_some(&archive as &dyn derbes_store::SegmentFiles);
    let report =
        match derbes_store::verify_chain(store.as_ref(), keys.as_ref(), &exported, files).await? {
            Ok(r) => r,
            Err(b) => return Ok(broken(&b)),
        };
    for (event, at, given_up) in &restores {
        match store.audit_event(*event).await? {
            Some(e) if e.action == derbes_service::RESTORE_ACKNOWLEDGED => println!(
                "note: the database was restored from a backup, acknowledged as event {event} on {at}; the history behind the {given_up} checkpoint(s) exported before it was given up"
            ),
            _ => {
                return Ok(broken(&ChainBreak::Refused(format!(
                    "{} records a restore acknowledged as event {event}, which the chain does not hold: the database was rolled back or replaced since",
                    file.path().display()
                ))))
            }
        }
    }
    let mut out = format!("audit chain intact: {} event(s)", report.events);
    if report.legacy_until > 0 {
        out.push_str(&format!(
            " (the first {} written before the chain was keyed, verified against the head signed then)",
            report.legacy_until
        ));
    }
    out.push_str(&format!(
        ", signed head matching, {} checkpoint(s) signed and in order",
        report.checkpoints
    ));
    if let Some(c) = &report.last_checkpoint {
        out.push_str(&format!(", the last at event {} ({})", c.seq, c.at));
    }
    println!("{out}");
    if let Some(last) = report.segments.last() {
        println!(
            "{} archived segment(s) signed and continuing each other, events 1 to {}: {}",
            report.segments.len(),
            last.last,
            if report.archive_verified {
                format!(
                    "every archive file in {} verified event by event",
                    archive.dir().display()
                )
            } else {
                format!(
                    "their archive files were not read (none at {}; give them with --archive DIR)",
                    archive.dir().display()
                )
            }
        );
    }
    match &report.last_exported {
        Some(c) => println!(
            "no rollback: the {} checkpoint(s) in {} are all held, the last being checkpoint {} at event {} ({})",
            report.exported,
            file.path().display(),
            c.n,
            c.seq,
            c.at
        ),
        None => println!(
            "rollbacks not checked: no checkpoint kept outside the database at {} (give one with --checkpoints FILE)",
            file.path().display()
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn broken(b: &ChainBreak) -> ExitCode {
    eprintln!("audit chain BROKEN: {b}");
    match b {
        ChainBreak::Changed { seq } | ChainBreak::Gap { seq, .. } => eprintln!(
            "the events before event {seq} verify; everything from there on cannot be trusted"
        ),
        _ => eprintln!("the chain cannot be trusted as it stands"),
    }
    eprintln!("restore the database from a backup taken before the break (then `derbes destructions reapply`), or investigate who changed it");
    ExitCode::FAILURE
}

/// After restoring the database from a backup older than the last exported checkpoint: records
/// that the history since the backup is given up, so that derbes writes again.
pub async fn acknowledge_restore(config: &Config, person: &str) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    if let Some(reason) = opened.app.vault.chain_broken() {
        bail!(
            "the restored database's own audit chain is broken ({reason}); restore another backup"
        );
    }
    let ack = opened
        .app
        .vault
        .acknowledge_restore(
            &derbes_service::Actor::command_line(&format!("audit:{person}")).audit_name(),
        )
        .await?;
    println!(
        "derbes: the restore is acknowledged as audit event {}: the database holds the chain up to event {}; the history from there to checkpoint {} (event {}, {}) is given up. Checkpoint {} is signed and exported; `derbes serve` now re-applies logged destructions and writes again",
        ack.event,
        ack.restored_to,
        ack.given_up.n,
        ack.given_up.seq,
        ack.given_up.at,
        ack.checkpoint.n
    );
    Ok(ExitCode::SUCCESS)
}

/// Moves the audit events older than `[audit] keep_days` into signed segments in the archive.
pub async fn archive(config: &Config) -> Result<ExitCode> {
    let Some(keep_days) = config.audit_keep_days else {
        bail!("no audit retention is configured: set [audit] keep_days (and archive_dir) in the configuration file to archive events older than that many days");
    };
    let opened = setup::open(config, false).await?;
    let archive = derbes_service::AuditArchive::new(&config.audit_archive_dir);
    let actor = derbes_service::Actor::command_line("audit:archive").audit_name();
    let written = opened
        .app
        .audit
        .archive_audit(&archive, keep_days, &actor)
        .await?;
    if written.is_empty() {
        println!("derbes: no audit event is older than {keep_days} days and archivable (the database keeps the events from its last checkpoint on)");
    }
    for s in &written {
        println!(
            "derbes: segment {}: events {} to {} archived in {}",
            s.n,
            s.first,
            s.last,
            archive.path_of(s).display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Signs a checkpoint of the chain as it stands, appends it to the checkpoint file, and prints
/// it for the auditor's paper file.
pub async fn checkpoint(config: &Config) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    if let Some(reason) = opened.app.vault.chain_broken() {
        bail!("the audit chain is broken ({reason}); no checkpoint is signed over it");
    }
    let c = opened.app.vault.checkpoint().await?;
    let key_id = derbes_core::audit::ChainKeys::checkpoint_key_id(opened.app.vault.keys().as_ref());
    println!("{}", c.to_line(&key_id));
    eprintln!(
        "derbes: checkpoint {} covers events 1 to {}; it is in {}. Keep a copy apart (print it for the auditor's file): `derbes audit verify --checkpoints FILE` proves the chain was not rolled back past it",
        c.n,
        c.seq,
        config.checkpoint_file.display()
    );
    Ok(ExitCode::SUCCESS)
}

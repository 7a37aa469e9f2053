//! The audit chain's guard duties: checkpoints signed and exported to a file outside the
//! database, the check at start that the database was not rolled back past the last exported
//! one, whole-chain verifications, and the status the health endpoint reports.

use crate::access::Action;
use crate::actor::Actor;
use crate::vault::{Vault, VaultError};
use derbes_core::audit::{ChainBreak, Checkpoint};
use derbes_store::{Applied, ChainReport, ChainStatus, StoreError, WriteOp};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use uuid::Uuid;

/// The file checkpoints are appended to, one line each (see [`Checkpoint::to_line`]): kept
/// outside the data directory, so that whoever can replace the database cannot also rewrite it.
#[derive(Debug, Clone)]
pub struct CheckpointFile {
    path: PathBuf,
}

/// The first word of the line that records an acknowledged restore in a checkpoint file.
pub const RESTORED_LINE: &str = "derbes-audit-restored";

/// The action of the audit event that acknowledges a restore.
pub const RESTORE_ACKNOWLEDGED: &str = "audit.restore_acknowledged";

/// A line of a checkpoint file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileEntry {
    Checkpoint(Checkpoint),
    /// The database was restored to an earlier state and the operator acknowledged it, in the
    /// audit event `event` (of the restored chain): the checkpoints before this line belong to
    /// a history that was given up.
    Restored {
        event: i64,
        at: String,
    },
}

impl FileEntry {
    fn parse(line: &str) -> Result<Self, String> {
        if !line.starts_with(RESTORED_LINE) {
            return Checkpoint::parse_line(line).map(FileEntry::Checkpoint);
        }
        let mut words = line.split_whitespace().skip(1);
        let event = words
            .next()
            .and_then(|w| w.strip_prefix("event="))
            .and_then(|v| v.parse::<i64>().ok())
            .ok_or("expected `event=<number>` after `derbes-audit-restored`")?;
        let at = words
            .next()
            .and_then(|w| w.strip_prefix("at="))
            .ok_or("expected `at=<time>` after the event")?;
        Ok(FileEntry::Restored {
            event,
            at: at.to_owned(),
        })
    }
}

/// The checkpoints since the last acknowledged restore (those the chain must hold), and the
/// restores acknowledged: (event, time, how many checkpoints before it were given up).
pub fn since_last_restore(entries: &[FileEntry]) -> (Vec<Checkpoint>, Vec<(i64, String, usize)>) {
    let mut current = Vec::new();
    let mut restores = Vec::new();
    for e in entries {
        match e {
            FileEntry::Checkpoint(c) => current.push(c.clone()),
            FileEntry::Restored { event, at } => {
                restores.push((*event, at.clone(), current.len()));
                current.clear();
            }
        }
    }
    (current, restores)
}

/// A line of a checkpoint file that is not a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}: {detail}")]
pub struct CheckpointFileError {
    pub path: String,
    /// From 1; 0 when the file itself could not be read or written.
    pub line: usize,
    pub detail: String,
}

impl CheckpointFile {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn error(&self, line: usize, detail: impl Into<String>) -> CheckpointFileError {
        CheckpointFileError {
            path: self.path.display().to_string(),
            line,
            detail: detail.into(),
        }
    }

    /// Every line of the file, in its order (none when there is no file yet). Blank lines and
    /// lines starting with `#` (an auditor's notes) are skipped.
    pub fn read_all(&self) -> Result<Vec<FileEntry>, CheckpointFileError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.error(0, format!("cannot read it: {e}"))),
        };
        text.lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
            .map(|(i, l)| FileEntry::parse(l.trim()).map_err(|e| self.error(i + 1, e)))
            .collect()
    }

    /// The file's last line, read from its end.
    pub fn last(&self) -> Result<Option<FileEntry>, CheckpointFileError> {
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.error(0, format!("cannot read it: {e}"))),
        };
        let io = |e: std::io::Error| self.error(0, format!("cannot read it: {e}"));
        let len = f.metadata().map_err(io)?.len();
        // A line is about 330 bytes; the tail holds the last few.
        let start = len.saturating_sub(4096);
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut tail = String::new();
        f.read_to_string(&mut tail).map_err(io)?;
        let lines: Vec<&str> = tail.lines().collect();
        let skip_partial = usize::from(start > 0);
        match lines
            .iter()
            .skip(skip_partial)
            .rev()
            .find(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        {
            None if start > 0 => self.read_all().map(|all| all.last().cloned()),
            None => Ok(None),
            Some(l) => FileEntry::parse(l.trim())
                .map(Some)
                .map_err(|e| self.error(0, format!("its last line: {e}"))),
        }
    }

    /// Appends the checkpoints numbered after the file's last one, and makes them durable
    /// before returning; returns the last checkpoint appended. Several processes may append to
    /// one file: each holds a lock on it while it reads its end and appends.
    pub fn append(
        &self,
        checkpoints: &[Checkpoint],
        key_id: &str,
    ) -> Result<Option<Checkpoint>, CheckpointFileError> {
        let mut appended = None;
        self.append_with(|last| {
            let after = match last {
                Some(FileEntry::Checkpoint(c)) => c.n,
                _ => 0,
            };
            let mut text = String::new();
            for c in checkpoints.iter().filter(|c| c.n > after) {
                text.push_str(&c.to_line(key_id));
                text.push('\n');
                appended = Some(c.clone());
            }
            text
        })?;
        Ok(appended)
    }

    /// Appends the line that records an acknowledged restore.
    pub fn append_restored(&self, event: i64, at: &str) -> Result<(), CheckpointFileError> {
        self.append_with(|_| format!("{RESTORED_LINE} event={event} at={at}\n"))
    }

    /// Appends what `text` makes of the file's last line, under the file's lock.
    fn append_with(
        &self,
        text: impl FnOnce(Option<FileEntry>) -> String,
    ) -> Result<(), CheckpointFileError> {
        let io = |e: std::io::Error| self.error(0, format!("cannot append to it: {e}"));
        let mut f = crate::files::append_private(&self.path).map_err(io)?;
        f.lock().map_err(io)?;
        let text = text(self.last()?);
        if text.is_empty() {
            return Ok(());
        }
        f.write_all(text.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)
    }
}

/// A restore acknowledged.
#[derive(Debug, Clone)]
pub struct RestoreAcknowledged {
    /// The audit event recording it.
    pub event: i64,
    /// The last event the restored database held.
    pub restored_to: i64,
    /// The last exported checkpoint, which the restored database does not hold.
    pub given_up: Checkpoint,
    /// The checkpoint signed after it, the first of the file's new part.
    pub checkpoint: Checkpoint,
}

/// What derbes knows of its audit chain's health.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuditWatch {
    /// The last whole-chain verification: when it ended, and what it found.
    pub verified: Option<(time::OffsetDateTime, Result<ChainReport, String>)>,
    /// The last checkpoint in the checkpoint file.
    pub exported: Option<Checkpoint>,
    /// Why the last export failed, if it did.
    pub export_problem: Option<String>,
}

/// The audit chain's state, for the health endpoint and the audit status.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditStatus {
    /// `intact` (verified up to `verified_through`), `broken` (every write is refused) or
    /// `unverified` (being verified at start).
    pub chain: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified_through: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_checkpoint: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_exported_checkpoint: Option<ExportedCheckpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_verification: Option<Verification>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ExportedCheckpoint {
    pub n: i64,
    pub seq: i64,
    pub at: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Verification {
    pub at: String,
    /// `intact` or `broken`.
    pub result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

impl Vault {
    /// Keeps checkpoints in `file` (outside the data directory).
    pub fn with_checkpoint_file(mut self, file: CheckpointFile) -> Self {
        self.checkpoint_file = Some(file);
        self
    }

    pub fn checkpoint_file(&self) -> Option<&CheckpointFile> {
        self.checkpoint_file.as_ref()
    }

    fn watch(&self) -> std::sync::MutexGuard<'_, AuditWatch> {
        self.audit_watch.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether writes are refused because the chain is broken (and why).
    pub fn chain_broken(&self) -> Option<String> {
        match self.store().chain().status() {
            ChainStatus::Broken(r) => Some(r),
            _ => None,
        }
    }

    /// Checks that the database still holds the last checkpoint of the checkpoint file: when it
    /// does not, the database was rolled back past it (or replaced), and every write is refused
    /// from now on. Returns the break found.
    pub async fn check_checkpoint_file(&self) -> Result<Option<ChainBreak>, VaultError> {
        let Some(file) = &self.checkpoint_file else {
            return Ok(None);
        };
        let last = match file.last() {
            Ok(l) => l,
            Err(e) => {
                let reason = format!("the checkpoint file cannot be used: {e}");
                self.store().chain().refuse(reason.clone());
                return Ok(Some(ChainBreak::Refused(reason)));
            }
        };
        let found = match last {
            None => Ok(()),
            Some(FileEntry::Restored { event, .. }) => self.restore_held(event).await?,
            Some(FileEntry::Checkpoint(last)) => {
                self.watch().exported = Some(last.clone());
                derbes_store::check_exported(self.store().as_ref(), self.keys().as_ref(), &last)
                    .await?
            }
        };
        match found {
            Ok(()) => Ok(None),
            Err(b) => {
                self.store()
                    .chain()
                    .refuse(format!("{b} (checkpoint file {})", file.path().display()));
                Ok(Some(b))
            }
        }
    }

    /// Whether the chain holds the event that acknowledged a restore.
    pub async fn restore_held(&self, event: i64) -> Result<Result<(), ChainBreak>, VaultError> {
        Ok(match self.store().audit_event(event).await? {
            Some(e) if e.action == RESTORE_ACKNOWLEDGED => Ok(()),
            _ => Err(ChainBreak::Refused(format!(
                "the checkpoint file records a restore acknowledged as event {event}, which the chain does not hold: the database was rolled back or replaced since"
            ))),
        })
    }

    /// After the database was restored from a backup older than the last exported checkpoint:
    /// records that the history since the backup is given up, in the chain (an event) and in
    /// the checkpoint file (a line, then a new checkpoint), so that derbes writes again. Refused
    /// when the database holds the last exported checkpoint (nothing was lost).
    pub async fn acknowledge_restore(
        &self,
        actor_name: &str,
    ) -> Result<RestoreAcknowledged, VaultError> {
        let Some(file) = &self.checkpoint_file else {
            return Err(VaultError::Conflict(
                "no checkpoint file is configured".into(),
            ));
        };
        let lost = match file.last() {
            Ok(Some(FileEntry::Checkpoint(c))) => c,
            Ok(_) => {
                return Err(VaultError::Conflict(format!(
                    "the checkpoint file {} has no checkpoint after the last acknowledged restore: there is nothing to acknowledge",
                    file.path().display()
                )))
            }
            Err(e) => return Err(VaultError::Unavailable(e.to_string())),
        };
        let keys = self.keys();
        if derbes_store::check_exported(self.store().as_ref(), keys.as_ref(), &lost)
            .await?
            .is_ok()
        {
            return Err(VaultError::Conflict(format!(
                "the database holds the last exported checkpoint ({}, event {}): it was not rolled back, and there is nothing to acknowledge",
                lost.n, lost.seq
            )));
        }
        let restored_to = self.store().audit_head().await?.map_or(0, |h| h.seq);
        self.store()
            .write(WriteOp::Audit(vec![derbes_core::audit::AuditDraft::new(
                actor_name,
                RESTORE_ACKNOWLEDGED,
                derbes_core::audit::Outcome::Ok,
            )
            .details(&serde_json::json!({
                "restored_to_event": restored_to,
                "given_up_checkpoint": lost.n,
                "given_up_through_event": lost.seq,
                "given_up_checkpoint_at": lost.at,
            }))]))
            .await?;
        let event = self.store().audit_head().await?.map_or(0, |h| h.seq);
        if self.restore_held(event).await?.is_err() {
            return Err(VaultError::Conflict(
                "another derbes wrote to the chain meanwhile; stop it and acknowledge again".into(),
            ));
        }
        if let Err(e) =
            file.append_restored(event, &derbes_core::audit::format_timestamp(self.now()))
        {
            return Err(VaultError::Unavailable(e.to_string()));
        }
        let checkpoint = self.checkpoint().await?;
        Ok(RestoreAcknowledged {
            event,
            restored_to,
            given_up: lost,
            checkpoint,
        })
    }

    /// Signs a checkpoint of the chain as it stands (the last one, when it already covers the
    /// chain's last event) and exports it with any the file lacks.
    pub async fn checkpoint(&self) -> Result<Checkpoint, VaultError> {
        let c = match self.store().write(WriteOp::Checkpoint).await? {
            Applied::Checkpointed(c) => c,
            other => {
                return Err(VaultError::Store(StoreError::Backend(format!(
                    "a checkpoint was answered with {other:?}"
                ))))
            }
        };
        self.export_checkpoints().await?;
        Ok(c)
    }

    /// Appends to the checkpoint file the checkpoints it lacks: those after its last one (or,
    /// after an acknowledged restore, those from the restore on). Returns how many.
    pub async fn export_checkpoints(&self) -> Result<usize, VaultError> {
        let Some(file) = &self.checkpoint_file else {
            return Ok(0);
        };
        let failed = |e: crate::audit_chain::CheckpointFileError| {
            self.watch().export_problem = Some(e.to_string());
            VaultError::Unavailable(e.to_string())
        };
        let mut after = match file.last().map_err(failed)? {
            None => 0,
            Some(FileEntry::Checkpoint(c)) => c.n,
            Some(FileEntry::Restored { event, .. }) => self.checkpoint_before(event).await?,
        };
        let key_id = derbes_core::audit::ChainKeys::checkpoint_key_id(self.keys().as_ref());
        let mut total = 0;
        loop {
            let page = self.store().checkpoints(after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.n;
            if let Some(c) = file.append(&page, &key_id).map_err(failed)? {
                total += page.iter().filter(|p| p.n <= c.n).count();
                let mut w = self.watch();
                w.exported = Some(c);
                w.export_problem = None;
            }
        }
        Ok(total)
    }

    /// The number of the database's last checkpoint of events before `seq`.
    async fn checkpoint_before(&self, seq: i64) -> Result<i64, VaultError> {
        let mut n = 0;
        loop {
            let page = self.store().checkpoints(n, 1000).await?;
            let before: Vec<&Checkpoint> = page.iter().take_while(|c| c.seq < seq).collect();
            match before.last() {
                Some(c) if before.len() == page.len() => n = c.n,
                Some(c) => return Ok(c.n),
                None => return Ok(n),
            }
        }
    }

    /// Verifies the whole chain with the checkpoint file's last checkpoint, records the result
    /// for the audit status, and refuses every write from now on when the chain is broken.
    pub async fn verify_audit_chain(&self) -> Result<Result<ChainReport, ChainBreak>, VaultError> {
        let exported: Vec<Checkpoint> = self.watch().exported.iter().cloned().collect();
        let r = derbes_store::verify_chain(
            self.store().as_ref(),
            self.keys().as_ref(),
            &exported,
            None,
        )
        .await?;
        if let Err(b) = &r {
            self.store().chain().refuse(b.to_string());
        }
        self.watch().verified = Some((
            time::OffsetDateTime::now_utc(),
            r.clone().map_err(|b| b.to_string()),
        ));
        Ok(r)
    }

    /// The chain's state: whether writes go on, what was verified and exported last.
    pub fn audit_status(&self) -> AuditStatus {
        let (chain, problem, verified_through, last_checkpoint) =
            match self.store().chain().status() {
                ChainStatus::Verified { seq, checkpoint } => {
                    ("intact", None, Some(seq), Some(checkpoint))
                }
                ChainStatus::Broken(r) => ("broken", Some(r), None, None),
                ChainStatus::Unverified => ("unverified", None, None, None),
            };
        let w = self.watch().clone();
        AuditStatus {
            chain,
            problem,
            verified_through,
            last_checkpoint,
            checkpoint_file: self
                .checkpoint_file
                .as_ref()
                .map(|f| f.path().display().to_string()),
            last_exported_checkpoint: w.exported.map(|c| ExportedCheckpoint {
                n: c.n,
                seq: c.seq,
                at: c.at,
            }),
            export_problem: w.export_problem,
            last_verification: w.verified.map(|(at, r)| Verification {
                at: derbes_core::audit::format_timestamp(at),
                result: if r.is_ok() { "intact" } else { "broken" },
                events: r.as_ref().ok().map(|r| r.events),
                problem: r.err(),
            }),
        }
    }
}

impl Vault {
    /// Creates an API token; returns the token, which is shown once and stored only as a digest.
    /// The audit events about one subject, oldest first, after `after`.
    pub async fn subject_history(
        &self,
        actor: &Actor,
        id: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<derbes_core::audit::AuditEvent>, VaultError> {
        self.authorize(actor, Action::SubjectHistory)?;
        Ok(self.store().subject_audit(id, after, limit).await?)
    }

    /// The audit chain, oldest first, after `after`.
    pub async fn audit_events(
        &self,
        actor: &Actor,
        after: i64,
        limit: u32,
    ) -> Result<Vec<derbes_core::audit::AuditEvent>, VaultError> {
        self.authorize(actor, Action::AuditRead)?;
        Ok(self.store().audit_page(after, limit).await?)
    }

    /// Verifies the whole chain now, for those who read the audit (the console's button):
    /// as [`Vault::verify_audit_chain`], whose result the audit status then shows.
    pub async fn verify_audit_chain_for(
        &self,
        actor: &Actor,
    ) -> Result<Result<ChainReport, ChainBreak>, VaultError> {
        self.authorize(actor, Action::AuditStatus)?;
        self.verify_audit_chain().await
    }

    /// Events of the audit chain matching `filter`, oldest first, for those who read the
    /// audit: at most `filter.limit`, looking through at most [`AUDIT_SCAN`] events, and where
    /// the next page starts. Events never hold values, so neither does a page of them.
    pub async fn browse_audit(
        &self,
        actor: &Actor,
        filter: &AuditFilter,
    ) -> Result<AuditPage, VaultError> {
        self.authorize(actor, Action::AuditRead)?;
        let mut events = Vec::new();
        let mut after = filter.after;
        let mut scanned = 0;
        let limit = filter.limit.clamp(1, 1000) as usize;
        while events.len() < limit && scanned < AUDIT_SCAN {
            let page = self.store().audit_page(after, AUDIT_SCAN_PAGE).await?;
            let Some(last) = page.last() else {
                return Ok(AuditPage { events, next: None });
            };
            after = last.seq;
            scanned += page.len();
            for e in page {
                if filter.matches(&e) {
                    events.push(e);
                    if events.len() == limit {
                        after = events.last().map_or(after, |e| e.seq);
                        break;
                    }
                }
            }
        }
        Ok(AuditPage {
            events,
            next: Some(after),
        })
    }

    /// The audit chain's state, for those who read the audit.
    pub fn audit_status_for(
        &self,
        actor: &Actor,
    ) -> Result<crate::audit_chain::AuditStatus, VaultError> {
        self.authorize(actor, Action::AuditStatus)?;
        Ok(self.audit_status())
    }
}

/// The most events one browse looks through, and how many it reads at a time.
pub const AUDIT_SCAN: usize = 20_000;
const AUDIT_SCAN_PAGE: u32 = 1_000;

/// Which events to browse.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// After this event (by its number); 0: from the first.
    pub after: i64,
    /// Events whose action starts with this (`subject.`, `request.approve`).
    pub action: String,
    /// Events whose actor contains this (`person:aliya`, `staff:`).
    pub actor: String,
    /// Only refused or denied events.
    pub refused_only: bool,
    pub limit: u32,
}

impl AuditFilter {
    fn matches(&self, e: &derbes_core::audit::AuditEvent) -> bool {
        e.action.starts_with(self.action.trim())
            && e.actor.contains(self.actor.trim())
            && (!self.refused_only || e.outcome == derbes_core::audit::Outcome::Denied)
    }
}

/// A page of the audit chain and where the next one starts (`None`: this is the end).
#[derive(Debug, Clone, serde::Serialize)]
pub struct AuditPage {
    pub events: Vec<derbes_core::audit::AuditEvent>,
    pub next: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint(n: i64) -> Checkpoint {
        Checkpoint {
            n,
            seq: n * 10,
            hash: [n as u8; 32],
            at: format!("2026-12-03T10:00:{n:02}.000000Z"),
            legacy_until: 0,
            signature: vec![7; 64],
        }
    }

    #[test]
    fn a_checkpoint_file_is_appended_private_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let f = CheckpointFile::new(dir.path().join("audit").join("checkpoints.log"));
        assert_eq!(f.last().unwrap(), None);
        assert!(f.read_all().unwrap().is_empty());
        let many: Vec<Checkpoint> = (1..=40).map(checkpoint).collect();
        assert_eq!(f.append(&many[..1], "k").unwrap(), Some(many[0].clone()));
        // Only what the file lacks is appended.
        assert_eq!(f.append(&many[..3], "k").unwrap(), Some(many[2].clone()));
        assert_eq!(f.append(&many[..3], "k").unwrap(), None);
        f.append(&many[3..], "k").unwrap();
        let entries: Vec<FileEntry> = many.iter().cloned().map(FileEntry::Checkpoint).collect();
        assert_eq!(f.read_all().unwrap(), entries);
        assert_eq!(f.last().unwrap(), Some(entries[39].clone()));
        // A restore acknowledged: only what follows it must be held.
        f.append_restored(77, "2026-12-04T00:00:00.000000Z")
            .unwrap();
        assert_eq!(
            f.last().unwrap(),
            Some(FileEntry::Restored {
                event: 77,
                at: "2026-12-04T00:00:00.000000Z".into()
            })
        );
        f.append(&[checkpoint(3)], "k").unwrap();
        let (since, restores) = since_last_restore(&f.read_all().unwrap());
        assert_eq!(since, vec![checkpoint(3)]);
        assert_eq!(
            restores,
            vec![(77, "2026-12-04T00:00:00.000000Z".into(), 40)]
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f.path()).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_bad_line_is_named_with_its_number() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checkpoints.log");
        let good = checkpoint(1).to_line("k");
        std::fs::write(&path, format!("# paper copy, signed by the auditor\n{good}\n\nderbes-audit-checkpoint n=2 seq=oops\n")).unwrap();
        let e = CheckpointFile::new(&path).read_all().unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.to_string().contains("checkpoints.log:4:"), "{e}");
        std::fs::write(&path, format!("{good}\n# a note\n")).unwrap();
        assert_eq!(
            CheckpointFile::new(&path).last().unwrap(),
            Some(FileEntry::Checkpoint(checkpoint(1)))
        );
        std::fs::write(&path, "derbes-audit-restored event=x\n").unwrap();
        let e = CheckpointFile::new(&path).read_all().unwrap_err();
        assert!(e.to_string().contains("event=<number>"), "{e}");
    }
}

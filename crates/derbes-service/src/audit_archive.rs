//! Audit events past the configured audit retention leave the database for archive files, one
//! signed segment each, so that the trail does not grow without bound; the chain verifies across
//! the segments, and with the files it verifies whole.

use crate::vault::{Vault, VaultError};
use derbes_core::audit::{format_timestamp, AuditDraft, ChainBreak, ChainKeys, Outcome, Segment};
use derbes_store::{SegmentFiles, WriteOp};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The action of the audit event that records an archived segment.
pub const ARCHIVED: &str = "audit.archived";

/// The directory archive files are written to, one file per segment (`audit-segment-NNNNNN.jsonl`:
/// one JSON line per event, then the signed segment line).
#[derive(Debug, Clone)]
pub struct AuditArchive {
    dir: PathBuf,
}

impl AuditArchive {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn path_of(&self, s: &Segment) -> PathBuf {
        self.dir.join(s.file_name())
    }

    /// Writes the file of `s` whole (through a temporary file, made durable, then renamed), so
    /// that a file of that name is always complete.
    fn write(&self, s: &Segment, body: &str, key_id: &str) -> std::io::Result<PathBuf> {
        crate::files::private_dir(&self.dir)?;
        let path = self.path_of(s);
        let tmp = self.dir.join(format!(".{}.partial", s.file_name()));
        let mut f = crate::files::append_private(&tmp)?;
        f.set_len(0)?;
        f.write_all(body.as_bytes())?;
        f.write_all(s.to_line(key_id).as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        std::fs::File::open(&self.dir)?.sync_all()?;
        Ok(path)
    }
}

impl SegmentFiles for AuditArchive {
    fn text(&self, s: &Segment) -> Result<String, String> {
        let path = self.path_of(s);
        std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// What the daily audit duty of a running server found and did.
#[derive(Debug)]
pub enum DailyAudit {
    /// The whole chain verified (this many events); the segments archived after it (none when
    /// no audit retention is configured, or nothing is past it).
    Verified { events: i64, archived: Vec<Segment> },
    /// The chain does not verify: nothing is archived, and from now on nothing that must be
    /// recorded is done until an operator has looked into it.
    Broken(ChainBreak),
}

/// The audit duties over time: the daily verification of the whole chain, and moving the events past the audit retention to signed segments in the archive.
#[derive(Clone)]
pub struct AuditDuty {
    vault: Arc<Vault>,
}

impl AuditDuty {
    pub(crate) fn new(vault: Arc<Vault>) -> Self {
        AuditDuty { vault }
    }

    /// The duty `serve` runs at start and every day: verifies the whole chain (with the
    /// checkpoints exported from it), and only when it verifies moves the events past
    /// `retention` (days, when configured) to signed segments in its archive.
    pub async fn daily_audit(
        &self,
        retention: Option<(&AuditArchive, u32)>,
    ) -> Result<DailyAudit, VaultError> {
        let report = match self.vault.verify_audit_chain().await? {
            Ok(report) => report,
            Err(b) => return Ok(DailyAudit::Broken(b)),
        };
        let archived = match retention {
            Some((archive, keep_days)) => self.archive_audit(archive, keep_days, "system").await?,
            None => Vec::new(),
        };
        Ok(DailyAudit::Verified {
            events: report.events,
            archived,
        })
    }

    /// Moves the events written more than `keep_days` ago out of the database, into signed
    /// segments written to `archive`; the database keeps the events from its last checkpoint on.
    /// The events are verified before they are archived; a chain that does not verify is not
    /// archived. Returns the segments written.
    pub async fn archive_audit(
        &self,
        archive: &AuditArchive,
        keep_days: u32,
        actor_name: &str,
    ) -> Result<Vec<Segment>, VaultError> {
        if let Some(reason) = self.vault.chain_broken() {
            return Err(VaultError::Unavailable(format!(
                "the audit chain is broken ({reason}); nothing is archived"
            )));
        }
        let cutoff =
            format_timestamp(self.vault.now() - time::Duration::days(i64::from(keep_days)));
        let mut written = Vec::new();
        while let Some(s) = self.archive_segment(archive, &cutoff, actor_name).await? {
            written.push(s);
        }
        Ok(written)
    }

    /// Archives the next segment of events written before `cutoff`, if there is one.
    async fn archive_segment(
        &self,
        archive: &AuditArchive,
        cutoff: &str,
        actor_name: &str,
    ) -> Result<Option<Segment>, VaultError> {
        let store = self.vault.store();
        let keys = self.vault.keys();
        let at = format_timestamp(self.vault.now());
        let (segment, body) =
            match derbes_store::next_segment(store.as_ref(), keys.as_ref(), cutoff, at).await? {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(None),
                Err(b) => {
                    return Err(VaultError::Unavailable(format!(
                        "the audit chain does not verify ({b}); nothing is archived"
                    )))
                }
            };
        let path = archive
            .write(&segment, &body, &keys.checkpoint_key_id())
            .map_err(|e| {
                VaultError::Unavailable(format!(
                    "cannot write the archive file of segment {} in {}: {e}",
                    segment.n,
                    archive.dir().display()
                ))
            })?;
        let audit =
            AuditDraft::new(actor_name, ARCHIVED, Outcome::Ok).details(&serde_json::json!({
                "segment": segment.n,
                "first_event": segment.first,
                "last_event": segment.last,
                "file": segment.file_name(),
                "digest": derbes_core::declaration::hex(&segment.digest),
            }));
        if let Err(e) = store
            .write(WriteOp::ArchiveAudit {
                segment: segment.clone(),
                audit,
            })
            .await
        {
            // Not recorded: the file is not part of the chain.
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
        Ok(Some(segment))
    }
}

//! The audit chain: events, head, checkpoints and archived segments.

use crate::{split_fields, StoreError};
use derbes_core::audit::{AuditEvent, Checkpoint, Hash, Outcome, Segment};
use uuid::Uuid;

/// The chain's last event as the writer signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: derbes_core::audit::Hash,
    pub mac: Vec<u8>,
}

/// The columns of `audit_events`, in the order both backends read them.
pub(crate) const EVENT_COLUMNS: &str =
    "seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, hash";

/// The columns of `audit_checkpoints`, in the order both backends read them.
pub(crate) const CHECKPOINT_COLUMNS: &str = "n, seq, hash, at, legacy_until, signature";

/// An audit event as a row holds it, before its stored values are checked.
pub(crate) struct RawEvent {
    pub seq: i64,
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject_id: Option<String>,
    pub purpose: Option<String>,
    pub fields: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub details: Option<String>,
    pub hash: Vec<u8>,
}

/// A stored value shown in a message: short, with anything unprintable escaped.
fn shown(value: &str) -> String {
    let short: String = value.chars().take(40).collect();
    format!("{short:?}")
}

impl RawEvent {
    /// The event, or `Corrupt` naming the event and the value no derbes writes.
    pub(crate) fn event(self) -> Result<AuditEvent, StoreError> {
        let seq = self.seq;
        let outcome = Outcome::parse(&self.outcome).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "audit event {seq}: its outcome {} is not one derbes writes (ok, allowed, denied): the event was changed",
                shown(&self.outcome)
            ))
        })?;
        let hash: Hash = self.hash.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "audit event {seq}: its hash is {} bytes long, not 32: the event was changed",
                self.hash.len()
            ))
        })?;
        Ok(AuditEvent {
            seq,
            at: self.at,
            actor: self.actor,
            action: self.action,
            subject_id: self.subject_id,
            purpose: self.purpose,
            fields: split_fields(&self.fields),
            outcome,
            reason: self.reason,
            details: self.details,
            hash,
        })
    }
}

pub(crate) fn events(raw: Vec<RawEvent>) -> Result<Vec<AuditEvent>, StoreError> {
    raw.into_iter().map(RawEvent::event).collect()
}

/// A checkpoint's row: (n, seq, hash, at, legacy_until, signature).
pub(crate) type CheckpointRow = (i64, i64, Vec<u8>, String, i64, Vec<u8>);

/// A checkpoint from its row.
pub(crate) fn checkpoint_of(
    (n, seq, hash, at, legacy_until, signature): CheckpointRow,
) -> Result<Checkpoint, StoreError> {
    Ok(Checkpoint {
        n,
        seq,
        hash: hash.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!("checkpoint {n}: its hash is not 32 bytes long"))
        })?,
        at,
        legacy_until,
        signature,
    })
}

/// A segment's row: (n, first, last, prev, hash, digest, at, legacy_until, signature).
pub(crate) type SegmentRow = (
    i64,
    i64,
    i64,
    Vec<u8>,
    Vec<u8>,
    Vec<u8>,
    String,
    i64,
    Vec<u8>,
);

/// The columns of a segment's row, in [`SegmentRow`]'s order.
pub(crate) const SEGMENT_COLUMNS: &str =
    "n, first_seq, last_seq, prev_hash, hash, digest, at, legacy_until, signature";

/// A segment from its row.
pub(crate) fn segment_of(
    (n, first, last, prev, hash, digest, at, legacy_until, signature): SegmentRow,
) -> Result<Segment, StoreError> {
    let h = |v: Vec<u8>, what: &str| -> Result<Hash, StoreError> {
        v.as_slice().try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "archived segment {n}: its {what} is not 32 bytes long"
            ))
        })
    };
    Ok(Segment {
        n,
        first,
        last,
        prev: h(prev, "link to the event before it")?,
        hash: h(hash, "last hash")?,
        digest: h(digest, "digest")?,
        at,
        legacy_until,
        signature,
    })
}

/// The audit chain: events, head, checkpoints and archived segments.
#[async_trait::async_trait]
pub trait AuditStore: Send + Sync {
    /// Audit events about one subject, oldest first, after `after_seq`.
    async fn subject_audit(
        &self,
        id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;
    /// The whole chain, oldest first, after `after_seq`.
    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError>;
    async fn audit_head(&self) -> Result<Option<AuditHead>, StoreError>;
    /// One event of the chain.
    async fn audit_event(&self, seq: i64) -> Result<Option<AuditEvent>, StoreError>;
    /// Checkpoints numbered after `after`, in order.
    async fn checkpoints(&self, after: i64, limit: u32) -> Result<Vec<Checkpoint>, StoreError>;
    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError>;
    /// The archived segments of the chain, in order.
    async fn audit_segments(&self) -> Result<Vec<Segment>, StoreError>;
    /// The head signed before the chain was keyed: (seq, hex hash, base64 MAC), if the database
    /// was created by an earlier derbes.
    async fn legacy_head(&self) -> Result<Option<(i64, String, String)>, StoreError>;
}

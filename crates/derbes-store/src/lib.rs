//! derbes storage: one [`Store`] trait, two real implementations (SQLite, PostgreSQL).
//!
//! Writes go through one writer per process that commits them in groups: every operation gets
//! its own savepoint (so one failing operation writes nothing and leaves the others alone), the
//! audit events of the whole group are chained in order, and one commit makes them durable. The
//! store never decides anything; it persists what the server decided, with the audit events
//! that record it, atomically.

mod chain;
mod fields_blob;
mod job_runs;
mod postgres;
mod sqlite;
mod subject_runs;
mod types;

pub use chain::{
    check_exported, next_segment, verify_chain, ChainPolicy, ChainReport, ChainState, ChainStatus,
    SegmentFiles, SEGMENT_EVENTS,
};
pub use fields_blob::{decode_fields, encode_fields, BlobError};
pub use job_runs::{JobOutcome, JobRun};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use types::*;

use async_trait::async_trait;
use derbes_core::audit::{AuditEvent, ChainKeys, Checkpoint, Hash, Outcome, Segment};
use derbes_core::destruction::Destruction;
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum StoreError {
    /// A unique identifier is already held by another subject of the same category.
    #[error("a subject of category `{category}` with the same `{field}` already exists")]
    Duplicate {
        field: String,
        category: String,
        existing: Uuid,
    },
    #[error("subject not found")]
    NotFound,
    /// The subject already has an open request of this kind.
    #[error("the subject already has an open request of this kind")]
    DuplicateRequest { existing: Uuid },
    /// The subject changed between read and write; read it again and retry.
    #[error("the subject was changed concurrently")]
    VersionConflict,
    /// A webhook job written with a request was not in the state the writer read: reading the
    /// request again does not help, the job's own state has moved on.
    #[error("a webhook job changed concurrently")]
    JobChanged,
    #[error("declaration version `{version}` is already recorded with different content")]
    DeclarationChanged { version: String },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Backend(String),
    #[error("cannot open the database: {0}")]
    Open(String),
    #[error("the store's writer has stopped")]
    Closed,
    /// The audit chain does not continue the chain derbes verified: nothing that must be
    /// recorded can be written until an operator has looked into it.
    #[error("the audit chain is broken: {0}")]
    ChainBroken(String),
    /// A segment of the audit chain that cannot be archived as it is (see
    /// [`WriteOp::ArchiveAudit`]).
    #[error("the segment cannot be archived: {0}")]
    ArchiveRefused(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// The keys the audit chain is written and verified with (the key ring).
pub type Keys = Arc<dyn ChainKeys>;

/// Persistence for subjects, blind indexes, tokens, declarations and the audit chain.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Applies one write with its audit events, atomically, through the group-commit writer.
    async fn write(&self, op: WriteOp) -> Result<Applied, StoreError>;

    async fn subject(&self, id: Uuid) -> Result<Option<SubjectRecord>, StoreError>;

    /// Which of `ids` are held as subjects, in one read per batch of ids (500 on SQLite, 5,000
    /// on PostgreSQL) rather than one per id.
    async fn held(&self, ids: Vec<Uuid>) -> Result<std::collections::HashSet<Uuid>, StoreError>;

    /// Subjects with a block, restriction or obligation whose note is kept in clear (written
    /// by a derbes from before notes were sealed).
    async fn subjects_with_clear_notes(&self) -> Result<Vec<Uuid>, StoreError>;

    /// Rewrites the tables of blocks, restrictions and obligations so that no row replaced in
    /// them is left readable in the live database files (SQLite: the WAL emptied, replaced cells
    /// being zeroed already; PostgreSQL: `VACUUM (FULL)`). For after notes have been sealed.
    async fn rewrite_flag_tables(&self) -> Result<(), StoreError>;

    /// Subjects whose `field` has this blind-index digest: (id, category).
    async fn lookup(
        &self,
        field: &str,
        digest: &[u8; 32],
    ) -> Result<Vec<(Uuid, String)>, StoreError>;

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

    /// Where the writer stands on the audit chain: verified up to an event, or broken.
    fn chain(&self) -> &ChainState;

    async fn token(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError>;

    async fn count_active_tokens(&self) -> Result<u64, StoreError>;

    /// Every token, revoked ones included, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// The last run of every periodic job that has run, by name.
    async fn job_runs(&self) -> Result<Vec<JobRun>, StoreError>;

    /// A number that changes whenever any process revokes a token, while this store hears of it
    /// at once; `None` when it cannot (then tokens are checked in the store on every request).
    fn token_generation(&self) -> Option<u64> {
        None
    }

    /// Wrapped data keys of subjects or of requests, ordered by id, after `after` (for key
    /// rotation).
    async fn keys_page(
        &self,
        owner: KeyOwner,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError>;

    async fn count_subjects(&self) -> Result<u64, StoreError>;

    /// How many data keys (of subjects and of requests) are wrapped under each key-encryption
    /// key version.
    async fn key_versions(&self) -> Result<std::collections::BTreeMap<u32, u64>, StoreError>;

    /// A subject and its state (consents, representatives, block and restrictions), read
    /// together. With `purpose`, only the consent events of that purpose are read: a decision
    /// needs no others, and a long ledger costs a parse per event.
    async fn subject_with_state(
        &self,
        id: Uuid,
        purpose: Option<String>,
    ) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError>;

    /// Several subjects with their states (as [`Store::subject_with_state`]), in the order asked
    /// (`None` for an unknown id).
    async fn subjects_with_state(
        &self,
        asked: Vec<(Uuid, Option<String>)>,
    ) -> Result<Vec<Option<(SubjectRecord, SubjectState)>>, StoreError>;

    /// The links in which `representative_id` represents someone.
    async fn represented_by(
        &self,
        representative_id: Uuid,
    ) -> Result<Vec<derbes_core::consent::RepresentativeLink>, StoreError>;

    /// The feed of subjects whose decision facts changed after `after` (the audit sequence
    /// number of the change), oldest first, at most `limit`. A reader that has seen a change has
    /// seen every earlier one.
    async fn state_changes(&self, after: i64, limit: u32) -> Result<StateChanges, StoreError>;

    async fn request(&self, id: Uuid) -> Result<Option<RequestRecord>, StoreError>;

    /// Requests matching `query`, by due time, then id.
    async fn requests(&self, query: RequestQuery) -> Result<Vec<RequestRecord>, StoreError>;

    /// The record of a destroyed subject.
    async fn destruction(&self, subject_id: Uuid) -> Result<Option<Destruction>, StoreError>;

    /// Destruction records by subject id, after `after`.
    async fn destructions(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Destruction>, StoreError>;

    async fn package(&self, request_id: Uuid) -> Result<Option<PackageRecord>, StoreError>;

    /// Access packages that expire at or before `at`: (request id, subject id), oldest first.
    async fn expired_packages(
        &self,
        at: String,
        limit: u32,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError>;

    async fn webhook_job(&self, id: Uuid) -> Result<Option<WebhookJob>, StoreError>;

    /// Jobs due at or before `at`, oldest first: `pending` ones to send, and `delivered` ones
    /// whose confirmation is overdue.
    async fn due_webhook_jobs(&self, at: String, limit: u32)
        -> Result<Vec<WebhookJob>, StoreError>;

    /// How many subjects have consent events for `purpose` in their ledger.
    async fn count_consenting(&self, purpose: &str) -> Result<u64, StoreError>;

    /// Every recorded declaration version: (version, content hash, recorded at), oldest first.
    async fn declarations(&self) -> Result<Vec<(String, String, String)>, StoreError>;

    /// The content hash and text recorded for a declaration version.
    async fn declaration(&self, version: &str) -> Result<Option<(String, String)>, StoreError>;
}

/// Opens the store named by `url`: `postgres://…` or `postgresql://…` for PostgreSQL, anything
/// else is a SQLite file path (`sqlite://` prefix optional).
///
/// The audit chain is verified from its last checkpoint before anything is appended to it; when
/// it does not verify, the store opens for reading and refuses every write with
/// [`StoreError::ChainBroken`] (see [`Store::chain`]).
pub async fn open(url: &str, keys: Keys) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, keys, ChainPolicy::default()).await
}

/// [`open`], with checkpoints written as `policy` says.
pub async fn open_with(
    url: &str,
    keys: Keys,
    policy: ChainPolicy,
) -> Result<Arc<dyn Store>, StoreError> {
    let store: Arc<dyn Store> =
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Arc::new(PostgresStore::open(url, Arc::clone(&keys), policy).await?)
        } else {
            let path = url.strip_prefix("sqlite://").unwrap_or(url);
            Arc::new(SqliteStore::open(
                std::path::Path::new(path),
                Arc::clone(&keys),
                policy,
            )?)
        };
    chain::anchor(store.as_ref(), keys.as_ref()).await?;
    Ok(store)
}

/// Prune the feed of state changes once in this many commit groups.
pub(crate) const PRUNE_EVERY: u64 = 1024;

/// The most operations one commit takes, in both backends.
pub(crate) const MAX_GROUP: usize = 512;

/// An operation for a backend's writer, and where its result goes.
pub(crate) type Job = (
    WriteOp,
    tokio::sync::oneshot::Sender<Result<Applied, StoreError>>,
);

/// The same failure for each of a group's `n` operations: a broken chain stays a broken chain,
/// anything else is the backend's.
pub(crate) fn fail_each(n: usize, e: &StoreError) -> Vec<Result<Applied, StoreError>> {
    (0..n)
        .map(|_| {
            Err(match e {
                StoreError::ChainBroken(m) => StoreError::ChainBroken(m.clone()),
                other => StoreError::Backend(other.to_string()),
            })
        })
        .collect()
}

/// Hands an operation to a backend's writer and waits for its result.
pub(crate) async fn submit(
    tx: &tokio::sync::mpsc::Sender<Job>,
    op: WriteOp,
) -> Result<Applied, StoreError> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    tx.send((op, reply)).await.map_err(|_| StoreError::Closed)?;
    rx.await.map_err(|_| StoreError::Closed)?
}

/// Adds the operations already queued to `jobs`, up to a group's size, without waiting.
pub(crate) fn drain(rx: &mut tokio::sync::mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_GROUP {
        match rx.try_recv() {
            Ok(j) => jobs.push(j),
            Err(_) => break,
        }
    }
}

/// The columns of `audit_events`, in the order both backends read them.
pub(crate) const EVENT_COLUMNS: &str =
    "seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, hash";

/// The columns of `tokens`, in the order both backends read them.
pub(crate) const TOKEN_COLUMNS: &str =
    "id, digest, name, role, purposes, created_at, revoked_at, expires_at, last_used_at";

/// A token's purposes as stored (a JSON array).
pub(crate) fn purposes_of(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("token purposes: {e}")))
}

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

pub(crate) fn now() -> String {
    derbes_core::audit::format_timestamp(time::OffsetDateTime::now_utc())
}

/// The JSON text of a stored value (consent event, link, flag).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

pub(crate) fn split_fields(s: &str) -> Vec<String> {
    if s.is_empty() {
        Vec::new()
    } else {
        s.split('\u{1f}').map(str::to_owned).collect()
    }
}

#[cfg(feature = "testing")]
pub mod testing;

//! derbes storage: one [`Store`] trait, two real implementations (SQLite, PostgreSQL).
//!
//! Writes go through one writer per process that commits them in groups: every operation gets
//! its own savepoint (so one failing operation writes nothing and leaves the others alone), the
//! audit events of the whole group are chained in order, and one commit makes them durable. The
//! store never decides anything; it persists what the server decided, with the audit events
//! that record it, atomically.

mod accounts;
mod audit;
mod backend;
mod chain;
mod declarations;
mod depersonalized;
mod destructions;
mod fields_blob;
mod job_runs;
mod keys;
mod packages;
mod postgres;
mod requests;
mod retention_batches;
mod retention_scans;
mod sqlite;
mod subject_runs;
mod subject_state;
mod subjects;
mod times;
mod tokens;
mod webhooks;
mod writes;

pub(crate) use accounts::{purposes_text, ACCOUNT_COLUMNS, SESSION_COLUMNS};
pub use accounts::{
    AccountChange, AccountRecord, AccountStore, AccountWrite, EndSessions, SessionRecord,
    SessionStage,
};
pub(crate) use audit::{
    checkpoint_of, events, segment_of, CheckpointRow, RawEvent, CHECKPOINT_COLUMNS, EVENT_COLUMNS,
    SEGMENT_COLUMNS,
};
pub use audit::{AuditHead, AuditStore};
pub use chain::{
    check_exported, next_segment, verify_chain, ChainPolicy, ChainReport, ChainState, ChainStatus,
    SegmentFiles, SEGMENT_EVENTS,
};
pub use declarations::DeclarationStore;
pub use depersonalized::{Depersonalized, DepersonalizedStore, PseudonymKey};
pub(crate) use destructions::destruction_check_holds;
pub use destructions::{DestructionChecked, DestructionStore};
pub use fields_blob::{decode_field_keys, decode_fields, encode_fields, BlobError};
pub use job_runs::{JobOutcome, JobRun, JobRunStore};
pub use keys::{KeyOwner, KeyRecord, KeyStore};
pub use packages::{PackageRecord, PackageStore};
pub use postgres::PostgresStore;
pub(crate) use requests::REQUEST_COLUMNS;
pub use requests::{RequestQuery, RequestRecord, RequestStore};
pub use retention_batches::{BatchItemRecord, BatchRecord, RetentionBatchStore};
pub use retention_scans::{KeptScan, RetentionScanStore};
pub use sqlite::SqliteStore;
pub(crate) use subject_state::{state_sql, FlagTable};
pub use subject_state::{
    DueReconfirmations, FlagWrite, Reconfirmation, ReconfirmationsDue, RetentionSubject,
    StateChanges, SubjectState, SubjectStateStore, STATE_CHANGES_KEPT,
};
pub use subjects::{IndexEntry, Rewritten, SubjectRecord, SubjectStore};
pub(crate) use tokens::{purposes_of, TOKEN_COLUMNS};
pub use tokens::{TokenRecord, TokenStore};
pub(crate) use webhooks::JOB_COLUMNS;
pub use webhooks::{JobWrite, WebhookJob, WebhookStatus, WebhookStore};
pub(crate) use writes::Param;
pub use writes::{Applied, WriteOp};

use async_trait::async_trait;
use derbes_core::audit::ChainKeys;
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
    /// Another account signs in with this login.
    #[error("the login is already taken")]
    LoginTaken,
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

/// A page of a list kept in key order: the entries after `after` (from the first when `None`),
/// at most `limit` of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub after: Option<uuid::Uuid>,
    pub limit: u32,
}

impl Page {
    /// The first `limit` entries.
    pub fn first(limit: u32) -> Page {
        Page { after: None, limit }
    }

    /// The `limit` entries after `after` (from the first when `None`).
    pub fn after(after: Option<uuid::Uuid>, limit: u32) -> Page {
        Page { after, limit }
    }

    /// The key the page starts after: the nil id, below every id derbes makes, for the first.
    pub(crate) fn start(&self) -> uuid::Uuid {
        self.after.unwrap_or(uuid::Uuid::nil())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        match &e {
            rusqlite::Error::FromSqlConversionFailure(_, _, cause)
                if cause.is::<times::NotATime>() =>
            {
                StoreError::Corrupt(cause.to_string())
            }
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match std::error::Error::source(&e) {
            Some(cause) if cause.is::<times::NotATime>() => StoreError::Corrupt(cause.to_string()),
            _ => StoreError::Backend(e.to_string()),
        }
    }
}

/// The keys the audit chain is written and verified with (the key ring).
pub type Keys = Arc<dyn ChainKeys>;

/// The whole store: every aggregate's reads, one writer for every write, the chain's state.
#[async_trait]
pub trait Store:
    SubjectStore
    + SubjectStateStore
    + KeyStore
    + TokenStore
    + AuditStore
    + RequestStore
    + PackageStore
    + WebhookStore
    + DestructionStore
    + DeclarationStore
    + JobRunStore
    + RetentionScanStore
    + RetentionBatchStore
    + DepersonalizedStore
    + AccountStore
    + 'static
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;

    /// Applies one write with its audit events, atomically, through the group-commit writer.
    async fn write(&self, op: WriteOp) -> Result<Applied, StoreError>;

    /// Where the writer stands on the audit chain: verified up to an event, or broken.
    fn chain(&self) -> &ChainState;
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

pub(crate) fn now() -> String {
    times::text(time::OffsetDateTime::now_utc())
}

/// The JSON text of a stored value (consent event, link, flag).
pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, StoreError> {
    serde_json::from_str(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A stored code (a status, a kind) as its type, or `Corrupt` naming where it was found.
pub(crate) fn code_of<T: std::str::FromStr<Err = String>>(
    what: &str,
    code: &str,
) -> Result<T, StoreError> {
    code.parse()
        .map_err(|e: String| StoreError::Corrupt(format!("{what}: {e}")))
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

//! Depersonalized records: what a retention rule that depersonalizes keeps of each subject,
//! naming none; and the pseudonym key of a batch that depersonalizes, kept wrapped while the
//! batch runs and deleted with its completion.

use crate::{Page, StoreError};
use derbes_core::depersonalize::Record;
use uuid::Uuid;

/// A record to keep under `rule`, written in the transaction that destroys what it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Depersonalized {
    pub rule: String,
    pub record: Record,
}

/// A batch's pseudonym key, wrapped by the KEK of `kek_version` (as a data key is, with the
/// batch's id in place of a subject's and generation 1).
#[derive(Clone, PartialEq, Eq)]
pub struct PseudonymKey {
    pub dek: Vec<u8>,
    pub kek_version: u32,
}

impl std::fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PseudonymKey(v{})", self.kek_version)
    }
}

#[async_trait::async_trait]
pub trait DepersonalizedStore: Send + Sync {
    /// The records kept under `rule`, in the order of their (random) ids, after `after`, at
    /// most `limit`.
    async fn depersonalized_records(
        &self,
        rule: &str,
        page: Page,
    ) -> Result<Vec<(Uuid, Record)>, StoreError>;
    /// The pseudonym key of a batch still running.
    async fn pseudonym_key(&self, batch: Uuid) -> Result<Option<PseudonymKey>, StoreError>;
    /// Rewrites the storage of pseudonym keys and records, so that no deleted key stays on
    /// disk and the records' physical order is their ids' (SQLite zeroes what it deletes and
    /// orders the records by id already; PostgreSQL: `VACUUM (FULL)` and `CLUSTER`).
    async fn rewrite_depersonalized(&self) -> Result<(), StoreError>;
}

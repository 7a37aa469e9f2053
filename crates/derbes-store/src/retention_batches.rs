//! Retention batches: what one retention rule destroys or depersonalizes, as proposed to the
//! DPO and approved, with its items (one per subject) and what executing each came to.

use crate::{Page, StoreError};
use derbes_core::retention_batch::{Batch, BatchItem, ItemMark};
use uuid::Uuid;

/// A batch as stored: the batch and its version, which every change checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRecord {
    pub batch: Batch,
    pub version: i64,
}

/// One item of a batch and, once executed or skipped, what it came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchItemRecord {
    pub item: BatchItem,
    /// `None` while pending.
    pub outcome: Option<ItemMark>,
}

/// A stored mark as its type, or `Corrupt`.
pub(crate) fn mark_of(text: Option<String>) -> Result<Option<ItemMark>, StoreError> {
    text.map(|t| t.parse().map_err(StoreError::Corrupt))
        .transpose()
}

#[async_trait::async_trait]
pub trait RetentionBatchStore: Send + Sync {
    async fn retention_batch(&self, id: Uuid) -> Result<Option<BatchRecord>, StoreError>;
    /// The latest batches, newest first.
    async fn retention_batches(&self, limit: u32) -> Result<Vec<BatchRecord>, StoreError>;
    /// A batch's items in subject order, after `after`, at most `limit`; only those still
    /// pending when `pending` is set.
    async fn retention_batch_items(
        &self,
        id: Uuid,
        page: Page,
        pending: bool,
    ) -> Result<Vec<BatchItemRecord>, StoreError>;
}

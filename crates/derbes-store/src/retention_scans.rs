//! The last retention scan: what had expired, what a legal hold kept and what was to expire,
//! in counts and a few subject ids (never a value), kept so that Today shows it without
//! scanning every subject. Bookkeeping of derbes itself, like the jobs' runs: no audit event.

use crate::StoreError;
use time::OffsetDateTime;

/// A scan as kept: when it was made and its report (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptScan {
    pub made_at: OffsetDateTime,
    pub report: String,
}

#[async_trait::async_trait]
pub trait RetentionScanStore: Send + Sync {
    /// The last scan kept, if one was.
    async fn latest_retention_scan(&self) -> Result<Option<KeptScan>, StoreError>;
}

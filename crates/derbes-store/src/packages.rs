//! Requests' access packages.

use crate::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

/// The access package of a request: a zip sealed under the request's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    pub request_id: Uuid,
    pub subject_id: Uuid,
    pub created_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
    pub sealed: Vec<u8>,
}

/// Requests' access packages.
#[async_trait::async_trait]
pub trait PackageStore: Send + Sync {
    async fn package(&self, request_id: Uuid) -> Result<Option<PackageRecord>, StoreError>;
    /// Access packages that expire at or before `at`: (request id, subject id), oldest first.
    async fn expired_packages(
        &self,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError>;
}

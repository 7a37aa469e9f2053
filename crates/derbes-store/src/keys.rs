//! Wrapped data keys, for key rotation.

use crate::{Page, StoreError};
use uuid::Uuid;

/// Whose data key a [`KeyRecord`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    Subject,
    /// A data-subject request: its details and answer are sealed under a key of its own, so they
    /// outlive the destruction of the subject's data for as long as the request is kept.
    Request,
    /// A retention batch that depersonalizes: its pseudonym key, while the batch runs.
    Pseudonym,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub owner: KeyOwner,
    /// The subject's, the request's or the batch's id.
    pub id: Uuid,
    pub dek_generation: u32,
    pub dek: Vec<u8>,
    pub kek_version: u32,
}

/// Wrapped data keys, for key rotation.
#[async_trait::async_trait]
pub trait KeyStore: Send + Sync {
    /// Wrapped data keys of subjects or of requests, ordered by id, after `after` (for key
    /// rotation).
    async fn keys_page(&self, owner: KeyOwner, page: Page) -> Result<Vec<KeyRecord>, StoreError>;
    /// How many data keys (of subjects and of requests) are wrapped under each key-encryption
    /// key version.
    async fn key_versions(&self) -> Result<std::collections::BTreeMap<u32, u64>, StoreError>;
}

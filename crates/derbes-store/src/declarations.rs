//! Recorded declaration versions.

use crate::StoreError;

/// Recorded declaration versions.
#[async_trait::async_trait]
pub trait DeclarationStore: Send + Sync {
    /// Every recorded declaration version: (version, content hash, recorded at), oldest first.
    async fn declarations(&self) -> Result<Vec<(String, String, String)>, StoreError>;
    /// The content hash and text recorded for a declaration version.
    async fn declaration(&self, version: &str) -> Result<Option<(String, String)>, StoreError>;
}

//! API tokens: by digest, never the token itself.

use crate::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// What it is listed and revoked by.
    pub id: Uuid,
    /// What it is checked by: the SHA-256 of the token; the token itself is never stored.
    pub digest: String,
    pub name: String,
    pub role: String,
    pub purposes: Vec<String>,
    pub created_at: OffsetDateTime,
    pub revoked_at: Option<OffsetDateTime>,
    /// After this the token is refused; `None`: it does not expire.
    pub expires_at: Option<OffsetDateTime>,
    /// When it was last used, to the minute (recorded in batches).
    pub last_used_at: Option<OffsetDateTime>,
}

/// The columns of `tokens`, in the order both backends read them.
pub(crate) const TOKEN_COLUMNS: &str =
    "id, digest, name, role, purposes, created_at, revoked_at, expires_at, last_used_at";

/// A token's purposes as stored (a JSON array).
pub(crate) fn purposes_of(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("token purposes: {e}")))
}

/// API tokens: by digest, never the token itself.
#[async_trait::async_trait]
pub trait TokenStore: Send + Sync {
    async fn token(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError>;
    async fn count_active_tokens(&self) -> Result<u64, StoreError>;
    /// Every token, revoked ones included, oldest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;
    /// A number that changes whenever any process revokes a token, while this store hears of it
    /// at once; `None` when it cannot (then tokens are checked in the store on every request).
    fn token_generation(&self) -> Option<u64> {
        None
    }
}

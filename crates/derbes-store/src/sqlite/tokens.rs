//! API tokens, on SQLite.

use super::*;
use crate::TokenStore;

pub(super) type RawToken = (
    String,
    String,
    String,
    String,
    String,
    At,
    Option<At>,
    Option<At>,
    Option<At>,
);

pub(super) fn raw_token(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawToken> {
    r.try_into()
}

pub(super) fn token_of(
    (id, digest, name, role, purposes, created_at, revoked_at, expires_at, last_used_at): RawToken,
) -> Result<TokenRecord, StoreError> {
    Ok(TokenRecord {
        id: id
            .parse()
            .map_err(|_| StoreError::Corrupt("a token's id is not a UUID".into()))?,
        digest,
        name,
        role,
        purposes: crate::purposes_of(&purposes)?,
        created_at: created_at.0,
        revoked_at: revoked_at.map(|t| t.0),
        expires_at: expires_at.map(|t| t.0),
        last_used_at: last_used_at.map(|t| t.0),
    })
}

/// The token where `condition` (with one parameter) holds.
pub(super) fn token_where(
    conn: &Connection,
    condition: &str,
    param: &str,
) -> Result<Option<TokenRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens WHERE {condition}"
    ))?
    .query_row([param], raw_token)
    .optional()?
    .map(token_of)
    .transpose()
}

pub(super) fn create_token(
    tx: &mut Tx<'_>,
    t: TokenRecord,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    conn.prepare_cached(&format!(
        "INSERT INTO tokens ({TOKEN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        t.id.to_string(),
        t.digest,
        t.name,
        t.role,
        serde_json::to_string(&t.purposes).map_err(|e| StoreError::Backend(e.to_string()))?,
        At(t.created_at),
        t.revoked_at.map(At),
        t.expires_at.map(At),
        t.last_used_at.map(At)
    ])?;
    tx.append(audit)?;
    Ok(Applied::TokenCreated)
}

pub(super) fn revoke_token(
    tx: &mut Tx<'_>,
    id: Uuid,
    when: OffsetDateTime,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let token = token_where(conn, "id = ?1", &id.to_string())?.ok_or(StoreError::NotFound)?;
    if token.revoked_at.is_some() {
        return Ok(Applied::TokenRevoked {
            token: Box::new(token),
            already: true,
        });
    }
    conn.prepare_cached("UPDATE tokens SET revoked_at = ?1 WHERE id = ?2")?
        .execute(params![At(when), id.to_string()])?;
    tx.append(audit)?;
    Ok(Applied::TokenRevoked {
        token: Box::new(TokenRecord {
            revoked_at: Some(when),
            ..token
        }),
        already: false,
    })
}

pub(super) fn tokens_used(
    tx: &mut Tx<'_>,
    used: Vec<(String, OffsetDateTime)>,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let mut stmt = conn.prepare_cached(
        "UPDATE tokens SET last_used_at = ?2 WHERE digest = ?1 AND (last_used_at IS NULL OR last_used_at < ?2)",
    )?;
    for (digest, at) in used {
        stmt.execute(params![digest, At(at)])?;
    }
    Ok(Applied::TokensUsed)
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn token(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError> {
        let digest = digest.to_owned();
        self.read_now(move |c| token_where(c, "digest = ?1", &digest))
    }

    async fn count_active_tokens(&self) -> Result<u64, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL",
                [],
                |r| r.get(0),
            )?)
        })
        .await
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], raw_token)?;
            rows.map(|r| token_of(r?)).collect()
        })
        .await
    }

    fn token_generation(&self) -> Option<u64> {
        self.revocations.as_ref().and_then(Revocations::generation)
    }
}

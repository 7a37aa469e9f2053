//! API tokens, on PostgreSQL.

use super::*;
use crate::TokenStore;

pub(super) fn token_from_row(r: &Row) -> Result<TokenRecord, StoreError> {
    let purposes: String = r.get(4);
    Ok(TokenRecord {
        id: r.get(0),
        digest: r.get(1),
        name: r.get(2),
        role: r.get(3),
        purposes: crate::purposes_of(&purposes)?,
        created_at: r.try_get::<_, At>(5)?.0,
        revoked_at: r.try_get::<_, Option<At>>(6)?.map(|t| t.0),
        expires_at: r.try_get::<_, Option<At>>(7)?.map(|t| t.0),
        last_used_at: r.try_get::<_, Option<At>>(8)?.map(|t| t.0),
    })
}

impl Writer {
    pub(super) async fn create_token(
        &mut self,
        t: TokenRecord,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let purposes =
            serde_json::to_string(&t.purposes).map_err(|e| StoreError::Backend(e.to_string()))?;
        self.execute("INSERT INTO tokens (id, digest, name, role, purposes, created_at, revoked_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)", &[
                    &t.id,
                    &t.digest,
                    &t.name,
                    &t.role,
                    &purposes,
                    &At(t.created_at),
                    &t.revoked_at.map(At),
                    &t.expires_at.map(At),
                    &t.last_used_at.map(At),
                ],
            )
            .await?;
        self.append(audit);
        Ok(Applied::TokenCreated)
    }

    pub(super) async fn revoke_token(
        &mut self,
        id: Uuid,
        when: OffsetDateTime,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let row = self.query_opt("SELECT id, digest, name, role, purposes, created_at, revoked_at, expires_at, last_used_at FROM tokens WHERE id = $1 FOR UPDATE", &[&id])
            .await?
            .ok_or(StoreError::NotFound)?;
        let token = token_from_row(&row)?;
        if token.revoked_at.is_some() {
            return Ok(Applied::TokenRevoked {
                token: Box::new(token),
                already: true,
            });
        }
        self.execute(
            "UPDATE tokens SET revoked_at = $1 WHERE id = $2",
            &[&At(when), &id],
        )
        .await?;
        // Every derbes listening hears of it when this transaction commits.
        self.query_one("SELECT pg_notify('derbes_tokens', '')", &[])
            .await?;
        self.append(audit);
        Ok(Applied::TokenRevoked {
            token: Box::new(TokenRecord {
                revoked_at: Some(when),
                ..token
            }),
            already: false,
        })
    }

    pub(super) async fn tokens_used(
        &mut self,
        used: Vec<(String, OffsetDateTime)>,
    ) -> Result<Applied, StoreError> {
        let (digests, times): (Vec<String>, Vec<String>) = used
            .into_iter()
            .map(|(digest, at)| (digest, crate::times::text(at)))
            .unzip();
        self.execute("UPDATE tokens t SET last_used_at = u.at FROM unnest($1::text[], $2::text[]) AS u(digest, at)
                 WHERE t.digest = u.digest AND (t.last_used_at IS NULL OR t.last_used_at < u.at)", &[&digests, &times]).await?;
        Ok(Applied::TokensUsed)
    }
}

#[async_trait]
impl TokenStore for PostgresStore {
    async fn token(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.row(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE digest = $1"),
            &[&digest],
        )
        .await?
        .as_ref()
        .map(token_from_row)
        .transpose()
    }

    async fn count_active_tokens(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL", &[])
            .await?
            .get(0);
        Ok(n.unsigned_abs())
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let c = self.client().await?;
        c.query(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"),
            &[],
        )
        .await?
        .iter()
        .map(token_from_row)
        .collect()
    }

    fn token_generation(&self) -> Option<u64> {
        self.tokens.trusted_generation()
    }
}

//! Access packages, on PostgreSQL.

use super::*;
use crate::PackageStore;

impl Writer {
    pub(super) async fn store_package(
        &mut self,
        p: PackageRecord,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        // A subject destroyed meanwhile gets no package.
        if self
            .query_opt(
                "SELECT 1 FROM subjects WHERE id = $1 FOR SHARE",
                &[&p.subject_id],
            )
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        self.execute("INSERT INTO request_packages (request_id, subject_id, created_at, expires_at, sealed) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (request_id) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at, sealed = excluded.sealed", &[
                    &p.request_id,
                    &p.subject_id,
                    &At(p.created_at),
                    &At(p.expires_at),
                    &p.sealed,
                ],
            )
            .await?;
        self.append(audit);
        Ok(Applied::PackageStored)
    }

    pub(super) async fn delete_package(
        &mut self,
        request_id: Uuid,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        if self
            .execute(
                "DELETE FROM request_packages WHERE request_id = $1",
                &[&request_id],
            )
            .await?
            == 0
        {
            return Err(StoreError::NotFound);
        }
        self.append(audit);
        Ok(Applied::PackageDeleted)
    }
}

#[async_trait]
impl PackageStore for PostgresStore {
    async fn package(&self, request_id: Uuid) -> Result<Option<PackageRecord>, StoreError> {
        self.row("SELECT subject_id, created_at, expires_at, sealed FROM request_packages WHERE request_id = $1", &[&request_id])
            .await?
            .map(|r| Ok(PackageRecord {
                request_id,
                subject_id: r.get(0),
                created_at: r.try_get::<_, At>(1)?.0,
                expires_at: r.try_get::<_, At>(2)?.0,
                sealed: r.get(3),
            }))
            .transpose()
    }

    async fn expired_packages(
        &self,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        Ok(self.rows("SELECT request_id, subject_id FROM request_packages WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2", &[&At(at), &i64::from(limit)])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }
}

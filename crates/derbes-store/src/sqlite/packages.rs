//! Access packages, on SQLite.

use super::*;
use crate::PackageStore;

pub(super) fn store_package(
    tx: &mut Tx<'_>,
    p: PackageRecord,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    // A subject destroyed meanwhile gets no package.
    conn.prepare_cached("SELECT 1 FROM subjects WHERE id = ?1")?
        .query_row([&p.subject_id.as_bytes()[..]], |_| Ok(()))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    conn.prepare_cached(
        "INSERT INTO request_packages (request_id, subject_id, created_at, expires_at, sealed) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (request_id) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at, sealed = excluded.sealed",
    )?
    .execute(params![
        &p.request_id.as_bytes()[..],
        &p.subject_id.as_bytes()[..],
        At(p.created_at),
        At(p.expires_at),
        p.sealed
    ])?;
    tx.append(audit)?;
    Ok(Applied::PackageStored)
}

pub(super) fn delete_package(
    tx: &mut Tx<'_>,
    request_id: Uuid,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let n = conn
        .prepare_cached("DELETE FROM request_packages WHERE request_id = ?1")?
        .execute([&request_id.as_bytes()[..]])?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    tx.append(audit)?;
    Ok(Applied::PackageDeleted)
}

#[async_trait]
impl PackageStore for SqliteStore {
    async fn package(&self, request_id: Uuid) -> Result<Option<PackageRecord>, StoreError> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT subject_id, created_at, expires_at, sealed FROM request_packages WHERE request_id = ?1",
            )?
            .query_row([&request_id.as_bytes()[..]], |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, At>(1)?,
                    r.get::<_, At>(2)?,
                    r.get(3)?,
                ))
            })
            .optional()?
            .map(|(subject, created_at, expires_at, sealed)| {
                Ok(PackageRecord {
                    request_id,
                    subject_id: uuid_of(subject)?,
                    created_at: created_at.0,
                    expires_at: expires_at.0,
                    sealed,
                })
            })
            .transpose()
        })
        .await
    }

    async fn expired_packages(
        &self,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT request_id, subject_id FROM request_packages WHERE expires_at <= ?1 ORDER BY expires_at LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![At(at), limit], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            rows.map(|r| {
                let (req, subject) = r?;
                Ok((uuid_of(req)?, uuid_of(subject)?))
            })
            .collect()
        })
        .await
    }
}

//! Wrapped data keys, on SQLite.

use super::*;
use crate::KeyStore;
use crate::Page;

pub(super) fn rewrap(
    tx: &mut Tx<'_>,
    keys: Vec<(KeyRecord, Vec<u8>, u32)>,
    audit: Option<AuditDraft>,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let mut count = 0u64;
    for (old, dek, kek_version) in keys {
        let id = &old.id.as_bytes()[..];
        count += match old.owner {
            KeyOwner::Subject => conn.prepare_cached(
                "UPDATE subjects SET dek = ?1, kek_version = ?2 WHERE id = ?3 AND kek_version = ?4 AND dek_generation = ?5",
            )?
            .execute(params![dek, kek_version, id, old.kek_version, old.dek_generation])?,
            KeyOwner::Request => conn.prepare_cached(
                "UPDATE requests SET dek = ?1, kek_version = ?2 WHERE id = ?3 AND kek_version = ?4",
            )?
            .execute(params![dek, kek_version, id, old.kek_version])?,
            KeyOwner::Pseudonym => conn.prepare_cached(
                "UPDATE pseudonym_keys SET dek = ?1, kek_version = ?2 WHERE batch_id = ?3 AND kek_version = ?4",
            )?
            .execute(params![dek, kek_version, id, old.kek_version])?,
        } as u64;
    }
    if let Some(a) = audit {
        tx.append(a)?;
    }
    Ok(Applied::Rewrapped { count })
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn keys_page(&self, owner: KeyOwner, page: Page) -> Result<Vec<KeyRecord>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(match owner {
                KeyOwner::Subject => "SELECT id, dek_generation, dek, kek_version FROM subjects WHERE id > ?1 ORDER BY id LIMIT ?2",
                KeyOwner::Request => "SELECT id, 1, dek, kek_version FROM requests WHERE id > ?1 ORDER BY id LIMIT ?2",
                KeyOwner::Pseudonym => "SELECT batch_id, 1, dek, kek_version FROM pseudonym_keys WHERE batch_id > ?1 ORDER BY batch_id LIMIT ?2",
            })?;
            let rows = stmt.query_map(params![page.start().as_bytes(), page.limit], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, u32>(1)?, r.get::<_, Vec<u8>>(2)?, r.get::<_, u32>(3)?))
            })?;
            rows.map(|r| {
                let (id, dek_generation, dek, kek_version) = r?;
                Ok(KeyRecord {
                    owner,
                    id: uuid_of(id)?,
                    dek_generation,
                    dek,
                    kek_version,
                })
            })
            .collect()
        })
        .await
    }

    async fn key_versions(&self) -> Result<std::collections::BTreeMap<u32, u64>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT kek_version, count(*) FROM subjects GROUP BY kek_version
                 UNION ALL SELECT kek_version, count(*) FROM requests GROUP BY kek_version
                 UNION ALL SELECT kek_version, count(*) FROM pseudonym_keys GROUP BY kek_version",
            )?;
            let mut out = std::collections::BTreeMap::new();
            for row in stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u64>(1)?)))? {
                let (v, n) = row?;
                *out.entry(v).or_insert(0) += n;
            }
            Ok(out)
        })
        .await
    }
}

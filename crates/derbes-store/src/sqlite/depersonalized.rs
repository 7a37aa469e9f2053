//! Depersonalized records and pseudonym keys, on SQLite.

use super::*;
use crate::Page;
use crate::{Depersonalized, DepersonalizedStore, PseudonymKey};
use derbes_core::depersonalize::Record;

/// Keeps a record under a random id (the table is ordered by it: see the migration).
pub(super) fn keep(conn: &Connection, d: &Depersonalized) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO depersonalized_records (id, rule, record) VALUES (?1, ?2, ?3)",
    )?
    .execute(params![
        &Uuid::new_v4().as_bytes()[..],
        d.rule,
        to_json(&d.record)?
    ])?;
    Ok(())
}

/// Stores `key` for `batch` unless it holds one: the key it holds.
pub(super) fn put_key(
    conn: &Connection,
    batch: Uuid,
    key: &PseudonymKey,
) -> Result<Applied, StoreError> {
    let id = &batch.as_bytes()[..];
    conn.prepare_cached(
        "INSERT INTO pseudonym_keys (batch_id, dek, kek_version) VALUES (?1, ?2, ?3)
         ON CONFLICT (batch_id) DO NOTHING",
    )?
    .execute(params![id, key.dek, key.kek_version])?;
    Ok(Applied::PseudonymKey(key_of(conn, batch)?.ok_or_else(
        || StoreError::Backend("a pseudonym key just stored is not there".into()),
    )?))
}

/// Deletes a batch's pseudonym key (zeroed as it is deleted: `secure_delete`).
pub(super) fn forget_key(conn: &Connection, batch: Uuid) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM pseudonym_keys WHERE batch_id = ?1")?
        .execute([&batch.as_bytes()[..]])?;
    Ok(())
}

fn key_of(conn: &Connection, batch: Uuid) -> Result<Option<PseudonymKey>, StoreError> {
    Ok(conn
        .prepare_cached("SELECT dek, kek_version FROM pseudonym_keys WHERE batch_id = ?1")?
        .query_row([&batch.as_bytes()[..]], |r| {
            Ok(PseudonymKey {
                dek: r.get(0)?,
                kek_version: r.get(1)?,
            })
        })
        .optional()?)
}

#[async_trait]
impl DepersonalizedStore for SqliteStore {
    async fn depersonalized_records(
        &self,
        rule: &str,
        page: Page,
    ) -> Result<Vec<(Uuid, Record)>, StoreError> {
        let rule = rule.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT id, record FROM depersonalized_records WHERE rule = ?1 AND id > ?2
                 ORDER BY id LIMIT ?3",
            )?;
            let rows = stmt.query_map(params![rule, page.start().as_bytes(), page.limit], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })?;
            rows.map(|r| {
                let (id, record) = r?;
                Ok((uuid_of(id)?, from_json(&record)?))
            })
            .collect()
        })
        .await
    }

    async fn pseudonym_key(&self, batch: Uuid) -> Result<Option<PseudonymKey>, StoreError> {
        self.read(move |c| key_of(c, batch)).await
    }

    /// Nothing to do: deleted content is zeroed as it is deleted (`secure_delete`), and the
    /// records are stored in the order of their ids (`WITHOUT ROWID`).
    async fn rewrite_depersonalized(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

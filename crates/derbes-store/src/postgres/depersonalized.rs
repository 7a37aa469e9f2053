//! Depersonalized records and pseudonym keys, on PostgreSQL.

use super::*;
use crate::Page;
use crate::{Depersonalized, DepersonalizedStore, PseudonymKey};
use derbes_core::depersonalize::Record;

impl Writer {
    /// Keeps a record under a random id.
    pub(super) async fn keep_depersonalized(
        &mut self,
        d: &Depersonalized,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO depersonalized_records (id, rule, record) VALUES ($1, $2, $3)",
            &[&Uuid::new_v4(), &d.rule, &to_json(&d.record)?],
        )
        .await?;
        Ok(())
    }

    /// Stores `key` for `batch` unless it holds one: the key it holds.
    pub(super) async fn put_pseudonym_key(
        &mut self,
        batch: Uuid,
        key: &PseudonymKey,
    ) -> Result<Applied, StoreError> {
        self.execute(
            "INSERT INTO pseudonym_keys (batch_id, dek, kek_version) VALUES ($1, $2, $3)
             ON CONFLICT (batch_id) DO NOTHING",
            &[&batch, &key.dek, &to_i32(key.kek_version)?],
        )
        .await?;
        let row = self
            .query_one(
                "SELECT dek, kek_version FROM pseudonym_keys WHERE batch_id = $1",
                &[&batch],
            )
            .await?;
        Ok(Applied::PseudonymKey(PseudonymKey {
            dek: row.get(0),
            kek_version: to_u32(row.get(1))?,
        }))
    }

    /// Deletes a batch's pseudonym key; the dead row goes with
    /// [`DepersonalizedStore::rewrite_depersonalized`].
    pub(super) async fn forget_pseudonym_key(&mut self, batch: Uuid) -> Result<(), StoreError> {
        self.execute("DELETE FROM pseudonym_keys WHERE batch_id = $1", &[&batch])
            .await?;
        Ok(())
    }
}

#[async_trait]
impl DepersonalizedStore for PostgresStore {
    async fn depersonalized_records(
        &self,
        rule: &str,
        page: Page,
    ) -> Result<Vec<(Uuid, Record)>, StoreError> {
        self.rows(
            "SELECT id, record FROM depersonalized_records WHERE rule = $1 AND id > $2
             ORDER BY id LIMIT $3",
            &[&rule, &page.start(), &i64::from(page.limit)],
        )
        .await?
        .iter()
        .map(|r| Ok((r.try_get(0)?, from_json(&r.try_get::<_, String>(1)?)?)))
        .collect()
    }

    async fn pseudonym_key(&self, batch: Uuid) -> Result<Option<PseudonymKey>, StoreError> {
        self.row(
            "SELECT dek, kek_version FROM pseudonym_keys WHERE batch_id = $1",
            &[&batch],
        )
        .await?
        .map(|r| {
            Ok(PseudonymKey {
                dek: r.try_get(0)?,
                kek_version: to_u32(r.try_get(1)?)?,
            })
        })
        .transpose()
    }

    /// No dead row keeps a deleted pseudonym key, and the records lie in the order of their
    /// random ids, not in the order they were written (which follows the batch's subjects).
    async fn rewrite_depersonalized(&self) -> Result<(), StoreError> {
        // One statement each: VACUUM runs outside a transaction, and several statements sent
        // together make one.
        let c = self.client().await?;
        c.batch_execute("VACUUM (FULL) pseudonym_keys").await?;
        c.batch_execute("CLUSTER depersonalized_records USING depersonalized_records_pkey")
            .await?;
        Ok(())
    }
}

//! Destroying subjects, and their records, on PostgreSQL.

use super::*;
use crate::DestructionStore;

impl Writer {
    /// Applies a `WriteOp::DestroySubject`.
    pub(super) async fn destroy(&mut self, op: WriteOp) -> Result<Applied, StoreError> {
        let WriteOp::DestroySubject {
            destruction,
            audit,
            checked,
            batch,
        } = op
        else {
            return Err(StoreError::Backend("not a destruction".into()));
        };
        self.destroy_subject(destruction, audit, checked, batch)
            .await
    }

    pub(super) async fn destroy_subject(
        &mut self,
        mut destruction: Destruction,
        audit: AuditDraft,
        checked: Option<crate::DestructionChecked>,
        batch: Option<Uuid>,
    ) -> Result<Applied, StoreError> {
        let id = destruction.subject_id;
        // Locked: a package or a second destruction waiting on the row sees it gone.
        if self
            .query_opt("SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE", &[&id])
            .await?
            .is_none()
        {
            return match self
                .query_opt(
                    "SELECT record FROM destructions WHERE subject_id = $1",
                    &[&id],
                )
                .await?
            {
                Some(row) => Ok(Applied::Destroyed {
                    destruction: from_json(&row.get::<_, String>(0))?,
                    already: true,
                }),
                None => Err(StoreError::NotFound),
            };
        }
        if let Some(checked) = &checked {
            // Every write holds the audit head's lock: no obligation or link can be
            // written between these reads and the deletes.
            let obligations = self
                .query(
                    "SELECT purpose, obligation FROM obligations WHERE subject_id = $1",
                    &[&id],
                )
                .await?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect();
            let represents = self
                .query_opt(
                    "SELECT 1 FROM representatives WHERE representative_id = $1 LIMIT 1",
                    &[&id],
                )
                .await?
                .is_some();
            let events: i64 = self
                .query_one(
                    "SELECT count(*) FROM lifecycle_events WHERE subject_id = $1",
                    &[&id],
                )
                .await?
                .get(0);
            if !crate::destruction_check_holds(checked, obligations, events, represents)? {
                return Err(StoreError::VersionConflict);
            }
        }
        if let Some(batch) = batch {
            self.refuse_open_request(id).await?;
            let done = format!("whole:{}", destruction.fields.len());
            self.mark_batch_item(batch, id, &done).await?;
        }
        // The partition of the key, rewritten once the destruction is committed.
        if let Some(row) = self
            .query_opt(
                "SELECT tableoid::regclass::text FROM subject_keys WHERE subject_id = $1",
                &[&id],
            )
            .await?
        {
            let partition: String = row.get(0);
            if !self.rewrite.contains(&partition) {
                self.rewrite.push(partition);
            }
        }
        self.execute("DELETE FROM subject_keys WHERE subject_id = $1", &[&id])
            .await?;
        destruction.removed = Removed {
            index_entries: self
                .execute("DELETE FROM blind_index WHERE subject_id = $1", &[&id])
                .await?,
            consent_events: self
                .execute("DELETE FROM consent_events WHERE subject_id = $1", &[&id])
                .await?,
            representative_links: self
                .execute("DELETE FROM representatives WHERE subject_id = $1", &[&id])
                .await?,
            flags: self
                .execute("DELETE FROM subject_flags WHERE subject_id = $1", &[&id])
                .await?,
            obligations: self
                .execute("DELETE FROM obligations WHERE subject_id = $1", &[&id])
                .await?,
            packages: self
                .execute("DELETE FROM request_packages WHERE subject_id = $1", &[&id])
                .await?,
            lifecycle_events: self
                .execute("DELETE FROM lifecycle_events WHERE subject_id = $1", &[&id])
                .await?,
        };
        for sql in [
            "DELETE FROM legal_holds WHERE subject_id = $1",
            "DELETE FROM majority_reconfirmations WHERE subject_id = $1",
            "DELETE FROM reconfirmations_unsettled WHERE subject_id = $1",
        ] {
            self.execute(sql, &[&id]).await?;
        }
        self.execute("DELETE FROM subjects WHERE id = $1", &[&id])
            .await?;
        self.execute("INSERT INTO destructions (subject_id, destroyed_at, record) VALUES ($1, $2, $3)
                 ON CONFLICT (subject_id) DO UPDATE SET destroyed_at = excluded.destroyed_at, record = excluded.record", &[
                    &id,
                    &crate::times::At(destruction.destroyed_at),
                    &to_json(&destruction)?,
                ],
            )
            .await?;
        self.append(audit);
        Ok(Applied::Destroyed {
            destruction,
            already: false,
        })
    }
}

#[async_trait]
impl DestructionStore for PostgresStore {
    async fn destruction(&self, subject_id: Uuid) -> Result<Option<Destruction>, StoreError> {
        self.row(
            "SELECT record FROM destructions WHERE subject_id = $1",
            &[&subject_id],
        )
        .await?
        .map(|r| from_json(&r.get::<_, String>(0)))
        .transpose()
    }

    async fn destructions(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Destruction>, StoreError> {
        self.rows(
            "SELECT record FROM destructions WHERE subject_id > $1 ORDER BY subject_id LIMIT $2",
            &[&after.unwrap_or(Uuid::nil()), &i64::from(limit)],
        )
        .await?
        .iter()
        .map(|r| from_json(&r.get::<_, String>(0)))
        .collect()
    }
}

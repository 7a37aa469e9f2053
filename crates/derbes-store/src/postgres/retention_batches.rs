//! Retention batches, on PostgreSQL.

use super::*;
use crate::retention_batches::{BatchItemRecord, BatchRecord};
use crate::Page;
use crate::RetentionBatchStore;
use derbes_core::retention_batch::{Batch, BatchItem, ItemMark};

impl Writer {
    /// Applies a write of retention batches.
    pub(super) async fn apply_retention_batch(
        &mut self,
        op: WriteOp,
    ) -> Result<Applied, StoreError> {
        match op {
            WriteOp::PutRetentionBatch {
                batch,
                seen,
                items,
                audit,
            } => self.put_retention_batch(*batch, seen, items, audit).await,
            WriteOp::DestroyFields {
                subject_id,
                expected_version,
                kept,
                destroyed,
                checked,
                depersonalized,
                audit,
            } => {
                if let Some(d) = &depersonalized {
                    self.keep_depersonalized(d).await?;
                }
                self.destroy_fields(
                    subject_id,
                    expected_version,
                    kept,
                    &destroyed,
                    checked,
                    audit,
                )
                .await
            }
            WriteOp::MarkBatchItem {
                batch,
                subject_id,
                outcome,
            } => {
                self.mark_batch_item(batch, subject_id, &outcome).await?;
                Ok(Applied::BatchItemDone)
            }
            other => Err(StoreError::Backend(format!(
                "not a write of retention batches: {other:?}"
            ))),
        }
    }

    /// Stores a new batch (`seen` none) or a change to the one at version `seen`; `items`,
    /// when given, replace its items.
    pub(super) async fn put_retention_batch(
        &mut self,
        batch: Batch,
        seen: Option<i64>,
        items: Option<Vec<BatchItem>>,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let text = to_json(&batch)?;
        // An act's number is the operator's: another batch's act holding it refuses this one
        // (two runners finishing batches at once), which numbers its act again.
        if let Some(act) = &batch.act {
            if self
                .query_opt(
                    "SELECT 1 FROM retention_batches
                     WHERE id <> $1 AND (batch::jsonb -> 'act' ->> 'number') = $2",
                    &[&batch.id, &act.number],
                )
                .await?
                .is_some()
            {
                return Err(StoreError::VersionConflict);
            }
        }
        let version = match seen {
            None => {
                let inserted = self
                    .execute(
                        "INSERT INTO retention_batches (id, created_at, version, batch)
                         VALUES ($1, $2, 1, $3) ON CONFLICT (id) DO NOTHING",
                        &[&batch.id, &At(batch.proposed_at), &text],
                    )
                    .await?;
                if inserted == 0 {
                    return Err(StoreError::VersionConflict);
                }
                1
            }
            Some(v) => {
                let updated = self
                    .execute(
                        "UPDATE retention_batches SET version = $3, batch = $4
                         WHERE id = $1 AND version = $2",
                        &[&batch.id, &v, &(v + 1), &text],
                    )
                    .await?;
                if updated == 0 {
                    return Err(StoreError::VersionConflict);
                }
                v + 1
            }
        };
        if let Some(items) = items {
            self.execute(
                "DELETE FROM retention_batch_items WHERE batch_id = $1",
                &[&batch.id],
            )
            .await?;
            let subjects: Vec<Uuid> = items.iter().map(|i| i.subject_id).collect();
            let texts = items.iter().map(to_json).collect::<Result<Vec<_>, _>>()?;
            self.execute(
                "INSERT INTO retention_batch_items (batch_id, subject_id, item)
                 SELECT $1, s, i FROM unnest($2::uuid[], $3::text[]) AS t(s, i)",
                &[&batch.id, &subjects, &texts],
            )
            .await?;
        }
        if batch.status == derbes_core::retention_batch::BatchStatus::Done {
            self.forget_pseudonym_key(batch.id).await?;
        }
        self.append(audit);
        Ok(Applied::BatchPut { version })
    }
}

fn batch_of(r: &Row) -> Result<BatchRecord, StoreError> {
    Ok(BatchRecord {
        batch: from_json(&r.try_get::<_, String>(0)?)?,
        version: r.try_get(1)?,
    })
}

#[async_trait]
impl RetentionBatchStore for PostgresStore {
    async fn retention_batch(&self, id: Uuid) -> Result<Option<BatchRecord>, StoreError> {
        self.rows(
            "SELECT batch, version FROM retention_batches WHERE id = $1",
            &[&id],
        )
        .await?
        .first()
        .map(batch_of)
        .transpose()
    }

    async fn retention_batches(&self, limit: u32) -> Result<Vec<BatchRecord>, StoreError> {
        self.rows(
            "SELECT batch, version FROM retention_batches ORDER BY created_at DESC LIMIT $1",
            &[&i64::from(limit)],
        )
        .await?
        .iter()
        .map(batch_of)
        .collect()
    }

    async fn retention_batch_items(
        &self,
        id: Uuid,
        page: Page,
        pending: bool,
    ) -> Result<Vec<BatchItemRecord>, StoreError> {
        self.rows(
            "SELECT item, outcome FROM retention_batch_items
             WHERE batch_id = $1 AND subject_id > $2 AND (NOT $3 OR outcome IS NULL)
             ORDER BY subject_id LIMIT $4",
            &[&id, &page.start(), &pending, &i64::from(page.limit)],
        )
        .await?
        .iter()
        .map(|r| {
            Ok(BatchItemRecord {
                item: from_json(&r.try_get::<_, String>(0)?)?,
                outcome: crate::retention_batches::mark_of(r.try_get(1)?)?,
            })
        })
        .collect()
    }
}

impl Writer {
    /// Marks a pending item; `VersionConflict` when it is not pending (executed already).
    pub(super) async fn mark_batch_item(
        &mut self,
        batch: Uuid,
        subject_id: Uuid,
        outcome: &ItemMark,
    ) -> Result<(), StoreError> {
        let marked = self
            .execute(
                "UPDATE retention_batch_items SET outcome = $3
                 WHERE batch_id = $1 AND subject_id = $2 AND outcome IS NULL",
                &[&batch, &subject_id, &outcome.text()],
            )
            .await?;
        if marked == 0 {
            return Err(StoreError::VersionConflict);
        }
        Ok(())
    }

    /// `VersionConflict` when the subject has an open request (a legal hold that came).
    pub(super) async fn refuse_open_request(&mut self, subject_id: Uuid) -> Result<(), StoreError> {
        if self
            .query_opt(
                "SELECT 1 FROM requests WHERE subject_id = $1 AND open LIMIT 1",
                &[&subject_id],
            )
            .await?
            .is_some()
        {
            return Err(StoreError::VersionConflict);
        }
        Ok(())
    }

    /// Destroys some of a subject's fields for a batch's item (see `WriteOp::DestroyFields`).
    pub(super) async fn destroy_fields(
        &mut self,
        subject_id: Uuid,
        expected_version: i64,
        (fields, collected): crate::subjects::Rewritten,
        destroyed: &[String],
        checked: Option<(usize, Uuid)>,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        // Locked: a rectification waiting on the row sees the new version.
        if self
            .query_opt(
                "SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE",
                &[&subject_id],
            )
            .await?
            .is_none()
        {
            return Err(StoreError::VersionConflict);
        }
        if let Some((lifecycle_events, batch)) = checked {
            let events: i64 = self
                .query_one(
                    "SELECT count(*) FROM lifecycle_events WHERE subject_id = $1",
                    &[&subject_id],
                )
                .await?
                .get(0);
            if usize::try_from(events).ok() != Some(lifecycle_events) {
                return Err(StoreError::VersionConflict);
            }
            self.refuse_open_request(subject_id).await?;
            self.mark_batch_item(batch, subject_id, &ItemMark::Fields(destroyed.to_vec()))
                .await?;
        }
        let blob = encode_fields(&fields).map_err(|e| StoreError::Backend(e.to_string()))?;
        if self
            .execute(
                "UPDATE subjects SET fields = $1, version = version + 1, updated_at = $2, field_collected = $5
                 WHERE id = $3 AND version = $4",
                &[
                    &blob,
                    &now(),
                    &subject_id,
                    &expected_version,
                    &crate::subjects::collected_column(&collected)?,
                ],
            )
            .await?
            == 0
        {
            return Err(StoreError::VersionConflict);
        }
        self.execute(
            "DELETE FROM blind_index WHERE subject_id = $1 AND field = ANY($2)",
            &[&subject_id, &destroyed],
        )
        .await?;
        self.append(audit);
        Ok(Applied::BatchItemDone)
    }
}

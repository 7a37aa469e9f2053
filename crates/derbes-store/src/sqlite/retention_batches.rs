//! Retention batches, on SQLite.

use super::*;
use crate::retention_batches::{BatchItemRecord, BatchRecord};
use crate::Page;
use crate::RetentionBatchStore;
use derbes_core::retention_batch::{Batch, BatchItem, ItemMark};

/// Applies a write of retention batches.
pub(super) fn apply(tx: &mut Tx<'_>, op: WriteOp) -> Result<Applied, StoreError> {
    match op {
        WriteOp::PutRetentionBatch {
            batch,
            seen,
            items,
            audit,
        } => put(tx, *batch, seen, items, audit),
        WriteOp::DestroyFields {
            subject_id,
            expected_version,
            kept,
            destroyed,
            checked,
            depersonalized,
            audit,
        } => destroy_fields(
            tx,
            subject_id,
            expected_version,
            kept,
            &destroyed,
            (checked, depersonalized),
            audit,
        ),
        WriteOp::MarkBatchItem {
            batch,
            subject_id,
            outcome,
        } => {
            mark_item(tx.conn, batch, subject_id, &outcome)?;
            Ok(Applied::BatchItemDone)
        }
        other => Err(StoreError::Backend(format!(
            "not a write of retention batches: {other:?}"
        ))),
    }
}

/// Stores a new batch (`seen` none) or a change to the one at version `seen`; `items`, when
/// given, replace its items.
pub(super) fn put(
    tx: &mut Tx<'_>,
    batch: Batch,
    seen: Option<i64>,
    items: Option<Vec<BatchItem>>,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let id = &batch.id.as_bytes()[..];
    // An act's number is the operator's: another batch's act holding it refuses this one
    // (two runners finishing batches at once), which numbers its act again.
    if let Some(act) = &batch.act {
        let taken = conn
            .prepare_cached(
                "SELECT 1 FROM retention_batches
                 WHERE id != ?1 AND json_extract(batch, '$.act.number') = ?2",
            )?
            .query_row(params![id, act.number], |_| Ok(()))
            .optional()?
            .is_some();
        if taken {
            return Err(StoreError::VersionConflict);
        }
    }
    let version = match seen {
        None => {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO retention_batches (id, created_at, version, batch)
                     VALUES (?1, ?2, 1, ?3) ON CONFLICT (id) DO NOTHING",
                )?
                .execute(params![id, At(batch.proposed_at), to_json(&batch)?])?;
            if inserted == 0 {
                return Err(StoreError::VersionConflict);
            }
            1
        }
        Some(v) => {
            let updated = conn
                .prepare_cached(
                    "UPDATE retention_batches SET version = ?3, batch = ?4
                     WHERE id = ?1 AND version = ?2",
                )?
                .execute(params![id, v, v + 1, to_json(&batch)?])?;
            if updated == 0 {
                return Err(StoreError::VersionConflict);
            }
            v + 1
        }
    };
    if let Some(items) = items {
        conn.prepare_cached("DELETE FROM retention_batch_items WHERE batch_id = ?1")?
            .execute([id])?;
        let mut insert = conn.prepare_cached(
            "INSERT INTO retention_batch_items (batch_id, subject_id, item) VALUES (?1, ?2, ?3)",
        )?;
        for item in &items {
            insert.execute(params![id, &item.subject_id.as_bytes()[..], to_json(item)?])?;
        }
    }
    if batch.status == derbes_core::retention_batch::BatchStatus::Done {
        super::depersonalized::forget_key(conn, batch.id)?;
    }
    tx.append(audit)?;
    Ok(Applied::BatchPut { version })
}

#[async_trait]
impl RetentionBatchStore for SqliteStore {
    async fn retention_batch(&self, id: Uuid) -> Result<Option<BatchRecord>, StoreError> {
        self.read(move |c| {
            let row: Option<(String, i64)> = c
                .prepare_cached("SELECT batch, version FROM retention_batches WHERE id = ?1")?
                .query_row([&id.as_bytes()[..]], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(batch, version)| {
                Ok(BatchRecord {
                    batch: from_json(&batch)?,
                    version,
                })
            })
            .transpose()
        })
        .await
    }

    async fn retention_batches(&self, limit: u32) -> Result<Vec<BatchRecord>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT batch, version FROM retention_batches ORDER BY created_at DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit], |r| Ok((r.get::<_, String>(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(batch, version)| {
                    Ok(BatchRecord {
                        batch: from_json(&batch)?,
                        version,
                    })
                })
                .collect()
        })
        .await
    }

    async fn retention_batch_items(
        &self,
        id: Uuid,
        page: Page,
        pending: bool,
    ) -> Result<Vec<BatchItemRecord>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT item, outcome FROM retention_batch_items
                 WHERE batch_id = ?1 AND subject_id > ?2 AND (?3 = 0 OR outcome IS NULL)
                 ORDER BY subject_id LIMIT ?4",
            )?;
            let rows = stmt
                .query_map(
                    params![
                        &id.as_bytes()[..],
                        page.start().as_bytes(),
                        pending,
                        page.limit
                    ],
                    |r| Ok((r.get::<_, String>(0)?, r.get(1)?)),
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter()
                .map(|(item, outcome)| {
                    Ok(BatchItemRecord {
                        item: from_json(&item)?,
                        outcome: crate::retention_batches::mark_of(outcome)?,
                    })
                })
                .collect()
        })
        .await
    }
}

/// Marks a pending item; `VersionConflict` when it is not pending (executed already).
pub(super) fn mark_item(
    conn: &Connection,
    batch: Uuid,
    subject_id: Uuid,
    outcome: &ItemMark,
) -> Result<(), StoreError> {
    let marked = conn
        .prepare_cached(
            "UPDATE retention_batch_items SET outcome = ?3
             WHERE batch_id = ?1 AND subject_id = ?2 AND outcome IS NULL",
        )?
        .execute(params![
            &batch.as_bytes()[..],
            &subject_id.as_bytes()[..],
            outcome.text()
        ])?;
    if marked == 0 {
        return Err(StoreError::VersionConflict);
    }
    Ok(())
}

/// `VersionConflict` when the subject has an open request (a legal hold that came).
pub(super) fn refuse_open_request(conn: &Connection, subject_id: Uuid) -> Result<(), StoreError> {
    let open = conn
        .prepare_cached("SELECT 1 FROM requests WHERE subject_id = ?1 AND open = 1 LIMIT 1")?
        .query_row([&subject_id.as_bytes()[..]], |_| Ok(()))
        .optional()?
        .is_some();
    if open {
        return Err(StoreError::VersionConflict);
    }
    Ok(())
}

/// Destroys some of a subject's fields for a batch's item (see `WriteOp::DestroyFields`).
pub(super) fn destroy_fields(
    tx: &mut Tx<'_>,
    subject_id: Uuid,
    expected_version: i64,
    (fields, collected): crate::subjects::Rewritten,
    destroyed: &[String],
    (checked, depersonalized): (Option<(usize, Uuid)>, Option<crate::Depersonalized>),
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let sid = &subject_id.as_bytes()[..];
    if let Some(d) = &depersonalized {
        super::depersonalized::keep(conn, d)?;
    }
    if let Some((lifecycle_events, batch)) = checked {
        let events: i64 = conn
            .prepare_cached("SELECT count(*) FROM lifecycle_events WHERE subject_id = ?1")?
            .query_row([sid], |r| r.get(0))?;
        if usize::try_from(events).ok() != Some(lifecycle_events) {
            return Err(StoreError::VersionConflict);
        }
        refuse_open_request(conn, subject_id)?;
        mark_item(
            conn,
            batch,
            subject_id,
            &ItemMark::Fields(destroyed.to_vec()),
        )?;
    }
    let changed = conn
        .prepare_cached(
            "UPDATE subjects SET fields = ?1, version = version + 1, updated_at = ?2, field_collected = ?5
             WHERE id = ?3 AND version = ?4",
        )?
        .execute(params![
            super::subjects::blob(&fields)?,
            now(),
            sid,
            expected_version,
            crate::subjects::collected_column(&collected)?
        ])?;
    if changed == 0 {
        return Err(StoreError::VersionConflict);
    }
    let mut unindex =
        conn.prepare_cached("DELETE FROM blind_index WHERE subject_id = ?1 AND field = ?2")?;
    for field in destroyed {
        unindex.execute(params![sid, field])?;
    }
    tx.append(audit)?;
    Ok(Applied::BatchItemDone)
}

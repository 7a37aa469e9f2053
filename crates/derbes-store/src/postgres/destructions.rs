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
            depersonalized,
        } = op
        else {
            return Err(StoreError::Backend("not a destruction".into()));
        };
        self.destroy_subject(destruction, audit, checked, (batch, depersonalized))
            .await
    }

    /// The statements of a destruction go to the server together (pipelined): it runs them in
    /// order, in the group's transaction, while derbes waits for one round trip, not one each.
    pub(super) async fn destroy_subject(
        &mut self,
        mut destruction: Destruction,
        audit: AuditDraft,
        checked: Option<crate::DestructionChecked>,
        (batch, depersonalized): (Option<Uuid>, Option<crate::Depersonalized>),
    ) -> Result<Applied, StoreError> {
        let id = destruction.subject_id;
        let sqls = statements(batch.is_some());
        let prepared = self.prep_all(&sqls).await?;
        let mark = batch.map(|b| {
            (
                b,
                derbes_core::retention_batch::ItemMark::Whole(destruction.fields.len() as u64)
                    .text(),
            )
        });
        let record_at = CHECKS + usize::from(mark.is_some());
        let (at, asked_record) = (
            crate::times::At(destruction.destroyed_at),
            to_json(&destruction)?,
        );
        let c = &self.client;
        let one: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
        let marked: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = match &mark {
            Some((b, text)) => vec![&id, b, text],
            None => vec![&id],
        };
        let recorded: [&(dyn tokio_postgres::types::ToSql + Sync); 3] = [&id, &at, &asked_record];
        let params = |i: usize| -> &[&(dyn tokio_postgres::types::ToSql + Sync)] {
            if i == record_at {
                &recorded
            } else if i == CHECKS && mark.is_some() {
                &marked
            } else {
                &one
            }
        };
        let mut rows = futures_util::future::try_join_all(
            prepared
                .iter()
                .enumerate()
                .map(|(i, s)| c.query(s, params(i))),
        )
        .await?
        .into_iter();
        let mut next = || {
            rows.next().ok_or_else(|| {
                StoreError::Backend("a destruction's statements went missing".into())
            })
        };
        let (held, obligations, represents, events, asked, partition) =
            (next()?, next()?, next()?, next()?, next()?, next()?);
        let marked = if mark.is_some() {
            !next()?.is_empty()
        } else {
            true
        };
        if held.is_empty() {
            // Destroyed before: the mark and the record wrote nothing (they ask for the
            // subject's row), and the deletes found nothing.
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
            let obligations = obligations.iter().map(|r| (r.get(0), r.get(1))).collect();
            let events: i64 = events.first().map_or(0, |r| r.get(0));
            if !crate::destruction_check_holds(
                checked,
                obligations,
                events,
                !represents.is_empty(),
            )? {
                return Err(StoreError::VersionConflict);
            }
        }
        // An open request is a legal hold that came since the decision; an item no longer
        // pending was executed or skipped meanwhile.
        if batch.is_some() && (!asked.is_empty() || !marked) {
            return Err(StoreError::VersionConflict);
        }
        // The partition of the key, rewritten once the destruction is committed; a batch's,
        // once the batch is executed (`WriteOp::RewriteDestroyedKeys`).
        if batch.is_none() {
            if let Some(row) = partition.first() {
                let partition: String = row.get(0);
                if !self.rewrite.contains(&partition) {
                    self.rewrite.push(partition);
                }
            }
        }
        if let Some(d) = &depersonalized {
            self.keep_depersonalized(d).await?;
        }
        let record = rows
            .next()
            .and_then(|r| r.first().map(|r| r.get::<_, String>(0)))
            .ok_or_else(|| StoreError::Backend("a destruction's record went missing".into()))?;
        let stored: Destruction = from_json(&record)?;
        destruction.removed = stored.removed;
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

/// The checks a destruction reads first.
const CHECKS: usize = 6;

/// A destruction's statements, sent as one pipeline and run in this order in the operation's
/// savepoint: the checks (the row locked first), the key's partition, the item's mark (of a
/// batch), the record, then the deletes. What the checks find decides afterwards; a refusal
/// rolls the savepoint back, deletes and all.
fn statements(batch: bool) -> Vec<&'static str> {
    let mut sqls = vec![
        // Locked: a package or a second destruction waiting on the row sees it gone.
        "SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE",
        "SELECT purpose, obligation FROM obligations WHERE subject_id = $1",
        "SELECT 1 FROM representatives WHERE representative_id = $1 LIMIT 1",
        "SELECT count(*) FROM lifecycle_events WHERE subject_id = $1",
        "SELECT 1 FROM requests WHERE subject_id = $1 AND open LIMIT 1",
        "SELECT tableoid::regclass::text FROM subject_keys WHERE subject_id = $1",
    ];
    if batch {
        sqls.push(
            "UPDATE retention_batch_items SET outcome = $3
             WHERE batch_id = $2 AND subject_id = $1 AND outcome IS NULL
               AND EXISTS (SELECT 1 FROM subjects WHERE id = $1)
             RETURNING 1",
        );
    }
    // The record, with what the deletes below remove counted before they run (every write
    // holds the audit head's lock: nothing else changes these rows meanwhile). The mark and the
    // record are written only while the subject's row is there: a subject destroyed before
    // keeps its first record, and its item is not marked.
    sqls.push(
            "INSERT INTO destructions (subject_id, destroyed_at, record)
             SELECT $1, $2, jsonb_set($3::text::jsonb, '{removed}', jsonb_build_object(
                 'index_entries', (SELECT count(*) FROM blind_index WHERE subject_id = $1),
                 'consent_events', (SELECT count(*) FROM consent_events WHERE subject_id = $1),
                 'representative_links', (SELECT count(*) FROM representatives WHERE subject_id = $1),
                 'flags', (SELECT count(*) FROM subject_flags WHERE subject_id = $1),
                 'obligations', (SELECT count(*) FROM obligations WHERE subject_id = $1),
                 'packages', (SELECT count(*) FROM request_packages WHERE subject_id = $1),
                 'lifecycle_events', (SELECT count(*) FROM lifecycle_events WHERE subject_id = $1)))::text
             WHERE EXISTS (SELECT 1 FROM subjects WHERE id = $1)
             ON CONFLICT (subject_id) DO UPDATE SET destroyed_at = excluded.destroyed_at, record = excluded.record
             RETURNING record",
        );
    sqls.extend([
        "DELETE FROM blind_index WHERE subject_id = $1",
        "DELETE FROM consent_events WHERE subject_id = $1",
        "DELETE FROM representatives WHERE subject_id = $1",
        "DELETE FROM subject_flags WHERE subject_id = $1",
        "DELETE FROM obligations WHERE subject_id = $1",
        "DELETE FROM request_packages WHERE subject_id = $1",
        "DELETE FROM lifecycle_events WHERE subject_id = $1",
        "DELETE FROM subject_keys WHERE subject_id = $1",
        "DELETE FROM legal_holds WHERE subject_id = $1",
        "DELETE FROM majority_reconfirmations WHERE subject_id = $1",
        "DELETE FROM reconfirmations_unsettled WHERE subject_id = $1",
        "DELETE FROM subjects WHERE id = $1",
    ]);
    sqls
}

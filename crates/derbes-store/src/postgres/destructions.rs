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
        let checks = [
            // Locked: a package or a second destruction waiting on the row sees it gone.
            "SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE",
            "SELECT purpose, obligation FROM obligations WHERE subject_id = $1",
            "SELECT 1 FROM representatives WHERE representative_id = $1 LIMIT 1",
            "SELECT count(*) FROM lifecycle_events WHERE subject_id = $1",
            "SELECT 1 FROM requests WHERE subject_id = $1 AND open LIMIT 1",
        ];
        let prepared = self.prep_all(&checks).await?;
        let c = &self.client;
        let param: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&id];
        let [held, obligations, represents, events, asked] = <[Vec<Row>; 5]>::try_from(
            futures_util::future::try_join_all(prepared.iter().map(|s| c.query(s, &param))).await?,
        )
        .map_err(|_| StoreError::Backend("a destruction's checks went missing".into()))?;
        if held.is_empty() {
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
        // The partition of the key, rewritten once the destruction is committed; a batch's,
        // once the batch is executed (`WriteOp::RewriteDestroyedKeys`).
        if batch.is_none() {
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
        }
        if let Some(batch) = batch {
            // An open request is a legal hold that came since the decision.
            if !asked.is_empty() {
                return Err(StoreError::VersionConflict);
            }
            let done =
                derbes_core::retention_batch::ItemMark::Whole(destruction.fields.len() as u64);
            self.mark_batch_item(batch, id, &done).await?;
        }
        if let Some(d) = &depersonalized {
            self.keep_depersonalized(d).await?;
        }
        // The counted deletes first, in the order of `Removed`.
        let deletes = [
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
        ];
        let prepared = self.prep_all(&deletes).await?;
        let c = &self.client;
        let removed =
            futures_util::future::try_join_all(prepared.iter().map(|s| c.execute(s, &param)))
                .await?;
        let [index_entries, consent_events, representative_links, flags, obligations, packages, lifecycle_events, ..] =
            removed[..]
        else {
            return Err(StoreError::Backend(
                "a destruction's deletes went missing".into(),
            ));
        };
        destruction.removed = Removed {
            index_entries,
            consent_events,
            representative_links,
            flags,
            obligations,
            packages,
            lifecycle_events,
        };
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

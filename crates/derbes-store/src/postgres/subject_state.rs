//! Subjects' consent ledgers, representatives, blocks, restrictions and obligations, on PostgreSQL.

use super::*;
use crate::FlagWrite;
use crate::Page;
use crate::SubjectStateStore;
use crate::{DueReconfirmations, Reconfirmation, ReconfirmationsDue};
use derbes_core::consent::ConsentEvent;
use derbes_core::lifecycle::{LifecycleEvent, LifecycleKind};

pub(super) async fn subject_and_state(
    c: &deadpool_postgres::Object,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError> {
    match subject_row(c, id).await? {
        Some(r) => Ok(Some((r, state_rows(c, id, purpose).await?))),
        None => Ok(None),
    }
}

/// Consents (of one purpose, or all), links and flags of a subject, in one statement.
pub(super) async fn state_rows(
    c: &deadpool_postgres::Object,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<SubjectState, StoreError> {
    let s = c
        .prepare_cached(crate::state_sql!("$1", "$2::text"))
        .await?;
    let rows = c
        .query(&s, &[&id, &purpose])
        .await?
        .iter()
        .map(|r| {
            (
                i64::from(r.get::<_, i32>(0)),
                i64::from(r.get::<_, i32>(1)),
                r.get(2),
                r.get(3),
            )
        })
        .collect();
    SubjectState::from_rows(rows)
}

impl Writer {
    pub(super) async fn record_lifecycle(
        &mut self,
        event: LifecycleEvent,
        seen: usize,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        if self
            .query_opt("SELECT 1 FROM subjects WHERE id = $1", &[&event.subject_id])
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        let n: i64 = self
            .query_one(
                "SELECT count(*) FROM lifecycle_events WHERE subject_id = $1",
                &[&event.subject_id],
            )
            .await?
            .get(0);
        if usize::try_from(n).ok() != Some(seen) {
            return Err(StoreError::VersionConflict);
        }
        let n = i32::try_from(n)
            .map_err(|_| StoreError::Backend("lifecycle ledger too long".into()))?;
        let inserted = self
            .execute(
                "INSERT INTO lifecycle_events (subject_id, n, id, event) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&event.subject_id, &n, &event.id, &to_json(&event)?],
            )
            .await?;
        if inserted == 0 {
            // Another derbes process appended to the same ledger meanwhile.
            return Err(StoreError::VersionConflict);
        }
        if matches!(event.kind, LifecycleKind::LegalHold { .. }) {
            self.execute(
                "INSERT INTO legal_holds (subject_id, event_id) VALUES ($1, $2)",
                &[&event.subject_id, &event.id],
            )
            .await?;
        }
        self.append(audit);
        Ok(Applied::LifecycleRecorded)
    }

    pub(super) async fn record_consent(
        &mut self,
        event: ConsentEvent,
        (seen, version): (usize, i64),
        reconfirm_in: Option<time::Date>,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        // The subject's row locked, as settling its months of majority does, so that the two
        // never interleave; a correction since the month was worked out is a conflict.
        let now_version: Option<i64> = self
            .query_opt(
                "SELECT version FROM subjects WHERE id = $1 FOR UPDATE",
                &[&event.subject_id],
            )
            .await?
            .map(|r| r.get(0));
        if now_version != Some(version) {
            return Err(StoreError::VersionConflict);
        }
        let row = self.query_one("SELECT count(*), count(*) FILTER (WHERE purpose = $2) FROM consent_events WHERE subject_id = $1", &[&event.subject_id, &event.purpose])
            .await?;
        let (n, of_purpose): (i64, i64) = (row.get(0), row.get(1));
        if usize::try_from(of_purpose).ok() != Some(seen) {
            return Err(StoreError::VersionConflict);
        }
        let n =
            i32::try_from(n).map_err(|_| StoreError::Backend("consent ledger too long".into()))?;
        let inserted = self
            .execute(
                "INSERT INTO consent_events (subject_id, n, id, purpose, at, event) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING",
                &[
                    &event.subject_id,
                    &n,
                    &event.id,
                    &event.purpose,
                    &crate::times::At(event.at),
                    &to_json(&event)?,
                ],
            )
            .await?;
        if inserted == 0 {
            // Another derbes process appended to the same ledger meanwhile.
            return Err(StoreError::VersionConflict);
        }
        match reconfirm_in {
            Some(month) => self
                .execute(
                    "INSERT INTO majority_reconfirmations (subject_id, purpose, due_month) VALUES ($1, $2, $3)
                     ON CONFLICT (subject_id, purpose) DO UPDATE SET due_month = excluded.due_month",
                    &[&event.subject_id, &event.purpose, &crate::times::month_text(month)],
                )
                .await?,
            None => self
                .execute(
                    "DELETE FROM majority_reconfirmations WHERE subject_id = $1 AND purpose = $2",
                    &[&event.subject_id, &event.purpose],
                )
                .await?,
        };
        self.append(audit);
        Ok(Applied::ConsentRecorded)
    }

    pub(super) async fn settle_reconfirmations(
        &mut self,
        subject_id: Uuid,
        version: i64,
        consents: usize,
        due: Vec<(String, time::Date)>,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        // The subject's row locked, so that no correction lands between the check and the write.
        let now_version: Option<i64> = self
            .query_opt(
                "SELECT version FROM subjects WHERE id = $1 FOR UPDATE",
                &[&subject_id],
            )
            .await?
            .map(|r| r.get(0));
        let events: i64 = self
            .query_one(
                "SELECT count(*) FROM consent_events WHERE subject_id = $1",
                &[&subject_id],
            )
            .await?
            .get(0);
        if now_version != Some(version) || usize::try_from(events).ok() != Some(consents) {
            return Err(StoreError::VersionConflict);
        }
        self.execute(
            "DELETE FROM majority_reconfirmations WHERE subject_id = $1",
            &[&subject_id],
        )
        .await?;
        for (purpose, month) in due {
            self.execute(
                "INSERT INTO majority_reconfirmations (subject_id, purpose, due_month) VALUES ($1, $2, $3)",
                &[&subject_id, &purpose, &crate::times::month_text(month)],
            )
            .await?;
        }
        self.execute(
            "DELETE FROM reconfirmations_unsettled WHERE subject_id = $1",
            &[&subject_id],
        )
        .await?;
        self.append(audit);
        Ok(Applied::ReconfirmationsSettled)
    }

    pub(super) async fn link_representative(
        &mut self,
        link: RepresentativeLink,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let new: bool = self.query_one("INSERT INTO representatives (subject_id, representative_id, link) VALUES ($1, $2, $3)
                 ON CONFLICT (subject_id, representative_id) DO UPDATE SET link = excluded.link
                 RETURNING (xmax = 0)", &[&link.subject_id, &link.representative_id, &to_json(&link)?],
            )
            .await?
            .get(0);
        self.append(audit);
        Ok(Applied::Linked { new })
    }

    pub(super) async fn unlink_representative(
        &mut self,
        subject_id: Uuid,
        representative_id: Uuid,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        if self
            .execute(
                "DELETE FROM representatives WHERE subject_id = $1 AND representative_id = $2",
                &[&subject_id, &representative_id],
            )
            .await?
            == 0
        {
            return Err(StoreError::NotFound);
        }
        self.append(audit);
        Ok(Applied::Unlinked)
    }

    pub(super) async fn set_flag(
        &mut self,
        subject_id: Uuid,
        flag: FlagWrite,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let (table, key, body) = flag.row()?;
        let (put, lift) = match table {
            FlagTable::Flags => (
                "INSERT INTO subject_flags (subject_id, purpose, flag) VALUES ($1, $2, $3)
                 ON CONFLICT (subject_id, purpose) DO UPDATE SET flag = excluded.flag",
                "DELETE FROM subject_flags WHERE subject_id = $1 AND purpose = $2",
            ),
            FlagTable::Obligations => (
                "INSERT INTO obligations (subject_id, purpose, obligation) VALUES ($1, $2, $3)
                 ON CONFLICT (subject_id, purpose) DO UPDATE SET obligation = excluded.obligation",
                "DELETE FROM obligations WHERE subject_id = $1 AND purpose = $2",
            ),
        };
        match body {
            Some(b) => self.execute(put, &[&subject_id, &key, &b]).await?,
            None => self.execute(lift, &[&subject_id, &key]).await?,
        };
        self.append(audit);
        Ok(Applied::FlagSet)
    }
}

#[async_trait]
impl SubjectStateStore for PostgresStore {
    async fn lifecycle_events(&self, subject_id: Uuid) -> Result<Vec<LifecycleEvent>, StoreError> {
        let c = self.client().await?;
        c.query(
            "SELECT event FROM lifecycle_events WHERE subject_id = $1 ORDER BY n",
            &[&subject_id],
        )
        .await?
        .iter()
        .map(|r| from_json(r.get::<_, &str>(0)))
        .collect()
    }

    async fn subject_with_state(
        &self,
        id: Uuid,
        purpose: Option<String>,
    ) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError> {
        subject_and_state(&self.client().await?, id, purpose.as_deref()).await
    }

    async fn retention_page(&self, asked: Page) -> Result<Vec<RetentionSubject>, StoreError> {
        let mut page = Vec::new();
        for r in self
            .rows(
                "SELECT id, category, fields, created_at, field_collected FROM subjects \
                 WHERE id > $1 ORDER BY id LIMIT $2",
                &[&asked.start(), &i64::from(asked.limit)],
            )
            .await?
        {
            page.push(RetentionSubject {
                id: r.get(0),
                category: r.get(1),
                field_keys: decode_field_keys(r.get::<_, &[u8]>(2))
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                created_at: r.try_get::<_, At>(3)?.0,
                field_collected: collected_from_column(r.get::<_, Option<&str>>(4))?,
                consents: Vec::new(),
                lifecycle: Vec::new(),
            });
        }
        let (Some(first), Some(last)) = (page.first().map(|s| s.id), page.last().map(|s| s.id))
        else {
            return Ok(page);
        };
        let range = |rows: Vec<Row>| -> Vec<(Uuid, i64, String)> {
            rows.iter()
                .map(|r| (r.get(0), i64::from(r.get::<_, i32>(1)), r.get(2)))
                .collect()
        };
        let consents = range(
            self.rows(
                "SELECT subject_id, n, event FROM consent_events WHERE subject_id BETWEEN $1 AND $2",
                &[&first, &last],
            )
            .await?,
        );
        gather(&mut page, consents, |s, e| s.consents.push(e))?;
        let events = range(
            self.rows(
                "SELECT subject_id, n, event FROM lifecycle_events WHERE subject_id BETWEEN $1 AND $2",
                &[&first, &last],
            )
            .await?,
        );
        gather(&mut page, events, |s, e| s.lifecycle.push(e))?;
        Ok(page)
    }

    async fn subjects_with_open_requests(&self) -> Result<Vec<(Uuid, bool)>, StoreError> {
        Ok(self
            .rows(
                "SELECT subject_id, bool_or(kind = 'complaint') FROM requests WHERE open
                 GROUP BY subject_id",
                &[],
            )
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn subjects_with_legal_holds(&self) -> Result<Vec<Uuid>, StoreError> {
        Ok(self
            .rows(
                "SELECT DISTINCT subject_id FROM legal_holds ORDER BY subject_id",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    async fn subjects_with_state(
        &self,
        asked: Vec<(Uuid, Option<String>)>,
    ) -> Result<Vec<Option<(SubjectRecord, SubjectState)>>, StoreError> {
        let c = self.client().await?;
        let mut out = Vec::with_capacity(asked.len());
        for (id, purpose) in asked {
            out.push(subject_and_state(&c, id, purpose.as_deref()).await?);
        }
        Ok(out)
    }

    async fn represented_by(
        &self,
        representative_id: Uuid,
    ) -> Result<Vec<RepresentativeLink>, StoreError> {
        self.rows(
            "SELECT link FROM representatives WHERE representative_id = $1",
            &[&representative_id],
        )
        .await?
        .iter()
        .map(|r| from_json(r.get::<_, &str>(0)))
        .collect()
    }

    async fn state_changes(&self, after: i64, limit: u32) -> Result<StateChanges, StoreError> {
        // One prepared statement, one snapshot: asked before every batch of decisions. A row per
        // change, or a single row with no change, each carrying the floor and the newest seq.
        let rows = self.rows("SELECT f.seq, (SELECT max(seq) FROM state_changes), x.seq, x.subject_id
                 FROM state_change_floor f
                 LEFT JOIN LATERAL (SELECT seq, subject_id FROM state_changes WHERE seq > $1 ORDER BY seq LIMIT $2) x ON true
                 WHERE f.id = 1", &[&after, &i64::from(limit)]).await?;
        let mut feed = StateChanges::default();
        for r in &rows {
            feed.floor = r.get(0);
            feed.latest = r
                .get::<_, Option<i64>>(1)
                .unwrap_or(feed.floor)
                .max(feed.floor);
            if let (Some(seq), Some(id)) = (r.get::<_, Option<i64>>(2), r.get::<_, Option<Uuid>>(3))
            {
                feed.changes.push((seq, id));
            }
        }
        Ok(feed)
    }

    async fn consenting_subjects(
        &self,
        purpose: &str,
        page: Page,
    ) -> Result<Vec<Uuid>, StoreError> {
        let c = self.client().await?;
        let rows = c
            .query(
                "SELECT DISTINCT subject_id FROM consent_events \
                 WHERE purpose = $1 AND subject_id > $2 ORDER BY subject_id LIMIT $3",
                &[&purpose, &page.start(), &i64::from(page.limit)],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn unsettled_reconfirmations(&self, page: Page) -> Result<Vec<Uuid>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT subject_id FROM reconfirmations_unsettled WHERE subject_id > $1 \
                 ORDER BY subject_id LIMIT $2",
                &[&page.start(), &i64::from(page.limit)],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn reconfirmations_due(
        &self,
        asked: DueReconfirmations,
    ) -> Result<ReconfirmationsDue, StoreError> {
        let month = asked.month();
        let c = self.client().await?;
        // The count of all beside each row listed: one statement, one snapshot.
        let rows = c
            .query(
                "SELECT subject_id, purpose, due_month, count(*) OVER () \
                 FROM majority_reconfirmations \
                 WHERE due_month <= $1 AND (cardinality($2::text[]) = 0 OR purpose = ANY($2)) \
                 ORDER BY due_month, subject_id, purpose LIMIT $3 OFFSET $4",
                &[
                    &month,
                    &asked.purposes,
                    &i64::from(asked.limit),
                    &i64::from(asked.offset),
                ],
            )
            .await?;
        let due = rows
            .iter()
            .map(|r| {
                Ok(Reconfirmation {
                    subject_id: r.get(0),
                    purpose: r.get(1),
                    month: crate::times::parse_month(r.get(2))
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let total: i64 = rows.first().map_or(0, |r| r.get(3));
        Ok(ReconfirmationsDue {
            due,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

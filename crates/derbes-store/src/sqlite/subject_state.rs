//! Subjects' consent ledgers, representatives, blocks, restrictions and obligations, on SQLite.

use super::*;
use crate::FlagWrite;
use crate::Page;
use crate::SubjectStateStore;
use crate::{DueReconfirmations, Reconfirmation, ReconfirmationsDue};
use derbes_core::consent::ConsentEvent;
use derbes_core::lifecycle::{LifecycleEvent, LifecycleKind};

pub(super) fn subject_and_state(
    c: &Connection,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError> {
    match subject_row(c, id)? {
        Some(r) => Ok(Some((r, state_rows(c, id, purpose)?))),
        None => Ok(None),
    }
}

/// Consents (of one purpose, or all), links and flags of a subject, in one statement.
pub(super) fn state_rows(
    c: &Connection,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<SubjectState, StoreError> {
    let mut stmt = c.prepare_cached(crate::state_sql!("?1", "?2"))?;
    let rows = stmt
        .query_map(params![&id.as_bytes()[..], purpose], |r| r.try_into())?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    SubjectState::from_rows(rows)
}

pub(super) fn record_lifecycle(
    tx: &mut Tx<'_>,
    event: LifecycleEvent,
    seen: usize,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let sid = &event.subject_id.as_bytes()[..];
    let exists = conn
        .prepare_cached("SELECT 1 FROM subjects WHERE id = ?1")?
        .query_row([sid], |_| Ok(()))
        .optional()?
        .is_some();
    if !exists {
        return Err(StoreError::NotFound);
    }
    let n: i64 = conn
        .prepare_cached("SELECT count(*) FROM lifecycle_events WHERE subject_id = ?1")?
        .query_row([sid], |r| r.get(0))?;
    if usize::try_from(n).ok() != Some(seen) {
        return Err(StoreError::VersionConflict);
    }
    conn.prepare_cached(
        "INSERT INTO lifecycle_events (subject_id, n, id, event) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![sid, n, &event.id.as_bytes()[..], to_json(&event)?])?;
    if matches!(event.kind, LifecycleKind::LegalHold { .. }) {
        conn.prepare_cached("INSERT INTO legal_holds (subject_id, event_id) VALUES (?1, ?2)")?
            .execute(params![sid, &event.id.as_bytes()[..]])?;
    }
    tx.append(audit)?;
    Ok(Applied::LifecycleRecorded)
}

pub(super) fn record_consent(
    tx: &mut Tx<'_>,
    event: ConsentEvent,
    (seen, version): (usize, i64),
    reconfirm_in: Option<time::Date>,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let sid = &event.subject_id.as_bytes()[..];
    let now_version: Option<i64> = conn
        .prepare_cached("SELECT version FROM subjects WHERE id = ?1")?
        .query_row([sid], |r| r.get(0))
        .optional()?;
    if now_version != Some(version) {
        return Err(StoreError::VersionConflict);
    }
    let (n, of_purpose): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), count(*) FILTER (WHERE purpose = ?2) FROM consent_events WHERE subject_id = ?1",
        )?
        .query_row(params![sid, event.purpose], |r| r.try_into())?;
    if usize::try_from(of_purpose).ok() != Some(seen) {
        return Err(StoreError::VersionConflict);
    }
    conn.prepare_cached(
        "INSERT INTO consent_events (subject_id, n, id, purpose, at, event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        sid,
        n,
        &event.id.as_bytes()[..],
        event.purpose,
        crate::times::At(event.at),
        to_json(&event)?
    ])?;
    let key = params![sid, event.purpose];
    match reconfirm_in {
        Some(month) => conn
            .prepare_cached(
                "INSERT INTO majority_reconfirmations (subject_id, purpose, due_month) VALUES (?1, ?2, ?3)
                 ON CONFLICT (subject_id, purpose) DO UPDATE SET due_month = excluded.due_month",
            )?
            .execute(params![sid, event.purpose, crate::times::month_text(month)])?,
        None => conn
            .prepare_cached(
                "DELETE FROM majority_reconfirmations WHERE subject_id = ?1 AND purpose = ?2",
            )?
            .execute(key)?,
    };
    tx.append(audit)?;
    Ok(Applied::ConsentRecorded)
}

pub(super) fn settle_reconfirmations(
    tx: &mut Tx<'_>,
    subject_id: Uuid,
    version: i64,
    consents: usize,
    due: Vec<(String, time::Date)>,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let sid = &subject_id.as_bytes()[..];
    let (now_version, events): (Option<i64>, i64) = conn
        .prepare_cached(
            "SELECT (SELECT version FROM subjects WHERE id = ?1), \
             (SELECT count(*) FROM consent_events WHERE subject_id = ?1)",
        )?
        .query_row([sid], |r| r.try_into())?;
    if now_version != Some(version) || usize::try_from(events).ok() != Some(consents) {
        return Err(StoreError::VersionConflict);
    }
    conn.prepare_cached("DELETE FROM majority_reconfirmations WHERE subject_id = ?1")?
        .execute([sid])?;
    for (purpose, month) in due {
        conn.prepare_cached(
            "INSERT INTO majority_reconfirmations (subject_id, purpose, due_month) VALUES (?1, ?2, ?3)",
        )?
        .execute(params![sid, purpose, crate::times::month_text(month)])?;
    }
    conn.prepare_cached("DELETE FROM reconfirmations_unsettled WHERE subject_id = ?1")?
        .execute([sid])?;
    tx.append(audit)?;
    Ok(Applied::ReconfirmationsSettled)
}

pub(super) fn link_representative(
    tx: &mut Tx<'_>,
    link: RepresentativeLink,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let ids = params![
        &link.subject_id.as_bytes()[..],
        &link.representative_id.as_bytes()[..]
    ];
    let existed = conn
        .prepare_cached(
            "SELECT 1 FROM representatives WHERE subject_id = ?1 AND representative_id = ?2",
        )?
        .query_row(ids, |_| Ok(()))
        .optional()?
        .is_some();
    conn.prepare_cached(
        "INSERT INTO representatives (subject_id, representative_id, link) VALUES (?1, ?2, ?3)
         ON CONFLICT (subject_id, representative_id) DO UPDATE SET link = excluded.link",
    )?
    .execute(params![
        &link.subject_id.as_bytes()[..],
        &link.representative_id.as_bytes()[..],
        to_json(&link)?
    ])?;
    tx.append(audit)?;
    Ok(Applied::Linked { new: !existed })
}

pub(super) fn unlink_representative(
    tx: &mut Tx<'_>,
    subject_id: Uuid,
    representative_id: Uuid,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let removed = conn
        .prepare_cached(
            "DELETE FROM representatives WHERE subject_id = ?1 AND representative_id = ?2",
        )?
        .execute(params![
            &subject_id.as_bytes()[..],
            &representative_id.as_bytes()[..]
        ])?;
    if removed == 0 {
        return Err(StoreError::NotFound);
    }
    tx.append(audit)?;
    Ok(Applied::Unlinked)
}

pub(super) fn set_flag(
    tx: &mut Tx<'_>,
    subject_id: Uuid,
    flag: FlagWrite,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let (table, key, body) = flag.row()?;
    let (put, lift) = match table {
        FlagTable::Flags => (
            "INSERT INTO subject_flags (subject_id, purpose, flag) VALUES (?1, ?2, ?3)
             ON CONFLICT (subject_id, purpose) DO UPDATE SET flag = excluded.flag",
            "DELETE FROM subject_flags WHERE subject_id = ?1 AND purpose = ?2",
        ),
        FlagTable::Obligations => (
            "INSERT INTO obligations (subject_id, purpose, obligation) VALUES (?1, ?2, ?3)
             ON CONFLICT (subject_id, purpose) DO UPDATE SET obligation = excluded.obligation",
            "DELETE FROM obligations WHERE subject_id = ?1 AND purpose = ?2",
        ),
    };
    let id = &subject_id.as_bytes()[..];
    match body {
        Some(b) => conn.prepare_cached(put)?.execute(params![id, key, b])?,
        None => conn.prepare_cached(lift)?.execute(params![id, key])?,
    };
    tx.append(audit)?;
    Ok(Applied::FlagSet)
}

#[async_trait]
impl SubjectStateStore for SqliteStore {
    async fn retention_page(&self, asked: Page) -> Result<Vec<RetentionSubject>, StoreError> {
        self.read(move |c| {
            let mut page = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT id, category, fields, created_at, field_collected FROM subjects                  WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![asked.start().as_bytes(), asked.limit])?;
            while let Some(r) = rows.next()? {
                let blob: Vec<u8> = r.get(2)?;
                page.push(RetentionSubject {
                    id: uuid_of(r.get(0)?)?,
                    category: r.get(1)?,
                    field_keys: decode_field_keys(&blob)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    created_at: r.get::<_, At>(3)?.0,
                    field_collected: collected_from_column(r.get::<_, Option<String>>(4)?.as_deref())?,
                    consents: Vec::new(),
                    lifecycle: Vec::new(),
                });
            }
            let (Some(first), Some(last)) = (page.first().map(|s| s.id), page.last().map(|s| s.id))
            else {
                return Ok(page);
            };
            let range = |sql: &str| -> Result<Vec<(Uuid, i64, String)>, StoreError> {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows =
                    stmt.query(params![&first.as_bytes()[..], &last.as_bytes()[..]])?;
                let mut out = Vec::new();
                while let Some(r) = rows.next()? {
                    out.push((uuid_of(r.get(0)?)?, r.get(1)?, r.get(2)?));
                }
                Ok(out)
            };
            let consents = range(
                "SELECT subject_id, n, event FROM consent_events WHERE subject_id BETWEEN ?1 AND ?2",
            )?;
            gather(&mut page, consents, |s, e| s.consents.push(e))?;
            let events = range(
                "SELECT subject_id, n, event FROM lifecycle_events WHERE subject_id BETWEEN ?1 AND ?2",
            )?;
            gather(&mut page, events, |s, e| s.lifecycle.push(e))?;
            Ok(page)
        })
        .await
    }

    async fn subjects_with_open_requests(&self) -> Result<Vec<(Uuid, bool)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT subject_id, max(kind = 'complaint') FROM requests WHERE open = 1
                 GROUP BY subject_id",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((uuid_of(r.get(0)?)?, r.get::<_, bool>(1)?));
            }
            Ok(out)
        })
        .await
    }

    async fn subjects_with_legal_holds(&self) -> Result<Vec<Uuid>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT subject_id FROM legal_holds ORDER BY subject_id",
            )?;
            let mut rows = stmt.query([])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(uuid_of(r.get(0)?)?);
            }
            Ok(out)
        })
        .await
    }

    async fn lifecycle_events(&self, subject_id: Uuid) -> Result<Vec<LifecycleEvent>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT event FROM lifecycle_events WHERE subject_id = ?1 ORDER BY n",
            )?;
            let rows = stmt.query_map([&subject_id.as_bytes()[..]], |r| r.get::<_, String>(0))?;
            rows.map(|r| from_json(&r?)).collect()
        })
        .await
    }

    async fn subject_with_state(
        &self,
        id: Uuid,
        purpose: Option<String>,
    ) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError> {
        self.read_now(move |c| subject_and_state(c, id, purpose.as_deref()))
    }

    async fn subjects_with_state(
        &self,
        asked: Vec<(Uuid, Option<String>)>,
    ) -> Result<Vec<Option<(SubjectRecord, SubjectState)>>, StoreError> {
        // On the calling thread although a batch is up to 1000 point reads (a few ms): through
        // the blocking pool, 64 threads contended for 4 connections and decisions ran at two
        // thirds of this rate (docs/PERFORMANCE.md).
        self.read_now(move |c| {
            asked
                .into_iter()
                .map(|(id, purpose)| subject_and_state(c, id, purpose.as_deref()))
                .collect()
        })
    }

    async fn represented_by(
        &self,
        representative_id: Uuid,
    ) -> Result<Vec<RepresentativeLink>, StoreError> {
        self.read(move |c| {
            let mut stmt =
                c.prepare_cached("SELECT link FROM representatives WHERE representative_id = ?1")?;
            let rows = stmt.query_map([&representative_id.as_bytes()[..]], |r| {
                r.get::<_, String>(0)
            })?;
            rows.map(|t| from_json(&t?)).collect()
        })
        .await
    }

    async fn state_changes(&self, after: i64, limit: u32) -> Result<StateChanges, StoreError> {
        // On the calling thread: one short range read, asked before every batch of decisions.
        self.read_now(move |c| {
            let mut changes = Vec::new();
            let mut stmt = c.prepare_cached(
                "SELECT seq, subject_id FROM state_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![after, limit])?;
            while let Some(r) = rows.next()? {
                changes.push((r.get(0)?, uuid_of(r.get(1)?)?));
            }
            let (floor, latest): (i64, Option<i64>) = c
                .prepare_cached(
                    "SELECT (SELECT seq FROM state_change_floor WHERE id = 1), (SELECT max(seq) FROM state_changes)",
                )?
                .query_row([], |r| r.try_into())?;
            Ok(StateChanges {
                changes,
                floor,
                latest: latest.unwrap_or(floor).max(floor),
            })
        })
    }

    async fn consenting_subjects(
        &self,
        purpose: &str,
        page: Page,
    ) -> Result<Vec<Uuid>, StoreError> {
        let purpose = purpose.to_owned();
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT subject_id FROM consent_events \
                 WHERE purpose = ?1 AND subject_id > ?2 ORDER BY subject_id LIMIT ?3",
            )?;
            let mut rows = stmt.query(params![
                purpose,
                page.start().as_bytes().as_slice(),
                page.limit
            ])?;
            let mut ids = Vec::new();
            while let Some(r) = rows.next()? {
                ids.push(uuid_of(r.get(0)?)?);
            }
            Ok(ids)
        })
        .await
    }

    async fn unsettled_reconfirmations(&self, page: Page) -> Result<Vec<Uuid>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT subject_id FROM reconfirmations_unsettled WHERE subject_id > ?1 \
                 ORDER BY subject_id LIMIT ?2",
            )?;
            let mut rows = stmt.query(params![page.start().as_bytes(), page.limit])?;
            let mut ids = Vec::new();
            while let Some(r) = rows.next()? {
                ids.push(uuid_of(r.get(0)?)?);
            }
            Ok(ids)
        })
        .await
    }

    async fn reconfirmations_due(
        &self,
        asked: DueReconfirmations,
    ) -> Result<ReconfirmationsDue, StoreError> {
        let month = asked.month();
        let purposes = if asked.purposes.is_empty() {
            None
        } else {
            Some(to_json(&asked.purposes)?)
        };
        let (limit, offset) = (asked.limit, asked.offset);
        self.read(move |c| {
            // The count of all beside each row listed: one statement, one snapshot.
            let mut stmt = c.prepare_cached(
                "SELECT subject_id, purpose, due_month, count(*) OVER () \
                 FROM majority_reconfirmations WHERE due_month <= ?1 \
                 AND (?2 IS NULL OR purpose IN (SELECT value FROM json_each(?2))) \
                 ORDER BY due_month, subject_id, purpose LIMIT ?3 OFFSET ?4",
            )?;
            let mut rows = stmt.query(params![month, purposes, limit, offset])?;
            let (mut due, mut total) = (Vec::new(), 0i64);
            while let Some(r) = rows.next()? {
                let stored: String = r.get(2)?;
                due.push(Reconfirmation {
                    subject_id: uuid_of(r.get(0)?)?,
                    purpose: r.get(1)?,
                    month: crate::times::parse_month(&stored)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                });
                total = r.get(3)?;
            }
            Ok(ReconfirmationsDue {
                due,
                total: u64::try_from(total).unwrap_or(0),
            })
        })
        .await
    }
}

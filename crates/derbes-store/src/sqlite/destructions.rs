//! Destroying subjects, and their records, on SQLite.

use super::*;
use crate::DestructionStore;
use crate::Page;

pub(super) fn destroy_subject(
    tx: &mut Tx<'_>,
    mut destruction: Destruction,
    audit: AuditDraft,
    checked: Option<crate::DestructionChecked>,
    (batch, depersonalized): (Option<Uuid>, Option<crate::Depersonalized>),
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let id = destruction.subject_id;
    let key = &id.as_bytes()[..];
    let held = conn
        .prepare_cached("SELECT 1 FROM subjects WHERE id = ?1")?
        .query_row([key], |_| Ok(()))
        .optional()?
        .is_some();
    if !held {
        let earlier: Option<String> = conn
            .prepare_cached("SELECT record FROM destructions WHERE subject_id = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        return match earlier {
            Some(record) => Ok(Applied::Destroyed {
                destruction: from_json(&record)?,
                already: true,
            }),
            None => Err(StoreError::NotFound),
        };
    }
    if let Some(checked) = &checked {
        let obligations = conn
            .prepare_cached("SELECT purpose, obligation FROM obligations WHERE subject_id = ?1")?
            .query_map([key], |r| r.try_into())?
            .collect::<Result<Vec<(String, String)>, _>>()?;
        let represents = conn
            .prepare_cached("SELECT 1 FROM representatives WHERE representative_id = ?1 LIMIT 1")?
            .query_row([key], |_| Ok(()))
            .optional()?
            .is_some();
        let events: i64 = conn
            .prepare_cached("SELECT count(*) FROM lifecycle_events WHERE subject_id = ?1")?
            .query_row([key], |r| r.get(0))?;
        if !crate::destruction_check_holds(checked, obligations, events, represents)? {
            return Err(StoreError::VersionConflict);
        }
    }
    if let Some(batch) = batch {
        super::retention_batches::refuse_open_request(conn, id)?;
        let done = derbes_core::retention_batch::ItemMark::Whole(destruction.fields.len() as u64);
        super::retention_batches::mark_item(conn, batch, id, &done)?;
    }
    if let Some(d) = &depersonalized {
        super::depersonalized::keep(conn, d)?;
    }
    let delete = |sql: &str| -> Result<u64, StoreError> {
        Ok(conn.prepare_cached(sql)?.execute([key])? as u64)
    };
    destruction.removed = Removed {
        index_entries: delete("DELETE FROM blind_index WHERE subject_id = ?1")?,
        consent_events: delete("DELETE FROM consent_events WHERE subject_id = ?1")?,
        representative_links: delete("DELETE FROM representatives WHERE subject_id = ?1")?,
        flags: delete("DELETE FROM subject_flags WHERE subject_id = ?1")?,
        obligations: delete("DELETE FROM obligations WHERE subject_id = ?1")?,
        packages: delete("DELETE FROM request_packages WHERE subject_id = ?1")?,
        lifecycle_events: delete("DELETE FROM lifecycle_events WHERE subject_id = ?1")?,
    };
    delete("DELETE FROM legal_holds WHERE subject_id = ?1")?;
    delete("DELETE FROM majority_reconfirmations WHERE subject_id = ?1")?;
    delete("DELETE FROM reconfirmations_unsettled WHERE subject_id = ?1")?;
    delete("DELETE FROM subjects WHERE id = ?1")?;
    conn.prepare_cached(
        "INSERT INTO destructions (subject_id, destroyed_at, record) VALUES (?1, ?2, ?3)
         ON CONFLICT (subject_id) DO UPDATE SET destroyed_at = excluded.destroyed_at, record = excluded.record",
    )?
    .execute(params![
        key,
        crate::times::At(destruction.destroyed_at),
        to_json(&destruction)?
    ])?;
    tx.append(audit)?;
    Ok(Applied::Destroyed {
        destruction,
        already: false,
    })
}

#[async_trait]
impl DestructionStore for SqliteStore {
    async fn destruction(&self, subject_id: Uuid) -> Result<Option<Destruction>, StoreError> {
        self.read(move |c| {
            c.prepare_cached("SELECT record FROM destructions WHERE subject_id = ?1")?
                .query_row([&subject_id.as_bytes()[..]], |r| r.get::<_, String>(0))
                .optional()?
                .map(|r| from_json(&r))
                .transpose()
        })
        .await
    }

    async fn destructions(&self, page: Page) -> Result<Vec<Destruction>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT record FROM destructions WHERE subject_id > ?1 ORDER BY subject_id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![page.start().as_bytes(), page.limit], |r| r.get::<_, String>(0))?;
            rows.map(|r| from_json(&r?)).collect()
        })
        .await
    }

    /// Nothing to do: deleted content is zeroed as it is deleted (`secure_delete`), and the
    /// WAL is emptied after each group that destroyed fields.
    async fn rewrite_subjects(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

//! Subjects and their blind-index entries, on SQLite.

use super::*;
use crate::SubjectStore;

/// Refuses an index entry held by another subject of the same category.
pub(super) fn check_unique(
    conn: &Connection,
    id: &Uuid,
    category: &str,
    index: &[IndexEntry],
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT subject_id FROM blind_index WHERE field = ?1 AND digest = ?2 AND category = ?3",
    )?;
    for e in index {
        let holder: Option<Vec<u8>> = stmt
            .query_row(params![e.field, &e.digest[..], category], |r| r.get(0))
            .optional()?;
        e.free_for(id, category, holder.map(uuid_of).transpose()?)?;
    }
    Ok(())
}

pub(super) fn insert_index(
    conn: &Connection,
    id: &Uuid,
    category: &str,
    index: &[IndexEntry],
) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO blind_index (field, digest, category, subject_id) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for e in index {
        stmt.execute(params![
            e.field,
            &e.digest[..],
            category,
            &id.as_bytes()[..]
        ])?;
    }
    Ok(())
}

pub(super) fn blob(fields: &[(String, Vec<u8>)]) -> Result<Vec<u8>, StoreError> {
    encode_fields(fields).map_err(|e| StoreError::Backend(e.to_string()))
}

pub(super) fn subject_row(c: &Connection, id: Uuid) -> Result<Option<SubjectRecord>, StoreError> {
    let row = c
                .prepare_cached(
                    "SELECT category, dek, kek_version, dek_generation, fields, version, created_at, updated_at, field_collected
                     FROM subjects WHERE id = ?1",
                )?
                .query_row([&id.as_bytes()[..]], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, u32>(2)?,
                        r.get::<_, u32>(3)?,
                        r.get::<_, Vec<u8>>(4)?,
                        r.get::<_, i64>(5)?,
                        r.get::<_, At>(6)?,
                        r.get::<_, At>(7)?,
                        r.get::<_, Option<String>>(8)?,
                    ))
                })
                .optional()?;
    row.map(
        |(
            category,
            dek,
            kek_version,
            dek_generation,
            fields,
            version,
            created_at,
            updated_at,
            collected,
        )| {
            Ok(SubjectRecord {
                id,
                category,
                dek,
                kek_version,
                dek_generation,
                fields: decode_fields(&fields).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                version,
                created_at: created_at.0,
                updated_at: updated_at.0,
                field_collected: collected_from_column(collected.as_deref())?,
            })
        },
    )
    .transpose()
}

pub(super) fn create_subject(
    tx: &mut Tx<'_>,
    r: SubjectRecord,
    index: Vec<IndexEntry>,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    check_unique(conn, &r.id, &r.category, &index)?;
    conn.prepare_cached(
        "INSERT INTO subjects (id, category, dek, kek_version, dek_generation, fields, version, created_at, updated_at, field_collected)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        &r.id.as_bytes()[..],
        r.category,
        r.dek,
        r.kek_version,
        r.dek_generation,
        blob(&r.fields)?,
        r.version,
        At(r.created_at),
        At(r.updated_at),
        collected_column(&r.field_collected)?
    ])?;
    insert_index(conn, &r.id, &r.category, &index)?;
    tx.append(audit)?;
    Ok(Applied::Created)
}

pub(super) fn update_subject(
    tx: &mut Tx<'_>,
    id: Uuid,
    expected_version: i64,
    (fields, collected): Rewritten,
    index: Vec<IndexEntry>,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let category: String = conn
        .prepare_cached("SELECT category FROM subjects WHERE id = ?1")?
        .query_row([&id.as_bytes()[..]], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::NotFound)?;
    check_unique(conn, &id, &category, &index)?;
    let changed = conn
        .prepare_cached(
            "UPDATE subjects SET fields = ?1, version = version + 1, updated_at = ?2, field_collected = ?5 WHERE id = ?3 AND version = ?4",
        )?
        .execute(params![
            blob(&fields)?,
            now(),
            &id.as_bytes()[..],
            expected_version,
            collected_column(&collected)?
        ])?;
    if changed == 0 {
        return Err(StoreError::VersionConflict);
    }
    conn.prepare_cached("DELETE FROM blind_index WHERE subject_id = ?1")?
        .execute([&id.as_bytes()[..]])?;
    insert_index(conn, &id, &category, &index)?;
    // The birth date may have changed: the months of majority are worked out again.
    conn.prepare_cached(
        "INSERT INTO reconfirmations_unsettled (subject_id) SELECT ?1 \
         WHERE EXISTS (SELECT 1 FROM consent_events WHERE subject_id = ?1) ON CONFLICT DO NOTHING",
    )?
    .execute([&id.as_bytes()[..]])?;
    tx.append(audit)?;
    Ok(Applied::Updated {
        version: expected_version + 1,
    })
}

#[async_trait]
impl SubjectStore for SqliteStore {
    async fn subject(&self, id: Uuid) -> Result<Option<SubjectRecord>, StoreError> {
        self.read_now(move |c| subject_row(c, id))
    }

    async fn held(&self, ids: Vec<Uuid>) -> Result<std::collections::HashSet<Uuid>, StoreError> {
        self.read(move |c| {
            let mut held = std::collections::HashSet::new();
            // Below SQLite's limit on bound parameters.
            for chunk in ids.chunks(500) {
                let marks = vec!["?"; chunk.len()].join(", ");
                // Not cached: each length of chunk is its own statement.
                let mut stmt =
                    c.prepare(&format!("SELECT id FROM subjects WHERE id IN ({marks})"))?;
                let mut rows = stmt.query(rusqlite::params_from_iter(
                    chunk.iter().map(|u| &u.as_bytes()[..]),
                ))?;
                while let Some(r) = rows.next()? {
                    held.insert(uuid_of(r.get(0)?)?);
                }
            }
            Ok(held)
        })
        .await
    }

    async fn lookup(
        &self,
        field: &str,
        digest: &[u8; 32],
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let (field, digest) = (field.to_owned(), *digest);
        self.read_now(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT subject_id, category FROM blind_index WHERE field = ?1 AND digest = ?2 ORDER BY category",
            )?;
            let rows = stmt.query_map(params![field, &digest[..]], |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?)))?;
            rows.map(|r| {
                let (id, cat) = r?;
                Ok((uuid_of(id)?, cat))
            })
            .collect()
        })
    }

    async fn count_subjects(&self) -> Result<u64, StoreError> {
        self.read(|c| Ok(c.query_row("SELECT COUNT(*) FROM subjects", [], |r| r.get(0))?))
            .await
    }

    async fn subjects_with_clear_notes(&self) -> Result<Vec<Uuid>, StoreError> {
        self.read(|c| {
            // A sealed note is `"sealed_note":`; a clear one `"note":`, quote included.
            let mut stmt = c.prepare(CLEAR_NOTES)?;
            let mut rows = stmt.query([])?;
            let mut ids = Vec::new();
            while let Some(r) = rows.next()? {
                ids.push(uuid_of(r.get(0)?)?);
            }
            Ok(ids)
        })
        .await
    }

    async fn rewrite_flag_tables(&self) -> Result<(), StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || {
            if scrub_wal(&connect(&path)?) {
                Ok(())
            } else {
                Err(StoreError::Backend(
                    "the WAL could not be emptied now (a reader holds it); the checkpoints will"
                        .into(),
                ))
            }
        })
        .await
        .map_err(|_| StoreError::Closed)?
    }
}

//! Recorded declaration versions, on SQLite.

use super::*;
use crate::DeclarationStore;

pub(super) fn record_declaration(
    tx: &mut Tx<'_>,
    version: String,
    content_hash: String,
    content: String,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let existing: Option<String> = conn
        .query_row(
            "SELECT content_hash FROM declarations WHERE version = ?1",
            [&version],
            |r| r.get(0),
        )
        .optional()?;
    let new = match existing {
        Some(h) if h == content_hash => false,
        Some(_) => return Err(StoreError::DeclarationChanged { version }),
        None => {
            conn.execute(
                "INSERT INTO declarations (version, content_hash, content, recorded_at) VALUES (?1, ?2, ?3, ?4)",
                params![version, content_hash, content, now()],
            )?;
            tx.append(audit)?;
            true
        }
    };
    let in_force: Option<String> = conn
        .query_row(
            "SELECT version FROM declaration_in_force WHERE id = 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if in_force.as_deref() != Some(version.as_str()) {
        // Another declaration is in force: the age of majority, or where birth dates come
        // from, may have changed, so every month of majority is worked out again.
        conn.execute(
            "INSERT INTO reconfirmations_unsettled (subject_id) \
             SELECT DISTINCT subject_id FROM consent_events WHERE true ON CONFLICT DO NOTHING",
            [],
        )?;
        conn.execute(
            "INSERT INTO declaration_in_force (id, version) VALUES (1, ?1) \
             ON CONFLICT (id) DO UPDATE SET version = excluded.version",
            [&version],
        )?;
    }
    Ok(Applied::DeclarationRecorded { new })
}

#[async_trait]
impl DeclarationStore for SqliteStore {
    async fn declarations(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT version, content_hash, recorded_at FROM declarations ORDER BY recorded_at, version",
            )?;
            let rows = stmt.query_map([], |r| r.try_into())?;
            Ok(rows.collect::<Result<Vec<_>, _>>()?)
        })
        .await
    }

    async fn declaration(&self, version: &str) -> Result<Option<(String, String)>, StoreError> {
        let version = version.to_owned();
        self.read(move |c| {
            Ok(c.query_row(
                "SELECT content_hash, content FROM declarations WHERE version = ?1",
                [&version],
                |r| r.try_into(),
            )
            .optional()?)
        })
        .await
    }
}

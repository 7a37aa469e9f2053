//! Data-subject requests, on SQLite.

use super::*;
use crate::RequestStore;
use crate::{code_of, JobWrite, WebhookStatus};

pub(super) fn request_from_row(r: &rusqlite::Row<'_>) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        id: uuid_of(r.get(0)?)?,
        subject_id: uuid_of(r.get(1)?)?,
        kind: code_of("a request's kind", &r.get::<_, String>(2)?)?,
        status: code_of("a request's status", &r.get::<_, String>(3)?)?,
        open: r.get(4)?,
        received_at: r.get::<_, At>(5)?.0,
        due_at: r.get::<_, At>(6)?.0,
        dek: r.get(7)?,
        kek_version: r.get(8)?,
        version: r.get(9)?,
        updated_at: r.get::<_, At>(10)?.0,
        body: r.get(11)?,
        category: r.get(12)?,
    })
}

pub(super) fn file_request(
    tx: &mut Tx<'_>,
    r: RequestRecord,
    refuse_duplicate: bool,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    if refuse_duplicate {
        let existing: Option<Vec<u8>> = conn
            .prepare_cached(
                "SELECT id FROM requests WHERE subject_id = ?1 AND kind = ?2 AND open = 1 LIMIT 1",
            )?
            .query_row(
                params![&r.subject_id.as_bytes()[..], r.kind.code()],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(id) = existing {
            return Err(StoreError::DuplicateRequest {
                existing: uuid_of(id)?,
            });
        }
    }
    conn.prepare_cached(&format!(
        "INSERT INTO requests ({REQUEST_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
    ))?
    .execute(params![
        &r.id.as_bytes()[..],
        &r.subject_id.as_bytes()[..],
        r.kind.code(),
        r.status.code(),
        r.open,
        At(r.received_at),
        At(r.due_at),
        r.dek,
        r.kek_version,
        r.version,
        At(r.updated_at),
        r.body,
        r.category
    ])?;
    tx.append(audit)?;
    Ok(Applied::RequestFiled)
}

pub(super) fn update_request(
    tx: &mut Tx<'_>,
    r: RequestRecord,
    audit: Vec<AuditDraft>,
    jobs: Vec<JobWrite>,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let id = &r.id.as_bytes()[..];
    let changed = conn
        .prepare_cached(
            "UPDATE requests SET status = ?2, open = ?3, due_at = ?4, version = ?5, updated_at = ?6, body = ?7
             WHERE id = ?1 AND version = ?8",
        )?
        .execute(params![
            id,
            r.status.code(),
            r.open,
            At(r.due_at),
            r.version,
            At(r.updated_at),
            r.body,
            r.version - 1
        ])?;
    if changed == 0 {
        let exists = conn
            .prepare_cached("SELECT 1 FROM requests WHERE id = ?1")?
            .query_row([id], |_| Ok(()))
            .optional()?
            .is_some();
        return Err(if exists {
            StoreError::VersionConflict
        } else {
            StoreError::NotFound
        });
    }
    for w in &jobs {
        let status: Option<String> = conn
            .prepare_cached("SELECT status FROM webhook_jobs WHERE id = ?1")?
            .query_row([&w.job.id.as_bytes()[..]], |r| r.get(0))
            .optional()?;
        if status.as_deref() != w.expect.map(WebhookStatus::code) {
            return Err(StoreError::JobChanged);
        }
        put_job(conn, &w.job)?;
    }
    for d in audit {
        tx.append(d)?;
    }
    Ok(Applied::RequestUpdated)
}

#[async_trait]
impl RequestStore for SqliteStore {
    async fn request(&self, id: Uuid) -> Result<Option<RequestRecord>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = ?1"
            ))?;
            let mut rows = stmt.query([&id.as_bytes()[..]])?;
            rows.next()?.map(request_from_row).transpose()
        })
        .await
    }

    async fn requests(&self, query: RequestQuery) -> Result<Vec<RequestRecord>, StoreError> {
        self.read(move |c| {
            let (sql, params) = query.sql(|n| format!("?{n}"), "1");
            let values: Vec<rusqlite::types::Value> = params
                .into_iter()
                .map(|p| match p {
                    Param::Text(t) => rusqlite::types::Value::Text(t),
                    Param::Id(id) => rusqlite::types::Value::Blob(id.as_bytes().to_vec()),
                    Param::Int(i) => rusqlite::types::Value::Integer(i),
                })
                .collect();
            let mut stmt = c.prepare_cached(&sql)?;
            let mut rows = stmt.query(rusqlite::params_from_iter(values))?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(request_from_row(r)?);
            }
            Ok(out)
        })
        .await
    }
}

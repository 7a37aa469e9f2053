//! Webhook jobs, on SQLite.

use super::*;
use crate::{code_of, WebhookStatus, WebhookStore, JOB_COLUMNS};

pub(super) fn put_job(conn: &Connection, j: &WebhookJob) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO webhook_jobs ({JOB_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
    ))?
    .execute(params![
        &j.id.as_bytes()[..],
        &j.request_id.as_bytes()[..],
        &j.subject_id.as_bytes()[..],
        j.webhook,
        j.event,
        j.status.code(),
        j.attempts,
        At(j.next_attempt_at),
        j.payload,
        j.last_error,
        At(j.updated_at)
    ])?;
    Ok(())
}

pub(super) fn job_from_row(r: &rusqlite::Row<'_>) -> Result<WebhookJob, StoreError> {
    Ok(WebhookJob {
        id: uuid_of(r.get(0)?)?,
        request_id: uuid_of(r.get(1)?)?,
        subject_id: uuid_of(r.get(2)?)?,
        webhook: r.get(3)?,
        event: r.get(4)?,
        status: code_of("a webhook job's status", &r.get::<_, String>(5)?)?,
        attempts: r.get(6)?,
        next_attempt_at: r.get::<_, At>(7)?.0,
        payload: r.get(8)?,
        last_error: r.get(9)?,
        updated_at: r.get::<_, At>(10)?.0,
    })
}

pub(super) fn update_webhook_job(
    tx: &mut Tx<'_>,
    job: WebhookJob,
    expected_status: WebhookStatus,
    audit: Vec<AuditDraft>,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let status: Option<String> = conn
        .prepare_cached("SELECT status FROM webhook_jobs WHERE id = ?1")?
        .query_row([&job.id.as_bytes()[..]], |r| r.get(0))
        .optional()?;
    match status {
        None => return Err(StoreError::NotFound),
        Some(s) if s != expected_status.code() => return Err(StoreError::VersionConflict),
        Some(_) => {}
    }
    put_job(conn, &job)?;
    for d in audit {
        tx.append(d)?;
    }
    Ok(Applied::WebhookJobUpdated)
}

#[async_trait]
impl WebhookStore for SqliteStore {
    async fn webhook_job(&self, id: Uuid) -> Result<Option<WebhookJob>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM webhook_jobs WHERE id = ?1"
            ))?;
            let mut rows = stmt.query([&id.as_bytes()[..]])?;
            match rows.next()? {
                Some(r) => job_from_row(r).map(Some),
                None => Ok(None),
            }
        })
        .await
    }

    async fn due_webhook_jobs(
        &self,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebhookJob>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {JOB_COLUMNS} FROM webhook_jobs WHERE status IN ('pending', 'delivered') AND next_attempt_at <= ?1 ORDER BY next_attempt_at LIMIT ?2"
            ))?;
            let mut rows = stmt.query(params![At(at), limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push(job_from_row(r)?);
            }
            Ok(out)
        })
        .await
    }
}

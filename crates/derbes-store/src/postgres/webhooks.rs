//! Webhook jobs, on PostgreSQL.

use super::*;
use crate::{code_of, WebhookStatus, WebhookStore};

pub(super) fn job_from_row(r: &Row) -> Result<WebhookJob, StoreError> {
    Ok(WebhookJob {
        id: r.get(0),
        request_id: r.get(1),
        subject_id: r.get(2),
        webhook: r.get(3),
        event: r.get(4),
        status: code_of("a webhook job's status", r.get::<_, &str>(5))?,
        attempts: to_u32(r.get(6))?,
        next_attempt_at: r.try_get::<_, At>(7)?.0,
        payload: r.get(8),
        last_error: r.get(9),
        updated_at: r.try_get::<_, At>(10)?.0,
    })
}

impl Writer {
    pub(super) async fn update_webhook_job(
        &mut self,
        job: WebhookJob,
        expected_status: WebhookStatus,
        audit: Vec<AuditDraft>,
    ) -> Result<Applied, StoreError> {
        match self
            .query_opt(
                "SELECT status FROM webhook_jobs WHERE id = $1 FOR UPDATE",
                &[&job.id],
            )
            .await?
        {
            None => return Err(StoreError::NotFound),
            Some(row) if row.get::<_, &str>(0) != expected_status.code() => {
                return Err(StoreError::VersionConflict)
            }
            Some(_) => {}
        }
        self.put_job(&job).await?;
        for d in audit {
            self.append(d);
        }
        Ok(Applied::WebhookJobUpdated)
    }
}

#[async_trait]
impl WebhookStore for PostgresStore {
    async fn webhook_job(&self, id: Uuid) -> Result<Option<WebhookJob>, StoreError> {
        self.row(
            &format!(
                "SELECT {} FROM webhook_jobs WHERE id = $1",
                crate::JOB_COLUMNS
            ),
            &[&id],
        )
        .await?
        .map(|r| job_from_row(&r))
        .transpose()
    }

    async fn due_webhook_jobs(
        &self,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebhookJob>, StoreError> {
        self.rows(&format!(
                "SELECT {} FROM webhook_jobs WHERE status IN ('pending', 'delivered') AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
                crate::JOB_COLUMNS
            ), &[&At(at), &i64::from(limit)])
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }
}

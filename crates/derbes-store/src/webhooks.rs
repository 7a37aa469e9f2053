//! Webhook connectors' jobs.

use crate::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

derbes_core::coded_enum! {
    /// Where a webhook job stands.
    pub enum WebhookStatus ("webhook job status") {
        /// To be sent (again) at `next_attempt_at`.
        Pending = "pending",
        /// Sent; the confirmation is awaited until `next_attempt_at`.
        Delivered = "delivered",
        Confirmed = "confirmed",
        /// Given up on after the last attempt.
        Failed = "failed",
    }
}

/// A webhook connector's job: telling the operator's system about a request, until it confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookJob {
    /// Also the idempotency key the receiver sees on every attempt.
    pub id: Uuid,
    pub request_id: Uuid,
    pub subject_id: Uuid,
    pub webhook: String,
    pub event: String,
    pub status: WebhookStatus,
    pub attempts: u32,
    pub next_attempt_at: OffsetDateTime,
    /// The subject's identifiers, sealed under the request's key; `None` once confirmed.
    pub payload: Option<Vec<u8>>,
    /// What went wrong last: a status code or a cause, never personal data.
    pub last_error: Option<String>,
    pub updated_at: OffsetDateTime,
}

/// A webhook job written with a request update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobWrite {
    pub job: WebhookJob,
    /// The job's row before: none (a new job), or in this status.
    pub expect: Option<WebhookStatus>,
}

/// The columns of `webhook_jobs`, in the order both backends read and write them.
pub(crate) const JOB_COLUMNS: &str = "id, request_id, subject_id, webhook, event, status, attempts, next_attempt_at, payload, last_error, updated_at";

/// Webhook connectors' jobs.
#[async_trait::async_trait]
pub trait WebhookStore: Send + Sync {
    async fn webhook_job(&self, id: Uuid) -> Result<Option<WebhookJob>, StoreError>;
    /// Jobs due at or before `at`, oldest first: `pending` ones to send, and `delivered` ones
    /// whose confirmation is overdue.
    async fn due_webhook_jobs(
        &self,
        at: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<WebhookJob>, StoreError>;
}

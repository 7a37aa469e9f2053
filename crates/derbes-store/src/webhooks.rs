//! Webhook connectors' jobs.

use crate::StoreError;
use std::fmt;
use std::str::FromStr;
use time::OffsetDateTime;
use uuid::Uuid;

/// Where a webhook job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookStatus {
    /// To be sent (again) at `next_attempt_at`.
    Pending,
    /// Sent; the confirmation is awaited until `next_attempt_at`.
    Delivered,
    Confirmed,
    /// Given up on after the last attempt.
    Failed,
}

impl WebhookStatus {
    pub const ALL: [WebhookStatus; 4] = [
        WebhookStatus::Pending,
        WebhookStatus::Delivered,
        WebhookStatus::Confirmed,
        WebhookStatus::Failed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            WebhookStatus::Pending => "pending",
            WebhookStatus::Delivered => "delivered",
            WebhookStatus::Confirmed => "confirmed",
            WebhookStatus::Failed => "failed",
        }
    }
}

impl fmt::Display for WebhookStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for WebhookStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        WebhookStatus::ALL
            .into_iter()
            .find(|k| k.code() == s)
            .ok_or_else(|| format!("unknown webhook job status `{s}`"))
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

//! Webhook connectors: the operator's systems that derbes cannot reach with SQL are told of an
//! access or destruction request by a signed JSON message, and confirm when they have done their
//! part. A request completes only when every connector has confirmed.
//!
//! Each message is a job in an outbox stored with the request: it is sent again, with the same
//! idempotency key, after 30 s, 1 min, 2 min, … up to an hour, and given up after
//! [`MAX_ATTEMPTS`]; a job given up fails the request's action with the last error, and
//! `run_actions` sends it again. The subject's identifiers in the message are sealed under the
//! request's key while the job waits, and deleted once the system confirms.
//!
//! The system confirms either in its answer to the message (`{"status": "done"}`), or later by
//! `POST /api/v1/webhooks/jobs/{id}` with `{"status": "done" | "failed", "detail": "…"}`. Both
//! directions carry `X-Derbes-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//! under the webhook's shared secret.

use crate::outbound::webhook::Sent;
pub use crate::outbound::webhook::{Webhook, WebhookEvent, WebhookMessage};
use crate::requests::{request_audit, Action, ActionStatus};
use crate::vault::VaultError;
use derbes_core::audit::{format_timestamp, AuditDraft, Outcome};
use derbes_core::request::RequestKind;
use derbes_core::webhook::{retry_after, MAX_ATTEMPTS};
use derbes_store::{JobWrite, RequestRecord, StoreError, WebhookJob, WebhookStatus, WriteOp};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// The actor webhook deliveries and confirmations are audited under.
const WEBHOOKS_ACTOR: &str = "system:webhooks";

/// How far a signature's time may be from now.
pub const SIGNATURE_TOLERANCE_SECS: i64 = 300;
/// How long an accepted message may wait for its confirmation before the job is given up.
pub const CONFIRM_WITHIN: time::Duration = time::Duration::hours(24);

/// The job of a request's webhook and event: one id, so that a job is created once and the
/// receiver sees one idempotency key however often it is sent.
fn job_id(request: Uuid, webhook: &str, event: WebhookEvent) -> Uuid {
    crate::outbound::webhook::idempotency_key(&[
        request.as_bytes(),
        webhook.as_bytes(),
        &[0],
        event.code().as_bytes(),
    ])
}

/// The seal slot of a job's payload.
const PAYLOAD_SLOT: &str = "webhook-payload";

/// A system's confirmation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// The job confirmed: it is signed with the rest, so that a confirmation of one job
    /// cannot be replayed for another.
    pub job: Uuid,
    pub status: ConfirmedStatus,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmedStatus {
    Done,
    Failed,
}

/// A job as the confirmation route answers it.
#[derive(Debug, Serialize)]
pub struct JobView {
    pub id: Uuid,
    pub webhook: String,
    pub event: String,
    pub status: WebhookStatus,
    pub attempts: u32,
}

impl From<&WebhookJob> for JobView {
    fn from(j: &WebhookJob) -> Self {
        JobView {
            id: j.id,
            webhook: j.webhook.clone(),
            event: j.event.clone(),
            status: j.status,
            attempts: j.attempts,
        }
    }
}

impl super::Requests {
    /// Tells `webhooks` of the requests they subscribe to.
    fn webhook(&self, name: &str) -> Option<&Webhook> {
        self.webhooks.iter().find(|w| w.name == name)
    }

    /// The webhooks told of a request of `kind`.
    pub(crate) fn webhooks_for(&self, kind: RequestKind) -> Vec<String> {
        match WebhookEvent::of(kind) {
            Some(event) => self
                .webhooks
                .iter()
                .filter(|w| w.events.contains(&event))
                .map(|w| w.name.clone())
                .collect(),
            None => Vec::new(),
        }
    }

    /// The job that tells the action's webhook of request `r`: a new one, with the subject's
    /// identifiers read now and sealed; or the action's failed job sent again from the start.
    /// Its id (the idempotency key) is the same for the same request, webhook and event.
    pub(crate) async fn queue_webhook(
        &self,
        r: &RequestRecord,
        action: &Action,
    ) -> Result<JobWrite, String> {
        let name = action.connector.clone().unwrap_or_default();
        let now = self.vault.now();
        let hook = self
            .webhook(&name)
            .ok_or_else(|| format!("webhook `{name}` is no longer configured; settle the action by hand (settle_connector)"))?;
        let kind = r.kind;
        let event = WebhookEvent::of(kind).ok_or("this request tells no webhook")?;
        let id = job_id(r.id, &name, event);
        if let Some(earlier) = self
            .vault
            .store()
            .webhook_job(id)
            .await
            .map_err(|e| e.to_string())?
        {
            return match earlier.status {
                WebhookStatus::Failed => Ok(JobWrite {
                    expect: Some(earlier.status),
                    job: WebhookJob {
                        status: WebhookStatus::Pending,
                        attempts: 0,
                        next_attempt_at: now,
                        last_error: None,
                        updated_at: now,
                        ..earlier
                    },
                }),
                other => Err(format!("the job for `{name}` is already {other}")),
            };
        }
        let Some(record) = self
            .vault
            .store()
            .subject(r.subject_id)
            .await
            .map_err(|e| e.to_string())?
        else {
            return Err(format!(
                "the subject's data are no longer held, so `{name}` cannot be told whom the request is about; settle the action by hand (settle_connector)"
            ));
        };
        let mut subject = serde_json::Map::new();
        for field in &hook.identify_by {
            if let Some(v) = self
                .vault
                .field_value(&record, field)
                .map_err(|e| e.to_string())?
            {
                subject.insert(field.clone(), v.into());
            }
        }
        if subject.is_empty() {
            return Err(format!(
                "the subject has none of the fields `{name}` identifies subjects by ({})",
                hook.identify_by.join(", ")
            ));
        }
        let payload = serde_json::to_vec(&subject).map_err(|e| e.to_string())?;
        let sealed = self
            .request_key(r)
            .and_then(|k| {
                Ok(k.seal(
                    &r.id,
                    crate::vault::REQUEST_KEY_GENERATION,
                    PAYLOAD_SLOT,
                    &payload,
                )?)
            })
            .map_err(|e| e.to_string())?;
        Ok(JobWrite {
            expect: None,
            job: WebhookJob {
                id,
                request_id: r.id,
                subject_id: r.subject_id,
                webhook: name,
                event: event.code().into(),
                status: WebhookStatus::Pending,
                attempts: 0,
                next_attempt_at: now,
                payload: Some(sealed),
                last_error: None,
                updated_at: now,
            },
        })
    }

    /// Sends every job that is due; returns how many were sent (accepted or not).
    pub async fn deliver_webhooks(&self) -> Result<usize, VaultError> {
        let now = self.vault.now();
        let due = self.vault.store().due_webhook_jobs(now, 50).await?;
        let count = due.len();
        for job in due {
            let id = job.id;
            // One job that cannot be sent (a request gone, a sealed payload that does not open)
            // must not hold up the others: it is given up with the cause.
            if let Err(e) = self.deliver_job(job.clone(), now).await {
                eprintln!("derbes: webhook job {id}: {e}");
                if let Err(e) = self
                    .give_up(job, format!("the job cannot be sent: {e}"), now)
                    .await
                {
                    eprintln!("derbes: webhook job {id}: cannot record the failure: {e}");
                }
            }
        }
        Ok(count)
    }

    async fn deliver_job(&self, job: WebhookJob, now: OffsetDateTime) -> Result<(), VaultError> {
        if job.status == WebhookStatus::Delivered {
            let within = CONFIRM_WITHIN.whole_hours();
            return self
                .give_up(
                    job,
                    format!("accepted, but not confirmed within {within} hours"),
                    now,
                )
                .await;
        }
        let Some(hook) = self.webhook(&job.webhook).cloned() else {
            return self
                .give_up(job, "the webhook is no longer configured".into(), now)
                .await;
        };
        let r = self
            .vault
            .store()
            .request(job.request_id)
            .await?
            .ok_or(VaultError::RequestNotFound)?;
        let subject = match &job.payload {
            Some(sealed) => {
                let plain = self.request_key(&r)?.open(
                    &r.id,
                    crate::vault::REQUEST_KEY_GENERATION,
                    PAYLOAD_SLOT,
                    sealed,
                )?;
                serde_json::from_slice(&plain).map_err(|e| {
                    VaultError::Store(StoreError::Corrupt(format!("webhook payload: {e}")))
                })?
            }
            None => serde_json::Map::new(),
        };
        let message = WebhookMessage {
            id: job.id,
            event: job.event.parse().map_err(|_| {
                VaultError::Store(StoreError::Corrupt(format!(
                    "webhook job {} names the unknown event `{}`",
                    job.id, job.event
                )))
            })?,
            request_id: Some(job.request_id),
            batch_id: None,
            fields: None,
            subject,
            confirm: Some(format!("/api/v1/webhooks/jobs/{}", job.id)),
            sent_at: format_timestamp(now),
        };
        let id = job.id;
        let sent = hook.deliver(&message, now).await?;
        let attempts = job.attempts + 1;
        match sent {
            Sent::Done => {
                self.settle_unless_settled(job, ConfirmedStatus::Done, None, now)
                    .await
            }
            Sent::Accepted => {
                let delivered = WebhookJob {
                    status: WebhookStatus::Delivered,
                    attempts,
                    next_attempt_at: now + CONFIRM_WITHIN,
                    last_error: None,
                    updated_at: now,
                    ..job
                };
                self.update_pending_job(
                    delivered,
                    vec![request_audit(
                        WEBHOOKS_ACTOR,
                        &r,
                        "request.connector.deliver",
                        Outcome::Ok,
                        job_summary(id, attempts),
                    )],
                )
                .await
            }
            Sent::Refused(cause) => match retry_after(attempts) {
                Some(wait) => {
                    let retry = WebhookJob {
                        attempts,
                        next_attempt_at: now + wait,
                        last_error: Some(cause),
                        updated_at: now,
                        ..job
                    };
                    self.update_pending_job(retry, vec![]).await
                }
                None => {
                    self.give_up(
                        WebhookJob { attempts, ..job },
                        format!("no confirmation after {MAX_ATTEMPTS} attempts; last: {cause}"),
                        now,
                    )
                    .await
                }
            },
        }
    }

    /// Writes `job` over the one still `pending`; a job confirmed meanwhile, by its callback,
    /// stays as it is.
    async fn update_pending_job(
        &self,
        job: WebhookJob,
        audit: Vec<AuditDraft>,
    ) -> Result<(), VaultError> {
        match self
            .vault
            .store()
            .write(WriteOp::UpdateWebhookJob {
                job,
                expected_status: WebhookStatus::Pending,
                audit,
            })
            .await
        {
            Ok(_) | Err(StoreError::VersionConflict) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn give_up(
        &self,
        job: WebhookJob,
        why: String,
        now: OffsetDateTime,
    ) -> Result<(), VaultError> {
        self.settle_unless_settled(job, ConfirmedStatus::Failed, Some(why), now)
            .await
    }

    /// As `settle`, for the delivery loop: a job its callback settled meanwhile stays as it is.
    async fn settle_unless_settled(
        &self,
        job: WebhookJob,
        status: ConfirmedStatus,
        detail: Option<String>,
        now: OffsetDateTime,
    ) -> Result<(), VaultError> {
        match self.settle(job, status, detail, now).await {
            Err(VaultError::Store(StoreError::JobChanged)) => Ok(()),
            other => other,
        }
    }

    /// Records a job's end and settles the request's action with it, in one write.
    async fn settle(
        &self,
        job: WebhookJob,
        status: ConfirmedStatus,
        detail: Option<String>,
        now: OffsetDateTime,
    ) -> Result<(), VaultError> {
        let (job_status, action_status, note) = match status {
            ConfirmedStatus::Done => (
                WebhookStatus::Confirmed,
                ActionStatus::Done,
                format!("confirmed by `{}`", job.webhook),
            ),
            ConfirmedStatus::Failed => (
                WebhookStatus::Failed,
                ActionStatus::Failed,
                format!(
                    "`{}` did not carry it out: {}",
                    job.webhook,
                    detail.clone().unwrap_or_else(|| "no reason given".into())
                ),
            ),
        };
        let job_status_before = job.status;
        let ended = WebhookJob {
            status: job_status,
            // The identifiers go once the system has them; a failed job keeps them to be sent
            // again.
            payload: if status == ConfirmedStatus::Done {
                None
            } else {
                job.payload.clone()
            },
            last_error: detail,
            updated_at: now,
            ..job
        };
        let id = ended.id;
        let expect = Some(job_status_before);
        let outcome = if status == ConfirmedStatus::Done {
            Outcome::Ok
        } else {
            Outcome::Denied
        };
        let write = JobWrite {
            job: ended.clone(),
            expect,
        };
        self.update_request_with_jobs(ended.request_id, vec![write], |rec, body, _| {
            body.settle_webhook(id, action_status, note.clone(), now);
            Ok(vec![request_audit(
                WEBHOOKS_ACTOR,
                rec,
                "request.connector.confirm",
                outcome,
                serde_json::json!({ "job": id, "webhook": ended.webhook, "status": job_status }),
            )])
        })
        .await?;
        Ok(())
    }

    /// A system's confirmation of job `id`, signed with the webhook's secret.
    pub async fn confirm_webhook_job(
        &self,
        id: Uuid,
        signature: Option<&str>,
        body: &[u8],
    ) -> Result<JobView, VaultError> {
        let job = self
            .vault
            .store()
            .webhook_job(id)
            .await?
            .ok_or(VaultError::JobNotFound)?;
        let hook = self.webhook(&job.webhook).ok_or_else(|| {
            VaultError::Conflict(format!("webhook `{}` is no longer configured", job.webhook))
        })?;
        let now = self.vault.now();
        hook.secret
            .verify(
                signature.unwrap_or(""),
                body,
                now.unix_timestamp(),
                SIGNATURE_TOLERANCE_SECS,
            )
            .map_err(VaultError::BadSignature)?;
        let confirmation: Confirmation =
            serde_json::from_slice(body).map_err(|e| VaultError::InvalidField {
                field: "body",
                detail: format!(
                    "is not a confirmation ({e}); send {{\"job\": \"<id>\", \"status\": \"done\"}} or {{\"job\": \"<id>\", \"status\": \"failed\", \"detail\": \"…\"}}"
                ),
            })?;
        if confirmation.job != id {
            return Err(VaultError::InvalidField {
                field: "job",
                detail: "is not the job of this address; confirm each job with its own id".into(),
            });
        }
        let detail = confirmation
            .detail
            .map(|d| d.chars().take(500).collect::<String>());
        match job.status {
            WebhookStatus::Confirmed => return Ok(JobView::from(&job)),
            WebhookStatus::Pending | WebhookStatus::Delivered => {}
            WebhookStatus::Failed => {
                return Err(VaultError::Conflict(format!(
                    "the job is `{}`; run the request's actions again to send it anew",
                    job.status
                )))
            }
        }
        self.settle(job.clone(), confirmation.status, detail, now)
            .await?;
        let ended = self
            .vault
            .store()
            .webhook_job(id)
            .await?
            .ok_or(VaultError::JobNotFound)?;
        Ok(JobView::from(&ended))
    }
}

fn job_summary(id: Uuid, attempts: u32) -> serde_json::Value {
    serde_json::json!({ "job": id, "attempts": attempts })
}

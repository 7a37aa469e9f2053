//! A webhook connector, what it is told, and sending its message to the operator's system:
//! signed, with the message's idempotency key, within a time limit.

use crate::vault::VaultError;
use derbes_core::request::RequestKind;
use derbes_crypto::WebhookSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

derbes_core::coded_enum! {
    /// What a webhook is told of.
    pub enum WebhookEvent ("webhook event") {
        /// An access request was approved: send what you hold (to the DPO, outside derbes) and
        /// confirm.
        Access = "access",
        /// A destruction request was approved, or a retention batch destroys the subject's data:
        /// destroy them.
        Destruction = "destruction",
    }
}

impl WebhookEvent {
    pub(crate) fn of(kind: RequestKind) -> Option<Self> {
        match kind {
            RequestKind::AccessExport => Some(WebhookEvent::Access),
            RequestKind::Destruction => Some(WebhookEvent::Destruction),
            _ => None,
        }
    }
}

/// One configured webhook connector.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub name: String,
    pub url: String,
    pub secret: WebhookSecret,
    pub events: Vec<WebhookEvent>,
    /// The declared fields sent to identify the subject.
    pub identify_by: Vec<String>,
}

/// The message a webhook receives: of a request (confirmed by the answer or later), or of a
/// retention batch's destruction (the answer is all: derbes destroys its own copy once the
/// system has taken the message).
#[derive(Debug, Serialize, Deserialize)]
pub struct WebhookMessage {
    /// The idempotency key, the same on every attempt.
    pub id: Uuid,
    pub event: WebhookEvent,
    /// The request the message is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    /// The retention batch that destroys the subject's data: their retention period ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<Uuid>,
    /// The fields a retention batch destroys when the subject's other data stay: destroy or
    /// mask these only. Absent: everything of the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<String>>,
    /// The subject's identifiers, by declared field.
    pub subject: serde_json::Map<String, serde_json::Value>,
    /// Where to confirm, relative to derbes' address (a request's message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirm: Option<String>,
    pub sent_at: String,
}

impl Webhook {
    /// Sends `message` to the webhook at `now`, signed, from a thread that may block. The
    /// body holds the subject's identifiers: it is zeroized once sent.
    pub(crate) async fn deliver(
        &self,
        message: &WebhookMessage,
        now: OffsetDateTime,
    ) -> Result<Sent, VaultError> {
        let body = zeroize::Zeroizing::new(
            serde_json::to_vec(message).map_err(|e| VaultError::Invalid(e.to_string()))?,
        );
        let (url, secret, id) = (self.url.clone(), self.secret.clone(), message.id);
        tokio::task::spawn_blocking(move || send(&url, &secret, &body, now, id))
            .await
            .map_err(|_| VaultError::Unavailable("the webhook's delivery failed".into()))
    }
}

/// A message's idempotency key, from what it is about: the first 16 bytes of the SHA-256 of
/// `parts`, in order.
pub(crate) fn idempotency_key(parts: &[&[u8]]) -> Uuid {
    use sha2::Digest;
    let mut digest = sha2::Sha256::new();
    for part in parts {
        digest.update(part);
    }
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.finalize()[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

/// The header both directions sign with.
pub const SIGNATURE_HEADER: &str = "X-Derbes-Signature";

/// How long one delivery may take.
pub(crate) const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The result of one delivery attempt.
pub(crate) enum Sent {
    /// Accepted; the system confirms later.
    Accepted,
    /// Accepted and done at once.
    Done,
    Refused(String),
}

/// Posts `body` to `url`, signed with `secret` at `now`, with `id` as its idempotency key.
fn send(
    url: &str,
    secret: &WebhookSecret,
    body: &[u8],
    now: OffsetDateTime,
    id: Uuid,
) -> Sent {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(SEND_TIMEOUT))
        .http_status_as_error(false)
        .build()
        .into();
    let result = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &id.to_string())
        .header(SIGNATURE_HEADER, &secret.sign(now.unix_timestamp(), body))
        .send(body);
    match result {
        Ok(mut resp) if resp.status().is_success() => {
            let done = resp
                .body_mut()
                .with_config()
                .limit(64 * 1024)
                .read_to_string()
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .is_some_and(|v| v["status"] == "done");
            if done {
                Sent::Done
            } else {
                Sent::Accepted
            }
        }
        Ok(resp) => Sent::Refused(format!("HTTP {}", resp.status().as_u16())),
        // The cause names a host or an I/O error, never the message.
        Err(e) => Sent::Refused(e.to_string()),
    }
}

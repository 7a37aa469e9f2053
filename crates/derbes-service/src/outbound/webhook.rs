//! Sending a webhook connector's message to the operator's system: signed, with the job's
//! idempotency key, within a time limit.

use derbes_crypto::WebhookSecret;
use time::OffsetDateTime;
use uuid::Uuid;

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
pub(crate) fn send(
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

//! Signatures of webhook messages, both ways: derbes signs what it sends to the operator's
//! system, and the system signs its confirmation back, with a secret the two share.
//!
//! The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. The timestamp is part
//! of what is signed, so a captured message cannot be replayed once it is older than the
//! tolerance.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// The shared secret of one webhook. Its bytes never reach a log.
#[derive(Clone)]
pub struct WebhookSecret(Zeroizing<Vec<u8>>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(…)")
    }
}

/// The shortest secret accepted, in bytes.
pub const MIN_SECRET: usize = 32;

impl WebhookSecret {
    /// A secret from the text of its file (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.len() < MIN_SECRET {
            return Err(format!(
                "the secret has {} bytes; use at least {MIN_SECRET} random bytes (for example `openssl rand -base64 48`)",
                t.len()
            ));
        }
        Ok(WebhookSecret(Zeroizing::new(t.as_bytes().to_vec())))
    }

    fn mac(&self, timestamp: i64, body: &[u8]) -> [u8; 32] {
        // HMAC accepts keys of any length.
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!());
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
    }

    /// The signature header for `body` sent at `timestamp`.
    pub fn sign(&self, timestamp: i64, body: &[u8]) -> String {
        let hex: String = self
            .mac(timestamp, body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("t={timestamp},v1={hex}")
    }

    /// Checks a signature header over `body` at `now`, in constant time.
    pub fn verify(
        &self,
        header: &str,
        body: &[u8],
        now: i64,
        tolerance_secs: i64,
    ) -> Result<(), WebhookSignatureError> {
        let mut t = None;
        let mut v1 = None;
        for part in header.split(',') {
            match part.trim().split_once('=') {
                Some(("t", v)) => t = v.parse::<i64>().ok(),
                Some(("v1", v)) => v1 = Some(v),
                _ => {}
            }
        }
        let (Some(t), Some(v1)) = (t, v1) else {
            return Err(WebhookSignatureError::Malformed);
        };
        if now.abs_diff(t) > tolerance_secs.unsigned_abs() {
            return Err(WebhookSignatureError::Stale);
        }
        let expected = self.sign(t, body);
        let given = format!("t={t},v1={v1}");
        if expected.as_bytes().ct_eq(given.as_bytes()).into() {
            Ok(())
        } else {
            Err(WebhookSignatureError::Mismatch)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WebhookSignatureError {
    #[error("the signature header is not `t=<unix seconds>,v1=<hex HMAC-SHA256>`")]
    Malformed,
    #[error("the signature's time is too far from now; sign each message when it is sent")]
    Stale,
    #[error("the signature does not match the body under the shared secret")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_its_body_secret_and_time() {
        let secret = WebhookSecret::from_text("  0123456789abcdef0123456789abcdef\n").unwrap();
        let h = secret.sign(1_700_000_000, b"{\"a\":1}");
        assert!(h.starts_with("t=1700000000,v1="));
        assert_eq!(secret.verify(&h, b"{\"a\":1}", 1_700_000_100, 300), Ok(()));
        assert_eq!(
            secret.verify(&h, b"{\"a\":2}", 1_700_000_100, 300),
            Err(WebhookSignatureError::Mismatch)
        );
        assert_eq!(
            secret.verify(&h, b"{\"a\":1}", 1_700_000_400, 300),
            Err(WebhookSignatureError::Stale)
        );
        let other = WebhookSecret::from_text("fedcba9876543210fedcba9876543210").unwrap();
        assert_eq!(
            other.verify(&h, b"{\"a\":1}", 1_700_000_000, 300),
            Err(WebhookSignatureError::Mismatch)
        );
        assert_eq!(
            secret.verify(&format!("t={},v1=00", i64::MIN), b"", i64::MAX, 300),
            Err(WebhookSignatureError::Stale)
        );
        assert_eq!(
            secret.verify("sha256=abc", b"", 0, 300),
            Err(WebhookSignatureError::Malformed)
        );
        assert!(WebhookSecret::from_text("short").is_err());
        assert_eq!(format!("{secret:?}"), "WebhookSecret(…)");
    }
}

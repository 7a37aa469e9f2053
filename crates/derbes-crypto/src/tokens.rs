//! API tokens: random, shown once, stored only as a digest.

use crate::{random, CryptoError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

pub const TOKEN_PREFIX: &str = "dbs_";

/// A new API token: 256 random bits, URL-safe.
pub fn new_token() -> Result<String, CryptoError> {
    Ok(format!(
        "{TOKEN_PREFIX}{}",
        URL_SAFE_NO_PAD.encode(random::<32>()?)
    ))
}

/// The digest under which a token is stored and looked up (hex SHA-256). Tokens carry 256 bits of
/// entropy, so a fast hash is enough; lookup by digest means no secret is compared in memory.
pub fn token_digest(token: &str) -> String {
    derbes_core::declaration::hex(&Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_digests_stable() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        assert!(a.starts_with(TOKEN_PREFIX) && a.len() == 4 + 43);
        assert_eq!(token_digest(&a), token_digest(&a));
        assert_eq!(token_digest(&a).len(), 64);
    }
}

/// A random six-digit one-time code, uniform over 000000-999999.
pub fn one_time_code() -> Result<String, CryptoError> {
    // Rejection sampling: the largest multiple of 10^6 below 2^32 keeps every code equally likely.
    const LIMIT: u32 = u32::MAX - (u32::MAX % 1_000_000);
    loop {
        let n = u32::from_be_bytes(crate::random::<4>()?);
        if n < LIMIT {
            return Ok(format!("{:06}", n % 1_000_000));
        }
    }
}

#[cfg(test)]
mod code_tests {
    #[test]
    fn codes_are_six_digits_and_vary() {
        let codes: std::collections::HashSet<String> =
            (0..50).map(|_| super::one_time_code().unwrap()).collect();
        assert!(codes
            .iter()
            .all(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit())));
        assert!(codes.len() > 40);
    }
}

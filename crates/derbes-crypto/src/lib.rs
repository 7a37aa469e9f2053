//! derbes crypto: the key ring, envelope encryption of subject fields, blind indexes for lookup,
//! keyed fingerprints for the audit trail, and API token digests.
//!
//! Envelope encryption: a key-encryption key (KEK, from the key file, never in the database) wraps
//! one random data key per subject. Fields are sealed with XChaCha20-Poly1305 under the data key,
//! with associated data binding the subject id, the field key and the data key's generation, so a
//! ciphertext moved to another subject or field does not open. Rotating the KEK rewraps data keys
//! and leaves the fields as they are. Destroying a subject's data key makes its fields unreadable.
//! Consent receipts are signed with an Ed25519 key derived from the key file.

mod accounts;
mod keyring;
mod sealing;
mod signing;
mod tokens;
mod webhooks;

pub use accounts::{
    check_password, new_one_time_password, TotpSecret, WeakPassword, MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS, PASSWORD_MEMORY_KIB, PASSWORD_PASSES,
};
pub use keyring::{KekDates, KeyRing, KEY_FILE_FORMAT};
pub use sealing::{DataKey, WrappedKey};
pub use signing::{key_id, key_id_of, verify_signature, PublicKey, ReceiptSigner, SignatureError};
pub use tokens::{new_token, one_time_code, token_digest, TOKEN_PREFIX};
pub use webhooks::{WebhookSecret, WebhookSignatureError, MIN_SECRET};

use thiserror::Error;

/// Errors of this crate. Messages never include key material or plaintext.
#[derive(Debug, Error)]
pub enum CryptoError {
    #[error("the operating system's random number generator failed")]
    Random,
    #[error("a ciphertext did not open: it was altered, belongs to another subject or field, or the key is wrong")]
    Open,
    #[error("key version {0} is not in the key file; restore the key file that contains it")]
    UnknownKeyVersion(u32),
    #[error("the key file is not valid: {0}")]
    KeyFile(String),
    #[error("a ciphertext has an unknown format (version byte {0})")]
    Format(u8),
    #[error("a password could not be hashed")]
    Password,
    #[error("a TOTP secret could not be used")]
    Totp,
}

/// Random bytes for keys and nonces: a per-thread ChaCha20 keystream keyed from the operating
/// system and rekeyed every 1 MiB, so that a nonce costs no system call.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], CryptoError> {
    use chacha20::cipher::{KeyIvInit, StreamCipher};
    use std::cell::RefCell;
    const REKEY_AFTER: usize = 1 << 20;
    thread_local! {
        static STREAM: RefCell<Option<(chacha20::ChaCha20, usize)>> = const { RefCell::new(None) };
    }
    STREAM.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|(_, used)| *used >= REKEY_AFTER) {
            let mut seed = zeroize::Zeroizing::new([0u8; 44]);
            getrandom::fill(seed.as_mut()).map_err(|_| CryptoError::Random)?;
            let key: [u8; 32] = seed[..32].try_into().map_err(|_| CryptoError::Random)?;
            let nonce: [u8; 12] = seed[32..].try_into().map_err(|_| CryptoError::Random)?;
            *slot = Some((chacha20::ChaCha20::new(&key.into(), &nonce.into()), 0));
        }
        let (stream, used) = slot.as_mut().ok_or(CryptoError::Random)?;
        let mut buf = [0u8; N];
        stream.apply_keystream(&mut buf);
        *used += N;
        Ok(buf)
    })
}

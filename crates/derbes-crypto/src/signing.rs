//! The operator's Ed25519 signing key for consent receipts, and verification of its signatures.
//!
//! The key is derived from the key file's index root (HKDF, its own label), so it needs no
//! separate secret and is backed up with the key file. Its public half is published at a
//! well-known URL; the key id is the first 16 hex digits of the public key's SHA-256.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The label the receipt key is derived under; a new label gives a new key.
pub(crate) const RECEIPT_KEY_LABEL: &str = "derbes/receipt-signing/v1";

/// Signs consent receipts. The secret half is zeroized when dropped.
pub struct ReceiptSigner {
    key: SigningKey,
    id: String,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("key_id", &self.id)
            .finish_non_exhaustive()
    }
}

/// A public key as published: id and the 32 bytes, base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub key_id: String,
    pub public_key: String,
}

/// The id of a public key: the first 16 hex digits of its SHA-256.
pub fn key_id(public: &[u8; 32]) -> String {
    let digest = Sha256::digest(public);
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The id of a public key given as base64url; `None` when it is not 32 bytes.
pub fn key_id_of(public_key: &str) -> Option<String> {
    let raw: [u8; 32] = B64URL.decode(public_key.trim()).ok()?.try_into().ok()?;
    Some(key_id(&raw))
}

impl ReceiptSigner {
    pub(crate) fn from_seed(seed: &[u8; 32]) -> Self {
        let key = SigningKey::from_bytes(seed);
        let id = key_id(key.verifying_key().as_bytes());
        Self { key, id }
    }

    pub fn public(&self) -> PublicKey {
        PublicKey {
            key_id: self.id.clone(),
            public_key: B64URL.encode(self.key.verifying_key().as_bytes()),
        }
    }

    /// The signature of `message`, base64url without padding.
    pub fn sign(&self, message: &[u8]) -> String {
        B64URL.encode(self.sign_raw(message))
    }

    /// The signature of `message`, 64 bytes.
    pub fn sign_raw(&self, message: &[u8]) -> [u8; 64] {
        self.key.sign(message).to_bytes()
    }

    /// Whether `signature` (64 bytes) is this key's over `message` (strict verification).
    pub fn verify_raw(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(sig) = <[u8; 64]>::try_from(signature) else {
            return false;
        };
        self.key
            .verifying_key()
            .verify_strict(message, &Signature::from_bytes(&sig))
            .is_ok()
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the public key is not 32 bytes of base64url")]
    PublicKey,
    #[error("the signature is not 64 bytes of base64url")]
    Encoding,
    #[error("the signature does not match the signed content: the receipt was changed or signed with another key")]
    Mismatch,
}

/// Checks an Ed25519 signature (strict: no malleable or small-order encodings).
pub fn verify_signature(
    public_key: &str,
    message: &[u8],
    signature: &str,
) -> Result<(), SignatureError> {
    let public: [u8; 32] = B64URL
        .decode(public_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureError::PublicKey)?;
    let key = VerifyingKey::from_bytes(&public).map_err(|_| SignatureError::PublicKey)?;
    let sig: [u8; 64] = B64URL
        .decode(signature.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(SignatureError::Encoding)?;
    key.verify_strict(message, &Signature::from_bytes(&sig))
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_key_id_names_the_public_key() {
        let s = ReceiptSigner::from_seed(&[7; 32]);
        let p = s.public();
        assert_eq!(p.key_id.len(), 16);
        assert_eq!(key_id_of(&p.public_key), Some(p.key_id.clone()));
        assert_eq!(key_id_of("AAAA"), None);
        assert_ne!(ReceiptSigner::from_seed(&[8; 32]).public(), p);
        assert!(!format!("{s:?}").contains(&p.public_key));
    }

    proptest! {
        #[test]
        fn signatures_verify_and_any_change_breaks_them(
            seed in any::<[u8; 32]>(),
            message in prop::collection::vec(any::<u8>(), 0..300),
            flip in any::<prop::sample::Index>(),
        ) {
            let s = ReceiptSigner::from_seed(&seed);
            let p = s.public();
            let sig = s.sign(&message);
            prop_assert_eq!(verify_signature(&p.public_key, &message, &sig), Ok(()));
            if !message.is_empty() {
                let mut changed = message.clone();
                changed[flip.index(message.len())] ^= 1;
                prop_assert_eq!(verify_signature(&p.public_key, &changed, &sig), Err(SignatureError::Mismatch));
            }
            let other = ReceiptSigner::from_seed(&[seed[0].wrapping_add(1); 32]).public();
            if other.public_key != p.public_key {
                prop_assert_eq!(verify_signature(&other.public_key, &message, &sig), Err(SignatureError::Mismatch));
            }
            prop_assert_eq!(verify_signature(&p.public_key, &message, "AAAA"), Err(SignatureError::Encoding));
            prop_assert_eq!(verify_signature("not a key", &message, &sig), Err(SignatureError::PublicKey));
        }
    }
}

//! Data keys and the sealing of field values.

use crate::{random, CryptoError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

const FIELD_FORMAT: u8 = 1;

/// A subject's data key wrapped by a KEK: what the database stores.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_version: u32,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WrappedKey(v{}, {} bytes)",
            self.kek_version,
            self.bytes.len()
        )
    }
}

/// A subject's data key, in memory only while it is used. Zeroized on drop.
pub struct DataKey {
    key: Zeroizing<[u8; 32]>,
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey([redacted])")
    }
}

impl DataKey {
    pub fn generate() -> Result<Self, CryptoError> {
        Self::from_slice(&random::<32>()?)
    }

    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != 32 {
            return Err(CryptoError::Open);
        }
        key.copy_from_slice(bytes);
        let cipher = XChaCha20Poly1305::new(key.as_ref().into());
        Ok(Self { key, cipher })
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.key.as_ref()
    }

    fn field_ad(subject: &Uuid, generation: u32, field: &str) -> Vec<u8> {
        let mut ad = Vec::with_capacity(40 + field.len());
        ad.extend_from_slice(b"derbes/field/v1");
        ad.extend_from_slice(subject.as_bytes());
        ad.extend_from_slice(&generation.to_be_bytes());
        ad.extend_from_slice(field.as_bytes());
        ad
    }

    /// Seals one field value. Output: format byte, 24-byte nonce, ciphertext and tag.
    pub fn seal(
        &self,
        subject: &Uuid,
        generation: u32,
        field: &str,
        plaintext: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let nonce: [u8; 24] = random()?;
        let ad = Self::field_ad(subject, generation, field);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &ad,
                },
            )
            .map_err(|_| CryptoError::Open)?;
        let mut out = Vec::with_capacity(1 + 24 + ct.len());
        out.push(FIELD_FORMAT);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens a sealed field value; fails if it was altered or belongs to another subject, field
    /// or key generation.
    pub fn open(
        &self,
        subject: &Uuid,
        generation: u32,
        field: &str,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        match sealed.first() {
            Some(&FIELD_FORMAT) if sealed.len() >= 1 + 24 + 16 => {}
            Some(v) => return Err(CryptoError::Format(*v)),
            None => return Err(CryptoError::Format(0)),
        }
        let ad = Self::field_ad(subject, generation, field);
        self.cipher
            .decrypt(
                XNonce::from_slice(&sealed[1..25]),
                Payload {
                    msg: &sealed[25..],
                    aad: &ad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| CryptoError::Open)
    }

    /// A pseudonym of `field`'s `value` (hex, 128 bits) for a depersonalized record: the same
    /// value gives the same pseudonym under this key, and once the key is destroyed nothing
    /// maps it back, not even by trying every value.
    pub fn pseudonym(&self, field: &str, value: &str) -> String {
        self.keyed_digest(b"derbes/pseudonym/v1", field, value)
    }

    fn keyed_digest(&self, info: &[u8], field: &str, value: &str) -> String {
        let hk = Hkdf::<Sha256>::new(Some(b"derbes"), self.key.as_ref());
        let mut k = Zeroizing::new([0u8; 32]);
        let _ = hk.expand(info, k.as_mut());
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(k.as_ref()).unwrap_or_else(|_| unreachable!());
        mac.update(&(field.len() as u32).to_be_bytes());
        mac.update(field.as_bytes());
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        derbes_core::declaration::hex(&digest[..16])
    }

    /// A keyed fingerprint of a value (hex, 128 bits) for the audit trail: it shows that a value
    /// changed without revealing it, and becomes meaningless once the data key is destroyed.
    pub fn fingerprint(&self, field: &str, value: &str) -> String {
        self.keyed_digest(b"derbes/fingerprint/v1", field, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sealed_values_are_bound_to_subject_field_and_generation() {
        let dk = DataKey::generate().unwrap();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let ct = dk.seal(&a, 1, "iin", b"871008401427").unwrap();
        assert_eq!(
            dk.open(&a, 1, "iin", &ct).unwrap().as_slice(),
            b"871008401427"
        );
        assert!(dk.open(&b, 1, "iin", &ct).is_err());
        assert!(dk.open(&a, 1, "parent_iin", &ct).is_err());
        assert!(dk.open(&a, 2, "iin", &ct).is_err());
        assert!(DataKey::generate()
            .unwrap()
            .open(&a, 1, "iin", &ct)
            .is_err());
        assert!(matches!(
            dk.open(&a, 1, "iin", &[9, 1, 2]),
            Err(CryptoError::Format(9))
        ));
        assert!(dk.open(&a, 1, "iin", &[]).is_err());
    }

    #[test]
    fn fingerprints_are_stable_per_key() {
        let dk = DataKey::generate().unwrap();
        assert_eq!(dk.fingerprint("iin", "1"), dk.fingerprint("iin", "1"));
        assert_ne!(dk.fingerprint("iin", "1"), dk.fingerprint("iin", "2"));
        assert_ne!(
            dk.fingerprint("iin", "1"),
            DataKey::generate().unwrap().fingerprint("iin", "1")
        );
        assert_eq!(dk.fingerprint("iin", "1").len(), 32);
    }

    proptest! {
        #[test]
        fn pseudonyms_are_one_per_value_key_and_field(a in "[0-9]{12}", b in "[0-9]{12}") {
            let dk = DataKey::generate().unwrap();
            prop_assert_eq!(dk.pseudonym("iin", &a), dk.pseudonym("iin", &a));
            prop_assert_eq!(dk.pseudonym("iin", &a) == dk.pseudonym("iin", &b), a == b);
            prop_assert_ne!(dk.pseudonym("iin", &a), dk.pseudonym("phone", &a));
            prop_assert_ne!(dk.pseudonym("iin", &a), dk.fingerprint("iin", &a));
            prop_assert_ne!(dk.pseudonym("iin", &a), DataKey::generate().unwrap().pseudonym("iin", &a));
        }
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(value in proptest::collection::vec(any::<u8>(), 0..512), field in "[a-z_]{1,20}") {
            let dk = DataKey::generate().unwrap();
            let s = Uuid::now_v7();
            let ct = dk.seal(&s, 3, &field, &value).unwrap();
            let opened = dk.open(&s, 3, &field, &ct).unwrap();
            prop_assert_eq!(opened.as_slice(), value.as_slice());
        }

        #[test]
        fn any_flipped_bit_is_detected(value in proptest::collection::vec(any::<u8>(), 1..64), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
            let dk = DataKey::generate().unwrap();
            let s = Uuid::now_v7();
            let mut ct = dk.seal(&s, 1, "f", &value).unwrap();
            let i = pos.index(ct.len());
            ct[i] ^= 1 << bit;
            prop_assert!(dk.open(&s, 1, "f", &ct).is_err());
        }
    }
}

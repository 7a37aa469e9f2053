//! The key ring: versioned key-encryption keys and the root of the blind-index and audit keys,
//! read from and written to the key file.

use crate::sealing::{DataKey, WrappedKey};
use crate::{random, CryptoError};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::collections::BTreeMap;
use subtle::ConstantTimeEq;
use uuid::Uuid;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

pub const KEY_FILE_FORMAT: u32 = 1;

/// All keys of a derbes installation. Key material is zeroized when dropped.
pub struct KeyRing {
    index_root: Zeroizing<[u8; 32]>,
    keks: BTreeMap<u32, Zeroizing<[u8; 32]>>,
    /// When each version was added and when a newer one replaced it (RFC 3339), where known.
    dates: BTreeMap<u32, KekDates>,
    /// Versions deleted from the file once no data key and no backup kept needed them.
    retired: Vec<u32>,
    current: u32,
    blind_index: HmacSha256,
    /// The head MAC of chains written before events were keyed (read once, to seal them).
    legacy_audit_head: HmacSha256,
    audit_head: HmacSha256,
    audit_events: HmacSha256,
    checkpoints: crate::signing::ReceiptSigner,
    one_time_codes: HmacSha256,
    destruction_log: HmacSha256,
    receipts: crate::signing::ReceiptSigner,
    /// Argon2id's secret input for person accounts' passwords.
    pub(crate) password_pepper: Zeroizing<[u8; 32]>,
    /// Seals person accounts' TOTP secrets.
    pub(crate) account_secrets: Zeroizing<[u8; 32]>,
    /// A hash to verify against when a login does not exist (made at first use).
    pub(crate) dummy_password_hash: std::sync::OnceLock<String>,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("kek_versions", &self.keks.keys().collect::<Vec<_>>())
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    format: u32,
    index_key: String,
    current: u32,
    #[serde(default)]
    retired: Vec<u32>,
    kek: Vec<KekEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KekEntry {
    version: u32,
    key: String,
    created: Option<String>,
    superseded: Option<String>,
}

/// When a key version was added, and when a newer one replaced it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KekDates {
    pub created: Option<String>,
    pub superseded: Option<String>,
}

fn now() -> String {
    derbes_core::audit::format_timestamp(time::OffsetDateTime::now_utc())
}

fn decode32(b64: &str, what: &str) -> Result<Zeroizing<[u8; 32]>, CryptoError> {
    let bytes = Zeroizing::new(
        B64.decode(b64.trim())
            .map_err(|_| CryptoError::KeyFile(format!("{what} is not base64")))?,
    );
    let mut out = Zeroizing::new([0u8; 32]);
    if bytes.len() != 32 {
        return Err(CryptoError::KeyFile(format!("{what} must be 32 bytes")));
    }
    out.copy_from_slice(&bytes);
    Ok(out)
}

fn derive(root: &[u8; 32], info: &str) -> Zeroizing<[u8; 32]> {
    let hk = Hkdf::<Sha256>::new(Some(b"derbes"), root);
    let mut out = Zeroizing::new([0u8; 32]);
    // 32 bytes is always a valid HKDF-SHA256 output length.
    let _ = hk.expand(info.as_bytes(), out.as_mut());
    out
}

fn hmac_from(key: &[u8; 32]) -> HmacSha256 {
    // HMAC accepts keys of any length.
    <HmacSha256 as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!())
}

impl KeyRing {
    fn assemble(
        index_root: Zeroizing<[u8; 32]>,
        keks: BTreeMap<u32, Zeroizing<[u8; 32]>>,
        dates: BTreeMap<u32, KekDates>,
        retired: Vec<u32>,
        current: u32,
    ) -> Self {
        let blind_index = hmac_from(&derive(&index_root, "derbes/blind-index/v1"));
        let legacy_audit_head = hmac_from(&derive(&index_root, "derbes/audit-head/v1"));
        let audit_head = hmac_from(&derive(&index_root, "derbes/audit-head/v2"));
        let audit_events = hmac_from(&derive(&index_root, "derbes/audit-events/v2"));
        let checkpoints = crate::signing::ReceiptSigner::from_seed(&derive(
            &index_root,
            "derbes/audit-checkpoint/v1",
        ));
        let one_time_codes = hmac_from(&derive(&index_root, "derbes/one-time-code/v1"));
        let destruction_log = hmac_from(&derive(&index_root, "derbes/destruction-log/v1"));
        let receipts = crate::signing::ReceiptSigner::from_seed(&derive(
            &index_root,
            crate::signing::RECEIPT_KEY_LABEL,
        ));
        let password_pepper = derive(&index_root, "derbes/password-pepper/v1");
        let account_secrets = derive(&index_root, "derbes/account-secret/v1");
        Self {
            password_pepper,
            account_secrets,
            dummy_password_hash: std::sync::OnceLock::new(),
            index_root,
            keks,
            dates,
            retired,
            current,
            blind_index,
            legacy_audit_head,
            audit_head,
            audit_events,
            checkpoints,
            one_time_codes,
            destruction_log,
            receipts,
        }
    }

    /// A new key ring with fresh random keys (KEK version 1).
    pub fn generate() -> Result<Self, CryptoError> {
        let index_root = Zeroizing::new(random::<32>()?);
        let mut keks = BTreeMap::new();
        keks.insert(1, Zeroizing::new(random::<32>()?));
        let dates = BTreeMap::from([(
            1,
            KekDates {
                created: Some(now()),
                superseded: None,
            },
        )]);
        Ok(Self::assemble(index_root, keks, dates, Vec::new(), 1))
    }

    /// Reads a key file's text.
    pub fn from_file_text(text: &str) -> Result<Self, CryptoError> {
        let file: KeyFile = toml_edit::de::from_str(text)
            .map_err(|e| CryptoError::KeyFile(e.message().to_owned()))?;
        if file.format != KEY_FILE_FORMAT {
            return Err(CryptoError::KeyFile(format!(
                "format {} is not supported (expected {KEY_FILE_FORMAT})",
                file.format
            )));
        }
        let index_root = decode32(&file.index_key, "index_key")?;
        let mut keks = BTreeMap::new();
        let mut dates = BTreeMap::new();
        for k in &file.kek {
            let key = decode32(&k.key, &format!("kek version {}", k.version))?;
            if keks.insert(k.version, key).is_some() {
                return Err(CryptoError::KeyFile(format!(
                    "kek version {} appears twice",
                    k.version
                )));
            }
            if file.retired.contains(&k.version) {
                return Err(CryptoError::KeyFile(format!(
                    "kek version {} is listed as retired but its key is still in the file",
                    k.version
                )));
            }
            dates.insert(
                k.version,
                KekDates {
                    created: k.created.clone(),
                    superseded: k.superseded.clone(),
                },
            );
        }
        if !keks.contains_key(&file.current) {
            return Err(CryptoError::KeyFile(format!(
                "current = {} but there is no [[kek]] with that version",
                file.current
            )));
        }
        Ok(Self::assemble(
            index_root,
            keks,
            dates,
            file.retired,
            file.current,
        ))
    }

    /// The key file's text. Secret: write it with mode 0600.
    pub fn to_file_text(&self) -> Zeroizing<String> {
        let mut s = String::from(
            "# derbes key file. Keep it secret and outside the database and its backups:\n\
             # without it the personal data in the database cannot be read.\n",
        );
        s.push_str(&format!("format = {KEY_FILE_FORMAT}\n"));
        s.push_str(&format!(
            "index_key = \"{}\"\n",
            B64.encode(self.index_root.as_ref())
        ));
        s.push_str(&format!("current = {}\n", self.current));
        if !self.retired.is_empty() {
            let list: Vec<String> = self.retired.iter().map(u32::to_string).collect();
            s.push_str(&format!(
                "# Deleted once no data key and no backup kept needed them.\nretired = [{}]\n",
                list.join(", ")
            ));
        }
        for (v, k) in &self.keks {
            s.push_str(&format!(
                "\n[[kek]]\nversion = {v}\nkey = \"{}\"\n",
                B64.encode(k.as_ref())
            ));
            let d = self.dates.get(v).cloned().unwrap_or_default();
            if let Some(c) = d.created {
                s.push_str(&format!("created = \"{c}\"\n"));
            }
            if let Some(c) = d.superseded {
                s.push_str(&format!("superseded = \"{c}\"\n"));
            }
        }
        Zeroizing::new(s)
    }

    /// When a key version was added and replaced, where the file records it.
    pub fn dates(&self, version: u32) -> KekDates {
        self.dates.get(&version).cloned().unwrap_or_default()
    }

    /// Records when a version stopped being current, for a version whose file predates such
    /// records (its backups are counted from then).
    pub fn set_superseded(&mut self, version: u32, at: String) {
        self.dates.entry(version).or_default().superseded = Some(at);
    }

    /// The versions deleted from the file.
    pub fn retired(&self) -> &[u32] {
        &self.retired
    }

    /// Deletes a version's key: nothing wrapped under it can be opened any more, in the
    /// database or in any copy of it. The current version cannot be retired.
    pub fn retire(&mut self, version: u32) -> Result<(), CryptoError> {
        if version == self.current {
            return Err(CryptoError::KeyFile(format!(
                "kek version {version} is the current one; rotate first"
            )));
        }
        if self.keks.remove(&version).is_none() {
            return Err(CryptoError::UnknownKeyVersion(version));
        }
        self.dates.remove(&version);
        self.retired.push(version);
        self.retired.sort_unstable();
        Ok(())
    }

    /// Adds a new KEK and makes it current; returns its version. Old versions stay to unwrap
    /// data keys not yet rewrapped.
    pub fn add_kek(&mut self) -> Result<u32, CryptoError> {
        let version = self
            .keks
            .keys()
            .chain(&self.retired)
            .max()
            .copied()
            .unwrap_or(0)
            + 1;
        self.keks.insert(version, Zeroizing::new(random::<32>()?));
        let at = now();
        self.dates.entry(self.current).or_default().superseded = Some(at.clone());
        self.dates.insert(
            version,
            KekDates {
                created: Some(at),
                superseded: None,
            },
        );
        self.current = version;
        Ok(version)
    }

    pub fn current_version(&self) -> u32 {
        self.current
    }

    pub fn versions(&self) -> Vec<u32> {
        self.keks.keys().copied().collect()
    }

    fn kek(&self, version: u32) -> Result<XChaCha20Poly1305, CryptoError> {
        let key = self
            .keks
            .get(&version)
            .ok_or(CryptoError::UnknownKeyVersion(version))?;
        Ok(XChaCha20Poly1305::new(key.as_ref().into()))
    }

    fn wrap_ad(subject: &Uuid, generation: u32, kek_version: u32) -> Vec<u8> {
        let mut ad = Vec::with_capacity(40);
        ad.extend_from_slice(b"derbes/dek/v1");
        ad.extend_from_slice(subject.as_bytes());
        ad.extend_from_slice(&generation.to_be_bytes());
        ad.extend_from_slice(&kek_version.to_be_bytes());
        ad
    }

    /// Wraps a subject's data key under the current KEK.
    pub fn wrap(
        &self,
        key: &DataKey,
        subject: &Uuid,
        generation: u32,
    ) -> Result<WrappedKey, CryptoError> {
        let nonce: [u8; 24] = random()?;
        let ad = Self::wrap_ad(subject, generation, self.current);
        let ct = self
            .kek(self.current)?
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: key.bytes(),
                    aad: &ad,
                },
            )
            .map_err(|_| CryptoError::Open)?;
        let mut bytes = Vec::with_capacity(1 + 24 + ct.len());
        bytes.push(1);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ct);
        Ok(WrappedKey {
            kek_version: self.current,
            bytes,
        })
    }

    /// Unwraps a subject's data key with the KEK version it was wrapped under.
    pub fn unwrap(
        &self,
        wrapped: &WrappedKey,
        subject: &Uuid,
        generation: u32,
    ) -> Result<DataKey, CryptoError> {
        let b = &wrapped.bytes;
        match b.first() {
            Some(1) if b.len() == 1 + 24 + 32 + 16 => {}
            Some(v) => return Err(CryptoError::Format(*v)),
            None => return Err(CryptoError::Format(0)),
        }
        let ad = Self::wrap_ad(subject, generation, wrapped.kek_version);
        let plain = Zeroizing::new(
            self.kek(wrapped.kek_version)?
                .decrypt(
                    XNonce::from_slice(&b[1..25]),
                    Payload {
                        msg: &b[25..],
                        aad: &ad,
                    },
                )
                .map_err(|_| CryptoError::Open)?,
        );
        DataKey::from_slice(&plain)
    }

    /// The blind index of a normalized value of `field`: HMAC-SHA256 under a key derived from the
    /// index root, over the field key and the value. Equal values give equal digests; the digest
    /// reveals nothing without the key.
    pub fn blind_index(&self, field: &str, normalized: &str) -> [u8; 32] {
        let mut mac = self.blind_index.clone();
        mac.update(&(field.len() as u32).to_be_bytes());
        mac.update(field.as_bytes());
        mac.update(normalized.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The MAC derbes signed the audit chain's head with before events were keyed (over the
    /// hex hash, base64). Only chains from then are verified with it; tests write such chains.
    pub fn legacy_audit_head_mac(&self, seq: i64, hash_hex: &str) -> String {
        let mut m = self.legacy_audit_head.clone();
        m.update(&seq.to_be_bytes());
        m.update(hash_hex.as_bytes());
        B64.encode(m.finalize().into_bytes())
    }

    /// The operator's key for signing consent receipts.
    pub fn receipt_signer(&self) -> &crate::signing::ReceiptSigner {
        &self.receipts
    }

    /// The MAC a one-time code is kept as: bound to what it verifies (`context`, e.g. a request
    /// id), so that a code for one request does not verify another. The code itself is never
    /// stored.
    pub fn one_time_code_mac(&self, context: &str, code: &str) -> String {
        let mut mac = self.one_time_codes.clone();
        mac.update(&(context.len() as u64).to_be_bytes());
        mac.update(context.as_bytes());
        mac.update(code.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// The token a console session's forms carry: a MAC of the session's digest, URL-safe so
    /// that it reads the same in a page and in a posted form.
    pub fn form_token(&self, session_digest: &str) -> String {
        let mut mac = self.one_time_codes.clone();
        mac.update(b"console-form\0");
        mac.update(session_digest.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether a posted form's token is its session's (constant time).
    pub fn verify_form_token(&self, session_digest: &str, token: &str) -> bool {
        self.form_token(session_digest)
            .as_bytes()
            .ct_eq(token.as_bytes())
            .into()
    }

    /// Checks a one-time code against its stored MAC in constant time.
    pub fn verify_one_time_code(&self, context: &str, code: &str, stored: &str) -> bool {
        let expected = self.one_time_code_mac(context, code);
        expected.as_bytes().ct_eq(stored.as_bytes()).into()
    }

    /// The MAC of one line of the destruction log, so that a restore re-applies only the
    /// destructions this installation recorded, never lines someone added to the file.
    pub fn destruction_log_mac(&self, line: &str) -> String {
        let mut mac = self.destruction_log.clone();
        mac.update(line.as_bytes());
        B64.encode(mac.finalize().into_bytes())
    }

    /// Checks a destruction-log line's MAC in constant time.
    pub fn verify_destruction_log(&self, line: &str, mac: &str) -> bool {
        let expected = self.destruction_log_mac(line);
        expected.as_bytes().ct_eq(mac.as_bytes()).into()
    }
}

impl derbes_core::audit::ChainKeys for KeyRing {
    fn event_hash(&self, encoding: &[u8]) -> [u8; 32] {
        let mut mac = self.audit_events.clone();
        mac.update(encoding);
        mac.finalize().into_bytes().into()
    }

    fn event_hash_matches(&self, encoding: &[u8], stored: &[u8; 32]) -> bool {
        self.event_hash(encoding).ct_eq(stored).into()
    }

    fn head_mac(&self, seq: i64, hash: &[u8; 32]) -> [u8; 32] {
        let mut mac = self.audit_head.clone();
        mac.update(&seq.to_be_bytes());
        mac.update(hash);
        mac.finalize().into_bytes().into()
    }

    fn head_mac_matches(&self, seq: i64, hash: &[u8; 32], mac: &[u8]) -> bool {
        self.head_mac(seq, hash)[..].ct_eq(mac).into()
    }

    fn legacy_head_matches(&self, seq: i64, hash_hex: &str, mac: &str) -> bool {
        let expected = self.legacy_audit_head_mac(seq, hash_hex);
        expected.as_bytes().ct_eq(mac.as_bytes()).into()
    }

    fn sign_checkpoint(&self, message: &[u8]) -> Vec<u8> {
        self.checkpoints.sign_raw(message).to_vec()
    }

    fn checkpoint_signature_matches(&self, message: &[u8], signature: &[u8]) -> bool {
        self.checkpoints.verify_raw(message, signature)
    }

    fn checkpoint_key_id(&self) -> String {
        self.checkpoints.public().key_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_file_round_trips_and_rotation_keeps_old_versions() {
        let mut ring = KeyRing::generate().unwrap();
        let subject = Uuid::now_v7();
        let dk = DataKey::generate().unwrap();
        let w1 = ring.wrap(&dk, &subject, 1).unwrap();
        assert_eq!(ring.add_kek().unwrap(), 2);
        let text = ring.to_file_text();
        let ring2 = KeyRing::from_file_text(&text).unwrap();
        assert_eq!(ring2.current_version(), 2);
        assert_eq!(ring2.versions(), vec![1, 2]);
        let back = ring2.unwrap(&w1, &subject, 1).unwrap();
        assert_eq!(back.bytes(), dk.bytes());
        let w2 = ring2.wrap(&back, &subject, 1).unwrap();
        assert_eq!(w2.kek_version, 2);
        assert_eq!(
            ring2.blind_index("iin", "871008401427"),
            ring.blind_index("iin", "871008401427")
        );
        assert!(format!("{ring2:?}").contains("current: 2"));
        // The receipt key is the key file's: the same after a round trip and a KEK rotation.
        assert_eq!(
            ring2.receipt_signer().public(),
            ring.receipt_signer().public()
        );
        assert!(!format!("{ring2:?}").contains(&B64.encode(ring2.index_root.as_ref())));
    }

    #[test]
    fn wrapped_key_is_bound_to_subject_and_version() {
        let ring = KeyRing::generate().unwrap();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let w = ring.wrap(&DataKey::generate().unwrap(), &a, 1).unwrap();
        assert!(matches!(ring.unwrap(&w, &b, 1), Err(CryptoError::Open)));
        assert!(matches!(ring.unwrap(&w, &a, 2), Err(CryptoError::Open)));
        let forged = WrappedKey {
            kek_version: 7,
            bytes: w.bytes.clone(),
        };
        assert!(matches!(
            ring.unwrap(&forged, &a, 1),
            Err(CryptoError::UnknownKeyVersion(7))
        ));
        let other = KeyRing::generate().unwrap();
        assert!(matches!(other.unwrap(&w, &a, 1), Err(CryptoError::Open)));
    }

    #[test]
    fn one_time_codes_verify_only_in_their_context() {
        let ring = KeyRing::generate().unwrap();
        let mac = ring.one_time_code_mac("request-a", "123456");
        assert!(ring.verify_one_time_code("request-a", "123456", &mac));
        assert!(!ring.verify_one_time_code("request-a", "123457", &mac));
        assert!(!ring.verify_one_time_code("request-b", "123456", &mac));
        let other = KeyRing::generate().unwrap();
        assert!(!other.verify_one_time_code("request-a", "123456", &mac));
    }

    #[test]
    fn destruction_log_lines_verify_only_unchanged_and_under_their_key() {
        let ring = KeyRing::generate().unwrap();
        let line = r#"{"subject_id":"0190"}"#;
        let mac = ring.destruction_log_mac(line);
        assert!(ring.verify_destruction_log(line, &mac));
        assert!(!ring.verify_destruction_log(r#"{"subject_id":"0191"}"#, &mac));
        assert!(!KeyRing::generate()
            .unwrap()
            .verify_destruction_log(line, &mac));
        // Not the one-time-code key under another name.
        assert_ne!(mac, ring.one_time_code_mac("", line));
    }

    #[test]
    fn blind_indexes_separate_fields_and_keys() {
        let ring = KeyRing::generate().unwrap();
        assert_ne!(
            ring.blind_index("iin", "1"),
            ring.blind_index("parent_iin", "1")
        );
        assert_ne!(ring.blind_index("ab", "c"), ring.blind_index("a", "bc"));
        assert_ne!(
            ring.blind_index("iin", "1"),
            KeyRing::generate().unwrap().blind_index("iin", "1")
        );
    }

    #[test]
    fn the_audit_chain_keys_belong_to_one_installation() {
        use derbes_core::audit::ChainKeys;
        let ring = KeyRing::generate().unwrap();
        let other = KeyRing::generate().unwrap();
        let h = ring.event_hash(b"event");
        assert!(ring.event_hash_matches(b"event", &h));
        assert!(!ring.event_hash_matches(b"event!", &h));
        assert!(!other.event_hash_matches(b"event", &h));
        let mac = ring.head_mac(5, &h);
        assert!(ring.head_mac_matches(5, &h, &mac));
        assert!(!ring.head_mac_matches(4, &h, &mac));
        assert!(!ring.head_mac_matches(5, &h, &mac[..31]));
        assert!(!other.head_mac_matches(5, &h, &mac));
        let sig = ring.sign_checkpoint(b"checkpoint");
        assert!(ring.checkpoint_signature_matches(b"checkpoint", &sig));
        assert!(!ring.checkpoint_signature_matches(b"checkpoinT", &sig));
        assert!(!other.checkpoint_signature_matches(b"checkpoint", &sig));
        assert!(!ring.checkpoint_signature_matches(b"checkpoint", &sig[1..]));
        assert_ne!(ring.checkpoint_key_id(), other.checkpoint_key_id());
        let legacy = ring.legacy_audit_head_mac(7, "ab");
        assert!(ring.legacy_head_matches(7, "ab", &legacy));
        assert!(!ring.legacy_head_matches(7, "ac", &legacy));
    }

    #[test]
    fn retired_versions_are_gone_for_good_and_dates_survive_the_file() {
        let mut ring = KeyRing::generate().unwrap();
        let subject = Uuid::now_v7();
        let dk = DataKey::generate().unwrap();
        let old = ring.wrap(&dk, &subject, 1).unwrap();
        assert_eq!(ring.add_kek().unwrap(), 2);
        assert!(ring.dates(1).superseded.is_some() && ring.dates(2).created.is_some());
        assert!(
            ring.retire(2).is_err(),
            "the current version cannot be retired"
        );
        ring.retire(1).unwrap();
        let back = KeyRing::from_file_text(&ring.to_file_text()).unwrap();
        assert_eq!((back.versions(), back.retired()), (vec![2], &[1][..]));
        assert_eq!(back.dates(2), ring.dates(2));
        assert!(matches!(
            back.unwrap(&old, &subject, 1),
            Err(CryptoError::UnknownKeyVersion(1))
        ));
        // A retired number is never given again.
        let mut back = back;
        assert_eq!(back.add_kek().unwrap(), 3);
        let e = KeyRing::from_file_text(
            &ring
                .to_file_text()
                .replace("retired = [1]", "retired = [2]"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("listed as retired"), "{e}");
    }

    #[test]
    fn bad_key_files_are_explained() {
        for (text, needle) in [
            (
                "format = 2\nindex_key = \"\"\ncurrent = 1\nkek = []",
                "format 2",
            ),
            (
                "format = 1\nindex_key = \"AAAA\"\ncurrent = 1\nkek = []",
                "32 bytes",
            ),
            ("format = 1\nindex_key = \"AAAA\"\n", "missing field"),
        ] {
            let e = KeyRing::from_file_text(text).unwrap_err().to_string();
            assert!(e.contains(needle), "{e}");
        }
    }
}

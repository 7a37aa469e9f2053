//! Person accounts: passwords hashed with Argon2id under a pepper from the key file, one-time
//! passwords handed out by an administrator, and the TOTP second factor (RFC 6238) whose secret
//! is kept sealed.
//!
//! The pepper means a copy of the database alone is not enough to guess passwords offline: the
//! key file is needed too, as for every personal datum derbes keeps.

use crate::{random, CryptoError, KeyRing};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq;
use totp_rs::TOTP;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Argon2id's memory cost in KiB (OWASP's recommended 19 MiB).
pub const PASSWORD_MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id's passes: chosen so one hash takes about 50 ms of one core here
/// (docs/PERFORMANCE.md, "Sign-in").
pub const PASSWORD_PASSES: u32 = 5;
/// A stored hash asking for more than this many times the current cost is refused unverified:
/// a row altered in the database must not make sign-in stall the server.
const MAX_COST_FACTOR: u32 = 4;

/// The shortest password a person may choose.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest (hashing cost does not depend on it much, but a form should not carry a book).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// TOTP: six digits, 30-second steps, SHA-1 (what every authenticator app reads), one step of
/// clock drift either way.
const TOTP_DIGITS: usize = 6;
const TOTP_STEP: u64 = 30;
/// The secret's length in bytes (160 bits, RFC 4226's recommendation).
const TOTP_SECRET_BYTES: usize = 20;

fn params() -> Result<Params, CryptoError> {
    Params::new(PASSWORD_MEMORY_KIB, PASSWORD_PASSES, 1, Some(32))
        .map_err(|_| CryptoError::Password)
}

/// Why a password cannot be chosen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    #[error("must have at least {MIN_PASSWORD_CHARS} characters")]
    TooShort,
    #[error("must have at most {MAX_PASSWORD_CHARS} characters")]
    TooLong,
    #[error("must not contain the login")]
    ContainsLogin,
    #[error("must not be one character repeated or a plain sequence")]
    Trivial,
}

/// Whether `password` may be chosen by the person signing in as `login`.
pub fn check_password(login: &str, password: &str) -> Result<(), WeakPassword> {
    let n = password.chars().count();
    if n < MIN_PASSWORD_CHARS {
        return Err(WeakPassword::TooShort);
    }
    if n > MAX_PASSWORD_CHARS {
        return Err(WeakPassword::TooLong);
    }
    if !login.is_empty() && password.to_lowercase().contains(&login.to_lowercase()) {
        return Err(WeakPassword::ContainsLogin);
    }
    let chars: Vec<char> = password.chars().collect();
    let steps: Vec<i64> = chars
        .windows(2)
        .map(|w| i64::from(u32::from(w[1])) - i64::from(u32::from(w[0])))
        .collect();
    if steps.iter().all(|s| *s == steps[0]) && steps[0].abs() <= 1 {
        return Err(WeakPassword::Trivial);
    }
    Ok(())
}

/// A one-time password an administrator hands to a person: 20 characters from an alphabet
/// without look-alikes (100 bits), in groups of five.
pub fn new_one_time_password() -> Result<Zeroizing<String>, CryptoError> {
    const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let bytes = Zeroizing::new(random::<20>()?);
    let mut out = Zeroizing::new(String::with_capacity(23));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push('-');
        }
        out.push(char::from(ALPHABET[usize::from(b & 31)]));
    }
    Ok(out)
}

/// A TOTP secret, in memory only while it is used.
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl TotpSecret {
    /// A new random secret.
    pub fn generate() -> Result<Self, CryptoError> {
        Ok(TotpSecret(Zeroizing::new(
            random::<TOTP_SECRET_BYTES>()?.to_vec(),
        )))
    }

    fn totp(&self, issuer: &str, login: &str) -> Result<TOTP, CryptoError> {
        // The otpauth label may not hold a colon; nothing else about the names matters here.
        TOTP::new(
            totp_rs::Algorithm::SHA1,
            TOTP_DIGITS,
            1,
            TOTP_STEP,
            self.0.to_vec(),
            Some(issuer.replace(':', " ")),
            login.replace(':', " "),
        )
        .map_err(|_| CryptoError::Totp)
    }

    /// A secret as an authenticator app was given it by hand (base32), e.g. to compute codes in
    /// a test as the app would.
    pub fn from_base32(text: &str) -> Result<Self, CryptoError> {
        let bytes = totp_rs::Secret::Encoded(text.trim().to_owned())
            .to_bytes()
            .map_err(|_| CryptoError::Totp)?;
        Ok(TotpSecret(Zeroizing::new(bytes)))
    }

    /// The secret as an authenticator app is given it by hand (RFC 4648 base32).
    pub fn base32(&self) -> Result<Zeroizing<String>, CryptoError> {
        Ok(Zeroizing::new(
            self.totp("derbes", "x")?.get_secret_base32(),
        ))
    }

    /// The `otpauth://` address an authenticator app reads from a QR code.
    pub fn uri(&self, issuer: &str, login: &str) -> Result<Zeroizing<String>, CryptoError> {
        Ok(Zeroizing::new(self.totp(issuer, login)?.get_url()))
    }

    /// The code at `unix_seconds` (for tests and for showing a person what to expect).
    pub fn code_at(&self, unix_seconds: u64) -> Result<String, CryptoError> {
        Ok(self.totp("derbes", "x")?.generate(unix_seconds))
    }

    /// The time step `code` belongs to, if it is the code of the step at `unix_seconds` or of
    /// the one before or after, and later than `after` (a step already used is never accepted
    /// again, so a code seen over a shoulder cannot be replayed). Compared in constant time.
    pub fn verify(&self, code: &str, unix_seconds: u64, after: Option<u64>) -> Option<u64> {
        let totp = self.totp("derbes", "x").ok()?;
        let code = code.trim();
        let now = unix_seconds / TOTP_STEP;
        let mut found = None;
        for step in now.saturating_sub(1)..=now + 1 {
            let expected = totp.generate(step * TOTP_STEP);
            let same: bool = expected.as_bytes().ct_eq(code.as_bytes()).into();
            if same && after.is_none_or(|a| step > a) && found.is_none() {
                found = Some(step);
            }
        }
        found
    }
}

impl KeyRing {
    fn password_hasher(&self) -> Result<Argon2<'_>, CryptoError> {
        Argon2::new_with_secret(
            self.password_pepper.as_ref(),
            Algorithm::Argon2id,
            Version::V0x13,
            params()?,
        )
        .map_err(|_| CryptoError::Password)
    }

    /// A password's hash in PHC form (Argon2id, a random salt, the pepper from the key file).
    /// Slow on purpose: call it off the async runtime.
    pub fn hash_password(&self, password: &str) -> Result<String, CryptoError> {
        let salt = SaltString::encode_b64(&random::<16>()?).map_err(|_| CryptoError::Password)?;
        Ok(self
            .password_hasher()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|_| CryptoError::Password)?
            .to_string())
    }

    /// Whether `password` is the one `stored` was made from (constant time). A stored hash that
    /// is not Argon2id or asks for far more work than derbes sets is refused without hashing.
    pub fn verify_password(&self, password: &str, stored: &str) -> bool {
        let Ok(hash) = PasswordHash::new(stored) else {
            return false;
        };
        let Ok(stored_params) = Params::try_from(&hash) else {
            return false;
        };
        if hash.algorithm != Algorithm::Argon2id.ident()
            || stored_params.m_cost() > PASSWORD_MEMORY_KIB * MAX_COST_FACTOR
            || stored_params.t_cost() > PASSWORD_PASSES * MAX_COST_FACTOR
            || stored_params.p_cost() > MAX_COST_FACTOR
        {
            return false;
        }
        self.password_hasher()
            .is_ok_and(|h| h.verify_password(password.as_bytes(), &hash).is_ok())
    }

    /// Spends the time of one verification and answers `false`: a sign-in for a login that
    /// does not exist takes as long as one with a wrong password.
    pub fn verify_no_password(&self, password: &str) {
        let dummy = self.dummy_password_hash.get_or_init(|| {
            self.hash_password("derbes: no such account")
                .unwrap_or_default()
        });
        let _ = self.verify_password(password, dummy);
    }

    /// Whether a stored hash was made with other settings than today's (then it is made again
    /// at the next successful sign-in).
    pub fn password_needs_rehash(stored: &str) -> bool {
        let Ok(hash) = PasswordHash::new(stored) else {
            return true;
        };
        Params::try_from(&hash).map_or(true, |p| {
            p.m_cost() != PASSWORD_MEMORY_KIB || p.t_cost() != PASSWORD_PASSES || p.p_cost() != 1
        })
    }

    fn account_secret_ad(account: &Uuid) -> Vec<u8> {
        let mut ad = b"derbes/account-secret/v1".to_vec();
        ad.extend_from_slice(account.as_bytes());
        ad
    }

    /// Seals an account's TOTP secret, bound to the account.
    pub fn seal_totp(&self, account: &Uuid, secret: &TotpSecret) -> Result<Vec<u8>, CryptoError> {
        let nonce: [u8; 24] = random()?;
        let cipher = XChaCha20Poly1305::new(self.account_secrets.as_ref().into());
        let ct = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &secret.0,
                    aad: &Self::account_secret_ad(account),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        let mut out = Vec::with_capacity(1 + 24 + ct.len());
        out.push(1);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        Ok(out)
    }

    /// Opens an account's sealed TOTP secret.
    pub fn open_totp(&self, account: &Uuid, sealed: &[u8]) -> Result<TotpSecret, CryptoError> {
        match sealed.first() {
            Some(1) if sealed.len() > 1 + 24 + 16 => {}
            Some(v) => return Err(CryptoError::Format(*v)),
            None => return Err(CryptoError::Format(0)),
        }
        let cipher = XChaCha20Poly1305::new(self.account_secrets.as_ref().into());
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&sealed[1..25]),
                Payload {
                    msg: &sealed[25..],
                    aad: &Self::account_secret_ad(account),
                },
            )
            .map_err(|_| CryptoError::Open)?;
        Ok(TotpSecret(Zeroizing::new(plain)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> KeyRing {
        KeyRing::generate().unwrap()
    }

    #[test]
    fn a_password_verifies_and_another_does_not() {
        let keys = ring();
        let phc = keys.hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=5,p=1$"), "{phc}");
        assert!(keys.verify_password("correct horse battery", &phc));
        assert!(!keys.verify_password("correct horse batterY", &phc));
        assert!(!KeyRing::password_needs_rehash(&phc));
        // Two hashes of one password differ (salt).
        assert_ne!(phc, keys.hash_password("correct horse battery").unwrap());
    }

    #[test]
    fn a_password_needs_the_key_file_it_was_hashed_under() {
        let phc = ring().hash_password("correct horse battery").unwrap();
        assert!(!ring().verify_password("correct horse battery", &phc));
    }

    #[test]
    fn hashes_derbes_did_not_make_are_refused_unverified() {
        let keys = ring();
        assert!(!keys.verify_password("x", "not a hash"));
        // Argon2i, and an Argon2id asking for 1 GiB: refused before any hashing.
        assert!(!keys.verify_password(
            "x",
            "$argon2i$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A"
        ));
        assert!(!keys.verify_password(
            "x",
            "$argon2id$v=19$m=1048576,t=2,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A"
        ));
        assert!(KeyRing::password_needs_rehash(
            "$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$iWh06vD8Fy27wf9npn6FXWiCX4K6pW6Ue1Bnzz07Z8A"
        ));
    }

    #[test]
    fn weak_passwords_are_named() {
        assert_eq!(
            check_password("aliya", "short"),
            Err(WeakPassword::TooShort)
        );
        assert_eq!(
            check_password("aliya", "my-name-is-ALIYA!"),
            Err(WeakPassword::ContainsLogin)
        );
        assert_eq!(
            check_password("aliya", "aaaaaaaaaaaaaa"),
            Err(WeakPassword::Trivial)
        );
        assert_eq!(
            check_password("aliya", "abcdefghijklm"),
            Err(WeakPassword::Trivial)
        );
        assert_eq!(
            check_password("aliya", &"x".repeat(257)),
            Err(WeakPassword::TooLong)
        );
        assert_eq!(check_password("aliya", "Жаз келді, 2026!"), Ok(()));
    }

    #[test]
    fn one_time_passwords_are_readable_and_pass_the_rules() {
        let a = new_one_time_password().unwrap();
        let b = new_one_time_password().unwrap();
        assert_ne!(*a, *b);
        assert_eq!(a.len(), 23);
        assert!(a.split('-').all(|g| g.len() == 5));
        assert!(!a.contains(['l', '1', 'o', '0']));
        assert_eq!(check_password("aliya", &a), Ok(()));
    }

    /// RFC 6238, appendix B (SHA-1, the 20-byte secret "12345678901234567890"), six digits.
    #[test]
    fn totp_codes_are_rfc_6238s() {
        let secret = TotpSecret(Zeroizing::new(b"12345678901234567890".to_vec()));
        for (time, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ] {
            assert_eq!(secret.code_at(time).unwrap(), code, "at {time}");
        }
    }

    #[test]
    fn a_totp_code_holds_one_step_either_way_and_once() {
        let secret = TotpSecret::generate().unwrap();
        let now = 1_800_000_000;
        let step = now / 30;
        let code = secret.code_at(now).unwrap();
        assert_eq!(secret.verify(&code, now, None), Some(step));
        assert_eq!(secret.verify(&code, now + 30, None), Some(step));
        assert_eq!(secret.verify(&code, now - 30, None), Some(step));
        assert_eq!(secret.verify(&code, now + 60, None), None);
        // Used once: not again, and not an older step's code either.
        assert_eq!(secret.verify(&code, now, Some(step)), None);
        let earlier = secret.code_at(now - 30).unwrap();
        assert_eq!(secret.verify(&earlier, now, Some(step)), None);
        assert_eq!(secret.verify("12345", now, None), None);
    }

    #[test]
    fn a_form_token_holds_for_its_session_only() {
        let keys = ring();
        let token = keys.form_token("digest-a");
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)));
        assert!(keys.verify_form_token("digest-a", &token));
        assert!(!keys.verify_form_token("digest-b", &token));
        assert!(!ring().verify_form_token("digest-a", &token));
        assert!(!keys.verify_form_token("digest-a", ""));
    }

    #[test]
    fn a_sealed_totp_secret_opens_only_for_its_account() {
        let keys = ring();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let secret = TotpSecret::generate().unwrap();
        let sealed = keys.seal_totp(&a, &secret).unwrap();
        let opened = keys.open_totp(&a, &sealed).unwrap();
        assert_eq!(*opened.base32().unwrap(), *secret.base32().unwrap());
        let typed = TotpSecret::from_base32(&secret.base32().unwrap()).unwrap();
        assert_eq!(typed.code_at(59).unwrap(), secret.code_at(59).unwrap());
        assert!(keys.open_totp(&b, &sealed).is_err());
        assert!(ring().open_totp(&a, &sealed).is_err());
        let uri = secret.uri("Мектеп № 1", "aliya").unwrap();
        assert!(uri.starts_with("otpauth://totp/"), "{}", *uri);
        assert!(
            uri.contains("secret=") && uri.contains("issuer="),
            "{}",
            *uri
        );
    }
}

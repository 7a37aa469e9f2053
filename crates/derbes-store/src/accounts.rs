//! Person accounts (the console's users: admins, DPOs, staff, auditors) and their sign-in
//! sessions. Passwords are kept as Argon2id hashes, TOTP secrets sealed, sessions by the
//! digest of their cookie: nothing here signs anyone in by itself.

use crate::StoreError;
use time::OffsetDateTime;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: Uuid,
    /// What the person signs in with, in lower case; unique.
    pub login: String,
    /// The name shown in the console and the audit trail's readers.
    pub display_name: String,
    pub role: String,
    /// The purposes a staff account acts for.
    pub purposes: Vec<String>,
    /// The console's language for this person (`kk`, `ru`, `en`).
    pub lang: String,
    /// The password's hash in PHC form.
    pub password_hash: String,
    /// The password was set by an administrator: the person chooses a new one at sign-in.
    pub must_change_password: bool,
    /// A second factor is asked for at every sign-in (enrolled at the next one if missing).
    pub totp_required: bool,
    /// The TOTP secret, sealed by the key ring, once enrolled.
    pub totp_secret: Option<Vec<u8>>,
    /// The last time step whose code was accepted (never accepted again).
    pub totp_last_step: Option<i64>,
    /// Failed sign-ins since the last successful one.
    pub failed_sign_ins: u32,
    /// Sign-in is refused until then.
    pub locked_until: Option<OffsetDateTime>,
    pub created_at: OffsetDateTime,
    pub disabled_at: Option<OffsetDateTime>,
    /// Raised by every change; a change made on an older version is refused.
    pub version: i64,
}

/// The columns of `accounts`, in the order both backends read them.
pub(crate) const ACCOUNT_COLUMNS: &str = "id, login, display_name, role, purposes, lang, password_hash, must_change_password, totp_required, totp_secret, totp_last_step, failed_sign_ins, locked_until, created_at, disabled_at, version";

/// How far a session has come through sign-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// The password was right; the TOTP code is asked for next.
    SecondFactor,
    /// The person must choose a new password before anything else.
    NewPassword,
    /// The person must enrol a second factor before anything else.
    EnrolSecondFactor,
    /// Signed in.
    SignedIn,
}

impl SessionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStage::SecondFactor => "second_factor",
            SessionStage::NewPassword => "new_password",
            SessionStage::EnrolSecondFactor => "enrol_second_factor",
            SessionStage::SignedIn => "signed_in",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "second_factor" => SessionStage::SecondFactor,
            "new_password" => SessionStage::NewPassword,
            "enrol_second_factor" => SessionStage::EnrolSecondFactor,
            "signed_in" => SessionStage::SignedIn,
            other => return Err(StoreError::Corrupt(format!("session stage `{other}`"))),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// The SHA-256 of the session's cookie; the cookie itself is never stored.
    pub digest: String,
    pub account_id: Uuid,
    pub stage: SessionStage,
    pub created_at: OffsetDateTime,
    /// When the person was last seen (to the minute): the idle timeout counts from here.
    pub last_seen_at: OffsetDateTime,
    /// The absolute end, whatever the activity.
    pub expires_at: OffsetDateTime,
    /// A second factor being enrolled: its secret, sealed, until the person confirms a code.
    pub pending_totp: Option<Vec<u8>>,
}

/// The columns of `sessions`, in the order both backends read them.
pub(crate) const SESSION_COLUMNS: &str =
    "digest, account_id, stage, created_at, last_seen_at, expires_at, pending_totp";

/// What happens to an account in a write.
#[derive(Debug, Clone)]
pub enum AccountChange {
    /// A new account (`LoginTaken` if its login is held).
    Create(AccountRecord),
    /// The account as it is to be, if it is still at `version - 1` (`VersionConflict`
    /// otherwise, `NotFound` when there is none).
    Update(AccountRecord),
}

/// Which sessions a write ends (their rows are deleted: an ended session is never honoured).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndSessions {
    None,
    /// The session with this digest.
    One(String),
    /// Every session of the account.
    AllOf(Uuid),
}

/// A change to accounts and sessions, atomic with its audit event: a sign-in step replaces the
/// session it continues, a password reset ends every session of the account.
#[derive(Debug, Clone)]
pub struct AccountWrite {
    pub account: Option<AccountChange>,
    pub end_sessions: EndSessions,
    pub start_session: Option<SessionRecord>,
    /// Its audit events (failed sign-ins too); a session ended for running out has none.
    pub audit: Vec<derbes_core::audit::AuditDraft>,
}

/// A JSON array of purposes as stored.
pub(crate) fn purposes_text(purposes: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(purposes).map_err(|e| StoreError::Backend(e.to_string()))
}

/// Person accounts and their sessions.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    async fn account(&self, id: Uuid) -> Result<Option<AccountRecord>, StoreError>;
    /// By login, in lower case.
    async fn account_by_login(&self, login: &str) -> Result<Option<AccountRecord>, StoreError>;
    /// Every account, disabled ones included, oldest first.
    async fn accounts(&self) -> Result<Vec<AccountRecord>, StoreError>;
    async fn session(&self, digest: &str) -> Result<Option<SessionRecord>, StoreError>;
}

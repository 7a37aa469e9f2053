//! Person accounts of the console (admins, DPOs, staff, auditors): created by an administrator
//! with a one-time password the person replaces at the first sign-in, listed, disabled and
//! enabled, reset (a new one-time password, and if asked a new second factor). A platform
//! integration is not a person: it keeps using a token.

use crate::access::Action;
use crate::actor::{Actor, Role};
use crate::vault::{Vault, VaultError};
use derbes_core::audit::{format_timestamp, AuditDraft, Outcome};
use derbes_core::text::Lang;
use derbes_store::{AccountChange, AccountRecord, AccountWrite, EndSessions, StoreError, WriteOp};
use serde_json::json;
use std::sync::Arc;
use time::OffsetDateTime;
use uuid::Uuid;
use zeroize::Zeroizing;

mod sign_in;
pub use crate::vault::SignInProblem;
pub use sign_in::{ConsoleSession, Enrolment, Issued, SessionLimits};

/// Argon2id hashes computed at once: each takes about 50 ms and 19 MiB, so a burst of
/// sign-ins queues here instead of taking every core and much memory.
const CONCURRENT_HASHES: usize = 2;

/// An account as listed: never its password hash or second factor.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccountView {
    pub id: Uuid,
    pub login: String,
    pub display_name: String,
    pub role: String,
    pub purposes: Vec<String>,
    pub lang: String,
    /// `active`, `locked` (after failed sign-ins, until `locked_until`) or `disabled`.
    pub status: &'static str,
    /// `enrolled`, `to_enrol` (asked for at the next sign-in) or `off`.
    pub second_factor: &'static str,
    pub must_change_password: bool,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locked_until: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
}

/// An account with a one-time password just set: the only time the password is shown.
#[derive(Debug, Clone)]
pub struct IssuedPassword {
    pub account: AccountView,
    pub one_time_password: Zeroizing<String>,
}

/// What an administrator gives for a new account.
#[derive(Debug, Clone)]
pub struct AccountSpec {
    pub login: String,
    pub display_name: String,
    pub role: Role,
    /// For staff: the purposes the person acts for.
    pub purposes: Vec<String>,
    /// The console's language for the person; Kazakh when not given.
    pub lang: Option<String>,
    /// Whether a second factor is asked for; always for admins and DPOs, by default for no one
    /// else.
    pub second_factor: Option<bool>,
}

pub(crate) fn view(a: &AccountRecord, now: OffsetDateTime) -> AccountView {
    let locked = a.locked_until.filter(|u| *u > now);
    AccountView {
        id: a.id,
        login: a.login.clone(),
        display_name: a.display_name.clone(),
        role: a.role.clone(),
        purposes: a.purposes.clone(),
        lang: a.lang.clone(),
        status: if a.disabled_at.is_some() {
            "disabled"
        } else if locked.is_some() {
            "locked"
        } else {
            "active"
        },
        second_factor: match (&a.totp_secret, a.totp_required) {
            (Some(_), _) => "enrolled",
            (None, true) => "to_enrol",
            (None, false) => "off",
        },
        must_change_password: a.must_change_password,
        created_at: format_timestamp(a.created_at),
        locked_until: locked.map(format_timestamp),
        disabled_at: a.disabled_at.map(format_timestamp),
    }
}

/// A login as typed, in the form it is stored and looked up in.
pub(crate) fn fold_login(login: &str) -> String {
    login.trim().to_lowercase()
}

/// A login as stored: trimmed and in lower case; 3-64 of `a-z 0-9 . _ -`, starting with a
/// letter or digit.
pub(crate) fn normalize_login(login: &str) -> Result<String, VaultError> {
    let login = fold_login(login);
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || ".-_".contains(c);
    let n = login.chars().count();
    if !(3..=64).contains(&n)
        || !login.chars().all(allowed)
        || !login.starts_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err(VaultError::InvalidField {
            field: "login",
            detail: "must be 3-64 characters: Latin letters, digits, `.`, `_` or `-`, starting with a letter or digit (e.g. aliya.serikova)".into(),
        });
    }
    Ok(login)
}

/// Person accounts: the kernel, and the queue for password hashing.
pub struct Accounts {
    vault: Arc<Vault>,
    hashing: Arc<tokio::sync::Semaphore>,
    limits: SessionLimits,
}

impl Accounts {
    pub(crate) fn new(vault: Arc<Vault>, limits: SessionLimits) -> Self {
        Accounts {
            vault,
            hashing: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_HASHES)),
            limits,
        }
    }

    /// Runs Argon2id work off the async runtime, a few at a time.
    pub(crate) async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce(&derbes_crypto::KeyRing) -> T + Send + 'static,
    ) -> Result<T, VaultError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| VaultError::Unavailable("derbes is shutting down".into()))?;
        let keys = self.vault.keys();
        tokio::task::spawn_blocking(move || work(&keys))
            .await
            .map_err(|_| VaultError::Unavailable("a password could not be checked".into()))
    }

    /// A new one-time password and its hash.
    async fn one_time_password(&self) -> Result<(Zeroizing<String>, String), VaultError> {
        let password = derbes_crypto::new_one_time_password()?;
        let to_hash = password.clone();
        let hash = self.hashing(move |k| k.hash_password(&to_hash)).await??;
        Ok((password, hash))
    }

    /// Creates an account with a one-time password, shown once.
    pub async fn create(
        &self,
        actor: &Actor,
        spec: AccountSpec,
    ) -> Result<IssuedPassword, VaultError> {
        self.vault.authorize(actor, Action::AccountCreate)?;
        let login = normalize_login(&spec.login)?;
        let display_name = spec.display_name.trim();
        if display_name.is_empty()
            || display_name.chars().count() > 100
            || display_name.chars().any(char::is_control)
        {
            return Err(VaultError::InvalidField {
                field: "display_name",
                detail:
                    "must be 1-100 printable characters: the person's name as colleagues know it"
                        .into(),
            });
        }
        if spec.role == Role::Integration {
            return Err(VaultError::InvalidField {
                field: "role",
                detail: "must be admin, dpo, staff or auditor: a platform integration is not a person and keeps using a token (`derbes token create --role integration`)".into(),
            });
        }
        self.vault
            .check_reach_of("account", spec.role, &spec.purposes)?;
        let lang = match spec.lang.as_deref().map(str::trim) {
            None | Some("") => Lang::Kk,
            Some(l) => l.parse().map_err(|_| VaultError::InvalidField {
                field: "lang",
                detail: format!("is `{l}`; use kk, ru or en"),
            })?,
        };
        let officer = matches!(spec.role, Role::Admin | Role::Dpo);
        if officer && spec.second_factor == Some(false) {
            return Err(VaultError::InvalidField {
                field: "second_factor",
                detail: format!(
                    "cannot be switched off: a `{}` account always signs in with a second factor",
                    spec.role
                ),
            });
        }
        let (password, password_hash) = self.one_time_password().await?;
        let now = self.vault.now();
        let record = AccountRecord {
            id: Uuid::now_v7(),
            login,
            display_name: display_name.to_owned(),
            role: spec.role.code().to_owned(),
            purposes: spec.purposes,
            lang: lang.code().to_owned(),
            password_hash,
            must_change_password: true,
            totp_required: officer || spec.second_factor == Some(true),
            totp_secret: None,
            totp_last_step: None,
            failed_sign_ins: 0,
            locked_until: None,
            created_at: now,
            disabled_at: None,
            version: 1,
        };
        let audit =
            AuditDraft::new(&actor.audit_name(), "account.create", Outcome::Ok).details(&json!({
                "account_id": record.id,
                "login": record.login,
                "role": record.role,
                "purposes": record.purposes,
                "second_factor": record.totp_required,
            }));
        let account = view(&record, now);
        self.write(AccountChange::Create(record), EndSessions::None, audit)
            .await?;
        Ok(IssuedPassword {
            account,
            one_time_password: password,
        })
    }

    /// Every account, disabled ones included, oldest first.
    pub async fn list(&self, actor: &Actor) -> Result<Vec<AccountView>, VaultError> {
        self.vault.authorize(actor, Action::AccountList)?;
        let now = self.vault.now();
        Ok(self
            .vault
            .store()
            .accounts()
            .await?
            .iter()
            .map(|a| view(a, now))
            .collect())
    }

    /// Disables an account and ends its sessions at once (`enable: false`), or enables it
    /// again. Doing it twice changes nothing the second time.
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        login: &str,
        disabled: bool,
    ) -> Result<AccountView, VaultError> {
        self.vault.authorize(actor, Action::AccountDisable)?;
        let mut account = self.by_login(login).await?;
        if disabled && actor.account == Some(account.id) {
            return Err(VaultError::Conflict(
                "an administrator cannot disable their own account (it would lock them out); ask another administrator, or use `derbes users disable` at the command line".into(),
            ));
        }
        let now = self.vault.now();
        if account.disabled_at.is_some() == disabled {
            return Ok(view(&account, now));
        }
        account.disabled_at = disabled.then_some(now);
        let action = if disabled {
            "account.disable"
        } else {
            "account.enable"
        };
        let audit = AuditDraft::new(&actor.audit_name(), action, Outcome::Ok)
            .details(&json!({ "account_id": account.id, "login": account.login }));
        self.replace(account, audit).await
    }

    /// Gives an account a new one-time password, lifts a lockout and ends its sessions; with
    /// `second_factor`, also removes its enrolled second factor (a lost phone), to be enrolled
    /// again at the next sign-in.
    pub async fn reset(
        &self,
        actor: &Actor,
        login: &str,
        second_factor: bool,
    ) -> Result<IssuedPassword, VaultError> {
        self.vault.authorize(actor, Action::AccountReset)?;
        let mut account = self.by_login(login).await?;
        let (password, password_hash) = self.one_time_password().await?;
        account.password_hash = password_hash;
        account.must_change_password = true;
        account.failed_sign_ins = 0;
        account.locked_until = None;
        if second_factor {
            account.totp_secret = None;
            account.totp_last_step = None;
        }
        let audit =
            AuditDraft::new(&actor.audit_name(), "account.reset", Outcome::Ok).details(&json!({
                "account_id": account.id,
                "login": account.login,
                "second_factor": second_factor,
            }));
        Ok(IssuedPassword {
            account: self.replace(account, audit).await?,
            one_time_password: password,
        })
    }

    /// Writes an administrator's change to an account and ends its sessions at once.
    async fn replace(
        &self,
        mut account: AccountRecord,
        audit: AuditDraft,
    ) -> Result<AccountView, VaultError> {
        account.version += 1;
        let shown = view(&account, self.vault.now());
        let id = account.id;
        self.write(
            AccountChange::Update(account),
            EndSessions::AllOf(id),
            audit,
        )
        .await?;
        Ok(shown)
    }

    async fn by_login(&self, login: &str) -> Result<AccountRecord, VaultError> {
        self.vault
            .store()
            .account_by_login(&fold_login(login))
            .await?
            .ok_or(VaultError::AccountNotFound)
    }

    async fn write(
        &self,
        change: AccountChange,
        end_sessions: EndSessions,
        audit: AuditDraft,
    ) -> Result<(), VaultError> {
        let op = WriteOp::Account(Box::new(AccountWrite {
            account: Some(change),
            end_sessions,
            start_session: None,
            audit: vec![audit],
        }));
        match self.vault.store().write(op).await {
            Ok(_) => Ok(()),
            Err(StoreError::LoginTaken) => Err(VaultError::Taken("login")),
            Err(StoreError::VersionConflict) => Err(VaultError::Conflict(
                "the account was changed meanwhile; read it again and retry".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_login;

    #[test]
    fn logins_are_folded_and_checked() {
        assert_eq!(
            normalize_login("  Aliya.Serikova ").unwrap(),
            "aliya.serikova"
        );
        for bad in ["al", "әлия", "aliya serikova", "-aliya", &"a".repeat(65)] {
            assert!(normalize_login(bad).is_err(), "{bad}");
        }
    }
}

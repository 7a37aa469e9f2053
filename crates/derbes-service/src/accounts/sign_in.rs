//! Signing in to the console, step by step: the password, then the second factor, then (when
//! an administrator set the password) a new password, then (when a second factor is required
//! and none is enrolled) enrolling one. Each step ends the session it continues and starts a
//! new one, so a session cookie seen before sign-in is worth nothing after it.
//!
//! Failed passwords and codes count against the account: from the fifth in a row, sign-in is
//! paused for a minute, doubling with each further failure up to an hour; a successful sign-in
//! clears the count. The answer never says whether a login exists, is locked or disabled, and
//! takes as long in every case.

use super::{fold_login, view, AccountView, Accounts};
use crate::actor::{Actor, Role};
use crate::vault::{SignInProblem, VaultError};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_store::{
    AccountChange, AccountRecord, AccountWrite, EndSessions, SessionRecord, SessionStage, WriteOp,
};
use serde_json::json;
use time::{Duration, OffsetDateTime};
use zeroize::Zeroizing;

/// Failed sign-ins in a row that do not pause the account.
const FREE_FAILURES: u32 = 4;
/// The longest pause.
const MAX_PAUSE_MINUTES: i64 = 60;
/// A sign-in that stopped halfway (a code not yet typed) is void after this long.
const STEP_LIFETIME: Duration = Duration::minutes(10);
/// A session's last activity is written at most this often.
const SEEN_EVERY: Duration = Duration::minutes(1);

/// How long a console session lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLimits {
    /// Without activity.
    pub idle: Duration,
    /// Whatever the activity.
    pub absolute: Duration,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: Duration::minutes(30),
            absolute: Duration::hours(12),
        }
    }
}

/// A session cookie just issued; the one it replaces is void.
#[derive(Debug)]
pub struct Issued {
    pub cookie: Zeroizing<String>,
    /// What the person is asked next (`SignedIn`: nothing).
    pub stage: SessionStage,
}

/// A session, as a console page sees it.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub stage: SessionStage,
    pub account: AccountView,
    /// The actor the person acts as (only once signed in).
    pub actor: Option<Actor>,
    /// The token every form of this session carries.
    pub csrf: String,
    /// The operator's local time (the working-day calendar's offset from UTC), for showing
    /// times.
    pub utc_offset: time::UtcOffset,
    digest: String,
}

/// A second factor being enrolled: what the person's app is given.
#[derive(Debug)]
pub struct Enrolment {
    /// For typing in by hand (base32).
    pub secret: Zeroizing<String>,
    /// For a QR code (`otpauth://`).
    pub uri: Zeroizing<String>,
}

fn refused() -> VaultError {
    VaultError::SignIn(SignInProblem::Refused)
}

/// What is still asked of a person whose password was right (and, with `factor_passed`, whose
/// second factor too).
fn stage_after(a: &AccountRecord, factor_passed: bool) -> SessionStage {
    if a.totp_secret.is_some() && !factor_passed {
        SessionStage::SecondFactor
    } else if a.must_change_password {
        SessionStage::NewPassword
    } else if a.totp_required && a.totp_secret.is_none() {
        SessionStage::EnrolSecondFactor
    } else {
        SessionStage::SignedIn
    }
}

/// How long an account is paused after `failures` failures in a row.
fn pause_after(failures: u32) -> Option<Duration> {
    let over = failures.checked_sub(FREE_FAILURES + 1)?;
    let minutes = 1i64.checked_shl(over.min(16)).unwrap_or(MAX_PAUSE_MINUTES);
    Some(Duration::minutes(minutes.min(MAX_PAUSE_MINUTES)))
}

fn actor_of(a: &AccountRecord) -> Option<Actor> {
    let role: Role = a.role.parse().ok()?;
    Some(Actor::person(a.id, &a.login, role, &a.purposes))
}

/// How the person appears in the audit trail (as [`Actor::person`] names them).
fn audit_name(a: &AccountRecord) -> String {
    format!("{}:{}", a.role, Actor::person_name(&a.login))
}

impl Accounts {
    fn new_session(
        &self,
        a: &AccountRecord,
        stage: SessionStage,
        now: OffsetDateTime,
        pending_totp: Option<Vec<u8>>,
    ) -> Result<(Zeroizing<String>, SessionRecord), VaultError> {
        let cookie = Zeroizing::new(derbes_crypto::new_token()?);
        let life = if stage == SessionStage::SignedIn {
            self.limits.absolute
        } else {
            STEP_LIFETIME
        };
        Ok((
            cookie.clone(),
            SessionRecord {
                digest: derbes_crypto::token_digest(&cookie),
                account_id: a.id,
                stage,
                created_at: now,
                last_seen_at: now,
                expires_at: now + life,
                pending_totp,
            },
        ))
    }

    /// Moves a sign-in on: the account as it is now, the session it continues ended, a new one
    /// at the next stage started; audited with `audit`, and as a sign-in when it completes one,
    /// in the same write.
    async fn advance(
        &self,
        mut account: AccountRecord,
        previous: Option<String>,
        audit: Option<AuditDraft>,
    ) -> Result<Issued, VaultError> {
        let now = self.vault.now();
        let stage = stage_after(&account, previous.is_some());
        let pending = if stage == SessionStage::EnrolSecondFactor {
            let secret = derbes_crypto::TotpSecret::generate()?;
            Some(self.vault.keys().seal_totp(&account.id, &secret)?)
        } else {
            None
        };
        let (cookie, session) = self.new_session(&account, stage, now, pending)?;
        let signed_in = (stage == SessionStage::SignedIn)
            .then(|| AuditDraft::new(&audit_name(&account), "account.sign_in", Outcome::Ok));
        let audit = audit.into_iter().chain(signed_in).collect();
        account.version += 1;
        self.vault
            .store()
            .write(WriteOp::Account(Box::new(AccountWrite {
                account: Some(AccountChange::Update(account)),
                end_sessions: previous.map_or(EndSessions::None, EndSessions::One),
                start_session: Some(session),
                audit,
            })))
            .await
            .map_err(|e| match e {
                // Another step of the same sign-in won the race: this one is void.
                derbes_store::StoreError::VersionConflict => {
                    VaultError::SignIn(SignInProblem::SessionEnded)
                }
                e => e.into(),
            })?;
        Ok(Issued { cookie, stage })
    }

    /// Counts a failed password or code: the account pauses after too many, and a sign-in
    /// halfway through ends with it.
    async fn failed(&self, mut account: AccountRecord, reason: &str) -> Result<(), VaultError> {
        let now = self.vault.now();
        account.failed_sign_ins = account.failed_sign_ins.saturating_add(1);
        let pause = pause_after(account.failed_sign_ins);
        account.locked_until = pause.map(|p| now + p);
        let mut audit = AuditDraft::new(&audit_name(&account), "account.sign_in", Outcome::Denied)
            .reason(reason);
        if let Some(p) = pause {
            audit = audit.details(&json!({ "paused_minutes": p.whole_minutes() }));
        }
        let end = if pause.is_some() {
            EndSessions::AllOf(account.id)
        } else {
            EndSessions::None
        };
        account.version += 1;
        // A failure counted concurrently is as good as this one.
        let _ = self
            .vault
            .store()
            .write(WriteOp::Account(Box::new(AccountWrite {
                account: Some(AccountChange::Update(account)),
                end_sessions: end,
                start_session: None,
                audit: vec![audit],
            })))
            .await;
        Ok(())
    }

    /// The first step: a login and a password.
    pub async fn sign_in(&self, login: &str, password: &str) -> Result<Issued, VaultError> {
        let login = fold_login(login);
        let password = Zeroizing::new(password.to_owned());
        let now = self.vault.now();
        let account = self.vault.store().account_by_login(&login).await?;
        let usable = account
            .as_ref()
            .filter(|a| a.disabled_at.is_none() && a.locked_until.is_none_or(|u| u <= now));
        let Some(a) = usable.cloned() else {
            // As slow as a real check, so that timing does not tell either.
            self.hashing(move |k| k.verify_no_password(&password))
                .await?;
            return Err(refused());
        };
        let stored = a.password_hash.clone();
        let (right, rehashed) = self
            .hashing(move |k| {
                let right = k.verify_password(&password, &stored);
                let rehashed = (right && derbes_crypto::KeyRing::password_needs_rehash(&stored))
                    .then(|| k.hash_password(&password).ok())
                    .flatten();
                (right, rehashed)
            })
            .await?;
        if !right {
            self.failed(a, "wrong password").await?;
            return Err(refused());
        }
        let mut a = a;
        a.failed_sign_ins = 0;
        a.locked_until = None;
        if let Some(h) = rehashed {
            a.password_hash = h;
        }
        self.advance(a, None, None).await
    }

    /// The session behind a cookie, ended if it ran out.
    async fn live(&self, cookie: &str) -> Result<(SessionRecord, AccountRecord), VaultError> {
        let ended = || VaultError::SignIn(SignInProblem::SessionEnded);
        let digest = derbes_crypto::token_digest(cookie);
        let store = self.vault.store();
        let session = store.session(&digest).await?.ok_or_else(ended)?;
        let now = self.vault.now();
        let idle = session.stage == SessionStage::SignedIn
            && now - session.last_seen_at > self.limits.idle;
        if now >= session.expires_at || idle {
            store
                .write(WriteOp::Account(Box::new(AccountWrite {
                    account: None,
                    end_sessions: EndSessions::One(digest),
                    start_session: None,
                    audit: Vec::new(),
                })))
                .await?;
            return Err(ended());
        }
        let account = store
            .account(session.account_id)
            .await?
            .filter(|a| a.disabled_at.is_none())
            .ok_or_else(ended)?;
        if now - session.last_seen_at >= SEEN_EVERY {
            store
                .write(WriteOp::SessionsSeen {
                    seen: vec![(digest, now)],
                })
                .await?;
        }
        Ok((session, account))
    }

    /// A live session at `stage`.
    async fn at_stage(
        &self,
        cookie: &str,
        stage: SessionStage,
    ) -> Result<(SessionRecord, AccountRecord), VaultError> {
        let (session, account) = self.live(cookie).await?;
        if session.stage != stage {
            return Err(VaultError::SignIn(SignInProblem::SessionEnded));
        }
        Ok((session, account))
    }

    /// The session behind a console cookie: who it is and what is still asked of them.
    pub async fn session(&self, cookie: &str) -> Result<ConsoleSession, VaultError> {
        let (session, account) = self.live(cookie).await?;
        let signed_in = session.stage == SessionStage::SignedIn;
        Ok(ConsoleSession {
            stage: session.stage,
            account: view(&account, self.vault.now()),
            actor: if signed_in { actor_of(&account) } else { None },
            csrf: self.vault.keys().form_token(&session.digest),
            utc_offset: self.vault.calendar().offset(),
            digest: session.digest,
        })
    }

    /// Whether a form's token is its session's (constant time).
    pub fn csrf_holds(&self, session: &ConsoleSession, token: &str) -> bool {
        self.vault.keys().verify_form_token(&session.digest, token)
    }

    /// The second step: the code of the person's authenticator app.
    pub async fn second_factor(&self, cookie: &str, code: &str) -> Result<Issued, VaultError> {
        let (session, mut a) = self.at_stage(cookie, SessionStage::SecondFactor).await?;
        let sealed = a.totp_secret.clone().ok_or_else(refused)?;
        let secret = self.vault.keys().open_totp(&a.id, &sealed)?;
        let now = self.vault.now().unix_timestamp().unsigned_abs();
        let last = a.totp_last_step.map(i64::unsigned_abs);
        let Some(step) = secret.verify(code, now, last) else {
            self.failed(a, "wrong code").await?;
            return Err(VaultError::SignIn(SignInProblem::WrongCode));
        };
        a.totp_last_step = i64::try_from(step).ok();
        a.failed_sign_ins = 0;
        self.advance(a, Some(session.digest), None).await
    }

    /// The person's own password, in place of the one-time password an administrator set.
    pub async fn choose_password(
        &self,
        cookie: &str,
        password: &str,
        repeated: &str,
    ) -> Result<Issued, VaultError> {
        let (session, mut a) = self.at_stage(cookie, SessionStage::NewPassword).await?;
        if password != repeated {
            return Err(VaultError::SignIn(SignInProblem::PasswordsDiffer));
        }
        derbes_crypto::check_password(&a.login, password)
            .map_err(|w| VaultError::SignIn(SignInProblem::WeakPassword(w)))?;
        let (password, stored) = (Zeroizing::new(password.to_owned()), a.password_hash.clone());
        let hash = self
            .hashing(move |k| {
                if k.verify_password(&password, &stored) {
                    Ok(None)
                } else {
                    k.hash_password(&password).map(Some)
                }
            })
            .await??
            .ok_or(VaultError::SignIn(SignInProblem::SamePassword))?;
        a.password_hash = hash;
        a.must_change_password = false;
        let audit = AuditDraft::new(&audit_name(&a), "account.password", Outcome::Ok);
        self.advance(a, Some(session.digest), Some(audit)).await
    }

    /// The second factor being enrolled: what to give the authenticator app.
    pub async fn enrolment(&self, cookie: &str) -> Result<Enrolment, VaultError> {
        let (session, a) = self
            .at_stage(cookie, SessionStage::EnrolSecondFactor)
            .await?;
        let sealed = session.pending_totp.ok_or_else(refused)?;
        let secret = self.vault.keys().open_totp(&a.id, &sealed)?;
        let issuer = format!(
            "derbes ({})",
            self.vault
                .declaration()
                .operator
                .name
                .get(derbes_core::text::Lang::En)
        );
        Ok(Enrolment {
            secret: secret.base32()?,
            uri: secret.uri(&issuer, &a.login)?,
        })
    }

    /// Enrols the second factor shown by [`Accounts::enrolment`], once the app's first code
    /// proves it was set up.
    pub async fn enrol_second_factor(
        &self,
        cookie: &str,
        code: &str,
    ) -> Result<Issued, VaultError> {
        let (session, mut a) = self
            .at_stage(cookie, SessionStage::EnrolSecondFactor)
            .await?;
        let sealed = session.pending_totp.clone().ok_or_else(refused)?;
        let secret = self.vault.keys().open_totp(&a.id, &sealed)?;
        let now = self.vault.now().unix_timestamp().unsigned_abs();
        let step = secret
            .verify(code, now, None)
            .ok_or(VaultError::SignIn(SignInProblem::WrongCode))?;
        a.totp_secret = Some(sealed);
        a.totp_last_step = i64::try_from(step).ok();
        let audit = AuditDraft::new(&audit_name(&a), "account.second_factor", Outcome::Ok);
        self.advance(a, Some(session.digest), Some(audit)).await
    }

    /// Ends a session (signing out); a session already ended is left as it is.
    pub async fn sign_out(&self, session: &ConsoleSession) -> Result<(), VaultError> {
        let audit = session
            .actor
            .as_ref()
            .map(|actor| AuditDraft::new(&actor.audit_name(), "account.sign_out", Outcome::Ok));
        self.vault
            .store()
            .write(WriteOp::Account(Box::new(AccountWrite {
                account: None,
                end_sessions: EndSessions::One(session.digest.clone()),
                start_session: None,
                audit: audit.into_iter().collect(),
            })))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_start_at_the_fifth_failure_and_double_up_to_an_hour() {
        let minutes: Vec<i64> = (1..=13)
            .map(|n| pause_after(n).map_or(0, |d| d.whole_minutes()))
            .collect();
        assert_eq!(minutes, [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(pause_after(u32::MAX).map(|d| d.whole_minutes()), Some(60));
    }
}

//! API tokens through their life: created (shown once, kept as a digest), checked on every
//! request, listed, revoked at once in every process, expired, and when each was last used.

use crate::access::Action;
use crate::actor::{scope_for, Actor, Role};
use crate::vault::{Vault, VaultError};
use derbes_core::audit::{format_timestamp, AuditDraft, Outcome};
use derbes_store::{Applied, TokenRecord, WriteOp};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long tokens live unless their creator says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenLifetimes {
    /// Integration tokens (a platform's): `None` never expire.
    pub integration_days: Option<u32>,
    /// Every other role's.
    pub person_days: Option<u32>,
}

impl Default for TokenLifetimes {
    fn default() -> Self {
        Self {
            integration_days: Some(365),
            person_days: None,
        }
    }
}

/// The longest life a token may be given.
pub const MAX_TOKEN_DAYS: u32 = 3660;

/// A token as listed: never the token or its digest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub role: String,
    pub purposes: Vec<String>,
    pub created_at: String,
    /// `active`, `expired` or `revoked`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<String>,
}

/// A token just created: the only time it is shown.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NewToken {
    pub token: String,
    #[serde(flatten)]
    pub view: TokenView,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    #[error("the token is not valid or has been revoked")]
    Invalid,
    #[error("the token expired at {0}; ask an administrator for a new one")]
    Expired(String),
    #[error("the token has an unknown role")]
    UnknownRole,
    #[error("the token could not be checked; try again")]
    Unavailable,
}

/// Tokens checked recently, and when each was used.
#[derive(Default)]
struct TokenCache {
    /// By digest: the token checked.
    checked: Mutex<HashMap<String, Checked>>,
    /// By digest: the minute it was last used, not yet written.
    used: Mutex<HashMap<String, OffsetDateTime>>,
}

/// A token checked: the actor, the store's token generation it was checked under, its expiry,
/// and when it was checked.
type Checked = (Actor, u64, Option<OffsetDateTime>, std::time::Instant);

/// A checked token is read from the store again after this long whatever the generation says:
/// a process that stopped between committing a revocation and announcing it is not trusted for
/// longer.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(60);

const CACHED_MAX: usize = 10_000;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn view(t: &TokenRecord, now: OffsetDateTime) -> TokenView {
    let expired = t.expires_at.is_some_and(|e| e <= now);
    TokenView {
        id: t.id,
        name: t.name.clone(),
        role: t.role.clone(),
        purposes: t.purposes.clone(),
        created_at: format_timestamp(t.created_at),
        status: if t.revoked_at.is_some() {
            "revoked"
        } else if expired {
            "expired"
        } else {
            "active"
        },
        expires_at: t.expires_at.map(format_timestamp),
        revoked_at: t.revoked_at.map(format_timestamp),
        last_used_at: t.last_used_at.map(format_timestamp),
    }
}

/// API tokens: who they are, the ones checked recently, and how long new ones live.
pub struct Tokens {
    vault: Arc<Vault>,
    cache: TokenCache,
    lifetimes: TokenLifetimes,
}

impl Tokens {
    pub(crate) fn new(vault: Arc<Vault>, lifetimes: TokenLifetimes) -> Self {
        Tokens {
            vault,
            cache: TokenCache::default(),
            lifetimes,
        }
    }

    /// The actor a bearer token stands for. A revoked token is refused at once, whichever
    /// process revoked it: a revocation is announced to every derbes (PostgreSQL's `NOTIFY`; on
    /// SQLite a marker file beside the database that grows), which then checks tokens in the
    /// store again; while a store cannot hear announcements, tokens are checked every time.
    pub async fn authenticate(&self, token: &str) -> Result<Actor, Unauthenticated> {
        let digest = derbes_crypto::token_digest(token);
        let now = self.vault.now();
        // Read before the store is asked: an announcement heard meanwhile changes it.
        let generation = self.vault.store().token_generation();
        if let Some(g) = generation {
            if let Some((actor, at, expires, checked)) = lock(&self.cache.checked).get(&digest) {
                if *at == g && expires.is_none_or(|e| e > now) && checked.elapsed() < RECHECK {
                    let actor = actor.clone();
                    self.note_use(digest, now);
                    return Ok(actor);
                }
            }
        }
        let record = self
            .vault
            .store()
            .token(&digest)
            .await
            .map_err(|_| Unauthenticated::Unavailable)?
            .filter(|t| t.revoked_at.is_none())
            .ok_or(Unauthenticated::Invalid)?;
        let expires = record.expires_at;
        if let Some(e) = expires.filter(|e| *e <= now) {
            return Err(Unauthenticated::Expired(format_timestamp(e)));
        }
        let role: Role = record
            .role
            .parse()
            .map_err(|_| Unauthenticated::UnknownRole)?;
        let actor = Actor {
            scope: scope_for(role, &record.purposes),
            name: record.name,
            role,
            token: Some(record.id),
            account: None,
        };
        if let Some(g) = generation {
            let mut cache = lock(&self.cache.checked);
            if cache.len() >= CACHED_MAX {
                cache.clear();
            }
            cache.insert(
                digest.clone(),
                (actor.clone(), g, expires, std::time::Instant::now()),
            );
        }
        self.note_use(digest, now);
        Ok(actor)
    }

    /// Remembers that a token was used now (to the minute); written in batches.
    fn note_use(&self, digest: String, now: OffsetDateTime) {
        let minute = now.replace_second(0).unwrap_or(now).replace_nanosecond(0);
        let minute = minute.unwrap_or(now);
        let mut used = lock(&self.cache.used);
        if used.len() < CACHED_MAX || used.contains_key(&digest) {
            used.insert(digest, minute);
        }
    }

    /// Writes when tokens were last used; returns how many.
    pub async fn record_token_use(&self) -> Result<usize, VaultError> {
        let used: Vec<(String, OffsetDateTime)> = lock(&self.cache.used).drain().collect();
        if used.is_empty() {
            return Ok(0);
        }
        let n = used.len();
        self.vault
            .store()
            .write(WriteOp::TokensUsed { used })
            .await?;
        Ok(n)
    }

    /// Creates a token for an admin: its life is `days` (`Some(None)`: none; `None`: the
    /// default for its role).
    pub async fn issue_token(
        &self,
        actor: &Actor,
        name: &str,
        role: Role,
        purposes: Vec<String>,
        days: Option<Option<u32>>,
    ) -> Result<NewToken, VaultError> {
        self.vault.authorize(actor, Action::TokenCreate)?;
        self.create_token(&actor.audit_name(), name, role, purposes, days)
            .await
    }

    /// Creates an API token (the command line, or an admin through [`Vault::issue_token`]);
    /// the token is shown once and stored only as a digest.
    pub async fn create_token(
        &self,
        actor_name: &str,
        name: &str,
        role: Role,
        purposes: Vec<String>,
        days: Option<Option<u32>>,
    ) -> Result<NewToken, VaultError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(VaultError::InvalidField {
                field: "name",
                detail: "must be 1-100 printable characters".into(),
            });
        }
        self.vault.check_reach_of("token", role, &purposes)?;
        let days = days.unwrap_or(if role == Role::Integration {
            self.lifetimes.integration_days
        } else {
            self.lifetimes.person_days
        });
        if let Some(d) = days.filter(|d| !(1..=MAX_TOKEN_DAYS).contains(d)) {
            return Err(VaultError::InvalidField {
                field: "expires_in_days",
                detail: format!("is {d}; give from 1 to {MAX_TOKEN_DAYS} days, or none"),
            });
        }
        let now = self.vault.now();
        let token = derbes_crypto::new_token()?;
        let record = TokenRecord {
            id: Uuid::now_v7(),
            digest: derbes_crypto::token_digest(&token),
            name: name.to_owned(),
            role: role.code().to_owned(),
            purposes: purposes.clone(),
            created_at: now,
            revoked_at: None,
            expires_at: days.map(|d| now + Duration::days(d.into())),
            last_used_at: None,
        };
        let audit = AuditDraft::new(actor_name, "token.create", Outcome::Ok).details(&json!({
            "token_id": record.id,
            "name": name,
            "role": role.code(),
            "purposes": purposes,
            "expires_at": record.expires_at.map(format_timestamp),
        }));
        let view = view(&record, now);
        self.vault
            .store()
            .write(WriteOp::CreateToken {
                token: record,
                audit,
            })
            .await?;
        Ok(NewToken { token, view })
    }

    /// How many tokens are not revoked (expired ones included): none at the first start.
    pub async fn count_active(&self) -> Result<u64, VaultError> {
        Ok(self.vault.store().count_active_tokens().await?)
    }

    /// Every token, revoked and expired ones included, oldest first.
    pub async fn list_tokens(&self, actor: &Actor) -> Result<Vec<TokenView>, VaultError> {
        self.vault.authorize(actor, Action::TokenList)?;
        let now = self.vault.now();
        Ok(self
            .vault
            .store()
            .tokens()
            .await?
            .iter()
            .map(|t| view(t, now))
            .collect())
    }

    /// Revokes a token at once; revoking it again answers with it as it is.
    pub async fn revoke_token(&self, actor: &Actor, id: Uuid) -> Result<TokenView, VaultError> {
        self.vault.authorize(actor, Action::TokenRevoke)?;
        if actor.token == Some(id) {
            return Err(VaultError::Conflict(
                "a token cannot revoke itself (it would lock its holder out); revoke it with another admin token, or with `derbes token revoke` at the command line".into(),
            ));
        }
        self.revoke(&actor.audit_name(), id).await
    }

    /// Revokes a token (the command line, or an admin through [`Vault::revoke_token`]).
    pub async fn revoke(&self, actor_name: &str, id: Uuid) -> Result<TokenView, VaultError> {
        let now = self.vault.now();
        let audit = AuditDraft::new(actor_name, "token.revoke", Outcome::Ok)
            .details(&json!({ "token_id": id }));
        match self
            .vault
            .store()
            .write(WriteOp::RevokeToken { id, at: now, audit })
            .await
        {
            Ok(Applied::TokenRevoked { token, .. }) => {
                lock(&self.cache.checked).remove(&token.digest);
                Ok(view(&token, now))
            }
            Ok(other) => Err(VaultError::Store(derbes_store::StoreError::Backend(
                format!("a revocation was answered with {other:?}"),
            ))),
            Err(derbes_store::StoreError::NotFound) => Err(VaultError::TokenNotFound),
            Err(e) => Err(e.into()),
        }
    }
}

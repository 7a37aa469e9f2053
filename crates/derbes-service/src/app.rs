//! The application: the kernel and the capabilities over it, composed once. A front end holds
//! one `App` and calls the capability an operation belongs to (`app.tokens`, `app.policy`);
//! the capabilities not yet split from the kernel are still methods of `app.vault`.

use crate::accounts::Accounts;
use crate::audit_archive::AuditDuty;
use crate::consents::Consents;
use crate::decisions::Decisions;
use crate::destruction::{DestructionLog, Destructions};
use crate::keys::Keys;
use crate::policy::{Policy, PolicyTemplates};
use crate::receipts::Receipts;
use crate::requests::{RequestSettings, Requests};
use crate::retention::Retention;
use crate::subjects::Subjects;
use crate::tokens::{TokenLifetimes, Tokens};
use crate::vault::Vault;
use std::sync::Arc;

pub struct App {
    /// The kernel: declaration, key ring, store, clock; seal, open, audit, write.
    pub vault: Arc<Vault>,
    pub subjects: Subjects,
    pub keys: Keys,
    pub consents: Consents,
    pub decisions: Decisions,
    pub receipts: Receipts,
    pub audit: AuditDuty,
    pub tokens: Tokens,
    /// Person accounts of the console.
    pub accounts: Accounts,
    pub policy: Policy,
    pub destructions: Arc<Destructions>,
    pub requests: Requests,
    /// Lifecycle events, and what expires when.
    pub retention: Retention,
}

/// How the capabilities are configured; the defaults are derbes's own.
#[derive(Default)]
pub struct Settings {
    /// How long new tokens live unless their creator says otherwise.
    pub token_lifetimes: TokenLifetimes,
    /// The policy's templates: the shipped ones, or the operator's.
    pub policy_templates: PolicyTemplates,
    /// Where destructions are logged to outlive a restore from backup.
    pub destruction_log: Option<DestructionLog>,
    pub requests: RequestSettings,
    /// How long console sessions live.
    pub sessions: crate::accounts::SessionLimits,
    pub retention: crate::retention::RetentionSettings,
}

impl App {
    pub fn new(vault: impl Into<Arc<Vault>>, settings: Settings) -> Self {
        let vault = vault.into();
        let destructions = Arc::new(Destructions::new(
            Arc::clone(&vault),
            settings.destruction_log,
            &settings.requests.webhooks,
        ));
        App {
            subjects: Subjects::new(Arc::clone(&vault)),
            keys: Keys::new(Arc::clone(&vault)),
            consents: Consents::new(Arc::clone(&vault)),
            decisions: Decisions::new(Arc::clone(&vault)),
            receipts: Receipts::new(Arc::clone(&vault)),
            audit: AuditDuty::new(Arc::clone(&vault)),
            tokens: Tokens::new(Arc::clone(&vault), settings.token_lifetimes),
            accounts: Accounts::new(Arc::clone(&vault), settings.sessions),
            policy: Policy::new(Arc::clone(&vault), settings.policy_templates),
            requests: Requests::new(
                Arc::clone(&vault),
                Arc::clone(&destructions),
                settings.requests,
            ),
            retention: Retention::new(
                Arc::clone(&vault),
                settings.retention,
                Arc::clone(&destructions),
            ),
            destructions,
            vault,
        }
    }
}

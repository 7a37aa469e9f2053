//! The application: the kernel and the capabilities over it, composed once. A front end holds
//! one `App` and calls the capability an operation belongs to (`app.tokens`, `app.policy`);
//! the capabilities not yet split from the kernel are still methods of `app.vault`.

use crate::destruction::{DestructionLog, Destructions};
use crate::policy::{Policy, PolicyTemplates};
use crate::requests::{RequestSettings, Requests};
use crate::tokens::{TokenLifetimes, Tokens};
use crate::vault::Vault;
use std::sync::Arc;

pub struct App {
    /// The kernel: declaration, key ring, store, clock; seal, open, audit, write.
    pub vault: Arc<Vault>,
    pub tokens: Tokens,
    pub policy: Policy,
    pub destructions: Arc<Destructions>,
    pub requests: Requests,
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
}

impl App {
    pub fn new(vault: impl Into<Arc<Vault>>, settings: Settings) -> Self {
        let vault = vault.into();
        let destructions = Arc::new(Destructions::new(
            Arc::clone(&vault),
            settings.destruction_log,
        ));
        App {
            tokens: Tokens::new(Arc::clone(&vault), settings.token_lifetimes),
            policy: Policy::new(Arc::clone(&vault), settings.policy_templates),
            requests: Requests::new(
                Arc::clone(&vault),
                Arc::clone(&destructions),
                settings.requests,
            ),
            destructions,
            vault,
        }
    }
}

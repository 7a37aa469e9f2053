//! derbes server: the REST API under `/api/v1`, its authentication, and the vault operations
//! (seal, open, index, decide, audit) behind it.

// The OpenAPI document is written as `json!` literals, deeper than the default limit allows.
#![recursion_limit = "256"]

mod access;
mod answers;
mod api;
mod audit_archive;
mod audit_chain;
mod auth;
mod consents;
mod decisions;
mod destruction;
mod facts_cache;
pub mod files;
mod html;
mod listen;
mod mail;
mod package;
mod policy;
mod problem;
mod receipts;
mod requests;
mod templates;
mod tokens;
mod unique_keys;
mod vault;
mod webhooks;

pub use answers::{AnswerTemplates, Letter};
pub use api::{router, ROUTES};
pub use audit_archive::{AuditArchive, DailyAudit, ARCHIVED};
pub use audit_chain::{
    since_last_restore, AuditStatus, CheckpointFile, CheckpointFileError, FileEntry,
    RestoreAcknowledged, RESTORE_ACKNOWLEDGED,
};
pub use auth::{Actor, Role, ROLES};
pub use consents::{ConsentInput, ConsentStep, FlagChange, FlagInput, LinkInput, ObligationInput};
pub use decisions::{Answer, Question, MAX_BATCH};
pub use destruction::{DestructionLog, Reconciled, RejectedLine, RESTORE_ACTOR};
pub use listen::{Limits, Rate};
pub use mail::{to_eml, Mail, MailError, Mailer, Outbox, Smtp};
pub use package::{Download, DEFAULT_DAYS as DEFAULT_PACKAGE_DAYS};
pub use policy::{
    changes_markdown, markdown_page, markdown_to_html, Document, PolicyTemplates, RenderError,
};
pub use problem::ApiError;
pub use receipts::{
    keys_from_set, published_keys, receipt_html, verify_receipt, ReceiptCheck, ReceiptSignature,
    SignedReceipt, RECEIPT_KEYS_PATH,
};
pub use requests::{
    mask_email, Action, ActionKind, ActionStatus, Channel, CodeSent, DocumentKind, RequestFilter,
    RequestInput, RequestView, Requester, StepInput, Verification,
};
pub use templates::TemplateError;
pub use tokens::{NewToken, TokenLifetimes, TokenView, Unauthenticated, MAX_TOKEN_DAYS};
pub use vault::{Clock, KeyLoader, PreparedSubject, Vault, VaultError};
pub use webhooks::{Webhook, WebhookEvent, WebhookMessage, SIGNATURE_HEADER};

use derbes_core::Declaration;
use derbes_crypto::KeyRing;
use derbes_store::Store;
use std::sync::Arc;

/// Largest accepted request body.
pub const BODY_LIMIT: usize = 256 * 1024;

/// How often a running server reads its key file again, to pick up versions that
/// `derbes keys rotate` added.
pub const KEY_RELOAD_PERIOD: std::time::Duration = std::time::Duration::from_secs(10);

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub vault: Arc<Vault>,
}

impl AppState {
    pub fn new(declaration: Arc<Declaration>, keys: Arc<KeyRing>, store: Arc<dyn Store>) -> Self {
        Self::with_vault(Arc::new(Vault::new(declaration, keys, store)))
    }

    pub fn with_vault(vault: Arc<Vault>) -> Self {
        Self { vault }
    }
}

/// Serves the API on `listener` until `shutdown` completes, with the default limits (timeouts
/// and connection limits, no rate limits).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, state, Limits::default(), shutdown).await
}

/// Serves the API on `listener` with `limits` until `shutdown` completes; then the requests in
/// flight finish, for at most `limits.shutdown`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (app, prune) = api::router_with(state, &limits);
    // The limiters keep a cell per token and address: those not seen for a while go.
    let pruning = tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
        loop {
            tick.tick().await;
            for p in &prune {
                p();
            }
        }
    });
    let served = listen::serve(listener, app, limits, shutdown).await;
    pruning.abort();
    served
}

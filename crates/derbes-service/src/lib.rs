//! derbes service: every use case behind the front ends. The REST API, the console and the
//! command line extract their input, make one call here and show the result; this crate
//! authorizes the caller, asks core for the decision, writes through the store with the audit
//! event, and renders the documents. It knows nothing of HTTP.

mod access;
mod accounts;
mod actor;
mod app;
mod audit_archive;
mod audit_chain;
mod consents;
mod decisions;
mod destruction;
pub mod files;
pub mod jobs;
mod keys;
mod outbound;
mod policy;
mod receipts;
mod render;
mod requests;
mod retention;
mod subject_file;
mod subjects;
mod today;
mod tokens;
pub mod unique_keys;
mod vault;

pub use accounts::{
    AccountSpec, AccountView, Accounts, ConsoleSession, Enrolment, Issued, IssuedPassword,
    SessionLimits, SignInProblem,
};
pub use actor::{scope_for, Actor, Role};
pub use app::{App, Settings};
pub use audit_archive::{AuditArchive, AuditDuty, DailyAudit, ARCHIVED};
pub use audit_chain::{
    since_last_restore, AuditFilter, AuditPage, AuditStatus, CheckpointFile, CheckpointFileError,
    FileEntry, RestoreAcknowledged, RESTORE_ACKNOWLEDGED,
};
pub use consents::{
    ConsentInput, ConsentStep, Consents, FlagChange, FlagInput, LinkInput, ObligationInput,
};
pub use decisions::{Answer, Decisions, Question, Reason, MAX_BATCH};
pub use derbes_crypto::WeakPassword;
pub use derbes_store::SessionStage;
pub use destruction::{DestructionLog, Destructions, Reconciled, RejectedLine, RESTORE_ACTOR};
pub use jobs::{JobSettings, JobStatus, KEY_RELOAD_PERIOD};
pub use keys::Keys;
pub use outbound::mail::{to_eml, Mail, MailError, Mailer, Outbox, Smtp};
pub use outbound::webhook::SIGNATURE_HEADER;
pub use policy::{changes_markdown, Document, PolicyOverview, PolicyTemplates, RenderError};
pub use receipts::{
    keys_from_set, published_keys, receipt_html, verify_receipt, ReceiptCheck, ReceiptSignature,
    Receipts, SignedReceipt, RECEIPT_KEYS_PATH,
};
pub use render::html::{markdown_page, markdown_to_html};
pub use render::promises;
pub use render::templates::TemplateError;
pub use requests::answers::{AnswerTemplates, Letter};
pub use requests::connectors::{Webhook, WebhookEvent, WebhookMessage};
pub use requests::package::{Download, DEFAULT_DAYS as DEFAULT_PACKAGE_DAYS};
pub use requests::report::ReportTemplates;
pub use requests::{
    mask_email, Action, ActionKind, ActionStatus, Channel, CodeSent, DocumentKind, RequestFilter,
    RequestInput, RequestSettings, RequestView, Requester, Requests, StepInput, Verification,
};
pub use retention::{
    act_html, act_page, batch_summary, ActPage, BatchView, DepersonalizedRelease, FieldRetention,
    LatestScan, LegalHoldView, LifecycleInput, LifecycleStep, LifecycleSync, LifecycleView,
    Retention, RetentionOverview, RetentionSettings, SignedAct, KEPT_SCAN_DAYS,
};
pub use subject_file::{SubjectFile, HISTORY_LIMIT};
pub use subjects::Subjects;
pub use today::{RequestsPart, RetentionPart, Today, TODAY_LIMIT};
pub use tokens::{NewToken, TokenLifetimes, TokenView, Tokens, Unauthenticated, MAX_TOKEN_DAYS};
pub use vault::{Clock, KeyLoader, PreparedSubject, Vault, VaultError};

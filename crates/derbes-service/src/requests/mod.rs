//! Data-subject requests in the vault: intake with a due date fixed and explained, duplicate
//! detection, identity verification (a one-time code to the contact on file, or a recorded
//! document check), the workflow steps core allows, and the actions derbes carries out itself
//! once a request is approved. Every step is audited with actor and time.

mod actions;
pub(crate) mod answers;
pub(crate) mod connectors;
mod intake;
pub(crate) mod package;
pub(crate) mod report;
mod verification;
mod workflow;

use crate::access::{self, RequestSight};
use crate::actor::{Actor, Role};
use crate::consents::{ConsentInput, ConsentStep, FlagChange, FlagInput};
use crate::outbound::mail::Mail;
use crate::vault::{Vault, VaultError, REQUEST_KEY_GENERATION, UPDATE_ATTEMPTS};
use answers::Letter;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use derbes_core::audit::{format_timestamp, AuditDraft, Outcome};
use derbes_core::consent::{ConsentProblem, Method};
use derbes_core::deadline::{due, rule_for, DueDate};
use derbes_core::declaration::Validator;
use derbes_core::flags::FlagReason;
use derbes_core::request::{advance, RejectionReason, RequestKind, Status, Step, StepContext};
use derbes_core::text::Lang;
use derbes_crypto::{DataKey, WrappedKey};
use derbes_store::{RequestQuery, RequestRecord, StoreError, WebhookStatus, WriteOp};
use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How long a one-time code is valid.
pub const CODE_VALIDITY: Duration = Duration::minutes(15);
/// Wrong codes allowed before a code is void.
pub const CODE_ATTEMPTS: u8 = 5;
/// Codes one request may be sent.
pub const CODE_SENDS: u8 = 3;
/// Longest free text of a request, in characters.
pub const MAX_DETAILS: usize = 4000;
/// How far back a paper request may be dated.
pub const MAX_BACKDATE: Duration = Duration::days(366);

/// How long a claim to send the answer keeps other calls from sending it: well beyond the mail
/// channel's own time limit, so that a claim lapses only when its call has died.
const ANSWER_CLAIM: Duration = Duration::minutes(5);

/// How a request reached the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// The subject portal or the operator's platform, through the API.
    Online,
    Email,
    /// On paper, at the office or by post; staff enter it.
    Paper,
}

/// A request as filed through the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    pub kind: RequestKind,
    pub subject_id: Uuid,
    /// The legal representative who files on the subject's behalf; absent when the subject files.
    pub representative_id: Option<Uuid>,
    pub channel: Channel,
    /// The language of the answer.
    pub language: Lang,
    /// The purpose a restriction, consent withdrawal or objection is about.
    pub purpose: Option<String>,
    /// The requester's own words.
    pub details: Option<String>,
    /// When a paper or e-mail request was received (default: now).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub received_at: Option<OffsetDateTime>,
    /// File it even when the subject has an open request of the same kind.
    #[serde(default)]
    pub allow_duplicate: bool,
}

/// Who asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Requester {
    Subject { id: Uuid },
    Representative { id: Uuid },
}

/// The furthest ahead a list of requests may look for due dates (ten years).
const MAX_DUE_WITHIN_DAYS: u32 = 3660;
impl Requester {
    fn id(self) -> Uuid {
        match self {
            Requester::Subject { id } | Requester::Representative { id } => id,
        }
    }
}

/// How the requester's identity was confirmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Verification {
    /// A code sent to the contact on file was entered back.
    OneTimeCode {
        field: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
    /// Staff checked an identity document (and, for a representative, the document that gives
    /// the authority); the note is sealed.
    Document {
        document: DocumentKind,
        checked_by: String,
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    IdCard,
    Passport,
    BirthCertificate,
    PowerOfAttorney,
    CourtDecision,
    Other,
}

/// A one-time code in flight: only its MAC is kept.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Challenge {
    mac: String,
    field: String,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    attempts_left: u8,
}

/// Something derbes does to carry out a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    Block,
    Unblock,
    Restrict,
    WithdrawConsent,
    /// Export the data (the access package).
    Export,
    Rectify,
    /// Destroy the data (crypto-shredding, then the connectors).
    Destroy,
    /// A written answer (information, objection, complaint, and every outcome).
    Answer,
    /// Telling the operator's system (a webhook connector) and waiting for its confirmation.
    Webhook,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionStatus {
    Pending,
    /// Handed to a connector, which has not confirmed yet.
    Waiting,
    Done,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    pub kind: ActionKind,
    pub status: ActionStatus,
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
    /// Why it failed, or what it did; never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The fields it changed (a rectification).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The webhook connector it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// The connector's job (its idempotency key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Uuid>,
    /// Staff's own words on the action (the letter's reference, why it was settled by hand),
    /// sealed under the request's key (base64); a view with the key shows them after `note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_words: Option<String>,
}

impl Action {
    fn pending(kind: ActionKind) -> Self {
        Action {
            kind,
            status: ActionStatus::Pending,
            at: None,
            note: None,
            fields: Vec::new(),
            connector: None,
            job: None,
            staff_words: None,
        }
    }

    fn webhook(name: &str) -> Self {
        Action {
            connector: Some(name.to_owned()),
            ..Action::pending(ActionKind::Webhook)
        }
    }
}

/// The actions a request of `kind` takes; `webhooks` are the connectors told of it. They come
/// before a destruction, which removes the identifiers they are sent.
fn actions_for(kind: RequestKind, webhooks: &[String]) -> Vec<Action> {
    use ActionKind::*;
    let own: &[ActionKind] = match kind {
        RequestKind::Information | RequestKind::Complaint => &[],
        RequestKind::AccessExport => &[Export],
        RequestKind::Rectification => &[Rectify],
        RequestKind::Blocking => &[Block],
        RequestKind::Unblocking => &[Unblock],
        RequestKind::Destruction => &[Destroy],
        RequestKind::Restriction | RequestKind::Objection => &[Restrict],
        RequestKind::ConsentWithdrawal => &[WithdrawConsent],
    };
    let hooks = webhooks.iter().map(|w| Action::webhook(w));
    let own = own.iter().copied().map(Action::pending);
    let mut all: Vec<Action> = if kind == RequestKind::Destruction {
        hooks.chain(own).collect()
    } else {
        own.chain(hooks).collect()
    };
    all.push(Action::pending(Answer));
    all
}

/// What running an action gave: its new status, the note, and the job it handed to a
/// connector; or why it failed.
type ActionOutcome = Result<(ActionStatus, String, Option<Uuid>), String>;

/// One step of the request's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: String,
    pub step: String,
    pub status: Status,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    pub reason: RejectionReason,
}

/// The server's part of a stored request (the `body` column).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Body {
    /// The token the request was filed with, when it came through one (an integration reaches
    /// the requests it filed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    filed_with: Option<Uuid>,
    requester: Requester,
    channel: Channel,
    language: Lang,
    purpose: Option<String>,
    /// The requester's words, sealed under the request's key (base64).
    details: Option<String>,
    due: DueDate,
    duplicate_of: Option<Uuid>,
    verification: Option<Verification>,
    /// Staff's note on the document check, sealed (base64).
    verification_note: Option<String>,
    challenge: Option<Challenge>,
    #[serde(default)]
    codes_sent: u8,
    submitted_by: Option<String>,
    rejection: Option<Rejection>,
    /// What a rectification's corrected values were checked against, sealed (base64).
    evidence: Option<String>,
    /// Where the written answer goes: the requester's e-mail on file when the request was
    /// decided (kept, sealed, because a destruction removes it from the subject).
    reply_to: Option<String>,
    /// The written answer as sent, sealed (base64).
    answer: Option<String>,
    /// When a `send_answer` call claimed the answer for delivery; no other call sends it until
    /// that one records it, releases it, or the claim is older than `ANSWER_CLAIM`.
    #[serde(default, with = "time::serde::rfc3339::option")]
    answer_sending: Option<OffsetDateTime>,
    /// The last day of the block the approval asked for; kept so that a re-run sets it too.
    #[serde(default, with = "derbes_core::iso_date::option")]
    block_until: Option<time::Date>,
    actions: Vec<Action>,
    history: Vec<HistoryEntry>,
}

impl Body {
    /// Records a workflow step: its line in the history, then the new status.
    fn took(
        &mut self,
        status: &mut Status,
        to: Status,
        step: &str,
        actor: &str,
        at: OffsetDateTime,
    ) {
        self.history.push(HistoryEntry {
            at,
            actor: actor.to_owned(),
            step: step.to_owned(),
            status: to,
        });
        *status = to;
    }

    /// Settles the webhook action waiting for `job`, if it is still open: done, or failed with
    /// `note`.
    pub(crate) fn settle_webhook(
        &mut self,
        job: Uuid,
        status: ActionStatus,
        note: String,
        at: OffsetDateTime,
    ) {
        if let Some(a) = self
            .actions
            .iter_mut()
            .find(|a| a.job == Some(job) && a.status != ActionStatus::Done)
        {
            a.status = status;
            a.note = Some(note);
            a.at = Some(at);
        }
    }

    /// Records the requester's verified identity and moves the request on.
    fn verified(
        &mut self,
        status: &mut Status,
        verification: Verification,
        actor: &str,
        at: OffsetDateTime,
    ) -> Result<Status, VaultError> {
        let to = advance(*status, Step::VerifyIdentity, StepContext::default())
            .map_err(VaultError::Step)?;
        self.verification = Some(verification);
        self.challenge = None;
        self.took(status, to, Step::VerifyIdentity.code(), actor, at);
        Ok(to)
    }
}

/// `text` trimmed, if it has 1 to `max` characters; else which field is wrong and what it
/// should hold.
fn required_text(
    field: &'static str,
    text: &str,
    max: usize,
    what: &str,
) -> Result<String, VaultError> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > max {
        return Err(VaultError::InvalidField {
            field,
            detail: format!("must be 1 to {max} characters: {what}"),
        });
    }
    Ok(text.to_owned())
}

/// The refusal of `step` in `status`, which only `allowed` permits.
fn not_now(status: Status, step: &'static str, allowed: Status) -> VaultError {
    VaultError::Step(derbes_core::request::StepProblem::WrongStatus {
        status,
        step,
        allowed: allowed.code().into(),
    })
}

/// An audit event about a request, under its subject: the request id and `details`.
pub(crate) fn request_audit(
    actor: &str,
    r: &RequestRecord,
    action: &str,
    outcome: Outcome,
    details: serde_json::Value,
) -> AuditDraft {
    let mut all = serde_json::json!({ "request_id": r.id });
    if let (Some(map), serde_json::Value::Object(more)) = (all.as_object_mut(), details) {
        map.extend(more);
    }
    AuditDraft::new(actor, action, outcome)
        .subject(r.subject_id)
        .details(&all)
}

/// A request as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RequestView {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub kind: RequestKind,
    pub status: Status,
    pub requester: Requester,
    pub channel: Channel,
    pub language: Lang,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    pub due: DueView,
    /// Open and past its due time.
    pub overdue: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification: Option<Verification>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection: Option<Rejection>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<String>,
    /// The written answer as sent: subject line, blank line, body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
    pub actions: Vec<Action>,
    pub history: Vec<HistoryEntry>,
    pub version: i64,
}

/// The due date with its explanation in the three languages.
#[derive(Debug, Clone, Serialize)]
pub struct DueView {
    #[serde(flatten)]
    pub due: DueDate,
    pub explanation: derbes_core::text::Text,
}

impl From<DueDate> for DueView {
    fn from(due: DueDate) -> Self {
        let explanation = derbes_core::text::Text::new(
            &due.explain(Lang::Kk),
            &due.explain(Lang::Ru),
            &due.explain(Lang::En),
        );
        DueView { due, explanation }
    }
}

/// Which requests to list, as asked through the API.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFilter {
    pub status: Option<Status>,
    pub kind: Option<RequestKind>,
    pub subject_id: Option<Uuid>,
    /// Only open requests due within this many days from now (0: due today or overdue).
    pub due_within_days: Option<u32>,
    /// Only open requests past their due time.
    #[serde(default)]
    pub overdue: bool,
    /// Only requests not yet past their due time (the console's "due today").
    #[serde(skip)]
    pub in_time: bool,
    /// Open requests only (the default when no status is asked).
    pub open: Option<bool>,
    pub after: Option<Uuid>,
    pub limit: Option<u32>,
}

/// A workflow step as asked through the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum StepInput {
    Submit,
    Approve {
        /// For a blocking request: the last day of the block (the verification period).
        #[serde(default, with = "derbes_core::iso_date::option")]
        until: Option<time::Date>,
    },
    Reject {
        reason: RejectionReason,
    },
    Withdraw,
    Complete,
    /// Runs the actions that are pending or failed again.
    RunActions,
    /// The answer was delivered outside derbes (on paper, by registered post): its reference.
    RecordAnswer {
        reference: String,
    },
    /// Settles a webhook action by hand, with the reason: the system is gone, or confirmed
    /// outside derbes. Its job, if one is still open, is ended.
    SettleConnector {
        connector: String,
        note: String,
    },
    /// Renders the written answer in the request's language and sends it to the requester's
    /// e-mail on file; `text` adds the DPO's own words (a complaint's substantive answer).
    SendAnswer {
        text: Option<String>,
    },
    /// For a rectification request: the corrected values (`null` erases a field) and the
    /// evidence they rest on (the document checked).
    Rectify {
        #[serde(deserialize_with = "crate::unique_keys::deserialize")]
        fields: indexmap::IndexMap<String, Option<String>>,
        evidence: String,
    },
}

/// A request's written answer, for reading before (or after) it is sent.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerPreview {
    /// Already sent: this is the letter as sent.
    pub sent: bool,
    /// Where it would go, masked; `None` when the requester has no e-mail on file (print it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    pub language: Lang,
    #[serde(flatten)]
    pub letter: Letter,
}

/// What the one-time code was sent to, masked.
#[derive(Debug, Clone, Serialize)]
pub struct CodeSent {
    pub sent_to: String,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    pub sends_left: u8,
}

/// An e-mail address with most of it hidden: `a***@m***.kz`.
pub fn mask_email(address: &str) -> String {
    let (local, domain) = address.split_once('@').unwrap_or((address, ""));
    let first = |s: &str| s.chars().next().map(String::from).unwrap_or_default();
    let (host, tld) = domain.rsplit_once('.').unwrap_or((domain, ""));
    format!("{}***@{}***.{}", first(local), first(host), tld)
}

fn corrupt(e: impl std::fmt::Display) -> VaultError {
    VaultError::Store(StoreError::Corrupt(format!("request body: {e}")))
}

/// The texts of the one-time code message.
fn code_mail(lang: Lang, code: &str, minutes: i64) -> (String, String) {
    match lang {
        Lang::Kk => (
            "Дербес деректер бойынша өтінішті растау коды".into(),
            format!("Сіздің дербес деректер бойынша өтінішіңізді растау коды: {code}\n\nКод {minutes} минут ішінде жарамды. Егер сіз өтініш бермеген болсаңыз, бұл хатты елемеңіз."),
        ),
        Lang::Ru => (
            "Код подтверждения запроса о персональных данных".into(),
            format!("Код подтверждения вашего запроса о персональных данных: {code}\n\nКод действителен {minutes} минут. Если вы не подавали запрос, не отвечайте на это письмо."),
        ),
        Lang::En => (
            "Confirmation code for your personal data request".into(),
            format!("The code to confirm your personal data request is: {code}\n\nThe code is valid for {minutes} minutes. If you did not make a request, ignore this message."),
        ),
    }
}

/// Data-subject requests from intake to answer: verification, the DPO's steps, the actions
/// (access packages, rectification, destruction, the webhook connectors) and the answer.
pub struct Requests {
    pub(crate) vault: std::sync::Arc<Vault>,
    pub(crate) destructions: std::sync::Arc<crate::destruction::Destructions>,
    /// What a request's actions change: fields, consents and flags, and the receipts they issue.
    pub(crate) subjects: crate::subjects::Subjects,
    pub(crate) consents: crate::consents::Consents,
    pub(crate) receipts: crate::receipts::Receipts,
    /// Approval needs a second person: whoever submitted a request cannot approve it.
    pub(crate) four_eyes: bool,
    pub(crate) answer_templates: answers::AnswerTemplates,
    pub(crate) report_templates: report::ReportTemplates,
    pub(crate) webhooks: Vec<connectors::Webhook>,
    /// How long an access package can be downloaded.
    pub(crate) package_ttl: Duration,
}

/// How requests are handled, as the operator configured it.
pub struct RequestSettings {
    pub four_eyes: bool,
    pub answer_templates: answers::AnswerTemplates,
    pub report_templates: report::ReportTemplates,
    pub webhooks: Vec<connectors::Webhook>,
    pub package_ttl: Duration,
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings {
            four_eyes: false,
            answer_templates: answers::AnswerTemplates::default(),
            report_templates: report::ReportTemplates::default(),
            webhooks: Vec::new(),
            package_ttl: package::DEFAULT_TTL,
        }
    }
}

impl Requests {
    pub(crate) fn new(
        vault: std::sync::Arc<Vault>,
        destructions: std::sync::Arc<crate::destruction::Destructions>,
        settings: RequestSettings,
    ) -> Self {
        Requests {
            subjects: crate::subjects::Subjects::new(std::sync::Arc::clone(&vault)),
            consents: crate::consents::Consents::new(std::sync::Arc::clone(&vault)),
            receipts: crate::receipts::Receipts::new(std::sync::Arc::clone(&vault)),
            vault,
            destructions,
            four_eyes: settings.four_eyes,
            answer_templates: settings.answer_templates,
            report_templates: settings.report_templates,
            webhooks: settings.webhooks,
            package_ttl: settings.package_ttl,
        }
    }
}

/// The sealing slot of staff's words on action `i`.
fn action_slot(i: usize) -> String {
    format!("action_note:{i}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_ends_with_an_answer() {
        for k in RequestKind::ALL {
            let a = actions_for(k, &[]);
            assert_eq!(a.last().map(|a| a.kind), Some(ActionKind::Answer));
            assert!(a.iter().all(|a| a.status == ActionStatus::Pending));
        }
        assert_eq!(
            actions_for(RequestKind::Destruction, &[])[0].kind,
            ActionKind::Destroy
        );
    }

    #[test]
    fn webhooks_come_before_a_destruction_and_after_an_export() {
        let hooks = ["lms".to_owned()];
        let kinds =
            |k| -> Vec<ActionKind> { actions_for(k, &hooks).iter().map(|a| a.kind).collect() };
        assert_eq!(
            kinds(RequestKind::Destruction),
            [ActionKind::Webhook, ActionKind::Destroy, ActionKind::Answer]
        );
        assert_eq!(
            kinds(RequestKind::AccessExport),
            [ActionKind::Export, ActionKind::Webhook, ActionKind::Answer]
        );
        assert_eq!(
            actions_for(RequestKind::Destruction, &hooks)[0]
                .connector
                .as_deref(),
            Some("lms")
        );
    }

    #[test]
    fn emails_are_masked() {
        assert_eq!(mask_email("aigerim@mail.kz"), "a***@m***.kz");
        assert_eq!(mask_email("x@y"), "x***@y***.");
    }
}

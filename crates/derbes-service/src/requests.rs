//! Data-subject requests in the vault: intake with a due date fixed and explained, duplicate
//! detection, identity verification (a one-time code to the contact on file, or a recorded
//! document check), the workflow steps core allows, and the actions derbes carries out itself
//! once a request is approved. Every step is audited with actor and time.

use crate::access::{self, RequestSight};
use crate::actor::{Actor, Role};
use crate::answers::{done_sentence, Letter, LetterContext, PurposeContext};
use crate::consents::{ConsentInput, ConsentStep, FlagChange, FlagInput};
use crate::mail::Mail;
use crate::vault::{Vault, VaultError, REQUEST_KEY_GENERATION, UPDATE_ATTEMPTS};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use derbes_core::audit::{format_timestamp, AuditDraft, Outcome};
use derbes_core::consent::{ConsentProblem, Method};
use derbes_core::deadline::{due, rule_for, DueDate};
use derbes_core::declaration::Validator;
use derbes_core::flags::FlagReason;
use derbes_core::request::{advance, RejectionReason, RequestKind, Status, Step, StepContext};
use derbes_core::text::{format_date, Lang};
use derbes_crypto::{DataKey, WrappedKey};
use derbes_store::{RequestQuery, RequestRecord, StoreError, WriteOp};
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
    #[serde(default)]
    pub representative_id: Option<Uuid>,
    pub channel: Channel,
    /// The language of the answer.
    pub language: Lang,
    /// The purpose a restriction, consent withdrawal or objection is about.
    #[serde(default)]
    pub purpose: Option<String>,
    /// The requester's own words.
    #[serde(default)]
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
    #[serde(default)]
    purpose: Option<String>,
    /// The requester's words, sealed under the request's key (base64).
    #[serde(default)]
    details: Option<String>,
    due: DueDate,
    #[serde(default)]
    duplicate_of: Option<Uuid>,
    #[serde(default)]
    verification: Option<Verification>,
    /// Staff's note on the document check, sealed (base64).
    #[serde(default)]
    verification_note: Option<String>,
    #[serde(default)]
    challenge: Option<Challenge>,
    #[serde(default)]
    codes_sent: u8,
    #[serde(default)]
    submitted_by: Option<String>,
    #[serde(default)]
    rejection: Option<Rejection>,
    /// What a rectification's corrected values were checked against, sealed (base64).
    #[serde(default)]
    evidence: Option<String>,
    /// Where the written answer goes: the requester's e-mail on file when the request was
    /// decided (kept, sealed, because a destruction removes it from the subject).
    #[serde(default)]
    reply_to: Option<String>,
    /// The written answer as sent, sealed (base64).
    #[serde(default)]
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
    #[serde(default)]
    pub status: Option<Status>,
    #[serde(default)]
    pub kind: Option<RequestKind>,
    #[serde(default)]
    pub subject_id: Option<Uuid>,
    /// Only open requests due within this many days from now (0: due today or overdue).
    #[serde(default)]
    pub due_within_days: Option<u32>,
    /// Only open requests past their due time.
    #[serde(default)]
    pub overdue: bool,
    /// Open requests only (the default when no status is asked).
    #[serde(default)]
    pub open: Option<bool>,
    #[serde(default)]
    pub after: Option<Uuid>,
    #[serde(default)]
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
        #[serde(default)]
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

fn parse_time(s: &str) -> Result<OffsetDateTime, VaultError> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|_| {
        VaultError::Store(StoreError::Corrupt("a request time is not RFC 3339".into()))
    })
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
    /// Approval needs a second person: whoever submitted a request cannot approve it.
    pub(crate) four_eyes: bool,
    pub(crate) answer_templates: crate::answers::AnswerTemplates,
    pub(crate) webhooks: Vec<crate::webhooks::Webhook>,
    /// How long an access package can be downloaded.
    pub(crate) package_ttl: Duration,
}

/// How requests are handled, as the operator configured it.
pub struct RequestSettings {
    pub four_eyes: bool,
    pub answer_templates: crate::answers::AnswerTemplates,
    pub webhooks: Vec<crate::webhooks::Webhook>,
    pub package_ttl: Duration,
}

impl Default for RequestSettings {
    fn default() -> Self {
        RequestSettings {
            four_eyes: false,
            answer_templates: crate::answers::AnswerTemplates::default(),
            webhooks: Vec::new(),
            package_ttl: crate::package::DEFAULT_TTL,
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
            vault,
            destructions,
            four_eyes: settings.four_eyes,
            answer_templates: settings.answer_templates,
            webhooks: settings.webhooks,
            package_ttl: settings.package_ttl,
        }
    }
}

impl Requests {
    pub(crate) fn request_key(&self, r: &RequestRecord) -> Result<DataKey, VaultError> {
        self.vault.unwrap_key(
            &WrappedKey {
                kek_version: r.kek_version,
                bytes: r.dek.clone(),
            },
            &r.id,
            REQUEST_KEY_GENERATION,
        )
    }

    fn seal_text(dk: &DataKey, id: &Uuid, slot: &str, text: &str) -> Result<String, VaultError> {
        Ok(B64.encode(dk.seal(id, REQUEST_KEY_GENERATION, slot, text.as_bytes())?))
    }

    /// Sets the note of action `i` with staff's `words`, sealed.
    fn note_with_words(
        dk: &DataKey,
        id: &Uuid,
        i: usize,
        a: &mut Action,
        note: &str,
        words: &str,
    ) -> Result<(), VaultError> {
        a.note = Some(note.to_owned());
        a.staff_words = Some(Self::seal_text(dk, id, &action_slot(i), words)?);
        Ok(())
    }

    fn open_text(dk: &DataKey, id: &Uuid, slot: &str, sealed: &str) -> Result<String, VaultError> {
        let bytes = B64.decode(sealed).map_err(corrupt)?;
        let plain = dk.open(id, REQUEST_KEY_GENERATION, slot, &bytes)?;
        String::from_utf8(plain.to_vec()).map_err(corrupt)
    }

    /// Files a request: checks who asks, fixes the due date and records it.
    #[allow(
        clippy::too_many_lines,
        reason = "intake: validate, find the subject, decide the deadline, seal, write with its audit"
    )]
    pub async fn file_request(
        &self,
        actor: &Actor,
        input: RequestInput,
    ) -> Result<RequestView, VaultError> {
        self.vault.authorize(actor, access::Action::RequestFile)?;
        let now = self.vault.now();
        let received_at = input.received_at.unwrap_or(now);
        if received_at > now + Duration::minutes(5) {
            return Err(VaultError::InvalidField {
                field: "received_at",
                detail: "is in the future; give the time the request was received".into(),
            });
        }
        if received_at < now - MAX_BACKDATE {
            return Err(VaultError::InvalidField {
                field: "received_at",
                detail: "is more than a year ago; file the request with the date it was received, within the last year".into(),
            });
        }
        if let Some(d) = &input.details {
            if d.chars().count() > MAX_DETAILS {
                return Err(VaultError::InvalidField {
                    field: "details",
                    detail: format!("is longer than {MAX_DETAILS} characters; attach long texts as evidence instead"),
                });
            }
        }
        match (&input.purpose, input.kind.needs_purpose()) {
            (None, true) => {
                return Err(VaultError::InvalidField {
                    field: "purpose",
                    detail: format!(
                        "is required for a `{}` request; name the declared purpose it is about",
                        input.kind
                    ),
                })
            }
            (Some(_), false) => {
                return Err(VaultError::InvalidField {
                    field: "purpose",
                    detail: format!("does not apply to a `{}` request; leave it out", input.kind),
                })
            }
            (Some(p), true) => {
                self.vault.declared_purpose(p)?;
            }
            (None, false) => {}
        }
        let (_, state) = self
            .vault
            .subject_for(actor, access::Action::RequestFile, input.subject_id, None)
            .await?;
        let requester = match input.representative_id {
            None => Requester::Subject {
                id: input.subject_id,
            },
            Some(rep) => {
                if !state
                    .representatives
                    .iter()
                    .any(|l| l.representative_id == rep)
                {
                    return Err(VaultError::NotLinked);
                }
                Requester::Representative { id: rep }
            }
        };
        let (rule, source) = rule_for(
            &self.vault.declaration().deadlines,
            input.kind.deadline_kind(),
        );
        let due = due(self.vault.calendar(), received_at, rule, source);
        // Without allow_duplicate the store refuses a duplicate inside the write; with it, the
        // request records which one it repeats.
        let duplicate_of = if !input.allow_duplicate {
            None
        } else {
            self.vault
                .store()
                .requests(RequestQuery {
                    open_only: true,
                    kind: Some(input.kind.code().into()),
                    subject_id: Some(input.subject_id),
                    limit: 1,
                    ..Default::default()
                })
                .await?
                .first()
                .map(|r| r.id)
        };
        let id = Uuid::now_v7();
        let dk = DataKey::generate()?;
        let wrapped = self.vault.keys().wrap(&dk, &id, REQUEST_KEY_GENERATION)?;
        let details = input
            .details
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(|d| Self::seal_text(&dk, &id, "details", d))
            .transpose()?;
        let body = Body {
            filed_with: actor.token,
            requester,
            channel: input.channel,
            language: input.language,
            purpose: input.purpose,
            details,
            due: due.clone(),
            duplicate_of,
            verification: None,
            verification_note: None,
            challenge: None,
            codes_sent: 0,
            submitted_by: None,
            rejection: None,
            evidence: None,
            reply_to: None,
            answer: None,
            answer_sending: None,
            block_until: None,
            actions: actions_for(input.kind, &self.webhooks_for(input.kind)),
            history: vec![HistoryEntry {
                at: now,
                actor: actor.audit_name(),
                step: "file".into(),
                status: Status::Received,
            }],
        };
        let record = RequestRecord {
            id,
            subject_id: input.subject_id,
            kind: input.kind.code().into(),
            status: Status::Received.code().into(),
            open: true,
            received_at: format_timestamp(received_at),
            due_at: format_timestamp(due.due_at),
            dek: wrapped.bytes,
            kek_version: wrapped.kek_version,
            version: 1,
            updated_at: format_timestamp(now),
            body: serde_json::to_string(&body).map_err(corrupt)?,
        };
        let audit = AuditDraft::new(&actor.audit_name(), "request.file", Outcome::Ok)
            .subject(input.subject_id)
            .details(&serde_json::json!({
                "request_id": id,
                "kind": input.kind,
                "requester": match requester { Requester::Subject { .. } => "subject", Requester::Representative { .. } => "representative" },
                "channel": input.channel,
                "due_on": due.due_on.to_string(),
                "duplicate_of": duplicate_of,
            }));
        self.vault
            .store()
            .write(WriteOp::FileRequest {
                record: record.clone(),
                refuse_duplicate: !input.allow_duplicate,
                audit,
            })
            .await?;
        // Staff see the register's facts; whoever else may file sees what they filed.
        let key = (actor.role != Role::Staff).then_some(&dk);
        self.request_view(&record, key)
    }

    /// What `actor` sees of request `r` for `action`, its reach checked: the subject in reach
    /// for staff, a request it filed for an integration.
    async fn sight(
        &self,
        actor: &Actor,
        action: access::Action,
        r: &RequestRecord,
        body: &Body,
    ) -> Result<RequestSight, VaultError> {
        let category = self.vault.category_of(r.subject_id).await?;
        self.vault
            .authorize_request(
                actor,
                action,
                r.subject_id,
                category.as_deref(),
                body.filed_with,
            )
            .await
    }

    /// A request, if `actor` may take `action` on it and reaches it; with what it sees of it.
    pub(crate) async fn reach_request(
        &self,
        actor: &Actor,
        action: access::Action,
        id: Uuid,
    ) -> Result<(RequestRecord, RequestSight), VaultError> {
        self.vault.authorize(actor, action)?;
        let (r, body, _) = self.request_parts(id).await?;
        let sight = self.sight(actor, action, &r, &body).await?;
        Ok((r, sight))
    }

    /// The request as `sight` allows.
    fn view_as(&self, sight: RequestSight, r: &RequestRecord) -> Result<RequestView, VaultError> {
        match sight {
            RequestSight::Full => self.full_view(r),
            RequestSight::Facts => self.request_view(r, None),
        }
    }

    fn request_view(
        &self,
        r: &RequestRecord,
        key: Option<&DataKey>,
    ) -> Result<RequestView, VaultError> {
        let body: Body = serde_json::from_str(&r.body).map_err(corrupt)?;
        let status: Status = r.status.parse().map_err(corrupt)?;
        let kind: RequestKind = r.kind.parse().map_err(corrupt)?;
        let open = |slot: &str, sealed: &Option<String>| -> Result<Option<String>, VaultError> {
            match (key, sealed) {
                (Some(dk), Some(s)) => Self::open_text(dk, &r.id, slot, s).map(Some),
                _ => Ok(None),
            }
        };
        let now = self.vault.now();
        Ok(RequestView {
            id: r.id,
            subject_id: r.subject_id,
            kind,
            status,
            requester: body.requester,
            channel: body.channel,
            language: body.language,
            purpose: body.purpose.clone(),
            received_at: parse_time(&r.received_at)?,
            overdue: status.is_open() && now > body.due.due_at,
            due: body.due.clone().into(),
            details: open("details", &body.details)?,
            duplicate_of: body.duplicate_of,
            verification: body.verification.clone(),
            verification_note: open("verification_note", &body.verification_note)?,
            rejection: body.rejection,
            evidence: open("evidence", &body.evidence)?,
            answer: open("answer", &body.answer)?,
            actions: body
                .actions
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut a = a.clone();
                    if let Some(words) = open(&action_slot(i), &a.staff_words.take())? {
                        a.note = Some(match a.note {
                            Some(note) => format!("{note}: {words}"),
                            None => words,
                        });
                    }
                    Ok(a)
                })
                .collect::<Result<_, VaultError>>()?,
            history: body.history.clone(),
            version: r.version,
        })
    }

    async fn request_record(&self, id: Uuid) -> Result<RequestRecord, VaultError> {
        self.vault
            .store()
            .request(id)
            .await?
            .ok_or(VaultError::RequestNotFound)
    }

    /// A request with its body and status read.
    async fn request_parts(&self, id: Uuid) -> Result<(RequestRecord, Body, Status), VaultError> {
        let r = self.request_record(id).await?;
        let body: Body = serde_json::from_str(&r.body).map_err(corrupt)?;
        let status: Status = r.status.parse().map_err(corrupt)?;
        Ok((r, body, status))
    }

    /// Hands `mail` to the configured channel; the cause of a failure goes to the server's log,
    /// the caller gets `what` could not be delivered.
    async fn deliver(
        mailer: std::sync::Arc<dyn crate::mail::Mailer>,
        mail: Mail,
        what: &str,
    ) -> Result<String, VaultError> {
        tokio::task::spawn_blocking(move || mailer.send(&mail))
            .await
            .map_err(|_| VaultError::Unavailable("the delivery task failed".into()))?
            .map_err(|e| {
                // The cause names the channel's host or directory: for the administrator's log,
                // not for the API client.
                eprintln!("derbes: {e}");
                VaultError::Unavailable(format!(
                    "{what} could not be delivered; the cause is in the server's log"
                ))
            })
    }

    /// One request, with the requester's words for the roles that handle requests.
    pub async fn request(&self, actor: &Actor, id: Uuid) -> Result<RequestView, VaultError> {
        self.vault.authorize(actor, access::Action::RequestRead)?;
        let (r, body, _) = self.request_parts(id).await?;
        let sight = self
            .sight(actor, access::Action::RequestRead, &r, &body)
            .await?;
        let view = self.view_as(sight, &r)?;
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), "request.read", Outcome::Ok)
                    .subject(r.subject_id)
                    .details(&serde_json::json!({ "request_id": id })),
            )
            .await?;
        Ok(view)
    }

    /// Requests by due time: open ones by default, those due soon, or overdue ones.
    pub async fn requests(
        &self,
        actor: &Actor,
        filter: RequestFilter,
    ) -> Result<Vec<RequestView>, VaultError> {
        self.vault.authorize(actor, access::Action::RequestList)?;
        let now = self.vault.now();
        let limit = filter.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(VaultError::InvalidField {
                field: "limit",
                detail: "must be from 1 to 1000".into(),
            });
        }
        if filter
            .due_within_days
            .is_some_and(|d| d > MAX_DUE_WITHIN_DAYS)
        {
            return Err(VaultError::InvalidField {
                field: "due_within_days",
                detail: format!("must be at most {MAX_DUE_WITHIN_DAYS}"),
            });
        }
        let due_by = if filter.overdue {
            Some(now)
        } else {
            filter.due_within_days.map(|d| {
                // The end of that local day.
                let local =
                    now.to_offset(self.vault.calendar().offset()).date() + Duration::days(d.into());
                local
                    .with_hms(23, 59, 59)
                    .unwrap_or(local.midnight())
                    .assume_offset(self.vault.calendar().offset())
            })
        };
        let after = match filter.after {
            Some(id) => {
                let r = self.request_record(id).await?;
                Some((r.due_at, r.id))
            }
            None => None,
        };
        let open_only = filter.open.unwrap_or(filter.status.is_none()) || due_by.is_some();
        let records = self
            .vault
            .store()
            .requests(RequestQuery {
                open_only,
                status: filter.status.map(|s| s.code().into()),
                kind: filter.kind.map(|k| k.code().into()),
                subject_id: filter.subject_id,
                due_by: due_by.map(format_timestamp),
                after,
                limit,
            })
            .await?;
        // Staff list the requests about subjects their purposes reach.
        let mut reached = std::collections::HashMap::new();
        let mut views = Vec::with_capacity(records.len());
        for r in &records {
            if actor.role == Role::Staff {
                let reaches = match reached.get(&r.subject_id) {
                    Some(known) => *known,
                    None => {
                        let category = self.vault.category_of(r.subject_id).await?;
                        let known = category.is_some_and(|c| self.vault.reaches(actor, &c));
                        reached.insert(r.subject_id, known);
                        known
                    }
                };
                if !reaches {
                    continue;
                }
            }
            views.push(self.request_view(r, None)?);
        }
        Ok(views)
    }

    /// Applies `change` to the request's body and status, with retries on concurrent changes.
    async fn update_request<F>(
        &self,
        id: Uuid,
        change: F,
    ) -> Result<(RequestRecord, Body), VaultError>
    where
        F: FnMut(&RequestRecord, &mut Body, &mut Status) -> Result<Vec<AuditDraft>, VaultError>,
    {
        self.update_request_with_jobs(id, Vec::new(), change).await
    }

    /// As `update_request`, storing webhook `jobs` in the same transaction.
    pub(crate) async fn update_request_with_jobs<F>(
        &self,
        id: Uuid,
        jobs: Vec<derbes_store::JobWrite>,
        mut change: F,
    ) -> Result<(RequestRecord, Body), VaultError>
    where
        F: FnMut(&RequestRecord, &mut Body, &mut Status) -> Result<Vec<AuditDraft>, VaultError>,
    {
        for _ in 0..UPDATE_ATTEMPTS {
            let (r, mut body, mut status) = self.request_parts(id).await?;
            let audit = change(&r, &mut body, &mut status)?;
            let mut next = r.clone();
            next.status = status.code().into();
            next.open = status.is_open();
            next.version = r.version + 1;
            next.updated_at = format_timestamp(self.vault.now());
            next.body = serde_json::to_string(&body).map_err(corrupt)?;
            match self
                .vault
                .store()
                .write(WriteOp::UpdateRequest {
                    record: next.clone(),
                    audit,
                    jobs: jobs.clone(),
                })
                .await
            {
                Ok(_) => return Ok((next, body)),
                Err(StoreError::VersionConflict) => continue,
                // A job that moved on does not move back: no retry.
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    fn step_audit(actor: &Actor, r: &RequestRecord, step: &str, to: Status) -> AuditDraft {
        request_audit(
            &actor.audit_name(),
            r,
            &format!("request.{step}"),
            Outcome::Ok,
            serde_json::json!({ "kind": r.kind, "status": to }),
        )
    }

    /// The request with its sealed texts opened.
    fn full_view(&self, r: &RequestRecord) -> Result<RequestView, VaultError> {
        let key = self.request_key(r)?;
        self.request_view(r, Some(&key))
    }

    /// Moves a request by one step of core's workflow; approval carries out the actions.
    pub async fn request_step(
        &self,
        actor: &Actor,
        id: Uuid,
        input: StepInput,
    ) -> Result<RequestView, VaultError> {
        let action = match input {
            StepInput::Submit => access::Action::RequestSubmit,
            StepInput::Withdraw => access::Action::RequestWithdraw,
            StepInput::Approve { .. }
            | StepInput::Reject { .. }
            | StepInput::Complete
            | StepInput::RunActions
            | StepInput::RecordAnswer { .. }
            | StepInput::SendAnswer { .. }
            | StepInput::SettleConnector { .. }
            | StepInput::Rectify { .. } => access::Action::RequestDecide,
        };
        self.vault.authorize(actor, action)?;
        let sight = {
            let (r, body, _) = self.request_parts(id).await?;
            self.sight(actor, action, &r, &body).await?
        };
        let now = self.vault.now();
        let who = actor.audit_name();
        let (step, until) = match input {
            StepInput::RunActions => return self.run_actions(actor, id).await,
            StepInput::RecordAnswer { reference } => {
                return self.record_answer(actor, id, reference).await
            }
            StepInput::Rectify { fields, evidence } => {
                return self.rectify_for_request(actor, id, fields, evidence).await
            }
            StepInput::SendAnswer { text } => return self.send_answer(actor, id, text).await,
            StepInput::SettleConnector { connector, note } => {
                return self.settle_connector(actor, id, connector, note).await
            }
            StepInput::Submit => (Step::Submit, None),
            StepInput::Approve { until } => (Step::Approve, until),
            StepInput::Reject { reason } => (Step::Reject(reason), None),
            StepInput::Withdraw => (Step::Withdraw, None),
            StepInput::Complete => (Step::Complete, None),
        };
        if let Some(u) = until {
            if u < now.date() {
                return Err(VaultError::InvalidField {
                    field: "until",
                    detail: "is in the past; give the last day of the block".into(),
                });
            }
        }
        // The answer goes to the requester's e-mail on file as it is now: a destruction about to
        // run would remove it.
        let reply_to = if matches!(step, Step::Approve | Step::Reject(_)) {
            let (r, body, _) = self.request_parts(id).await?;
            match self.email_on_file(body.requester.id()).await? {
                Some((_, address)) => Some(Self::seal_text(
                    &self.request_key(&r)?,
                    &id,
                    "reply_to",
                    &address,
                )?),
                None => None,
            }
        } else {
            None
        };
        let (record, _) = self
            .update_request(id, |r, body, status| {
                if body.reply_to.is_none() {
                    body.reply_to.clone_from(&reply_to);
                }
                let pending = body
                    .actions
                    .iter()
                    .filter(|a| a.status != ActionStatus::Done)
                    .count();
                let ctx = StepContext {
                    pending_actions: pending,
                    approver_submitted: body.submitted_by.as_deref() == Some(who.as_str()),
                    four_eyes: self.four_eyes,
                };
                let to = advance(*status, step, ctx).map_err(VaultError::Step)?;
                match step {
                    Step::Submit => body.submitted_by = Some(who.clone()),
                    Step::Approve => body.block_until = until,
                    Step::Reject(reason) => body.rejection = Some(Rejection { reason }),
                    // The address was kept for the answer; once the request is closed it goes.
                    Step::Complete | Step::Withdraw => body.reply_to = None,
                    _ => {}
                }
                body.took(status, to, step.code(), &who, now);
                Ok(vec![Self::step_audit(actor, r, step.code(), to)])
            })
            .await?;
        if step == Step::Approve {
            return self.run_actions(actor, id).await;
        }
        self.view_as(sight, &record)
    }

    /// Records that the answer was delivered outside derbes, under `reference` (an outgoing
    /// letter number, a registered-post receipt).
    async fn record_answer(
        &self,
        actor: &Actor,
        id: Uuid,
        reference: String,
    ) -> Result<RequestView, VaultError> {
        let reference = required_text(
            "reference",
            &reference,
            200,
            "the outgoing letter's number or the post receipt",
        )?;
        let now = self.vault.now();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                // A rejection is answered too, as send_answer allows.
                if !matches!(*status, Status::InProgress | Status::Rejected) {
                    return Err(not_now(*status, "record_answer", Status::InProgress));
                }
                if body
                    .answer_sending
                    .is_some_and(|since| now - since < ANSWER_CLAIM)
                {
                    return Err(VaultError::Conflict(
                        "the answer is being sent by e-mail just now; look at the request again in a minute".into(),
                    ));
                }
                body.answer_sending = None;
                body.reply_to = None;
                let Some((i, a)) = body
                    .actions
                    .iter_mut()
                    .enumerate()
                    .find(|(_, a)| a.kind == ActionKind::Answer)
                else {
                    return Err(VaultError::Conflict("this request has no answer to record".into()));
                };
                a.status = ActionStatus::Done;
                a.at = Some(now);
                let key = self.request_key(rec)?;
                Self::note_with_words(&key, &rec.id, i, a, "delivered outside derbes", &reference)?;
                Ok(vec![request_audit(
                    &actor.audit_name(),
                    rec,
                    "request.action",
                    Outcome::Ok,
                    serde_json::json!({ "action": ActionKind::Answer, "status": ActionStatus::Done, "outside": true }),
                )])
            })
            .await?;
        self.full_view(&record)
    }

    /// Everything a letter about request `r` says, in its language.
    async fn letter_context(
        &self,
        r: &RequestRecord,
        body: &Body,
        status: Status,
        text: Option<String>,
    ) -> Result<LetterContext, VaultError> {
        let kind: RequestKind = r.kind.parse().map_err(corrupt)?;
        let lang = body.language;
        let offset = self.vault.calendar().offset();
        let local = |t: OffsetDateTime| t.to_offset(offset).date();
        let id = r.id.to_string();
        let mut ctx = LetterContext::new(
            self.vault.declaration(),
            lang,
            local(self.vault.now()),
            (&id, kind, body.due.received_on, body.due.due_on),
        );
        ctx.text = text;
        if let (Status::Rejected, Some(rejection)) = (status, body.rejection) {
            return Ok(ctx.rejected(rejection.reason));
        }
        let declaration = self.vault.declaration();
        let purpose = body
            .purpose
            .as_deref()
            .and_then(|p| declaration.purpose(p))
            .map(|p| p.label.get(lang).to_owned())
            .unwrap_or_default();
        for a in body
            .actions
            .iter()
            .filter(|a| a.status == ActionStatus::Done)
        {
            let fields: Vec<&str> = a
                .fields
                .iter()
                .map(|f| {
                    declaration
                        .field(f)
                        .map_or(f.as_str(), |d| d.label.get(lang))
                })
                .collect();
            if let Some(line) = done_sentence(a.kind, lang, &purpose, &fields.join(", ")) {
                if !ctx.done.contains(&line) {
                    ctx.done.push(line);
                }
            }
        }
        if kind == RequestKind::AccessExport {
            if let Some(p) = self.vault.store().package(r.id).await? {
                ctx.package_until = Some(format_date(local(parse_time(&p.expires_at)?), lang));
            }
        }
        if kind == RequestKind::Information {
            if let Some(subject) = self.vault.store().subject(r.subject_id).await? {
                ctx.purposes = declaration
                    .purposes
                    .values()
                    .filter(|p| p.covers_category(&subject.category))
                    .map(|p| PurposeContext {
                        label: p.label.get(lang).to_owned(),
                        basis: p.legal_basis.label(lang),
                        retention: declaration
                            .retention
                            .get(&p.retention)
                            .map_or_else(|| p.retention.clone(), |x| x.label.get(lang).to_owned()),
                        recipients: p
                            .recipients
                            .iter()
                            .filter_map(|k| declaration.recipients.get(k))
                            .map(|x| x.label.get(lang))
                            .collect::<Vec<_>>()
                            .join(", "),
                    })
                    .collect();
            }
        }
        Ok(ctx)
    }

    /// The written answer of a request: as sent, or as it would be sent now, with the masked
    /// address it goes to.
    pub async fn answer_preview(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<AnswerPreview, VaultError> {
        self.vault.authorize(actor, access::Action::RequestAnswer)?;
        let (r, body, status) = self.request_parts(id).await?;
        let key = self.request_key(&r)?;
        if let Some(sent) = &body.answer {
            let text = Self::open_text(&key, &id, "answer", sent)?;
            let (subject, rest) = text.split_once("\n\n").unwrap_or((text.as_str(), ""));
            return Ok(AnswerPreview {
                sent: true,
                to: None,
                language: body.language,
                letter: Letter {
                    subject: subject.to_owned(),
                    body: rest.to_owned(),
                },
            });
        }
        let to = self.answer_address(&key, id, &body).await?;
        let ctx = self.letter_context(&r, &body, status, None).await?;
        Ok(AnswerPreview {
            sent: false,
            to: to.as_deref().map(mask_email),
            language: body.language,
            letter: self.answer_templates.letter(&ctx)?,
        })
    }

    /// Sends the written answer by e-mail to the requester's address on file and records it.
    async fn send_answer(
        &self,
        actor: &Actor,
        id: Uuid,
        text: Option<String>,
    ) -> Result<RequestView, VaultError> {
        let text = text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
        if text
            .as_ref()
            .is_some_and(|t| t.chars().count() > MAX_DETAILS)
        {
            return Err(VaultError::InvalidField {
                field: "text",
                detail: format!("is longer than {MAX_DETAILS} characters"),
            });
        }
        let Some(mailer) = self.vault.mailer() else {
            return Err(VaultError::Unavailable(
                "no mail channel is configured; print the letter (GET …/answer), deliver it and record it with record_answer".into(),
            ));
        };
        let (r, body, status) = self.request_parts(id).await?;
        match status {
            Status::InProgress => {
                if body
                    .actions
                    .iter()
                    .any(|a| a.kind != ActionKind::Answer && a.status != ActionStatus::Done)
                {
                    return Err(VaultError::Conflict(
                        "carry out every action first (run_actions, rectify): the letter reports what was done".into(),
                    ));
                }
            }
            Status::Rejected => {}
            other => return Err(not_now(other, "send_answer", Status::InProgress)),
        }
        if body.answer.is_some() {
            return Err(VaultError::Conflict("the answer was sent already".into()));
        }
        let key = self.request_key(&r)?;
        let address = self.answer_address(&key, id, &body).await?.ok_or_else(|| {
            VaultError::Conflict(
                "the requester has no e-mail on file; print the letter (GET …/answer), deliver it and record it with record_answer".into(),
            )
        })?;
        let ctx = self.letter_context(&r, &body, status, text).await?;
        let letter = self.answer_templates.letter(&ctx)?;
        let sealed = Self::seal_text(
            &key,
            &id,
            "answer",
            &format!("{}\n\n{}", letter.subject, letter.body),
        )?;
        let masked = mask_email(&address);
        let mail = Mail {
            to: address,
            subject: letter.subject,
            body: letter.body,
        };
        // Claimed before it is sent: two calls at once must not e-mail the requester twice.
        let claimed_at = self.vault.now();
        self.update_request(id, |_, body, _| {
            if body.answer.is_some() {
                return Err(VaultError::Conflict("the answer was sent already".into()));
            }
            if body
                .answer_sending
                .is_some_and(|since| claimed_at - since < ANSWER_CLAIM)
            {
                return Err(VaultError::Conflict(
                    "the answer is being sent by e-mail just now; look at the request again in a minute".into(),
                ));
            }
            body.answer_sending = Some(claimed_at);
            Ok(Vec::new())
        })
        .await?;
        let delivery = match Self::deliver(mailer, mail, "the answer").await {
            Ok(delivery) => delivery,
            Err(e) => {
                // Released, so that it can be sent again at once; a release that fails lapses
                // with the claim.
                let _ = self
                    .update_request(id, |_, body, _| {
                        if body.answer_sending == Some(claimed_at) {
                            body.answer_sending = None;
                        }
                        Ok(Vec::new())
                    })
                    .await;
                return Err(e);
            }
        };
        let now = self.vault.now();
        let who = actor.audit_name();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                if body.answer.is_some() {
                    return Err(VaultError::Conflict("the answer was sent already".into()));
                }
                body.answer_sending = None;
                body.answer = Some(sealed.clone());
                // The address was kept for the answer; once it is sent, it goes.
                body.reply_to = None;
                if let Some(a) = body
                    .actions
                    .iter_mut()
                    .find(|a| a.kind == ActionKind::Answer)
                {
                    a.status = ActionStatus::Done;
                    a.at = Some(now);
                    a.note = Some(format!("sent by e-mail to {masked}"));
                }
                let same = *status;
                body.took(status, same, "send_answer", &who, now);
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.answer.send",
                    Outcome::Ok,
                    serde_json::json!({ "delivery": delivery, "language": body.language }),
                )])
            })
            .await?;
        self.full_view(&record)
    }

    /// Settles the webhook action of `connector` by hand, ending its job if one is open.
    async fn settle_connector(
        &self,
        actor: &Actor,
        id: Uuid,
        connector: String,
        note: String,
    ) -> Result<RequestView, VaultError> {
        let note = required_text("note", &note, 500, "why the action is settled by hand")?;
        let (r, body, status) = self.request_parts(id).await?;
        if status != Status::InProgress {
            return Err(not_now(status, "settle_connector", Status::InProgress));
        }
        let Some(action) = body.actions.iter().find(|a| {
            a.kind == ActionKind::Webhook
                && a.connector.as_deref() == Some(connector.as_str())
                && a.status != ActionStatus::Done
        }) else {
            return Err(VaultError::InvalidField {
                field: "connector",
                detail: format!("names no open webhook action of this request (`{connector}`)"),
            });
        };
        let mut jobs = Vec::new();
        if let Some(job) = match action.job {
            Some(j) => self.vault.store().webhook_job(j).await?,
            None => None,
        } {
            if matches!(job.status.as_str(), "pending" | "delivered") {
                jobs.push(derbes_store::JobWrite {
                    expect: Some(job.status.clone()),
                    job: derbes_store::WebhookJob {
                        status: "failed".into(),
                        payload: None,
                        last_error: Some("settled by hand".into()),
                        updated_at: format_timestamp(self.vault.now()),
                        ..job
                    },
                });
            }
        }
        let now = self.vault.now();
        let who = actor.audit_name();
        let key = self.request_key(&r)?;
        let (record, _) = self
            .update_request_with_jobs(r.id, jobs, |rec, body, _| {
                let Some((i, a)) = body.actions.iter_mut().enumerate().find(|(_, a)| {
                    a.kind == ActionKind::Webhook
                        && a.connector.as_deref() == Some(connector.as_str())
                        && a.status != ActionStatus::Done
                }) else {
                    return Err(VaultError::Conflict(
                        "the action was settled meanwhile".into(),
                    ));
                };
                a.status = ActionStatus::Done;
                a.at = Some(now);
                Self::note_with_words(&key, &rec.id, i, a, "settled by hand", &note)?;
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.connector.settle",
                    Outcome::Ok,
                    serde_json::json!({ "connector": connector }),
                )])
            })
            .await?;
        self.full_view(&record)
    }

    /// Carries out a rectification request: applies the corrected values (validated as any
    /// rectification, the audit keeping fingerprints only) and records the evidence, sealed.
    async fn rectify_for_request(
        &self,
        actor: &Actor,
        id: Uuid,
        fields: indexmap::IndexMap<String, Option<String>>,
        evidence: String,
    ) -> Result<RequestView, VaultError> {
        let evidence = required_text(
            "evidence",
            &evidence,
            1000,
            "the document the corrected values were checked against",
        )?;
        let (r, body, status) = self.request_parts(id).await?;
        if status != Status::InProgress {
            return Err(not_now(status, "rectify", Status::InProgress));
        }
        if !body
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Rectify && a.status != ActionStatus::Done)
        {
            return Err(VaultError::Conflict(
                "this request has no rectification left to carry out".into(),
            ));
        }
        let done = self
            .vault
            .rectify(
                actor,
                r.subject_id,
                fields.into_iter().collect(),
                Vec::new(),
            )
            .await?;
        let now = self.vault.now();
        let who = actor.audit_name();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                if *status != Status::InProgress {
                    return Err(not_now(*status, "rectify", Status::InProgress));
                }
                let dk = self.request_key(rec)?;
                body.evidence = Some(Self::seal_text(&dk, &rec.id, "evidence", &evidence)?);
                let Some(a) = body.actions.iter_mut().find(|a| a.kind == ActionKind::Rectify) else {
                    return Err(VaultError::Conflict("this request has no rectification".into()));
                };
                a.status = ActionStatus::Done;
                a.at = Some(now);
                a.fields.clone_from(&done.changed);
                a.note = Some(if done.changed.is_empty() {
                    "the values held were already the corrected ones".into()
                } else {
                    format!("rectified: {}", done.changed.join(", "))
                });
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.action",
                    Outcome::Ok,
                    serde_json::json!({ "action": ActionKind::Rectify, "status": ActionStatus::Done }),
                )
                .fields(&done.changed)])
            })
            .await?;
        self.full_view(&record)
    }

    /// Carries out the pending and failed actions derbes performs itself, and records each
    /// outcome; a failure leaves the request in progress with the error shown.
    ///
    /// Webhook connectors are told first, in a write of their own: for a destruction, their
    /// messages must hold the subject's identifiers before derbes destroys its copy, and the
    /// destruction waits until every one of them is queued.
    async fn run_actions(&self, actor: &Actor, id: Uuid) -> Result<RequestView, VaultError> {
        let (r, body, status) = self.request_parts(id).await?;
        if status != Status::InProgress {
            return Err(not_now(status, "run_actions", Status::InProgress));
        }
        let kind: RequestKind = r.kind.parse().map_err(corrupt)?;
        let open = |a: &Action| !matches!(a.status, ActionStatus::Done | ActionStatus::Waiting);
        let mut outcomes = Vec::new();
        let mut jobs = Vec::new();
        // A destruction derbes would refuse is not announced to anyone.
        let hooks_to_tell = body
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Webhook && open(a));
        let refused = if kind == RequestKind::Destruction && hooks_to_tell {
            self.destructions.destruction_refusal(r.subject_id).await?
        } else {
            None
        };
        for (i, a) in body.actions.iter().enumerate() {
            if a.kind != ActionKind::Webhook || !open(a) {
                continue;
            }
            let queued = match &refused {
                Some(why) => Err(why.clone()),
                None => self.queue_webhook(&r, a).await,
            };
            outcomes.push((
                i,
                queued.map(|w| {
                    let note = format!("sent to `{}`, waiting for its confirmation", w.job.webhook);
                    let job = w.job.id;
                    jobs.push(w);
                    (ActionStatus::Waiting, note, Some(job))
                }),
            ));
        }
        let every_hook_told = outcomes.iter().all(|(_, o)| o.is_ok());
        if !outcomes.is_empty() {
            self.record_outcomes(actor, id, jobs, &outcomes).await?;
        }
        let mut outcomes = Vec::new();
        for (i, a) in body.actions.iter().enumerate() {
            if a.kind == ActionKind::Webhook || !open(a) {
                continue;
            }
            let result = if a.kind == ActionKind::Destroy && !every_hook_told {
                Some(Err(refused.clone().unwrap_or_else(|| {
                    "waits until every webhook connector has been told; see the webhook actions"
                        .to_owned()
                })))
            } else {
                self.run_action(actor, &r, &body, a.kind).await
            };
            if let Some(result) = result {
                outcomes.push((i, result.map(|note| (ActionStatus::Done, note, None))));
            }
        }
        // Nothing ran (an information request, or nothing left open): nothing to write.
        let record = if outcomes.is_empty() {
            self.request_record(id).await?
        } else {
            self.record_outcomes(actor, id, Vec::new(), &outcomes)
                .await?
        };
        self.full_view(&record)
    }

    /// Records the outcomes of actions (by index) with the jobs they queued. An action recorded
    /// done, or handed to a connector, by a concurrent run stays as it is.
    async fn record_outcomes(
        &self,
        actor: &Actor,
        id: Uuid,
        jobs: Vec<derbes_store::JobWrite>,
        outcomes: &[(usize, ActionOutcome)],
    ) -> Result<RequestRecord, VaultError> {
        let now = self.vault.now();
        let (record, _) = self
            .update_request_with_jobs(id, jobs, |rec, body, _| {
                let mut audit = Vec::new();
                for (i, result) in outcomes {
                    let Some(a) = body
                        .actions
                        .get_mut(*i)
                        .filter(|a| !matches!(a.status, ActionStatus::Done | ActionStatus::Waiting))
                    else {
                        continue;
                    };
                    a.at = Some(now);
                    let (status, note, outcome) = match result {
                        Ok((status, note, job)) => {
                            if job.is_some() {
                                a.job = *job;
                            }
                            (*status, note.clone(), Outcome::Ok)
                        }
                        Err(e) => (ActionStatus::Failed, e.clone(), Outcome::Denied),
                    };
                    a.status = status;
                    a.note = Some(note);
                    audit.push(request_audit(
                        &actor.audit_name(),
                        rec,
                        "request.action",
                        outcome,
                        serde_json::json!({ "action": a.kind, "status": status, "connector": a.connector }),
                    ));
                }
                Ok(audit)
            })
            .await?;
        Ok(record)
    }

    /// Runs one action; `None` when derbes does not carry it out by itself (it waits for a
    /// later step: the answer, the export, the destruction).
    async fn run_action(
        &self,
        actor: &Actor,
        r: &RequestRecord,
        body: &Body,
        kind: ActionKind,
    ) -> Option<Result<String, String>> {
        let purpose = body.purpose.as_deref();
        let result = match kind {
            ActionKind::Block => {
                let input = FlagInput {
                    reason: FlagReason::SubjectRequest,
                    note: Some(format!("request {}", r.id)),
                    until: body.block_until,
                };
                self.vault.set_flag(actor, r.subject_id, None, FlagChange::Set(input))
                    .await
                    .map(|_| "blocked".to_owned())
            }
            ActionKind::Unblock => self.vault
                .set_flag(
                    actor,
                    r.subject_id,
                    None,
                    FlagChange::Lift(FlagReason::SubjectRequest),
                )
                .await
                .map(|_| "block lifted".to_owned())
                .or_else(|e| match e {
                    // Lifted already (by an earlier run whose outcome was not recorded, by
                    // staff, or by its end date): what the subject asked for holds.
                    VaultError::NothingToLift(_) => Ok("no block was in force".to_owned()),
                    e => Err(e),
                }),
            ActionKind::Restrict => {
                let reason = if r.kind == RequestKind::Objection.code() {
                    FlagReason::Objection
                } else {
                    FlagReason::SubjectRequest
                };
                let input = FlagInput {
                    reason,
                    note: Some(format!("request {}", r.id)),
                    until: None,
                };
                self.vault.set_flag(actor, r.subject_id, purpose, FlagChange::Set(input))
                    .await
                    .map(|_| "processing restricted".to_owned())
            }
            ActionKind::WithdrawConsent => {
                let input = ConsentInput {
                    purpose: purpose.unwrap_or_default().to_owned(),
                    action: ConsentStep::Withdraw,
                    representative_id: match body.requester {
                        Requester::Representative { id } => Some(id),
                        Requester::Subject { .. } => None,
                    },
                    method: Method::Other {
                        description: format!("data-subject request {}", r.id),
                    },
                    until: None,
                };
                self.vault.record_consent(actor, r.subject_id, input)
                    .await
                    .map(|_| "consent withdrawn".to_owned())
                    .or_else(|e| match e {
                        // Withdrawn already, or never given: what the subject asked for holds.
                        VaultError::ConsentRefused(p)
                            if !p.is_empty()
                                && p.iter()
                                .all(|p| matches!(p, ConsentProblem::NothingToWithdraw { .. })) =>
                        {
                            Ok("no consent to the purpose was in force".to_owned())
                        }
                        e => Err(e),
                    })
            }
            ActionKind::Export => self
                .build_package(actor, r, body.language)
                .await
                .map(|(s, expires_at)| {
                    format!(
                        "access package built: {} fields, {} consents, {} audit events, {} bytes; available until {}",
                        s.fields,
                        s.consents,
                        s.access_events,
                        s.bytes,
                        format_timestamp(expires_at)
                    )
                }),
            ActionKind::Destroy => self.destructions
                .destroy_subject(actor, r.subject_id, Some(r.id))
                .await
                .map(|d| {
                    format!(
                        "destroyed by crypto-shredding: data key and {} fields, {} blind-index entries, {} consent events, {} links, {} flags, {} packages",
                        d.fields.len(),
                        d.removed.index_entries,
                        d.removed.consent_events,
                        d.removed.representative_links,
                        d.removed.flags + d.removed.obligations,
                        d.removed.packages
                    )
                }),
            // The corrected values come with the `rectify` step, the answer with its own, and
            // webhooks are queued by `run_actions`.
            ActionKind::Rectify | ActionKind::Answer | ActionKind::Webhook => return None,
        };
        Some(result.map_err(|e| e.to_string()))
    }

    /// Sends a one-time code to the requester's e-mail address on file.
    pub async fn send_request_code(&self, actor: &Actor, id: Uuid) -> Result<CodeSent, VaultError> {
        self.vault
            .authorize(actor, access::Action::RequestCodeSend)?;
        let (r, body, _) = self.request_parts(id).await?;
        self.sight(actor, access::Action::RequestCodeSend, &r, &body)
            .await?;
        let Some(mailer) = self.vault.mailer() else {
            return Err(VaultError::Unavailable(
                "no delivery channel for one-time codes is configured; set [mail] in derbes.toml or verify by a document check".into(),
            ));
        };
        let (_, body, status) = self.request_parts(id).await?;
        if status != Status::Received {
            return Err(not_now(status, "verify_identity", Status::Received));
        }
        if body.codes_sent >= CODE_SENDS {
            return Err(VaultError::Conflict(format!(
                "{CODE_SENDS} codes were sent for this request already; verify the requester by a document check"
            )));
        }
        let (field, address) = self.contact_on_file(body.requester.id()).await?;
        let code = derbes_crypto::one_time_code()?;
        let mac = self.vault.keys().one_time_code_mac(&id.to_string(), &code);
        let expires_at = self.vault.now() + CODE_VALIDITY;
        let (subject, text) = code_mail(body.language, &code, CODE_VALIDITY.whole_minutes());
        let mail = Mail {
            to: address.clone(),
            subject,
            body: text,
        };
        // Sent before it is recorded: a code that was never delivered must not count, and one
        // that was delivered but not recorded only fails to verify.
        let delivery = Self::deliver(mailer, mail, "the code").await?;
        let who = actor.audit_name();
        let (_, body) = self
            .update_request(id, |rec, body, status| {
                if *status != Status::Received {
                    return Err(VaultError::Conflict(
                        "the request changed; ask for a new code".into(),
                    ));
                }
                body.codes_sent += 1;
                body.challenge = Some(Challenge {
                    mac: mac.clone(),
                    field: field.clone(),
                    expires_at,
                    attempts_left: CODE_ATTEMPTS,
                });
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.code.send",
                    Outcome::Ok,
                    serde_json::json!({ "delivery": delivery }),
                )
                .fields(&[field.as_str()])])
            })
            .await?;
        Ok(CodeSent {
            sent_to: mask_email(&address),
            expires_at,
            sends_left: CODE_SENDS.saturating_sub(body.codes_sent),
        })
    }

    /// The first e-mail field on file of `person` (a subject), opened.
    async fn contact_on_file(&self, person: Uuid) -> Result<(String, String), VaultError> {
        self.email_on_file(person).await?.ok_or_else(|| {
            VaultError::Conflict(
                "the requester has no e-mail address on file; verify them by a document check"
                    .into(),
            )
        })
    }

    /// The person's e-mail field and address; `None` when they have none, or are gone. A store
    /// or key failure is an error, not "no address".
    async fn email_on_file(&self, person: Uuid) -> Result<Option<(String, String)>, VaultError> {
        let Some(record) = self.vault.store().subject(person).await? else {
            return Ok(None);
        };
        let dk = self.vault.open_key(&record)?;
        for (key, sealed) in &record.fields {
            let is_email = self
                .vault
                .declaration()
                .field(key)
                .is_some_and(|f| f.validator == Validator::Email);
            if is_email {
                return Ok(Some((
                    key.clone(),
                    self.vault.open_field(&dk, &record, key, sealed)?,
                )));
            }
        }
        Ok(None)
    }

    /// Where the written answer goes: the address kept when the request was decided, else the
    /// requester's e-mail on file now; `None` when there is neither.
    async fn answer_address(
        &self,
        key: &derbes_crypto::DataKey,
        id: Uuid,
        body: &Body,
    ) -> Result<Option<String>, VaultError> {
        match &body.reply_to {
            Some(sealed) => Ok(Some(Self::open_text(key, &id, "reply_to", sealed)?)),
            None => Ok(self
                .email_on_file(body.requester.id())
                .await?
                .map(|(_, address)| address)),
        }
    }

    /// Checks a one-time code; a match verifies the requester's identity.
    pub async fn check_request_code(
        &self,
        actor: &Actor,
        id: Uuid,
        code: &str,
    ) -> Result<RequestView, VaultError> {
        self.vault
            .authorize(actor, access::Action::RequestCodeCheck)?;
        let sight = {
            let (r, body, _) = self.request_parts(id).await?;
            self.sight(actor, access::Action::RequestCodeCheck, &r, &body)
                .await?
        };
        let now = self.vault.now();
        let keys = self.vault.keys();
        let who = actor.audit_name();
        let code = code.trim();
        let mut failed: Option<VaultError> = None;
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                failed = None;
                let Some(ch) = body.challenge.as_mut() else {
                    return Err(VaultError::Conflict(
                        "no code was sent for this request; send one first".into(),
                    ));
                };
                if now > ch.expires_at || ch.attempts_left == 0 {
                    body.challenge = None;
                    failed = Some(VaultError::CodeRejected {
                        detail: "the code has expired or has been tried too often; send a new one"
                            .into(),
                        attempts_left: 0,
                    });
                } else if keys.verify_one_time_code(&rec.id.to_string(), code, &ch.mac) {
                    let verification = Verification::OneTimeCode {
                        field: ch.field.clone(),
                        at: now,
                    };
                    let to = body.verified(status, verification, &who, now)?;
                    return Ok(vec![Self::step_audit(actor, rec, "verify_identity", to)]);
                } else {
                    ch.attempts_left -= 1;
                    failed = Some(VaultError::CodeRejected {
                        detail: "the code does not match".into(),
                        attempts_left: ch.attempts_left,
                    });
                }
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.code.check",
                    Outcome::Denied,
                    serde_json::json!({}),
                )])
            })
            .await?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.view_as(sight, &record)
    }

    /// Records that staff checked the requester's identity document.
    pub async fn verify_request_by_document(
        &self,
        actor: &Actor,
        id: Uuid,
        document: DocumentKind,
        note: Option<String>,
    ) -> Result<RequestView, VaultError> {
        self.vault
            .authorize(actor, access::Action::RequestVerifyDocument)?;
        let sight = {
            let (r, body, _) = self.request_parts(id).await?;
            self.sight(actor, access::Action::RequestVerifyDocument, &r, &body)
                .await?
        };
        if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
            return Err(VaultError::InvalidField {
                field: "note",
                detail: "is longer than 1000 characters".into(),
            });
        }
        let now = self.vault.now();
        let who = actor.audit_name();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                if matches!(body.requester, Requester::Representative { .. })
                    && !matches!(
                        document,
                        DocumentKind::BirthCertificate | DocumentKind::PowerOfAttorney | DocumentKind::CourtDecision
                    )
                {
                    return Err(VaultError::InvalidField {
                        field: "document",
                        detail: "a representative's authority rests on a birth certificate, a power of attorney or a court decision; check that document".into(),
                    });
                }
                let verification = Verification::Document {
                    document,
                    checked_by: who.clone(),
                    at: now,
                };
                let to = body.verified(status, verification, &who, now)?;
                let dk = self.request_key(rec)?;
                body.verification_note = note
                    .as_deref()
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| Self::seal_text(&dk, &rec.id, "verification_note", n))
                    .transpose()?;
                Ok(vec![Self::step_audit(actor, rec, "verify_identity", to)])
            })
            .await?;
        self.view_as(sight, &record)
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

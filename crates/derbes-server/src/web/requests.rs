//! "Requests": the queue with its filters, one request from intake to answer (identity
//! verification, the workflow's steps, the actions and their retry, the answer letter and the
//! access package), and a paper request filed with its received date. Every form makes one
//! service call; the service decides who may take which step, and its reason is shown.

use super::{text, Page, Submitted, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use derbes_core::request::{RejectionReason, RequestKind, Status, StepProblem};
use derbes_service::{ConsoleSession, RequestFilter, RequestInput, StepInput, VaultError};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// The steps the request's page posts, as the service names them.
const STEPS: [&str; 9] = [
    "submit",
    "withdraw",
    "complete",
    "run_actions",
    "approve",
    "reject",
    "send_answer",
    "record_answer",
    "settle_connector",
];

/// The most requests a page of the queue shows.
const QUEUE_PAGE: u32 = 50;

/// A code as a value of its type (`"access_export"` as a request kind), if it is one.
fn parse<T: DeserializeOwned>(code: &str) -> Option<T> {
    serde_json::from_value(json!(code)).ok()
}

/// The queue's filters, from the address (they name no person).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct QueueFilter {
    kind: String,
    status: String,
    /// `overdue`, `today`, `week`, or all.
    due: String,
    /// The last request of the previous page.
    after: String,
}

pub(crate) async fn queue(viewer: Viewer, Query(q): Query<QueueFilter>) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let status = parse::<Status>(&q.status);
    let filter = RequestFilter {
        kind: parse(&q.kind),
        status,
        // "All" statuses, when one is not chosen, means the open ones.
        open: Some(status.is_none()),
        overdue: q.due == "overdue",
        due_within_days: match q.due.as_str() {
            "today" => Some(0),
            "week" => Some(7),
            _ => None,
        },
        after: q.after.parse().ok(),
        limit: Some(QUEUE_PAGE + 1),
        ..RequestFilter::default()
    };
    let page = Page::new("requests.html", "requests_title", lang, Some(&session))
        .section("requests")
        .request_kinds();
    match state.app.requests.requests(&actor, filter).await {
        Ok(mut requests) => {
            let more = requests.len() > QUEUE_PAGE as usize;
            requests.truncate(QUEUE_PAGE as usize);
            let next = more
                .then(|| requests.last().map(|r| r.id.to_string()))
                .flatten();
            page.with(json!({
                "requests": requests,
                "next": next,
                "filter": { "kind": q.kind, "status": q.status, "due": q.due },
                "kind_codes": RequestKind::ALL.map(RequestKind::code),
                "status_codes": Status::ALL.map(Status::code),
            }))
            .render()
        }
        Err(e) => super::session::failed(&state, lang, Some(&session), "requests", e),
    }
}

/// The request a page or form is about, from its address; a malformed id is a request that
/// does not exist.
pub(crate) struct OnRequest(Uuid);

impl axum::extract::FromRequestParts<AppState> for OnRequest {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let lang = super::page_lang(&parts.uri, &parts.headers, None);
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => match id.parse() {
                Ok(id) => Ok(OnRequest(id)),
                Err(_) => Err(missing(lang, None)),
            },
            Err(_) => Err(missing(lang, None)),
        }
    }
}

/// The page for a request that does not exist.
fn missing(lang: derbes_core::text::Lang, session: Option<&ConsoleSession>) -> Response {
    let why = text(lang, "request_not_found_detail");
    super::refusal(lang, session, "requests", StatusCode::NOT_FOUND, why)
}

pub(crate) async fn one(viewer: Viewer, uri: Uri, OnRequest(id): OnRequest) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let done = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("done=")))
        .map(|step| text(lang, &format!("done_{step}")))
        .unwrap_or("");
    let view = state.app.requests.request(&actor, id).await;
    show(&state, &session, lang, view, json!({ "notice": done })).await
}

/// One request's page, with `values` from a form just handled (an error, the form kept).
async fn show(
    state: &AppState,
    session: &ConsoleSession,
    lang: derbes_core::text::Lang,
    view: Result<derbes_service::RequestView, VaultError>,
    values: Value,
) -> Response {
    let status = if values.get("error").is_some() || values.get("errors").is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let view = match view {
        Ok(v) => v,
        Err(VaultError::RequestNotFound) => return missing(lang, Some(session)),
        Err(e) => return super::session::failed(state, lang, Some(session), "requests", e),
    };
    let mut context = json!({
        "r": view,
        "errors": {},
        "reasons": [
            "identity_not_confirmed", "not_justified", "contradicts_law", "duplicate", "no_data",
        ],
        "reason_labels": Value::Object(
            [
                RejectionReason::IdentityNotConfirmed,
                RejectionReason::NotJustified,
                RejectionReason::ContradictsLaw,
                RejectionReason::Duplicate,
                RejectionReason::NoData,
            ]
            .iter()
            .map(|r| (json!(r).as_str().unwrap_or_default().to_owned(), json!(r.label(lang))))
            .collect(),
        ),
        "documents": ["id_card", "passport", "birth_certificate", "power_of_attorney", "court_decision", "other"],
    });
    if let (Some(c), Value::Object(v)) = (context.as_object_mut(), values) {
        c.extend(v);
    }
    Page::new("request.html", "request_title", lang, Some(session))
        .section("requests")
        .request_kinds()
        .purposes_of(state.app.vault.declaration())
        .with(context)
        .status(status)
        .render()
}

/// After a form on a request: back to its page with what was done (303), or the page again
/// with why not.
async fn after_form(
    s: &Submitted,
    id: Uuid,
    done: Result<&'static str, VaultError>,
    field: &'static str,
) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let problem = match done {
        Ok(step) => return super::see_other(&format!("/console/requests/{id}?done={step}"), &[]),
        Err(e @ VaultError::Forbidden(_)) => {
            return super::session::failed(state, lang, Some(&s.session), "requests", e)
        }
        Err(VaultError::InvalidField { field, detail }) => {
            json!({ "errors": { field: detail } })
        }
        Err(VaultError::CodeRejected { .. }) => {
            json!({ "errors": { field: text(lang, "request_code_rejected") } })
        }
        Err(VaultError::Step(p)) => json!({ "error": step_problem(lang, &p) }),
        Err(
            e @ (VaultError::Invalid(_)
            | VaultError::Conflict(_)
            | VaultError::Unavailable(_)
            | VaultError::Denied(_)
            | VaultError::DestructionRefused(_)),
        ) => json!({ "error": e.to_string() }),
        Err(e) => return super::session::unavailable(lang, e),
    };
    let view = state.app.requests.request(&s.actor, id).await;
    show(state, &s.session, lang, view, problem).await
}

/// Why a step cannot be taken now, in `lang`, with the request's status in words.
fn step_problem(lang: derbes_core::text::Lang, p: &StepProblem) -> String {
    let status = |s: &Status| text(lang, &format!("request_status_{}", s.code()));
    match p {
        StepProblem::WrongStatus { status: s, .. } => {
            text(lang, "step_wrong_status").replace("{status}", status(s))
        }
        StepProblem::Closed { status: s } => {
            text(lang, "step_closed").replace("{status}", status(s))
        }
        StepProblem::ActionsPending { pending } => {
            text(lang, "step_actions_pending").replace("{n}", &pending.to_string())
        }
        StepProblem::SameApprover => text(lang, "step_same_approver").to_owned(),
    }
}

/// A workflow step posted from the request's page (`step` and what it needs).
pub(crate) async fn step(OnRequest(id): OnRequest, s: Submitted) -> Response {
    let state = &s.state;
    let f = &s.fields;
    let optional = |name: &str| Some(f.get(name).trim()).filter(|v| !v.is_empty());
    let input = match f.get("step") {
        "submit" => Ok(StepInput::Submit),
        "withdraw" => Ok(StepInput::Withdraw),
        "complete" => Ok(StepInput::Complete),
        "run_actions" => Ok(StepInput::RunActions),
        "approve" => match optional("until").map(|d| {
            time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
        }) {
            None => Ok(StepInput::Approve { until: None }),
            Some(Ok(until)) => Ok(StepInput::Approve { until: Some(until) }),
            Some(Err(_)) => Err(VaultError::InvalidField {
                field: "until",
                detail: text(s.lang, "invalid_until").to_owned(),
            }),
        },
        "reject" => parse::<RejectionReason>(f.get("reason"))
            .map(|reason| StepInput::Reject { reason })
            .ok_or(VaultError::InvalidField {
                field: "reason",
                detail: text(s.lang, "invalid_reason").to_owned(),
            }),
        "send_answer" => Ok(StepInput::SendAnswer {
            text: optional("text").map(str::to_owned),
        }),
        "record_answer" => Ok(StepInput::RecordAnswer {
            reference: f.get("reference").to_owned(),
        }),
        "settle_connector" => Ok(StepInput::SettleConnector {
            connector: f.get("connector").to_owned(),
            note: f.get("note").to_owned(),
        }),
        _ => Err(VaultError::Invalid(text(s.lang, "unknown_step").to_owned())),
    };
    let step = STEPS
        .into_iter()
        .find(|k| *k == f.get("step"))
        .unwrap_or_default();
    let done = match input {
        Ok(input) => state
            .app
            .requests
            .request_step(&s.actor, id, input)
            .await
            .map(|_| step),
        Err(e) => Err(e),
    };
    after_form(&s, id, done, "step").await
}

pub(crate) async fn send_code(OnRequest(id): OnRequest, s: Submitted) -> Response {
    let state = &s.state;
    let done = state
        .app
        .requests
        .send_request_code(&s.actor, id)
        .await
        .map(|_| "code_sent");
    after_form(&s, id, done, "code").await
}

pub(crate) async fn check_code(OnRequest(id): OnRequest, s: Submitted) -> Response {
    let state = &s.state;
    let done = state
        .app
        .requests
        .check_request_code(&s.actor, id, s.fields.get("code"))
        .await
        .map(|_| "verified");
    after_form(&s, id, done, "code").await
}

pub(crate) async fn verify_document(OnRequest(id): OnRequest, s: Submitted) -> Response {
    let state = &s.state;
    let note = Some(s.fields.get("note").trim())
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    let done = match parse(s.fields.get("document")) {
        Some(document) => state
            .app
            .requests
            .verify_request_by_document(&s.actor, id, document, note)
            .await
            .map(|_| "verified"),
        None => Err(VaultError::InvalidField {
            field: "document",
            detail: text(s.lang, "invalid_document").to_owned(),
        }),
    };
    after_form(&s, id, done, "document").await
}

/// The access package, as the API gives it.
pub(crate) async fn package(viewer: Viewer, OnRequest(id): OnRequest) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    match state.app.requests.request_package(&actor, id).await {
        Ok(d) => (
            [
                (header::CONTENT_TYPE, "application/zip".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{}\"", d.file_name),
                ),
            ],
            d.zip,
        )
            .into_response(),
        Err(e) => show(&state, &session, lang, Err(e), json!({})).await,
    }
}

/// The written answer, as sent or as it would be sent now: a letter to read and print.
pub(crate) async fn answer(viewer: Viewer, OnRequest(id): OnRequest) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    match state.app.requests.answer_preview(&actor, id).await {
        Ok(letter) => Page::new("letter.html", "letter_title", lang, Some(&session))
            .section("requests")
            .with(json!({ "letter": letter, "request_id": id }))
            .render(),
        Err(e @ VaultError::Forbidden(_)) => {
            super::session::failed(&state, lang, Some(&session), "requests", e)
        }
        Err(e) => show(&state, &session, lang, Err(e), json!({})).await,
    }
}

/// The form for a request received on paper (or by e-mail), with the subject's id given.
pub(crate) async fn new_form(
    State(state): State<AppState>,
    Viewer { session, lang, .. }: Viewer,
    uri: Uri,
) -> Response {
    let subject = uri
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("subject=")))
        .and_then(|s| s.parse::<Uuid>().ok())
        .map(|s| s.to_string())
        .unwrap_or_default();
    filing_page(
        &state,
        &session,
        lang,
        json!({ "subject_id": subject }),
        json!({}),
    )
}

fn filing_page(
    state: &AppState,
    session: &ConsoleSession,
    lang: derbes_core::text::Lang,
    form: Value,
    errors: Value,
) -> Response {
    let status = if errors.as_object().is_some_and(|e| !e.is_empty()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut form_values = json!({
        "subject_id": "", "representative_id": "", "kind": "", "channel": "paper", "language": lang.code(),
        "purpose": "", "details": "", "received_at": "",
    });
    if let (Some(f), Value::Object(v)) = (form_values.as_object_mut(), form) {
        f.extend(v);
    }
    Page::new("request-new.html", "request_new_title", lang, Some(session))
        .section("requests")
        .request_kinds()
        .purposes_of(state.app.vault.declaration())
        .with(json!({
            "form": form_values,
            "errors": errors,
            "kind_codes": RequestKind::ALL.map(RequestKind::code),
        }))
        .status(status)
        .render()
}

/// Files a request received outside derbes: the subject's id, who asks, what, and when it
/// was received (the operator's local time).
pub(crate) async fn file(s: Submitted) -> Response {
    let state = &s.state;
    let f = &s.fields;
    let lang = s.lang;
    let field_error = |field: &'static str| VaultError::InvalidField {
        field,
        detail: text(lang, &format!("invalid_{field}")).to_owned(),
    };
    let received_at = match f.get("received_at").trim() {
        "" => Ok(None),
        at => time::PrimitiveDateTime::parse(
            at,
            time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]"),
        )
        .map(|t| Some(t.assume_offset(s.session.utc_offset)))
        .map_err(|_| field_error("received_at")),
    };
    let representative = match f.get("representative_id").trim() {
        "" => Ok(None),
        id => id
            .parse()
            .map(Some)
            .map_err(|_| field_error("representative_id")),
    };
    let input = (|| {
        Ok::<_, VaultError>(RequestInput {
            kind: parse(f.get("kind")).ok_or_else(|| field_error("kind"))?,
            subject_id: f
                .get("subject_id")
                .trim()
                .parse()
                .map_err(|_| field_error("subject_id"))?,
            representative_id: representative?,
            channel: parse(f.get("channel")).ok_or_else(|| field_error("channel"))?,
            language: f
                .get("language")
                .parse()
                .map_err(|_| field_error("language"))?,
            purpose: Some(f.get("purpose").to_owned()).filter(|p| !p.is_empty()),
            details: Some(f.get("details").trim().to_owned()).filter(|d| !d.is_empty()),
            received_at: received_at?,
            allow_duplicate: f.ticked("allow_duplicate"),
        })
    })();
    let filed = match input {
        Ok(input) => state.app.requests.file_request(&s.actor, input).await,
        Err(e) => Err(e),
    };
    let (field, message) = match filed {
        Ok(view) => {
            return super::see_other(&format!("/console/requests/{}?done=filed", view.id), &[])
        }
        Err(e @ VaultError::Forbidden(_)) => {
            return super::session::failed(state, lang, Some(&s.session), "requests", e)
        }
        Err(VaultError::InvalidField { field, detail }) => (field, detail),
        Err(VaultError::NotFound) => ("subject_id", text(lang, "no_such_subject").to_owned()),
        Err(VaultError::NotLinked) => (
            "representative_id",
            text(lang, "not_linked_representative").to_owned(),
        ),
        Err(VaultError::DuplicateRequest { existing }) => (
            "kind",
            text(lang, "duplicate_request").replace("{id}", &existing.to_string()),
        ),
        Err(VaultError::Invalid(m)) => ("form", m),
        Err(e) => return super::session::unavailable(lang, e),
    };
    let form = json!({
        "subject_id": f.get("subject_id"), "representative_id": f.get("representative_id"),
        "kind": f.get("kind"), "channel": f.get("channel"), "language": f.get("language"),
        "purpose": f.get("purpose"), "details": f.get("details"), "received_at": f.get("received_at"),
    });
    filing_page(state, &s.session, lang, form, json!({ field: message }))
}

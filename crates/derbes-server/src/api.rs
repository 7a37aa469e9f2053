//! The REST API under `/api/v1`: routes, request shapes and the mapping of vault errors to
//! problem responses.

use crate::auth::Authenticated;
use crate::problem::ApiError;
use crate::{AppState, BODY_LIMIT};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put, MethodRouter};
use axum::Router;
use derbes_core::validate::FieldProblem;
use derbes_service::Role;
use derbes_service::VaultError;
use derbes_store::StoreError;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

mod consents;
mod openapi;
mod policy;
mod requests;

/// JSON body whose rejections are problem responses.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
struct Body<T>(T);

/// Query string whose rejections are problem responses.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
struct Query<T>(T);

/// Path parameters whose rejections are problem responses.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
struct Path<T>(T);

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

impl From<VaultError> for ApiError {
    fn from(e: VaultError) -> Self {
        match e {
            VaultError::Validation(problems) => {
                let detail = problems.iter().map(|p| p.message.clone()).collect::<Vec<_>>().join("; ");
                ApiError::validation(detail, &problems)
            }
            VaultError::UnknownCategory(c) => ApiError::field(
                "category",
                format!("subject category `{c}` is not declared"),
                format!("subject category `{c}` is not declared; GET /api/v1/declaration lists them"),
            ),
            VaultError::Denied(reasons) => ApiError::denied(&reasons),
            VaultError::Forbidden(m) => ApiError::forbidden(m),
            VaultError::NotFound => ApiError::not_found("no subject has this id"),
            VaultError::Duplicate { field, category, existing } => ApiError::conflict(format!(
                "a subject of category `{category}` with the same `{field}` already exists"
            ))
            .with("existing_subject_id", json!(existing)),
            VaultError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation", "The request is not valid", m),
            VaultError::ConsentRefused(problems) => ApiError::consent_refused(&problems),
            VaultError::NotLinked => ApiError::not_found(
                "this person is not linked to the subject as a legal representative; GET …/representatives lists the links",
            ),
            e @ VaultError::NothingToLift(_) => ApiError::conflict(e.to_string()),
            VaultError::ConsentNotFound => ApiError::not_found(
                "the subject's consent ledger has no event with this id; GET …/consents lists them",
            ),
            VaultError::InvalidField { field, detail } => {
                ApiError::field(field, detail.clone(), format!("`{field}` {detail}"))
            }
            VaultError::DuplicateRequest { existing } => ApiError::conflict(
                "the subject already has an open request of this kind; handle that one, or file again with \"allow_duplicate\": true",
            )
            .with("existing_request_id", json!(existing)),
            VaultError::RequestNotFound => {
                ApiError::not_found("there is no data-subject request with this id; GET /api/v1/requests lists them")
            }
            VaultError::Step(p) => ApiError::new(StatusCode::CONFLICT, "request-step", "The request cannot take this step now", p.to_string())
                .with("problem", json!(p)),
            VaultError::Conflict(m) => ApiError::conflict(m),
            VaultError::Unavailable(m) => ApiError::unavailable(m),
            VaultError::CodeRejected { detail, attempts_left } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "one-time-code",
                "The one-time code was not accepted",
                detail,
            )
            .with("attempts_left", json!(attempts_left)),
            e @ VaultError::DestructionRefused(_) => {
                ApiError::new(StatusCode::CONFLICT, "destruction-refused", "The data cannot be destroyed now", e.to_string())
            }
            VaultError::Destroyed(d) => ApiError::new(
                StatusCode::GONE,
                "destroyed",
                "The subject's data were destroyed",
                format!(
                    "the subject's data were destroyed on {}; only the audit trail and the destruction record remain",
                    d.destroyed_at.date()
                ),
            )
            .with("destruction", json!({ "destroyed_at": derbes_core::audit::format_timestamp(d.destroyed_at), "request_id": d.request_id })),
            VaultError::JobNotFound => ApiError::not_found("there is no webhook job with this id"),
            VaultError::TokenNotFound => ApiError::not_found("there is no token with this id; GET /api/v1/tokens lists them"),
            e @ VaultError::BadSignature(_) => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "webhook-signature",
                "The message is not signed with the webhook's secret",
                format!("{e}; sign the body with X-Derbes-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">"),
            ),
            VaultError::Gone(m) => ApiError::new(StatusCode::GONE, "package-gone", "The access package is no longer available", m),
            VaultError::Store(StoreError::VersionConflict) => {
                ApiError::conflict("the subject kept changing while this update ran; send it again")
            }
            VaultError::Store(StoreError::JobChanged) => ApiError::conflict(
                "a webhook connector's job changed meanwhile (confirmed, retried or settled); read the request again",
            ),
            // These messages name keys, versions and storage faults, never personal data.
            e @ (VaultError::Store(StoreError::Corrupt(_)) | VaultError::Crypto(_) | VaultError::Keys(_)) => {
                eprintln!("derbes: {e}");
                ApiError::internal("stored data could not be decrypted or decoded; the event is logged for the administrator")
            }
            VaultError::Store(StoreError::ChainBroken(reason)) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "audit-chain-broken",
                "The audit chain is broken: derbes refuses every action it would have to record",
                format!(
                    "the audit chain does not verify ({reason}); until an operator has looked into it (`derbes audit verify` names the first bad event; restore the database from a backup or investigate), nothing that must be recorded, reads included, is done. GET /api/v1/audit/status shows the state"
                ),
            ),
            VaultError::Store(e) => {
                eprintln!("derbes: storage: {e}");
                ApiError::unavailable("the storage did not complete the request; try again")
            }
        }
    }
}

/// Every route: method, path, handler. The OpenAPI test checks this list against the document.
fn routes() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    vec![
        ("get", "/api/v1/health", get(health)),
        ("get", "/api/v1/openapi.json", get(openapi_document)),
        ("get", "/api/v1/declaration", get(declaration)),
        ("get", "/policy", get(policy::in_force)),
        ("get", "/policy/versions", get(policy::versions)),
        ("get", "/policy/changes", get(policy::changes)),
        ("get", "/policy/versions/{version}", get(policy::version)),
        ("get", "/policy/documents/{document}", get(policy::document)),
        ("post", "/api/v1/subjects", post(create_subject)),
        ("get", "/api/v1/subjects/{id}", get(read_subject)),
        ("patch", "/api/v1/subjects/{id}", patch(rectify_subject)),
        ("get", "/api/v1/subjects/{id}/audit", get(subject_audit)),
        ("post", "/api/v1/lookup", post(lookup)),
        ("get", "/api/v1/audit", get(audit_events)),
        ("get", "/api/v1/audit/status", get(audit_status)),
        ("post", "/api/v1/tokens", post(create_token)),
        ("get", "/api/v1/tokens", get(list_tokens)),
        ("delete", "/api/v1/tokens/{id}", delete(revoke_token)),
        ("get", "/api/v1/jobs", get(jobs)),
        ("post", "/api/v1/decisions", post(decisions)),
        (
            "get",
            "/api/v1/subjects/{id}/consents",
            get(consents::list_consents),
        ),
        (
            "post",
            "/api/v1/subjects/{id}/consents",
            post(consents::record_consent),
        ),
        (
            "get",
            "/api/v1/subjects/{id}/representatives",
            get(consents::list_representatives),
        ),
        (
            "post",
            "/api/v1/subjects/{id}/representatives",
            post(consents::link_representative),
        ),
        (
            "delete",
            "/api/v1/subjects/{id}/representatives/{representative_id}",
            delete(consents::unlink_representative),
        ),
        ("get", "/api/v1/subjects/{id}/flags", get(consents::flags)),
        ("put", "/api/v1/subjects/{id}/block", put(consents::block)),
        (
            "delete",
            "/api/v1/subjects/{id}/block",
            delete(consents::unblock),
        ),
        (
            "put",
            "/api/v1/subjects/{id}/restrictions/{purpose}",
            put(consents::restrict),
        ),
        (
            "delete",
            "/api/v1/subjects/{id}/restrictions/{purpose}",
            delete(consents::unrestrict),
        ),
        (
            "get",
            "/api/v1/subjects/{id}/consents/{consent_id}/receipt",
            get(consents::receipt),
        ),
        (
            "get",
            derbes_service::RECEIPT_KEYS_PATH,
            get(consents::receipt_keys),
        ),
        (
            "put",
            "/api/v1/subjects/{id}/obligations/{purpose}",
            put(consents::record_obligation),
        ),
        (
            "delete",
            "/api/v1/subjects/{id}/obligations/{purpose}",
            delete(consents::fulfil_obligation),
        ),
        ("post", "/api/v1/requests", post(requests::file)),
        ("get", "/api/v1/requests", get(requests::list)),
        ("get", "/api/v1/requests/{id}", get(requests::one)),
        ("post", "/api/v1/requests/{id}/steps", post(requests::step)),
        (
            "get",
            "/api/v1/requests/{id}/package",
            get(requests::package),
        ),
        ("get", "/api/v1/requests/{id}/answer", get(requests::answer)),
        (
            "post",
            "/api/v1/webhooks/jobs/{id}",
            post(requests::confirm_webhook_job),
        ),
        (
            "get",
            "/api/v1/subjects/{id}/destruction",
            get(requests::destruction),
        ),
        (
            "post",
            "/api/v1/requests/{id}/verification/code",
            post(requests::send_code),
        ),
        (
            "post",
            "/api/v1/requests/{id}/verification/code/check",
            post(requests::check_code),
        ),
        (
            "post",
            "/api/v1/requests/{id}/verification/document",
            post(requests::verify_document),
        ),
    ]
}

/// (method, path) of every route.
pub static ROUTES: std::sync::LazyLock<Vec<(&'static str, &'static str)>> =
    std::sync::LazyLock::new(|| routes().into_iter().map(|(m, p, _)| (m, p)).collect());

/// Routes anyone may call without a token, and that record nothing: not rate-limited (the
/// webhook confirmation carries its own signature).
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/api/v1/health"
            | "/api/v1/openapi.json"
            | "/api/v1/declaration"
            | "/.well-known/derbes-receipt-keys.json"
    ) || path.starts_with("/policy")
}

pub fn router(state: AppState) -> Router {
    router_with(state, &crate::Limits::default()).0
}

/// The router with `limits`' rate limits on the API's routes, and the limiters to prune now
/// and then.
pub(crate) fn router_with(
    state: AppState,
    limits: &crate::Limits,
) -> (Router, crate::listen::Prune) {
    let (public, api) = routes()
        .into_iter()
        .partition(|(_, path, _)| is_public(path));
    let (api, prune) = crate::listen::rate_limited(gather(api), limits);
    let r = gather(public)
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    (r, prune)
}

type RouteList = Vec<(&'static str, &'static str, MethodRouter<AppState>)>;

/// One router of `routes`, the methods of a path together.
fn gather(routes: RouteList) -> Router<AppState> {
    let mut r = Router::new();
    let mut merged: IndexMap<&'static str, MethodRouter<AppState>> = IndexMap::new();
    for (_, path, mr) in routes {
        let entry = merged.shift_remove(path);
        merged.insert(
            path,
            match entry {
                Some(existing) => existing.merge(mr),
                None => mr,
            },
        );
    }
    for (path, mr) in merged {
        r = r.route(path, mr.fallback(method_not_allowed));
    }
    r
}

async fn not_found() -> ApiError {
    ApiError::not_found("there is no such endpoint; GET /api/v1/openapi.json lists them")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "this endpoint does not accept this method; GET /api/v1/openapi.json lists the methods",
    )
}

/// The language a page is asked in: `?lang=`, else `Accept-Language`, else Kazakh.
fn asked_lang(
    lang: Option<&str>,
    headers: &axum::http::HeaderMap,
) -> Result<derbes_core::text::Lang, ApiError> {
    use derbes_core::text::Lang;
    match lang {
        Some(l) => l.parse::<Lang>().map_err(|_| {
            ApiError::field(
                "lang",
                "must be kk, ru or en",
                "`lang` must be kk, ru or en",
            )
        }),
        None => Ok(headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Lang::from_accept_language)
            .unwrap_or(Lang::Kk)),
    }
}

/// Public: whether the server is up and its audit chain intact (a broken chain answers 503, so
/// that monitoring notices). The details are in the audit status, for the audit's readers.
async fn health(State(s): State<AppState>) -> Response {
    let v = s.app.vault.declaration();
    let audit = s.app.vault.audit_status();
    let broken = audit.chain == "broken";
    json_response(
        if broken {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::OK
        },
        &json!({
            "status": if broken { "audit_chain_broken" } else { "ok" },
            "backend": s.app.vault.store().backend(),
            "declaration_version": v.version,
            "audit_chain": audit.chain,
        }),
    )
}

/// The audit chain's state: verified up to which event, the last checkpoint and its export, the
/// last whole-chain verification, and what is wrong when it is broken.
async fn audit_status(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &s.app.vault.audit_status_for(&actor)?,
    ))
}

async fn openapi_document() -> Response {
    let mut resp = openapi::document().to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn declaration(State(s): State<AppState>) -> Response {
    json_response(StatusCode::OK, s.app.vault.declaration())
}

/// Field values as sent: strings, or null to erase (updates only). Values of other JSON types
/// come back as problems, beside the values that can go on to validation.
fn field_values(
    fields: IndexMap<String, Value>,
) -> (Vec<(String, Option<String>)>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        match v {
            Value::String(s) => out.push((k, Some(s))),
            Value::Null => out.push((k, None)),
            other => {
                let kind = match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::Array(_) => "an array",
                    _ => "an object",
                };
                problems.push(FieldProblem {
                    message: format!(
                        "`{k}` must be a string, not {kind} (write numbers and dates as strings)"
                    ),
                    field: k,
                });
            }
        }
    }
    (out, problems)
}

/// Reports type problems together with whatever validation finds in the other values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSubject {
    category: String,
    #[serde(deserialize_with = "derbes_service::unique_keys::deserialize")]
    fields: IndexMap<String, Value>,
}

async fn create_subject(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Body(b): Body<CreateSubject>,
) -> Result<Response, ApiError> {
    let (values, problems) = field_values(b.fields);
    let created = s
        .app
        .vault
        .create_subject(&actor, &b.category, values, problems)
        .await?;
    let mut resp = json_response(StatusCode::CREATED, &created);
    if let Ok(v) = header::HeaderValue::from_str(&format!("/api/v1/subjects/{}", created.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadParams {
    purpose: Option<String>,
    fields: Option<String>,
}

async fn read_subject(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Query(q): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let purpose = q.purpose.filter(|p| !p.is_empty()).ok_or_else(|| {
        ApiError::bad_request("every read names its purpose: add ?purpose=<purpose key> (GET /api/v1/declaration lists them)")
    })?;
    let fields = q.fields.map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let view = s
        .app
        .vault
        .read_subject(&actor, id, &purpose, fields)
        .await?;
    Ok(json_response(StatusCode::OK, &view))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rectify {
    #[serde(deserialize_with = "derbes_service::unique_keys::deserialize")]
    fields: IndexMap<String, Value>,
}

async fn rectify_subject(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Body(b): Body<Rectify>,
) -> Result<Response, ApiError> {
    let (values, problems) = field_values(b.fields);
    let r = s.app.vault.rectify(&actor, id, values, problems).await?;
    Ok(json_response(StatusCode::OK, &r))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lookup {
    field: String,
    value: String,
    purpose: String,
}

async fn lookup(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Body(b): Body<Lookup>,
) -> Result<Response, ApiError> {
    let matches = s
        .app
        .vault
        .lookup(&actor, &b.field, &b.value, &b.purpose)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({ "subjects": matches }),
    ))
}

/// One question (`{"subject_id", "purpose", "fields"?}`), or a batch (`{"decisions": [...]}`).
/// Is the request's body declared as JSON (`application/json` or `application/*+json`)?
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

async fn decisions(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    use axum::extract::rejection::{JsonRejection, MissingJsonContentType};
    use derbes_service::{Answer, Question};
    /// The answers to a batch, as sent.
    #[derive(serde::Serialize)]
    struct Answers {
        decisions: Vec<Answer>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        decisions: Vec<Question>,
    }
    if !is_json(&headers) {
        return Err(JsonRejection::from(MissingJsonContentType::default()).into());
    }
    let body = body.map_err(|e| ApiError::from(JsonRejection::from(e)))?;
    // Well-formed requests are read straight into questions; anything else takes the path
    // below, which names the question at fault.
    if let Ok(Batch { decisions }) = serde_json::from_slice::<Batch>(&body) {
        let decisions = s.app.vault.decide_questions(&actor, decisions).await?;
        return Ok(json_response(StatusCode::OK, &Answers { decisions }));
    } else if let Ok(q) = serde_json::from_slice::<Question>(&body) {
        let answer = s.app.vault.decide_questions(&actor, vec![q]).await?.pop();
        return Ok(json_response(StatusCode::OK, &answer));
    }
    let mut b: Value = derbes_service::unique_keys::value_from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON: {}",
            crate::problem::sanitize(&e.to_string())
        ))
    })?;
    let question = |field: String, v: Value| {
        serde_json::from_value::<Question>(v).map_err(|e| {
            let why = crate::problem::sanitize(&e.to_string());
            ApiError::field(
                field.clone(),
                format!("`{field}`: {why}"),
                format!(
                    "{why}; a question is {{\"subject_id\": \"<uuid>\", \"purpose\": \"<key>\", \"fields\": [\"<key>\", …]}} (fields optional)"
                ),
            )
        })
    };
    let Some(batch) = b.get_mut("decisions").map(Value::take) else {
        let answer = s
            .app
            .vault
            .decide_questions(&actor, vec![question("body".into(), b)?])
            .await?
            .pop();
        return Ok(json_response(StatusCode::OK, &answer));
    };
    let (Value::Array(items), 1) = (batch, b.as_object().map_or(0, |o| o.len())) else {
        return Err(ApiError::field(
            "decisions",
            "a batch is {\"decisions\": [question, …]} and nothing else",
            format!(
                "must be an array of at most {} questions, alone in the body",
                derbes_service::MAX_BATCH
            ),
        ));
    };
    let questions = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| question(format!("decisions[{i}]"), v))
        .collect::<Result<Vec<_>, _>>()?;
    let decisions = s.app.vault.decide_questions(&actor, questions).await?;
    Ok(json_response(StatusCode::OK, &Answers { decisions }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    after: Option<i64>,
    limit: Option<u32>,
}

impl Page {
    fn bounds(&self) -> Result<(i64, u32), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request("limit must be between 1 and 1000"));
        }
        let after = self.after.unwrap_or(0);
        // The largest number a JSON client keeps exactly.
        if !(0..=9_007_199_254_740_991).contains(&after) {
            return Err(ApiError::bad_request(
                "after must be a sequence number, 0 or more",
            ));
        }
        Ok((after, limit))
    }
}

async fn subject_audit(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let (after, limit) = page.bounds()?;
    let events = s
        .app
        .vault
        .subject_history(&actor, id, after, limit)
        .await?;
    Ok(json_response(StatusCode::OK, &json!({ "events": events })))
}

async fn audit_events(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let (after, limit) = page.bounds()?;
    let events = s.app.vault.audit_events(&actor, after, limit).await?;
    Ok(json_response(StatusCode::OK, &json!({ "events": events })))
}

/// A field that may be absent (`None`), null (`Some(None)`) or given.
fn absent_null_or<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateToken {
    name: String,
    role: String,
    #[serde(default)]
    purposes: Vec<String>,
    /// Days the token lives; null: it does not expire; absent: the default for its role.
    #[serde(default, deserialize_with = "absent_null_or")]
    expires_in_days: Option<Option<u32>>,
}

async fn create_token(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Body(b): Body<CreateToken>,
) -> Result<Response, ApiError> {
    let role: Role = b
        .role
        .parse()
        .map_err(|m: String| ApiError::field("role", m.clone(), m))?;
    let created = s
        .app
        .tokens
        .issue_token(&actor, &b.name, role, b.purposes, b.expires_in_days)
        .await?;
    let mut body = serde_json::to_value(&created).unwrap_or_default();
    body["note"] = json!("the token is shown once; derbes keeps only its digest");
    Ok(json_response(StatusCode::CREATED, &body))
}

async fn jobs(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let jobs = s.app.job_board(&actor).await?;
    Ok(json_response(StatusCode::OK, &json!({ "jobs": jobs })))
}

async fn list_tokens(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let tokens = s.app.tokens.list_tokens(&actor).await?;
    Ok(json_response(StatusCode::OK, &json!({ "tokens": tokens })))
}

async fn revoke_token(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &s.app.tokens.revoke_token(&actor, id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_route_is_documented_and_every_documented_path_is_served() {
        let doc = openapi::document();
        let paths = doc["paths"].as_object().unwrap();
        let documented: BTreeSet<(String, String)> = paths
            .iter()
            .flat_map(|(p, ops)| {
                ops.as_object()
                    .unwrap()
                    .keys()
                    .map(move |m| (m.clone(), p.clone()))
            })
            .collect();
        let served: BTreeSet<(String, String)> = ROUTES
            .iter()
            .map(|(m, p)| (m.to_string(), p.to_string()))
            .collect();
        assert_eq!(served, documented);
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = openapi::document();
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            assert!(doc["components"]["schemas"].get(name).is_some(), "{name}");
        }
    }
}

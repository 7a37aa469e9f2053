//! The REST API under `/api/v1` (one file per capability in `v1/`, each declaring its routes)
//! and the public policy pages: the router, the extractors whose rejections are problem
//! responses, and the mapping of service errors to problem responses.

use crate::problem::ApiError;
use crate::{AppState, BODY_LIMIT};
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Router;
use derbes_service::VaultError;
use derbes_store::StoreError;
use indexmap::IndexMap;
use serde_json::json;

mod openapi;
mod policy;
mod v1;

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

/// A signed consent receipt as a file to keep: pretty JSON, downloaded as
/// `consent-receipt-<consent>.json` (the API's `?format=json` and the console's download).
pub(crate) fn receipt_download(
    signed: &derbes_service::SignedReceipt,
    consent_id: uuid::Uuid,
) -> Result<Response, serde_json::Error> {
    json_download(signed, &format!("consent-receipt-{consent_id}.json"))
}

/// A signed document (a receipt, an act) as a JSON file to keep.
pub(crate) fn json_download(
    signed: &impl serde::Serialize,
    filename: &str,
) -> Result<Response, serde_json::Error> {
    let body = serde_json::to_string_pretty(signed)?;
    Ok(download(body, "application/json", filename))
}

/// `body` of `content_type`, to save as `filename`.
pub(crate) fn download(
    body: impl Into<axum::body::Body>,
    content_type: &'static str,
    filename: &str,
) -> Response {
    let mut response = (StatusCode::OK, body.into()).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    if let Ok(v) = header::HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    (status, axum::Json(body)).into_response()
}

/// `200 OK` with `body` as JSON.
pub(crate) fn ok(body: &impl serde::Serialize) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::OK, body))
}

/// `201 Created` with `body` as JSON.
pub(crate) fn created(body: &impl serde::Serialize) -> Result<Response, ApiError> {
    Ok(json_response(StatusCode::CREATED, body))
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
            e @ VaultError::Taken(_) => ApiError::conflict(e.to_string()),
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
            VaultError::BatchNotFound => ApiError::not_found("there is no retention batch with this id; GET /api/v1/retention/batches lists them"),
            VaultError::ActNotIssued => ApiError::not_found("the batch is not executed yet: its act (of destruction or depersonalization) is issued when it is; GET /api/v1/retention/batches/{id} shows its status"),
            e @ VaultError::Batch(_) => ApiError::new(StatusCode::CONFLICT, "retention-batch", "The batch cannot be approved now", e.to_string()),
            VaultError::TokenNotFound => ApiError::not_found("there is no token with this id; GET /api/v1/tokens lists them"),
            VaultError::AccountNotFound => ApiError::not_found("there is no account with this login; `derbes users list` lists them"),
            VaultError::SignIn(p) => ApiError::unauthorized(p.to_string()),
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

/// Every route: method, path, handler, each capability's from its own file. The OpenAPI test
/// checks this list against the document.
fn routes() -> RouteList {
    let mut all = v1::routes();
    all.extend(policy::routes());
    all
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
    let console = if state.console.own_listener {
        Router::new()
    } else {
        crate::web::router()
    };
    let r = gather(public)
        .merge(api)
        .merge(console)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state);
    (r, prune)
}

/// Routes as (method, path, handler).
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

/// The console alone, for a listener of its own.
pub(crate) fn console_router(state: AppState) -> Router {
    crate::web::router()
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
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

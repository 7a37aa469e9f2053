//! Routes for consents, legal representatives, blocks and restrictions of a subject.

use crate::api::{json_response, Body, Path, Query, RouteList};
use crate::auth::Authenticated;
use crate::problem::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use derbes_core::flags::FlagReason;
use derbes_service::{published_keys, receipt_html};
use derbes_service::{ConsentInput, FlagChange, FlagInput, LinkInput, ObligationInput};
use serde::Deserialize;
use uuid::Uuid;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("get", "/api/v1/subjects/{id}/consents", get(list_consents)),
        (
            "post",
            "/api/v1/subjects/{id}/consents",
            post(record_consent),
        ),
        (
            "get",
            "/api/v1/subjects/{id}/representatives",
            get(list_representatives),
        ),
        (
            "post",
            "/api/v1/subjects/{id}/representatives",
            post(link_representative),
        ),
        (
            "delete",
            "/api/v1/subjects/{id}/representatives/{representative_id}",
            delete(unlink_representative),
        ),
        ("get", "/api/v1/subjects/{id}/flags", get(flags)),
        ("put", "/api/v1/subjects/{id}/block", put(block)),
        ("delete", "/api/v1/subjects/{id}/block", delete(unblock)),
        (
            "put",
            "/api/v1/subjects/{id}/restrictions/{purpose}",
            put(restrict),
        ),
        (
            "delete",
            "/api/v1/subjects/{id}/restrictions/{purpose}",
            delete(unrestrict),
        ),
        (
            "get",
            "/api/v1/subjects/{id}/consents/{consent_id}/receipt",
            get(receipt),
        ),
        ("get", derbes_service::RECEIPT_KEYS_PATH, get(receipt_keys)),
        (
            "put",
            "/api/v1/subjects/{id}/obligations/{purpose}",
            put(record_obligation),
        ),
        (
            "delete",
            "/api/v1/subjects/{id}/obligations/{purpose}",
            delete(fulfil_obligation),
        ),
    ]
}

async fn list_consents(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let ledger = s.app.consents.consent_ledger(&actor, id).await?;
    Ok(json_response(StatusCode::OK, &ledger))
}

async fn record_consent(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Body(input): Body<ConsentInput>,
) -> Result<Response, ApiError> {
    let event = s.app.consents.record_consent(&actor, id, input).await?;
    Ok(json_response(StatusCode::CREATED, &event))
}

async fn list_representatives(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &s.app.consents.representatives(&actor, id).await?,
    ))
}

async fn link_representative(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Body(input): Body<LinkInput>,
) -> Result<Response, ApiError> {
    let (link, new) = s
        .app
        .consents
        .link_representative(&actor, id, input)
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &link))
}

async fn unlink_representative(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((id, representative_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let left = s
        .app
        .consents
        .unlink_representative(&actor, id, representative_id)
        .await?;
    Ok(json_response(StatusCode::OK, &left))
}

async fn flags(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &s.app.consents.flags(&actor, id).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Lift {
    reason: FlagReason,
}

/// Sets or lifts the block (`purpose: None`) or a restriction, and answers with the flags now.
async fn change_flag(
    s: AppState,
    actor: derbes_service::Actor,
    id: Uuid,
    purpose: Option<&str>,
    change: FlagChange,
) -> Result<Response, ApiError> {
    let flags = s.app.consents.set_flag(&actor, id, purpose, change).await?;
    Ok(json_response(StatusCode::OK, &flags))
}

async fn block(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Body(input): Body<FlagInput>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, None, FlagChange::Set(input)).await
}

async fn unblock(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Query(lift): Query<Lift>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, None, FlagChange::Lift(lift.reason)).await
}

async fn restrict(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((id, purpose)): Path<(Uuid, String)>,
    Body(input): Body<FlagInput>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, Some(&purpose), FlagChange::Set(input)).await
}

async fn unrestrict(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((id, purpose)): Path<(Uuid, String)>,
    Query(lift): Query<Lift>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, Some(&purpose), FlagChange::Lift(lift.reason)).await
}

async fn record_obligation(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((id, purpose)): Path<(Uuid, String)>,
    Body(input): Body<ObligationInput>,
) -> Result<Response, ApiError> {
    let flags = s
        .app
        .consents
        .set_obligation(&actor, id, &purpose, Some(input))
        .await?;
    Ok(json_response(StatusCode::OK, &flags))
}

async fn fulfil_obligation(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path((id, purpose)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let flags = s
        .app
        .consents
        .set_obligation(&actor, id, &purpose, None)
        .await?;
    Ok(json_response(StatusCode::OK, &flags))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReceiptQuery {
    #[serde(default)]
    format: Option<String>,
    #[serde(default)]
    lang: Option<String>,
}

/// A signed receipt for one consent event: JSON to keep and verify, or a readable page or text
/// in the asker's language (`?lang=`, else `Accept-Language`, else Kazakh).
async fn receipt(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    Path((id, consent_id)): Path<(Uuid, Uuid)>,
    Query(q): Query<ReceiptQuery>,
) -> Result<Response, ApiError> {
    let problem = |field: &str, message: &str| ApiError::field(field, message, message);
    let lang = crate::api::asked_lang(q.lang.as_deref(), &headers)?;
    let format = q.format.as_deref().unwrap_or("json");
    if !matches!(format, "json" | "html" | "text") {
        return Err(problem("format", "must be json, html or text"));
    }
    let signed = s
        .app
        .receipts
        .consent_receipt(&actor, id, consent_id)
        .await?;
    let (content_type, body) = match format {
        "html" => ("text/html; charset=utf-8", receipt_html(&signed, lang)),
        "text" => (
            "text/plain; charset=utf-8",
            signed.receipt.readable.get(lang).to_owned(),
        ),
        _ => (
            "application/json",
            serde_json::to_string_pretty(&signed).map_err(|e| ApiError::internal(e.to_string()))?,
        ),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if format == "json" {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "attachment; filename=\"consent-receipt-{consent_id}.json\""
        )) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    Ok(response)
}

/// The operator's public receipt keys (JWK Set), for anyone to check receipts with.
async fn receipt_keys(State(s): State<AppState>) -> Response {
    json_response(StatusCode::OK, &published_keys(&s.app.vault.keys()))
}

//! Routes for consents, legal representatives, blocks and restrictions of a subject.

use crate::api::{created, json_response, ok, Body, Path, Query, RouteList};
use crate::auth::Caller;
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
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let ledger = app.consents.consent_ledger(&actor, id).await?;
    ok(&ledger)
}

async fn record_consent(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<ConsentInput>,
) -> Result<Response, ApiError> {
    let event = app.consents.record_consent(&actor, id, input).await?;
    created(&event)
}

async fn list_representatives(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    ok(&app.consents.representatives(&actor, id).await?)
}

async fn link_representative(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<LinkInput>,
) -> Result<Response, ApiError> {
    let (link, new) = app.consents.link_representative(&actor, id, input).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &link))
}

async fn unlink_representative(
    Caller { app, actor }: Caller,
    Path((id, representative_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    let left = app
        .consents
        .unlink_representative(&actor, id, representative_id)
        .await?;
    ok(&left)
}

async fn flags(Caller { app, actor }: Caller, Path(id): Path<Uuid>) -> Result<Response, ApiError> {
    ok(&app.consents.flags(&actor, id).await?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Lift {
    reason: FlagReason,
}

/// Sets or lifts the block (`purpose: None`) or a restriction, and answers with the flags now.
async fn change_flag(
    Caller { app, actor }: Caller,
    id: Uuid,
    purpose: Option<&str>,
    change: FlagChange,
) -> Result<Response, ApiError> {
    let flags = app.consents.set_flag(&actor, id, purpose, change).await?;
    ok(&flags)
}

async fn block(
    caller: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<FlagInput>,
) -> Result<Response, ApiError> {
    change_flag(caller, id, None, FlagChange::Set(input)).await
}

async fn unblock(
    caller: Caller,
    Path(id): Path<Uuid>,
    Query(lift): Query<Lift>,
) -> Result<Response, ApiError> {
    change_flag(caller, id, None, FlagChange::Lift(lift.reason)).await
}

async fn restrict(
    caller: Caller,
    Path((id, purpose)): Path<(Uuid, String)>,
    Body(input): Body<FlagInput>,
) -> Result<Response, ApiError> {
    change_flag(caller, id, Some(&purpose), FlagChange::Set(input)).await
}

async fn unrestrict(
    caller: Caller,
    Path((id, purpose)): Path<(Uuid, String)>,
    Query(lift): Query<Lift>,
) -> Result<Response, ApiError> {
    change_flag(caller, id, Some(&purpose), FlagChange::Lift(lift.reason)).await
}

async fn record_obligation(
    Caller { app, actor }: Caller,
    Path((id, purpose)): Path<(Uuid, String)>,
    Body(input): Body<ObligationInput>,
) -> Result<Response, ApiError> {
    let flags = app
        .consents
        .set_obligation(&actor, id, &purpose, Some(input))
        .await?;
    ok(&flags)
}

async fn fulfil_obligation(
    Caller { app, actor }: Caller,
    Path((id, purpose)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    let flags = app
        .consents
        .set_obligation(&actor, id, &purpose, None)
        .await?;
    ok(&flags)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ReceiptQuery {
    format: Option<String>,
    lang: Option<String>,
}

/// A signed receipt for one consent event: JSON to keep and verify, or a readable page or text
/// in the asker's language (`?lang=`, else `Accept-Language`, else Kazakh).
async fn receipt(
    Caller { app, actor }: Caller,
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
    let signed = app.receipts.consent_receipt(&actor, id, consent_id).await?;
    let (content_type, body) = match format {
        "html" => ("text/html; charset=utf-8", receipt_html(&signed, lang)?),
        "text" => (
            "text/plain; charset=utf-8",
            signed.receipt.readable.get(lang).to_owned(),
        ),
        _ => {
            return crate::api::receipt_download(&signed, consent_id)
                .map_err(|e| ApiError::internal(e.to_string()))
        }
    };
    let mut response = (StatusCode::OK, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// The operator's public receipt keys (JWK Set), for anyone to check receipts with.
async fn receipt_keys(State(s): State<AppState>) -> Response {
    json_response(StatusCode::OK, &published_keys(&s.app.vault.keys()))
}

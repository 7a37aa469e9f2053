//! Routes for data-subject requests: intake, lists, one request, workflow steps and identity
//! verification. The vault checks roles per step.

use crate::api::{json_response, Body, Path, Query, RouteList};
use crate::auth::Authenticated;
use crate::problem::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::header;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use derbes_service::{DocumentKind, RequestFilter, RequestInput, StepInput};
use serde::Deserialize;
use uuid::Uuid;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("post", "/api/v1/requests", post(file)),
        ("get", "/api/v1/requests", get(list)),
        ("get", "/api/v1/requests/{id}", get(one)),
        ("post", "/api/v1/requests/{id}/steps", post(step)),
        ("get", "/api/v1/requests/{id}/package", get(package)),
        ("get", "/api/v1/requests/{id}/answer", get(answer)),
        (
            "post",
            "/api/v1/webhooks/jobs/{id}",
            post(confirm_webhook_job),
        ),
        ("get", "/api/v1/subjects/{id}/destruction", get(destruction)),
        (
            "post",
            "/api/v1/requests/{id}/verification/code",
            post(send_code),
        ),
        (
            "post",
            "/api/v1/requests/{id}/verification/code/check",
            post(check_code),
        ),
        (
            "post",
            "/api/v1/requests/{id}/verification/document",
            post(verify_document),
        ),
    ]
}

async fn file(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Body(input): Body<RequestInput>,
) -> Result<Response, ApiError> {
    let view = s.app.requests.file_request(&actor, input).await?;
    Ok(json_response(StatusCode::CREATED, &view))
}

async fn list(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(filter): Query<RequestFilter>,
) -> Result<Response, ApiError> {
    let views = s.app.requests.requests(&actor, filter).await?;
    Ok(json_response(StatusCode::OK, &views))
}

async fn one(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &s.app.requests.request(&actor, id).await?,
    ))
}

async fn step(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Body(input): Body<StepInput>,
) -> Result<Response, ApiError> {
    let view = s.app.requests.request_step(&actor, id, input).await?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn send_code(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let sent = s.app.requests.send_request_code(&actor, id).await?;
    Ok(json_response(StatusCode::OK, &sent))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeInput {
    code: String,
}

async fn check_code(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Body(input): Body<CodeInput>,
) -> Result<Response, ApiError> {
    let view = s
        .app
        .requests
        .check_request_code(&actor, id, &input.code)
        .await?;
    Ok(json_response(StatusCode::OK, &view))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DocumentInput {
    document: DocumentKind,
    #[serde(default)]
    note: Option<String>,
}

async fn verify_document(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
    Body(input): Body<DocumentInput>,
) -> Result<Response, ApiError> {
    let view = s
        .app
        .requests
        .verify_request_by_document(&actor, id, input.document, input.note)
        .await?;
    Ok(json_response(StatusCode::OK, &view))
}

async fn package(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let download = s.app.requests.request_package(&actor, id).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", download.file_name),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        download.zip,
    )
        .into_response())
}

/// The record of a destroyed subject: what was destroyed, when, by whom and for which request.
async fn destruction(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    match s.app.destructions.destruction(&actor, id).await? {
        Some(d) => Ok(json_response(StatusCode::OK, &d)),
        None => Err(ApiError::not_found("no subject with this id was destroyed")),
    }
}

/// The written answer: as sent, or as it would be sent now.
async fn answer(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    Ok(json_response(
        StatusCode::OK,
        &s.app.requests.answer_preview(&actor, id).await?,
    ))
}

/// A webhook connector's confirmation: no token, the body signed with the webhook's secret.
async fn confirm_webhook_job(
    State(s): State<AppState>,
    Path(id): Path<Uuid>,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let signature = headers
        .get(derbes_service::SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok());
    let job = s
        .app
        .requests
        .confirm_webhook_job(id, signature, &body)
        .await?;
    Ok(json_response(StatusCode::OK, &job))
}

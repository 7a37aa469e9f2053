//! Routes for data-subject requests: intake, lists, one request, workflow steps and identity
//! verification. The vault checks roles per step.

use crate::api::{created, ok, Body, Path, Query, RouteList};
use crate::auth::Caller;
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
    Caller { app, actor }: Caller,
    Body(input): Body<RequestInput>,
) -> Result<Response, ApiError> {
    let view = app.requests.file_request(&actor, input).await?;
    created(&view)
}

async fn list(
    Caller { app, actor }: Caller,
    Query(filter): Query<RequestFilter>,
) -> Result<Response, ApiError> {
    let views = app.requests.requests(&actor, filter).await?;
    ok(&views)
}

async fn one(Caller { app, actor }: Caller, Path(id): Path<Uuid>) -> Result<Response, ApiError> {
    ok(&app.requests.request(&actor, id).await?)
}

async fn step(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<StepInput>,
) -> Result<Response, ApiError> {
    let view = app.requests.request_step(&actor, id, input).await?;
    ok(&view)
}

async fn send_code(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let sent = app.requests.send_request_code(&actor, id).await?;
    ok(&sent)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct CodeInput {
    code: String,
}

async fn check_code(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<CodeInput>,
) -> Result<Response, ApiError> {
    let view = app
        .requests
        .check_request_code(&actor, id, &input.code)
        .await?;
    ok(&view)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DocumentInput {
    document: DocumentKind,
    note: Option<String>,
}

async fn verify_document(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<DocumentInput>,
) -> Result<Response, ApiError> {
    let view = app
        .requests
        .verify_request_by_document(&actor, id, input.document, input.note)
        .await?;
    ok(&view)
}

async fn package(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    let download = app.requests.request_package(&actor, id).await?;
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
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    match app.destructions.destruction(&actor, id).await? {
        Some(d) => ok(&d),
        None => Err(ApiError::not_found("no subject with this id was destroyed")),
    }
}

/// The written answer: as sent, or as it would be sent now.
async fn answer(Caller { app, actor }: Caller, Path(id): Path<Uuid>) -> Result<Response, ApiError> {
    ok(&app.requests.answer_preview(&actor, id).await?)
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
    ok(&job)
}

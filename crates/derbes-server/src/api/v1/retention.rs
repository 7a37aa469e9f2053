//! Routes for a subject's lifecycle events, which start its retention periods.

use crate::api::{created, ok, Body, Path, Query, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use derbes_service::{act_html, LifecycleInput};
use uuid::Uuid;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("get", "/api/v1/retention", get(scan)),
        ("get", "/api/v1/retention/holds", get(holds)),
        ("get", "/api/v1/retention/batches", get(batches)),
        (
            "post",
            "/api/v1/retention/batches",
            axum::routing::post(propose),
        ),
        ("get", "/api/v1/retention/batches/{id}", get(batch)),
        ("get", "/api/v1/retention/batches/{id}/act", get(act)),
        ("get", "/api/v1/retention/acts", get(acts)),
        (
            "get",
            "/api/v1/retention/depersonalized/{rule}",
            get(depersonalized),
        ),
        (
            "post",
            "/api/v1/retention/batches/{id}/approve",
            axum::routing::post(approve),
        ),
        ("get", "/api/v1/subjects/{id}/lifecycle", get(lifecycle)),
        (
            "post",
            "/api/v1/subjects/{id}/lifecycle",
            axum::routing::post(record),
        ),
    ]
}

/// How far ahead the scan looks for what expires soon.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Ahead {
    #[serde(default = "thirty")]
    days: u32,
}

fn thirty() -> u32 {
    30
}

async fn scan(Caller { app, actor }: Caller, Query(q): Query<Ahead>) -> Result<Response, ApiError> {
    ok(&app.retention.scan(&actor, q.days).await?)
}

async fn holds(Caller { app, actor }: Caller) -> Result<Response, ApiError> {
    ok(&app.retention.legal_holds(&actor).await?)
}

async fn batches(Caller { app, actor }: Caller) -> Result<Response, ApiError> {
    ok(&app.retention.batches(&actor).await?)
}

/// The rule a batch is proposed for.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Proposal {
    rule: String,
}

async fn propose(
    Caller { app, actor }: Caller,
    Body(p): Body<Proposal>,
) -> Result<Response, ApiError> {
    created(&app.retention.propose_batch(&actor, &p.rule).await?)
}

async fn batch(Caller { app, actor }: Caller, Path(id): Path<Uuid>) -> Result<Response, ApiError> {
    ok(&app.retention.batch(&actor, id).await?)
}

async fn acts(Caller { app, actor }: Caller) -> Result<Response, ApiError> {
    ok(&app.retention.acts(&actor).await?)
}

/// How an act is wanted: signed JSON (the default) or a page, in a language.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ActQuery {
    format: Option<String>,
    lang: Option<String>,
}

/// The act of destruction of an executed batch: the signed JSON to keep, or the page to print
/// and sign (`format=html`), in the asker's language (`?lang=`, else `Accept-Language`).
async fn act(
    Caller { app, actor }: Caller,
    headers: HeaderMap,
    Path(id): Path<Uuid>,
    Query(q): Query<ActQuery>,
) -> Result<Response, ApiError> {
    let lang = crate::api::asked_lang(q.lang.as_deref(), &headers)?;
    let html = json_or(q.format.as_deref(), "html")?;
    let signed = app.retention.act(&actor, id).await?;
    if !html {
        return crate::api::json_download(
            &signed,
            &format!("destruction-act-{}.json", signed.act.number),
        )
        .map_err(|e| ApiError::internal(e.to_string()));
    }
    let mut response = (StatusCode::OK, act_html(&signed, lang)?).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

/// Whether `format` asks for `other` rather than JSON (the default); anything else is refused,
/// naming the query parameter.
fn json_or(format: Option<&str>, other: &str) -> Result<bool, ApiError> {
    match format.unwrap_or("json") {
        "json" => Ok(false),
        f if f == other => Ok(true),
        _ => {
            let said = format!("must be json or {other}");
            Err(ApiError::field("format", &said, &said))
        }
    }
}

/// How a release is wanted: JSON (the default) or CSV.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseQuery {
    format: Option<String>,
}

/// The depersonalized records a rule keeps, as far as k-anonymity lets them go: JSON with the
/// counts of what was held back, or the records alone as CSV.
async fn depersonalized(
    Caller { app, actor }: Caller,
    Path(rule): Path<String>,
    Query(q): Query<ReleaseQuery>,
) -> Result<Response, ApiError> {
    let csv = json_or(q.format.as_deref(), "csv")?;
    let release = app.retention.release(&actor, &rule).await?;
    if !csv {
        return ok(&release);
    }
    Ok(crate::api::download(
        release.csv()?,
        "text/csv; charset=utf-8",
        &release.file_name("csv"),
    ))
}

async fn approve(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    ok(&app.retention.approve_batch(&actor, id).await?)
}

async fn lifecycle(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    ok(&app.retention.lifecycle(&actor, id).await?)
}

async fn record(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<LifecycleInput>,
) -> Result<Response, ApiError> {
    created(&app.retention.record_lifecycle(&actor, id, input).await?)
}

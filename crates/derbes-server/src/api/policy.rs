//! The published privacy policy: the version in force, every version, and any one of them, in
//! the visitor's language. Public pages: no token.

use crate::api::{asked_lang, Path, Query, RouteList};
use crate::problem::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use derbes_service::Document;
use serde::Deserialize;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("get", "/policy", get(in_force)),
        ("get", "/policy/versions", get(versions)),
        ("get", "/policy/changes", get(changes)),
        ("get", "/policy/versions/{version}", get(version)),
        ("get", "/policy/documents/{document}", get(document)),
    ]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PageQuery {
    lang: Option<String>,
    /// `html` (the default) or `md`.
    format: Option<String>,
}

fn page(body: impl Into<axum::body::Bytes>, html: bool) -> Response {
    let mut r = (StatusCode::OK, body.into()).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if html {
            "text/html; charset=utf-8"
        } else {
            "text/markdown; charset=utf-8"
        }),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    h.insert(header::VARY, HeaderValue::from_static("Accept-Language"));
    r
}

fn html_asked(format: Option<&str>) -> Result<bool, ApiError> {
    match format {
        None | Some("html") => Ok(true),
        Some("md") => Ok(false),
        Some(_) => Err(ApiError::field(
            "format",
            "must be html or md",
            "`format` must be html or md",
        )),
    }
}

/// `doc` of `version` (the one in force when `None`) in the language and format asked;
/// `unknown_version` says what to do when no version has that name.
async fn document_page(
    s: &AppState,
    headers: &HeaderMap,
    version: Option<&str>,
    doc: Document,
    lang: Option<&str>,
    format: Option<&str>,
    unknown_version: &'static str,
) -> Result<Response, ApiError> {
    let lang = asked_lang(lang, headers)?;
    let html = html_asked(format)?;
    match s.app.policy.page(version, doc, lang, html).await {
        Err(derbes_service::VaultError::NotFound) => Err(ApiError::not_found(unknown_version)),
        other => Ok(page(other?, html)),
    }
}

async fn in_force(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    document_page(
        &s,
        &headers,
        None,
        Document::Policy,
        q.lang.as_deref(),
        q.format.as_deref(),
        "no policy version is recorded yet",
    )
    .await
}

async fn versions(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let lang = asked_lang(q.lang.as_deref(), &headers)?;
    match q.format.as_deref() {
        None | Some("html") => Ok(page(s.app.policy.versions_page(lang).await?, true)),
        Some("json") => Ok(super::json_response(
            StatusCode::OK,
            &*s.app.policy.versions().await?,
        )),
        Some(_) => Err(ApiError::field(
            "format",
            "must be html or json",
            "`format` must be html or json",
        )),
    }
}

async fn version(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(version): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Response, ApiError> {
    document_page(
        &s,
        &headers,
        Some(&version),
        Document::Policy,
        q.lang.as_deref(),
        q.format.as_deref(),
        "no policy version has this name; /policy/versions lists them",
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DocumentQuery {
    lang: Option<String>,
    format: Option<String>,
    /// A recorded version; the one in force when absent.
    version: Option<String>,
}

/// One of the other documents drawn from the declaration: the list of personal data, the
/// consent forms or the record of processing activities.
async fn document(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<DocumentQuery>,
) -> Result<Response, ApiError> {
    let doc: Document = name.parse().map_err(|_| {
        ApiError::not_found(
            "no document has this name: use data-list, consent-forms or processing-record",
        )
    })?;
    document_page(
        &s,
        &headers,
        q.version.as_deref(),
        doc,
        q.lang.as_deref(),
        q.format.as_deref(),
        "`version` names no recorded policy version; /policy/versions lists them",
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangesQuery {
    from: Option<String>,
    to: Option<String>,
    lang: Option<String>,
    format: Option<String>,
}

/// What changed between two versions, and which consents it affects.
async fn changes(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ChangesQuery>,
) -> Result<Response, ApiError> {
    let lang = asked_lang(q.lang.as_deref(), &headers)?;
    let html = html_asked(q.format.as_deref())?;
    let report = s
        .app
        .policy
        .changes(q.from.as_deref(), q.to.as_deref(), lang, html)
        .await;
    Ok(page(versions_known(report)?, html))
}

/// A comparison of two versions, with `NotFound` told as the parameters that name none.
pub(in crate::api) fn versions_known<T>(
    r: Result<T, derbes_service::VaultError>,
) -> Result<T, ApiError> {
    r.map_err(|e| match e {
        derbes_service::VaultError::NotFound => ApiError::not_found(
            "`from` or `to` names no recorded policy version; /policy/versions lists them",
        ),
        other => other.into(),
    })
}

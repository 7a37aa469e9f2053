//! What anyone may ask without a token: whether the server is up, the OpenAPI document, the
//! declaration in force.

use crate::api::{json_response, RouteList};
use crate::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("get", "/api/v1/health", get(health)),
        ("get", "/api/v1/openapi.json", get(openapi_document)),
        ("get", "/api/v1/declaration", get(declaration)),
    ]
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
            "backend": s.app.vault.backend(),
            "declaration_version": v.version,
            "audit_chain": audit.chain,
        }),
    )
}

async fn openapi_document() -> Response {
    let mut resp = crate::api::openapi::document().to_string().into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    resp
}

async fn declaration(State(s): State<AppState>) -> Response {
    json_response(StatusCode::OK, s.app.vault.declaration())
}

//! API tokens: created (shown once), listed, revoked.

use crate::api::{created, ok, Body, Path, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::response::Response;
use axum::routing::{delete, get, post};
use derbes_service::Role;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("post", "/api/v1/tokens", post(create_token)),
        ("get", "/api/v1/tokens", get(list_tokens)),
        ("delete", "/api/v1/tokens/{id}", delete(revoke_token)),
    ]
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
    Caller { app, actor }: Caller,
    Body(b): Body<CreateToken>,
) -> Result<Response, ApiError> {
    let role: Role = b
        .role
        .parse()
        .map_err(|m: String| ApiError::field("role", m.clone(), m))?;
    let token = app
        .tokens
        .issue_token(&actor, &b.name, role, b.purposes, b.expires_in_days)
        .await?;
    let mut body = serde_json::to_value(&token).unwrap_or_default();
    body["note"] = json!("the token is shown once; derbes keeps only its digest");
    created(&body)
}

async fn list_tokens(Caller { app, actor }: Caller) -> Result<Response, ApiError> {
    let tokens = app.tokens.list_tokens(&actor).await?;
    ok(&json!({ "tokens": tokens }))
}

async fn revoke_token(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    ok(&app.tokens.revoke_token(&actor, id).await?)
}

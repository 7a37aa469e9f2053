//! Bearer-token authentication: the `Authorization` header becomes the service's `Actor`.

use crate::problem::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use derbes_service::{Actor, App};
use std::sync::Arc;

/// The caller of an operation, authenticated by its bearer token.
pub struct Authenticated(pub Actor);

/// The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive
/// (RFC 9110, 11.1) and the token is read without the spaces around it, so that every spelling
/// of one token is the same token, to the rate limiter too.
pub(crate) fn bearer_token(value: &axum::http::HeaderValue) -> Option<&str> {
    value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("send the header Authorization: Bearer <token>")
        })?;
        let token = bearer_token(value).ok_or_else(|| {
            ApiError::unauthorized("the Authorization header must be `Bearer <token>`")
        })?;
        state
            .app
            .tokens
            .authenticate(token)
            .await
            .map(Authenticated)
            .map_err(|e| match e {
                derbes_service::Unauthenticated::Unavailable => {
                    ApiError::unavailable(e.to_string())
                }
                other => ApiError::unauthorized(other.to_string()),
            })
    }
}

/// The caller of an operation and the application it calls: what a handler extracts before
/// its one service call.
pub struct Caller {
    pub app: Arc<App>,
    pub actor: Actor,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Authenticated(actor) = Authenticated::from_request_parts(parts, state).await?;
        Ok(Caller {
            app: Arc::clone(&state.app),
            actor,
        })
    }
}

//! "Access": the person accounts and API tokens, with their roles and purposes (administrators;
//! anyone else is shown the service's reason for refusing).

use super::{page_lang, signed_in, Page};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use derbes_service::VaultError;
use serde_json::json;

pub(crate) async fn page(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let (session, actor) = match signed_in(&state, &uri, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = page_lang(&uri, &headers, Some(&session));
    let page = Page::new("access.html", "access_title", lang, Some(&session))
        .section("access")
        .purposes_of(state.app.vault.declaration());
    let listed = match state.app.accounts.list(&actor).await {
        Ok(accounts) => state
            .app
            .tokens
            .list_tokens(&actor)
            .await
            .map(|tokens| (accounts, tokens)),
        Err(e) => Err(e),
    };
    match listed {
        Ok((accounts, tokens)) => page
            .with(json!({ "refused": "", "accounts": accounts, "tokens": tokens }))
            .render(),
        Err(e @ VaultError::Forbidden(_)) => page
            .with(json!({ "refused": e.to_string(), "accounts": [], "tokens": [] }))
            .status(StatusCode::FORBIDDEN)
            .render(),
        Err(e) => super::session::unavailable(lang, e),
    }
}

//! "My account": who is signed in, in which role, for which purposes, with which second factor.

use super::{page_lang, signed_in, Page};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::json;

pub(crate) async fn page(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let (session, _) = match signed_in(&state, &uri, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = page_lang(&uri, &headers, Some(&session));
    Page::new("account.html", "account_title", lang, Some(&session))
        .section("account")
        .purposes_of(state.app.vault.declaration())
        .with(json!({ "account": session.account }))
        .render()
}

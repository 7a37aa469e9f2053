//! "My account": who is signed in, in which role, for which purposes, with which second factor.

use super::{Page, Viewer};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

pub(crate) async fn page(
    State(state): State<AppState>,
    Viewer { session, lang, .. }: Viewer,
) -> Response {
    Page::new("account.html", "account_title", lang, Some(&session))
        .section("account")
        .purposes_of(state.app.vault.declaration())
        .with(json!({ "account": session.account }))
        .render()
}

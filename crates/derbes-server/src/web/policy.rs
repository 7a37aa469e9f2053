//! "Policy": the recorded versions of the declaration, what changed between two of them and
//! how many subjects' consents the change touches, and each document of a version in the
//! console's language.

use super::{text, Page, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use derbes_service::{ConsoleSession, Document, VaultError};
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct PolicyQuery {
    from: String,
    to: String,
    /// Count the consents the change touches (it reads every subject's ledger).
    count: String,
}

fn not_found(lang: derbes_core::text::Lang, session: &ConsoleSession) -> Response {
    let why = text(lang, "no_such_version");
    super::refusal(lang, Some(session), "policy", StatusCode::NOT_FOUND, why)
}

pub(crate) async fn page(viewer: Viewer, Query(q): Query<PolicyQuery>) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let chosen = |v: &str| Some(v.to_owned()).filter(|v| !v.is_empty());
    let (from, to) = (chosen(&q.from), chosen(&q.to));
    let overview = state
        .app
        .policy
        .overview(
            &actor,
            from.as_deref(),
            to.as_deref(),
            !q.count.is_empty(),
            lang,
        )
        .await;
    match overview {
        Ok(o) => Page::new("policy.html", "policy_title", lang, Some(&session))
            .section("policy")
            .purposes_of(state.app.vault.declaration())
            .with(json!({
                "policy": o,
                "counted": !q.count.is_empty(),
                "documents": Document::ALL.map(|d| json!({ "name": d.name(), "title": d.title(lang) })),
            }))
            .render(),
        Err(VaultError::NotFound) => not_found(lang, &session),
        Err(e) => super::session::unavailable(lang, e),
    }
}

/// One document of a recorded version, in the page's language.
pub(crate) async fn document(
    State(state): State<AppState>,
    Viewer { session, lang, .. }: Viewer,
    Path((version, document)): Path<(String, String)>,
) -> Response {
    let Ok(doc) = document.parse::<Document>() else {
        return not_found(lang, &session);
    };
    match state
        .app
        .policy
        .document_html(Some(&version), doc, lang)
        .await
    {
        Ok(html) => Page::new("document.html", "policy_title", lang, Some(&session))
            .section("policy")
            .with(json!({ "html": html, "version": version }))
            .render(),
        Err(VaultError::NotFound) => not_found(lang, &session),
        Err(e) => super::session::unavailable(lang, e),
    }
}

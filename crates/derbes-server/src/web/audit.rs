//! "Audit": the chain's state and a verification of the whole chain on demand, its events
//! browsed and filtered (they never hold values), and a page of them exported for an auditor.

use super::{text, Page, Submitted, Viewer};
use crate::AppState;
use axum::extract::Query;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use derbes_core::text::Lang;
use derbes_service::{Actor, AuditFilter, ConsoleSession};
use serde::Deserialize;
use serde_json::{json, Value};

/// Events a page shows; an export takes up to [`EXPORT_LIMIT`].
const PAGE: u32 = 100;
const EXPORT_LIMIT: u32 = 1000;

/// The filters, from the address (they name no person's data: an action, an actor's name).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct AuditQuery {
    after: i64,
    action: String,
    actor: String,
    refused: String,
}

impl AuditQuery {
    fn filter(&self, limit: u32) -> AuditFilter {
        AuditFilter {
            after: self.after.max(0),
            action: self.action.clone(),
            actor: self.actor.clone(),
            refused_only: !self.refused.is_empty(),
            limit,
        }
    }
}

/// The page: the chain's state, the events matching `q`, and `values` from a verification.
async fn show(
    state: &AppState,
    session: &ConsoleSession,
    actor: &Actor,
    lang: Lang,
    q: &AuditQuery,
    values: Value,
) -> Response {
    let status = match state.app.vault.audit_status_for(actor) {
        Ok(s) => s,
        Err(e) => return super::session::failed(state, lang, Some(session), "audit", e),
    };
    let page = match state.app.vault.browse_audit(actor, &q.filter(PAGE)).await {
        Ok(p) => p,
        Err(e) => return super::session::unavailable(lang, e),
    };
    let mut context = json!({
        "audit": status,
        "events": page.events,
        "next": page.next,
        "filter": { "action": q.action, "actor": q.actor, "refused": !q.refused.is_empty(), "after": q.after },
        "verified": "",
    });
    if let (Some(c), Value::Object(v)) = (context.as_object_mut(), values) {
        c.extend(v);
    }
    Page::new("audit.html", "audit_title", lang, Some(session))
        .section("audit")
        .purposes_of(state.app.vault.declaration())
        .with(context)
        .render()
}

pub(crate) async fn page(viewer: Viewer, Query(q): Query<AuditQuery>) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    show(&state, &session, &actor, lang, &q, json!({})).await
}

/// Verifies the whole chain now and shows the result.
pub(crate) async fn verify(s: Submitted) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let values = match state.app.vault.verify_audit_chain_for(&s.actor).await {
        Ok(Ok(report)) => json!({
            "notice": text(lang, "chain_verified").replace("{n}", &report.events.to_string()),
        }),
        Ok(Err(broken)) => json!({ "error": format!("{}: {broken}", text(lang, "chain_broken")) }),
        Err(e) => return super::session::failed(state, lang, Some(&s.session), "audit", e),
    };
    show(
        state,
        &s.session,
        &s.actor,
        lang,
        &AuditQuery::default(),
        values,
    )
    .await
}

/// The events matching the filters, as JSON Lines with their hashes, for an auditor to keep
/// and check against the chain.
pub(crate) async fn export(viewer: Viewer, Query(q): Query<AuditQuery>) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    match state
        .app
        .vault
        .browse_audit(&actor, &q.filter(EXPORT_LIMIT))
        .await
    {
        Ok(page) => {
            let mut body = String::new();
            for e in &page.events {
                if let Ok(line) = serde_json::to_string(e) {
                    body.push_str(&line);
                    body.push('\n');
                }
            }
            let (first, last) = (
                page.events.first().map_or(0, |e| e.seq),
                page.events.last().map_or(0, |e| e.seq),
            );
            (
                [
                    (
                        header::CONTENT_TYPE,
                        "application/x-ndjson; charset=utf-8".to_owned(),
                    ),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("attachment; filename=\"derbes-audit-{first}-{last}.jsonl\""),
                    ),
                ],
                body,
            )
                .into_response()
        }
        Err(e) => super::session::failed(&state, lang, Some(&session), "audit", e),
    }
}

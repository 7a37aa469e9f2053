//! "Retention": what the last scan found expired, held and ending soon, by rule; the batches
//! proposed, approved and executed; and the register of legal holds. The DPO proposes a batch
//! for a rule and approves batches here; each form makes one service call.

use super::{text, Page, Submitted, Viewer};
use crate::AppState;
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use derbes_core::text::Lang;
use derbes_service::{Actor, ConsoleSession, VaultError};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// Set after a step was just taken.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Done {
    proposed: String,
    approved: String,
}

pub(crate) async fn page(viewer: Viewer, Query(q): Query<Done>) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let notice = if !q.proposed.is_empty() {
        text(lang, "batch_proposed_notice")
    } else if !q.approved.is_empty() {
        text(lang, "batch_approved_notice")
    } else {
        ""
    };
    show(&state, &session, &actor, lang, json!({ "notice": notice })).await
}

/// The page, with `values` from a step just refused.
async fn show(
    state: &AppState,
    session: &ConsoleSession,
    actor: &Actor,
    lang: Lang,
    values: Value,
) -> Response {
    let overview = match state.app.retention.overview(actor).await {
        Ok(o) => o,
        Err(e) => return super::session::failed(state, lang, Some(session), "retention", e),
    };
    let declaration = state.app.vault.declaration();
    let mut context = json!({
        "overview": overview,
        "rule_labels": declaration.retention.iter()
            .map(|(k, r)| (k.clone(), json!(r.label.get(lang))))
            .collect::<serde_json::Map<String, Value>>(),
        "field_labels": declaration.fields.iter()
            .map(|(k, f)| (k.clone(), json!(f.label.get(lang))))
            .collect::<serde_json::Map<String, Value>>(),
        "notice": "",
        "error": "",
    });
    if let (Some(c), Value::Object(v)) = (context.as_object_mut(), values) {
        c.extend(v);
    }
    Page::new("retention.html", "retention_title", lang, Some(session))
        .section("retention")
        .with(context)
        .render()
}

/// Proposes a batch for the rule the form names.
pub(crate) async fn propose(s: Submitted) -> Response {
    let state = &s.state;
    let rule = s.fields.get("rule").to_owned();
    match state.app.retention.propose_batch(&s.actor, &rule).await {
        Ok(_) => super::see_other("/console/retention?proposed=1", &[]),
        Err(e) => refused(&s, e).await,
    }
}

/// Approves the batch of the address.
pub(crate) async fn approve(Path(id): Path<String>, s: Submitted) -> Response {
    let state = &s.state;
    let Ok(id) = id.parse::<Uuid>() else {
        return refused(&s, VaultError::BatchNotFound).await;
    };
    match state.app.retention.approve_batch(&s.actor, id).await {
        Ok(_) => super::see_other("/console/retention?approved=1", &[]),
        Err(e) => refused(&s, e).await,
    }
}

/// How an act or a release is wanted: `json` (or a release's `csv`) to download; else the page.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ActQuery {
    format: String,
}

/// An executed batch's act of destruction, to print for the commission to sign, or
/// (`?format=json`) the signed act to download.
pub(crate) async fn act(
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<ActQuery>,
) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let signed = match id.parse::<Uuid>() {
        Ok(id) => state.app.retention.act(&actor, id).await,
        Err(_) => Err(VaultError::BatchNotFound),
    };
    let signed = match signed {
        Ok(signed) => signed,
        Err(e @ (VaultError::BatchNotFound | VaultError::ActNotIssued)) => {
            let key = match e {
                VaultError::BatchNotFound => "batch_not_found",
                _ => "act_not_issued",
            };
            let mut r = show(
                &state,
                &session,
                &actor,
                lang,
                json!({ "error": text(lang, key) }),
            )
            .await;
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
        Err(e) => return super::session::failed(&state, lang, Some(&session), "retention", e),
    };
    if q.format == "json" {
        let name = format!("destruction-act-{}.json", signed.act.number);
        return crate::api::json_download(&signed, &name).unwrap_or_else(|_| {
            super::session::unavailable(
                lang,
                VaultError::Unavailable("the act cannot be written".into()),
            )
        });
    }
    Page::new("act.html", "retention_title", lang, Some(&session))
        .section("retention")
        .with(json!(derbes_service::act_page(&signed, lang)))
        .render()
}

/// The depersonalized records a rule keeps, as far as k-anonymity lets them go: what is
/// released and what is held back, on a page, or (`?format=csv` or `json`) the records to
/// download. Each is a release, audited with its counts.
pub(crate) async fn release(
    viewer: Viewer,
    Path(rule): Path<String>,
    Query(q): Query<ActQuery>,
) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let release = match state.app.retention.release(&actor, &rule).await {
        Ok(release) => release,
        Err(VaultError::Validation(_)) => {
            let said = json!({ "error": text(lang, "release_no_rule") });
            let mut r = show(&state, &session, &actor, lang, said).await;
            *r.status_mut() = StatusCode::NOT_FOUND;
            return r;
        }
        Err(e) => return super::session::failed(&state, lang, Some(&session), "retention", e),
    };
    let written = match q.format.as_str() {
        "csv" => release.csv().map(|body| {
            crate::api::download(body, "text/csv; charset=utf-8", &release.file_name("csv"))
        }),
        "json" => crate::api::json_download(&release, &release.file_name("json"))
            .map_err(|e| VaultError::Invalid(format!("the release cannot be written: {e}"))),
        _ => {
            let declaration = state.app.vault.declaration();
            let label = |key: &str| {
                declaration
                    .fields
                    .get(key)
                    .map_or(key.to_owned(), |f| f.label.get(lang).to_owned())
            };
            let r = &release.release;
            return Page::new("release.html", "release_title", lang, Some(&session))
                .section("retention")
                .with(json!({
                    "rule": release.rule,
                    "rule_label": declaration.retention.get(&release.rule).map(|d| d.label.get(lang)),
                    "quasi": release.quasi_identifiers.iter().map(|q| label(q)).collect::<Vec<_>>(),
                    "k": r.k,
                    "records": r.records.len(),
                    "groups": r.groups,
                    "suppressed_groups": r.suppressed_groups,
                    "suppressed_records": r.suppressed_records,
                }))
                .render();
        }
    };
    written.unwrap_or_else(|e| super::session::failed(&state, lang, Some(&session), "retention", e))
}

/// The page again with why the step was refused, in the page's language; a refusal of the
/// person stays a page of its own.
async fn refused(s: &Submitted, e: VaultError) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let (status, said) = match e {
        VaultError::Batch(p) => (StatusCode::CONFLICT, p.explain(lang)),
        VaultError::BatchNotFound => (
            StatusCode::NOT_FOUND,
            text(lang, "batch_not_found").to_owned(),
        ),
        VaultError::Validation(_) => (StatusCode::CONFLICT, text(lang, "batch_nothing").to_owned()),
        e => return super::session::failed(state, lang, Some(&s.session), "retention", e),
    };
    let mut r = show(state, &s.session, &s.actor, lang, json!({ "error": said })).await;
    *r.status_mut() = status;
    r
}

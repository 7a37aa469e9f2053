//! "Today", the console's first page: the requests overdue and due today with their legal
//! clocks and the calendar's explanation, those awaiting approval, the consents subjects are to
//! confirm at the age of majority, what the last retention scan found expired, held or ending
//! within 30 days, and the audit chain's last verification and checkpoint export; each part as
//! the person's role may see it.

use super::{Page, Viewer};
use axum::extract::Query;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

pub(crate) async fn page(viewer: Viewer) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    match state.app.today(&actor).await {
        Ok(today) => Page::new("today.html", "today_title", lang, Some(&session))
            .section("today")
            .request_kinds()
            .purposes_of(state.app.vault.declaration())
            .with(json!({
                "today": today,
                "limit": derbes_service::TODAY_LIMIT,
                "rule_labels": state.app.vault.declaration().retention.iter()
                    .map(|(k, r)| (k.clone(), json!(r.label.get(lang))))
                    .collect::<serde_json::Map<String, serde_json::Value>>(),
            }))
            .render(),
        Err(e) => super::session::unavailable(lang, e),
    }
}

/// How many consents to confirm a page of the whole list shows.
const RECONFIRMATIONS_PAGE: u32 = 100;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ListQuery {
    /// From 1; anything else shows the first page.
    page: String,
}

/// The whole list of the consents to confirm at majority, a page at a time.
pub(crate) async fn reconfirmations(viewer: Viewer, Query(q): Query<ListQuery>) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let page = q.page.parse::<u32>().unwrap_or(1).max(1);
    let offset = (page - 1).saturating_mul(RECONFIRMATIONS_PAGE);
    let listed = state
        .app
        .consents
        .reconfirmations_due(&actor, offset, RECONFIRMATIONS_PAGE)
        .await;
    match listed {
        // A page past the end (the list grew shorter): the first one.
        Ok(rc) if rc.due.is_empty() && page > 1 => {
            super::see_other("/console/reconfirmations", &[])
        }
        Ok(rc) => {
            let shown = u64::from(offset) + rc.due.len() as u64;
            Page::new(
                "reconfirmations.html",
                "reconfirm_title",
                lang,
                Some(&session),
            )
            .section("today")
            .purposes_of(state.app.vault.declaration())
            .with(json!({
                "next": shown < rc.total,
                "first": u64::from(offset) + 1,
                "rc": rc,
                "page": page,
            }))
            .render()
        }
        Err(e) => super::session::failed(&state, lang, Some(&session), "today", e),
    }
}

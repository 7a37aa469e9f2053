//! "Today", the console's first page: the requests overdue and due today with their legal
//! clocks and the calendar's explanation, those awaiting approval, the consents subjects are to
//! confirm at the age of majority, and the audit chain's last verification and checkpoint
//! export; each part as the person's role may see it.

use super::{Page, Viewer};
use crate::AppState;
use axum::extract::State;
use axum::response::Response;
use serde_json::json;

pub(crate) async fn page(
    State(state): State<AppState>,
    Viewer {
        session,
        actor,
        lang,
    }: Viewer,
) -> Response {
    match state.app.today(&actor).await {
        Ok(today) => Page::new("today.html", "today_title", lang, Some(&session))
            .section("today")
            .request_kinds()
            .purposes_of(state.app.vault.declaration())
            .with(json!({ "today": today, "limit": derbes_service::TODAY_LIMIT }))
            .render(),
        Err(e) => super::session::unavailable(lang, e),
    }
}

//! "Today", the console's first page: the requests overdue and due today with their legal
//! clocks and the calendar's explanation, those awaiting approval, and the audit chain's last
//! verification and checkpoint export; each part as the person's role may see it.

use super::{page_lang, signed_in, Page};
use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::Response;
use serde_json::json;

pub(crate) async fn page(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let (session, actor) = match signed_in(&state, &uri, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let lang = page_lang(&uri, &headers, Some(&session));
    match state.app.today(&actor).await {
        Ok(today) => Page::new("today.html", "today_title", lang, Some(&session))
            .section("today")
            .request_kinds()
            .with(json!({ "today": today, "limit": derbes_service::TODAY_LIMIT }))
            .render(),
        Err(e) => super::session::unavailable(lang, e),
    }
}

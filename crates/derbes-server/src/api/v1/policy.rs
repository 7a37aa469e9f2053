//! What a policy change means for the consents held: the public report's purposes, each with
//! the subjects whose consent holds and those to ask again.

use crate::api::policy::versions_known;
use crate::api::{asked_lang, ok, Query, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

pub(in crate::api) fn routes() -> RouteList {
    vec![("get", "/api/v1/policy/consent-impact", get(consent_impact))]
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Versions {
    from: Option<String>,
    to: Option<String>,
    lang: Option<String>,
}

async fn consent_impact(
    Caller { app, actor }: Caller,
    headers: HeaderMap,
    Query(q): Query<Versions>,
) -> Result<Response, ApiError> {
    let lang = asked_lang(q.lang.as_deref(), &headers)?;
    let impact = app
        .policy
        .consent_impact(&actor, q.from.as_deref(), q.to.as_deref(), lang)
        .await;
    ok(&versions_known(impact)?)
}

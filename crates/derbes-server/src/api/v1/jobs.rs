//! The periodic jobs and their last runs.

use crate::api::{ok, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

pub(in crate::api) fn routes() -> RouteList {
    vec![("get", "/api/v1/jobs", get(jobs))]
}

async fn jobs(Caller { app, actor }: Caller) -> Result<Response, ApiError> {
    let jobs = app.job_board(&actor).await?;
    ok(&json!({ "jobs": jobs }))
}

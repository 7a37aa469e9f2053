//! The periodic jobs and their last runs.

use crate::api::{json_response, RouteList};
use crate::auth::Authenticated;
use crate::problem::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::json;

pub(in crate::api) fn routes() -> RouteList {
    vec![("get", "/api/v1/jobs", get(jobs))]
}

async fn jobs(
    State(s): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Response, ApiError> {
    let jobs = s.app.job_board(&actor).await?;
    Ok(json_response(StatusCode::OK, &json!({ "jobs": jobs })))
}

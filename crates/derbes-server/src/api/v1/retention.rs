//! Routes for a subject's lifecycle events, which start its retention periods.

use crate::api::{created, ok, Body, Path, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::response::Response;
use axum::routing::get;
use derbes_service::LifecycleInput;
use uuid::Uuid;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("get", "/api/v1/subjects/{id}/lifecycle", get(lifecycle)),
        (
            "post",
            "/api/v1/subjects/{id}/lifecycle",
            axum::routing::post(record),
        ),
    ]
}

async fn lifecycle(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    ok(&app.retention.lifecycle(&actor, id).await?)
}

async fn record(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(input): Body<LifecycleInput>,
) -> Result<Response, ApiError> {
    created(&app.retention.record_lifecycle(&actor, id, input).await?)
}

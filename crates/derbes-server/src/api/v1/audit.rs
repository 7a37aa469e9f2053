//! The audit trail: every event, a subject's events, and the chain's state.

use crate::api::{ok, Path, Query, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("get", "/api/v1/subjects/{id}/audit", get(subject_audit)),
        ("get", "/api/v1/audit", get(audit_events)),
        ("get", "/api/v1/audit/status", get(audit_status)),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Page {
    after: Option<i64>,
    limit: Option<u32>,
}

impl Page {
    fn bounds(&self) -> Result<(i64, u32), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request("limit must be between 1 and 1000"));
        }
        let after = self.after.unwrap_or(0);
        // The largest number a JSON client keeps exactly.
        if !(0..=9_007_199_254_740_991).contains(&after) {
            return Err(ApiError::bad_request(
                "after must be a sequence number, 0 or more",
            ));
        }
        Ok((after, limit))
    }
}

async fn subject_audit(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let (after, limit) = page.bounds()?;
    let events = app.vault.subject_history(&actor, id, after, limit).await?;
    ok(&json!({ "events": events }))
}

async fn audit_events(
    Caller { app, actor }: Caller,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let (after, limit) = page.bounds()?;
    let events = app.vault.audit_events(&actor, after, limit).await?;
    ok(&json!({ "events": events }))
}

/// The audit chain's state: verified up to which event, the last checkpoint and its export, the
/// last whole-chain verification, and what is wrong when it is broken.
async fn audit_status(Caller { app, actor }: Caller) -> Result<Response, ApiError> {
    ok(&app.vault.audit_status_for(&actor)?)
}

//! Routes for consents, legal representatives, blocks and restrictions of a subject.

use super::{json_response, Body, Path, Query};
use crate::auth::{Actor, Role};
use crate::consents::{ConsentInput, FlagChange, FlagInput, LinkInput, ObligationInput};
use crate::problem::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use derbes_core::flags::FlagReason;
use serde::Deserialize;
use uuid::Uuid;

/// Every role may see a subject's consents, representatives and flags: they hold no field values.
const READERS: &[Role] = &[
    Role::Admin,
    Role::Dpo,
    Role::Staff,
    Role::Auditor,
    Role::Integration,
];
const RECORDERS: &[Role] = &[Role::Admin, Role::Dpo, Role::Staff, Role::Integration];
/// Blocking and restriction are the operator's own decisions, not an integration's.
const FLAGGERS: &[Role] = &[Role::Admin, Role::Dpo, Role::Staff];

pub(super) async fn list_consents(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    actor.require(READERS)?;
    let ledger = s.vault.consent_ledger(&actor, id).await?;
    Ok(json_response(StatusCode::OK, &ledger))
}

pub(super) async fn record_consent(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Body(input): Body<ConsentInput>,
) -> Result<Response, ApiError> {
    actor.require(RECORDERS)?;
    let event = s.vault.record_consent(&actor, id, input).await?;
    Ok(json_response(StatusCode::CREATED, &event))
}

pub(super) async fn list_representatives(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    actor.require(READERS)?;
    Ok(json_response(
        StatusCode::OK,
        &s.vault.representatives(id).await?,
    ))
}

pub(super) async fn link_representative(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Body(input): Body<LinkInput>,
) -> Result<Response, ApiError> {
    actor.require(RECORDERS)?;
    let (link, new) = s.vault.link_representative(&actor, id, input).await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &link))
}

pub(super) async fn unlink_representative(
    State(s): State<AppState>,
    actor: Actor,
    Path((id, representative_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, ApiError> {
    actor.require(RECORDERS)?;
    s.vault
        .unlink_representative(&actor, id, representative_id)
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &s.vault.representatives(id).await?,
    ))
}

pub(super) async fn flags(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
) -> Result<Response, ApiError> {
    actor.require(READERS)?;
    Ok(json_response(StatusCode::OK, &s.vault.flags(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Lift {
    reason: FlagReason,
}

/// Sets or lifts the block (`purpose: None`) or a restriction, and answers with the flags now.
async fn change_flag(
    s: AppState,
    actor: Actor,
    id: Uuid,
    purpose: Option<&str>,
    change: FlagChange,
) -> Result<Response, ApiError> {
    actor.require(FLAGGERS)?;
    let flags = s.vault.set_flag(&actor, id, purpose, change).await?;
    Ok(json_response(StatusCode::OK, &flags))
}

pub(super) async fn block(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Body(input): Body<FlagInput>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, None, FlagChange::Set(input)).await
}

pub(super) async fn unblock(
    State(s): State<AppState>,
    actor: Actor,
    Path(id): Path<Uuid>,
    Query(lift): Query<Lift>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, None, FlagChange::Lift(lift.reason)).await
}

pub(super) async fn restrict(
    State(s): State<AppState>,
    actor: Actor,
    Path((id, purpose)): Path<(Uuid, String)>,
    Body(input): Body<FlagInput>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, Some(&purpose), FlagChange::Set(input)).await
}

pub(super) async fn unrestrict(
    State(s): State<AppState>,
    actor: Actor,
    Path((id, purpose)): Path<(Uuid, String)>,
    Query(lift): Query<Lift>,
) -> Result<Response, ApiError> {
    change_flag(s, actor, id, Some(&purpose), FlagChange::Lift(lift.reason)).await
}

pub(super) async fn record_obligation(
    State(s): State<AppState>,
    actor: Actor,
    Path((id, purpose)): Path<(Uuid, String)>,
    Body(input): Body<ObligationInput>,
) -> Result<Response, ApiError> {
    actor.require(FLAGGERS)?;
    let flags = s
        .vault
        .set_obligation(&actor, id, &purpose, Some(input))
        .await?;
    Ok(json_response(StatusCode::OK, &flags))
}

pub(super) async fn fulfil_obligation(
    State(s): State<AppState>,
    actor: Actor,
    Path((id, purpose)): Path<(Uuid, String)>,
) -> Result<Response, ApiError> {
    actor.require(FLAGGERS)?;
    let flags = s.vault.set_obligation(&actor, id, &purpose, None).await?;
    Ok(json_response(StatusCode::OK, &flags))
}

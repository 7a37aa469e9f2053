//! A subject's lifecycle at the console: the end of the relationship (with its reason) or a
//! purpose achieved, recorded from the subject's file, and an event recorded in error
//! retracted. How long each field is kept is shown on the file itself.

use super::subjects::{form_date, FileForm};
use super::Submitted;
use axum::extract::Path;
use axum::response::Response;
use derbes_service::{LifecycleInput, LifecycleStep};
use serde_json::json;
use uuid::Uuid;

/// Records the event the form describes; the file again with the reason beside the field
/// refused, what was typed kept.
pub(crate) async fn record(Path(id): Path<String>, s: Submitted) -> Response {
    let state = &s.state;
    let Ok(subject) = id.parse::<Uuid>() else {
        return super::representatives::no_subject(&s);
    };
    let (f, lang) = (&s.fields, s.lang);
    if f.get("kind") == "legal_hold" {
        return hold(&s, subject, &id).await;
    }
    let kind = match f.get("kind") {
        "relationship_ended" => LifecycleStep::RelationshipEnded,
        "purpose_achieved" => LifecycleStep::PurposeAchieved,
        "retracted" => LifecycleStep::Retracted,
        _ => {
            let errors = json!({ "lifecycle": super::text(lang, "unknown_step") });
            return LIFECYCLE_FORM.again(&s, &id, errors).await;
        }
    };
    // A retraction is dated the day it is made; any other event by the day typed.
    let on = match (kind, form_date(f, "lifecycle_on", lang)) {
        (LifecycleStep::Retracted, _) => state.app.vault.today(),
        (_, Ok(Some(on))) => on,
        (_, Ok(None)) => {
            let errors = json!({ "lifecycle_on": super::text(lang, "date_required") });
            return LIFECYCLE_FORM.again(&s, &id, errors).await;
        }
        (_, Err(errors)) => return LIFECYCLE_FORM.again(&s, &id, errors).await,
    };
    let given = |name: &str| Some(f.get(name).trim().to_owned()).filter(|v| !v.is_empty());
    let input = LifecycleInput {
        kind,
        on,
        reason: given("lifecycle_reason"),
        purpose: given("lifecycle_purpose"),
        event: given("lifecycle_event").and_then(|e| e.parse().ok()),
        until: None,
    };
    let result = state
        .app
        .retention
        .record_lifecycle(&s.actor, subject, input)
        .await;
    LIFECYCLE_FORM
        .answer(&s, subject, "lifecycle", result)
        .await
}

/// A legal hold from the file's hold form: it starts today, through the last day typed.
async fn hold(s: &Submitted, subject: Uuid, id: &str) -> Response {
    let state = &s.state;
    let (f, lang) = (&s.fields, s.lang);
    let until = match form_date(f, "hold_until", lang) {
        Ok(until) => until,
        Err(errors) => return HOLD_FORM.again(s, id, errors).await,
    };
    let input = LifecycleInput {
        kind: LifecycleStep::LegalHold,
        on: state.app.vault.today(),
        reason: Some(f.get("hold_reason").trim().to_owned()).filter(|r| !r.is_empty()),
        purpose: None,
        event: None,
        until,
    };
    let result = state
        .app
        .retention
        .record_lifecycle(&s.actor, subject, input)
        .await;
    HOLD_FORM.answer(s, subject, "lifecycle", result).await
}

/// The legal hold form.
const HOLD_FORM: FileForm = FileForm {
    name: "hold",
    fields: &["hold_reason", "hold_until"],
    renames: &[("reason", "hold_reason"), ("until", "hold_until")],
};

/// The lifecycle form (a retraction posts the event's id and no other field).
const LIFECYCLE_FORM: FileForm = FileForm {
    name: "lifecycle",
    fields: &[
        "kind",
        "lifecycle_on",
        "lifecycle_reason",
        "lifecycle_purpose",
    ],
    renames: &[
        ("on", "lifecycle_on"),
        ("reason", "lifecycle_reason"),
        ("purpose", "lifecycle_purpose"),
    ],
};

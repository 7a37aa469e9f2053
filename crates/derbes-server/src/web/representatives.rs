//! A subject's legal representatives and obligations at the console: a representative, named by
//! id or IIN, linked with the document that proves the representation, or unlinked; an
//! obligation that holds a consent back (Art. 8(2)) recorded or marked fulfilled.

use super::subjects::{back_purpose, back_to_file, file_page, form_errors, refused};
use super::Submitted;
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use derbes_core::consent::{Document, DocumentKind, Relation};
use derbes_service::{ObligationInput, VaultError};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The page saying there is no such subject (an address that names none).
fn no_subject(s: &Submitted) -> Response {
    let missing = super::text(s.lang, "no_such_subject");
    refused(s.lang, &s.session, StatusCode::NOT_FOUND, missing)
}

/// Links the representative named in the form; the file again with the reason beside the
/// field refused, the form kept.
pub(crate) async fn link(
    State(state): State<AppState>,
    Path(id): Path<String>,
    s: Submitted,
) -> Response {
    let Ok(subject) = id.parse::<Uuid>() else {
        return no_subject(&s);
    };
    let (f, lang) = (&s.fields, s.lang);
    let relation = serde_json::from_value::<Relation>(json!(f.get("relation")));
    let kind = serde_json::from_value::<DocumentKind>(json!(f.get("document")));
    let errors = match (relation, kind) {
        (Ok(relation), Ok(kind)) => {
            let document = Document {
                kind,
                sha256: f.get("document_sha256").trim().to_ascii_lowercase(),
            };
            match state
                .app
                .consents
                .link_named_representative(
                    &s.actor,
                    subject,
                    f.get("representative"),
                    relation,
                    vec![document],
                )
                .await
            {
                Ok(_) => return back_to_file(&state, subject, &s.fields, "linked"),
                Err(VaultError::Validation(problems)) => form_errors(
                    &problems,
                    lang,
                    "link",
                    &[
                        ("representative", "representative"),
                        ("representative_id", "representative"),
                        ("documents[0].sha256", "document_sha256"),
                        ("documents", "document_sha256"),
                    ],
                ),
                Err(e) => {
                    return super::session::failed(&state, lang, Some(&s.session), "subjects", e)
                }
            }
        }
        _ => json!({ "link": super::text(lang, "unknown_step") }),
    };
    let kept: Map<String, Value> = ["representative", "relation", "document", "document_sha256"]
        .into_iter()
        .map(|k| (k.to_owned(), json!(f.get(k))))
        .collect();
    let purpose = back_purpose(&state, f);
    let values =
        json!({ "link_errors": errors, "link_form": kept, "errors": {}, "corrections": {} });
    file_page(&state, &s.session, &s.actor, lang, &id, purpose, values).await
}

/// Unlinks a representative from the subject.
pub(crate) async fn unlink(
    State(state): State<AppState>,
    Path((id, representative)): Path<(String, String)>,
    s: Submitted,
) -> Response {
    let Ok(subject) = id.parse::<Uuid>() else {
        return no_subject(&s);
    };
    let Ok(representative) = representative.parse::<Uuid>() else {
        return no_subject(&s);
    };
    match state
        .app
        .consents
        .unlink_representative(&s.actor, subject, representative)
        .await
    {
        Ok(_) => back_to_file(&state, subject, &s.fields, "unlinked"),
        Err(e) => super::session::failed(&state, s.lang, Some(&s.session), "subjects", e),
    }
}

/// Records an obligation of the subject under a purpose (a note and a last day if given), or
/// marks it fulfilled.
pub(crate) async fn obligation(
    State(state): State<AppState>,
    Path(id): Path<String>,
    s: Submitted,
) -> Response {
    let Ok(subject) = id.parse::<Uuid>() else {
        return no_subject(&s);
    };
    let (f, lang) = (&s.fields, s.lang);
    let until = match f.get("until").trim() {
        "" => None,
        d => {
            match time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]")) {
                Ok(d) => Some(d),
                Err(_) => {
                    let why = super::text(lang, "invalid_until");
                    return refused(lang, &s.session, StatusCode::UNPROCESSABLE_ENTITY, why);
                }
            }
        }
    };
    let input = match f.get("change") {
        "set" => Some(ObligationInput {
            note: Some(f.get("note").trim().to_owned()).filter(|n| !n.is_empty()),
            until,
        }),
        "fulfil" => None,
        _ => {
            let why = super::text(lang, "unknown_step");
            return refused(lang, &s.session, StatusCode::UNPROCESSABLE_ENTITY, why);
        }
    };
    match state
        .app
        .consents
        .set_obligation(&s.actor, subject, f.get("purpose"), input)
        .await
    {
        Ok(_) => back_to_file(&state, subject, &s.fields, "obligation"),
        Err(e) => super::session::failed(&state, lang, Some(&s.session), "subjects", e),
    }
}

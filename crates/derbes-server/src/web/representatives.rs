//! A subject's legal representatives and obligations at the console: a representative, named by
//! id or IIN, linked with the document that proves the representation, or unlinked; an
//! obligation that holds a consent back (Art. 8(2)) recorded or marked fulfilled.

use super::subjects::{back_to_file, form_date, refused, FileForm};
use super::Submitted;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use derbes_core::consent::{Document, DocumentKind, Relation};
use derbes_service::ObligationInput;
use serde_json::json;
use uuid::Uuid;

/// The page saying there is no such subject (an address that names none).
pub(crate) fn no_subject(s: &Submitted) -> Response {
    let missing = super::text(s.lang, "no_such_subject");
    refused(s.lang, &s.session, StatusCode::NOT_FOUND, missing)
}

/// Links the representative named in the form; the file again with the reason beside the
/// field refused, the form kept.
pub(crate) async fn link(Path(id): Path<String>, s: Submitted) -> Response {
    let state = &s.state;
    let Ok(subject) = id.parse::<Uuid>() else {
        return no_subject(&s);
    };
    let (f, lang) = (&s.fields, s.lang);
    let relation = serde_json::from_value::<Relation>(json!(f.get("relation")));
    let kind = serde_json::from_value::<DocumentKind>(json!(f.get("document")));
    let (Ok(relation), Ok(kind)) = (relation, kind) else {
        let errors = json!({ "link": super::text(lang, "unknown_step") });
        return LINK_FORM.again(&s, &id, errors).await;
    };
    let document = Document {
        kind,
        sha256: f.get("document_sha256").trim().to_ascii_lowercase(),
    };
    let result = state
        .app
        .consents
        .link_named_representative(
            &s.actor,
            subject,
            f.get("representative"),
            relation,
            vec![document],
        )
        .await;
    LINK_FORM.answer(&s, subject, "linked", result).await
}

/// The form that links a representative.
const LINK_FORM: FileForm = FileForm {
    name: "link",
    fields: &["representative", "relation", "document", "document_sha256"],
    renames: &[
        ("representative", "representative"),
        ("representative_id", "representative"),
        ("documents[0].sha256", "document_sha256"),
        ("documents", "document_sha256"),
    ],
};

/// Unlinks a representative from the subject.
pub(crate) async fn unlink(
    Path((id, representative)): Path<(String, String)>,
    s: Submitted,
) -> Response {
    let state = &s.state;
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
        Ok(_) => back_to_file(state, subject, &s.fields, "unlinked"),
        Err(e) => super::session::failed(state, s.lang, Some(&s.session), "subjects", e),
    }
}

/// Records an obligation of the subject under a purpose (a note and a last day if given), or
/// marks it fulfilled.
pub(crate) async fn obligation(Path(id): Path<String>, s: Submitted) -> Response {
    let state = &s.state;
    let Ok(subject) = id.parse::<Uuid>() else {
        return no_subject(&s);
    };
    let (f, lang) = (&s.fields, s.lang);
    let input = match (f.get("change"), form_date(f, "obligation_until", lang)) {
        ("set", Ok(until)) => Some(ObligationInput {
            note: Some(f.get("obligation_note").trim().to_owned()).filter(|n| !n.is_empty()),
            until,
        }),
        ("fulfil", _) => None,
        ("set", Err(errors)) => return OBLIGATION_FORM.again(&s, &id, errors).await,
        _ => {
            let errors = json!({ "obligation": super::text(lang, "unknown_step") });
            return OBLIGATION_FORM.again(&s, &id, errors).await;
        }
    };
    let result = state
        .app
        .consents
        .set_obligation(&s.actor, subject, f.get("purpose"), input)
        .await;
    OBLIGATION_FORM
        .answer(&s, subject, "obligation", result)
        .await
}

/// The obligation form.
const OBLIGATION_FORM: FileForm = FileForm {
    name: "obligation",
    fields: &["purpose", "change", "obligation_note", "obligation_until"],
    renames: &[("note", "obligation_note"), ("until", "obligation_until")],
};

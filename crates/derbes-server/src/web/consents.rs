//! A subject's consents at the console: a consent given, renewed or withdrawn (by the subject or
//! a linked legal representative, on paper, through the state service or otherwise) recorded
//! from the subject's file, and a consent's signed receipt shown to print or downloaded to keep.

use super::subjects::{refused, FileForm};
use super::{Page, Submitted, Viewer};
use axum::extract::{Path, Query};
use axum::http::StatusCode;
use axum::response::Response;
use derbes_core::consent::Method;
use derbes_core::text::Lang;
use derbes_service::{ConsentInput, ConsentStep, VaultError};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

/// The consent asked for in the form, or the message of the field that cannot be read.
fn consent_input(f: &super::form::Fields, lang: Lang) -> Result<ConsentInput, (String, String)> {
    let wrong = |field: &str, key: &str| (field.to_owned(), super::text(lang, key).to_owned());
    let action = match f.get("action") {
        "give" => ConsentStep::Give,
        "renew" => ConsentStep::Renew,
        "withdraw" => ConsentStep::Withdraw,
        _ => return Err(wrong("consent", "unknown_step")),
    };
    let representative_id = match f.get("given_by") {
        "" | "subject" => None,
        id => Some(id.parse().map_err(|_| wrong("consent", "unknown_step"))?),
    };
    let text = |name: &str| f.get(name).trim().to_owned();
    let method = match f.get("method") {
        "paper" => Method::Paper {
            evidence_sha256: text("consent_sha256").to_ascii_lowercase(),
        },
        "state_service" => Method::StateService {
            reference: text("consent_reference"),
        },
        "other" => Method::Other {
            description: text("consent_description"),
        },
        _ => return Err(wrong("consent", "unknown_step")),
    };
    let until = match f.get("consent_until").trim() {
        // A withdrawal has no term: a date left in the form is not sent.
        _ if action == ConsentStep::Withdraw => None,
        "" => None,
        d => Some(
            time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| wrong("consent_until", "invalid_until"))?,
        ),
    };
    Ok(ConsentInput {
        purpose: f.get("purpose").to_owned(),
        action,
        representative_id,
        method,
        until,
    })
}

/// Records the consent step of the form; the file again with the reason beside the field the
/// service refused, the rest of the form kept.
pub(crate) async fn record(Path(id): Path<String>, s: Submitted) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let Ok(subject) = id.parse::<Uuid>() else {
        let missing = super::text(lang, "no_such_subject");
        return refused(lang, &s.session, StatusCode::NOT_FOUND, missing);
    };
    let f = &s.fields;
    let input = match consent_input(f, lang) {
        Ok(input) => input,
        Err((field, message)) => {
            return CONSENT_FORM.again(&s, &id, json!({ field: message })).await
        }
    };
    let result = state
        .app
        .consents
        .record_consent(&s.actor, subject, input)
        .await;
    CONSENT_FORM.answer(&s, subject, "consent", result).await
}

/// The form that records a consent step.
const CONSENT_FORM: FileForm = FileForm {
    name: "consent",
    fields: &[
        "purpose",
        "action",
        "given_by",
        "method",
        "consent_sha256",
        "consent_reference",
        "consent_description",
        "consent_until",
    ],
    renames: &[
        ("method.evidence_sha256", "consent_sha256"),
        ("method.reference", "consent_reference"),
        ("method.description", "consent_description"),
        ("until", "consent_until"),
    ],
};

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct ReceiptQuery {
    /// `json`: the signed receipt to keep and verify.
    format: String,
}

/// A consent's receipt: the readable one in the page's language, to print and hand over, or
/// (`?format=json`) the signed receipt to download. Issuing it is audited.
pub(crate) async fn receipt(
    viewer: Viewer,
    Path((id, consent_id)): Path<(String, String)>,
    Query(q): Query<ReceiptQuery>,
) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let (Ok(subject), Ok(consent)) = (id.parse::<Uuid>(), consent_id.parse::<Uuid>()) else {
        let missing = super::text(lang, "no_such_consent");
        return refused(lang, &session, StatusCode::NOT_FOUND, missing);
    };
    let signed = match state
        .app
        .receipts
        .consent_receipt(&actor, subject, consent)
        .await
    {
        Ok(signed) => signed,
        Err(VaultError::ConsentNotFound | VaultError::NotFound) => {
            let missing = super::text(lang, "no_such_consent");
            return refused(lang, &session, StatusCode::NOT_FOUND, missing);
        }
        Err(e) => return super::session::failed(&state, lang, Some(&session), "subjects", e),
    };
    if q.format == "json" {
        return crate::api::receipt_download(&signed, consent).unwrap_or_else(|_| {
            super::session::unavailable(
                lang,
                VaultError::Unavailable("the receipt cannot be written".into()),
            )
        });
    }
    let r = &signed.receipt;
    let lines: Vec<Value> = derbes_core::receipt::lines(r, lang, &signed.signature.key_id)
        .into_iter()
        .map(|(label, value)| json!({ "label": label, "value": value }))
        .collect();
    Page::new("receipt.html", "receipt_title", lang, Some(&session))
        .section("subjects")
        .with(json!({
            "heading": derbes_core::receipt::title(r, lang),
            "lines": lines,
            "subject": subject,
            "consent": consent,
        }))
        .render()
}

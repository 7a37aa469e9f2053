//! "Subjects": finding a subject by an identifier (posted, never in an address) or by id,
//! its file opened for a chosen purpose, and a new subject with the declaration's checks told
//! beside each field in the page's language.

use super::{Page, Submitted, Viewer};
use crate::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use derbes_core::text::Lang;
use derbes_service::{ConsoleSession, VaultError};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// The declaration's fields that can be looked up, and its categories, as the pages name them.
fn declared(state: &AppState, lang: Lang) -> Value {
    let d = state.app.vault.declaration();
    json!({
        "lookup_fields": d.fields.iter().filter(|(_, f)| f.lookup)
            .map(|(k, f)| json!({ "key": k, "label": f.label.get(lang) })).collect::<Vec<_>>(),
        "categories": d.subject_categories.iter()
            .map(|(k, c)| json!({ "key": k, "label": c.label.get(lang) })).collect::<Vec<_>>(),
        "field_labels": field_labels(state, lang),
    })
}

/// The declared fields' labels in `lang`, by key.
fn field_labels(state: &AppState, lang: Lang) -> Value {
    let d = state.app.vault.declaration();
    Value::Object(
        d.fields
            .iter()
            .map(|(k, f)| (k.clone(), json!(f.label.get(lang))))
            .collect::<Map<_, _>>(),
    )
}

pub(crate) fn refused(
    lang: Lang,
    session: &ConsoleSession,
    status: StatusCode,
    why: &str,
) -> Response {
    super::refusal(lang, Some(session), "subjects", status, why)
}

/// The find page, with `values` from a search just made.
fn find_page(
    state: &AppState,
    session: &ConsoleSession,
    lang: Lang,
    values: Value,
    status: StatusCode,
) -> Response {
    let mut context = json!({ "matches": null, "form": { "field": "", "value": "", "purpose": "" }, "errors": {} });
    if let (Some(c), Value::Object(v)) = (context.as_object_mut(), values) {
        c.extend(v);
    }
    if let (Some(c), Value::Object(v)) = (context.as_object_mut(), declared(state, lang)) {
        c.extend(v);
    }
    Page::new("subjects.html", "subjects_title", lang, Some(session))
        .section("subjects")
        .purposes_of(state.app.vault.declaration())
        .with(context)
        .status(status)
        .render()
}

pub(crate) async fn find_form(
    State(state): State<AppState>,
    Viewer { session, lang, .. }: Viewer,
) -> Response {
    find_page(&state, &session, lang, json!({}), StatusCode::OK)
}

/// A lookup by identifier through its blind index, for a purpose that uses the field.
pub(crate) async fn find(s: Submitted) -> Response {
    let state = &s.state;
    let f = &s.fields;
    let lang = s.lang;
    let form =
        json!({ "field": f.get("field"), "value": f.get("value"), "purpose": f.get("purpose") });
    let found = state
        .app
        .subjects
        .lookup(&s.actor, f.get("field"), f.get("value"), f.get("purpose"))
        .await;
    let (values, status) = match found {
        Ok(matches) => (json!({ "matches": matches, "form": form }), StatusCode::OK),
        Err(VaultError::Validation(problems)) => (
            json!({ "errors": field_messages(&problems, lang, "value"), "form": form }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        Err(VaultError::Denied(reasons)) => (
            json!({ "errors": { "purpose": super::explain_denial(state, lang, &reasons) }, "form": form }),
            StatusCode::FORBIDDEN,
        ),
        Err(e) => return super::session::failed(state, lang, Some(&s.session), "subjects", e),
    };
    find_page(state, &s.session, lang, values, status)
}

/// Each refused field's message in `lang` where derbes has it, else the API's; a problem
/// that names no field of the form goes to `fallback`.
pub(crate) fn field_messages(
    problems: &[derbes_core::validate::FieldProblem],
    lang: Lang,
    fallback: &str,
) -> Value {
    let mut out = Map::new();
    for p in problems {
        let message = p
            .reason
            .as_ref()
            .map_or_else(|| p.message.clone(), |r| r.explain(lang));
        let key = if p.field.is_empty() {
            fallback.to_owned()
        } else {
            p.field.clone()
        };
        out.entry(key).or_insert(json!(message));
    }
    Value::Object(out)
}

/// The purpose a form on a subject's file was read for, when it is a declared one: nothing else
/// ever goes into an address.
pub(crate) fn back_purpose<'a>(state: &AppState, f: &'a super::form::Fields) -> Option<&'a str> {
    let p = f.get("back_purpose");
    state
        .app
        .vault
        .declaration()
        .purposes
        .contains_key(p)
        .then_some(p)
}

/// Back to the subject's file, read for the purpose the form came from, saying what was done.
pub(crate) fn back_to_file(
    state: &AppState,
    subject: Uuid,
    f: &super::form::Fields,
    done: &str,
) -> Response {
    let purpose = back_purpose(state, f).unwrap_or("");
    super::see_other(
        &format!("/console/subjects/{subject}?purpose={purpose}&{done}=1"),
        &[],
    )
}

/// A form on the subject's file: its name (its messages go under `{name}_errors`, what was
/// typed under `{name}_form`), the fields kept when it is refused, and the service's names of
/// fields that the form names otherwise.
pub(crate) struct FileForm {
    pub name: &'static str,
    pub fields: &'static [&'static str],
    pub renames: &'static [(&'static str, &'static str)],
}

impl FileForm {
    /// The file again after the service refused the form: field problems beside their fields,
    /// the law's refusals and a thing not in force as the form's own message, in `s.lang`. A
    /// refusal of the person (role, purpose) or of the address stays a page of its own.
    pub(crate) async fn refused(&self, s: &Submitted, id: &str, e: VaultError) -> Response {
        let state = &s.state;
        let lang = s.lang;
        let errors = match e {
            VaultError::Validation(problems) => {
                form_errors(&problems, lang, self.name, self.renames)
            }
            VaultError::ConsentRefused(problems) => {
                let declaration = state.app.vault.declaration();
                let said: Vec<String> = problems
                    .iter()
                    .map(|p| p.explain(lang, declaration))
                    .collect();
                json!({ self.name: said.join(" ") })
            }
            VaultError::NothingToLift(what) => {
                let key = match what {
                    "block" => "nothing_to_lift_block",
                    "restriction" => "nothing_to_lift_restriction",
                    _ => "nothing_to_lift_obligation",
                };
                json!({ self.name: super::text(lang, key) })
            }
            e => return super::session::failed(state, lang, Some(&s.session), "subjects", e),
        };
        self.again(s, id, errors).await
    }

    /// What the form's one service call came to: back to the subject's file saying what was
    /// `done`, or the file again with the service's reason beside the form.
    pub(crate) async fn answer<T>(
        &self,
        s: &Submitted,
        subject: Uuid,
        done: &str,
        result: Result<T, VaultError>,
    ) -> Response {
        let state = &s.state;
        match result {
            Ok(_) => back_to_file(state, subject, &s.fields, done),
            Err(e) => self.refused(s, &subject.to_string(), e).await,
        }
    }

    /// The file again with `errors` beside the form's fields and what was typed kept.
    pub(crate) async fn again(&self, s: &Submitted, id: &str, errors: Value) -> Response {
        let state = &s.state;
        let kept: Map<String, Value> = self
            .fields
            .iter()
            .map(|k| ((*k).to_owned(), json!(s.fields.get(k))))
            .collect();
        let mut values = Map::new();
        values.insert(format!("{}_errors", self.name), errors);
        values.insert(format!("{}_form", self.name), Value::Object(kept));
        values.insert("errors".into(), json!({}));
        values.insert("corrections".into(), json!({}));
        let purpose = back_purpose(state, &s.fields);
        let values = Value::Object(values);
        file_page(state, &s.session, &s.actor, s.lang, id, purpose, values).await
    }
}

/// Each refused field's message in `lang` under the form's name for it (`renames`: the
/// service's name, the form's), and one naming no field of the form under `fallback`.
pub(crate) fn form_errors(
    problems: &[derbes_core::validate::FieldProblem],
    lang: Lang,
    fallback: &str,
    renames: &[(&str, &str)],
) -> Value {
    let mut by_field = Map::new();
    for (field, message) in field_messages(problems, lang, fallback)
        .as_object()
        .into_iter()
        .flatten()
    {
        let name = renames
            .iter()
            .find(|(asked, _)| asked == field)
            .map_or(fallback, |(_, name)| name);
        by_field.entry(name).or_insert(message.clone());
    }
    Value::Object(by_field)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct FileQuery {
    purpose: String,
    /// Set after a subject was just created.
    created: String,
    /// Set after a block or restriction was just set or lifted.
    flagged: String,
    /// Set after fields were just corrected.
    corrected: String,
    /// Set after a consent was just recorded.
    consent: String,
    /// Set after a representative was just linked, unlinked, or an obligation changed.
    linked: String,
    unlinked: String,
    obligation: String,
    /// Set after a lifecycle event was just recorded.
    lifecycle: String,
}

/// A subject's file, its fields read for the purpose chosen in the address (a purpose's key
/// names no person).
pub(crate) async fn file(
    viewer: Viewer,
    Path(id): Path<String>,
    Query(q): Query<FileQuery>,
) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    let notice = if !q.created.is_empty() {
        super::text(lang, "subject_created")
    } else if !q.flagged.is_empty() {
        super::text(lang, "flag_changed")
    } else if !q.corrected.is_empty() {
        super::text(lang, "subject_corrected")
    } else if !q.consent.is_empty() {
        super::text(lang, "consent_recorded")
    } else if !q.linked.is_empty() {
        super::text(lang, "representative_linked")
    } else if !q.unlinked.is_empty() {
        super::text(lang, "representative_unlinked")
    } else if !q.obligation.is_empty() {
        super::text(lang, "obligation_changed")
    } else if !q.lifecycle.is_empty() {
        super::text(lang, "lifecycle_recorded")
    } else {
        ""
    };
    let purpose = Some(q.purpose.as_str()).filter(|p| !p.is_empty());
    let values = json!({ "notice": notice, "errors": {}, "corrections": {} });
    file_page(&state, &session, &actor, lang, &id, purpose, values).await
}

/// The file of subject `id` read for `purpose`, with `values` from a form just handled.
pub(crate) async fn file_page(
    state: &AppState,
    session: &ConsoleSession,
    actor: &derbes_service::Actor,
    lang: Lang,
    id: &str,
    purpose: Option<&str>,
    values: Value,
) -> Response {
    let Ok(id) = id.parse::<Uuid>() else {
        return refused(
            lang,
            session,
            StatusCode::NOT_FOUND,
            super::text(lang, "no_such_subject"),
        );
    };
    // A form refused: its errors (`errors`, `consent_errors`, `link_errors`) are not empty.
    let refused_form = values.as_object().is_some_and(|v| {
        v.iter()
            .any(|(k, e)| k.ends_with("errors") && e.as_object().is_some_and(|e| !e.is_empty()))
    });
    let status = if refused_form {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    match state.app.subject_file(actor, id, purpose).await {
        Ok(file) => {
            let declaration = state.app.vault.declaration();
            let refused: Vec<String> = file
                .denied
                .iter()
                .map(|r| r.explain(lang, declaration))
                .chain(file.forbidden.clone())
                .collect();
            let mut context = json!({
                "refused": refused,
                "file": file,
                "field_labels": field_labels(state, lang),
                "field_order": state.app.vault.declaration().fields.keys().collect::<Vec<_>>(),
                "flag_reasons": derbes_core::flags::FlagReason::ALL,
                "purpose_categories": declaration.purposes.iter()
                    .map(|(k, p)| (k.clone(), json!(p.categories)))
                    .collect::<Map<String, Value>>(),
                "obligation_purposes": declaration.purposes.iter()
                    .filter(|(_, p)| p.withdrawal_obligation.is_some())
                    .map(|(k, _)| k).collect::<Vec<_>>(),
            });
            if let (Some(c), Value::Object(v)) = (context.as_object_mut(), values) {
                c.extend(v);
            }
            Page::new("subject.html", "subject_title", lang, Some(session))
                .section("subjects")
                .purposes_of(state.app.vault.declaration())
                .request_kinds()
                .with(context)
                .status(status)
                .render()
        }
        Err(VaultError::NotFound) => refused(
            lang,
            session,
            StatusCode::NOT_FOUND,
            super::text(lang, "no_such_subject"),
        ),
        Err(e @ VaultError::Destroyed(_)) => {
            let problem = crate::ApiError::from(e);
            refused(lang, session, StatusCode::GONE, &problem.detail)
        }
        Err(e) => super::session::unavailable(lang, e),
    }
}

/// Corrects the fields read for a purpose: those whose value changed (an emptied one is
/// erased), with the declaration's checks beside each field.
pub(crate) async fn correct(Path(id): Path<String>, s: Submitted) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let f = &s.fields;
    let purpose = f.get("purpose").to_owned();
    let changes: Vec<(String, Option<String>)> = state
        .app
        .vault
        .declaration()
        .fields
        .keys()
        .filter(|k| {
            let (now, was) = (f.get(&format!("f:{k}")), f.get(&format!("was:{k}")));
            f.has(&format!("f:{k}")) && now.trim() != was.trim()
        })
        .map(|k| {
            let v = f.get(&format!("f:{k}")).trim().to_owned();
            (k.clone(), Some(v).filter(|v| !v.is_empty()))
        })
        .collect();
    let corrections = Value::Object(
        changes
            .iter()
            .map(|(k, v)| (k.clone(), json!(v.clone().unwrap_or_default())))
            .collect(),
    );
    let errors = match id.parse::<Uuid>() {
        Ok(uuid) => match state
            .app
            .subjects
            .rectify(&s.actor, uuid, changes, Vec::new())
            .await
        {
            Ok(_) => {
                return super::see_other(
                    &format!("/console/subjects/{uuid}?purpose={purpose}&corrected=1"),
                    &[],
                )
            }
            Err(VaultError::Validation(problems)) => field_messages(&problems, lang, "form"),
            Err(VaultError::Invalid(_)) => {
                json!({ "form": super::text(lang, "nothing_corrected") })
            }
            Err(e @ VaultError::Store(derbes_store::StoreError::VersionConflict)) => {
                json!({ "form": crate::ApiError::from(e).detail })
            }
            Err(e) => return super::session::failed(state, lang, Some(&s.session), "subjects", e),
        },
        Err(_) => json!({}),
    };
    let values = json!({ "notice": "", "errors": errors, "corrections": corrections });
    let purpose = Some(purpose.as_str()).filter(|p| !p.is_empty());
    file_page(state, &s.session, &s.actor, lang, &id, purpose, values).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct NewQuery {
    category: String,
}

/// The form for a new subject of a category: the category's declared fields.
fn new_page(
    state: &AppState,
    session: &ConsoleSession,
    lang: Lang,
    category: &str,
    values: &Value,
    errors: Value,
) -> Response {
    let d = state.app.vault.declaration();
    let fields: Vec<Value> = d
        .fields
        .iter()
        .filter(|(_, f)| f.categories.iter().any(|c| c == category))
        .map(|(k, f)| {
            json!({
                "key": k, "label": f.label.get(lang), "values": f.values,
                "value": values.get(k).and_then(Value::as_str).unwrap_or(""),
                "max_length": f.max_length(),
            })
        })
        .collect();
    let status = if errors.as_object().is_some_and(|e| !e.is_empty()) {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut context = json!({ "category": category, "fields": fields, "errors": errors });
    if let (Some(c), Value::Object(v)) = (context.as_object_mut(), declared(state, lang)) {
        c.extend(v);
    }
    Page::new("subject-new.html", "subject_new_title", lang, Some(session))
        .section("subjects")
        .with(context)
        .status(status)
        .render()
}

pub(crate) async fn new_form(
    State(state): State<AppState>,
    Viewer { session, lang, .. }: Viewer,
    Query(q): Query<NewQuery>,
) -> Response {
    let category = if state
        .app
        .vault
        .declaration()
        .subject_categories
        .contains_key(&q.category)
    {
        q.category.as_str()
    } else {
        ""
    };
    new_page(&state, &session, lang, category, &json!({}), json!({}))
}

/// Creates a subject from the form's non-empty fields.
pub(crate) async fn create(s: Submitted) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let category = s.fields.get("category").to_owned();
    let values: Vec<(String, Option<String>)> = state
        .app
        .vault
        .declaration()
        .fields
        .keys()
        .filter(|k| !s.fields.get(k).trim().is_empty())
        .map(|k| (k.clone(), Some(s.fields.get(k).to_owned())))
        .collect();
    let kept = Value::Object(values.iter().map(|(k, v)| (k.clone(), json!(v))).collect());
    let errors = match state
        .app
        .subjects
        .create_subject(&s.actor, &category, values, Vec::new())
        .await
    {
        Ok(created) => {
            return super::see_other(&format!("/console/subjects/{}?created=1", created.id), &[])
        }
        Err(VaultError::Validation(problems)) => field_messages(&problems, lang, "category"),
        Err(VaultError::UnknownCategory(_)) => {
            json!({ "category": super::text(lang, "invalid_category") })
        }
        Err(VaultError::Duplicate { field, .. }) => {
            json!({ field: super::text(lang, "duplicate_subject") })
        }
        Err(VaultError::Invalid(m)) => json!({ "category": m }),
        Err(e) => return super::session::failed(state, lang, Some(&s.session), "subjects", e),
    };
    new_page(state, &s.session, lang, &category, &kept, errors)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OpenQuery {
    id: String,
}

/// Opening a subject by the id typed in: its file's address.
pub(crate) async fn open(Query(q): Query<OpenQuery>) -> Response {
    match q.id.trim().parse::<Uuid>() {
        Ok(id) => super::see_other(&format!("/console/subjects/{id}"), &[]),
        Err(_) => super::see_other("/console/subjects/not-an-id", &[]),
    }
}

/// A block of the subject (`purpose` empty) or a restriction of one purpose, set with its
/// reason (a note and a last day if given) or lifted with the reason for lifting it.
pub(crate) async fn flag(Path(id): Path<String>, s: Submitted) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let Ok(id) = id.parse::<Uuid>() else {
        let missing = super::text(lang, "no_such_subject");
        return refused(lang, &s.session, StatusCode::NOT_FOUND, missing);
    };
    let f = &s.fields;
    let purpose = Some(f.get("purpose")).filter(|p| !p.is_empty());
    let reason = serde_json::from_value::<derbes_core::flags::FlagReason>(json!(f.get("reason")));
    let until = form_date(f, "flag_until", lang);
    let change = match (reason, until, f.get("change")) {
        (Ok(reason), Ok(until), "set") => {
            Ok(derbes_service::FlagChange::Set(derbes_service::FlagInput {
                reason,
                note: Some(f.get("flag_note").trim().to_owned()).filter(|n| !n.is_empty()),
                until,
            }))
        }
        (Ok(reason), _, "lift") => Ok(derbes_service::FlagChange::Lift(reason)),
        (Err(_), _, _) => Err(json!({ "reason": super::text(lang, "invalid_reason") })),
        (_, Err(e), _) => Err(e),
        _ => Err(json!({ "flag": super::text(lang, "unknown_step") })),
    };
    let change = match change {
        Ok(change) => change,
        Err(errors) => return FLAG_FORM.again(&s, &id.to_string(), errors).await,
    };
    let result = state
        .app
        .consents
        .set_flag(&s.actor, id, purpose, change)
        .await;
    FLAG_FORM.answer(&s, id, "flagged", result).await
}

/// The block and restriction form.
const FLAG_FORM: FileForm = FileForm {
    name: "flag",
    fields: &["purpose", "change", "reason", "flag_note", "flag_until"],
    renames: &[
        ("note", "flag_note"),
        ("until", "flag_until"),
        ("reason", "reason"),
    ],
};

/// A date field of a form (`YYYY-MM-DD`, as a date input sends it), empty for none; refused
/// with its message under the field's name.
pub(crate) fn form_date(
    f: &super::form::Fields,
    name: &str,
    lang: Lang,
) -> Result<Option<time::Date>, Value> {
    match f.get(name).trim() {
        "" => Ok(None),
        d => time::Date::parse(d, time::macros::format_description!("[year]-[month]-[day]"))
            .map(Some)
            .map_err(|_| json!({ name: super::text(lang, "invalid_until") })),
    }
}

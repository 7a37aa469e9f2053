//! Subjects: created with their fields, read for a purpose, rectified, looked up by an
//! identifier.

use crate::api::{json_response, ok, Body, Path, Query, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::http::{header, StatusCode};
use axum::response::Response;
use axum::routing::{get, patch, post};
use derbes_core::validate::FieldProblem;
use indexmap::IndexMap;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

pub(in crate::api) fn routes() -> RouteList {
    vec![
        ("post", "/api/v1/subjects", post(create_subject)),
        ("get", "/api/v1/subjects/{id}", get(read_subject)),
        ("patch", "/api/v1/subjects/{id}", patch(rectify_subject)),
        ("post", "/api/v1/lookup", post(lookup)),
    ]
}

/// Field values as sent: strings, or null to erase (updates only). Values of other JSON types
/// come back as problems, beside the values that can go on to validation.
fn field_values(
    fields: IndexMap<String, Value>,
) -> (Vec<(String, Option<String>)>, Vec<FieldProblem>) {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(fields.len());
    for (k, v) in fields {
        match v {
            Value::String(s) => out.push((k, Some(s))),
            Value::Null => out.push((k, None)),
            other => {
                let kind = match other {
                    Value::Bool(_) => "a boolean",
                    Value::Number(_) => "a number",
                    Value::Array(_) => "an array",
                    _ => "an object",
                };
                problems.push(FieldProblem {
                    message: format!(
                        "`{k}` must be a string, not {kind} (write numbers and dates as strings)"
                    ),
                    field: k,
                    reason: None,
                });
            }
        }
    }
    (out, problems)
}

/// Reports type problems together with whatever validation finds in the other values.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateSubject {
    category: String,
    #[serde(deserialize_with = "derbes_service::unique_keys::deserialize")]
    fields: IndexMap<String, Value>,
}

async fn create_subject(
    Caller { app, actor }: Caller,
    Body(b): Body<CreateSubject>,
) -> Result<Response, ApiError> {
    let (values, problems) = field_values(b.fields);
    let created = app
        .subjects
        .create_subject(&actor, &b.category, values, problems)
        .await?;
    let mut resp = json_response(StatusCode::CREATED, &created);
    if let Ok(v) = header::HeaderValue::from_str(&format!("/api/v1/subjects/{}", created.id)) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadParams {
    purpose: Option<String>,
    fields: Option<String>,
}

async fn read_subject(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Query(q): Query<ReadParams>,
) -> Result<Response, ApiError> {
    let purpose = q.purpose.filter(|p| !p.is_empty()).ok_or_else(|| {
        ApiError::bad_request("every read names its purpose: add ?purpose=<purpose key> (GET /api/v1/declaration lists them)")
    })?;
    let fields = q.fields.map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    });
    let view = app
        .subjects
        .read_subject(&actor, id, &purpose, fields)
        .await?;
    ok(&view)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rectify {
    #[serde(deserialize_with = "derbes_service::unique_keys::deserialize")]
    fields: IndexMap<String, Value>,
}

async fn rectify_subject(
    Caller { app, actor }: Caller,
    Path(id): Path<Uuid>,
    Body(b): Body<Rectify>,
) -> Result<Response, ApiError> {
    let (values, problems) = field_values(b.fields);
    let r = app.subjects.rectify(&actor, id, values, problems).await?;
    ok(&r)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Lookup {
    field: String,
    value: String,
    purpose: String,
}

async fn lookup(
    Caller { app, actor }: Caller,
    Body(b): Body<Lookup>,
) -> Result<Response, ApiError> {
    let matches = app
        .subjects
        .lookup(&actor, &b.field, &b.value, &b.purpose)
        .await?;
    ok(&json!({ "subjects": matches }))
}

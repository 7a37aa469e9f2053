//! Decisions: may a purpose use these fields of this subject now, for one question or a batch.

use crate::api::{ok, RouteList};
use crate::auth::Caller;
use crate::problem::ApiError;
use axum::response::Response;
use axum::routing::post;
use serde::Deserialize;
use serde_json::Value;

pub(in crate::api) fn routes() -> RouteList {
    vec![("post", "/api/v1/decisions", post(decisions))]
}

/// One question (`{"subject_id", "purpose", "fields"?}`), or a batch (`{"decisions": [...]}`).
/// Is the request's body declared as JSON (`application/json` or `application/*+json`)?
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

async fn decisions(
    Caller { app, actor }: Caller,
    headers: axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    use axum::extract::rejection::{JsonRejection, MissingJsonContentType};
    use derbes_service::{Answer, Question};
    /// The answers to a batch, as sent.
    #[derive(serde::Serialize)]
    struct Answers {
        decisions: Vec<Answer>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        decisions: Vec<Question>,
    }
    if !is_json(&headers) {
        return Err(JsonRejection::from(MissingJsonContentType::default()).into());
    }
    let body = body.map_err(|e| ApiError::from(JsonRejection::from(e)))?;
    // Well-formed requests are read straight into questions; anything else takes the path
    // below, which names the question at fault.
    if let Ok(Batch { decisions }) = serde_json::from_slice::<Batch>(&body) {
        let decisions = app.decisions.decide_questions(&actor, decisions).await?;
        return ok(&Answers { decisions });
    } else if let Ok(q) = serde_json::from_slice::<Question>(&body) {
        let answer = app.decisions.decide_questions(&actor, vec![q]).await?.pop();
        return ok(&answer);
    }
    let mut b: Value = derbes_service::unique_keys::value_from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body is not valid JSON: {}",
            crate::problem::sanitize(&e.to_string())
        ))
    })?;
    let question = |field: String, v: Value| {
        serde_json::from_value::<Question>(v).map_err(|e| {
            let why = crate::problem::sanitize(&e.to_string());
            ApiError::field(
                field.clone(),
                format!("`{field}`: {why}"),
                format!(
                    "{why}; a question is {{\"subject_id\": \"<uuid>\", \"purpose\": \"<key>\", \"fields\": [\"<key>\", …]}} (fields optional)"
                ),
            )
        })
    };
    let Some(batch) = b.get_mut("decisions").map(Value::take) else {
        let answer = app
            .decisions
            .decide_questions(&actor, vec![question("body".into(), b)?])
            .await?
            .pop();
        return ok(&answer);
    };
    let (Value::Array(items), 1) = (batch, b.as_object().map_or(0, |o| o.len())) else {
        return Err(ApiError::field(
            "decisions",
            "a batch is {\"decisions\": [question, …]} and nothing else",
            format!(
                "must be an array of at most {} questions, alone in the body",
                derbes_service::MAX_BATCH
            ),
        ));
    };
    let questions = items
        .into_iter()
        .enumerate()
        .map(|(i, v)| question(format!("decisions[{i}]"), v))
        .collect::<Result<Vec<_>, _>>()?;
    let decisions = app.decisions.decide_questions(&actor, questions).await?;
    ok(&Answers { decisions })
}

//! Errors as RFC 9457 `application/problem+json`, with a stable `type` per kind.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use derbes_core::consent::ConsentProblem;
use derbes_core::decision::DenyReason;
use derbes_core::validate::FieldProblem;
use derbes_service::Reason;
use serde_json::{json, Value};

/// An error the API answers with. Messages never contain personal data.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    /// The stable last part of the problem type, e.g. `validation`.
    pub kind: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub extra: Option<(&'static str, Value)>,
}

pub const PROBLEM_BASE: &str = "urn:derbes:problem:";

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            title,
            detail: detail.into(),
            extra: None,
        }
    }

    pub fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra = Some((key, value));
        self
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "The request is malformed",
            detail,
        )
    }

    pub fn validation(detail: impl Into<String>, problems: &[FieldProblem]) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation",
            "Some values are not valid",
            detail,
        )
        .with("errors", json!(problems))
    }

    /// A validation problem with one field: `message` says what is wrong with it.
    pub fn field(
        field: impl Into<String>,
        detail: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self::validation(
            detail,
            &[FieldProblem {
                field: field.into(),
                message: message.into(),
                reason: None,
            }],
        )
    }

    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authentication is required",
            detail,
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This token may not do this",
            detail,
        )
    }

    pub fn denied(reasons: &[DenyReason]) -> Self {
        Self::with_reasons(
            StatusCode::FORBIDDEN,
            "purpose-denied",
            "Processing for this purpose is refused",
            "reasons",
            reasons.iter().map(Reason::from).collect(),
        )
    }

    pub fn consent_refused(problems: &[ConsentProblem]) -> Self {
        Self::with_reasons(
            StatusCode::UNPROCESSABLE_ENTITY,
            "consent-refused",
            "The consent action cannot be recorded",
            "problems",
            problems.iter().map(Reason::from).collect(),
        )
    }

    /// Every reason's message as the detail, and the coded reasons under `key`.
    fn with_reasons(
        status: StatusCode,
        kind: &'static str,
        title: &'static str,
        key: &'static str,
        reasons: Vec<Reason>,
    ) -> Self {
        let detail = reasons
            .iter()
            .map(|r| r.message.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Self::new(status, kind, title, detail).with(key, json!(reasons))
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "conflict",
            "The request conflicts with stored data",
            detail,
        )
    }

    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "derbes could not complete the request",
            detail,
        )
    }

    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "A service derbes needs is not available",
            detail,
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "type": format!("{PROBLEM_BASE}{}", self.kind),
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let (Some((k, v)), Some(map)) = (self.extra, body.as_object_mut()) {
            map.insert(k.to_owned(), v);
        }
        let mut resp = (self.status, body.to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"derbes\""),
            );
        }
        resp
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        match r {
            JsonRejection::JsonDataError(e) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "The JSON body does not have the expected shape",
                sanitize(&e.body_text().replace(
                    "Failed to deserialize the JSON body into the target type: ",
                    "",
                )),
            ),
            JsonRejection::JsonSyntaxError(e) => Self::bad_request(format!(
                "the body is not valid JSON: {}",
                sanitize(
                    &e.body_text()
                        .replace("Failed to parse the request body as JSON: ", "")
                )
            )),
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "The body must be JSON",
                "send the header Content-Type: application/json",
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Self::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "The body is too large",
                    format!("the body may be at most {} bytes", crate::BODY_LIMIT),
                )
            }
            other => Self::bad_request(other.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::bad_request(format!(
            "the query string is not valid: {}",
            sanitize(
                &r.body_text()
                    .replace("Failed to deserialize query string: ", "")
            )
        ))
    }
}

impl From<PathRejection> for ApiError {
    fn from(_: PathRejection) -> Self {
        // The rejected segment is not echoed: it may be personal data typed in the wrong place.
        Self::bad_request(
            "an id in the path is not a UUID (e.g. 0190a5e4-8c3b-7def-8000-1234567890ab)",
        )
    }
}

/// Removes the offending value from a serde message ("invalid type: string \"…\", expected …"),
/// keeping what was expected and where: the value may be personal data.
pub(crate) fn sanitize(message: &str) -> String {
    let mut out = message.to_owned();
    for marker in ["invalid type: ", "invalid value: ", "unknown variant "] {
        let mut from = 0;
        while let Some(start) = out[from..].find(marker).map(|i| i + from + marker.len()) {
            let Some(end) = out[start..].find(", expected").map(|i| i + start) else {
                break;
            };
            out.replace_range(start..end, "value not shown");
            from = start;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::sanitize;

    #[test]
    fn values_are_removed_from_serde_messages() {
        assert_eq!(
            sanitize("fields.iin: invalid type: string \"871008401427\", expected a map at line 1 column 9"),
            "fields.iin: invalid type: value not shown, expected a map at line 1 column 9"
        );
        assert_eq!(
            sanitize("unknown variant `Aigerim`, expected one of `a`, `b`"),
            "unknown variant value not shown, expected one of `a`, `b`"
        );
        assert_eq!(
            sanitize("missing field `category`"),
            "missing field `category`"
        );
    }
}

//! Forms posted to the console: their fields, the checks on every post (its origin, its
//! session, its CSRF token), and the form kept across a sign-in when the session ended before
//! it was sent.

use super::session::{session_cookie, set_session, unavailable};
use super::{page_lang, text, Page};
use crate::AppState;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use derbes_core::text::Lang;
use derbes_service::{Actor, ConsoleSession, SessionStage, VaultError};
use serde_json::{json, Value};

/// The largest form the console takes: its forms are short; a subject's fields included.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The prefix of a kept field's name while it is carried through the sign-in steps.
const KEPT_PREFIX: &str = "keep:";

/// The fields of a posted form, in their order.
#[derive(Debug, Default, Clone)]
pub(crate) struct Fields(Vec<(String, String)>);

impl Fields {
    pub(crate) fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// The field's first value, or "" when it was not sent.
    pub(crate) fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }

    /// Every value of a field sent more than once (checkboxes of one name).
    pub(crate) fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Whether the field was sent at all (even empty).
    pub(crate) fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }

    /// Whether a checkbox was ticked.
    pub(crate) fn ticked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// The form the post carries from before a sign-in, if any.
    pub(crate) fn kept(&self) -> Kept {
        let to = self.get("continue");
        if !Kept::may_continue_to(to) {
            return Kept::default();
        }
        Kept {
            to: to.to_owned(),
            fields: self
                .0
                .iter()
                .filter_map(|(k, v)| Some((k.strip_prefix(KEPT_PREFIX)?.to_owned(), v.clone())))
                .collect(),
        }
    }
}

/// A form sent when its session had ended: where it was going and its fields (never its
/// CSRF token), kept in the sign-in pages' hidden fields until the person is signed in again
/// and sends it once more.
#[derive(Debug, Default, Clone)]
pub(crate) struct Kept {
    to: String,
    fields: Vec<(String, String)>,
}

impl Kept {
    fn of(path: &str, fields: &Fields) -> Kept {
        Kept {
            to: path.to_owned(),
            fields: fields
                .0
                .iter()
                .filter(|(k, _)| k != "csrf")
                .cloned()
                .collect(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.to.is_empty()
    }

    /// Only a console page that takes forms, never a sign-in step or another site.
    fn may_continue_to(path: &str) -> bool {
        path.starts_with("/console/")
            && path.len() < 200
            && path[1..]
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "/-".contains(c))
            && ![
                "/console/sign-in",
                "/console/second-factor",
                "/console/new-password",
                "/console/enrol",
                "/console/sign-out",
            ]
            .contains(&path)
    }

    /// For the templates: `{ to, fields: [{ name, value }] }` (`to` empty: nothing kept).
    pub(crate) fn value(&self) -> Value {
        json!({
            "to": self.to,
            "fields": self.fields.iter().map(|(k, v)| json!({ "name": k, "value": v })).collect::<Vec<_>>(),
        })
    }
}

/// A form posted from a signed-in page: refused when it comes from another origin or lacks
/// its session's CSRF token; when the session has ended, the person signs in again and the
/// form is kept to be sent once more.
pub(crate) struct Submitted {
    pub state: AppState,
    pub session: ConsoleSession,
    pub actor: Actor,
    pub lang: Lang,
    pub fields: Fields,
}

impl FromRequest<AppState> for Submitted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let lang = page_lang(&parts.uri, &parts.headers, None);
        if !Posted::same_origin(&parts.headers) {
            return Err(Posted::refused(lang));
        }
        let Ok(body) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
            let why = text(lang, "form_too_large");
            return Err(super::refusal(
                lang,
                None,
                "",
                StatusCode::PAYLOAD_TOO_LARGE,
                why,
            ));
        };
        let fields = Fields::parse(&body);
        let ended = || sign_in_to_keep(state, lang, &Kept::of(parts.uri.path(), &fields));
        let Some(cookie) = session_cookie(state, &parts.headers) else {
            return Err(ended());
        };
        let session = match state.app.accounts.session(&cookie).await {
            Ok(s) if s.stage == SessionStage::SignedIn => s,
            Ok(_) | Err(VaultError::SignIn(_)) => return Err(ended()),
            Err(e) => return Err(unavailable(lang, e)),
        };
        let Some(actor) = session.actor.clone() else {
            return Err(ended());
        };
        let lang = page_lang(&parts.uri, &parts.headers, Some(&session));
        if !state.app.accounts.csrf_holds(&session, fields.get("csrf")) {
            return Err(Posted::refused(lang));
        }
        Ok(Submitted {
            state: state.clone(),
            session,
            actor,
            lang,
            fields,
        })
    }
}

/// The sign-in page for a form whose session had ended: the form rides along, hidden.
fn sign_in_to_keep(state: &AppState, lang: Lang, kept: &Kept) -> Response {
    let mut r = Page::new("sign-in.html", "sign_in_title", lang, None)
        .with(json!({
            "login": "",
            "notice": text(lang, "session_ended_form_kept"),
            "kept": kept.value(),
        }))
        .status(StatusCode::UNAUTHORIZED)
        .render();
    if let Ok(v) = HeaderValue::from_str(&set_session(state, None)) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

/// A form posted to the console: refused when it comes from another origin (by the browser's
/// `Sec-Fetch-Site` or `Origin`), or, for a session, without the session's CSRF token.
pub(crate) struct Posted;

impl Posted {
    /// Whether the post comes from the console's own pages.
    pub(crate) fn same_origin(headers: &HeaderMap) -> bool {
        if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            if !matches!(site, "same-origin" | "none") {
                return false;
            }
        }
        match (
            headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
            headers.get(header::HOST).and_then(|v| v.to_str().ok()),
        ) {
            (Some(origin), Some(host)) => origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority == host),
            (Some(_), None) => false,
            (None, _) => true,
        }
    }

    /// The check of a form posted within `session`.
    pub(crate) fn check(
        state: &AppState,
        headers: &HeaderMap,
        session: &ConsoleSession,
        csrf: &str,
    ) -> bool {
        Self::same_origin(headers) && state.app.accounts.csrf_holds(session, csrf)
    }

    /// The page for a refused form: nothing was done; reload and send again.
    pub(crate) fn refused(lang: Lang) -> Response {
        super::refusal(
            lang,
            None,
            "",
            StatusCode::FORBIDDEN,
            text(lang, "form_refused"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_by_name_and_checkboxes_in_full() {
        let f = Fields::parse(b"login=aliya&purposes=education&purposes=&purposes=meals&x=%D3%98");
        assert_eq!(f.get("login"), "aliya");
        assert_eq!(f.get("missing"), "");
        assert_eq!(f.all("purposes"), ["education", "meals"]);
        assert_eq!(f.get("x"), "Ә");
    }

    #[test]
    fn a_kept_form_continues_only_to_a_console_page_that_takes_forms() {
        let kept = |to: &str| {
            Fields::parse(format!("continue={to}&keep:login=aliya&login=admin").as_bytes()).kept()
        };
        let k = kept("%2Fconsole%2Faccess%2Faccounts");
        assert!(!k.is_empty());
        assert_eq!(k.fields, [("login".to_owned(), "aliya".to_owned())]);
        for elsewhere in [
            "https%3A%2F%2Fevil.example%2F",
            "%2F%2Fevil.example",
            "%2Fconsole%2Fsign-out",
            "%2Fconsole%2F..%2Fapi",
            "%2Fapi%2Fv1%2Fsubjects",
        ] {
            assert!(kept(elsewhere).is_empty(), "{elsewhere}");
        }
    }

    #[test]
    fn a_form_is_kept_without_its_csrf_token() {
        let f = Fields::parse(b"csrf=secret&login=aliya");
        let k = Kept::of("/console/access/accounts", &f);
        assert_eq!(k.fields, [("login".to_owned(), "aliya".to_owned())]);
    }
}

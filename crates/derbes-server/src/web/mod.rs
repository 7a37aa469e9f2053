//! The console: server-rendered pages for the operator's people, on the same services as the
//! API. A page extracts its input, makes one service call and renders the answer; who may do
//! what is decided in the service, and a refusal is shown with the service's reason.
//!
//! Every response carries a strict Content-Security-Policy (no inline script or style, no
//! frames), is not cached, and names no personal data in its address. Forms are posted, each
//! with its session's CSRF token, and a post from another origin is refused.

use crate::AppState;
use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use derbes_core::text::Lang;
use derbes_service::{ConsoleSession, VaultError};
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

mod access;
mod account;
mod audit;
mod consents;
mod form;
mod lifecycle;
mod policy;
mod representatives;
mod requests;
mod retention;
mod session;
mod sign_in;
mod subjects;
mod texts;
mod today;

pub(crate) use form::{Fields, Kept, Posted, Submitted};
pub(crate) use session::Viewer;

/// How the console is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsoleOptions {
    /// Cookies only over HTTPS (`Secure`, and the `__Host-` name). Off only for a console
    /// reached over plain HTTP on a trusted network or in tests.
    pub secure_cookies: bool,
    /// Served on a listener of its own (an internal address, say), and not beside the API and
    /// the public policy pages.
    pub own_listener: bool,
}

impl Default for ConsoleOptions {
    fn default() -> Self {
        ConsoleOptions {
            secure_cookies: true,
            own_listener: false,
        }
    }
}

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/console", get(today::page))
        .route("/console/reconfirmations", get(today::reconfirmations))
        .route("/console/account", get(account::page))
        .route(
            "/console/requests",
            get(requests::queue).post(requests::file),
        )
        .route("/console/requests/new", get(requests::new_form))
        .route(
            "/console/subjects",
            get(subjects::find_form).post(subjects::create),
        )
        .route("/console/subjects/find", post(subjects::find))
        .route("/console/subjects/open", get(subjects::open))
        .route("/console/subjects/new", get(subjects::new_form))
        .route("/console/subjects/{id}", get(subjects::file))
        .route("/console/subjects/{id}/flags", post(subjects::flag))
        .route("/console/subjects/{id}/lifecycle", post(lifecycle::record))
        .route("/console/subjects/{id}/consents", post(consents::record))
        .route(
            "/console/subjects/{id}/representatives",
            post(representatives::link),
        )
        .route(
            "/console/subjects/{id}/representatives/{representative_id}/unlink",
            post(representatives::unlink),
        )
        .route(
            "/console/subjects/{id}/obligations",
            post(representatives::obligation),
        )
        .route(
            "/console/subjects/{id}/consents/{consent_id}/receipt",
            get(consents::receipt),
        )
        .route("/console/subjects/{id}/correct", post(subjects::correct))
        .route("/console/requests/{id}", get(requests::one))
        .route("/console/requests/{id}/steps", post(requests::step))
        .route(
            "/console/requests/{id}/verification/code",
            post(requests::send_code),
        )
        .route(
            "/console/requests/{id}/verification/check",
            post(requests::check_code),
        )
        .route(
            "/console/requests/{id}/verification/document",
            post(requests::verify_document),
        )
        .route("/console/requests/{id}/answer", get(requests::answer))
        .route("/console/requests/{id}/package", get(requests::package))
        .route(
            "/console/sign-in",
            get(sign_in::sign_in_page).merge(sign_in::limited_sign_in()),
        )
        .route(
            "/console/second-factor",
            get(sign_in::second_factor_page).post(sign_in::second_factor),
        )
        .route(
            "/console/new-password",
            get(sign_in::new_password_page).post(sign_in::new_password),
        )
        .route(
            "/console/enrol",
            get(sign_in::enrol_page).post(sign_in::enrol),
        )
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/policy", get(policy::page))
        .route(
            "/console/policy/{version}/{document}",
            get(policy::document),
        )
        .route("/console/retention", get(retention::page))
        .route("/console/retention/batches", post(retention::propose))
        .route("/console/retention/batches/{id}/act", get(retention::act))
        .route(
            "/console/retention/depersonalized/{rule}",
            get(retention::release),
        )
        .route(
            "/console/retention/batches/{id}/approve",
            post(retention::approve),
        )
        .route("/console/audit", get(audit::page))
        .route("/console/audit/verify", post(audit::verify))
        .route("/console/audit/export", get(audit::export))
        .route("/console/access", get(access::page))
        .route("/console/access/accounts", post(access::create_account))
        .route(
            "/console/access/accounts/disable",
            post(access::disable_account),
        )
        .route(
            "/console/access/accounts/enable",
            post(access::enable_account),
        )
        .route(
            "/console/access/accounts/reset",
            post(access::reset_account),
        )
        .route("/console/access/tokens", post(access::create_token))
        .route("/console/access/tokens/revoke", post(access::revoke_token))
        .route("/console/assets/console.css", get(stylesheet))
        .route("/console/assets/htmx.min.js", get(htmx))
        .layer(axum::middleware::from_fn(security_headers))
}

tokio::task_local! {
    /// The address of the page being answered (path and query), for its language links.
    static HERE: String;
}

/// The headers of every console response, and the cookie remembering a language chosen with
/// `?lang=` on any page.
async fn security_headers(request: Request<Body>, next: Next) -> Response {
    let asset = request.uri().path().starts_with("/console/assets/");
    let chosen = asked_lang(request.uri());
    let here = if request.method() == axum::http::Method::GET {
        request
            .uri()
            .path_and_query()
            .map_or_else(String::new, |p| p.as_str().to_owned())
    } else {
        // A form's answer: its language links lead to the page the form was on.
        posted_from(request.headers())
    };
    let mut response = HERE.scope(here, next.run(request)).await;
    let h = response.headers_mut();
    if let Some(lang) = chosen {
        let remembered = cookie::Cookie::build((session::LANG_COOKIE, lang.code()))
            .path("/console")
            .same_site(cookie::SameSite::Strict)
            .max_age(cookie::time::Duration::days(365))
            .build()
            .to_string();
        if let Ok(v) = HeaderValue::from_str(&remembered) {
            h.append(header::SET_COOKIE, v);
        }
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        // Not `no-referrer`: browsers would send `Origin: null` with the console's own forms.
        HeaderValue::from_static("same-origin"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if asset {
            "public, max-age=3600"
        } else {
            "no-store"
        }),
    );
    response
}

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("assets/console.css"),
    )
        .into_response()
}

/// htmx, for progressive enhancement only (every flow works without it): `htmx.org` from npm
/// at the version pinned in `crates/derbes/tests/console/package-lock.json`, copied here
/// byte for byte (`.ci/run` compares the two) and served by derbes itself, never from a CDN.
const HTMX: &[u8] = include_bytes!("assets/htmx.min.js");

/// The Subresource Integrity of [`HTMX`], as pages name it.
static HTMX_INTEGRITY: LazyLock<String> = LazyLock::new(|| {
    use base64::Engine;
    use sha2::Digest;
    format!(
        "sha384-{}",
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha384::digest(HTMX))
    )
});

async fn htmx() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        HTMX,
    )
        .into_response()
}

static TEMPLATES: LazyLock<minijinja::Environment<'static>> = LazyLock::new(|| {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("when", when);
    env.add_filter("day", day);
    env.add_filter("month", month);
    for (name, source) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("macros.html", include_str!("templates/macros.html")),
        ("sign-in.html", include_str!("templates/sign-in.html")),
        (
            "second-factor.html",
            include_str!("templates/second-factor.html"),
        ),
        (
            "new-password.html",
            include_str!("templates/new-password.html"),
        ),
        ("enrol.html", include_str!("templates/enrol.html")),
        ("account.html", include_str!("templates/account.html")),
        ("today.html", include_str!("templates/today.html")),
        (
            "reconfirmations.html",
            include_str!("templates/reconfirmations.html"),
        ),
        ("requests.html", include_str!("templates/requests.html")),
        ("request.html", include_str!("templates/request.html")),
        (
            "request-new.html",
            include_str!("templates/request-new.html"),
        ),
        ("letter.html", include_str!("templates/letter.html")),
        ("subjects.html", include_str!("templates/subjects.html")),
        ("audit.html", include_str!("templates/audit.html")),
        ("retention.html", include_str!("templates/retention.html")),
        ("release.html", include_str!("templates/release.html")),
        ("act.html", include_str!("templates/act.html")),
        ("policy.html", include_str!("templates/policy.html")),
        ("document.html", include_str!("templates/document.html")),
        ("subject.html", include_str!("templates/subject.html")),
        ("receipt.html", include_str!("templates/receipt.html")),
        (
            "subject-new.html",
            include_str!("templates/subject-new.html"),
        ),
        ("access.html", include_str!("templates/access.html")),
        ("refused.html", include_str!("templates/refused.html")),
        ("resume.html", include_str!("templates/resume.html")),
    ] {
        if let Err(e) = env.add_template(name, source) {
            eprintln!("derbes: console template {name}: {e}");
        }
    }
    env
});

/// The language of a page: `?lang=` (remembered in a cookie), the remembered choice, the
/// person's own, the browser's, or Kazakh.
pub(crate) fn page_lang(
    uri: &Uri,
    headers: &axum::http::HeaderMap,
    session: Option<&ConsoleSession>,
) -> Lang {
    asked_lang(uri)
        .or_else(|| session::cookie(headers, session::LANG_COOKIE).and_then(|l| l.parse().ok()))
        .or_else(|| session.and_then(|s| s.account.lang.parse().ok()))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or(Lang::Kk)
}

/// The language asked for in the address.
fn asked_lang(uri: &Uri) -> Option<Lang> {
    uri.query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("lang="))
        .and_then(|l| l.parse().ok())
}

/// A page to render: its template, title, and what it shows.
pub(crate) struct Page<'a> {
    pub template: &'static str,
    /// The key of its title in the texts.
    pub title: &'static str,
    /// Which section of the navigation it belongs to.
    pub section: &'static str,
    pub lang: Lang,
    pub session: Option<&'a ConsoleSession>,
    pub status: StatusCode,
    /// The page's own values.
    pub values: Value,
    /// The declared purposes' labels in the page's language, by key.
    pub purpose_labels: Value,
    /// What each kind of request asks for, in the page's language, by code.
    pub kind_labels: Value,
}

impl Page<'_> {
    pub(crate) fn new<'a>(
        template: &'static str,
        title: &'static str,
        lang: Lang,
        session: Option<&'a ConsoleSession>,
    ) -> Page<'a> {
        Page {
            template,
            title,
            section: "",
            lang,
            session,
            status: StatusCode::OK,
            values: json!({}),
            purpose_labels: json!({}),
            kind_labels: json!({}),
        }
    }

    /// Names requests' kinds as letters do.
    pub(crate) fn request_kinds(mut self) -> Self {
        let lang = self.lang;
        self.kind_labels = Value::Object(
            derbes_core::request::RequestKind::ALL
                .iter()
                .map(|k| (k.code().to_owned(), json!(k.label(lang))))
                .collect(),
        );
        self
    }

    /// Shows purposes by their declared labels.
    pub(crate) fn purposes_of(
        mut self,
        declaration: &derbes_core::declaration::Declaration,
    ) -> Self {
        let lang = self.lang;
        self.purpose_labels = Value::Object(
            declaration
                .purposes
                .iter()
                .map(|(key, p)| (key.clone(), json!(p.label.get(lang))))
                .collect(),
        );
        self
    }

    pub(crate) fn with(mut self, values: Value) -> Self {
        self.values = values;
        self
    }

    pub(crate) fn status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub(crate) fn section(mut self, section: &'static str) -> Self {
        self.section = section;
        self
    }

    pub(crate) fn render(self) -> Response {
        let t = texts::texts(self.lang);
        let mut context = match self.values {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        let defaults = [
            ("lang", json!(self.lang.code())),
            ("t", json!(t)),
            (
                "title",
                json!(t.get(self.title).copied().unwrap_or(self.title)),
            ),
            ("page", json!(self.section)),
            ("langs", language_links()),
            (
                "csrf",
                json!(self.session.map(|s| s.csrf.as_str()).unwrap_or("")),
            ),
            (
                "signed_in",
                json!(self.session.is_some_and(|s| s.actor.is_some())),
            ),
            (
                "utc_offset",
                json!(self.session.map_or(0, |s| s.utc_offset.whole_seconds())),
            ),
            ("purpose_labels", self.purpose_labels.clone()),
            ("kinds", self.kind_labels.clone()),
            ("htmx_integrity", json!(*HTMX_INTEGRITY)),
            ("error", json!("")),
            ("notice", json!("")),
            ("kept", Kept::default().value()),
        ];
        for (k, v) in defaults {
            context.entry(k).or_insert(v);
        }
        let html = TEMPLATES
            .get_template(self.template)
            .and_then(|tpl| tpl.render(Value::Object(context)));
        match html {
            Ok(html) => (
                self.status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                html,
            )
                .into_response(),
            Err(e) => {
                eprintln!("derbes: console page {}: {e}", self.template);
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the page could not be rendered; the event is logged for the administrator",
                )
                    .into_response()
            }
        }
    }
}

/// The console page a form was posted from (by the browser's same-origin `Referer`), or the
/// console's first page.
fn posted_from(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.parse::<Uri>().ok())
        .filter(|r| {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            r.authority().map(|a| a.as_str()) == host
        })
        .and_then(|r| r.path_and_query().map(|p| p.as_str().to_owned()))
        .filter(|p| p.starts_with("/console"))
        .unwrap_or_else(|| "/console".to_owned())
}

/// The languages, each with a link to the page being answered in it (the rest of its address
/// kept: a form's prefilled subject, a list's filters).
fn language_links() -> Value {
    let here = HERE.try_with(Clone::clone).unwrap_or_default();
    let (path, query) = here.split_once('?').unwrap_or((here.as_str(), ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("lang="))
        .collect();
    let href = |code: &str| {
        let mut q = kept.clone();
        let lang = format!("lang={code}");
        q.push(&lang);
        format!("{path}?{}", q.join("&"))
    };
    json!([
        { "code": "kk", "name": "Қазақша", "href": href("kk") },
        { "code": "ru", "name": "Русский", "href": href("ru") },
        { "code": "en", "name": "English", "href": href("en") },
    ])
}

/// What the service refused or could not do, as a page says it in `lang`: a decision's reasons
/// by the declaration's names, else the status and detail the API gives.
pub(crate) fn explained(state: &AppState, lang: Lang, e: VaultError) -> (StatusCode, String) {
    if let VaultError::Denied(reasons) = &e {
        return (StatusCode::FORBIDDEN, explain_denial(state, lang, reasons));
    }
    let problem = crate::ApiError::from(e);
    (problem.status, problem.detail)
}

/// A decision's reasons in `lang`, one sentence each.
pub(crate) fn explain_denial(
    state: &AppState,
    lang: Lang,
    reasons: &[derbes_core::decision::DenyReason],
) -> String {
    let declaration = state.app.vault.declaration();
    let said: Vec<String> = reasons
        .iter()
        .map(|r| r.explain(lang, declaration))
        .collect();
    said.join(" ")
}

/// The page saying why something was not done, or is not there, in a `section` of the console.
pub(crate) fn refusal(
    lang: Lang,
    session: Option<&ConsoleSession>,
    section: &'static str,
    status: StatusCode,
    why: &str,
) -> Response {
    let title = if matches!(status, StatusCode::NOT_FOUND | StatusCode::GONE) {
        "not_found_title"
    } else {
        "refused_title"
    };
    Page::new("refused.html", title, lang, session)
        .section(section)
        .with(json!({ "refused": why }))
        .status(status)
        .render()
}

/// `{{ at | when(lang, utc_offset) }}`: a stored time (RFC 3339) as the operator reads it: the
/// date in words of `lang` and the local time (`utc_offset` in seconds).
fn when(at: String, lang: String, utc_offset: i32) -> String {
    use time::format_description::well_known::Rfc3339;
    let (Ok(t), Ok(offset), Ok(lang)) = (
        time::OffsetDateTime::parse(&at, &Rfc3339),
        time::UtcOffset::from_whole_seconds(utc_offset),
        lang.parse::<Lang>(),
    ) else {
        return at;
    };
    let local = t.to_offset(offset);
    format!(
        "{}, {:02}:{:02}",
        derbes_core::text::format_date(local.date(), lang),
        local.hour(),
        local.minute()
    )
}

/// `{{ date | day(lang) }}`: a date (`YYYY-MM-DD`) in words of `lang`.
fn day(date: String, lang: String) -> String {
    in_words(date, &lang, derbes_core::text::format_date)
}

/// `{{ date | month(lang) }}`: the month of a date (`YYYY-MM-DD`) in words of `lang`.
fn month(date: String, lang: String) -> String {
    in_words(date, &lang, derbes_core::text::format_month)
}

/// A date (`YYYY-MM-DD`) as `words` writes it in `lang`; as given when it is not one.
fn in_words(date: String, lang: &str, words: fn(time::Date, Lang) -> String) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    match (time::Date::parse(&date, format), lang.parse::<Lang>()) {
        (Ok(d), Ok(lang)) => words(d, lang),
        _ => date,
    }
}

/// A text of the console in `lang`.
pub(crate) fn text(lang: Lang, key: &str) -> &'static str {
    texts::texts(lang).get(key).copied().unwrap_or("")
}

/// `303 See Other` to `to`, with cookies to set.
pub(crate) fn see_other(to: &str, cookies: &[String]) -> Response {
    let mut r = (StatusCode::SEE_OTHER, [(header::LOCATION, to.to_owned())]).into_response();
    for c in cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every template renders in every language with the values its page gives, and a key
    /// missing from the texts would fail it (undefined values are errors).
    #[test]
    fn every_page_renders_in_every_language() {
        let account = json!({
            "login": "aliya", "display_name": "Әлия", "role": "staff", "purposes": ["education"],
            "second_factor": "to_enrol", "status": "locked", "created_at": "2026-12-06T10:00:00Z",
        });
        // Tokens as the service serializes them: what one does not have is left out.
        let token = |expires: Option<&str>| {
            json!(derbes_service::TokenView {
                id: uuid::Uuid::nil(),
                name: "journal".into(),
                role: "integration".into(),
                purposes: vec!["education".into()],
                created_at: "2026-12-06T10:00:00Z".into(),
                status: "revoked",
                expires_at: expires.map(str::to_owned),
                revoked_at: None,
                last_used_at: None,
            })
        };
        for lang in Lang::ALL {
            for (template, values) in [
                ("sign-in.html", json!({ "login": "aliya", "error": "x" })),
                ("second-factor.html", json!({ "error": "x" })),
                (
                    "new-password.html",
                    json!({ "login": "aliya", "error": "x" }),
                ),
                (
                    "enrol.html",
                    json!({ "qr": "", "secret": "ABC", "error": "" }),
                ),
                ("account.html", json!({ "account": account })),
                (
                    "access.html",
                    json!({
                        "refused": "", "accounts": [account], "tokens": [token(None), token(Some("2027-12-06T10:00:00Z"))],
                        "issued": { "kind": "token", "login": "journal", "secret": "x" }, "error": "x",
                        "errors": { "login": "x", "role": "x", "purposes": "x" },
                        "account_form": { "login": "a", "display_name": "", "name": "", "role": "staff", "lang": "", "purposes": ["education"], "second_factor": true, "expires_in_days": "" },
                        "token_form": { "login": "", "display_name": "", "name": "", "role": "", "lang": "", "purposes": [], "second_factor": false, "expires_in_days": "" },
                        "open_form": "account_form", "max_token_days": 3660,
                    }),
                ),
                ("refused.html", json!({ "refused": "no" })),
                (
                    "resume.html",
                    json!({ "kept": { "to": "/console/access/accounts", "fields": [{ "name": "login", "value": "aliya" }] } }),
                ),
            ]
            .into_iter()
            .chain(work_samples())
            .chain(retention_samples())
            {
                let r = Page::new(template, "console", lang, None)
                    .request_kinds()
                    .with(values)
                    .render();
                assert_eq!(r.status(), StatusCode::OK, "{template} in {lang:?}");
            }
        }
    }

    /// A request in a list, and one as its page shows it, as the service serializes them.
    fn requests() -> (Value, Value) {
        let request = json!({
            "id": uuid::Uuid::nil(), "kind": "access_export", "status": "awaiting_approval", "overdue": true,
            "due": { "received_on": "2026-11-20", "due_on": "2026-11-23", "explanation": { "kk": "x", "ru": "x", "en": "x" } },
        });
        let mut full_request = request.clone();
        for (k, v) in [
            ("subject_id", json!(uuid::Uuid::nil())),
            (
                "requester",
                json!({ "kind": "representative", "id": uuid::Uuid::nil() }),
            ),
            ("channel", json!("paper")),
            ("language", json!("ru")),
            ("received_at", json!("2026-12-06T10:00:00Z")),
            ("purpose", json!("education")),
            ("details", json!("x")),
            (
                "verification",
                json!({ "method": "document", "document": "passport", "checked_by": "x", "at": "2026-12-06T10:00:00Z" }),
            ),
            ("verification_note", json!("x")),
            ("rejection", json!({ "reason": "no_data" })),
            ("status", json!("in_progress")),
            ("kind", json!("blocking")),
            (
                "actions",
                json!([{ "kind": "block", "status": "failed", "at": null, "note": "x", "connector": "x", "staff_words": "x" }]),
            ),
            (
                "history",
                json!([{ "at": "2026-12-06T10:00:00Z", "actor": "x", "step": "file", "status": "received" }]),
            ),
        ] {
            full_request[k] = v;
        }
        (request, full_request)
    }

    /// The retention page's values: a scan, a batch proposed and one executed, a hold.
    fn retention_samples() -> Vec<(&'static str, Value)> {
        vec![
            (
                "retention.html",
                json!({ "rule_labels": { "student_records": "x" }, "field_labels": { "grades": "x" }, "error": "x", "overview": {
                        "may_approve": true, "may_release": true,
                        "latest": { "made_at": "2026-12-07T01:00:00Z", "report": { "today": "2026-12-07", "days": 30, "scanned": 3,
                            "expired_subjects": 1, "held_subjects": 1, "upcoming_subjects": 1, "held_for": { "requests": 1, "complaints": 0, "legal_holds": 1 },
                            "expired": [{ "rule": "student_records", "action": "destroy", "subjects": 1, "whole_subjects": 0, "fields": 2, "categories": ["student"], "field_keys": ["grades"], "sample": [uuid::Uuid::nil()], "first_day": "2026-05-31", "last_day": "2026-05-31" }],
                            "held": [{ "rule": "analytics_data", "action": "depersonalize", "subjects": 1, "whole_subjects": 1, "fields": 1, "categories": ["site_visitor"], "field_keys": ["browser"], "sample": [uuid::Uuid::nil()], "first_day": "2026-05-31", "last_day": "2026-05-31" }],
                            "upcoming": [] } },
                        "batches": [
                            { "id": uuid::Uuid::nil(), "rule": "student_records", "action": "destroy", "status": "proposed", "computed_on": "2026-12-07", "proposed_at": "2026-12-07T01:00:00Z", "proposed_by": "x", "version": 2,
                              "summary": { "subjects": 2, "whole_subjects": 1, "fields": 3, "categories": ["student"], "field_keys": ["grades", "phone"], "sample": [], "digest": "x" },
                              "changed": { "added": 1, "removed": 0, "changed": 0 }, "approvals": [{ "by": "x", "at": "2026-12-07T01:00:00Z" }], "approvals_needed": 2 },
                            { "id": uuid::Uuid::max(), "rule": "student_records", "action": "destroy", "status": "done", "computed_on": "2026-12-07", "proposed_at": "2026-12-07T01:00:00Z", "proposed_by": "x", "version": 4,
                              "summary": { "subjects": 2, "whole_subjects": 0, "fields": 2, "categories": ["student"], "field_keys": ["grades"], "sample": [], "digest": "x" },
                              "approvals": [], "approvals_needed": 1,
                              "outcome": { "finished_at": "2026-12-07T01:00:00Z", "whole_subjects": 0, "subjects": 1, "fields": 1, "skipped": { "held": 1 } },
                              "act": { "number": "2026-1" } },
                            { "id": uuid::Uuid::max(), "rule": "analytics_data", "action": "depersonalize", "status": "done", "computed_on": "2026-12-07", "proposed_at": "2026-12-07T01:00:00Z", "proposed_by": "x", "version": 4,
                              "summary": { "subjects": 6, "whole_subjects": 6, "fields": 18, "categories": ["site_visitor"], "field_keys": ["browser"], "sample": [], "digest": "x" },
                              "approvals": [], "approvals_needed": 1,
                              "outcome": { "finished_at": "2026-12-07T01:00:00Z", "whole_subjects": 6, "subjects": 6, "fields": 18, "skipped": {} },
                              "act": { "number": "2026-2" } }],
                        "holds": [{ "subject_id": uuid::Uuid::nil(), "category": "student", "event": uuid::Uuid::nil(), "from": "2026-12-01", "until": "2027-06-30", "reason": "x", "set_by": "x", "set_at": "2026-12-01T01:00:00Z" }],
                    } }),
            ),
            (
                "release.html",
                json!({ "rule": "analytics_data", "rule_label": "x", "quasi": ["x", "y"], "k": 5, "records": 5, "groups": 1, "suppressed_groups": 1, "suppressed_records": 1 }),
            ),
            (
                "act.html",
                json!({ "heading": "x", "preamble": "x", "lines": [{ "label": "x", "value": "x" }], "finality": "x", "signatures": ["x"], "batch": uuid::Uuid::nil() }),
            ),
        ]
    }

    /// The work pages' values: requests, subjects and Today.
    fn work_samples() -> Vec<(&'static str, Value)> {
        let (request, full_request) = requests();
        vec![
            (
                "requests.html",
                json!({ "requests": [request.clone()], "next": "x", "filter": { "kind": "", "status": "", "due": "overdue" },
                            "kind_codes": ["access_export"], "status_codes": ["received"] }),
            ),
            (
                "request.html",
                json!({ "r": full_request.clone(), "errors": { "code": "x", "until": "x" }, "error": "x",
                            "reasons": ["no_data"], "reason_labels": { "no_data": "x" }, "documents": ["passport"] }),
            ),
            (
                "request-new.html",
                json!({ "form": { "subject_id": "", "representative_id": "", "kind": "", "channel": "paper", "language": "kk",
                                      "purpose": "", "details": "", "received_at": "" },
                            "errors": { "subject_id": "x", "kind": "x", "purpose": "x", "received_at": "x", "form": "x" },
                            "kind_codes": ["access_export"] }),
            ),
            (
                "letter.html",
                json!({ "letter": { "sent": false, "to": "a***@m***.kz", "language": "kk", "subject": "x", "body": "a\n\nb" }, "request_id": "x" }),
            ),
            (
                "subjects.html",
                json!({ "matches": [{ "id": uuid::Uuid::nil(), "category": "student" }],
                            "form": { "field": "iin", "value": "x", "purpose": "education" },
                            "errors": { "value": "x", "purpose": "x" },
                            "lookup_fields": [{ "key": "iin", "label": "x" }],
                            "categories": [{ "key": "student", "label": "x" }], "field_labels": {} }),
            ),
            (
                "policy.html",
                json!({ "counted": true, "documents": [{ "name": "policy", "title": "x" }], "policy": {
                    "versions": [{ "version": "2", "content_hash": "x", "recorded_at": "2026-12-06T10:00:00Z", "effective_from": "2026-12-01" },
                                 { "version": "1", "content_hash": "x", "recorded_at": "2026-12-06T10:00:00Z", "effective_from": null }],
                    "in_force": "2", "from": "1", "to": "2", "changes_html": "<p>x</p>",
                    "impact": { "from": "1", "to": "2", "purposes": [{ "purpose": "education", "holding": 3, "to_ask_again": 1 }] } } }),
            ),
            (
                "document.html",
                json!({ "html": "<h1>x</h1>", "version": "2" }),
            ),
            (
                "audit.html",
                json!({ "audit": { "chain": "intact", "verified_through": 7 }, "next": 7, "verified": "",
                        "filter": { "action": "subject.", "actor": "", "refused": true, "after": 0 },
                        "events": [{ "seq": 1, "at": "2026-12-06T10:00:00Z", "actor": "x", "action": "subject.read", "outcome": "denied",
                                     "reason": "x", "subject_id": "0190c2a4-0000-7000-8000-000000000000", "purpose": "education", "fields": ["iin"] },
                                   { "seq": 2, "at": "2026-12-06T10:00:00Z", "actor": "x", "action": "token.create", "outcome": "ok",
                                     "reason": null, "subject_id": null, "purpose": null, "fields": [] }] }),
            ),
            (
                "subject-new.html",
                json!({ "category": "student", "errors": { "iin": "x", "category": "x" },
                            "fields": [{ "key": "iin", "label": "x", "values": [], "value": "1", "max_length": 12 },
                                       { "key": "sex", "label": "x", "values": ["f", "m"], "value": "f", "max_length": 1 }],
                            "lookup_fields": [], "categories": [{ "key": "student", "label": "x" }], "field_labels": {} }),
            ),
            (
                "subject.html",
                json!({ "refused": ["x"], "purpose_categories": { "education": ["student"], "personnel": ["employee"] }, "lifecycle_errors": { "lifecycle": "x", "lifecycle_on": "x", "lifecycle_purpose": "x" }, "lifecycle_form": { "kind": "purpose_achieved", "lifecycle_on": "2026-05-31", "lifecycle_reason": "x", "lifecycle_purpose": "education" }, "hold_errors": { "hold": "x", "hold_until": "x" }, "hold_form": { "hold_reason": "x", "hold_until": "2027-01-01" }, "obligation_purposes": ["extracurricular"], "link_errors": { "representative": "x", "link": "x" }, "link_form": { "representative": "1", "relation": "parent", "document": "other", "document_sha256": "" }, "field_labels": { "surname": "x", "iin": "x" }, "field_order": ["surname", "iin", "email"], "flag_reasons": ["objection"], "errors": { "iin": "x", "form": "x" }, "corrections": { "iin": "y" }, "file": {
                        "id": uuid::Uuid::nil(), "purpose": "education", "denied": [], "forbidden": null,
                        "read": { "purpose": "education", "confirmation_due": true, "fields": { "surname": "x", "iin": "y" } },
                        "flags": { "blocked": { "reason": "objection", "until": "2026-12-31" },
                                   "restrictions": { "education": { "reason": "other" } },
                                   "obligations": { "extracurricular": { "until": "2026-12-31" } } },
                        "consents": { "purposes": [{ "purpose": "education", "status": "holding", "consent_id": uuid::Uuid::nil(), "terms_changed": true },
                                                   { "purpose": "meals", "status": "none" }] },
                        "representatives": { "representatives": [{ "representative_id": uuid::Uuid::nil(), "relation": "parent" }], "represents": [] },
                        "may_hold": true,
                        "lifecycle": { "category": "student", "relationship_ended": "2026-05-31", "held_until": "2027-06-30", "purposes_achieved": { "extracurricular": "2026-06-01" },
                                       "events": [{ "id": uuid::Uuid::nil(), "subject_id": uuid::Uuid::nil(), "kind": "relationship_ended", "reason": "x", "on": "2026-05-31", "recorded_at": "2026-06-01T00:00:00Z", "recorded_by": "x" },
                                                  { "id": uuid::Uuid::max(), "subject_id": uuid::Uuid::nil(), "kind": "purpose_achieved", "purpose": "extracurricular", "on": "2026-06-01", "recorded_at": "2026-06-01T00:00:00Z", "recorded_by": "x" },
                                                  { "id": uuid::Uuid::from_u128(7), "subject_id": uuid::Uuid::nil(), "kind": "retracted", "event": uuid::Uuid::nil(), "on": "2026-06-02", "recorded_at": "2026-06-02T00:00:00Z", "recorded_by": "x" },
                                                  { "id": uuid::Uuid::from_u128(8), "subject_id": uuid::Uuid::nil(), "kind": "legal_hold", "until": "2027-06-30", "reason": "x", "on": "2026-06-02", "recorded_at": "2026-06-02T00:00:00Z", "recorded_by": "x" }],
                                       "fields": [{ "field": "surname", "collected": "2020-09-01", "kept_until": { "kind": "day", "day": "2031-05-31" }, "ended": false,
                                                    "holds": [{ "purpose": "education", "rule": "student_records", "until": { "kind": "day", "day": "2029-05-31" } },
                                                              { "purpose": "contracts", "rule": "contract_records", "until": { "kind": "open" } }] },
                                                  { "field": "grades", "collected": "2020-09-01", "kept_until": { "kind": "day", "day": "2025-05-31" }, "ended": true, "holds": [] },
                                                  { "field": "iin", "collected": "2020-09-01", "kept_until": { "kind": "open" }, "ended": false, "holds": [] },
                                                  { "field": "email", "collected": "2020-09-01", "kept_until": null, "ended": false, "holds": [] }] },
                        "requests": [request.clone()],
                        "history": [{ "at": "2026-12-06T10:00:00Z", "action": "subject.read", "actor": "x", "purpose": "education" },
                                    { "at": "2026-12-06T10:00:00Z", "action": "subject.create", "actor": "x", "purpose": null }],
                    } }),
            ),
            (
                "today.html",
                json!({ "limit": 50, "rule_labels": { "student_records": "x" }, "today": {
                        "date": "2026-12-07",
                        "overdue": { "requests": [request.clone()], "more": true },
                        "due_today": { "requests": [], "more": false },
                        "awaiting_approval": null,
                        "reconfirmations": { "due": [{ "subject_id": uuid::Uuid::nil(), "purpose": "medical", "month": "2030-03-01" }], "total": 51 },
                        "retention": { "latest": { "made_at": "2026-12-07T01:00:00Z", "report": { "today": "2026-12-07", "days": 30, "scanned": 3,
                            "expired": [{ "rule": "student_records", "action": "destroy", "subjects": 1, "whole_subjects": 0, "fields": 2, "categories": ["student"], "field_keys": ["grades"], "sample": [uuid::Uuid::nil()], "first_day": "2026-05-31", "last_day": "2026-05-31" }],
                            "held": [{ "rule": "analytics_data", "action": "depersonalize", "subjects": 1, "whole_subjects": 1, "fields": 1, "categories": ["site_visitor"], "field_keys": ["browser"], "sample": [uuid::Uuid::nil()], "first_day": "2026-05-31", "last_day": "2026-05-31" }],
                            "upcoming": [{ "rule": "student_records", "action": "destroy", "subjects": 1, "whole_subjects": 0, "fields": 1, "categories": ["student"], "field_keys": ["grades"], "sample": [uuid::Uuid::nil()], "first_day": "2026-12-20", "last_day": "2026-12-20" }] } } },
                        "audit": {
                            "chain": "broken", "problem": "x", "verified_through": 7, "last_checkpoint": 2,
                            "checkpoint_file": "/x", "last_exported_checkpoint": { "n": 2, "seq": 7, "at": "2026-12-06T10:00:00Z" },
                            "export_problem": "x",
                            "last_verification": { "at": "2026-12-06T10:00:00Z", "result": "intact", "events": 7 },
                        },
                    } }),
            ),
            (
                "reconfirmations.html",
                json!({ "page": 2, "next": true, "first": 101,
                        "rc": { "due": [{ "subject_id": uuid::Uuid::nil(), "purpose": "medical", "month": "2030-03-01" }], "total": 251 } }),
            ),
        ]
    }
}

//! The console's session cookie and the gate in front of every signed-in page.

use super::{page_lang, see_other};
use crate::AppState;
use axum::http::{header, HeaderMap, Uri};
use axum::response::Response;
use cookie::{Cookie, SameSite};
use derbes_service::{Actor, ConsoleSession, SessionStage, SignInProblem, VaultError};

/// The session cookie's name over HTTPS: `__Host-` binds it to this host and path `/`.
const SECURE_SESSION_COOKIE: &str = "__Host-derbes-session";
/// Its name where cookies are not `Secure` (plain HTTP in tests or a trusted network).
const SESSION_COOKIE: &str = "derbes-session";
/// The language chosen with `?lang=`.
pub(crate) const LANG_COOKIE: &str = "derbes-lang";

/// A cookie's value from the request.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

fn session_cookie_name(state: &AppState) -> &'static str {
    if state.console.secure_cookies {
        SECURE_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The session cookie of the request, if any.
pub(crate) fn session_cookie(state: &AppState, headers: &HeaderMap) -> Option<String> {
    cookie(headers, session_cookie_name(state))
}

/// `Set-Cookie` for a session (`None`: removes it).
pub(crate) fn set_session(state: &AppState, value: Option<&str>) -> String {
    let mut c = Cookie::build((session_cookie_name(state), value.unwrap_or("").to_owned()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .secure(state.console.secure_cookies);
    if value.is_none() {
        c = c.max_age(cookie::time::Duration::ZERO);
    }
    c.build().to_string()
}

/// The page a sign-in at `stage` continues on.
pub(crate) fn stage_page(stage: SessionStage) -> &'static str {
    match stage {
        SessionStage::SecondFactor => "/console/second-factor",
        SessionStage::NewPassword => "/console/new-password",
        SessionStage::EnrolSecondFactor => "/console/enrol",
        SessionStage::SignedIn => "/console",
    }
}

/// Back to sign-in: the session cookie removed, and why.
pub(crate) fn to_sign_in(state: &AppState, ended: bool) -> Response {
    let to = if ended {
        "/console/sign-in?ended=1"
    } else {
        "/console/sign-in"
    };
    see_other(to, &[set_session(state, None)])
}

/// A page for a service that could not answer (the store, the audit chain).
pub(crate) fn unavailable(lang: derbes_core::text::Lang, e: VaultError) -> Response {
    let problem = crate::ApiError::from(e);
    super::refusal(lang, None, "", problem.status, &problem.detail)
}

/// The page for what the service refused or could not do, in a `section` of the console: the
/// status and reason the API gives for it (a role's refusal is 403 with the service's reason).
pub(crate) fn failed(
    state: &AppState,
    lang: derbes_core::text::Lang,
    session: Option<&ConsoleSession>,
    section: &'static str,
    e: VaultError,
) -> Response {
    let (status, why) = super::explained(state, lang, e);
    super::refusal(lang, session, section, status, &why)
}

/// The session behind the request's cookie at `stage`, or where the browser should go instead.
pub(crate) async fn at_stage(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
    stage: SessionStage,
) -> Result<ConsoleSession, Response> {
    let Some(cookie) = session_cookie(state, headers) else {
        return Err(to_sign_in(state, false));
    };
    match state.app.accounts.session(&cookie).await {
        Ok(s) if s.stage == stage => Ok(s),
        Ok(s) => Err(see_other(stage_page(s.stage), &[])),
        Err(VaultError::SignIn(_)) => Err(to_sign_in(state, true)),
        Err(e) => Err(unavailable(page_lang(uri, headers, None), e)),
    }
}

/// A signed-in person opening a page: their session, the actor they act as, and the page's
/// language; anyone else is sent where they should go (sign-in, or the step they are at).
pub(crate) struct Viewer {
    pub state: AppState,
    pub session: ConsoleSession,
    pub actor: Actor,
    pub lang: derbes_core::text::Lang,
}

impl Viewer {
    /// The server's state, the session, the person acting through it, and the page's language.
    pub(crate) fn parts(self) -> (AppState, ConsoleSession, Actor, derbes_core::text::Lang) {
        (self.state, self.session, self.actor, self.lang)
    }
}

impl axum::extract::FromRequestParts<AppState> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let (session, actor) = signed_in(state, &parts.uri, &parts.headers).await?;
        let lang = page_lang(&parts.uri, &parts.headers, Some(&session));
        Ok(Viewer {
            state: state.clone(),
            session,
            actor,
            lang,
        })
    }
}

/// A signed-in person's session and the actor they act as.
async fn signed_in(
    state: &AppState,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<(ConsoleSession, Actor), Response> {
    let session = at_stage(state, uri, headers, SessionStage::SignedIn).await?;
    match session.actor.clone() {
        Some(actor) => Ok((session, actor)),
        None => Err(to_sign_in(state, true)),
    }
}

/// The text key of a refused sign-in step.
pub(crate) fn problem_text(p: &SignInProblem) -> &'static str {
    use derbes_service::WeakPassword;
    match p {
        SignInProblem::Refused => "refused",
        SignInProblem::WrongCode => "wrong_code",
        SignInProblem::SessionEnded => "session_ended",
        SignInProblem::PasswordsDiffer => "passwords_differ",
        SignInProblem::SamePassword => "same_password",
        SignInProblem::WeakPassword(WeakPassword::TooShort) => "password_too_short",
        SignInProblem::WeakPassword(WeakPassword::TooLong) => "password_too_long",
        SignInProblem::WeakPassword(WeakPassword::ContainsLogin) => "password_contains_login",
        SignInProblem::WeakPassword(WeakPassword::Trivial) => "password_trivial",
    }
}

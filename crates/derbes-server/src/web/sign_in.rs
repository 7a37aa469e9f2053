//! Signing in, step by step, and signing out: each page shows one step, each post makes one
//! service call and goes on to the page of the next step with the new session cookie.

use super::session::{
    at_stage, problem_text, session_cookie, set_session, stage_page, to_sign_in, unavailable,
};
use super::{page_lang, see_other, text, Fields, Kept, Page, Posted};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use derbes_core::text::Lang;
use derbes_service::{Issued, SessionStage, VaultError};
use serde_json::json;
use std::marker::PhantomData;

/// Where a step that succeeded goes: the next step's page, with its new cookie. A form kept
/// from before the sign-in rides along: the next step's page is shown at once with it, and
/// once signed in, the form is offered to be sent again.
async fn issued(state: &AppState, i: &Issued, lang: Lang, kept: &Kept) -> Response {
    let cookie = set_session(state, Some(&i.cookie));
    let go_on = see_other(stage_page(i.stage), std::slice::from_ref(&cookie));
    if kept.is_empty() {
        return go_on;
    }
    let Ok(session) = state.app.accounts.session(&i.cookie).await else {
        return go_on;
    };
    let step = Step {
        lang,
        cookie: (*i.cookie).clone(),
        session,
        kept: kept.clone(),
    };
    let mut page = match i.stage {
        SessionStage::SecondFactor => step.page(SECOND_FACTOR, json!({}), StatusCode::OK),
        SessionStage::NewPassword => step.page(
            NEW_PASSWORD,
            json!({ "login": step.session.account.login }),
            StatusCode::OK,
        ),
        SessionStage::EnrolSecondFactor => enrol_view(state, &step, "").await,
        SessionStage::SignedIn => {
            step.page(("resume.html", "resume_title"), json!({}), StatusCode::OK)
        }
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        page.headers_mut().append(header::SET_COOKIE, v);
    }
    page
}

/// A step refused: the same page again with the reason beside the field, or back to sign-in
/// when the session ended.
fn refused_step(
    state: &AppState,
    lang: Lang,
    e: VaultError,
    page: impl FnOnce(&'static str) -> Response,
) -> Response {
    match e {
        VaultError::SignIn(derbes_service::SignInProblem::SessionEnded) => to_sign_in(state, true),
        VaultError::SignIn(p) => page(text(lang, problem_text(&p))),
        e => unavailable(lang, e),
    }
}

pub(crate) async fn sign_in_page(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    // Someone signed in already goes on where they are.
    if let Some(cookie) = session_cookie(&state, &headers) {
        if let Ok(s) = state.app.accounts.session(&cookie).await {
            return see_other(stage_page(s.stage), &[]);
        }
    }
    let lang = page_lang(&uri, &headers, None);
    let ended = uri.query().is_some_and(|q| q.contains("ended=1"));
    let page = Page::new("sign-in.html", "sign_in_title", lang, None)
        .with(
            json!({ "login": "", "notice": if ended { text(lang, "session_ended") } else { "" } }),
        )
        .render();
    page
}

pub(crate) async fn sign_in(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = page_lang(&uri, &headers, None);
    if !Posted::same_origin(&headers) {
        return Posted::refused(lang);
    }
    let form = Fields::parse(&body);
    let kept = form.kept();
    match state
        .app
        .accounts
        .sign_in(form.get("login"), form.get("password"))
        .await
    {
        Ok(i) => issued(&state, &i, lang, &kept).await,
        Err(e) => refused_step(&state, lang, e, |error| {
            Page::new("sign-in.html", "sign_in_title", lang, None)
                .with(json!({ "login": form.get("login").trim(), "error": error, "kept": kept.value() }))
                .status(StatusCode::UNAUTHORIZED)
                .render()
        }),
    }
}

/// A sign-in step in progress: its session, the page's language, the session's cookie, and a
/// form kept from before the sign-in.
struct Step {
    session: derbes_service::ConsoleSession,
    lang: Lang,
    cookie: String,
    kept: Kept,
}

impl Step {
    /// The step at `stage`, or where the browser should go instead.
    async fn at(
        state: &AppState,
        uri: &Uri,
        headers: &HeaderMap,
        stage: SessionStage,
    ) -> Result<Step, Response> {
        let session = at_stage(state, uri, headers, stage).await?;
        Ok(Step {
            lang: page_lang(uri, headers, Some(&session)),
            cookie: session_cookie(state, headers).unwrap_or_default(),
            session,
            kept: Kept::default(),
        })
    }

    /// The step's page, with `values` (and an error beside its field when `status` says so).
    fn page(
        &self,
        (template, title): (&'static str, &'static str),
        mut values: serde_json::Value,
        status: StatusCode,
    ) -> Response {
        if let Some(v) = values.as_object_mut() {
            v.insert("kept".into(), self.kept.value());
        }
        let page = Page::new(template, title, self.lang, Some(&self.session))
            .with(values)
            .status(status)
            .render();
        page
    }
}

/// A sign-in stage as a type, so that a step's handlers receive the step already found.
pub(crate) trait Stage: Send + Sync + 'static {
    const STAGE: SessionStage;
}

pub(crate) struct SecondFactor;
impl Stage for SecondFactor {
    const STAGE: SessionStage = SessionStage::SecondFactor;
}

pub(crate) struct NewPassword;
impl Stage for NewPassword {
    const STAGE: SessionStage = SessionStage::NewPassword;
}

pub(crate) struct Enrolment;
impl Stage for Enrolment {
    const STAGE: SessionStage = SessionStage::EnrolSecondFactor;
}

/// The step at stage `S` whose page is asked for; where the browser should go instead, if the
/// session is not at that stage.
pub(crate) struct Shown<S>(Step, PhantomData<S>);

impl<S: Stage> FromRequestParts<AppState> for Shown<S> {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, Response> {
        let step = Step::at(state, &parts.uri, &parts.headers, S::STAGE).await?;
        Ok(Shown(step, PhantomData))
    }
}

/// A form posted to the step at stage `S`, once its origin and token are checked, and its
/// fields.
pub(crate) struct Sent<S>(Step, Fields, PhantomData<S>);

impl<S: Stage> FromRequest<AppState> for Sent<S> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let (parts, body) = request.into_parts();
        let mut step = Step::at(state, &parts.uri, &parts.headers, S::STAGE).await?;
        let headers = parts.headers.clone();
        let body = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form = Fields::parse(&body);
        if !Posted::check(state, &headers, &step.session, form.get("csrf")) {
            return Err(Posted::refused(step.lang));
        }
        step.kept = form.kept();
        Ok(Sent(step, form, PhantomData))
    }
}

const SECOND_FACTOR: (&str, &str) = ("second-factor.html", "second_factor_title");
const NEW_PASSWORD: (&str, &str) = ("new-password.html", "new_password_title");

pub(crate) async fn second_factor_page(Shown(step, _): Shown<SecondFactor>) -> Response {
    step.page(SECOND_FACTOR, json!({}), StatusCode::OK)
}

pub(crate) async fn second_factor(
    State(state): State<AppState>,
    Sent(step, form, _): Sent<SecondFactor>,
) -> Response {
    match state
        .app
        .accounts
        .second_factor(&step.cookie, form.get("code"))
        .await
    {
        Ok(i) => issued(&state, &i, step.lang, &step.kept).await,
        Err(e) => refused_step(&state, step.lang, e, |error| {
            step.page(
                SECOND_FACTOR,
                json!({ "error": error }),
                StatusCode::UNAUTHORIZED,
            )
        }),
    }
}

pub(crate) async fn new_password_page(Shown(step, _): Shown<NewPassword>) -> Response {
    let values = json!({ "login": step.session.account.login });
    step.page(NEW_PASSWORD, values, StatusCode::OK)
}

pub(crate) async fn new_password(
    State(state): State<AppState>,
    Sent(step, form, _): Sent<NewPassword>,
) -> Response {
    let chosen = state
        .app
        .accounts
        .choose_password(&step.cookie, form.get("password"), form.get("repeated"))
        .await;
    match chosen {
        Ok(i) => issued(&state, &i, step.lang, &step.kept).await,
        Err(e) => refused_step(&state, step.lang, e, |error| {
            let values = json!({ "login": step.session.account.login, "error": error });
            step.page(NEW_PASSWORD, values, StatusCode::UNPROCESSABLE_ENTITY)
        }),
    }
}

/// The enrolment page: the QR code and key of the second factor being enrolled.
async fn enrol_view(state: &AppState, step: &Step, error: &str) -> Response {
    let enrolment = match state.app.accounts.enrolment(&step.cookie).await {
        Ok(e) => e,
        Err(e) => return refused_step(state, step.lang, e, |_| to_sign_in(state, true)),
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    };
    let values = json!({
        "qr": qr_svg_base64(&enrolment.uri),
        "secret": *enrolment.secret,
        "error": error,
    });
    step.page(("enrol.html", "enrol_title"), values, status)
}

pub(crate) async fn enrol_page(
    State(state): State<AppState>,
    Shown(step, _): Shown<Enrolment>,
) -> Response {
    enrol_view(&state, &step, "").await
}

pub(crate) async fn enrol(
    State(state): State<AppState>,
    Sent(step, form, _): Sent<Enrolment>,
) -> Response {
    match state
        .app
        .accounts
        .enrol_second_factor(&step.cookie, form.get("code"))
        .await
    {
        Ok(i) => issued(&state, &i, step.lang, &step.kept).await,
        Err(VaultError::SignIn(p)) if p == derbes_service::SignInProblem::WrongCode => {
            enrol_view(&state, &step, text(step.lang, problem_text(&p))).await
        }
        Err(e) => refused_step(&state, step.lang, e, |_| to_sign_in(&state, true)),
    }
}

pub(crate) async fn sign_out(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(cookie) = session_cookie(&state, &headers) else {
        return to_sign_in(&state, false);
    };
    let Ok(s) = state.app.accounts.session(&cookie).await else {
        return to_sign_in(&state, true);
    };
    let lang = page_lang(&uri, &headers, Some(&s));
    if !Posted::check(&state, &headers, &s, Fields::parse(&body).get("csrf")) {
        return Posted::refused(lang);
    }
    match state.app.accounts.sign_out(&s).await {
        Ok(()) => to_sign_in(&state, false),
        Err(e) => unavailable(lang, e),
    }
}

/// Sign-ins one address may try in a burst, and how often one more is allowed after it (one
/// every [`SIGN_IN_EVERY_SECONDS`]): a person mistyping is never held up, a script guessing
/// passwords across many logins is (each account also pauses itself after five failures).
pub(crate) const SIGN_IN_BURST: u32 = 10;
pub(crate) const SIGN_IN_EVERY_SECONDS: u64 = 6;
/// Addresses the limiter remembers before it forgets the ones whose bursts are full again.
const REMEMBERED_ADDRESSES: usize = 10_000;

/// `POST /console/sign-in`, limited per client address.
pub(crate) fn limited_sign_in() -> axum::routing::MethodRouter<AppState> {
    use tower_governor::governor::GovernorConfigBuilder;
    let route = axum::routing::post(sign_in);
    let Some(config) = GovernorConfigBuilder::default()
        .per_second(SIGN_IN_EVERY_SECONDS)
        .burst_size(SIGN_IN_BURST)
        .key_extractor(crate::listen::AddressKey)
        .finish()
    else {
        return route;
    };
    let config = std::sync::Arc::new(config);
    let limiter = std::sync::Arc::clone(config.limiter());
    route
        .layer(tower_governor::GovernorLayer::new(config).error_handler(too_many_sign_ins))
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                if limiter.len() > REMEMBERED_ADDRESSES {
                    limiter.retain_recent();
                }
                next.run(request)
            },
        ))
}

/// Too many sign-ins from one address: the page says so in the three languages (the
/// limiter answers before the request's language is read), and when to try again.
fn too_many_sign_ins(e: tower_governor::GovernorError) -> Response {
    let wait = match e {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => wait_time.max(1),
        _ => SIGN_IN_EVERY_SECONDS,
    };
    let said: Vec<String> = Lang::ALL
        .iter()
        .map(|l| text(*l, "too_many_sign_ins").replace("{s}", &wait.to_string()))
        .collect();
    let mut page = Page::new("refused.html", "sign_in_title", Lang::Kk, None)
        .with(json!({ "refused": said.join(" / ") }))
        .status(StatusCode::TOO_MANY_REQUESTS)
        .render();
    if let Ok(v) = HeaderValue::from_str(&wait.to_string()) {
        page.headers_mut().insert(header::RETRY_AFTER, v);
    }
    page
}

/// The otpauth address as a QR code: an SVG image, base64 for a `data:` address (the CSP
/// allows images from `data:` and nothing inline else).
fn qr_svg_base64(uri: &str) -> String {
    use qrcodegen::{QrCode, QrCodeEcc};
    let Ok(qr) = QrCode::encode_text(uri, QrCodeEcc::Medium) else {
        return String::new();
    };
    let size = qr.size();
    let border = 4;
    let mut path = String::new();
    for y in 0..size {
        for x in 0..size {
            if qr.get_module(x, y) {
                path.push_str(&format!("M{},{}h1v1h-1z", x + border, y + border));
            }
        }
    }
    let dim = size + 2 * border;
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {dim} {dim}\" shape-rendering=\"crispEdges\"><rect width=\"100%\" height=\"100%\" fill=\"#fff\"/><path d=\"{path}\" fill=\"#000\"/></svg>"
    );
    base64::engine::general_purpose::STANDARD.encode(svg)
}

//! Signing in, step by step, and signing out: each page shows one step, each post makes one
//! service call and goes on to the page of the next step with the new session cookie.

use super::session::{
    at_stage, problem_text, session_cookie, set_session, stage_page, to_sign_in, unavailable,
};
use super::{page_lang, see_other, text, Page, Posted};
use crate::AppState;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use derbes_core::text::Lang;
use derbes_service::{Issued, SessionStage, VaultError};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SignInForm {
    login: String,
    password: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CodeForm {
    csrf: String,
    code: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct PasswordForm {
    csrf: String,
    password: String,
    repeated: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct CsrfForm {
    csrf: String,
}

/// Where a step that succeeded goes: the next step's page, with its new cookie.
fn issued(state: &AppState, i: &Issued) -> Response {
    see_other(stage_page(i.stage), &[set_session(state, Some(&i.cookie))])
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
    form: Result<Form<SignInForm>, FormRejection>,
) -> Response {
    let lang = page_lang(&uri, &headers, None);
    if !Posted::same_origin(&headers) {
        return Posted::refused(lang);
    }
    let form = form.map(|Form(f)| f).unwrap_or_default();
    match state
        .app
        .accounts
        .sign_in(&form.login, &form.password)
        .await
    {
        Ok(i) => issued(&state, &i),
        Err(e) => refused_step(&state, lang, e, |error| {
            Page::new("sign-in.html", "sign_in_title", lang, None)
                .with(json!({ "login": form.login.trim(), "error": error }))
                .status(StatusCode::UNAUTHORIZED)
                .render()
        }),
    }
}

/// A sign-in step in progress: its session, the page's language, the session's cookie.
struct Step {
    session: derbes_service::ConsoleSession,
    lang: Lang,
    cookie: String,
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
        })
    }

    /// The step at `stage` a form was posted to, once its origin and token are checked.
    async fn posted(
        state: &AppState,
        uri: &Uri,
        headers: &HeaderMap,
        stage: SessionStage,
        csrf: &str,
    ) -> Result<Step, Response> {
        let step = Self::at(state, uri, headers, stage).await?;
        if !Posted::check(state, headers, &step.session, csrf) {
            return Err(Posted::refused(step.lang));
        }
        Ok(step)
    }

    /// The step's page, with `values` (and an error beside its field when `status` says so).
    fn page(
        &self,
        (template, title): (&'static str, &'static str),
        values: serde_json::Value,
        status: StatusCode,
    ) -> Response {
        let page = Page::new(template, title, self.lang, Some(&self.session))
            .with(values)
            .status(status)
            .render();
        page
    }
}

const SECOND_FACTOR: (&str, &str) = ("second-factor.html", "second_factor_title");
const NEW_PASSWORD: (&str, &str) = ("new-password.html", "new_password_title");

pub(crate) async fn second_factor_page(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match Step::at(&state, &uri, &headers, SessionStage::SecondFactor).await {
        Ok(step) => step.page(SECOND_FACTOR, json!({}), StatusCode::OK),
        Err(r) => r,
    }
}

pub(crate) async fn second_factor(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let step = match Step::posted(
        &state,
        &uri,
        &headers,
        SessionStage::SecondFactor,
        &form.csrf,
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state
        .app
        .accounts
        .second_factor(&step.cookie, &form.code)
        .await
    {
        Ok(i) => issued(&state, &i),
        Err(e) => refused_step(&state, step.lang, e, |error| {
            step.page(
                SECOND_FACTOR,
                json!({ "error": error }),
                StatusCode::UNAUTHORIZED,
            )
        }),
    }
}

pub(crate) async fn new_password_page(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match Step::at(&state, &uri, &headers, SessionStage::NewPassword).await {
        Ok(step) => {
            let values = json!({ "login": step.session.account.login });
            step.page(NEW_PASSWORD, values, StatusCode::OK)
        }
        Err(r) => r,
    }
}

pub(crate) async fn new_password(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<PasswordForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let step = match Step::posted(
        &state,
        &uri,
        &headers,
        SessionStage::NewPassword,
        &form.csrf,
    )
    .await
    {
        Ok(s) => s,
        Err(r) => return r,
    };
    let chosen = state
        .app
        .accounts
        .choose_password(&step.cookie, &form.password, &form.repeated)
        .await;
    match chosen {
        Ok(i) => issued(&state, &i),
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
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    match Step::at(&state, &uri, &headers, SessionStage::EnrolSecondFactor).await {
        Ok(step) => enrol_view(&state, &step, "").await,
        Err(r) => r,
    }
}

pub(crate) async fn enrol(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    form: Result<Form<CodeForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    let stage = SessionStage::EnrolSecondFactor;
    let step = match Step::posted(&state, &uri, &headers, stage, &form.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match state
        .app
        .accounts
        .enrol_second_factor(&step.cookie, &form.code)
        .await
    {
        Ok(i) => issued(&state, &i),
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
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let Some(cookie) = session_cookie(&state, &headers) else {
        return to_sign_in(&state, false);
    };
    let Ok(s) = state.app.accounts.session(&cookie).await else {
        return to_sign_in(&state, true);
    };
    let lang = page_lang(&uri, &headers, Some(&s));
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if !Posted::check(&state, &headers, &s, &form.csrf) {
        return Posted::refused(lang);
    }
    match state.app.accounts.sign_out(&s).await {
        Ok(()) => to_sign_in(&state, false),
        Err(e) => unavailable(lang, e),
    }
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

//! "Access": the person accounts and API tokens, with their roles and purposes, and the forms
//! that create, disable, enable and reset accounts and create and revoke tokens. Each form
//! makes one service call; who may is decided there, and a refusal shows the service's reason.

use super::{text, Fields, Page, Submitted, Viewer};
use crate::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use derbes_core::text::Lang;
use derbes_service::{AccountSpec, Actor, ConsoleSession, Role, VaultError};
use serde_json::{json, Value};

pub(crate) async fn page(viewer: Viewer) -> Response {
    let (state, session, actor, lang) = viewer.parts();
    show(&state, &session, &actor, lang, json!({}), StatusCode::OK).await
}

/// The page with the lists, and `values` from a form just handled.
async fn show(
    state: &AppState,
    session: &ConsoleSession,
    actor: &Actor,
    lang: Lang,
    values: Value,
    status: StatusCode,
) -> Response {
    let page = Page::new("access.html", "access_title", lang, Some(session))
        .section("access")
        .purposes_of(state.app.vault.declaration());
    let listed = match state.app.accounts.list(actor).await {
        Ok(accounts) => state
            .app
            .tokens
            .list_tokens(actor)
            .await
            .map(|tokens| (accounts, tokens)),
        Err(e) => Err(e),
    };
    let mut context = json!({
        "refused": "", "accounts": [], "tokens": [], "issued": "", "errors": {},
        "account_form": form_values(&Fields::default()),
        "token_form": form_values(&Fields::default()),
        "open_form": "",
        "max_token_days": derbes_service::MAX_TOKEN_DAYS,
    });
    match listed {
        Ok((accounts, tokens)) => {
            context["accounts"] = json!(accounts);
            context["tokens"] = json!(tokens);
        }
        Err(e @ VaultError::Forbidden(_)) => {
            context["refused"] = json!(e.to_string());
            return page.with(context).status(StatusCode::FORBIDDEN).render();
        }
        Err(e) => return super::session::unavailable(lang, e),
    }
    if let (Some(c), Value::Object(v)) = (context.as_object_mut(), values) {
        c.extend(v);
    }
    page.with(context).status(status).render()
}

/// The page after a form: what was done, or why not (beside the field it concerns, with the
/// form's values kept in `form_key`).
async fn answer(s: &Submitted, done: Result<Value, VaultError>, form_key: &str) -> Response {
    let state = &s.state;
    let lang = s.lang;
    let (values, status) = match done {
        Ok(values) => (values, StatusCode::OK),
        Err(VaultError::InvalidField { field, detail }) => {
            let message = match text(lang, &format!("invalid_{field}")) {
                "" => detail,
                localized => {
                    localized.replace("{max}", &derbes_service::MAX_TOKEN_DAYS.to_string())
                }
            };
            let form = form_values(&s.fields);
            (
                json!({ "errors": { field: message }, form_key: form, "open_form": form_key }),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
        }
        Err(VaultError::Taken(field)) => (
            json!({
                "errors": { field: text(lang, &format!("taken_{field}")) },
                form_key: form_values(&s.fields),
                "open_form": form_key,
            }),
            StatusCode::CONFLICT,
        ),
        Err(e @ VaultError::Forbidden(_)) => {
            return super::session::failed(state, lang, Some(&s.session), "access", e)
        }
        Err(VaultError::AccountNotFound | VaultError::TokenNotFound) => (
            json!({ "error": text(lang, "access_not_found") }),
            StatusCode::NOT_FOUND,
        ),
        Err(VaultError::Conflict(m)) => (json!({ "error": m }), StatusCode::CONFLICT),
        Err(e) => return super::session::unavailable(lang, e),
    };
    show(state, &s.session, &s.actor, lang, values, status).await
}

/// A refused form's values, to show it again as it was filled in.
fn form_values(fields: &Fields) -> Value {
    json!({
        "login": fields.get("login"),
        "display_name": fields.get("display_name"),
        "name": fields.get("name"),
        "role": fields.get("role"),
        "lang": fields.get("lang"),
        "purposes": fields.all("purposes"),
        "second_factor": fields.ticked("second_factor"),
        "expires_in_days": fields.get("expires_in_days"),
    })
}

/// The role chosen in a form.
fn role(fields: &Fields) -> Result<Role, VaultError> {
    fields
        .get("role")
        .parse()
        .map_err(|_| VaultError::InvalidField {
            field: "role",
            detail: "must be one of the listed roles".into(),
        })
}

pub(crate) async fn create_account(s: Submitted) -> Response {
    let state = &s.state;
    let f = &s.fields;
    let created = match role(f) {
        Ok(role) => {
            let spec = AccountSpec {
                login: f.get("login").to_owned(),
                display_name: f.get("display_name").to_owned(),
                role,
                purposes: f.all("purposes"),
                lang: Some(f.get("lang").to_owned()),
                second_factor: f.ticked("second_factor").then_some(true),
            };
            state.app.accounts.create(&s.actor, spec).await
        }
        Err(e) => Err(e),
    };
    let done = created.map(|i| {
        json!({ "issued": {
            "kind": "password", "login": i.account.login, "secret": *i.one_time_password,
        } })
    });
    answer(&s, done, "account_form").await
}

pub(crate) async fn disable_account(s: Submitted) -> Response {
    set_disabled(&s, true).await
}

pub(crate) async fn enable_account(s: Submitted) -> Response {
    set_disabled(&s, false).await
}

async fn set_disabled(s: &Submitted, disabled: bool) -> Response {
    let done = s
        .state
        .app
        .accounts
        .set_disabled(&s.actor, s.fields.get("login"), disabled)
        .await
        .map(|a| {
            let key = if disabled {
                "account_disabled"
            } else {
                "account_enabled"
            };
            json!({ "notice": text(s.lang, key).replace("{login}", &a.login) })
        })
        // The one conflict here: an administrator disabling their own account.
        .map_err(|e| match e {
            VaultError::Conflict(_) => VaultError::Conflict(text(s.lang, "own_account").into()),
            e => e,
        });
    answer(s, done, "").await
}

pub(crate) async fn reset_account(s: Submitted) -> Response {
    let state = &s.state;
    let done = state
        .app
        .accounts
        .reset(
            &s.actor,
            s.fields.get("login"),
            s.fields.ticked("second_factor"),
        )
        .await
        .map(|i| {
            json!({ "issued": {
                "kind": "password", "login": i.account.login, "secret": *i.one_time_password,
            } })
        });
    answer(&s, done, "").await
}

pub(crate) async fn create_token(s: Submitted) -> Response {
    let state = &s.state;
    let f = &s.fields;
    let days = match f.get("expires_in_days").trim() {
        "" => Ok(None),
        d => d
            .parse::<u32>()
            .map(|d| Some(Some(d)))
            .map_err(|_| VaultError::InvalidField {
                field: "expires_in_days",
                detail: "must be a whole number of days".into(),
            }),
    };
    let created = match (role(f), days) {
        (Ok(role), Ok(days)) => {
            state
                .app
                .tokens
                .issue_token(&s.actor, f.get("name"), role, f.all("purposes"), days)
                .await
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    };
    let done = created
        .map(|t| json!({ "issued": { "kind": "token", "login": t.view.name, "secret": t.token } }));
    answer(&s, done, "token_form").await
}

pub(crate) async fn revoke_token(s: Submitted) -> Response {
    let state = &s.state;
    let done =
        match s.fields.get("id").parse() {
            Ok(id) => state.app.tokens.revoke_token(&s.actor, id).await.map(
                |t| json!({ "notice": text(s.lang, "token_revoked").replace("{name}", &t.name) }),
            ),
            Err(_) => Err(VaultError::TokenNotFound),
        };
    answer(&s, done, "").await
}

//! The console over HTTP, as a browser without JavaScript uses it: signing in step by step,
//! sessions that end, forms that carry their token, and pages that show the service's answer.
//! Every case runs on SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

use derbes_service::{AccountSpec, Actor, Clock, Role};
use derbes_store::testing::{run_suite, Case, TestDb};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

mod common;
use common::*;

#[path = "console/access.rs"]
mod access;
#[path = "console/consents.rs"]
mod consents;
#[path = "console/requests.rs"]
mod requests;
#[path = "console/sign_in.rs"]
mod sign_in;
#[path = "console/subjects.rs"]
mod subjects;
#[path = "console/today.rs"]
mod today;

/// A server whose clock a case moves on, and a way to make accounts.
pub(crate) struct Desk {
    pub(crate) s: Server,
    /// Seconds added to the real time.
    offset: Arc<AtomicI64>,
    runtime: tokio::runtime::Handle,
}

impl Desk {
    pub(crate) async fn start(db: &TestDb) -> Desk {
        let offset = Arc::new(AtomicI64::new(0));
        let o = Arc::clone(&offset);
        let clock: Clock = Arc::new(move || {
            time::OffsetDateTime::now_utc() + time::Duration::seconds(o.load(Ordering::SeqCst))
        });
        Desk {
            s: Server::start_with_clock(db, clock).await,
            offset,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    /// One case of the suite: a desk on `db`, and `case` run on it.
    pub(crate) fn case(db: TestDb, case: impl FnOnce(&Desk) + Send + 'static) -> Fut {
        Box::pin(async move { Desk::start(&db).await.run(case).await })
    }

    /// Runs `case` on a thread that may block (a browser waits for its answers), while the
    /// server goes on serving on the runtime.
    pub(crate) async fn run(self, case: impl FnOnce(&Desk) + Send + 'static) {
        tokio::task::spawn_blocking(move || case(&self))
            .await
            .unwrap();
    }

    /// A service call from the blocking thread.
    pub(crate) fn service<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(call)
    }

    pub(crate) fn later(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    pub(crate) fn now_unix(&self) -> u64 {
        (time::OffsetDateTime::now_utc().unix_timestamp() + self.offset.load(Ordering::SeqCst))
            .unsigned_abs()
    }

    /// An account made at the command line, and its one-time password.
    pub(crate) fn account(&self, login: &str, role: Role, purposes: &[&str]) -> String {
        let issued = self
            .service(self.s.state.app.accounts.create(
                &Actor::command_line("users"),
                AccountSpec {
                    login: login.into(),
                    display_name: format!("{login} Серікова"),
                    role,
                    purposes: purposes.iter().map(|p| (*p).to_owned()).collect(),
                    lang: Some("kk".into()),
                    second_factor: None,
                },
            ))
            .unwrap();
        issued.one_time_password.to_string()
    }

    /// A person of `role` signed in for the first time in a browser of their own: their own
    /// password and, for admins and DPOs, a second factor.
    pub(crate) fn person(&self, login: &str, role: Role, purposes: &[&str]) -> Browser {
        let otp = self.account(login, role, purposes);
        let mut b = self.browser();
        if matches!(role, Role::Admin | Role::Dpo) {
            first_sign_in(self, &mut b, login, &otp);
        } else {
            b.sign_in(login, &otp);
            b.choose_password("Күз келді, 2026!");
        }
        b
    }

    pub(crate) fn browser(&self) -> Browser {
        Browser {
            base: self.s.base.clone(),
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .build()
                .into(),
            cookies: HashMap::new(),
        }
    }
}

/// A browser: its cookies, and what a page answered.
pub(crate) struct Browser {
    pub(crate) base: String,
    pub(crate) agent: ureq::Agent,
    pub(crate) cookies: HashMap<String, String>,
}

pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) body: String,
    pub(crate) location: String,
    pub(crate) headers: Vec<(String, String)>,
}

impl Answer {
    pub(crate) fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of the hidden CSRF field of the page's first form that has one.
    pub(crate) fn csrf(&self) -> String {
        self.body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }
}

impl Browser {
    pub(crate) fn answer(
        &mut self,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Answer {
        let mut r = r.unwrap();
        let headers: Vec<(String, String)> = r
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
            .collect();
        for (n, v) in &headers {
            if n.eq_ignore_ascii_case("set-cookie") {
                let pair = v.split(';').next().unwrap();
                let (name, value) = pair.split_once('=').unwrap();
                if v.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        Answer {
            status: r.status().as_u16(),
            location: r
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default(),
            body: r.body_mut().read_to_string().unwrap_or_default(),
            headers,
        }
    }

    pub(crate) fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub(crate) fn get(&mut self, path: &str) -> Answer {
        let r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .call();
        self.answer(r)
    }

    pub(crate) fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Sec-Fetch-Site", "same-origin")
            .send_form(form.iter().copied());
        self.answer(r)
    }

    /// Chooses a new password on its page (both fields the same), with the page's token.
    pub(crate) fn choose_password(&mut self, password: &str) -> Answer {
        let csrf = self.get("/console/new-password").csrf();
        self.post(
            "/console/new-password",
            &[
                ("csrf", &csrf),
                ("password", password),
                ("repeated", password),
            ],
        )
    }

    /// Signs in with a password and answers the step it leads to.
    pub(crate) fn sign_in(&mut self, login: &str, password: &str) -> Answer {
        self.post(
            "/console/sign-in",
            &[("login", login), ("password", password)],
        )
    }
}

/// The TOTP code an app shows for the key on an enrolment page.
pub(crate) fn code_of(enrol_page: &Answer, unix: u64) -> String {
    let key = enrol_page
        .body
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap();
    derbes_crypto::TotpSecret::from_base32(key)
        .unwrap()
        .code_at(unix)
        .unwrap()
}

/// A DPO signed in for the first time: password changed, second factor enrolled. The key of
/// the second factor is returned, to compute later codes.
pub(crate) fn first_sign_in(desk: &Desk, b: &mut Browser, login: &str, otp: &str) -> String {
    first_sign_in_at(desk, b, login, otp).0
}

/// [`first_sign_in`], and the time (Unix seconds) whose code the enrolment used.
pub(crate) fn first_sign_in_at(
    desk: &Desk,
    b: &mut Browser,
    login: &str,
    otp: &str,
) -> (String, u64) {
    let a = b.sign_in(login, otp);
    assert_eq!(
        (a.status, a.location.as_str()),
        (303, "/console/new-password")
    );
    let a = b.choose_password("Жаз келді, 2026!");
    assert_eq!((a.status, a.location.as_str()), (303, "/console/enrol"));
    let enrol = b.get("/console/enrol");
    assert_eq!(enrol.status, 200, "{}", enrol.body);
    let key = enrol
        .body
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap()
        .to_owned();
    let at = desk.now_unix();
    let a = b.post(
        "/console/enrol",
        &[("csrf", &enrol.csrf()), ("code", &code_of(&enrol, at))],
    );
    assert_eq!((a.status, a.location.as_str()), (303, "/console"));
    (key, at)
}

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[
        (
            "a_first_sign_in_sets_a_password_and_a_second_factor",
            sign_in::a_first_sign_in_sets_a_password_and_a_second_factor,
        ),
        (
            "codes_count_once_and_failures_pause_the_account",
            sign_in::codes_count_once_and_failures_pause_the_account,
        ),
        (
            "sessions_end_at_sign_out_when_idle_and_when_disabled",
            sign_in::sessions_end_at_sign_out_when_idle_and_when_disabled,
        ),
        (
            "forms_need_their_token_and_pages_show_the_services_reasons",
            sign_in::forms_need_their_token_and_pages_show_the_services_reasons,
        ),
        (
            "administrators_manage_accounts_and_tokens",
            access::administrators_manage_accounts_and_tokens,
        ),
        (
            "administrators_make_and_revoke_tokens",
            access::administrators_make_and_revoke_tokens,
        ),
        (
            "a_form_sent_after_the_session_ended_is_kept",
            access::a_form_sent_after_the_session_ended_is_kept,
        ),
        (
            "today_shows_the_legal_clocks_first",
            today::today_shows_the_legal_clocks_first,
        ),
        (
            "consents_are_recorded_and_their_receipts_printed",
            consents::consents_are_recorded_and_their_receipts_printed,
        ),
        (
            "representatives_and_obligations_from_the_file",
            consents::representatives_and_obligations_from_the_file,
        ),
        (
            "consents_to_confirm_at_majority_are_on_today",
            today::consents_to_confirm_at_majority_are_on_today,
        ),
        (
            "the_last_retention_scan_is_on_today",
            today::the_last_retention_scan_is_on_today,
        ),
        (
            "a_batch_is_proposed_and_approved_from_the_retention_page",
            today::a_batch_is_proposed_and_approved_from_the_retention_page,
        ),
        (
            "depersonalized_records_are_released_from_the_retention_page",
            today::depersonalized_records_are_released_from_the_retention_page,
        ),
        (
            "a_request_from_paper_to_the_sent_answer",
            requests::a_request_from_paper_to_the_sent_answer,
        ),
        (
            "subjects_are_added_found_and_opened_for_a_purpose",
            subjects::subjects_are_added_found_and_opened_for_a_purpose,
        ),
        (
            "the_audit_is_verified_browsed_and_exported",
            today::the_audit_is_verified_browsed_and_exported,
        ),
        (
            "the_policy_shows_versions_documents_and_the_consent_impact",
            today::the_policy_shows_versions_documents_and_the_consent_impact,
        ),
        (
            "sign_ins_from_one_address_are_limited",
            sign_in::sign_ins_from_one_address_are_limited,
        ),
        (
            "every_page_answers_every_role_as_the_service_does",
            access::every_page_answers_every_role_as_the_service_does,
        ),
        (
            "blocks_are_set_by_staff_and_lifted_by_an_officer",
            subjects::blocks_are_set_by_staff_and_lifted_by_an_officer,
        ),
        (
            "subjects_are_corrected_with_the_declarations_checks",
            subjects::subjects_are_corrected_with_the_declarations_checks,
        ),
        (
            "lifecycle_events_from_the_file",
            subjects::lifecycle_events_from_the_file,
        ),
        (
            "a_legal_hold_from_the_file",
            subjects::a_legal_hold_from_the_file,
        ),
    ];
    run_suite("console", cases)
}

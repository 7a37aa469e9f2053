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

/// A server whose clock a case moves on, and a way to make accounts.
struct Desk {
    s: Server,
    /// Seconds added to the real time.
    offset: Arc<AtomicI64>,
    runtime: tokio::runtime::Handle,
}

impl Desk {
    async fn start(db: &TestDb) -> Desk {
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

    /// Runs `case` on a thread that may block (a browser waits for its answers), while the
    /// server goes on serving on the runtime.
    async fn run(self, case: impl FnOnce(&Desk) + Send + 'static) {
        tokio::task::spawn_blocking(move || case(&self))
            .await
            .unwrap();
    }

    /// A service call from the blocking thread.
    fn service<T>(&self, call: impl std::future::Future<Output = T>) -> T {
        self.runtime.block_on(call)
    }

    fn later(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    fn now_unix(&self) -> u64 {
        (time::OffsetDateTime::now_utc().unix_timestamp() + self.offset.load(Ordering::SeqCst))
            .unsigned_abs()
    }

    /// An account made at the command line, and its one-time password.
    fn account(&self, login: &str, role: Role, purposes: &[&str]) -> String {
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

    fn browser(&self) -> Browser {
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
struct Browser {
    base: String,
    agent: ureq::Agent,
    cookies: HashMap<String, String>,
}

struct Answer {
    status: u16,
    body: String,
    location: String,
    headers: Vec<(String, String)>,
}

impl Answer {
    fn header(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The value of the hidden CSRF field of the page's first form that has one.
    fn csrf(&self) -> String {
        self.body
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }
}

impl Browser {
    fn answer(&mut self, r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
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

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&mut self, path: &str) -> Answer {
        let r = self
            .agent
            .get(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .call();
        self.answer(r)
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let r = self
            .agent
            .post(format!("{}{path}", self.base))
            .header("Cookie", self.cookie_header())
            .header("Sec-Fetch-Site", "same-origin")
            .send_form(form.iter().copied());
        self.answer(r)
    }

    /// Chooses a new password on its page (both fields the same), with the page's token.
    fn choose_password(&mut self, password: &str) -> Answer {
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
    fn sign_in(&mut self, login: &str, password: &str) -> Answer {
        self.post(
            "/console/sign-in",
            &[("login", login), ("password", password)],
        )
    }
}

/// The TOTP code an app shows for the key on an enrolment page.
fn code_of(enrol_page: &Answer, unix: u64) -> String {
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
fn first_sign_in(desk: &Desk, b: &mut Browser, login: &str, otp: &str) -> String {
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
    let a = b.post(
        "/console/enrol",
        &[
            ("csrf", &enrol.csrf()),
            ("code", &code_of(&enrol, desk.now_unix())),
        ],
    );
    assert_eq!((a.status, a.location.as_str()), (303, "/console"));
    key
}

/// A DPO's first sign-in: the one-time password leads to choosing one's own (refused beside
/// the field when weak, in the page's language), then to enrolling a second factor (a wrong
/// code refused), then in; each step renews the session cookie, which is HttpOnly, SameSite
/// Strict and Secure, and every page forbids scripts and frames from elsewhere.
fn a_first_sign_in_sets_a_password_and_a_second_factor(db: TestDb) -> Fut {
    Box::pin(async move {
        Desk::start(&db)
            .await
            .run(|desk| {
                let otp = desk.account("aliya", Role::Dpo, &[]);
                let mut b = desk.browser();
                let page = b.get("/console/sign-in");
                assert_eq!(page.status, 200);
                let csp = page.header("content-security-policy").join("");
                assert!(
                    csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
                    "{csp}"
                );
                assert_eq!(page.header("cache-control"), ["no-store"]);

                let a = b.sign_in("ALIYA", &otp);
                assert_eq!(
                    (a.status, a.location.as_str()),
                    (303, "/console/new-password")
                );
                let set = a.header("set-cookie").join("");
                for flag in [
                    "__Host-derbes-session=",
                    "HttpOnly",
                    "SameSite=Strict",
                    "Secure",
                    "Path=/",
                ] {
                    assert!(set.contains(flag), "{flag}: {set}");
                }
                let first = b.cookies.clone();
                let page = b.get("/console/new-password");
                let weak = b.post(
                    "/console/new-password",
                    &[
                        ("csrf", &page.csrf()),
                        ("password", "short"),
                        ("repeated", "short"),
                    ],
                );
                assert_eq!(weak.status, 422);
                assert!(weak.body.contains("кемінде 12 таңба"), "{}", weak.body);
                let a = b.post(
                    "/console/new-password",
                    &[
                        ("csrf", &page.csrf()),
                        ("password", "Жаз келді, 2026!"),
                        ("repeated", "Жаз келді, 2026!"),
                    ],
                );
                assert_eq!(a.location, "/console/enrol");
                assert_ne!(b.cookies, first, "a new session for the next step");

                let enrol = b.get("/console/enrol");
                assert!(
                    enrol.body.contains("data:image/svg+xml;base64,"),
                    "a QR code"
                );
                let wrong = b.post(
                    "/console/enrol",
                    &[("csrf", &enrol.csrf()), ("code", "000000")],
                );
                assert_eq!(wrong.status, 401);
                assert!(wrong.body.contains("Код қате"), "{}", wrong.body);
                let a = b.post(
                    "/console/enrol",
                    &[
                        ("csrf", &enrol.csrf()),
                        ("code", &code_of(&enrol, desk.now_unix())),
                    ],
                );
                assert_eq!((a.status, a.location.as_str()), (303, "/console"));
                let home = b.get("/console");
                assert!(
                    home.body.contains("aliya Серікова") && home.body.contains("қосылған"),
                    "{}",
                    home.body
                );

                let actions: Vec<String> = desk
                    .service(desk.s.store.audit_page(0, 1000))
                    .unwrap()
                    .into_iter()
                    .filter(|e| e.action.starts_with("account."))
                    .map(|e| format!("{} {} {:?}", e.actor, e.action, e.outcome))
                    .collect();
                assert_eq!(
                    actions,
                    [
                        "admin:cli-users account.create Ok",
                        "dpo:person:aliya account.password Ok",
                        "dpo:person:aliya account.second_factor Ok",
                        "dpo:person:aliya account.sign_in Ok",
                    ]
                );
            })
            .await;
    })
}

/// The second factor is asked at every sign-in and its code counts once; wrong passwords pause
/// the account from the fifth, with the same answer as for a login that does not exist.
fn codes_count_once_and_failures_pause_the_account(db: TestDb) -> Fut {
    Box::pin(async move {
        Desk::start(&db)
            .await
            .run(|desk| {
                let otp = desk.account("aliya", Role::Dpo, &[]);
                let mut b = desk.browser();
                let key = first_sign_in(desk, &mut b, "aliya", &otp);
                let secret = derbes_crypto::TotpSecret::from_base32(&key).unwrap();

                // The enrolment's code was used: the next sign-in needs the next one.
                let mut b = desk.browser();
                let a = b.sign_in("aliya", "Жаз келді, 2026!");
                assert_eq!(a.location, "/console/second-factor");
                let page = b.get("/console/second-factor");
                let used = secret.code_at(desk.now_unix()).unwrap();
                let again = b.post(
                    "/console/second-factor",
                    &[("csrf", &page.csrf()), ("code", &used)],
                );
                assert_eq!(again.status, 401, "a code is accepted once");
                desk.later(30);
                let next = secret.code_at(desk.now_unix()).unwrap();
                let a = b.post(
                    "/console/second-factor",
                    &[("csrf", &page.csrf()), ("code", &next)],
                );
                assert_eq!((a.status, a.location.as_str()), (303, "/console"));

                let mut b = desk.browser();
                let nobody = b.sign_in("nobody", "Жаз келді, 2026!");
                assert_eq!(nobody.status, 401);
                for _ in 0..5 {
                    let wrong = b.sign_in("aliya", "not the password");
                    assert_eq!(wrong.status, 401);
                }
                let paused = b.sign_in("aliya", "Жаз келді, 2026!");
                assert_eq!(paused.status, 401, "paused even with the right password");
                let message = |a: &Answer| {
                    a.body
                        .split("role=\"alert\">")
                        .nth(1)
                        .unwrap()
                        .split('<')
                        .next()
                        .unwrap()
                        .to_owned()
                };
                assert_eq!(
                    message(&paused),
                    message(&nobody),
                    "no hint whether the login exists"
                );
                desk.later(61);
                let a = b.sign_in("aliya", "Жаз келді, 2026!");
                assert_eq!(a.location, "/console/second-factor", "after a minute");
            })
            .await;
    })
}

/// A session ends at sign-out (its cookie, replayed from another browser, leads back to
/// sign-in), after 30 minutes idle, and when an administrator disables the account.
fn sessions_end_at_sign_out_when_idle_and_when_disabled(db: TestDb) -> Fut {
    Box::pin(async move {
        Desk::start(&db)
            .await
            .run(|desk| {
                let otp = desk.account("bolat", Role::Staff, &["education"]);
                let mut b = desk.browser();
                let page = b.sign_in("bolat", &otp);
                assert_eq!(page.location, "/console/new-password");
                let a = b.choose_password("Күз келді, 2026!");
                assert_eq!(
                    a.location, "/console",
                    "staff need no second factor by default"
                );
                let stolen = b.cookies.clone();
                let home = b.get("/console");
                assert_eq!(home.status, 200);
                // Purposes by their declared label, times in words and the operator's local time.
                assert!(
                    home.body.contains("Білім беру процесін қамтамасыз ету"),
                    "{}",
                    home.body
                );
                let local = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+5));
                let year = local.year().to_string();
                assert!(
                    home.body.contains(&format!("{year} жылғы")),
                    "{}",
                    home.body
                );
                let a = b.post("/console/sign-out", &[("csrf", &home.csrf())]);
                assert_eq!((a.status, a.location.as_str()), (303, "/console/sign-in"));
                let mut thief = desk.browser();
                thief.cookies = stolen;
                let a = thief.get("/console");
                assert_eq!(
                    (a.status, a.location.as_str()),
                    (303, "/console/sign-in?ended=1")
                );

                b.sign_in("bolat", "Күз келді, 2026!");
                assert_eq!(b.get("/console").status, 200);
                desk.later(29 * 60);
                assert_eq!(b.get("/console").status, 200, "active within 30 minutes");
                desk.later(31 * 60);
                let a = b.get("/console");
                assert_eq!(
                    a.location, "/console/sign-in?ended=1",
                    "idle for 31 minutes"
                );
                let notice = b.get(&a.location);
                assert!(notice.body.contains("Сессия аяқталды"), "{}", notice.body);

                b.sign_in("bolat", "Күз келді, 2026!");
                desk.service(desk.s.state.app.accounts.set_disabled(
                    &Actor::command_line("users"),
                    "bolat",
                    true,
                ))
                .unwrap();
                assert_eq!(b.get("/console").location, "/console/sign-in?ended=1");
                assert_eq!(b.sign_in("bolat", "Күз келді, 2026!").status, 401);
            })
            .await;
    })
}

/// A form without its session's token, or posted from another site, is refused and does
/// nothing; a staff member opening the access page is shown the service's reason.
fn forms_need_their_token_and_pages_show_the_services_reasons(db: TestDb) -> Fut {
    Box::pin(async move {
        Desk::start(&db)
            .await
            .run(|desk| {
                let otp = desk.account("bolat", Role::Staff, &["education"]);
                let mut b = desk.browser();
                b.sign_in("bolat", &otp);
                let password = "Күз келді, 2026!";
                let forged = [
                    ("csrf", "forged"),
                    ("password", password),
                    ("repeated", password),
                ];
                assert_eq!(b.post("/console/new-password", &forged).status, 403);
                let a = b.choose_password(password);
                assert_eq!(a.location, "/console", "the refused post changed nothing");

                let home = b.get("/console");
                assert_eq!(b.post("/console/sign-out", &[]).status, 403);
                let r = b
                    .agent
                    .post(format!("{}/console/sign-out", b.base))
                    .header("Cookie", b.cookie_header())
                    .header("Origin", "https://elsewhere.example")
                    .send_form([("csrf", home.csrf().as_str())]);
                assert_eq!(b.answer(r).status, 403);
                assert_eq!(b.get("/console").status, 200, "still signed in");

                let access = b.get("/console/access?lang=en");
                assert_eq!(access.status, 403);
                assert!(
                    access
                        .body
                        .contains("a `staff` account may not do this; it needs one of: admin"),
                    "{}",
                    access.body
                );
                assert!(!access.body.contains("<table"), "no list is shown");
                // The language chosen on one page holds on the next.
                assert!(b.get("/console").body.contains("<html lang=\"en\">"));
            })
            .await;
    })
}

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[
        (
            "a_first_sign_in_sets_a_password_and_a_second_factor",
            a_first_sign_in_sets_a_password_and_a_second_factor,
        ),
        (
            "codes_count_once_and_failures_pause_the_account",
            codes_count_once_and_failures_pause_the_account,
        ),
        (
            "sessions_end_at_sign_out_when_idle_and_when_disabled",
            sessions_end_at_sign_out_when_idle_and_when_disabled,
        ),
        (
            "forms_need_their_token_and_pages_show_the_services_reasons",
            forms_need_their_token_and_pages_show_the_services_reasons,
        ),
    ];
    run_suite("console", cases)
}

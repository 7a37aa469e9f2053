//! The access page's forms: accounts and tokens made, disabled, reset and revoked by an
//! administrator, refused values shown beside their field, and a form kept across a sign-in.

use super::*;

/// The hidden fields of a page's forms, as a browser would send them back.
fn hidden(page: &Answer) -> Vec<(String, String)> {
    page.body
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|r| {
            let (name, rest) = r.split_once('"')?;
            let value = rest.strip_prefix(" value=\"")?.split('"').next()?;
            Some((name.to_owned(), unescape(value)))
        })
        .collect()
}

/// An attribute's value as the browser reads it.
fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The secret shown once on the page (a one-time password or a token).
fn shown_secret(page: &Answer) -> String {
    page.body
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .unwrap_or_else(|| panic!("no secret shown: {}", page.body))
        .to_owned()
}

/// An administrator signed in, with the key of their second factor.
fn an_administrator(desk: &Desk) -> (Browser, String) {
    let otp = desk.account("aigerim", Role::Admin, &[]);
    let mut b = desk.browser();
    let key = first_sign_in(desk, &mut b, "aigerim", &otp);
    (b, key)
}

/// An administrator makes an account (a refused login shown beside its field, in the page's
/// language, with the rest of the form kept), sees its one-time password once, disables,
/// enables and resets it; each under their own name.
pub(crate) fn administrators_manage_accounts_and_tokens(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let (mut b, _) = an_administrator(desk);
        let page = b.get("/console/access");
        assert_eq!(page.status, 200);
        let csrf = page.csrf();
        let account = |login: &'static str| {
            [
                ("login", login),
                ("display_name", "Болат Ахметов"),
                ("role", "staff"),
                ("purposes", "education"),
                ("lang", "ru"),
            ]
        };
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(account("Болат"));
        let refused = b.post("/console/access/accounts", &form);
        assert_eq!(refused.status, 422);
        assert!(
            refused.body.contains("aria-invalid=\"true\"")
                && refused.body.contains("Логин 3–64 таңбадан тұруы тиіс")
                && refused.body.contains("value=\"Болат Ахметов\""),
            "{}",
            refused.body
        );
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(account("bolat"));
        let created = b.post("/console/access/accounts", &form);
        assert_eq!(created.status, 200, "{}", created.body);
        let otp = shown_secret(&created);
        assert!(created.body.contains("<code>bolat</code>"));
        assert!(!b.get("/console/access").body.contains(&otp), "shown once");
        let taken = b.post("/console/access/accounts", &form);
        assert_eq!(taken.status, 409);
        assert!(taken.body.contains("басқа тіркелгі пайдаланады"));

        let row = [("csrf", csrf.as_str()), ("login", "bolat")];
        let a = b.post("/console/access/accounts/disable", &row);
        assert_has(&a.body, "«bolat» тіркелгісі өшірілді");
        assert_eq!(desk.browser().sign_in("bolat", &otp).status, 401);
        b.post("/console/access/accounts/enable", &row);
        assert_eq!(desk.browser().sign_in("bolat", &otp).status, 303);
        let reset = b.post("/console/access/accounts/reset", &row);
        let new_otp = shown_secret(&reset);
        assert_eq!(desk.browser().sign_in("bolat", &otp).status, 401);
        assert_eq!(desk.browser().sign_in("bolat", &new_otp).status, 303);
        let own = b.post(
            "/console/access/accounts/disable",
            &[("csrf", csrf.as_str()), ("login", "aigerim")],
        );
        assert_eq!(own.status, 409);
        assert!(own.body.contains("өз тіркелгісін өшіре алмайды"));

        let actions: Vec<String> = desk
            .service(desk.s.store.audit_page(0, 1000))
            .unwrap()
            .into_iter()
            .filter(|e| e.actor == "admin:person:aigerim")
            .map(|e| e.action)
            .filter(|a| !a.starts_with("account.sign_in") && a != "account.password")
            .filter(|a| a != "account.second_factor")
            .collect();
        assert_eq!(
            actions,
            [
                "account.create",
                "account.disable",
                "account.enable",
                "account.reset",
            ]
        );
    })
}

/// An administrator makes a token (a refused lifetime beside its field), sees it once, and
/// revokes it: it stops working at once.
pub(crate) fn administrators_make_and_revoke_tokens(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let (mut b, _) = an_administrator(desk);
        let csrf = b.get("/console/access").csrf();
        let bad_days = b.post(
            "/console/access/tokens",
            &[
                ("csrf", csrf.as_str()),
                ("name", "journal"),
                ("role", "integration"),
                ("purposes", "education"),
                ("expires_in_days", "99999"),
            ],
        );
        assert_eq!(bad_days.status, 422);
        assert_has(&bad_days.body, "1-ден 3660-ға дейінгі");
        let made = b.post(
            "/console/access/tokens",
            &[
                ("csrf", csrf.as_str()),
                ("name", "journal"),
                ("role", "integration"),
                ("purposes", "education"),
                ("expires_in_days", "30"),
            ],
        );
        let token = shown_secret(&made);
        let holder = desk.service(desk.s.state.app.tokens.authenticate(&token));
        assert_eq!(holder.unwrap().role, Role::Integration);
        let tokens = desk.service(
            desk.s
                .state
                .app
                .tokens
                .list_tokens(&Actor::command_line("t")),
        );
        let id = tokens.unwrap().into_iter().find(|t| t.name == "journal");
        let id = id.unwrap().id.to_string();
        let revoked = b.post(
            "/console/access/tokens/revoke",
            &[("csrf", csrf.as_str()), ("id", id.as_str())],
        );
        assert!(revoked.body.contains("«journal» токенінің күші жойылды"));
        assert!(desk
            .service(desk.s.state.app.tokens.authenticate(&token))
            .is_err());
    })
}

/// A form sent after the session ended is not lost: the person signs in again (password and
/// second factor) with the form carried along, and sends it once more; nothing is done before.
pub(crate) fn a_form_sent_after_the_session_ended_is_kept(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let (mut b, key) = an_administrator(desk);
        let csrf = b.get("/console/access").csrf();
        desk.later(31 * 60);
        let form = [
            ("csrf", csrf.as_str()),
            ("login", "dana"),
            ("display_name", "Дана Омарова"),
            ("role", "auditor"),
            ("lang", "kk"),
        ];
        let ended = b.post("/console/access/accounts", &form);
        assert_eq!(ended.status, 401);
        assert_has(&ended.body, "форма сақталды");
        let kept = hidden(&ended);
        assert!(kept.contains(&("keep:display_name".into(), "Дана Омарова".into())));
        assert!(
            kept.iter().all(|(k, _)| k != "keep:csrf"),
            "never the old token"
        );
        let listed = || desk.service(desk.s.state.app.accounts.list(&Actor::command_line("t")));
        assert_eq!(listed().unwrap().len(), 1, "nothing done yet");

        let mut sign_in: Vec<(&str, &str)> =
            vec![("login", "aigerim"), ("password", "Жаз келді, 2026!")];
        sign_in.extend(kept.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let step = b.post("/console/sign-in", &sign_in);
        assert_eq!(step.status, 200, "the next step at once, with the form");
        let secret = derbes_crypto::TotpSecret::from_base32(&key).unwrap();
        desk.later(30);
        let code = secret.code_at(desk.now_unix()).unwrap();
        let carried = hidden(&step);
        let mut second: Vec<(&str, &str)> = vec![("code", &code)];
        second.extend(carried.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let resume = b.post("/console/second-factor", &second);
        assert_eq!(resume.status, 200);
        assert!(unescape(&resume.body).contains("action=\"/console/access/accounts\""));
        assert_eq!(listed().unwrap().len(), 1, "sent again only when asked");

        let again = hidden(&resume);
        let again: Vec<(&str, &str)> = again
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let created = b.post("/console/access/accounts", &again);
        assert_eq!(created.status, 200, "{}", created.body);
        let accounts = listed().unwrap();
        let dana = accounts.iter().find(|a| a.login == "dana").unwrap();
        assert_eq!(
            (dana.display_name.as_str(), dana.role.as_str()),
            ("Дана Омарова", "auditor")
        );
    })
}

/// A signed-in browser for each person's role: admin, DPO, staff (for `education`), auditor.
fn one_of_each_role(desk: &Desk) -> Vec<(Role, Browser, derbes_service::Actor)> {
    let mut people = Vec::new();
    for (login, role, purposes) in [
        ("aigerim", Role::Admin, &[][..]),
        ("aliya", Role::Dpo, &[]),
        ("bolat", Role::Staff, &["education"]),
        ("dana", Role::Auditor, &[]),
    ] {
        let b = desk.person(login, role, purposes);
        let cookie = b.cookies.values().next().cloned().unwrap_or_default();
        let actor = desk
            .service(desk.s.state.app.accounts.session(&cookie))
            .unwrap()
            .actor
            .unwrap();
        people.push((role, b, actor));
    }
    people
}

/// Every console page as every role: the page answers 200 exactly where the service call
/// behind it answers, and 403 with the service's reason where the service refuses.
pub(crate) fn every_page_answers_every_role_as_the_service_does(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let student = desk.service(desk.s.create_student_id(
            &desk.s.admin,
            serde_json::json!({ "surname": "Сәрсенбаева" }),
        ));
        let r = desk.service(desk.s.post(
                    "/api/v1/requests",
                    &desk.s.admin,
                    serde_json::json!({ "kind": "information", "subject_id": student, "channel": "paper", "language": "ru" }),
                ));
        let request: uuid::Uuid = r.body["id"].as_str().unwrap().parse().unwrap();
        let app = &desk.s.state.app;
        let allowed = |r: Result<(), derbes_service::VaultError>| match r {
            Ok(()) => 200,
            Err(derbes_service::VaultError::Forbidden(_)) => 403,
            Err(e) => panic!("{e}"),
        };
        for (role, mut b, actor) in one_of_each_role(desk) {
            let service = |page: &str| -> u16 {
                match page {
                    "/console/audit" => allowed(app.vault.audit_status_for(&actor).map(|_| ())),
                    "/console/access" => {
                        allowed(desk.service(app.accounts.list(&actor)).map(|_| ()))
                    }
                    "/console/reconfirmations" => allowed(
                        desk.service(app.consents.reconfirmations_due(&actor, 0, 1))
                            .map(|_| ()),
                    ),
                    "/console/requests" => allowed(
                        desk.service(
                            app.requests
                                .requests(&actor, derbes_service::RequestFilter::default()),
                        )
                        .map(|_| ()),
                    ),
                    p if p.ends_with("/answer") => allowed(
                        desk.service(app.requests.answer_preview(&actor, request))
                            .map(|_| ()),
                    ),
                    p if p.starts_with("/console/requests/0") => allowed(
                        desk.service(app.requests.request(&actor, request))
                            .map(|_| ()),
                    ),
                    // Pages every signed-in person has: what they show is the service's.
                    _ => 200,
                }
            };
            for page in [
                "/console".to_owned(),
                "/console/account".to_owned(),
                "/console/subjects".to_owned(),
                format!("/console/subjects/{student}"),
                "/console/subjects/new?category=student".to_owned(),
                "/console/requests".to_owned(),
                "/console/requests/new".to_owned(),
                format!("/console/requests/{request}"),
                format!("/console/requests/{request}/answer"),
                "/console/policy".to_owned(),
                "/console/audit".to_owned(),
                "/console/access".to_owned(),
                "/console/reconfirmations".to_owned(),
            ] {
                let got = b.get(&page);
                let want = service(page.split('?').next().unwrap());
                assert_eq!(got.status, want, "{role} on {page}: {}", got.body);
                if want == 403 {
                    assert!(
                        got.body.contains("may not do this"),
                        "{role} on {page}: the service's reason"
                    );
                }
            }
        }
    })
}

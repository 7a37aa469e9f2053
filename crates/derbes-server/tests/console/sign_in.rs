//! Signing in step by step, sessions that end, and forms that carry their token.

use super::*;

/// A DPO's first sign-in: the one-time password leads to choosing one's own (refused beside
/// the field when weak, in the page's language), then to enrolling a second factor (a wrong
/// code refused), then in; each step renews the session cookie, which is HttpOnly, SameSite
/// Strict and Secure, and every page forbids scripts and frames from elsewhere.
pub(crate) fn a_first_sign_in_sets_a_password_and_a_second_factor(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
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
        assert_has(&weak.body, "кемінде 12 таңба");
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
        assert_has(&wrong.body, "Код қате");
        let a = b.post(
            "/console/enrol",
            &[
                ("csrf", &enrol.csrf()),
                ("code", &code_of(&enrol, desk.now_unix())),
            ],
        );
        assert_eq!((a.status, a.location.as_str()), (303, "/console"));
        let home = b.get("/console/account");
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
}

/// The second factor is asked at every sign-in and its code counts once; wrong passwords pause
/// the account from the fifth, with the same answer as for a login that does not exist.
pub(crate) fn codes_count_once_and_failures_pause_the_account(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let otp = desk.account("aliya", Role::Dpo, &[]);
        let mut b = desk.browser();
        let (key, enrolled_at) = first_sign_in_at(desk, &mut b, "aliya", &otp);
        let secret = derbes_crypto::TotpSecret::from_base32(&key).unwrap();

        // The enrolment's code was used: the next sign-in needs the next one. (The
        // code is the enrolment's own, even when a 30-second step has passed since.)
        let mut b = desk.browser();
        let a = b.sign_in("aliya", "Жаз келді, 2026!");
        assert_eq!(a.location, "/console/second-factor");
        let page = b.get("/console/second-factor");
        let used = secret.code_at(enrolled_at).unwrap();
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
}

/// A session ends at sign-out (its cookie, replayed from another browser, leads back to
/// sign-in), after 30 minutes idle, and when an administrator disables the account.
pub(crate) fn sessions_end_at_sign_out_when_idle_and_when_disabled(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
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
        let home = b.get("/console/account");
        assert_eq!(home.status, 200);
        // Purposes by their declared label, times in words and the operator's local time.
        assert_has(&home.body, "Білім беру процесін қамтамасыз ету");
        let local = time::OffsetDateTime::now_utc().to_offset(time::macros::offset!(+5));
        let year = local.year().to_string();
        assert_has(&home.body, &format!("{year} жылғы"));
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
        assert_has(&notice.body, "Сессия аяқталды");

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
}

/// A form without its session's token, or posted from another site, is refused and does
/// nothing; a staff member opening the access page is shown the service's reason.
pub(crate) fn forms_need_their_token_and_pages_show_the_services_reasons(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
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
}

/// One address may try ten sign-ins in a burst, then one every six seconds: the eleventh at
/// once is answered 429 with when to try again, before any password is checked.
pub(crate) fn sign_ins_from_one_address_are_limited(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let mut b = desk.browser();
        for _ in 0..10 {
            assert_eq!(b.sign_in("nobody", "Жаз келді, 2026!").status, 401);
        }
        let limited = b.sign_in("nobody", "Жаз келді, 2026!");
        assert_eq!(limited.status, 429);
        let wait: u64 = limited.header("retry-after")[0].parse().unwrap();
        assert!((1..=6).contains(&wait), "{wait}");
        assert_has(&limited.body, "Too many sign-in attempts");
        assert_eq!(
            b.get("/console/sign-in").status,
            200,
            "the page itself is not limited"
        );
    })
}

//! The Today page: the legal clocks first, each part as the person's role may see it.

use super::*;
use derbes_core::identifiers::Sex;
use serde_json::json;

/// A paper request of `kind` about `subject`, received `days_ago` days ago, filed through the
/// API: its id and the last day of its term's end (`due.due_at`).
fn a_paper_request(desk: &Desk, subject: &str, kind: &str, days_ago: i64) -> (String, String) {
    let received = time::OffsetDateTime::now_utc() - time::Duration::days(days_ago);
    let received = received
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let r = desk.service(desk.s.post(
        "/api/v1/requests",
        &desk.s.admin,
        json!({ "kind": kind, "subject_id": subject, "channel": "paper", "language": "ru",
                "received_at": received }),
    ));
    assert_eq!(r.status, 201, "{}", r.body);
    (
        r.body["id"].as_str().unwrap().to_owned(),
        r.body["due"]["due_at"].as_str().unwrap().to_owned(),
    )
}

/// A DPO's Today lists the overdue request, the one due today (with the calendar's
/// explanation) and the one awaiting approval, each linking to the request, never naming the
/// requester; the audit chain's state is shown. Staff see the requests of their purposes and
/// no audit part; an auditor sees the requests and the audit chain.
pub(crate) fn today_shows_the_legal_clocks_first(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let student = desk.service(desk.s.create_student_id(
            &desk.s.admin,
            json!({ "surname": "Сәрсенбаева", "given_name": "Дана" }),
        ));
        let (late, _) = a_paper_request(desk, &student, "information", 60);
        let (approval, _) = a_paper_request(desk, &student, "access_export", 0);
        let r = desk.service(desk.s.post(
            &format!("/api/v1/requests/{approval}/verification/document"),
            &desk.s.admin,
            json!({ "document": "id_card", "note": "Жеке куәлік тексерілді" }),
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        let r = desk.service(desk.s.post(
            &format!("/api/v1/requests/{approval}/steps"),
            &desk.s.admin,
            json!({ "step": "submit" }),
        ));
        assert_eq!(r.body["status"], "awaiting_approval", "{}", r.body);
        let (today, due_at) = a_paper_request(desk, &student, "blocking", 0);
        // The morning of its last day.
        let due_at =
            time::OffsetDateTime::parse(&due_at, &time::format_description::well_known::Rfc3339)
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        desk.later((due_at - now).whole_seconds() - 6 * 3600);

        let mut b = desk.person("aliya", Role::Dpo, &[]);
        let page = b.get("/console?lang=ru");
        assert_eq!(page.status, 200, "{}", page.body);
        let part = |id: &str| {
            page.body
                .split(&format!("<section aria-labelledby=\"{id}-heading\""))
                .nth(1)
                .map(|s| s.split("</section>").next().unwrap().to_owned())
                .unwrap_or_default()
        };
        let link = |id: &str| format!("/console/requests/{id}");
        assert!(part("overdue").contains(&link(&late)), "{}", page.body);
        assert!(part("overdue").contains("просрочен"));
        assert!(part("due_today").contains(&link(&today)));
        assert!(
            part("due_today").contains("последний день срока"),
            "the calendar's explanation"
        );
        assert!(
            !part("due_today").contains(&link(&late)),
            "overdue is not due today"
        );
        assert!(part("awaiting_approval").contains(&link(&approval)));
        assert!(part("audit").contains("Состояние цепочки событий"));
        assert!(!page.body.contains("Сәрсенбаева"), "no requester's name");

        let mut staff = desk.person("bolat", Role::Staff, &["personnel"]);
        let page = staff.get("/console?lang=ru");
        assert_eq!(page.status, 200);
        assert!(
            !page.body.contains("/console/requests/"),
            "not their purposes"
        );
        assert!(
            !page.body.contains("Журнал аудита"),
            "no audit part for staff"
        );
    })
}

/// The Audit page: the chain verified on demand, events filtered by action (never a value),
/// a page of them exported with their hashes; staff are refused with the service's reason.
pub(crate) fn the_audit_is_verified_browsed_and_exported(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        desk.service(desk.s.create_student_id(
            &desk.s.admin,
            json!({ "surname": "Сәрсенбаева", "iin": "061211600012" }),
        ));
        let mut dpo = desk.person("aliya", Role::Dpo, &[]);
        let page = dpo.get("/console/audit?action=account.&lang=en");
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("account.sign_in") && !page.body.contains("subject.create"));
        assert!(!page.body.contains("Сәрсенбаева") && !page.body.contains("061211600012"));
        let verified = dpo.post("/console/audit/verify", &[("csrf", &page.csrf())]);
        assert_has(&verified.body, "The chain is intact");
        let export = dpo.get("/console/audit/export?action=subject.");
        assert_eq!(
            export.header("content-type"),
            ["application/x-ndjson; charset=utf-8"]
        );
        let lines: Vec<serde_json::Value> = export
            .body
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{}", export.body);
        assert_eq!(lines[0]["action"], "subject.create");
        assert_eq!(lines[0]["hash"].as_str().unwrap().len(), 64);

        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        let refused = staff.get("/console/audit?lang=en");
        assert_eq!(refused.status, 403);
        assert!(refused.body.contains("a `staff` account may not do this"));
    })
}

/// The Policy page: the recorded versions with their documents in the console's language,
/// the change report, and the consent impact counted for the DPO only.
pub(crate) fn the_policy_shows_versions_documents_and_the_consent_impact(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        // As `derbes serve` does at start.
        desk.service(desk.s.state.app.vault.record_declaration(DEMO.to_owned()))
            .unwrap();
        let mut dpo = desk.person("aliya", Role::Dpo, &[]);
        let page = dpo.get("/console/policy?lang=ru&count=1");
        assert_eq!(page.status, 200, "{}", page.body);
        let version = desk.s.state.app.vault.declaration().version.clone();
        let link = format!("/console/policy/{version}/consent-forms");
        assert!(
            page.body.contains(&link) && page.body.contains("действует"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("Влияние на согласия"),
            "counted for the DPO"
        );
        let doc = dpo.get(&link);
        assert_eq!(doc.status, 200);
        assert!(
            doc.body.contains("<article class=\"document\">")
                && doc.body.contains("Шокана Уалиханова"),
            "{}",
            doc.body
        );
        assert_eq!(dpo.get("/console/policy/0.0.0-none/policy").status, 404);

        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        let page = staff.get("/console/policy?lang=ru&count=1");
        assert_eq!(page.status, 200);
        assert!(
            !page.body.contains("<h3>Влияние на согласия</h3>")
                && page.body.contains("видят только")
        );
    })
}

/// A parent's consent for a daughter who comes of age in 75 days: not on Today two months before
/// her month of majority, then listed (by id and month, never by name) for the DPO and for staff of the
/// purpose, not for others; her own consent, once of age, ends the duty.
pub(crate) fn consents_to_confirm_at_majority_are_on_today(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let s = &desk.s;
        let turns = time::OffsetDateTime::now_utc().date() + time::Duration::days(75);
        let birth = turns.replace_year(turns.year() - 18).unwrap_or_else(|_| {
            turns
                .replace_day(28)
                .unwrap()
                .replace_year(turns.year() - 18)
                .unwrap()
        });
        let child = desk.service(s.create_student_id(
            &s.admin,
            json!({ "surname": "Сәрсенбаева", "iin": iin_born(birth, Sex::Female) }),
        ));
        let parent = desk.service(s.a_representative(json!({ "surname": "Сәрсенбаев",
                    "iin": iin_born(time::macros::date!(1980 - 05 - 04), Sex::Male) })));
        assert_eq!(desk.service(s.link_parent(&child, &parent)).status, 201);
        let consents = format!("/api/v1/subjects/{child}/consents");
        let paper = json!({ "kind": "paper", "evidence_sha256": "5e".repeat(32) });
        let r = desk.service(s.post(
            &consents,
            &s.admin,
            json!({ "purpose": "extracurricular",
                    "action": "give", "representative_id": parent, "method": paper }),
        ));
        assert_eq!(r.status, 201, "{}", r.body);

        let link = format!("/console/subjects/{child}\"");
        let part = |b: &mut Browser| {
            let page = b.get("/console?lang=ru");
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(!page.body.contains("Сәрсенбаева"), "never a name");
            page.body
                .split("<section aria-labelledby=\"reconfirm-heading\"")
                .nth(1)
                .map(|s| s.split("</section>").next().unwrap().to_owned())
        };
        let before = part(&mut desk.person("aliya", Role::Dpo, &[])).unwrap();
        assert!(
            before.contains("Согласий, требующих подтверждения, нет"),
            "not before her month: {before}"
        );

        // Eighty days on (sessions of before have ended): she is of age.
        desk.later(80 * 86_400);
        let mut dpo = desk.person("timur", Role::Dpo, &[]);
        let due = part(&mut dpo).unwrap();
        assert!(due.contains(&link), "{due}");
        let month = derbes_core::text::format_month(turns, derbes_core::text::Lang::Ru);
        assert!(due.contains(&month), "the month of majority: {due}");
        // The whole list, a page at a time.
        let list = dpo.get("/console/reconfirmations?lang=ru");
        assert_eq!(list.status, 200, "{}", list.body);
        assert!(
            list.body.contains(&link) && list.body.contains("Показаны согласия с 1 по 1 из 1."),
            "{}",
            list.body
        );
        let past = dpo.get("/console/reconfirmations?page=2");
        assert_eq!(
            past.location, "/console/reconfirmations",
            "past the end: the first page"
        );
        let mut staff = desk.person("bolat", Role::Staff, &["extracurricular"]);
        assert!(part(&mut staff).unwrap().contains(&link));
        let mut other = desk.person("dana", Role::Staff, &["personnel"]);
        assert!(
            !part(&mut other).unwrap().contains(&link),
            "not their purpose"
        );
        let mut auditor = desk.person("erlan", Role::Auditor, &[]);
        assert!(part(&mut auditor).is_none(), "auditors have no such duty");

        // Of age now, she consents in her own name: the duty ends.
        let r = desk.service(s.post(
            &consents,
            &s.admin,
            json!({ "purpose": "extracurricular",
                    "action": "give", "method": paper }),
        ));
        assert_eq!(r.status, 201, "{}", r.body);
        let after = part(&mut dpo).unwrap();
        assert!(!after.contains(&link), "{after}");
    })
}

/// Before the first scan, Today says it has not run; after the daily job's scan, a DPO sees the
/// rule of the student file with its expired fields and subjects, in the page's language; staff
/// see no retention part.
pub(crate) fn the_last_retention_scan_is_on_today(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        a_student_left(desk);
        let mut dpo = desk.person("aliya", Role::Dpo, &[]);
        let page = dpo.get("/console?lang=ru");
        assert_has(&page.body, "Сроки хранения ещё не проверялись");
        three_years_later_scanned(desk);
        // Three years on, the morning's session is long over: the DPO signs in again.
        let mut dpo = desk.person("dana", Role::Dpo, &[]);
        let page = dpo.get("/console?lang=ru");
        let part = page
            .body
            .split("<section aria-labelledby=\"retention-heading\"")
            .nth(1)
            .and_then(|p| p.split("</section>").next())
            .unwrap_or_default()
            .to_owned();
        assert!(part.contains("Последняя проверка"), "{part}");
        assert!(part.contains("уничтожаются"), "{part}");
        assert!(part.contains("субъектов: 1, полей: 1"), "{part}");
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        let page = staff.get("/console?lang=ru");
        assert!(!page.body.contains("retention-heading"), "{}", page.body);
    })
}

/// Three years after a student left, the DPO proposes the student file's batch from the
/// retention page, approves it, and a second person (four eyes) approves it too; the job
/// executes it and the page shows what was destroyed. A second approval by the same person is
/// refused in the page's language; staff may not open the page.
pub(crate) fn a_batch_is_proposed_and_approved_from_the_retention_page(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let s = &desk.s;
        a_student_left(desk);
        three_years_later_scanned(desk);
        let mut dpo = desk.person("dana", Role::Dpo, &[]);
        let page = dpo.get("/console/retention?lang=ru");
        assert_eq!(page.status, 200, "{}", page.body);
        assert_has(&page.body, "Пакеты ещё не предлагались.");
        let csrf = page.csrf();
        let proposed = dpo.post(
            "/console/retention/batches",
            &[("csrf", csrf.as_str()), ("rule", "student_records")],
        );
        assert_eq!(proposed.status, 303, "{}", proposed.body);
        let page = dpo.get("/console/retention?proposed=1");
        assert_has(&page.body, "Пакет предложен");
        assert_has(&page.body, "ожидает утверждения");
        let batch = batch_to_approve(&page);
        let approve = format!("/console/retention/batches/{batch}/approve");
        let r = dpo.post(&approve, &[("csrf", csrf.as_str())]);
        assert_eq!(r.status, 303, "{}", r.body);
        let r = dpo.post(&approve, &[("csrf", csrf.as_str())]);
        assert_eq!(r.status, 409, "{}", r.body);
        assert_has(&r.body, "Вы уже утвердили этот пакет");
        let mut admin = desk.person("marat", Role::Admin, &[]);
        let page = admin.get("/console/retention?lang=kk");
        let r = admin.post(&approve, &[("csrf", page.csrf().as_str())]);
        assert_eq!(r.status, 303, "{}", r.body);
        assert_eq!(batches_run(desk), 1);
        let page = admin.get("/console/retention?lang=kk");
        assert_has(&page.body, "орындалды");
        assert_has(&page.body, "Жойылды: 1 субъектінің 1 өрісі");
        // The executed batch's act, to print for the commission and to download signed.
        let year = desk.service(async { s.state.app.vault.today() }).year();
        assert_has(&page.body, &format!("Жою туралы акт № {year}-1"));
        let act = format!("/console/retention/batches/{batch}/act");
        let page = admin.get(&format!("{act}?lang=ru"));
        assert_eq!(page.status, 200, "{}", page.body);
        assert_has(
            &page.body,
            &format!("Акт об уничтожении персональных данных № {year}-1"),
        );
        assert_has(&page.body, "Председатель комиссии: ");
        let signed = admin.get(&format!("{act}?format=json"));
        assert_eq!(signed.status, 200);
        assert_has(&signed.body, "\"signature\"");
        let missing = admin.get("/console/retention/batches/not-a-batch/act");
        assert_eq!(missing.status, 404, "{}", missing.body);
        assert_has(&missing.body, "Такого пакета нет.");
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        assert_eq!(staff.get("/console/retention").status, 403);
        assert_eq!(staff.get(&act).status, 403);
    })
}

/// Six visitors' data depersonalized once the analytics period ended: the retention page links
/// the DPO to the records for statistics; the release page says what is released and what is
/// held back (the one visitor with another browser), in the page's language; the CSV holds the
/// five alike. A rule that keeps no such records is refused beside the page; staff may not look.
pub(crate) fn depersonalized_records_are_released_from_the_retention_page(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let s = &desk.s;
        desk.service(s.six_visitors());
        desk.later(500 * 86_400);
        let mut dpo = desk.person("dana", Role::Dpo, &[]);
        let csrf = dpo.get("/console/retention").csrf();
        let form = [("csrf", csrf.as_str()), ("rule", "analytics_data")];
        let r = dpo.post("/console/retention/batches", &form);
        assert_eq!(r.status, 303, "{}", r.body);
        let mut admin = desk.person("marat", Role::Admin, &[]);
        for person in [&mut dpo, &mut admin] {
            let page = person.get("/console/retention");
            let approve = format!(
                "/console/retention/batches/{}/approve",
                batch_to_approve(&page)
            );
            let r = person.post(&approve, &[("csrf", page.csrf().as_str())]);
            assert_eq!(r.status, 303, "{}", r.body);
        }
        assert_eq!(batches_run(desk), 1);
        let page = dpo.get("/console/retention?lang=ru");
        let link = "/console/retention/depersonalized/analytics_data";
        assert_has(&page.body, link);
        assert_has(&page.body, "Записи для статистики");
        let page = dpo.get(&format!("{link}?lang=ru"));
        assert_eq!(page.status, 200, "{}", page.body);
        assert_has(
            &page.body,
            "Выдаётся записей: 5 (групп: 1). Не выдаётся групп: 1 (записей: 1).",
        );
        let csv = dpo.get(&format!("{link}?format=csv"));
        assert_eq!(csv.status, 200, "{}", csv.body);
        assert_eq!(csv.header("content-type"), ["text/csv; charset=utf-8"]);
        let lines: Vec<&str> = csv.body.lines().collect();
        assert_eq!(lines.len(), 6, "{}", csv.body);
        assert_eq!(lines[0], "category,access_time,browser");
        assert!(
            lines[1..].iter().all(|l| l.ends_with(",Firefox 128")),
            "{}",
            csv.body
        );
        let none = dpo.get("/console/retention/depersonalized/student_records?lang=kk");
        assert_eq!(none.status, 404, "{}", none.body);
        assert_has(
            &none.body,
            "Мұндай ереже иесіздендірілген жазбаларды сақтамайды",
        );
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        assert_eq!(staff.get(link).status, 403);
    })
}

/// The batch the retention page's first approval form is for.
fn batch_to_approve(page: &Answer) -> String {
    let rest = page
        .body
        .split("action=\"/console/retention/batches/")
        .nth(1);
    rest.and_then(|r| r.split('/').next()).unwrap().to_owned()
}

/// The approved batches executed by the job: how many.
fn batches_run(desk: &Desk) -> usize {
    let run = derbes_service::Actor::job("retention-run");
    let ran = desk.service(desk.s.state.app.retention.run_batches(&run));
    ran.unwrap().len()
}

/// A student with grades who left today.
fn a_student_left(desk: &Desk) {
    let s = &desk.s;
    let student = desk
        .service(s.create_student_id(&s.admin, json!({ "surname": "Сәрсенбаева", "grades": "5" })));
    let today = desk.service(async { s.state.app.vault.today() });
    let r = desk.service(s.post(
        &format!("/api/v1/subjects/{student}/lifecycle"),
        &s.admin,
        json!({ "kind": "relationship_ended", "reason": "окончила школу", "on": today.to_string() }),
    ));
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Three years later, after the daily scan.
fn three_years_later_scanned(desk: &Desk) {
    desk.later(1100 * 86_400);
    let job = derbes_service::Actor::job("retention-scan");
    desk.service(desk.s.state.app.retention.keep_scan(&job))
        .unwrap();
}

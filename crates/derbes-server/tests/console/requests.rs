//! The requests pages: a paper request filed and handled from intake to the sent answer, each
//! step by the person whose role may take it, and the service's reasons for the others.

use super::*;
use serde_json::json;

/// A signed-in browser's step on a request: the form posted from the request's page.
fn step(b: &mut Browser, id: &str, form: &[(&str, &str)]) -> Answer {
    let csrf = b.get(&format!("/console/requests/{id}")).csrf();
    let mut fields = vec![("csrf", csrf.as_str())];
    fields.extend_from_slice(form);
    let path = match form.first() {
        Some(("document", _)) => format!("/console/requests/{id}/verification/document"),
        _ => format!("/console/requests/{id}/steps"),
    };
    b.post(&path, &fields)
}

/// Files a paper request of `kind` for `student` from the form the subject's file links to;
/// its id.
fn file(b: &mut Browser, student: &str, kind: &str) -> String {
    let form = b.get(&format!("/console/requests/new?subject={student}"));
    assert!(form.body.contains(student), "the subject's id filled in");
    assert!(
        form.body
            .contains(&format!("new?subject={student}&amp;lang=ru")),
        "a language link keeps it"
    );
    let a = b.post(
        "/console/requests",
        &[
            ("csrf", &form.csrf()),
            ("subject_id", student),
            ("kind", kind),
            ("channel", "paper"),
            ("language", "ru"),
            ("received_at", ""),
        ],
    );
    assert_eq!(a.status, 303, "{}", a.body);
    let id = a.location.split('/').nth(3).unwrap().split('?').next();
    let page = b.get(&a.location);
    assert_has(&page.body, "class=\"notice\"");
    id.unwrap().to_owned()
}

/// Staff file a paper request for access and a destruction request through the console,
/// check the requester's document and submit them; staff cannot approve (the service's reason
/// is shown) and neither can whoever submitted (four eyes); the DPO approves, reads the answer
/// letter in the requester's language, sends it and completes the request; the access package
/// downloads; the destruction destroys.
pub(crate) fn a_request_from_paper_to_the_sent_answer(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let student = desk.service(desk.s.create_student_id(
            &desk.s.admin,
            json!({ "surname": "Сәрсенбаева", "given_name": "Дана", "email": "dana@mail.kz" }),
        ));
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        let mut dpo = desk.person("aliya", Role::Dpo, &[]);

        // A refused filing keeps the form, with the reason beside the field.
        let form = staff.get("/console/requests/new");
        let refused = staff.post(
            "/console/requests",
            &[
                ("csrf", &form.csrf()),
                ("subject_id", "not-an-id"),
                ("kind", "access_export"),
                ("channel", "paper"),
                ("language", "ru"),
                ("details", "Көшірме беріңіз"),
            ],
        );
        assert_eq!(refused.status, 422);
        assert!(refused.body.contains("UUID") && refused.body.contains("Көшірме беріңіз"));

        let access = file(&mut staff, &student, "access_export");
        let a = step(
            &mut staff,
            &access,
            &[("document", "id_card"), ("note", "Жеке куәлік")],
        );
        assert!(a.location.ends_with("?done=verified"), "{}", a.body);
        assert!(step(&mut staff, &access, &[("step", "submit")])
            .location
            .ends_with("?done=submit"));
        let refused = step(&mut staff, &access, &[("step", "approve")]);
        assert_eq!(refused.status, 403);
        assert_has(&refused.body, "a `staff` account may not do this");

        let a = step(&mut dpo, &access, &[("step", "approve")]);
        assert!(a.location.ends_with("?done=approve"), "{}", a.body);
        // Posted twice (a double click): done once, answered as the first time.
        let again = step(&mut dpo, &access, &[("step", "approve")]);
        assert!(again.location.ends_with("?done=approve"), "{}", again.body);
        let r = desk.service(
            desk.s
                .get(&format!("/api/v1/requests/{access}"), &desk.s.admin),
        );
        let approvals = count_where(&r.body["history"], "step", "approve");
        assert_eq!(approvals, 1, "{}", r.body);
        assert_eq!(dpo.get("/console/requests/not-an-id").status, 404);
        let unknown = format!("/console/requests/{}", uuid::Uuid::now_v7());
        assert_eq!(dpo.get(&unknown).status, 404);
        let letter = dpo.get(&format!("/console/requests/{access}/answer"));
        assert_eq!(letter.status, 200);
        assert!(
            letter.body.contains("lang=\"ru\"") && letter.body.contains("d***@m***.kz"),
            "{}",
            letter.body
        );
        let package = dpo.get(&format!("/console/requests/{access}/package"));
        assert_eq!(
            (package.status, package.header("content-type")),
            (200, vec!["application/zip"])
        );
        assert!(
            step(&mut dpo, &access, &[("step", "send_answer"), ("text", "")])
                .location
                .ends_with("?done=send_answer")
        );
        assert!(step(&mut dpo, &access, &[("step", "complete")])
            .location
            .ends_with("?done=complete"));
        let page = dpo.get(&format!("/console/requests/{access}?lang=ru"));
        assert!(
            page.body.contains("выполнен") && page.body.contains("ответ отправлен"),
            "{}",
            page.body
        );
        let (to, _) = last_mail(&desk.s.outbox);
        assert_eq!(
            to, "dana@mail.kz",
            "the answer went to the requester's e-mail"
        );

        // Destruction: filed by the DPO, so another person approves (four eyes).
        let destroy = file(&mut dpo, &student, "destruction");
        step(
            &mut dpo,
            &destroy,
            &[("document", "passport"), ("note", "")],
        );
        step(&mut dpo, &destroy, &[("step", "submit")]);
        let same = step(&mut dpo, &destroy, &[("step", "approve")]);
        assert_eq!(same.status, 422, "{}", same.body);
        assert_has(
            &same.body,
            "утвердить его должен другой ответственный или администратор",
        );
        let mut admin = desk.person("aigerim", Role::Admin, &[]);
        let a = step(&mut admin, &destroy, &[("step", "approve")]);
        assert!(a.location.ends_with("?done=approve"), "{}", a.body);
        // The answer still reaches the requester: her address was kept, sealed, at approval.
        let sent = step(&mut dpo, &destroy, &[("step", "send_answer"), ("text", "")]);
        assert!(
            sent.location.ends_with("?done=send_answer"),
            "{}",
            sent.body
        );
        assert!(step(&mut dpo, &destroy, &[("step", "complete")])
            .location
            .ends_with("?done=complete"));
        let r = desk.service(desk.s.get(
            &format!("/api/v1/subjects/{student}/destruction"),
            &desk.s.admin,
        ));
        assert_eq!(r.status, 200, "destroyed: {}", r.body);
    })
}

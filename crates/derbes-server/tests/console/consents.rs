//! Consents at the console: recorded from the subject's file (the law's refusals explained in
//! the page's language beside the form, the form kept), and a consent's receipt printed or
//! downloaded signed.

use super::*;
use derbes_core::identifiers::Sex;
use serde_json::json;

/// A girl of 14 and her father, linked with the birth certificate: their ids.
fn a_family(desk: &Desk) -> (String, String) {
    let s = &desk.s;
    let child = desk.service(s.create_student_id(
        &s.admin,
        json!({ "surname": "Сәрсенбаева", "iin": iin_born(time::macros::date!(2012 - 03 - 15), Sex::Female) }),
    ));
    let parent = desk.service(s.a_representative(json!({ "surname": "Сәрсенбаев",
        "iin": iin_born(time::macros::date!(1980 - 05 - 04), Sex::Male) })));
    assert_eq!(desk.service(s.link_parent(&child, &parent)).status, 201);
    (child, parent)
}

/// Staff record a father's paper consent for his daughter: her own consent is refused with the
/// law's reason in Russian, a malformed scan digest beside its field with the form kept; then
/// the consent holds, its receipt prints and downloads signed (it verifies against the
/// published key), and the father withdraws it. An auditor gets no receipt.
pub(crate) fn consents_are_recorded_and_their_receipts_printed(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let (child, parent) = a_family(desk);
        let file = format!("/console/subjects/{child}");
        let mut staff = desk.person("bolat", Role::Staff, &["extracurricular"]);
        let page = staff.get(&format!("{file}?lang=ru"));
        assert!(page
            .body
            .contains("Зарегистрировать, продлить или отозвать согласие"));
        let csrf = page.csrf();
        let scan = "5e".repeat(32);
        let form = |by: &str, action: &str, sha: &str| {
            vec![
                ("csrf", csrf.clone()),
                ("purpose", "extracurricular".to_owned()),
                ("action", action.to_owned()),
                ("given_by", by.to_owned()),
                ("method", "paper".to_owned()),
                ("consent_sha256", sha.to_owned()),
                (
                    "back_purpose",
                    "education&lang=en\r\nX-Injected: 1".to_owned(),
                ),
            ]
        };
        let post = |b: &mut Browser, f: Vec<(&str, String)>| {
            let f: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
            b.post(&format!("{file}/consents"), &f)
        };

        let alone = post(&mut staff, form("subject", "give", &scan));
        assert_eq!(alone.status, 422);
        assert!(
            alone
                .body
                .contains("Субъекту 14 лет, это меньше возраста совершеннолетия (18)"),
            "{}",
            alone.body
        );
        let malformed = post(&mut staff, form(&parent, "give", "abc"));
        assert_eq!(malformed.status, 422);
        assert!(malformed.body.contains("id=\"consent_sha256-error\""));
        assert!(malformed
            .body
            .contains("Должно быть значением SHA-256 файла"));
        assert!(
            malformed
                .body
                .contains(&format!("value=\"{parent}\" selected")),
            "the form is kept"
        );

        let given = post(&mut staff, form(&parent, "give", &scan));
        assert_eq!(given.status, 303, "{}", given.body);
        assert_eq!(
            given.location,
            format!("{file}?purpose=&consent=1"),
            "only a declared purpose goes back into the address"
        );
        let page = staff.get(&given.location);
        assert!(page.body.contains("Запись о согласии внесена."));
        let receipt = page
            .body
            .split(&format!("{file}/consents/"))
            .nth(1)
            .and_then(|s| s.split("/receipt").next())
            .expect("a link to the holding consent's receipt")
            .to_owned();
        let printed = staff.get(&format!("{file}/consents/{receipt}/receipt"));
        assert_eq!(printed.status, 200, "{}", printed.body);
        assert!(printed.body.contains("<article class=\"letter\">"));
        let signed = staff.get(&format!("{file}/consents/{receipt}/receipt?format=json"));
        assert_eq!(signed.header("content-type"), ["application/json"]);
        let keys = derbes_service::keys_from_set(&derbes_service::published_keys(
            &desk.s.state.app.vault.keys(),
        ))
        .unwrap();
        let checked = derbes_service::verify_receipt(&signed.body, &keys).unwrap();
        assert_eq!(checked.receipt.pii_principal_id.to_string(), child);

        let withdrawn = post(&mut staff, form(&parent, "withdraw", &scan));
        assert_eq!(withdrawn.status, 303, "{}", withdrawn.body);
        let page = staff.get(&format!("{file}?lang=ru"));
        assert_has(&page.body, "отозвано");

        let mut auditor = desk.person("erlan", Role::Auditor, &[]);
        let refused = auditor.get(&format!("{file}/consents/{receipt}/receipt"));
        assert_eq!(refused.status, 403);
    })
}

/// Staff link a father by his IIN (an IIN no one has refused beside the field, in Russian),
/// record the daughter's excursion as an obligation, which holds the father's withdrawal back
/// with the law's reason until it is marked fulfilled, and unlink him.
pub(crate) fn representatives_and_obligations_from_the_file(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let s = &desk.s;
        let child = desk.service(s.create_student_id(
                    &s.admin,
                    json!({ "surname": "Сәрсенбаева", "iin": iin_born(time::macros::date!(2012 - 03 - 15), Sex::Female) }),
                ));
        let father_iin = iin_born(time::macros::date!(1980 - 05 - 04), Sex::Male);
        let parent =
            desk.service(s.a_representative(json!({ "surname": "Сәрсенбаев", "iin": father_iin })));
        let file = format!("/console/subjects/{child}");
        let mut staff = desk.person("bolat", Role::Staff, &["extracurricular"]);
        let csrf = staff.get(&format!("{file}?lang=ru")).csrf();
        let mut post = |path: &str, form: &[(&str, &str)]| {
            let mut f = vec![("csrf", csrf.as_str())];
            f.extend_from_slice(form);
            staff.post(&format!("{file}{path}"), &f)
        };
        let nobody = iin_born(time::macros::date!(1979 - 01 - 02), Sex::Male);
        let sha = "b1".repeat(32);
        let link = |who| {
            [
                ("representative", who),
                ("relation", "parent"),
                ("document", "birth_certificate"),
                ("document_sha256", sha.as_str()),
            ]
        };
        let refused = post("/representatives", &link(nobody.as_str()));
        assert_eq!(refused.status, 422);
        assert!(
            refused.body.contains("id=\"representative-error\"")
                && refused
                    .body
                    .contains("Субъекта с таким ИИН или идентификатором нет"),
            "{}",
            refused.body
        );
        let linked = post("/representatives", &link(father_iin.as_str()));
        assert_eq!(linked.status, 303, "{}", linked.body);
        assert_eq!(linked.location, format!("{file}?purpose=&linked=1"));

        // Nothing to fulfil yet, and a last day gone by: each said beside the form,
        // what was typed kept.
        let none = post(
            "/obligations",
            &[("purpose", "extracurricular"), ("change", "fulfil")],
        );
        assert_eq!(none.status, 422);
        assert_has(&none.body, "По этой цели нет действующего обязательства");
        let note = ("obligation_note", "экскурсия 12 желтоқсан");
        let past = post(
            "/obligations",
            &[
                ("purpose", "extracurricular"),
                ("change", "set"),
                note,
                ("obligation_until", "2020-01-01"),
            ],
        );
        assert_eq!(past.status, 422);
        assert!(
            past.body.contains("id=\"obligation_until-error\"")
                && past.body.contains("value=\"экскурсия 12 желтоқсан\""),
            "{}",
            past.body
        );
        let set = post(
            "/obligations",
            &[("purpose", "extracurricular"), ("change", "set"), note],
        );
        assert_eq!(set.status, 303, "{}", set.body);
        let consent = |action: &'static str| {
            [
                ("purpose", "extracurricular"),
                ("action", action),
                ("given_by", parent.as_str()),
                ("method", "paper"),
                ("consent_sha256", sha.as_str()),
            ]
        };
        assert_eq!(post("/consents", &consent("give")).status, 303);
        let held = post("/consents", &consent("withdraw"));
        assert_eq!(held.status, 422);
        assert_has(
            &held.body,
            "обеспечивает ещё не исполненное обязательство субъекта",
        );
        let fulfilled = post(
            "/obligations",
            &[("purpose", "extracurricular"), ("change", "fulfil")],
        );
        assert_eq!(fulfilled.status, 303, "{}", fulfilled.body);
        assert_eq!(post("/consents", &consent("withdraw")).status, 303);

        let unlinked = post(&format!("/representatives/{parent}/unlink"), &[]);
        assert_eq!(unlinked.status, 303, "{}", unlinked.body);
        let page = staff.get(&format!("{}&lang=ru", unlinked.location));
        assert!(page
            .body
            .contains("Связь с законным представителем удалена."));
        assert!(!page.body.contains("(родитель)"), "{}", page.body);
    })
}

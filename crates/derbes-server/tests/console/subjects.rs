//! The subjects pages: a subject added with the declaration's checks beside each field, found
//! by an identifier posted (never in an address), and its file opened for a purpose: read
//! when the purpose may, refused with the decision's reasons when not.

use super::*;

/// Staff add a student (a wrong IIN refused beside its field in Kazakh, the other values
/// kept), find her by the IIN for their purpose, and open her file: the purpose's fields for
/// theirs, the decision's reasons for another; the DPO sees the reads in her history.
pub(crate) fn subjects_are_added_found_and_opened_for_a_purpose(db: TestDb) -> Fut {
    Box::pin(async move {
        Desk::start(&db)
            .await
            .run(|desk| {
                let otp = desk.account("bolat", Role::Staff, &["education"]);
                let mut staff = desk.browser();
                staff.sign_in("bolat", &otp);
                staff.choose_password("Күз келді, 2026!");
                let form = staff.get("/console/subjects/new?category=student");
                assert!(form.body.contains("name=\"iin\""), "{}", form.body);
                let student = |iin: &'static str| {
                    [
                        ("category", "student"),
                        ("surname", "Сәрсенбаева"),
                        ("given_name", "Дана"),
                        ("iin", iin),
                    ]
                };
                let mut fields = vec![("csrf", form.csrf())];
                fields.extend(student("061211600013").map(|(k, v)| (k, v.to_owned())));
                let pairs: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let refused = staff.post("/console/subjects", &pairs);
                assert_eq!(refused.status, 422);
                assert!(
                    refused
                        .body
                        .contains("Бақылау цифры (12-цифр) сәйкес келмейді")
                        && refused.body.contains("value=\"Сәрсенбаева\""),
                    "{}",
                    refused.body
                );
                let mut fields = vec![("csrf", form.csrf())];
                fields.extend(student("061211600012").map(|(k, v)| (k, v.to_owned())));
                let pairs: Vec<(&str, &str)> =
                    fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let created = staff.post("/console/subjects", &pairs);
                assert_eq!(created.status, 303, "{}", created.body);
                let id = created
                    .location
                    .split('/')
                    .nth(3)
                    .unwrap()
                    .split('?')
                    .next()
                    .unwrap()
                    .to_owned();

                let find = staff.get("/console/subjects");
                let found = staff.post(
                    "/console/subjects/find",
                    &[
                        ("csrf", &find.csrf()),
                        ("field", "iin"),
                        ("value", "061211600012"),
                        ("purpose", "education"),
                    ],
                );
                assert_eq!(found.status, 200);
                assert!(found
                    .body
                    .contains(&format!("/console/subjects/{id}?purpose=education")));
                assert!(!found.location.contains("0612"), "never in an address");

                let file = staff.get(&format!("/console/subjects/{id}?purpose=education&lang=ru"));
                assert_eq!(file.status, 200);
                assert!(file.body.contains("Сәрсенбаева"), "{}", file.body);
                let other = staff.get(&format!("/console/subjects/{id}?purpose=personnel"));
                assert!(
                    other.body.contains("role=\"alert\"") && !other.body.contains("Сәрсенбаева")
                );
                assert!(
                    other.body.contains("personnel"),
                    "the decision's reason: {}",
                    other.body
                );
                assert!(
                    !file.body.contains("subject.read"),
                    "staff see no audit history"
                );

                let otp = desk.account("aliya", Role::Dpo, &[]);
                let mut dpo = desk.browser();
                first_sign_in(desk, &mut dpo, "aliya", &otp);
                let file = dpo.get(&format!("/console/subjects/{id}"));
                assert!(
                    file.body.contains("subject.read") && file.body.contains("staff:person:bolat"),
                    "{}",
                    file.body
                );
                assert!(
                    !file.body.contains("Сәрсенбаева"),
                    "nothing read without a purpose"
                );
            })
            .await;
    })
}

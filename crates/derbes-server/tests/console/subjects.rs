//! The subjects pages: a subject added with the declaration's checks beside each field, found
//! by an identifier posted (never in an address), and its file opened for a purpose: read
//! when the purpose may, refused with the decision's reasons when not.

use super::*;

/// Staff add a student (a wrong IIN refused beside its field in Kazakh, the other values
/// kept), find her by the IIN for their purpose, and open her file: the purpose's fields for
/// theirs, the decision's reasons for another; the DPO sees the reads in her history.
pub(crate) fn subjects_are_added_found_and_opened_for_a_purpose(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        let form = staff.get("/console/subjects/new?category=student");
        assert_has(&form.body, "name=\"iin\"");
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
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
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
        let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
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
        assert_has(&file.body, "Сәрсенбаева");
        let other = staff.get(&format!("/console/subjects/{id}?purpose=personnel"));
        assert!(other.body.contains("role=\"alert\"") && !other.body.contains("Сәрсенбаева"));
        assert!(
                    other.body.contains(
                        "Вам не разрешено действовать для цели «Управление персоналом и учёт рабочего времени»."
                    ),
                    "the decision's reason, in the page's language, by the purpose's name: {}",
                    other.body
                );
        assert!(
            !file.body.contains("subject.read"),
            "staff see no audit history"
        );

        let mut dpo = desk.person("aliya", Role::Dpo, &[]);
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
}

/// A block is set by staff with its reason and sealed note, refuses reads while it holds, and
/// is lifted only by an officer (staff get the service's reason).
pub(crate) fn blocks_are_set_by_staff_and_lifted_by_an_officer(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let id = desk.service(desk.s.create_student_id(
            &desk.s.admin,
            serde_json::json!({ "surname": "Сәрсенбаева" }),
        ));
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        // Staff block her; only an officer may lift the block (the service's reason).
        let page = staff.get(&format!("/console/subjects/{id}"));
        let block = |b: &mut Browser, csrf: &str, change: &str| {
            b.post(
                &format!("/console/subjects/{id}/flags"),
                &[
                    ("csrf", csrf),
                    ("purpose", ""),
                    ("change", change),
                    ("reason", "accuracy_contested"),
                    ("flag_note", "Өтініш № 12"),
                    ("flag_until", ""),
                    ("back_purpose", "education"),
                ],
            )
        };
        let set = block(&mut staff, &page.csrf(), "set");
        assert_eq!(
            set.location,
            format!("/console/subjects/{id}?purpose=education&flagged=1"),
            "{}",
            set.body
        );
        let blocked = staff.get(&format!("/console/subjects/{id}?purpose=education&lang=ru"));
        assert_has(&blocked.body, "оспорена точность данных");
        assert!(
            blocked.body.contains(
                "Персональные данные субъекта заблокированы: допускается только их хранение."
            ) && !blocked.body.contains("Сәрсенбаева"),
            "reads refused while blocked"
        );
        let lift = block(&mut staff, &page.csrf(), "lift");
        assert_eq!(lift.status, 403);
        assert_has(&lift.body, "may not do this");

        let mut dpo = desk.person("aliya", Role::Dpo, &[]);
        let csrf = dpo.get("/console").csrf();
        let lifted = block(&mut dpo, &csrf, "lift");
        assert!(lifted.location.ends_with("&flagged=1"), "{}", lifted.body);
        // Lifted twice: said beside the form, the reason chosen kept.
        dpo.get("/console?lang=ru");
        let again = block(&mut dpo, &csrf, "lift");
        assert_eq!(again.status, 422);
        assert!(
            again.body.contains("Данные субъекта не заблокированы")
                && again.body.contains("value=\"accuracy_contested\" selected"),
            "{}",
            again.body
        );
    })
}

/// Correcting a subject read for a purpose: a wrong IIN refused beside its field in the page's
/// language with the correction kept, then a new surname saved.
pub(crate) fn subjects_are_corrected_with_the_declarations_checks(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let id = desk.service(desk.s.create_student_id(
            &desk.s.admin,
            serde_json::json!({ "surname": "Сәрсенбаева", "iin": "061211600012" }),
        ));
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        staff.get("/console?lang=ru");
        // Correcting: a wrong IIN refused beside its field, a new surname saved.
        let correct = |b: &mut Browser, iin: &str, surname: &str| {
            let csrf = b.get("/console").csrf();
            b.post(
                &format!("/console/subjects/{id}/correct"),
                &[
                    ("csrf", csrf.as_str()),
                    ("purpose", "education"),
                    ("f:iin", iin),
                    ("was:iin", "061211600012"),
                    ("f:surname", surname),
                    ("was:surname", "Сәрсенбаева"),
                ],
            )
        };
        let wrong = correct(&mut staff, "061211600013", "Сәрсенбай");
        assert_eq!(wrong.status, 422);
        assert!(
            wrong.body.contains("c-iin-error") && wrong.body.contains("Контрольная цифра"),
            "{}",
            wrong.body
        );
        assert!(
            wrong.body.contains("value=\"Сәрсенбай\""),
            "the correction kept"
        );
        let done = correct(&mut staff, "061211600012", "Сәрсенбай");
        assert_eq!(
            done.location,
            format!("/console/subjects/{id}?purpose=education&corrected=1"),
            "{}",
            done.body
        );
        assert!(staff.get(&done.location).body.contains("Сәрсенбай"));
    })
}

/// Staff record from a student's file that she left (a day after today refused beside its
/// field in Russian, the reason typed kept), see how long each of her fields is now kept, and
/// retract the departure recorded in error.
pub(crate) fn lifecycle_events_from_the_file(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let s = &desk.s;
        let child = desk.service(s.create_student_id(
            &s.admin,
            serde_json::json!({ "surname": "Сәрсенбаева", "grades": "5" }),
        ));
        let file = format!("/console/subjects/{child}");
        let today = desk.service(async { s.state.app.vault.today() });
        let tomorrow = (today + time::Duration::days(1)).to_string();
        let today = today.to_string();
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        let page = staff.get(&format!("{file}?lang=ru"));
        assert_has(&page.body, "Сроки хранения");
        assert_has(&page.body, "срок ещё не начался");
        let csrf = page.csrf();
        let reason = ("lifecycle_reason", "переведена в другую школу");
        let left = |on: &str| {
            vec![
                ("csrf", csrf.clone()),
                ("kind", "relationship_ended".into()),
                (reason.0, reason.1.into()),
                ("lifecycle_on", on.to_owned()),
            ]
        };
        let post = |staff: &mut Browser, form: Vec<(&str, String)>| {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            staff.post(&format!("{file}/lifecycle"), &pairs)
        };
        let refused = post(&mut staff, left(&tomorrow));
        assert_eq!(refused.status, 422);
        assert!(
            refused.body.contains("id=\"lifecycle_on-error\"")
                && refused.body.contains("Эта дата позже сегодняшней")
                && refused.body.contains("value=\"переведена в другую школу\""),
            "{}",
            refused.body
        );
        let recorded = post(&mut staff, left(&today));
        assert_eq!(recorded.status, 303, "{}", recorded.body);
        assert_eq!(recorded.location, format!("{file}?purpose=&lifecycle=1"));
        let page = staff.get(&format!("{}&lang=ru", recorded.location));
        assert_has(&page.body, "Событие зарегистрировано.");
        assert_has(&page.body, "(переведена в другую школу)");
        assert!(
            !page.body.contains("срок ещё не начался"),
            "every period started: {}",
            page.body
        );
        assert_eq!(post(&mut staff, retraction(&page.body, &csrf)).status, 303);
        let page = staff.get(&format!("{file}?lang=ru"));
        assert_has(&page.body, "отменено как зарегистрированное по ошибке");
        assert_has(&page.body, "срок ещё не начался");
    })
}

/// The DPO places a legal hold from the subject's file (a last day in the past is refused
/// beside its field, in Kazakh) and lifts it; staff see neither the form nor the button.
pub(crate) fn a_legal_hold_from_the_file(db: TestDb) -> Fut {
    Desk::case(db, |desk| {
        let s = &desk.s;
        let child = desk.service(
            s.create_student_id(&s.admin, serde_json::json!({ "surname": "Сәрсенбаева" })),
        );
        let file = format!("/console/subjects/{child}");
        let today = desk.service(async { s.state.app.vault.today() });
        let until = (today + time::Duration::days(90)).to_string();
        let yesterday = (today - time::Duration::days(1)).to_string();
        let mut dpo = desk.person("aigul", Role::Dpo, &[]);
        let page = dpo.get(&format!("{file}?lang=kk"));
        assert_has(&page.body, "Жоюды тоқтата тұру");
        let csrf = page.csrf();
        let hold = |until: &str| {
            vec![
                ("csrf", csrf.clone()),
                ("kind", "legal_hold".to_owned()),
                ("hold_reason", "сот ісі № 2-118".to_owned()),
                ("hold_until", until.to_owned()),
            ]
        };
        let post = |who: &mut Browser, form: Vec<(&str, String)>| {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            who.post(&format!("{file}/lifecycle"), &pairs)
        };
        let refused = post(&mut dpo, hold(&yesterday));
        assert_eq!(refused.status, 422, "{}", refused.body);
        assert!(
            refused.body.contains("id=\"hold_until-error\"")
                && refused
                    .body
                    .contains("Тоқтата тұрудың соңғы күнін көрсетіңіз")
                && refused.body.contains("value=\"сот ісі № 2-118\""),
            "{}",
            refused.body
        );
        let placed = post(&mut dpo, hold(&until));
        assert_eq!(placed.status, 303, "{}", placed.body);
        let page = dpo.get(&format!("{file}?lang=ru"));
        assert!(
            page.body
                .contains("Последний день приостановления уничтожения")
                && page.body.contains("(сот ісі № 2-118)")
                && page.body.contains("Снять приостановление"),
            "{}",
            page.body
        );
        let mut staff = desk.person("bolat", Role::Staff, &["education"]);
        let seen = staff.get(&format!("{file}?lang=ru"));
        assert!(seen
            .body
            .contains("Последний день приостановления уничтожения"));
        assert!(
            !seen.body.contains("Снять приостановление")
                && !seen.body.contains("name=\"hold_until\""),
            "{}",
            seen.body
        );
        assert_eq!(post(&mut dpo, retraction(&page.body, &csrf)).status, 303);
        let page = dpo.get(&format!("{file}?lang=ru"));
        assert!(!page
            .body
            .contains("Последний день приостановления уничтожения"));
        assert_has(&page.body, "снято");
    })
}

/// The form that retracts the first event a subject's file offers to retract.
fn retraction(file: &str, csrf: &str) -> Vec<(&'static str, String)> {
    let event = file
        .split("name=\"lifecycle_event\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    vec![
        ("csrf", csrf.to_owned()),
        ("kind", "retracted".to_owned()),
        ("lifecycle_event", event),
    ]
}

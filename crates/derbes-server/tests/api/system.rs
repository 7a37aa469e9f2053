//! Health, the OpenAPI document, the declaration, and the policy pages in every language.

use super::*;

pub(super) fn health_and_documents(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let r = s.call("GET", "/api/v1/health", None, None).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.body["backend"], db.backend);
        assert_eq!(r.body["declaration_version"], "2025.1");
        let r = s.call("GET", "/api/v1/openapi.json", None, None).await;
        assert_eq!(r.body["openapi"], "3.1.0");
        let r = s.call("GET", "/api/v1/declaration", None, None).await;
        assert_eq!(r.body["operator"]["bin"], "940140000385");
        assert!(
            r.body["purposes"]["education"]["fields"]
                .as_array()
                .unwrap()
                .len()
                > 3
        );
    })
}

/// The demo declaration recorded as the version in force, and a version 2099.1 to come that
/// drops a recipient and asks the e-mail address for extracurricular activities (and that
/// today's check would refuse: it was checked when recorded).
struct Published {
    s: Server,
    current: String,
}

impl Published {
    async fn start(db: &TestDb) -> Published {
        let s = Server::start(db).await;
        let record = |version: &str, text: String| derbes_store::WriteOp::RecordDeclaration {
            version: version.into(),
            content_hash: Declaration::content_hash(&text),
            content: text,
            audit: derbes_core::audit::AuditDraft::new(
                "test",
                "declaration.record",
                derbes_core::audit::Outcome::Ok,
            ),
        };
        let current = s.state.app.vault.declaration().version.clone();
        s.store
            .write(record(&current, DEMO.to_owned()))
            .await
            .unwrap();
        let next = DEMO
            .replacen("version = \"2025.1\"", "version = \"2099.1\"", 1)
            .replacen(
                "effective_from = \"2025-08-01\"",
                "effective_from = \"2099-01-01\"",
                1,
            )
            .replacen(
                "\"phone\", \"health_info\", \"event_media\"]\nrecipients = [\"transport_company\", \"medical_institution\"]",
                "\"phone\", \"email\", \"health_info\", \"event_media\"]\nrecipients = [\"transport_company\"]",
                1,
            )
            // A recorded version today's check would refuse is published all the same: it was
            // checked when it was recorded.
            .replacen(
                "website = \"https://shoqanschool.kz\"",
                "website = \"https://\"",
                1,
            );
        assert!(Declaration::load(&next).is_err());
        s.store.write(record("2099.1", next)).await.unwrap();
        Published { s, current }
    }

    /// A public page, asked for in `lang` (`Accept-Language`) or without one.
    async fn page(&self, path: &str, lang: Option<&str>) -> Reply {
        self.s
            .call_with(
                "GET",
                path,
                None,
                None,
                lang.map(|l| ("Accept-Language", l.to_owned())),
            )
            .await
    }
}

/// The policy in force, in the language the visitor asks for (or Kazakh), as HTML or
/// Markdown, without scripts; other formats and languages are refused.
pub(super) fn the_policy_in_force_is_served_in_the_visitors_language(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(p = Published::start(&db).await => Published { current });
        let r = p.page("/policy", Some("ru-RU,ru;q=0.9")).await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "text/html; charset=utf-8");
        assert!(
            r.text.contains("<html lang=\"ru\">") && r.text.contains("Политика конфиденциальности")
        );
        assert!(
            r.text.contains(&format!("Версия {current}")),
            "the version in force, not the one to come"
        );
        assert!(
            r.text.contains("href=\"/policy?lang=kk\"")
                && r.text.contains("href=\"/policy/versions?lang=ru\"")
        );
        assert!(!r.text.contains("<script"));
        let r = p.page("/policy?lang=en", Some("ru")).await;
        assert!(r.text.contains("<html lang=\"en\">") && r.text.contains("Privacy policy of"));
        let r = p.page("/policy", None).await;
        assert!(r.text.contains("<html lang=\"kk\">") && r.text.contains("құпиялылық саясаты"));
        let r = p.page("/policy?format=md&lang=kk", None).await;
        assert_eq!(r.content_type, "text/markdown; charset=utf-8");
        assert!(r.text.starts_with("# ") && r.text.contains("{#rights}"));
        assert_problem(&p.page("/policy?lang=de", None).await, 422, "validation");
        assert_problem(&p.page("/policy?format=pdf", None).await, 422, "validation");
    })
}

/// Every recorded version is listed, the one in force marked, and a version not yet in force
/// says so.
pub(super) fn every_version_is_listed_and_one_to_come_is_marked(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(p = Published::start(&db).await => Published { current });
        let r = p.page("/policy/versions?lang=ru", None).await;
        assert!(
            r.text.contains("2099.1") && r.text.contains(current.as_str()),
            "{}",
            r.text
        );
        assert!(r.text.contains("действует"));
        assert_problem(
            &p.page("/policy/versions?format=md", None).await,
            422,
            "validation",
        );
        let r = p.page("/policy/versions?format=json", None).await;
        assert_eq!(r.body[1]["version"], "2099.1");
        assert_eq!(r.body[1]["effective_from"], "2099-01-01");
        let r = p.page("/policy/versions/2099.1?lang=kk", None).await;
        assert_eq!(r.status, 200);
        // A number keeps its word on the same line: the space after it does not break.
        let text = r.text.replace('\u{a0}', " ");
        assert!(text.contains("2099.1 нұсқасы") && text.contains("Бұл — қолданыстағы емес нұсқа"));
        assert_problem(
            &p.page("/policy/versions/1999.9", None).await,
            404,
            "not-found",
        );
    })
}

/// What the next version changes, and whose consent it needs again: only what a consent to
/// the old terms does not cover (the e-mail address added), never what was taken away (a
/// recipient dropped), as decisions judge it.
pub(super) fn what_a_new_version_changes_and_whose_consent_it_needs(db: TestDb) -> Fut {
    Box::pin(async move {
        let p = Published::start(&db).await;
        let r = p
            .page("/policy/changes?from=2025.1&to=2099.1&lang=en", None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_has(&r.text, "Changes to the privacy policy: 2025.1 → 2099.1");
        let (impact, changes) = r.text.split_once("id=\"changes\"").unwrap();
        assert!(
            impact.contains("Extracurricular education, events and excursions</strong>: data added: E-mail address</li>"),
            "{impact}"
        );
        assert!(!impact.contains("recipient"), "{impact}");
        assert!(changes.contains("recipients removed: "), "{changes}");
        let r = p
            .page(
                "/policy/changes?from=2025.1&to=2099.1&lang=kk&format=md",
                None,
            )
            .await;
        assert!(
            r.text.contains("## Келісімге әсері {#consent}")
                && r.text
                    .contains("деректер қосылды: Электрондық пошта мекенжайы"),
            "{}",
            r.text
        );
        let r = p.page("/policy/changes?lang=ru", None).await;
        assert_has(&r.text, "Изменений нет.");
        assert_problem(
            &p.page("/policy/changes?from=1999.9", None).await,
            404,
            "not-found",
        );
        let r = p.page("/policy/versions?lang=en", None).await;
        assert_has(
            &r.text,
            "/policy/changes?from=2025.1&amp;to=2099.1&amp;lang=en",
        );
    })
}

/// Whose consent the next version needs again, counted on the ledger: a consent that holds
/// and does not cover the new terms counts; a withdrawn one does not.
pub(super) fn the_subjects_to_ask_again_are_those_whose_consent_holds(db: TestDb) -> Fut {
    Box::pin(async move {
        let p = Published::start(&db).await;
        let s = &p.s;
        let adult = |given: &str, n: u8| {
            json!({ "surname": "Оспанова", "given_name": given,
                "iin": iin_born(time::Date::from_calendar_date(2000, time::Month::March, n).unwrap(), Sex::Female) })
        };
        let give =
            json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } });
        for (name, n, withdraws) in [("Айгүл", 3, false), ("Гүлнар", 4, true)] {
            let id = s.create_student_id(&s.admin, adult(name, n)).await;
            let consents = format!("/api/v1/subjects/{id}/consents");
            let r = s.post(&consents, &s.admin, give.clone()).await;
            assert_eq!(r.status, 201, "{}", r.body);
            if withdraws {
                let withdraw = json!({ "purpose": "extracurricular", "action": "withdraw", "method": { "kind": "web" } });
                let r = s.post(&consents, &s.admin, withdraw).await;
                assert_eq!(r.status, 201, "{}", r.body);
            }
        }
        let dpo = s.token(Role::Dpo, &[]).await;
        let r = s
            .get(
                "/api/v1/policy/consent-impact?from=2025.1&to=2099.1&lang=en",
                &dpo,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["purposes"].as_array().unwrap().len(),
            1,
            "{}",
            r.body
        );
        let extracurricular = &r.body["purposes"][0];
        assert_eq!(extracurricular["purpose"], "extracurricular");
        assert_eq!(extracurricular["items"], json!(["field:email"]));
        assert_eq!(
            extracurricular["reasons"],
            json!(["data added: E-mail address"])
        );
        assert_eq!(extracurricular["holding"], 1, "{}", r.body);
        assert_eq!(extracurricular["to_ask_again"], 1, "{}", r.body);
        // A version compared with itself touches no consent; an unknown one is not found.
        let r = s
            .get("/api/v1/policy/consent-impact?from=2099.1&to=2099.1", &dpo)
            .await;
        assert_eq!(r.body["purposes"], json!([]), "{}", r.body);
        let r = s.get("/api/v1/policy/consent-impact?to=1999.9", &dpo).await;
        assert_problem(&r, 404, "not-found");
    })
}

/// The other documents of the version in force and of any version, each linking to the others
/// of the same version and language.
pub(super) fn the_other_documents_of_any_version_link_to_each_other(db: TestDb) -> Fut {
    Box::pin(async move {
        let p = Published::start(&db).await;
        let r = p.page("/policy/documents/consent-forms", Some("ru")).await;
        assert_eq!(r.status, 200);
        assert!(
            r.text
                .contains("Формы согласия на сбор и обработку персональных данных")
                && r.text.contains("Медицинские учреждения"),
            "{}",
            r.text
        );
        let r = p
            .page(
                "/policy/documents/consent-forms?version=2099.1&lang=ru&format=md",
                None,
            )
            .await;
        assert_eq!(r.content_type, "text/markdown; charset=utf-8");
        let extracurricular = r
            .text
            .split("\n## ")
            .find(|s| s.contains("{#extracurricular}"))
            .unwrap();
        assert!(
            !extracurricular.contains("Медицинские учреждения"),
            "the 2099.1 form names only its own recipients: {extracurricular}"
        );
        let r = p.page("/policy/documents/data-list?lang=kk", None).await;
        assert!(r.text.contains("дербес деректердің тізбесі") && r.text.contains("<table>"));
        let r = p
            .page("/policy/documents/processing-record?lang=en", None)
            .await;
        assert!(
            r.text.contains("Record of processing activities")
                && r.text.contains("<th>Storage country</th>")
        );
        // Each page links to the other documents of the same version and language.
        assert!(
            r.text
                .contains("href=\"/policy/documents/data-list?lang=en\"")
                && r.text.contains("href=\"/policy?lang=en\""),
            "{}",
            r.text
        );
        let r = p.page("/policy/versions/2099.1?lang=ru", None).await;
        assert_has(
            &r.text,
            "href=\"/policy/documents/consent-forms?version=2099.1&amp;lang=ru\"",
        );
        assert_problem(
            &p.page("/policy/documents/leaflet", None).await,
            404,
            "not-found",
        );
        assert_problem(
            &p.page("/policy/documents/data-list?version=1999.9", None)
                .await,
            404,
            "not-found",
        );
        assert_problem(
            &p.page("/policy/documents/data-list?format=pdf", None).await,
            422,
            "validation",
        );
    })
}

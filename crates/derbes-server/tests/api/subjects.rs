//! Subjects: create, read for a purpose, rectify, look up; purposes enforced; no plaintext
//! where none is needed.

use super::*;

pub(super) fn create_read_rectify_lookup(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let created = s
            .create_student(&s.admin, serde_json::from_str(AIGERIM).unwrap())
            .await;
        assert_eq!(created.status, 201, "{}", created.body);
        let id = created.body["id"].as_str().unwrap().to_owned();
        // A read returns the purpose's fields only, normalized; the health record stays out.
        let r = s
            .get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &s.admin,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["legal_basis"], "contract");
        assert_eq!(r.body["fields"]["phone"], "+77012345678");
        assert_eq!(r.body["fields"]["email"], "aigerim@mail.kz");
        assert_eq!(r.body["fields"]["given_name"], "Әйгерім");
        assert!(r.body["fields"].get("health_info").is_none());
        let r = s
            .get(
                &format!("/api/v1/subjects/{id}?purpose=education&fields=iin"),
                &s.admin,
            )
            .await;
        assert_eq!(r.body["fields"], json!({ "iin": "061211600012" }));
        // Rectification changes the value and the blind index.
        let r = s
            .patch(
                &format!("/api/v1/subjects/{id}"),
                &s.admin,
                json!({ "fields": { "phone": "+7 777 000 11 22", "email": null } }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // json! sorts keys, so the request lists email first; the answer keeps the request's order.
        assert_eq!(r.body["changed"], json!(["email", "phone"]));
        let r = s
            .get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &s.admin,
            )
            .await;
        assert_eq!(r.body["fields"]["phone"], "+77770001122");
        assert!(r.body["fields"].get("email").is_none());
        let find = |field: &str, value: &str| json!({ "field": field, "value": value, "purpose": "education" });
        let r = s
            .post("/api/v1/lookup", &s.admin, find("phone", "87770001122"))
            .await;
        assert_eq!(r.body["subjects"][0]["id"], id.as_str(), "{}", r.body);
        let r = s
            .post("/api/v1/lookup", &s.admin, find("phone", "+77012345678"))
            .await;
        assert_eq!(r.body["subjects"], json!([]));
        let r = s
            .post("/api/v1/lookup", &s.admin, find("iin", "0612 1160 0012"))
            .await;
        assert_eq!(r.body["subjects"][0]["category"], "student");
        // The audit shows fingerprints of the change, never the values.
        let r = s
            .get(&format!("/api/v1/subjects/{id}/audit"), &s.admin)
            .await;
        let events = r.body["events"].as_array().unwrap();
        let rectify = events
            .iter()
            .find(|e| e["action"] == "subject.rectify")
            .unwrap();
        let details = rectify["details"].as_str().unwrap();
        assert!(details.contains("\"old\"") && details.contains("\"new\""));
        assert!(!details.contains("7770001122") && !details.contains("mail.kz"));
        let text = r.body.to_string();
        assert!(!text.contains("Нұрланова") && !text.contains("061211600012"));
        let actions: Vec<&str> = events
            .iter()
            .map(|e| e["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "subject.create",
                "subject.read",
                "subject.read",
                "subject.rectify",
                "subject.read",
                "subject.lookup",
                "subject.lookup"
            ]
        );
    })
}

pub(super) fn purposes_are_enforced(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let id = s
            .create_student_id(&s.admin, serde_json::from_str(AIGERIM).unwrap())
            .await;
        let read =
            |purpose: &str, extra: &str| format!("/api/v1/subjects/{id}?purpose={purpose}{extra}");
        let r = s.get(&read("marketing", ""), &s.admin).await;
        assert_problem(&r, 403, "purpose-denied");
        assert_eq!(reason_codes(&r), ["undeclared_purpose"]);
        let r = s
            .get(&read("education", "&fields=iin,health_info"), &s.admin)
            .await;
        assert_eq!(reason_codes(&r), ["field_outside_purpose"]);
        assert!(r.body.get("fields").is_none());
        let r = s.get(&read("extracurricular", ""), &s.admin).await;
        assert_eq!(reason_codes(&r), ["no_consent"]);
        assert!(r.body["detail"].as_str().unwrap().contains("no consent"));
        let staff = s.token(Role::Staff, &["safety"]).await;
        let r = s.get(&read("education", ""), &staff).await;
        assert_eq!(reason_codes(&r), ["actor_not_allowed_purpose"]);
        let r = s.get(&read("personnel", ""), &s.admin).await;
        assert_eq!(reason_codes(&r), ["purpose_not_for_category"]);
        // Names that cannot be codes are refused before they reach the audit trail (a NUL would
        // fail PostgreSQL's commit for the whole group).
        for bad in [read("%00", ""), read("education", "&fields=iin,%00x")] {
            let r = s.get(&bad, &s.admin).await;
            assert_problem(&r, 422, "validation");
        }
        let r = s.get(&format!("/api/v1/subjects/{id}"), &s.admin).await;
        assert_problem(&r, 400, "bad-request");
        assert!(r.body["detail"].as_str().unwrap().contains("purpose"));
        // A staff token for `safety` reads what safety may use and no more.
        let r = s.get(&read("safety", ""), &staff).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["legal_basis"], "vital_interest");
        // Lookups obey the same rules.
        let r = s
            .post(
                "/api/v1/lookup",
                &staff,
                json!({ "field": "iin", "value": "061211600012", "purpose": "education" }),
            )
            .await;
        assert_eq!(reason_codes(&r), ["actor_not_allowed_purpose"]);
        // Every refusal is in the audit trail.
        let r = s
            .get(&format!("/api/v1/subjects/{id}/audit"), &s.admin)
            .await;
        let denied: Vec<String> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["outcome"] == "denied")
            .map(|e| e["reason"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            denied,
            [
                "undeclared_purpose",
                "field_outside_purpose",
                "no_consent",
                "actor_not_allowed_purpose",
                "purpose_not_for_category"
            ]
        );
    })
}

const NOTE: &str = "Өтініш №42: ата-анасының арызы бойынша";
const RESTRICTION: &str = "Шектеу: ата-анасының 2026 жылғы 3 наурыздағы өтініші";
const OBLIGATION: &str = "Экскурсия шарты №77-Э, Түркістан";

/// A student with a block, a restriction and an obligation, each with staff's note.
struct Noted {
    s: Server,
    id: String,
}

impl Noted {
    async fn start(db: &TestDb) -> Noted {
        let s = Server::start(db).await;
        let id = s
            .create_student_id(&s.admin, json!({ "surname": "Әлиева" }))
            .await;
        for (path, body) in [
            (
                "block",
                json!({ "reason": "accuracy_contested", "note": NOTE }),
            ),
            (
                "restrictions/extracurricular",
                json!({ "reason": "objection", "note": RESTRICTION }),
            ),
            ("obligations/extracurricular", json!({ "note": OBLIGATION })),
        ] {
            let r = s
                .put(&format!("/api/v1/subjects/{id}/{path}"), &s.admin, body)
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(!r.text.contains("sealed_note"), "{}", r.body);
        }
        Noted { s, id }
    }

    /// The subject's blocks, restrictions and obligations, as an admin reads them.
    async fn flags(&self) -> Value {
        let r = self
            .s
            .get(
                &format!("/api/v1/subjects/{}/flags", self.id),
                &self.s.admin,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }
}

/// The first of the database's files that holds `text` in clear.
pub(super) fn in_clear(files: &[(String, Vec<u8>)], text: &str) -> Option<String> {
    files
        .iter()
        .find(|(_, bytes)| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
        .map(|(file, _)| file.clone())
}

/// Every value a platform sends is sealed before it reaches the database: none of Aigerim's
/// values, as sent or as normalized, is anywhere in the database's files, and each reads back.
pub(super) fn values_are_sealed_never_in_clear(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let id = s
            .create_student_id(&s.admin, serde_json::from_str(AIGERIM).unwrap())
            .await;
        let r = s
            .get(
                &format!("/api/v1/subjects/{id}?purpose=education&fields=surname,iin,email,phone"),
                &s.admin,
            )
            .await;
        assert_eq!(r.body["fields"]["surname"], "Нұрланова", "{}", r.body);
        let files = db.raw_files().await;
        assert!(!files.is_empty());
        for text in [
            "Нұрланова",
            "Әйгерім",
            "061211600012",
            "aigerim@mail.kz",
            "Aigerim@Mail.KZ",
            "+77012345678",
            "аллергия: жаңғақ",
        ] {
            assert_eq!(in_clear(&files, text), None, "{text:?} is in clear");
        }
    })
}

/// Staff's notes on a block, a restriction and an obligation go sealed with the subject's
/// data, never in clear in the database; those who may read them get them back.
pub(super) fn staff_notes_are_sealed_never_in_clear(db: TestDb) -> Fut {
    Box::pin(async move {
        let n = Noted::start(&db).await;
        let flags = n.flags().await;
        assert_eq!(flags["blocked"]["note"], NOTE);
        assert_eq!(
            flags["restrictions"]["extracurricular"]["note"],
            RESTRICTION
        );
        assert_eq!(flags["obligations"]["extracurricular"]["note"], OBLIGATION);
        let files = db.raw_files().await;
        assert!(!files.is_empty());
        for text in [NOTE, RESTRICTION, OBLIGATION] {
            assert_eq!(in_clear(&files, text), None, "{text:?} is in clear");
        }
    })
}

/// Notes an earlier derbes kept in clear are sealed when the server starts, once, and read
/// back as they were.
pub(super) fn notes_an_earlier_derbes_kept_in_clear_are_sealed(db: TestDb) -> Fut {
    Box::pin(async move {
        let n = Noted::start(&db).await;
        let (old_block, old_obligation) = ("Бұрынғы нұсқа жазған ескерту", "Шарт №5 (бұрынғы)");
        db.execute(&format!(
            "UPDATE subject_flags SET flag = '{{\"reason\":\"objection\",\"note\":\"{old_block}\",\"set_by\":\"token:admin\",\"set_at\":\"2026-11-02T09:00:00Z\"}}' WHERE purpose = '';
             UPDATE obligations SET obligation = '{{\"note\":\"{old_obligation}\",\"set_by\":\"token:admin\",\"set_at\":\"2026-11-02T09:00:00Z\"}}'"
        ))
        .await;
        assert!(in_clear(&db.raw_files().await, old_block).is_some());
        let consents = &n.s.state.app.consents;
        assert_eq!(consents.seal_clear_notes().await.unwrap(), 2);
        assert_eq!(consents.seal_clear_notes().await.unwrap(), 0);
        let files = db.raw_files().await;
        for text in [old_block, old_obligation] {
            assert_eq!(in_clear(&files, text), None, "{text:?} is in clear");
        }
        let flags = n.flags().await;
        assert_eq!(flags["blocked"]["note"], old_block, "{flags}");
        assert_eq!(flags["blocked"]["reason"], "objection");
        assert_eq!(
            flags["obligations"]["extracurricular"]["note"],
            old_obligation
        );
        assert_eq!(
            flags["restrictions"]["extracurricular"]["note"],
            RESTRICTION
        );
    })
}

/// Names with invisible or direction-changing characters, birth dates yet to come or before
/// 1900, and a field given twice are refused, each saying why.
pub(super) fn invisible_characters_impossible_dates_and_doubled_keys_are_refused(
    db: TestDb,
) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let refused_for = |r: &Reply, why: &str| {
            assert_problem(r, 422, "validation");
            assert!(
                r.body["detail"].as_str().unwrap().contains(why),
                "{why}: {}",
                r.body
            );
        };
        let r = s
            .create_student(&s.admin, json!({ "surname": "Әли\u{202E}ева" }))
            .await;
        refused_for(&r, "direction-changing");
        let r = s
            .create_student(&s.admin, json!({ "given_name": "Ай\u{200B}гүл" }))
            .await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "given_name", "{}", r.body);
        for (birth, why) in [("2099-01-01", "in the future"), ("1899-12-31", "1900")] {
            let r = s
                .create_student(
                    &s.admin,
                    json!({ "surname": "Әлиева", "birth_date": birth }),
                )
                .await;
            refused_for(&r, why);
        }
        let r = s
            .call(
                "POST",
                "/api/v1/subjects",
                Some(&s.admin),
                Some(Body::Raw(
                    "application/json",
                    r#"{"category": "student", "fields": {"surname": "Бір", "surname": "Екі"}}"#
                        .as_bytes()
                        .to_vec(),
                )),
            )
            .await;
        assert!(r.status == 422 || r.status == 400, "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains("given twice"),
            "{}",
            r.body
        );
    })
}

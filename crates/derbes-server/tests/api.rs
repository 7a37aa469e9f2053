//! The REST API over real HTTP, against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

use derbes_core::audit::ChainVerifier;
use derbes_core::identifiers::{Iin, Sex};
use derbes_core::Declaration;
use derbes_crypto::KeyRing;
use derbes_server::BODY_LIMIT;
use derbes_service::{Clock, Role};
use derbes_store::testing::{run_suite, Case, TestDb};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;

mod common;
use common::*;

const AIGERIM: &str = r#"{"surname":"Нұрланова","given_name":"Әйгерім","iin":"061211600012","phone":"8 (701) 234-56-78","email":"Aigerim@Mail.KZ","health_info":"аллергия: жаңғақ"}"#;

fn health_and_documents(db: TestDb) -> Fut {
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

fn create_read_rectify_lookup(db: TestDb) -> Fut {
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

fn purposes_are_enforced(db: TestDb) -> Fut {
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

fn tokens_and_roles(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let r = s
            .call(
                "POST",
                "/api/v1/subjects",
                None,
                Some(Body::Json(json!({}))),
            )
            .await;
        assert_problem(&r, 401, "unauthorized");
        let r = s.get("/api/v1/audit", "dbs_not-a-real-token").await;
        assert_problem(&r, 401, "unauthorized");
        let auditor = s.token(Role::Auditor, &[]).await;
        let id = s
            .create_student_id(&s.admin, json!({ "iin": "061211600012" }))
            .await;
        assert_problem(
            &s.get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &auditor,
            )
            .await,
            403,
            "forbidden",
        );
        assert_eq!(s.get("/api/v1/audit", &auditor).await.status, 200);
        // Staff may write only the fields of their purposes.
        let staff = s.token(Role::Staff, &["education"]).await;
        let r = s
            .create_student(&staff, json!({ "iin": "760212350620", "health_info": "x" }))
            .await;
        assert_problem(&r, 403, "forbidden");
        assert!(r.body["detail"].as_str().unwrap().contains("health_info"));
        assert_eq!(s.state.app.vault.store().count_subjects().await.unwrap(), 1);
        assert_eq!(
            s.create_student(
                &staff,
                json!({ "iin": "760212350620", "surname": "Оспанов" })
            )
            .await
            .status,
            201
        );
        // Only admins create tokens; the new token works at once.
        let r = s
            .post(
                "/api/v1/tokens",
                &staff,
                json!({ "name": "x", "role": "admin" }),
            )
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .post(
                "/api/v1/tokens",
                &s.admin,
                json!({ "name": "journal", "role": "integration", "purposes": ["education"] }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let journal = r.body["token"].as_str().unwrap().to_owned();
        assert_eq!(
            s.get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &journal
            )
            .await
            .status,
            200
        );
        let r = s
            .post(
                "/api/v1/tokens",
                &s.admin,
                json!({ "name": "x", "role": "staff" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(
                "/api/v1/tokens",
                &s.admin,
                json!({ "name": "x", "role": "root" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn bad_input_is_refused_and_nothing_is_written(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let raw = |ct: &'static str, b: &[u8]| Some(Body::Raw(ct, b.to_vec()));
        let r = s
            .call(
                "POST",
                "/api/v1/subjects",
                Some(&s.admin),
                raw("application/json", b"{\"category\":"),
            )
            .await;
        assert_problem(&r, 400, "bad-request");
        let r = s
            .call(
                "POST",
                "/api/v1/subjects",
                Some(&s.admin),
                raw("text/plain", b"{}"),
            )
            .await;
        assert_problem(&r, 415, "unsupported-media-type");
        let big = format!(
            "{{\"category\":\"student\",\"fields\":{{\"surname\":\"{}\"}}}}",
            "a".repeat(BODY_LIMIT)
        );
        let r = s
            .call(
                "POST",
                "/api/v1/subjects",
                Some(&s.admin),
                raw("application/json", big.as_bytes()),
            )
            .await;
        assert_problem(&r, 413, "payload-too-large");
        let r = s
            .post(
                "/api/v1/subjects",
                &s.admin,
                json!({ "category": "student", "fields": {}, "extra": 1 }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        assert!(r.body["detail"].as_str().unwrap().contains("extra"));
        let r = s
            .post(
                "/api/v1/subjects",
                &s.admin,
                json!({ "category": ["student"], "fields": {} }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        // Every bad field is named at once, and no value is echoed.
        let r = s
            .create_student(
                &s.admin,
                json!({ "iin": "061211600013", "phone": "+7 495 123 45 67", "email": "not-an-email", "birth_date": "2006-13-01",
                        "shoe_size": "42", "id_document_type": "driver_licence", "surname": 5, "salary": "100" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let mut fields: Vec<&str> = each(&r.body["errors"], "field");
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "birth_date",
                "email",
                "id_document_type",
                "iin",
                "phone",
                "salary",
                "shoe_size",
                "surname"
            ]
        );
        let text = r.body.to_string();
        assert!(
            !text.contains("061211600013") && !text.contains("not-an-email"),
            "{text}"
        );
        assert!(text.contains("check digit"));
        let r = s
            .post(
                "/api/v1/subjects",
                &s.admin,
                json!({ "category": "alien", "fields": { "iin": "061211600012" } }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s.create_student(&s.admin, json!({})).await;
        assert_problem(&r, 422, "validation");
        let r = s
            .get("/api/v1/subjects/061211600012?purpose=education", &s.admin)
            .await;
        assert_problem(&r, 400, "bad-request");
        assert!(!r.body.to_string().contains("061211600012"));
        let r = s
            .get(
                "/api/v1/subjects/0190a5e4-8c3b-7def-8000-1234567890ab?purpose=education",
                &s.admin,
            )
            .await;
        assert_problem(&r, 404, "not-found");
        assert_problem(&s.get("/api/v1/nothing", &s.admin).await, 404, "not-found");
        assert_problem(
            &s.call("DELETE", "/api/v1/subjects", Some(&s.admin), None)
                .await,
            405,
            "method-not-allowed",
        );
        let r = s.get("/api/v1/audit?limit=0", &s.admin).await;
        assert_problem(&r, 400, "bad-request");
        let r = s.get("/api/v1/audit?after=abc", &s.admin).await;
        assert_problem(&r, 400, "bad-request");
        let r = s
            .post(
                "/api/v1/lookup",
                &s.admin,
                json!({ "field": "surname", "value": "x", "purpose": "education" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        assert_eq!(s.state.app.vault.store().count_subjects().await.unwrap(), 0);
        // A duplicate identifier is a conflict that names the subject holding it.
        let first = s
            .create_student(&s.admin, json!({ "iin": "061211600012" }))
            .await;
        let r = s
            .create_student(
                &s.admin,
                json!({ "iin": "061211600012", "surname": "Басқа" }),
            )
            .await;
        assert_problem(&r, 409, "conflict");
        assert_eq!(r.body["existing_subject_id"], first.body["id"]);
        assert_eq!(s.state.app.vault.store().count_subjects().await.unwrap(), 1);
    })
}

fn audit_chain_verifies_through_the_api(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let mut ids = Vec::new();
        for iin in [
            "871008401427",
            "760212350620",
            "800416300257",
            "680503450037",
        ] {
            let r = s
                .post(
                    "/api/v1/subjects",
                    &s.admin,
                    json!({ "category": "legal_representative", "fields": { "iin": iin } }),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            ids.push(r.body["id"].as_str().unwrap().to_owned());
        }
        for id in &ids {
            s.get(
                &format!("/api/v1/subjects/{id}?purpose=education"),
                &s.admin,
            )
            .await;
            s.get(
                &format!("/api/v1/subjects/{id}?purpose=analytics"),
                &s.admin,
            )
            .await;
        }
        let keys = s.state.app.vault.keys();
        let mut v = ChainVerifier::new(0);
        let mut after = 0;
        loop {
            let r = s
                .get(&format!("/api/v1/audit?after={after}&limit=3"), &s.admin)
                .await;
            let events: Vec<derbes_core::audit::AuditEvent> =
                serde_json::from_value(r.body["events"].clone()).unwrap();
            let Some(last) = events.last() else { break };
            after = last.seq;
            for e in &events {
                v.push(e, keys.as_ref()).unwrap();
            }
        }
        // audit.start, token.create (admin), 4 creates, 8 reads
        assert_eq!(v.last_seq(), 14);
    })
}

fn random_requests_never_fail_the_server(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Arc::new(Server::start(&db).await);
        let id = s
            .create_student_id(&s.admin, json!({ "iin": "061211600012" }))
            .await;
        let r = s
            .post("/api/v1/requests", &s.admin, json!({ "kind": "blocking", "subject_id": id, "channel": "paper", "language": "ru" }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let cases = random_cases(&id, r.body["id"].as_str().unwrap());
        let mut statuses = std::collections::BTreeMap::new();
        for (method, path, body, authed) in cases {
            let token = authed.then_some(s.admin.as_str());
            let r = s
                .call(method, &path, token, Some(Body::Json(body.clone())))
                .await;
            assert!(
                r.status < 500,
                "{method} {path} {body} -> {} {}",
                r.status,
                r.body
            );
            if r.status >= 400 {
                assert_eq!(
                    r.content_type, "application/problem+json",
                    "{method} {path} -> {}",
                    r.status
                );
            }
            *statuses.entry(r.status).or_insert(0) += 1;
        }
        assert!(statuses.len() >= 4, "{statuses:?}");
    })
}

/// Random requests: methods, paths with odd parameters, JSON bodies of any shape.
#[allow(
    clippy::too_many_lines,
    reason = "a table of malformed requests, one entry per case"
)]
fn random_cases(id: &str, request: &str) -> Vec<(&'static str, String, Value, bool)> {
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRunner};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,12}".prop_map(Value::String),
        prop::sample::select(vec![
            "061211600012",
            "student",
            "education",
            "iin",
            "+77012345678",
            "2006-12-11",
            "give",
            "withdraw",
            "paper",
            "web",
            "parent",
            "accuracy_contested",
            "extracurricular",
            "blocking",
            "access_export",
            "online",
            "kk",
            "approve",
            "submit",
            "id_card",
            "2026-11-20T10:00:00+05:00"
        ])
        .prop_map(|s| json!(s)),
        Just(json!(id)),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "category",
                        "fields",
                        "iin",
                        "surname",
                        "phone",
                        "purpose",
                        "field",
                        "value",
                        "name",
                        "role",
                        "purposes",
                        "x",
                        "action",
                        "method",
                        "kind",
                        "evidence_sha256",
                        "until",
                        "representative_id",
                        "relation",
                        "documents",
                        "sha256",
                        "reason",
                        "note",
                        "subject_id",
                        "channel",
                        "language",
                        "step",
                        "details",
                        "received_at",
                        "code",
                        "document",
                        "reference"
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    });
    let paths = vec![
        "/api/v1/subjects".to_owned(),
        format!("/api/v1/subjects/{id}"),
        format!("/api/v1/subjects/{id}?purpose=education&fields=iin,,x"),
        format!("/api/v1/subjects/{id}/audit?after=-5&limit=9999"),
        "/api/v1/subjects/%00?purpose=%FF".to_owned(),
        "/api/v1/lookup".to_owned(),
        "/api/v1/tokens".to_owned(),
        "/api/v1/audit?limit=abc".to_owned(),
        "/api/v1/../declaration".to_owned(),
        format!("/api/v1/subjects/{id}/consents"),
        format!("/api/v1/subjects/{id}/representatives"),
        format!("/api/v1/subjects/{id}/representatives/{id}"),
        format!("/api/v1/subjects/{id}/block?reason=objection"),
        format!("/api/v1/subjects/{id}/block?reason=%00"),
        format!("/api/v1/subjects/{id}/restrictions/extracurricular"),
        format!("/api/v1/subjects/{id}/restrictions/%00?reason=other"),
        format!("/api/v1/subjects/{id}/flags"),
        format!("/api/v1/subjects/{id}/consents/{id}/receipt?format=html&lang=x"),
        "/.well-known/derbes-receipt-keys.json".to_owned(),
        format!("/api/v1/subjects/{id}/obligations/extracurricular"),
        format!("/api/v1/subjects/{id}/obligations/%E2%80%8B"),
        "/api/v1/decisions".to_owned(),
        "/api/v1/requests".to_owned(),
        "/api/v1/requests?due_within_days=3&overdue=true&limit=5000".to_owned(),
        format!("/api/v1/requests/{request}"),
        format!("/api/v1/requests/{request}/steps"),
        format!("/api/v1/requests/{request}/verification/code"),
        format!("/api/v1/requests/{request}/verification/code/check"),
        format!("/api/v1/requests/{request}/verification/document"),
        format!("/api/v1/requests/{request}/package"),
        format!("/api/v1/subjects/{id}/destruction"),
        format!("/api/v1/webhooks/jobs/{request}"),
        "/policy?lang=ru&format=md".to_owned(),
        "/policy/versions?format=json".to_owned(),
        "/policy/changes?from=x&to=y".to_owned(),
        format!("/policy/versions/{id}"),
        "/policy/documents/consent-forms?version=2025.1&lang=kk".to_owned(),
        format!("/policy/documents/{id}"),
    ];
    let strategy = (
        prop::sample::select(vec!["GET", "POST", "PATCH", "PUT", "DELETE"]),
        prop::sample::select(paths),
        value,
        any::<bool>(),
    );
    let mut runner = TestRunner::new(Config::default());
    (0..500)
        .map(|_| strategy.new_tree(&mut runner).unwrap().current())
        .collect()
}

fn problem_codes(r: &Reply) -> Vec<String> {
    r.body["problems"]
        .as_array()
        .unwrap_or_else(|| panic!("no problems in {}", r.body))
        .iter()
        .map(|x| x["code"].as_str().unwrap().to_owned())
        .collect()
}

fn iin_born(birth: time::Date, sex: Sex) -> String {
    Iin::compose(birth, sex, 77).unwrap().as_str().to_owned()
}

/// A minor's life: the parent is linked and consents on paper, the platform reads, the parent
/// withdraws and the next read is refused; the child comes of age and consents in their own
/// name. Blocking and restriction stop reads and lifting them lets reads go on.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn a_minors_consents_over_the_years(db: TestDb) -> Fut {
    Box::pin(async move {
        use std::sync::atomic::{AtomicI64, Ordering};
        let day = |y, m, d| {
            time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d)
                .unwrap()
                .with_hms(9, 0, 0)
                .unwrap()
                .assume_utc()
                .unix_timestamp()
        };
        let clock_at = Arc::new(AtomicI64::new(day(2026, 11, 21)));
        let reading = Arc::clone(&clock_at);
        let clock: Clock = Arc::new(move || {
            time::OffsetDateTime::from_unix_timestamp(reading.load(Ordering::SeqCst)).unwrap()
        });
        let s = Server::start_with_clock(&db, clock).await;
        let admin = s.admin.clone();
        let platform = s
            .token(Role::Integration, &["extracurricular", "education"])
            .await;
        let birth = time::Date::from_calendar_date(2008, time::Month::December, 1).unwrap();
        let child = s
            .create_student_id(
                &admin,
                json!({ "surname": "Сәрсенбаева", "given_name": "Дана", "iin": iin_born(birth, Sex::Female) }),
            )
            .await;
        let parent = s
            .post(
                "/api/v1/subjects",
                &admin,
                json!({ "category": "legal_representative", "fields": { "surname": "Сәрсенбаев", "given_name": "Ерлан",
                        "iin": iin_born(time::Date::from_calendar_date(1980, time::Month::May, 4).unwrap(), Sex::Male) } }),
            )
            .await;
        assert_eq!(parent.status, 201, "{}", parent.body);
        let parent = parent.body["id"].as_str().unwrap().to_owned();
        let read = |purpose: &'static str| {
            let path = format!("/api/v1/subjects/{child}?purpose={purpose}");
            let token = platform.clone();
            let s = &s;
            async move { s.get(&path, &token).await }
        };
        let consents = format!("/api/v1/subjects/{child}/consents");
        let paper = json!({ "kind": "paper", "evidence_sha256": "5e".repeat(32) });

        // Nothing yet: a consent-based purpose is refused, a contract-based one is not.
        let r = read("extracurricular").await;
        assert_problem(&r, 403, "purpose-denied");
        assert_eq!(reason_codes(&r), ["no_consent"]);
        assert_eq!(read("education").await.status, 200);

        // The child, 17, cannot consent alone; the parent cannot act before being linked.
        let r = s
            .post(&consents, &platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }))
            .await;
        assert_problem(&r, 422, "consent-refused");
        assert_eq!(problem_codes(&r), ["minor_cannot_act_alone"]);
        let by_parent = |action: &str| json!({ "purpose": "extracurricular", "action": action, "representative_id": parent, "method": paper });
        let r = s.post(&consents, &platform, by_parent("give")).await;
        assert_problem(&r, 422, "consent-refused");
        assert_eq!(problem_codes(&r), ["representative_not_linked"]);

        // Linked with the birth certificate, the parent consents on paper.
        let link = json!({ "representative_id": parent, "relation": "parent",
                           "documents": [{ "kind": "birth_certificate", "sha256": "b1".repeat(32) }] });
        let r = s
            .post(
                &format!("/api/v1/subjects/{child}/representatives"),
                &admin,
                link.clone(),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = s
            .get(
                &format!("/api/v1/subjects/{parent}/representatives"),
                &platform,
            )
            .await;
        assert_eq!(
            r.body["represents"][0]["subject_id"],
            child.as_str(),
            "{}",
            r.body
        );
        let r = s.post(&consents, &platform, by_parent("give")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let given = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["given_by"]["relation"], "parent");
        assert!(r.body["terms"]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("health_info")));
        let r = read("extracurricular").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["consent_id"], given.as_str());
        assert!(r.body.get("confirmation_due").is_none());

        // The parent downloads a signed receipt; anyone can check it against the published key.
        let receipt_path = format!("/api/v1/subjects/{child}/consents/{given}/receipt");
        let r = s.get(&receipt_path, &platform).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.content_type, "application/json");
        assert!(r
            .disposition
            .contains(&format!("consent-receipt-{given}.json")));
        assert_eq!(r.body["receipt"]["status"], "active");
        assert_eq!(r.body["receipt"]["pii_principal_id"], child.as_str());
        assert_eq!(r.body["receipt"]["terms"]["third_party_transfer"], true);
        assert_eq!(r.body["receipt"]["event"]["given_by"]["relation"], "parent");
        assert!(r.body["receipt"]["readable"]["kk"]
            .as_str()
            .unwrap()
            .contains("Дербес деректер тізбесі"));
        let published = s
            .call("GET", "/.well-known/derbes-receipt-keys.json", None, None)
            .await;
        assert_eq!(published.status, 200, "{}", published.text);
        let trusted = derbes_service::keys_from_set(&published.body).unwrap();
        let verified = derbes_service::verify_receipt(&r.text, &trusted).unwrap();
        assert_eq!(verified.receipt.consent_record_id.to_string(), given);
        // Any change breaks it; another operator's key is not trusted.
        let forged = r.text.replace(
            "\"third_party_transfer\": true",
            "\"third_party_transfer\": false",
        );
        assert_ne!(forged, r.text);
        assert!(matches!(
            derbes_service::verify_receipt(&forged, &trusted),
            Err(derbes_service::ReceiptCheck::Signature(_))
        ));
        let stranger = KeyRing::generate().unwrap().receipt_signer().public();
        assert!(matches!(
            derbes_service::verify_receipt(&r.text, &[stranger]),
            Err(derbes_service::ReceiptCheck::UntrustedKey(_))
        ));
        // A readable page in the visitor's language, and the text in the one asked for.
        let r = s
            .call_with(
                "GET",
                &format!("{receipt_path}?format=html"),
                Some(&platform),
                None,
                Some(("Accept-Language", "ru-RU,ru;q=0.9,en;q=0.5".into())),
            )
            .await;
        assert_eq!(r.status, 200);
        assert_eq!(r.content_type, "text/html; charset=utf-8");
        assert!(r.text.contains("<html lang=\"ru\">"));
        assert!(r
            .text
            .contains("Квитанция о согласии на сбор и обработку персональных данных"));
        assert!(r.text.contains("законный представитель (родитель)"));
        let r = s
            .get(&format!("{receipt_path}?format=text&lang=en"), &platform)
            .await;
        assert!(r.text.starts_with("Receipt for consent"), "{}", r.text);
        assert_problem(
            &s.get(&format!("{receipt_path}?format=pdf"), &platform)
                .await,
            422,
            "validation",
        );
        assert_problem(
            &s.get(
                &format!("/api/v1/subjects/{child}/consents/{parent}/receipt"),
                &platform,
            )
            .await,
            404,
            "not-found",
        );

        // While the excursion the child is booked on runs, consent cannot be withdrawn (Art. 8(2)).
        let obligation = format!("/api/v1/subjects/{child}/obligations/extracurricular");
        let r = s
            .put(&obligation, &platform, json!({ "note": "экскурсия №3" }))
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .put(
                &obligation,
                &admin,
                json!({ "note": "экскурсия №3", "until": "2026-11-28" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.body["obligations"]["extracurricular"]["until"],
            "2026-11-28"
        );
        let r = s
            .put(
                &format!("/api/v1/subjects/{child}/obligations/education"),
                &admin,
                json!({}),
            )
            .await;
        assert_problem(&r, 422, "validation");
        assert!(r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("withdrawal_obligation"));
        let r = s.post(&consents, &platform, by_parent("withdraw")).await;
        assert_problem(&r, 422, "consent-refused");
        assert_eq!(problem_codes(&r), ["unfulfilled_obligation"]);
        assert_eq!(read("extracurricular").await.status, 200);
        let r = s.delete(&obligation, &admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["obligations"], json!({}));
        assert_problem(&s.delete(&obligation, &admin).await, 409, "conflict");

        // A withdrawal takes effect on the very next read.
        let r = s.post(&consents, &platform, by_parent("withdraw")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = read("extracurricular").await;
        assert_problem(&r, 403, "purpose-denied");
        assert_eq!(reason_codes(&r), ["consent_withdrawn"]);
        let r = s.post(&consents, &platform, by_parent("withdraw")).await;
        assert_eq!(problem_codes(&r), ["nothing_to_withdraw"]);
        // The receipt of the withdrawn consent says so.
        let r = s.get(&receipt_path, &platform).await;
        assert_eq!(r.body["receipt"]["status"], "withdrawn", "{}", r.text);
        // A contract is not withdrawn like a consent (Art. 8(2)).
        let r = s
            .post(&consents, &platform, json!({ "purpose": "education", "action": "withdraw", "representative_id": parent, "method": paper }))
            .await;
        assert_eq!(problem_codes(&r), ["not_consent_based"]);
        let r = s.get(&consents, &platform).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["minor"], true);
        assert_eq!(r.body["history"].as_array().unwrap().len(), 2);
        let status = |body: &Value| {
            body["purposes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["purpose"] == "extracurricular")
                .map(|p| p["status"].as_str().unwrap().to_owned())
        };
        assert_eq!(status(&r.body).as_deref(), Some("withdrawn"));

        // Consent again; the child turns 18 on 2026-12-01: the consent keeps holding and the read
        // asks for the child's confirmation, until the child consents in their own name.
        assert_eq!(
            s.post(&consents, &platform, by_parent("give")).await.status,
            201
        );
        clock_at.store(day(2026, 12, 2), Ordering::SeqCst);
        let r = read("extracurricular").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["confirmation_due"], true);
        let r = s
            .post(&consents, &platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" }, "until": "2027-06-30" }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["given_by"]["kind"], "subject");
        let own = r.body["id"].as_str().unwrap().to_owned();
        let r = read("extracurricular").await;
        assert_eq!(r.body["consent_id"], own.as_str(), "{}", r.body);
        assert!(r.body.get("confirmation_due").is_none());
        let r = s.get(&consents, &platform).await;
        assert_eq!(r.body["minor"], false);
        // The term ends on 2027-06-30.
        clock_at.store(day(2027, 7, 1), Ordering::SeqCst);
        assert_eq!(
            reason_codes(&read("extracurricular").await),
            ["consent_expired"]
        );
        clock_at.store(day(2026, 12, 3), Ordering::SeqCst);

        // Blocking stops every purpose; restriction stops one; lifting lets reads go on.
        let block = format!("/api/v1/subjects/{child}/block");
        let r = s
            .put(&block, &platform, json!({ "reason": "accuracy_contested" }))
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .put(&block, &admin, json!({ "reason": "accuracy_contested", "note": "өтініш №14", "until": "2026-12-10" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["blocked"]["reason"], "accuracy_contested");
        assert_eq!(reason_codes(&read("education").await), ["subject_blocked"]);
        let r = s
            .delete(&format!("{block}?reason=subject_request"), &admin)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["blocked"].is_null());
        let r = s
            .delete(&format!("{block}?reason=subject_request"), &admin)
            .await;
        assert_problem(&r, 409, "conflict");
        let restrict = format!("/api/v1/subjects/{child}/restrictions/extracurricular");
        let r = s
            .put(&restrict, &admin, json!({ "reason": "objection" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            reason_codes(&read("extracurricular").await),
            ["processing_restricted"]
        );
        assert_eq!(read("education").await.status, 200);
        let r = s.delete(&format!("{restrict}?reason=other"), &admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(read("extracurricular").await.status, 200);
        // A block that ran out no longer holds.
        s.put(
            &block,
            &admin,
            json!({ "reason": "subject_request", "until": "2026-12-05" }),
        )
        .await;
        assert_eq!(reason_codes(&read("education").await), ["subject_blocked"]);
        clock_at.store(day(2026, 12, 6), Ordering::SeqCst);
        assert_eq!(read("education").await.status, 200);

        // Bad input is refused with the field named; nothing is recorded.
        let r = s
            .post(&consents, &platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "paper", "evidence_sha256": "not-a-hash" } }))
            .await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "method.evidence_sha256");
        let r = s
            .post(&consents, &platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" }, "until": "2020-01-01" }))
            .await;
        assert_eq!(r.body["errors"][0]["field"], "until", "{}", r.body);
        let r = s
            .post(
                &consents,
                &platform,
                json!({ "purpose": "safety", "action": "give", "method": { "kind": "web" } }),
            )
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .post(
                &consents,
                &platform,
                json!({ "purpose": "extracurricular", "action": "grant" }),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        let r = s
            .post(
                &format!("/api/v1/subjects/{child}/representatives"),
                &admin,
                json!({ "representative_id": child, "relation": "parent", "documents": [] }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s.get(&consents, &platform).await;
        assert_eq!(r.body["history"].as_array().unwrap().len(), 4, "{}", r.body);

        // The trail names every step, and the chain is intact.
        let r = s
            .get(
                &format!("/api/v1/subjects/{child}/audit?limit=1000"),
                &admin,
            )
            .await;
        let actions: Vec<&str> = each(&r.body["events"], "action");
        for a in [
            "representative.link",
            "consent.give",
            "consent.withdraw",
            "subject.block",
            "subject.block.lift",
            "subject.restriction",
            "obligation.record",
            "obligation.fulfil",
            "consent.receipt",
        ] {
            assert!(actions.contains(&a), "{a} missing from {actions:?}");
        }
        let mut v = ChainVerifier::new(0);
        let keys = s.state.app.vault.keys();
        for e in s
            .state
            .app
            .vault
            .store()
            .audit_page(0, 10_000)
            .await
            .unwrap()
        {
            v.push(&e, keys.as_ref()).unwrap();
        }
    })
}

/// Decisions, one or a batch: each answer is the read's decision without the values, and the
/// request is audited before the answers go out.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn decisions_answer_one_question_or_many(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let admin = s.admin.clone();
        let platform = s
            .token(Role::Integration, &["extracurricular", "education"])
            .await;
        let adult = iin_born(
            time::Date::from_calendar_date(2000, time::Month::March, 3).unwrap(),
            Sex::Male,
        );
        let student = s
            .create_student_id(&admin, json!({ "surname": "Бекболатов", "iin": adult }))
            .await;
        let other = s
            .create_student_id(&admin, json!({ "surname": "Ахметова" }))
            .await;
        let r = s
            .post(&format!("/api/v1/subjects/{student}/consents"), &platform,
                  json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let consent = r.body["id"].clone();

        let r = s
            .post("/api/v1/decisions", &platform, json!({ "subject_id": student, "purpose": "extracurricular", "fields": ["surname", "health_info"] }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["allowed"], true);
        assert_eq!(r.body["legal_basis"], "consent");
        assert_eq!(r.body["consent_id"], consent);
        assert_eq!(r.body["fields"], json!(["surname", "health_info"]));

        let missing = uuid::Uuid::now_v7();
        let r = s
            .post(
                "/api/v1/decisions",
                &platform,
                json!({ "decisions": [
                { "subject_id": student, "purpose": "extracurricular" },
                { "subject_id": other, "purpose": "extracurricular" },
                { "subject_id": other, "purpose": "education", "fields": ["surname"] },
                { "subject_id": other, "purpose": "safety" },
                { "subject_id": missing, "purpose": "education" },
                { "subject_id": student, "purpose": "education", "fields": ["salary"] }
            ] }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let answers = r.body["decisions"].as_array().unwrap();
        let codes = |i: usize| -> Vec<&str> {
            answers[i]["reasons"].as_array().map_or(vec![], |a| {
                a.iter().map(|x| x["code"].as_str().unwrap()).collect()
            })
        };
        assert_eq!(answers.len(), 6);
        assert_eq!(answers[0]["allowed"], true);
        assert_eq!(codes(1), ["no_consent"]);
        assert_eq!(answers[2]["allowed"], true);
        assert_eq!(answers[2]["legal_basis"], "contract");
        assert_eq!(codes(3), ["actor_not_allowed_purpose"]);
        assert_eq!(codes(4), ["subject_not_found"]);
        assert!(
            codes(5).contains(&"field_outside_purpose"),
            "{:?}",
            codes(5)
        );

        // A withdrawal shows in the very next decision.
        s.post(&format!("/api/v1/subjects/{student}/consents"), &platform,
               json!({ "purpose": "extracurricular", "action": "withdraw", "method": { "kind": "web" } }))
            .await;
        let r = s
            .post(
                "/api/v1/decisions",
                &platform,
                json!({ "subject_id": student, "purpose": "extracurricular" }),
            )
            .await;
        assert_eq!(r.body["allowed"], false);
        assert_eq!(r.body["reasons"][0]["code"], "consent_withdrawn");

        // Another derbes process on the same database blocks the subject and lifts the block:
        // the decisions here follow at once, although they keep subjects' facts in memory.
        let other = {
            derbes_store::open(&db.url, s.state.app.vault.keys() as derbes_store::Keys)
                .await
                .unwrap()
        };
        let education = || {
            s.post(
                "/api/v1/decisions",
                &platform,
                json!({ "decisions": [{ "subject_id": student, "purpose": "education" }] }),
            )
        };
        assert_eq!(education().await.body["decisions"][0]["allowed"], true);
        let block = |flag: Option<derbes_core::flags::Flag>| derbes_store::WriteOp::SetFlag {
            subject_id: uuid::Uuid::parse_str(&student).unwrap(),
            flag: derbes_store::FlagWrite::Block(flag),
            audit: derbes_core::audit::AuditDraft::new(
                "other-process",
                "subject.block",
                derbes_core::audit::Outcome::Ok,
            ),
        };
        other
            .write(block(Some(derbes_core::flags::Flag {
                reason: derbes_core::flags::FlagReason::AuthorityOrder,
                note: None,
                sealed_note: None,
                until: None,
                set_by: "other-process".into(),
                set_at: time::OffsetDateTime::now_utc(),
            })))
            .await
            .unwrap();
        let r = education().await;
        assert_eq!(
            r.body["decisions"][0]["reasons"][0]["code"], "subject_blocked",
            "{}",
            r.body
        );
        other.write(block(None)).await.unwrap();
        assert_eq!(education().await.body["decisions"][0]["allowed"], true);
        drop(other);

        // The audit holds the single decisions under the subject and the batch as one event.
        let r = s
            .get(&format!("/api/v1/subjects/{student}/audit"), &admin)
            .await;
        let decisions: Vec<&Value> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "decision" && e["purpose"] == "extracurricular")
            .collect();
        assert_eq!(decisions.len(), 2, "{}", r.body);
        assert_eq!(decisions[1]["reason"], "consent_withdrawn");
        let r = s.get("/api/v1/audit?limit=1000", &admin).await;
        let batch = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "decisions")
            .unwrap()
            .clone();
        let details: Value = serde_json::from_str(batch["details"].as_str().unwrap()).unwrap();
        assert_eq!(details["count"], 6);
        assert_eq!(details["refused"], 4);
        assert_eq!(details["answers"][4][2], "subject_not_found");

        // Malformed questions name the one at fault; empty and oversized batches are refused.
        let r = s
            .post("/api/v1/decisions", &platform, json!({ "decisions": [
                { "subject_id": student, "purpose": "education" }, { "subject_id": "061211600012", "purpose": "education" } ] }))
            .await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "decisions[1]");
        assert!(!r.body.to_string().contains("061211600012"), "{}", r.body);
        let r = s
            .post("/api/v1/decisions", &platform, json!({ "decisions": [] }))
            .await;
        assert_problem(&r, 422, "validation");
        let many: Vec<Value> = (0..1001)
            .map(|_| json!({ "subject_id": student, "purpose": "education" }))
            .collect();
        let r = s
            .post("/api/v1/decisions", &platform, json!({ "decisions": many }))
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(
                "/api/v1/decisions",
                &platform,
                json!({ "decisions": [], "x": 1 }),
            )
            .await;
        assert_problem(&r, 422, "validation");
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn requests_from_intake_to_completion(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let admin = s.admin.clone();
        let dpo = s.token(Role::Dpo, &[]).await;
        let staff = s.token(Role::Staff, &["education"]).await;
        let auditor = s.token(Role::Auditor, &[]).await;
        let child = s
            .create_student_id(
                &admin,
                json!({ "surname": "Сәрсенбаева", "given_name": "Дана", "email": "dana@mail.kz" }),
            )
            .await;
        let parent = s
            .post(
                "/api/v1/subjects",
                &admin,
                json!({ "category": "legal_representative",
                   "fields": { "surname": "Сәрсенбаев", "email": "ata@mail.kz" } }),
            )
            .await;
        assert_eq!(parent.status, 201, "{}", parent.body);
        let parent = parent.body["id"].as_str().unwrap().to_owned();

        // A parent who is not linked cannot file for the child.
        let filing = json!({ "kind": "blocking", "subject_id": child, "representative_id": parent,
                             "channel": "online", "language": "kk", "details": "Деректерді тексеру кезінде бұғаттауды сұраймын" });
        let r = s.post("/api/v1/requests", &staff, filing.clone()).await;
        assert_problem(&r, 404, "not-found");
        let link = json!({ "representative_id": parent, "relation": "parent",
                           "documents": [{ "kind": "birth_certificate", "sha256": "b1".repeat(32) }] });
        let r = s
            .post(
                &format!("/api/v1/subjects/{child}/representatives"),
                &admin,
                link,
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);

        // Intake: the due date is fixed and explained.
        let r = s.post("/api/v1/requests", &staff, filing.clone()).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["status"], "received");
        assert_eq!(
            r.body["requester"],
            json!({ "kind": "representative", "id": parent })
        );
        assert_eq!(
            r.body["due"]["rule"],
            json!({ "days": 1, "calendar": "working" })
        );
        assert_eq!(r.body["due"]["rule_source"], "declaration");
        assert_eq!(r.body["due"]["calendar"]["name"], "KZ");
        assert!(r.body["due"]["explanation"]["kk"]
            .as_str()
            .unwrap()
            .contains("1 жұмыс күні"));
        assert!(r.body["due"]["explanation"]["ru"]
            .as_str()
            .unwrap()
            .contains("1 рабочий день"));
        assert_eq!(r.body["overdue"], false);
        // Staff see the register's facts; the requester's words are for the DPO.
        assert!(r.body["details"].is_null(), "{}", r.body);
        let read = s.get(&format!("/api/v1/requests/{id}"), &dpo).await;
        assert_eq!(
            read.body["details"],
            "Деректерді тексеру кезінде бұғаттауды сұраймын"
        );
        let kinds: Vec<&str> = each(&r.body["actions"], "kind");
        assert_eq!(kinds, ["block", "answer"]);

        // The same request again is a duplicate; filed anyway on purpose, it says so.
        let r = s.post("/api/v1/requests", &staff, filing.clone()).await;
        assert_problem(&r, 409, "conflict");
        assert_eq!(r.body["existing_request_id"], id.as_str());
        let mut again = filing.clone();
        again["allow_duplicate"] = json!(true);
        let r = s.post("/api/v1/requests", &staff, again).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["duplicate_of"], id.as_str());
        let dup = r.body["id"].as_str().unwrap().to_owned();
        let r = s
            .post(
                &format!("/api/v1/requests/{dup}/steps"),
                &dpo,
                json!({ "step": "reject", "reason": "duplicate" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "rejected");
        // Nothing moves a rejected request.
        let r = s
            .post(
                &format!("/api/v1/requests/{dup}/steps"),
                &dpo,
                json!({ "step": "submit" }),
            )
            .await;
        assert_problem(&r, 409, "request-step");

        // No approval before the requester is verified.
        let steps = format!("/api/v1/requests/{id}/steps");
        let r = s.post(&steps, &dpo, json!({ "step": "submit" })).await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "wrong_status");

        // A one-time code goes to the parent's e-mail on file, never the child's.
        let r = s
            .post(
                &format!("/api/v1/requests/{id}/verification/code"),
                &staff,
                json!({}),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["sent_to"], "a***@m***.kz");
        assert_eq!(r.body["sends_left"], 2);
        let (to, body) = last_mail(&s.outbox);
        assert_eq!(to, "ata@mail.kz");
        assert!(body.contains("растау коды"), "{body}");
        let code = six_digits(&body);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let check = format!("/api/v1/requests/{id}/verification/code/check");
        let r = s.post(&check, &staff, json!({ "code": wrong })).await;
        assert_problem(&r, 422, "one-time-code");
        assert_eq!(r.body["attempts_left"], 4);
        let r = s.post(&check, &staff, json!({ "code": code })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "identity_verified");
        assert_eq!(r.body["verification"]["method"], "one_time_code");
        assert_eq!(r.body["verification"]["field"], "email");
        // A used code does not verify again.
        let r = s.post(&check, &staff, json!({ "code": code })).await;
        assert_problem(&r, 409, "conflict");

        // Staff submit; staff cannot approve; the DPO approves and the block is set.
        let r = s.post(&steps, &staff, json!({ "step": "submit" })).await;
        assert_eq!(r.body["status"], "awaiting_approval", "{}", r.body);
        let r = s.post(&steps, &staff, json!({ "step": "approve" })).await;
        assert_problem(&r, 403, "forbidden");
        let until = (time::OffsetDateTime::now_utc().date() + time::Duration::days(10)).to_string();
        let r = s
            .post(&steps, &dpo, json!({ "step": "approve", "until": until }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "in_progress");
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert_eq!(r.body["actions"][1]["status"], "pending");
        let flags = s
            .get(&format!("/api/v1/subjects/{child}/flags"), &admin)
            .await;
        assert_eq!(
            flags.body["blocked"]["reason"], "subject_request",
            "{}",
            flags.body
        );
        assert_eq!(flags.body["blocked"]["until"], until.as_str());

        // Completion waits for the answer.
        let r = s.post(&steps, &dpo, json!({ "step": "complete" })).await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "actions_pending");
        let r = s
            .post(
                &steps,
                &dpo,
                json!({ "step": "record_answer", "reference": "" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(
                &steps,
                &dpo,
                json!({ "step": "record_answer", "reference": "№ 01-12/345" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s.post(&steps, &dpo, json!({ "step": "complete" })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "completed");
        let history: Vec<&str> = each(&r.body["history"], "step");
        assert_eq!(
            history,
            ["file", "verify_identity", "submit", "approve", "complete"]
        );

        // The auditor sees the request without the requester's words.
        let r = s.get(&format!("/api/v1/requests/{id}"), &auditor).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.get("details").is_none());

        // Paper: a restriction needs its purpose; staff check the document; a withdrawal.
        let paper = json!({ "kind": "restriction", "subject_id": child, "channel": "paper", "language": "ru" });
        let r = s.post("/api/v1/requests", &staff, paper.clone()).await;
        assert_problem(&r, 422, "validation");
        assert!(r.body["detail"].as_str().unwrap().contains("purpose"));
        let mut paper = paper;
        paper["purpose"] = json!("nonexistent");
        let r = s.post("/api/v1/requests", &staff, paper.clone()).await;
        assert_eq!(r.status, 422, "{}", r.body);
        paper["purpose"] = json!("extracurricular");
        paper["received_at"] = json!("2099-01-01T00:00:00Z");
        let r = s.post("/api/v1/requests", &staff, paper.clone()).await;
        assert_problem(&r, 422, "validation");
        paper["received_at"] = json!("2026-11-20T10:00:00+05:00");
        let r = s.post("/api/v1/requests", &staff, paper.clone()).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let paper_id = r.body["id"].as_str().unwrap().to_owned();
        // Friday 20 November 2026, one working day: Monday 23 November.
        assert_eq!(r.body["due"]["due_on"], "2026-11-23");
        let r = s
            .post(
                &format!("/api/v1/requests/{paper_id}/verification/document"),
                &staff,
                json!({ "document": "id_card", "note": "Жеке куәлік тексерілді" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["verification"]["method"], "document");
        // The note is sealed with the request: the DPO reads it, staff see that it was checked.
        assert!(r.body["verification_note"].is_null(), "{}", r.body);
        let read = s.get(&format!("/api/v1/requests/{paper_id}"), &dpo).await;
        assert_eq!(read.body["verification_note"], "Жеке куәлік тексерілді");
        let r = s
            .post(
                &format!("/api/v1/requests/{paper_id}/steps"),
                &staff,
                json!({ "step": "withdraw" }),
            )
            .await;
        assert_eq!(r.body["status"], "withdrawn", "{}", r.body);

        // Lists: open by default, due soon, overdue, by subject.
        let r = s.get("/api/v1/requests", &dpo).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body.as_array().unwrap().len(), 0, "{}", r.body);
        let r = s
            .get(
                &format!("/api/v1/requests?subject_id={child}&open=false"),
                &dpo,
            )
            .await;
        assert_eq!(r.body.as_array().unwrap().len(), 3, "{}", r.body);
        let r = s.post("/api/v1/requests", &staff, json!({ "kind": "information", "subject_id": child, "channel": "email", "language": "en" })).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let info = r.body["id"].as_str().unwrap().to_owned();
        let r = s.get("/api/v1/requests?due_within_days=30", &staff).await;
        assert_eq!(r.body[0]["id"], info.as_str(), "{}", r.body);
        assert!(r.body[0].get("details").is_none());
        // A look ahead beyond any date is refused, not a panic.
        assert_problem(
            &s.get("/api/v1/requests?due_within_days=4000000000", &staff)
                .await,
            422,
            "validation",
        );
        let r = s.get("/api/v1/requests?overdue=true", &auditor).await;
        assert_eq!(r.body.as_array().unwrap().len(), 0);
        let r = s.get("/api/v1/requests?limit=0", &dpo).await;
        assert_problem(&r, 422, "validation");
        let r = s.get("/api/v1/requests?status=nonsense", &dpo).await;
        assert_problem(&r, 400, "bad-request");
        let r = s
            .get(&format!("/api/v1/requests/{}", uuid::Uuid::now_v7()), &dpo)
            .await;
        assert_problem(&r, 404, "not-found");
        let platform = s.token(Role::Integration, &["education"]).await;
        let r = s.get("/api/v1/requests", &platform).await;
        assert_problem(&r, 403, "forbidden");

        // Every step is in the audit chain under the subject, without the requester's words.
        let audit = s
            .get(&format!("/api/v1/subjects/{child}/audit"), &admin)
            .await;
        let actions: Vec<&str> = each(&audit.body["events"], "action");
        for a in [
            "request.file",
            "request.code.send",
            "request.verify_identity",
            "request.approve",
            "subject.block",
            "request.action",
            "request.complete",
            "request.withdraw",
        ] {
            assert!(actions.contains(&a), "{a} missing from {actions:?}");
        }
        assert!(!audit.text.contains("бұғаттауды") && !audit.text.contains("ata@mail.kz"));

        // The subject asks for what already holds (the block lifted by staff meanwhile, a
        // consent never given): the actions are done, and say so, rather than failing for good.
        let r = s
            .delete(
                &format!("/api/v1/subjects/{child}/block?reason=subject_request"),
                &admin,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (_, r) = s
            .approved_request(
                &staff,
                &dpo,
                json!({ "kind": "unblocking", "subject_id": child, "channel": "paper", "language": "ru" }),
            )
            .await;
        assert_eq!(r.body["actions"][0]["kind"], "unblock", "{}", r.body);
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert_eq!(r.body["actions"][0]["note"], "no block was in force");
        let (_, r) = s
            .approved_request(
                &staff,
                &dpo,
                json!({ "kind": "consent_withdrawal", "subject_id": child, "purpose": "extracurricular",
                        "channel": "paper", "language": "ru" }),
            )
            .await;
        assert_eq!(
            r.body["actions"][0]["kind"], "withdraw_consent",
            "{}",
            r.body
        );
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert_eq!(
            r.body["actions"][0]["note"],
            "no consent to the purpose was in force"
        );
    })
}

impl Server {
    /// Files a request as staff, verifies the requester by an identity document, submits it
    /// and has the DPO approve it: the request id and the approval's answer.
    async fn approved_request(&self, staff: &str, dpo: &str, filing: Value) -> (String, Reply) {
        let r = self.post("/api/v1/requests", staff, filing).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .post(
                &format!("/api/v1/requests/{id}/verification/document"),
                staff,
                json!({ "document": "id_card" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let steps = format!("/api/v1/requests/{id}/steps");
        let r = self.post(&steps, staff, json!({ "step": "submit" })).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = self.post(&steps, dpo, json!({ "step": "approve" })).await;
        assert_eq!(r.body["status"], "in_progress", "{}", r.body);
        (id, r)
    }
}

/// The files of a zip, by name.
fn unzip(bytes: &[u8]) -> std::collections::BTreeMap<String, Vec<u8>> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut files = std::collections::BTreeMap::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        f.read_to_end(&mut content).unwrap();
        files.insert(f.name().unwrap().into_owned(), content);
    }
    files
}

/// Now, moved on by as many seconds as the returned counter holds.
fn shifted_clock() -> (Arc<std::sync::atomic::AtomicI64>, Clock) {
    let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
    let reading = Arc::clone(&offset);
    let clock: Clock = Arc::new(move || {
        time::OffsetDateTime::now_utc()
            + time::Duration::seconds(reading.load(std::sync::atomic::Ordering::SeqCst))
    });
    (offset, clock)
}

/// An access request, a rectification with evidence and a destruction, from intake to answer;
/// the access package expires; the destroyed subject is gone everywhere but the audit.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn access_rectification_and_destruction(db: TestDb) -> Fut {
    Box::pin(async move {
        use std::sync::atomic::Ordering;
        let (offset, clock) = shifted_clock();
        let s = Server::start_with_clock(&db, clock).await;
        let admin = s.admin.clone();
        let dpo = s.token(Role::Dpo, &[]).await;
        let staff = s.token(Role::Staff, &["education"]).await;
        let platform = s
            .token(Role::Integration, &["extracurricular", "education"])
            .await;
        let iin = iin_born(
            time::Date::from_calendar_date(2000, time::Month::March, 15).unwrap(),
            Sex::Female,
        );
        let subject = s
            .create_student_id(
                &admin,
                json!({ "surname": "Сәрсенбаева", "given_name": "Дана <b>", "iin": iin, "email": "dana@mail.kz", "address": "=HYPERLINK(\"http://x.kz\") Абай даңғылы" }),
            )
            .await;
        // The school platform holds the same student under her IIN, and someone else.
        let platform_db = rusqlite::Connection::open(&s.platform).unwrap();
        platform_db
            .execute_batch(&format!(
                "INSERT INTO users VALUES (1, '{iin}', 'Сәрсенбаева Дана (платформа)', 'dana.platform@mail.kz'), (2, '760212350620', 'Оспанов Ерлан', 'erlan@mail.kz');
                 INSERT INTO grades VALUES (1, 1, 'Алгебра', 5), (2, 1, 'Физика', 4), (3, 2, 'Химия', 3);"
            ))
            .unwrap();
        let consents = format!("/api/v1/subjects/{subject}/consents");
        let r = s
            .post(&consents, &platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let consent_id = r.body["id"].as_str().unwrap().to_owned();
        let r = s
            .get(
                &format!("/api/v1/subjects/{subject}?purpose=education"),
                &staff,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);

        // Access: verified on paper, submitted by the DPO, approved by another person.
        let file = |kind: &str, language: &str| json!({ "kind": kind, "subject_id": subject, "channel": "paper", "language": language });
        let r = s
            .post("/api/v1/requests", &staff, file("access_export", "ru"))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let access = r.body["id"].as_str().unwrap().to_owned();
        let steps = |id: &str| format!("/api/v1/requests/{id}/steps");
        let verify = |id: &str| format!("/api/v1/requests/{id}/verification/document");
        let r = s
            .post(&verify(&access), &staff, json!({ "document": "id_card" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s
            .post(&steps(&access), &dpo, json!({ "step": "submit" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let package = format!("/api/v1/requests/{access}/package");
        let r = s.get(&package, &dpo).await;
        assert_problem(&r, 410, "package-gone");
        // Four eyes: whoever submitted cannot approve.
        let r = s
            .post(&steps(&access), &dpo, json!({ "step": "approve" }))
            .await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "same_approver", "{}", r.body);
        let r = s
            .post(&steps(&access), &admin, json!({ "step": "approve" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["actions"][0]["kind"], "export");
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert!(
            r.body["actions"][0]["note"]
                .as_str()
                .unwrap()
                .starts_with("access package built: 5 fields, 1 consents"),
            "{}",
            r.body
        );

        let r = s.get(&package, &staff).await;
        assert_problem(&r, 403, "forbidden");
        let r = s.get(&package, &dpo).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.content_type, "application/zip");
        assert_eq!(
            r.disposition,
            format!("attachment; filename=\"derbes-access-{access}.zip\"")
        );
        let files = unzip(&r.bytes);
        let names: Vec<&str> = files.keys().map(String::as_str).collect();
        let receipt_name = format!("receipts/{consent_id}.json");
        for n in [
            "data.json",
            "report.html",
            "fields.csv",
            "purposes.csv",
            "consents.csv",
            "access-history.csv",
            "connectors/platform.json",
            receipt_name.as_str(),
        ] {
            assert!(names.contains(&n), "{n} missing from {names:?}");
        }
        let data: Value = serde_json::from_slice(&files["data.json"]).unwrap();
        assert_eq!(data["format"], "derbes-access-package/1");
        // The platform's rows of the subject, and nobody else's.
        let platform_part = &data["connectors"][0];
        assert_eq!(platform_part["connector"], "platform");
        assert_eq!(platform_part["tables"][0]["table"], "grades");
        assert_eq!(
            platform_part["tables"][0]["rows"].as_array().unwrap().len(),
            2
        );
        assert_eq!(
            platform_part["tables"][1]["rows"][0][1],
            "Сәрсенбаева Дана (платформа)"
        );
        assert!(!serde_json::to_string(&data).unwrap().contains("Оспанов"));
        assert_eq!(data["language"], "ru");
        let surname = data["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "surname")
            .unwrap();
        assert_eq!(surname["value"], "Сәрсенбаева");
        assert_eq!(surname["source_label"], "от самого субъекта");
        assert!(surname["purposes"]
            .as_array()
            .unwrap()
            .contains(&json!("education")));
        let education = data["purposes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["key"] == "education")
            .unwrap();
        assert!(
            education["legal_basis_label"]
                .as_str()
                .unwrap()
                .contains("договора"),
            "{education}"
        );
        assert_eq!(data["consents"][0]["event"]["id"], consent_id.as_str());
        let history: Vec<&str> = each(&data["access_history"], "action");
        for a in [
            "subject.create",
            "consent.give",
            "subject.read",
            "request.file",
        ] {
            assert!(history.contains(&a), "{a} missing from {history:?}");
        }
        let fields_csv = String::from_utf8(files["fields.csv"].clone()).unwrap();
        assert!(
            fields_csv.starts_with("key,label,value,source,purposes\n"),
            "{fields_csv}"
        );
        assert!(fields_csv.contains("Сәрсенбаева"));
        // A value a spreadsheet would run as a formula is written as text.
        assert!(fields_csv.contains("'=HYPERLINK"), "{fields_csv}");
        assert!(
            !fields_csv.contains(",=HYPERLINK") && !fields_csv.contains("\"=HYPERLINK"),
            "{fields_csv}"
        );
        let report = String::from_utf8(files["report.html"].clone()).unwrap();
        assert!(report.contains("<html lang=\"ru\">"));
        assert!(report.contains("Персональные данные, которые хранятся о вас"));
        assert!(report.contains("Дана &lt;b&gt;") && !report.contains("Дана <b>"));
        assert!(!report.contains("<script"));
        // Each receipt verifies against the operator's published key.
        let keys = derbes_service::keys_from_set(&derbes_service::published_keys(
            &s.state.app.vault.keys(),
        ))
        .unwrap();
        let receipt = String::from_utf8(files[&receipt_name].clone()).unwrap();
        assert!(derbes_service::verify_receipt(&receipt, &keys).is_ok());

        // The written answer, in Russian, to the e-mail on file; sent once.
        let answer = format!("/api/v1/requests/{access}/answer");
        // The letter (with the DPO's own words) is the DPO's to read.
        assert_eq!(s.get(&answer, &staff).await.status, 403);
        let r = s.get(&answer, &dpo).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (r.body["sent"].clone(), r.body["to"].clone()),
            (json!(false), json!("d***@m***.kz"))
        );
        let letter = r.body["body"].as_str().unwrap();
        assert!(
            letter.contains("доступ к персональным данным и предоставление их копии"),
            "{letter}"
        );
        assert!(
            letter.contains("подготовлена копия ваших персональных данных")
                && letter.contains("доступна до"),
            "{letter}"
        );
        assert!(
            letter.contains("уполномоченный орган в сфере защиты персональных данных"),
            "{letter}"
        );
        // A delivery that fails sends nothing and keeps nothing back: the answer can be sent
        // again at once.
        let mails = |outbox: &std::path::Path| {
            std::fs::read_dir(outbox)
                .map(|d| {
                    d.filter(|e| {
                        e.as_ref()
                            .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    })
                    .count()
                })
                .unwrap_or(0)
        };
        let before = mails(&s.outbox);
        let aside = s.outbox.with_extension("aside");
        let had_outbox = s.outbox.exists();
        if had_outbox {
            std::fs::rename(&s.outbox, &aside).unwrap();
        }
        std::fs::write(&s.outbox, b"not a directory").unwrap();
        let r = s
            .post(&steps(&access), &dpo, json!({ "step": "send_answer" }))
            .await;
        assert_problem(&r, 503, "unavailable");
        std::fs::remove_file(&s.outbox).unwrap();
        if had_outbox {
            std::fs::rename(&aside, &s.outbox).unwrap();
        }
        let r = s.get(&format!("/api/v1/requests/{access}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "pending", "{}", r.body);
        // Two sends at once: one e-mail, and the other call is told why not.
        let send = steps(&access);
        let (a, b) = tokio::join!(
            s.post(&send, &dpo, json!({ "step": "send_answer" })),
            s.post(&send, &dpo, json!({ "step": "send_answer" }))
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 409], "{} {}", a.body, b.body);
        assert_eq!(mails(&s.outbox), before + 1);
        let r = if a.status == 200 { a } else { b };
        assert_eq!(r.body["actions"][1]["status"], "done");
        assert_eq!(
            r.body["actions"][1]["note"],
            "sent by e-mail to d***@m***.kz"
        );
        let (to, mail) = last_mail(&s.outbox);
        assert_eq!(to, "dana@mail.kz");
        assert!(
            mail.contains(&access) && mail.contains("Уважаемый заявитель"),
            "{mail}"
        );
        let r = s
            .post(&steps(&access), &dpo, json!({ "step": "send_answer" }))
            .await;
        assert_problem(&r, 409, "conflict");
        let r = s
            .post(&steps(&access), &dpo, json!({ "step": "complete" }))
            .await;
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        let r = s.get(&answer, &dpo).await;
        assert_eq!(r.body["sent"], true);
        assert_eq!(r.body["body"].as_str().unwrap(), letter);

        // Rectification: the corrected value is checked against evidence, validated, applied.
        let (rect, r) = s
            .approved_request(&staff, &dpo, file("rectification", "kk"))
            .await;
        assert_eq!(r.body["actions"][0]["status"], "pending");
        let r = s.post(&steps(&rect), &dpo, json!({ "step": "rectify", "fields": { "email": "not-an-email" }, "evidence": "Жеке куәлік" })).await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(
                &steps(&rect),
                &dpo,
                json!({ "step": "rectify", "fields": { "surname": "Әлиева" }, "evidence": " " }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s.post(&steps(&rect), &staff, json!({ "step": "rectify", "fields": { "surname": "Әлиева" }, "evidence": "Жеке куәлік" })).await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .post(&steps(&rect), &dpo, json!({ "step": "rectify", "fields": { "surname": "Әлиева" }, "evidence": "Неке туралы куәлік № 123" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["actions"][0]["status"], "done");
        assert_eq!(r.body["actions"][0]["note"], "rectified: surname");
        assert_eq!(r.body["evidence"], "Неке туралы куәлік № 123");
        let r = s
            .post(
                &steps(&rect),
                &dpo,
                json!({ "step": "rectify", "fields": { "surname": "Басқа" }, "evidence": "x" }),
            )
            .await;
        assert_problem(&r, 409, "conflict");
        let r = s
            .get(
                &format!("/api/v1/subjects/{subject}?purpose=education"),
                &staff,
            )
            .await;
        assert_eq!(r.body["fields"]["surname"], "Әлиева", "{}", r.body);

        // Destruction: refused while an obligation is open, done once it is fulfilled.
        let obligation = format!("/api/v1/subjects/{subject}/obligations/extracurricular");
        let r = s
            .put(&obligation, &admin, json!({ "note": "экскурсия" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (destroy, r) = s
            .approved_request(&staff, &dpo, file("destruction", "en"))
            .await;
        // A failed action says why, and the subject's data are all still there.
        let failed_for = |r: &Reply, why: &str| {
            assert_eq!(r.body["status"], "in_progress", "{}", r.body);
            assert_eq!(r.body["actions"][0]["status"], "failed", "{}", r.body);
            let note = r.body["actions"][0]["note"].as_str().unwrap();
            assert!(note.contains(why), "{note}");
        };
        let read_path = format!("/api/v1/subjects/{subject}?purpose=education");
        failed_for(&r, "obligation");
        assert_eq!(s.get(&read_path, &staff).await.status, 200);
        let r = s.delete(&obligation, &admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // The platform's database refuses (a table is missing): nothing is destroyed anywhere,
        // the request stays in progress with the connector's error.
        platform_db
            .execute_batch("ALTER TABLE grades RENAME TO grades_moved")
            .unwrap();
        let r = s
            .post(&steps(&destroy), &dpo, json!({ "step": "run_actions" }))
            .await;
        failed_for(&r, "connector `platform`: table `grades`");
        assert_eq!(s.get(&read_path, &staff).await.status, 200);
        let held: i64 = platform_db
            .query_row(
                "SELECT COUNT(*) FROM users WHERE iin IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(held, 2);
        platform_db
            .execute_batch("ALTER TABLE grades_moved RENAME TO grades")
            .unwrap();
        let r = s
            .post(&steps(&destroy), &dpo, json!({ "step": "run_actions" }))
            .await;
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert!(
            r.body["actions"][0]["note"]
                .as_str()
                .unwrap()
                .starts_with("destroyed by crypto-shredding"),
            "{}",
            r.body
        );

        // Gone everywhere: reads, lookups, consents, the package; the record says what went.
        let r = s
            .get(
                &format!("/api/v1/subjects/{subject}?purpose=education"),
                &staff,
            )
            .await;
        assert_problem(&r, 410, "destroyed");
        assert_eq!(r.body["destruction"]["request_id"], destroy.as_str());
        let r = s
            .post(
                "/api/v1/lookup",
                &admin,
                json!({ "field": "iin", "value": iin, "purpose": "education" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["subjects"], json!([]), "{}", r.body);
        let r = s.get(&consents, &admin).await;
        assert_problem(&r, 410, "destroyed");
        let r = s.get(&package, &dpo).await;
        assert_problem(&r, 410, "package-gone");
        let r = s
            .get(&format!("/api/v1/subjects/{subject}/destruction"), &dpo)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["category"], "student");
        assert_eq!(r.body["removed"]["consent_events"], 1);
        assert_eq!(r.body["removed"]["packages"], 1);
        assert_eq!(
            r.body["connectors"],
            json!([{ "connector": "platform", "tables": [["grades", "deleted", 2], ["users", "masked", 1]] }])
        );
        // In the platform: her grades are gone, her row keeps no identifier, name or e-mail;
        // the other student is untouched.
        let grades: Vec<i64> = platform_db
            .prepare("SELECT user_id FROM grades")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(grades, [2]);
        let (left_iin, left_name, left_email): (Option<String>, String, String) = platform_db
            .query_row(
                "SELECT iin, full_name, email FROM users WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((left_iin, left_name.as_str()), (None, "[redacted]"));
        assert_eq!(left_email.len(), 64);
        assert!(r.body["fields"].as_array().unwrap().contains(&json!("iin")));
        assert!(!r.text.contains("Әлиева") && !r.text.contains(&iin));
        let r = s
            .get(
                &format!("/api/v1/subjects/{}/destruction", uuid::Uuid::now_v7()),
                &dpo,
            )
            .await;
        assert_problem(&r, 404, "not-found");
        let r = s
            .get(&format!("/api/v1/subjects/{subject}/destruction"), &staff)
            .await;
        assert_problem(&r, 403, "forbidden");
        // The audit keeps what happened, never a value; the request keeps the requester's words.
        let audit = s
            .get(&format!("/api/v1/subjects/{subject}/audit"), &admin)
            .await;
        assert!(audit.text.contains("subject.destroy"));
        assert!(
            !audit.text.contains("Әлиева")
                && !audit.text.contains("Сәрсенбаева")
                && !audit.text.contains(&iin)
        );
        // The answer still reaches the requester: the address was kept, sealed, at approval.
        let r = s
            .post(&steps(&destroy), &dpo, json!({ "step": "send_answer" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (to, mail) = last_mail(&s.outbox);
        assert_eq!(to, "dana@mail.kz");
        assert!(mail.contains("your personal data were destroyed"), "{mail}");
        let r = s
            .post(&steps(&destroy), &dpo, json!({ "step": "complete" }))
            .await;
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        // The log outside the database holds the record, under the installation's MAC.
        let log = std::fs::read_to_string(s.outbox.with_extension("destructions.log")).unwrap();
        assert_eq!(log.lines().count(), 1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode =
                |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&s.outbox.with_extension("destructions.log")), 0o600);
            assert_eq!(mode(&s.outbox), 0o700, "the outbox is the server's alone");
            for mail in std::fs::read_dir(&s.outbox).unwrap() {
                assert_eq!(mode(&mail.unwrap().path()), 0o600);
            }
        }
        assert!(log.contains(&subject) && !log.contains(&iin));

        // A package expires: refused after its time, and swept.
        let other = s
            .create_student_id(&admin, json!({ "surname": "Оспанов" }))
            .await;
        let (second, r) = s
            .approved_request(
                &staff,
                &dpo,
                json!({ "kind": "access_export", "subject_id": other, "channel": "online", "language": "kk" }),
            )
            .await;
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        let package = format!("/api/v1/requests/{second}/package");
        let report =
            String::from_utf8(unzip(&s.get(&package, &dpo).await.bytes)["report.html"].clone())
                .unwrap();
        assert!(
            report.contains("<html lang=\"kk\">")
                && report.contains("Сіз туралы сақталатын дербес деректер")
        );
        assert_eq!(
            s.state
                .app
                .requests
                .delete_expired_packages()
                .await
                .unwrap(),
            0
        );
        offset.store(31 * 86_400, Ordering::SeqCst);
        // An information answer lists the purposes; with no e-mail on file it is printed.
        let (info, _) = s
            .approved_request(
                &staff,
                &dpo,
                json!({ "kind": "information", "subject_id": other, "channel": "paper", "language": "ru" }),
            )
            .await;
        let r = s
            .get(&format!("/api/v1/requests/{info}/answer"), &dpo)
            .await;
        assert!(r.body.get("to").is_none(), "{}", r.body);
        let letter = r.body["body"].as_str().unwrap();
        assert!(
            letter.contains(
                "Обеспечение образовательного процесса: правовое основание — исполнение договора"
            ),
            "{letter}"
        );
        let r = s
            .post(
                &steps(&info),
                &dpo,
                json!({ "step": "send_answer", "text": "x".repeat(4001) }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(&steps(&info), &dpo, json!({ "step": "send_answer" }))
            .await;
        assert_problem(&r, 409, "conflict");
        assert!(
            r.body["detail"].as_str().unwrap().contains("record_answer"),
            "{}",
            r.body
        );
        let r = s.get(&package, &dpo).await;
        assert_problem(&r, 410, "package-gone");
        assert_eq!(
            s.state
                .app
                .requests
                .delete_expired_packages()
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            s.state
                .app
                .requests
                .delete_expired_packages()
                .await
                .unwrap(),
            0
        );
    })
}

/// A message as the receiver got it: headers and body.
type Received = (axum::http::HeaderMap, Vec<u8>);

/// The operator's system behind a webhook: records what it receives and answers as told
/// (0: accepted, confirms later; 1: fails with 500; 2: done at once).
struct Receiver {
    url: String,
    got: Arc<std::sync::Mutex<Vec<Received>>>,
    mode: Arc<std::sync::atomic::AtomicU8>,
}

impl Receiver {
    async fn start() -> Self {
        use std::sync::atomic::Ordering;
        let got: Arc<std::sync::Mutex<Vec<Received>>> = Arc::default();
        let mode = Arc::new(std::sync::atomic::AtomicU8::new(0));
        let (g, m) = (Arc::clone(&got), Arc::clone(&mode));
        let app = axum::Router::new().route(
            "/derbes",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (g, m) = (Arc::clone(&g), Arc::clone(&m));
                    async move {
                        g.lock().unwrap().push((headers, body.to_vec()));
                        match m.load(Ordering::SeqCst) {
                            0 => (axum::http::StatusCode::ACCEPTED, "{}".to_owned()),
                            1 => (
                                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                                "down".to_owned(),
                            ),
                            _ => (
                                axum::http::StatusCode::OK,
                                r#"{"status":"done"}"#.to_owned(),
                            ),
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/derbes", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, std::sync::atomic::Ordering::SeqCst);
    }

    /// The messages received so far: (Idempotency-Key, signature, body as JSON, body).
    fn messages(&self) -> Vec<(String, String, Value, Vec<u8>)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| {
                let header = |n: &str| {
                    h.get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                (
                    header("idempotency-key"),
                    header("x-derbes-signature"),
                    serde_json::from_slice(b).unwrap(),
                    b.clone(),
                )
            })
            .collect()
    }
}

/// A destruction and access requests with a webhook connector: the message is signed and sent
/// again with the same idempotency key until accepted, the request waits for the system's
/// signed confirmation, a refusal fails the action until it is sent again, and a system that
/// never answers is given up with the error shown.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn webhooks_confirm_before_a_request_completes(db: TestDb) -> Fut {
    Box::pin(async move {
        use std::sync::atomic::{AtomicI64, Ordering};
        let (offset, clock) = shifted_clock();
        let now = |o: &AtomicI64| {
            time::OffsetDateTime::now_utc().unix_timestamp() + o.load(Ordering::SeqCst)
        };
        let receiver = Receiver::start().await;
        let secret_text = "lms-shared-secret-0123456789abcdef0123456789";
        let secret = derbes_crypto::WebhookSecret::from_text(secret_text).unwrap();
        let hook = derbes_service::Webhook {
            name: "lms".into(),
            url: receiver.url.clone(),
            secret: secret.clone(),
            events: vec![
                derbes_service::WebhookEvent::Access,
                derbes_service::WebhookEvent::Destruction,
            ],
            identify_by: vec!["iin".into()],
        };
        let s = Server::start_with(&db, clock, vec![hook]).await;
        let (admin, dpo) = (s.admin.clone(), s.token(Role::Dpo, &[]).await);
        let staff = s.token(Role::Staff, &["education"]).await;
        let iins: Vec<String> = (0..4u32)
            .map(|n| {
                iin_born(
                    time::Date::from_calendar_date(2001, time::Month::May, 4 + n as u8).unwrap(),
                    Sex::Male,
                )
            })
            .collect();
        let mut students = Vec::new();
        for iin in &iins {
            students.push(
                s.create_student_id(&admin, json!({ "surname": "Ахметов", "iin": iin }))
                    .await,
            );
        }
        let vault = &s.state.app.vault;
        let requests = &s.state.app.requests;

        // A destruction derbes refuses (an obligation is open) is announced to nobody.
        let obligation = format!(
            "/api/v1/subjects/{}/obligations/extracurricular",
            students[0]
        );
        assert_eq!(s.put(&obligation, &admin, json!({})).await.status, 200);
        let (destroy, r) = s
            .approved_request(&staff, &dpo, json!({ "kind": "destruction", "subject_id": students[0], "channel": "paper", "language": "kk" }))
            .await;
        assert_eq!(r.body["actions"][0]["status"], "failed", "{}", r.body);
        assert!(
            r.body["actions"][0]["note"]
                .as_str()
                .unwrap()
                .contains("obligation"),
            "{}",
            r.body
        );
        assert!(
            r.body["actions"][1]["note"]
                .as_str()
                .unwrap()
                .contains("obligation"),
            "{}",
            r.body
        );
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        assert_eq!(s.delete(&obligation, &admin).await.status, 200);

        // Destruction: the webhook is told, in a write of its own, before derbes shreds its copy.
        let r = s
            .post(
                &format!("/api/v1/requests/{destroy}/steps"),
                &dpo,
                json!({ "step": "run_actions" }),
            )
            .await;
        let kinds: Vec<&str> = each(&r.body["actions"], "kind");
        assert_eq!(kinds, ["webhook", "destroy", "answer"]);
        assert_eq!(r.body["actions"][0]["status"], "waiting", "{}", r.body);
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);
        let job = r.body["actions"][0]["job"].as_str().unwrap().to_owned();

        // The system is down: tried, then again after 30 s, with the same idempotency key.
        receiver.set(1);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        offset.store(31, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let got = receiver.messages();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].0.as_str(), got[1].0.as_str()),
            (job.as_str(), job.as_str())
        );
        let (_, signature, message, body) = &got[1];
        assert_eq!(message["event"], "destruction");
        assert_eq!(message["request_id"], destroy.as_str());
        // The identifiers were kept, sealed, from before the destruction.
        assert_eq!(message["subject"], json!({ "iin": iins[0] }));
        assert_eq!(message["confirm"], format!("/api/v1/webhooks/jobs/{job}"));
        assert!(
            secret.verify(signature, body, now(&offset), 300).is_ok(),
            "{signature}"
        );

        // Accepted: the request waits for the confirmation.
        receiver.set(0);
        offset.store(31 + 61, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let steps = format!("/api/v1/requests/{destroy}/steps");
        s.post(
            &steps,
            &dpo,
            json!({ "step": "record_answer", "reference": "№ 9" }),
        )
        .await;
        let r = s.post(&steps, &dpo, json!({ "step": "complete" })).await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "actions_pending");

        // The confirmation must be signed, and recent.
        let confirm = format!("/api/v1/webhooks/jobs/{job}");
        let done = format!(r#"{{"job":"{job}","status":"done"}}"#).into_bytes();
        let post = |header: Option<String>, body: Vec<u8>| {
            s.call_with(
                "POST",
                &confirm,
                None,
                Some(Body::Raw("application/json", body)),
                header.map(|h| ("X-Derbes-Signature", h)),
            )
        };
        assert_problem(&post(None, done.clone()).await, 401, "webhook-signature");
        let wrong =
            derbes_crypto::WebhookSecret::from_text("another-secret-0123456789abcdef0123456789")
                .unwrap();
        assert_problem(
            &post(Some(wrong.sign(now(&offset), &done)), done.clone()).await,
            401,
            "webhook-signature",
        );
        assert_problem(
            &post(Some(secret.sign(now(&offset) - 3600, &done)), done.clone()).await,
            401,
            "webhook-signature",
        );
        let r = post(
            Some(secret.sign(now(&offset), b"{\"status\":\"maybe\"}")),
            b"{\"status\":\"maybe\"}".to_vec(),
        )
        .await;
        assert_problem(&r, 422, "validation");
        // A confirmation signed for another job does not confirm this one.
        let other = format!(r#"{{"job":"{}","status":"done"}}"#, uuid::Uuid::now_v7()).into_bytes();
        let r = post(Some(secret.sign(now(&offset), &other)), other.clone()).await;
        assert_problem(&r, 422, "validation");
        let r = post(Some(secret.sign(now(&offset), &done)), done.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (r.body["status"].clone(), r.body["attempts"].clone()),
            (json!("confirmed"), json!(3))
        );
        // Said twice, it is the same.
        let r = post(Some(secret.sign(now(&offset), &done)), done.clone()).await;
        assert_eq!(r.body["status"], "confirmed", "{}", r.body);
        let r = s.get(&format!("/api/v1/requests/{destroy}"), &dpo).await;
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert_eq!(r.body["actions"][0]["note"], "confirmed by `lms`");
        let r = s.post(&steps, &dpo, json!({ "step": "complete" })).await;
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        // The identifiers kept for the job are gone with its confirmation.
        let stored = vault
            .store()
            .webhook_job(uuid::Uuid::parse_str(&job).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.payload, None);
        let r = s
            .post(
                &format!("/api/v1/webhooks/jobs/{}", uuid::Uuid::now_v7()),
                &admin,
                json!({}),
            )
            .await;
        assert_problem(&r, 404, "not-found");

        // Access, answered "done" at once.
        receiver.set(2);
        let (access, _) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": students[1], "channel": "online", "language": "ru" }))
            .await;
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let r = s.get(&format!("/api/v1/requests/{access}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["kind"], "webhook");
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);
        assert_eq!(receiver.messages().last().unwrap().2["event"], "access");

        // The system refuses: the action fails with its words; sent again, it is done.
        receiver.set(0);
        let (refused, r) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": students[2], "channel": "online", "language": "en" }))
            .await;
        let job = r.body["actions"][1]["job"].as_str().unwrap().to_owned();
        requests.deliver_webhooks().await.unwrap();
        let failed =
            format!(r#"{{"job":"{job}","status":"failed","detail":"no such user in the LMS"}}"#)
                .into_bytes();
        let r = s
            .call_with(
                "POST",
                &format!("/api/v1/webhooks/jobs/{job}"),
                None,
                Some(Body::Raw("application/json", failed.clone())),
                Some(("X-Derbes-Signature", secret.sign(now(&offset), &failed))),
            )
            .await;
        assert_eq!(r.body["status"], "failed", "{}", r.body);
        let r = s.get(&format!("/api/v1/requests/{refused}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "failed");
        assert_eq!(
            r.body["actions"][1]["note"],
            "`lms` did not carry it out: no such user in the LMS"
        );
        receiver.set(2);
        let r = s
            .post(
                &format!("/api/v1/requests/{refused}/steps"),
                &dpo,
                json!({ "step": "run_actions" }),
            )
            .await;
        assert_eq!(r.body["actions"][1]["status"], "waiting", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["job"],
            job.as_str(),
            "sent again under the same key"
        );
        requests.deliver_webhooks().await.unwrap();
        let r = s.get(&format!("/api/v1/requests/{refused}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);

        // Accepted but never confirmed: given up after a day; the DPO settles it by hand.
        receiver.set(0);
        let fifth = s
            .create_student_id(&admin, json!({ "surname": "Бекова", "iin": iin_born(time::Date::from_calendar_date(2001, time::Month::June, 1).unwrap(), Sex::Female) }))
            .await;
        let (quiet, _) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": fifth, "channel": "online", "language": "en" }))
            .await;
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        offset.fetch_add(23 * 3600, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        offset.fetch_add(2 * 3600, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let quiet_steps = format!("/api/v1/requests/{quiet}/steps");
        let r = s.get(&format!("/api/v1/requests/{quiet}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "failed", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["note"],
            "`lms` did not carry it out: accepted, but not confirmed within 24 hours"
        );
        let r = s
            .post(
                &quiet_steps,
                &dpo,
                json!({ "step": "settle_connector", "connector": "crm", "note": "x" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(&quiet_steps, &dpo, json!({ "step": "settle_connector", "connector": "lms", "note": "LMS admin confirmed by phone, ref. 17" }))
            .await;
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["note"],
            "settled by hand: LMS admin confirmed by phone, ref. 17"
        );
        // Staff's words are sealed in the database, and lists (which carry no key) leave them
        // out.
        let stored = s
            .state
            .app
            .vault
            .store()
            .request(quiet.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(stored.body.contains("settled by hand"), "{}", stored.body);
        assert!(!stored.body.contains("LMS admin"), "{}", stored.body);
        let listed = s
            .get(
                &format!(
                    "/api/v1/requests?open=false&subject_id={}",
                    r.body["subject_id"].as_str().unwrap()
                ),
                &dpo,
            )
            .await;
        let listed = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == quiet.as_str())
            .unwrap()
            .clone();
        assert_eq!(listed["actions"][1]["note"], "settled by hand", "{listed}");

        // A system that never answers is given up after the last attempt, with the error shown.
        receiver.set(1);
        let (silent, _) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": students[3], "channel": "online", "language": "en" }))
            .await;
        for _ in 0..derbes_core::webhook::MAX_ATTEMPTS {
            assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
            offset.fetch_add(2 * 3600, Ordering::SeqCst);
        }
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        let r = s.get(&format!("/api/v1/requests/{silent}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "failed", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["note"],
            "`lms` did not carry it out: no confirmation after 12 attempts; last: HTTP 500"
        );
        let audit = s
            .get(&format!("/api/v1/subjects/{}/audit", students[3]), &admin)
            .await;
        assert!(audit.text.contains("request.connector.confirm"));
        assert!(!audit.text.contains(&iins[3]));
    })
}

/// The published policy: the version in force in the visitor's language, every version, and a
/// version not yet in force, marked so.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn policy_pages_in_every_language(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
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
        s.state
            .app
            .vault
            .store()
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
                "recipients = [\"transport_company\", \"medical_institution\"]",
                "recipients = [\"transport_company\"]",
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
        s.state
            .app
            .vault
            .store()
            .write(record("2099.1", next))
            .await
            .unwrap();
        let page = |path: &'static str, lang: Option<&'static str>| {
            s.call_with(
                "GET",
                path,
                None,
                None,
                lang.map(|l| ("Accept-Language", l.to_owned())),
            )
        };
        let r = page("/policy", Some("ru-RU,ru;q=0.9")).await;
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
        let r = page("/policy?lang=en", Some("ru")).await;
        assert!(r.text.contains("<html lang=\"en\">") && r.text.contains("Privacy policy of"));
        let r = page("/policy", None).await;
        assert!(r.text.contains("<html lang=\"kk\">") && r.text.contains("құпиялылық саясаты"));
        let r = page("/policy?format=md&lang=kk", None).await;
        assert_eq!(r.content_type, "text/markdown; charset=utf-8");
        assert!(r.text.starts_with("# ") && r.text.contains("{#rights}"));
        assert_problem(&page("/policy?lang=de", None).await, 422, "validation");
        assert_problem(&page("/policy?format=pdf", None).await, 422, "validation");

        let r = page("/policy/versions?lang=ru", None).await;
        assert!(
            r.text.contains("2099.1") && r.text.contains(&current),
            "{}",
            r.text
        );
        assert!(r.text.contains("действует"));
        assert_problem(
            &page("/policy/versions?format=md", None).await,
            422,
            "validation",
        );
        let r = page("/policy/versions?format=json", None).await;
        assert_eq!(r.body[1]["version"], "2099.1");
        assert_eq!(r.body[1]["effective_from"], "2099-01-01");
        let r = page("/policy/versions/2099.1?lang=kk", None).await;
        assert_eq!(r.status, 200);
        assert!(
            r.text.contains("2099.1 нұсқасы") && r.text.contains("Бұл — қолданыстағы емес нұсқа")
        );
        assert_problem(
            &page("/policy/versions/1999.9", None).await,
            404,
            "not-found",
        );

        // What the next version changes, and whose consent it needs again.
        let r = page("/policy/changes?from=2025.1&to=2099.1&lang=en", None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.text
                .contains("Changes to the privacy policy: 2025.1 → 2099.1"),
            "{}",
            r.text
        );
        assert!(
            r.text
                .contains("the recipients changed; subjects with entries in the consent ledger: 0"),
            "{}",
            r.text
        );
        assert!(r.text.contains("recipients removed: "), "{}", r.text);
        let r = page(
            "/policy/changes?from=2025.1&to=2099.1&lang=kk&format=md",
            None,
        )
        .await;
        assert!(
            r.text.contains("## Келісімге әсері {#consent}") && r.text.contains("алушылар өзгерді"),
            "{}",
            r.text
        );
        let r = page("/policy/changes?lang=ru", None).await;
        assert!(r.text.contains("Изменений нет."), "{}", r.text);
        assert_problem(
            &page("/policy/changes?from=1999.9", None).await,
            404,
            "not-found",
        );
        let r = page("/policy/versions?lang=en", None).await;
        assert!(
            r.text
                .contains("/policy/changes?from=2025.1&amp;to=2099.1&amp;lang=en"),
            "{}",
            r.text
        );

        // The other documents of the version in force, and of any version.
        let r = page("/policy/documents/consent-forms", Some("ru")).await;
        assert_eq!(r.status, 200);
        assert!(
            r.text
                .contains("Формы согласия на сбор и обработку персональных данных")
                && r.text.contains("Медицинские учреждения"),
            "{}",
            r.text
        );
        let r = page(
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
        let r = page("/policy/documents/data-list?lang=kk", None).await;
        assert!(r.text.contains("дербес деректердің тізбесі") && r.text.contains("<table>"));
        let r = page("/policy/documents/processing-record?lang=en", None).await;
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
        let r = page("/policy/versions/2099.1?lang=ru", None).await;
        assert!(
            r.text
                .contains("href=\"/policy/documents/consent-forms?version=2099.1&amp;lang=ru\""),
            "{}",
            r.text
        );
        assert_problem(
            &page("/policy/documents/leaflet", None).await,
            404,
            "not-found",
        );
        assert_problem(
            &page("/policy/documents/data-list?version=1999.9", None).await,
            404,
            "not-found",
        );
        assert_problem(
            &page("/policy/documents/data-list?format=pdf", None).await,
            422,
            "validation",
        );
    })
}

/// Staff's notes on a block go sealed with the subject's data, never in clear in the database;
/// names with invisible characters, birth dates yet to come and keys given twice are refused.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn no_plaintext_where_none_is_needed(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let id = s
            .create_student_id(&s.admin, json!({ "surname": "Әлиева" }))
            .await;
        let note = "Өтініш №42: ата-анасының арызы бойынша";
        let r = s
            .put(
                &format!("/api/v1/subjects/{id}/block"),
                &s.admin,
                json!({ "reason": "accuracy_contested", "note": note }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["blocked"]["note"], note);
        assert!(r.body["blocked"].get("sealed_note").is_none(), "{}", r.body);
        let r = s
            .get(&format!("/api/v1/subjects/{id}/flags"), &s.admin)
            .await;
        assert_eq!(r.body["blocked"]["note"], note);
        // Restriction and obligation notes are sealed the same way.
        let restriction = "Шектеу: ата-анасының 2026 жылғы 3 наурыздағы өтініші";
        let r = s
            .put(
                &format!("/api/v1/subjects/{id}/restrictions/extracurricular"),
                &s.admin,
                json!({ "reason": "objection", "note": restriction }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let obligation = "Экскурсия шарты №77-Э, Түркістан";
        let r = s
            .put(
                &format!("/api/v1/subjects/{id}/obligations/extracurricular"),
                &s.admin,
                json!({ "note": obligation }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s
            .get(&format!("/api/v1/subjects/{id}/flags"), &s.admin)
            .await;
        assert_eq!(
            r.body["restrictions"]["extracurricular"]["note"],
            restriction
        );
        assert_eq!(r.body["obligations"]["extracurricular"]["note"], obligation);
        let files = db.raw_files().await;
        assert!(!files.is_empty());
        let in_clear = |files: &[(String, Vec<u8>)], text: &str| {
            files
                .iter()
                .find(|(_, bytes)| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
                .map(|(file, _)| file.clone())
        };
        for text in [note, restriction, obligation] {
            assert_eq!(in_clear(&files, text), None, "{text:?} is in clear");
        }
        // Notes an earlier derbes kept in clear are sealed when the server starts.
        let (old_block, old_obligation) = ("Бұрынғы нұсқа жазған ескерту", "Шарт №5 (бұрынғы)");
        db.execute(&format!(
            "UPDATE subject_flags SET flag = '{{\"reason\":\"objection\",\"note\":\"{old_block}\",\"set_by\":\"token:admin\",\"set_at\":\"2026-11-02T09:00:00Z\"}}' WHERE purpose = '';
             UPDATE obligations SET obligation = '{{\"note\":\"{old_obligation}\",\"set_by\":\"token:admin\",\"set_at\":\"2026-11-02T09:00:00Z\"}}'"
        ))
        .await;
        assert!(in_clear(&db.raw_files().await, old_block).is_some());
        assert_eq!(s.state.app.vault.seal_clear_notes().await.unwrap(), 2);
        assert_eq!(s.state.app.vault.seal_clear_notes().await.unwrap(), 0);
        let files = db.raw_files().await;
        for text in [old_block, old_obligation] {
            assert_eq!(in_clear(&files, text), None, "{text:?} is in clear");
        }
        let r = s
            .get(&format!("/api/v1/subjects/{id}/flags"), &s.admin)
            .await;
        assert_eq!(r.body["blocked"]["note"], old_block, "{}", r.body);
        assert_eq!(r.body["blocked"]["reason"], "objection");
        assert_eq!(
            r.body["obligations"]["extracurricular"]["note"],
            old_obligation
        );
        assert_eq!(
            r.body["restrictions"]["extracurricular"]["note"],
            restriction
        );
        let r = s
            .create_student(&s.admin, json!({ "surname": "Әли\u{202E}ева" }))
            .await;
        assert_problem(&r, 422, "validation");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("direction-changing"),
            "{}",
            r.body
        );
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
            assert_problem(&r, 422, "validation");
            assert!(
                r.body["detail"].as_str().unwrap().contains(why),
                "{birth}: {}",
                r.body
            );
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

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[
        (
            "no_plaintext_where_none_is_needed",
            no_plaintext_where_none_is_needed,
        ),
        ("health_and_documents", health_and_documents),
        ("create_read_rectify_lookup", create_read_rectify_lookup),
        ("purposes_are_enforced", purposes_are_enforced),
        ("tokens_and_roles", tokens_and_roles),
        (
            "bad_input_is_refused_and_nothing_is_written",
            bad_input_is_refused_and_nothing_is_written,
        ),
        (
            "audit_chain_verifies_through_the_api",
            audit_chain_verifies_through_the_api,
        ),
        (
            "random_requests_never_fail_the_server",
            random_requests_never_fail_the_server,
        ),
        (
            "a_minors_consents_over_the_years",
            a_minors_consents_over_the_years,
        ),
        (
            "decisions_answer_one_question_or_many",
            decisions_answer_one_question_or_many,
        ),
        (
            "requests_from_intake_to_completion",
            requests_from_intake_to_completion,
        ),
        (
            "access_rectification_and_destruction",
            access_rectification_and_destruction,
        ),
        (
            "webhooks_confirm_before_a_request_completes",
            webhooks_confirm_before_a_request_completes,
        ),
        (
            "policy_pages_in_every_language",
            policy_pages_in_every_language,
        ),
    ];
    run_suite("api", cases)
}

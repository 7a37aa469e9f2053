//! Bad and random input: refused with a problem, nothing written, the server never fails.

use super::*;

/// Posts `body` with content type `ct` to the subjects, as an admin.
async fn post_raw(s: &Server, ct: &'static str, body: &[u8]) -> Reply {
    s.call(
        "POST",
        "/api/v1/subjects",
        Some(&s.admin),
        Some(Body::Raw(ct, body.to_vec())),
    )
    .await
}

/// Asserts that no subject was written.
async fn nothing_written(s: &Server) {
    assert_eq!(s.store.count_subjects().await.unwrap(), 0);
}

/// A body that is not JSON, not declared as JSON, too large, or not of the expected shape is
/// refused with the problem it has, and nothing is written.
pub(super) fn a_body_of_the_wrong_form_is_refused(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let r = post_raw(&s, "application/json", b"{\"category\":").await;
        assert_problem(&r, 400, "bad-request");
        let r = post_raw(&s, "text/plain", b"{}").await;
        assert_problem(&r, 415, "unsupported-media-type");
        let big = format!(
            "{{\"category\":\"student\",\"fields\":{{\"surname\":\"{}\"}}}}",
            "a".repeat(BODY_LIMIT)
        );
        let r = post_raw(&s, "application/json", big.as_bytes()).await;
        assert_problem(&r, 413, "payload-too-large");
        let subjects = |body: Value| s.post("/api/v1/subjects", &s.admin, body);
        let r = subjects(json!({ "category": "student", "fields": {}, "extra": 1 })).await;
        assert_problem(&r, 422, "validation");
        assert!(r.body["detail"].as_str().unwrap().contains("extra"));
        let r = subjects(json!({ "category": ["student"], "fields": {} })).await;
        assert_problem(&r, 422, "validation");
        let r = subjects(json!({ "category": "alien", "fields": { "iin": "061211600012" } })).await;
        assert_problem(&r, 422, "validation");
        let r = s.create_student(&s.admin, json!({})).await;
        assert_problem(&r, 422, "validation");
        nothing_written(&s).await;
    })
}

/// Every bad field is named at once, and no value is echoed.
pub(super) fn every_bad_field_is_named_and_no_value_echoed(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
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
        nothing_written(&s).await;
    })
}

/// Ids that are not ids, subjects and paths that do not exist, methods a path does not take,
/// bad paging and a lookup by a field without a blind index are each refused with their
/// problem, and an identifier in the path is not echoed.
pub(super) fn bad_paths_and_parameters_are_refused(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
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
        for paging in ["limit=0", "after=abc"] {
            let r = s.get(&format!("/api/v1/audit?{paging}"), &s.admin).await;
            assert_problem(&r, 400, "bad-request");
        }
        let r = s
            .post(
                "/api/v1/lookup",
                &s.admin,
                json!({ "field": "surname", "value": "x", "purpose": "education" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        nothing_written(&s).await;
    })
}

/// A duplicate identifier is a conflict that names the subject holding it, and writes nothing.
pub(super) fn a_duplicate_identifier_names_the_subject_holding_it(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
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
        assert_eq!(s.store.count_subjects().await.unwrap(), 1);
    })
}

pub(super) fn random_requests_never_fail_the_server(db: TestDb) -> Fut {
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

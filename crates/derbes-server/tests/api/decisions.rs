//! Decisions: one question or many.

use super::*;

/// Decisions, one or a batch: each answer is the read's decision without the values, and the
/// request is audited before the answers go out.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
pub(super) fn decisions_answer_one_question_or_many(db: TestDb) -> Fut {
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

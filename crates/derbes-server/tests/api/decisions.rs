//! Decisions: one question or many.

use super::*;

/// An adult student who consented to the extracurricular purpose, another who did not, and
/// the school platform that asks about them.
struct Asked {
    s: Server,
    platform: String,
    student: String,
    other: String,
    consent: Value,
}

impl Asked {
    async fn start(db: &TestDb) -> Asked {
        let s = Server::start(db).await;
        let platform = s
            .token(Role::Integration, &["extracurricular", "education"])
            .await;
        let adult = iin_born(
            time::Date::from_calendar_date(2000, time::Month::March, 3).unwrap(),
            Sex::Male,
        );
        let student = s
            .create_student_id(&s.admin, json!({ "surname": "Бекболатов", "iin": adult }))
            .await;
        let other = s
            .create_student_id(&s.admin, json!({ "surname": "Ахметова" }))
            .await;
        let r = s
            .post(&format!("/api/v1/subjects/{student}/consents"), &platform,
                  json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let consent = r.body["id"].clone();
        Asked {
            s,
            platform,
            student,
            other,
            consent,
        }
    }

    /// The platform asks.
    async fn decide(&self, question: Value) -> Reply {
        self.s
            .post("/api/v1/decisions", &self.platform, question)
            .await
    }

    /// The platform asks about the student and `purpose` alone.
    async fn decide_on(&self, purpose: &str) -> Reply {
        self.decide(json!({ "subject_id": self.student, "purpose": purpose }))
            .await
    }
}

/// One decision: the read's decision without the values, with its legal basis and consent.
pub(super) fn a_decision_answers_without_the_values(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(a = Asked::start(&db).await => Asked { student, consent });
        let r = a
            .decide(json!({ "subject_id": student, "purpose": "extracurricular", "fields": ["surname", "health_info"] }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["allowed"], true);
        assert_eq!(r.body["legal_basis"], "consent");
        assert_eq!(&r.body["consent_id"], consent);
        assert_eq!(r.body["fields"], json!(["surname", "health_info"]));
        assert!(r.body.get("values").is_none() && !r.text.contains("Бекболатов"));
    })
}

/// A batch answers each question in order, refusals with their reasons, and is audited as one
/// event with the answers' codes.
pub(super) fn a_batch_answers_each_question_and_is_audited_as_one(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(a = Asked::start(&db).await => Asked { s, student, other });
        let missing = uuid::Uuid::now_v7();
        let r = a
            .decide(json!({ "decisions": [
                { "subject_id": student, "purpose": "extracurricular" },
                { "subject_id": other, "purpose": "extracurricular" },
                { "subject_id": other, "purpose": "education", "fields": ["surname"] },
                { "subject_id": other, "purpose": "safety" },
                { "subject_id": missing, "purpose": "education" },
                { "subject_id": student, "purpose": "education", "fields": ["salary"] }
            ] }))
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
        let r = s.get("/api/v1/audit?limit=1000", &s.admin).await;
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
    })
}

/// A withdrawal shows in the very next decision, and each single decision is in the subject's
/// audit trail with its reason.
pub(super) fn a_withdrawal_shows_in_the_very_next_decision(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(a = Asked::start(&db).await => Asked { s, platform, student });
        assert_eq!(a.decide_on("extracurricular").await.body["allowed"], true);
        s.post(&format!("/api/v1/subjects/{student}/consents"), platform,
               json!({ "purpose": "extracurricular", "action": "withdraw", "method": { "kind": "web" } }))
            .await;
        let r = a.decide_on("extracurricular").await;
        assert_eq!(r.body["allowed"], false);
        assert_eq!(r.body["reasons"][0]["code"], "consent_withdrawn");
        let r = s
            .get(&format!("/api/v1/subjects/{student}/audit"), &s.admin)
            .await;
        let decisions: Vec<&Value> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "decision" && e["purpose"] == "extracurricular")
            .collect();
        assert_eq!(decisions.len(), 2, "{}", r.body);
        assert_eq!(decisions[1]["reason"], "consent_withdrawn");
    })
}

/// Another derbes process on the same database blocks the subject and lifts the block: the
/// decisions here follow at once, although they keep subjects' facts in memory.
pub(super) fn a_block_by_another_process_is_followed_at_once(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(a = Asked::start(&db).await => Asked { s, student });
        let other = derbes_store::open(&db.url, s.state.app.vault.keys() as derbes_store::Keys)
            .await
            .unwrap();
        let education = || {
            a.decide(json!({ "decisions": [{ "subject_id": student, "purpose": "education" }] }))
        };
        assert_eq!(education().await.body["decisions"][0]["allowed"], true);
        let block = |flag: Option<derbes_core::flags::Flag>| derbes_store::WriteOp::SetFlag {
            subject_id: uuid::Uuid::parse_str(student).unwrap(),
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
    })
}

/// Malformed questions name the one at fault without echoing it; empty and oversized batches,
/// and unknown keys, are refused.
pub(super) fn malformed_questions_are_refused_naming_the_one_at_fault(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(a = Asked::start(&db).await => Asked { student });
        let r = a
            .decide(json!({ "decisions": [
                { "subject_id": student, "purpose": "education" }, { "subject_id": "061211600012", "purpose": "education" } ] }))
            .await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "decisions[1]");
        assert!(!r.body.to_string().contains("061211600012"), "{}", r.body);
        let many: Vec<Value> = (0..1001)
            .map(|_| json!({ "subject_id": student, "purpose": "education" }))
            .collect();
        for refused in [
            json!({ "decisions": [] }),
            json!({ "decisions": many }),
            json!({ "decisions": [], "x": 1 }),
        ] {
            assert_problem(&a.decide(refused).await, 422, "validation");
        }
    })
}

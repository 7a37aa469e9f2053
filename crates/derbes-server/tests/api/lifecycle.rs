//! A subject's lifecycle events: recorded, corrected by retraction, refused when wrong.

use super::*;

/// A server, a student, and the address of her lifecycle.
async fn a_student(db: &TestDb) -> (Server, String) {
    let s = Server::start(db).await;
    let id = s
        .create_student_id(&s.admin, json!({ "surname": "Сәрсенбаева" }))
        .await;
    (s, format!("/api/v1/subjects/{id}/lifecycle"))
}

/// A student leaves, the departure is retracted (she came back), and she leaves again; the
/// excursions are over for her. Each event is audited; the lifecycle adds them up.
pub(super) fn lifecycle_events_are_recorded_and_retracted(db: TestDb) -> Fut {
    Box::pin(async move {
        let (s, path) = a_student(&db).await;
        let today = s.state.app.vault.today().to_string();
        let left = json!({ "kind": "relationship_ended", "reason": "переведена в другую школу", "on": today });
        let r = s.post(&path, &s.admin, left.clone()).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["kind"], "relationship_ended");
        let first = r.body["id"].as_str().unwrap().to_owned();
        // The reason is kept sealed under her data key, never in clear.
        let files = db.raw_files().await;
        assert!(!files.is_empty());
        assert_eq!(
            subjects::in_clear(&files, "переведена в другую школу"),
            None
        );
        let undo = json!({ "kind": "retracted", "event": first, "on": today });
        assert_eq!(s.post(&path, &s.admin, undo.clone()).await.status, 201);
        let r = s.get(&path, &s.admin).await;
        assert!(r.body["relationship_ended"].is_null(), "{}", r.body);
        assert_problem(&s.post(&path, &s.admin, undo).await, 422, "validation");
        assert_eq!(s.post(&path, &s.admin, left).await.status, 201);
        let over = json!({ "kind": "purpose_achieved", "purpose": "extracurricular", "on": today });
        assert_eq!(s.post(&path, &s.admin, over).await.status, 201);
        let r = s.get(&path, &s.admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["events"].as_array().unwrap().len(), 4);
        assert_eq!(r.body["events"][0]["reason"], "переведена в другую школу");
        assert!(r.body["events"][0].get("sealed_reason").is_none());
        assert_eq!(r.body["relationship_ended"], today.as_str());
        assert_eq!(
            r.body["purposes_achieved"]["extracurricular"],
            today.as_str()
        );
        let r = s.get(&path.replace("/lifecycle", "/audit"), &s.admin).await;
        let recorded = count_where(&r.body["events"], "action", "subject.lifecycle");
        assert_eq!(recorded, 4, "{}", r.body);
    })
}

/// Each wrong event is refused with the field named, and nothing is recorded.
pub(super) fn wrong_lifecycle_events_are_refused(db: TestDb) -> Fut {
    Box::pin(async move {
        let (s, path) = a_student(&db).await;
        let today = s.state.app.vault.today();
        let tomorrow = (today + time::Duration::days(1)).to_string();
        let long_ago = "2001-01-01";
        for (body, field) in [
            (
                json!({ "kind": "relationship_ended", "reason": "x", "on": tomorrow }),
                "on",
            ),
            (
                json!({ "kind": "relationship_ended", "reason": "x", "on": long_ago }),
                "on",
            ),
            (
                json!({ "kind": "relationship_ended", "on": today.to_string() }),
                "reason",
            ),
            (
                json!({ "kind": "relationship_ended", "reason": " ", "on": today.to_string() }),
                "reason",
            ),
            (
                json!({ "kind": "purpose_achieved", "purpose": "space", "on": today.to_string() }),
                "purpose",
            ),
            (
                json!({ "kind": "purpose_achieved", "purpose": "recruitment", "on": today.to_string() }),
                "purpose",
            ),
            (
                json!({ "kind": "retracted", "event": uuid::Uuid::now_v7(), "on": today.to_string() }),
                "event",
            ),
        ] {
            let r = s.post(&path, &s.admin, body.clone()).await;
            assert_problem(&r, 422, "validation");
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.body);
        }
        let r = s
            .post(
                &path,
                &s.admin,
                json!({ "kind": "ended", "on": "2026-13-01" }),
            )
            .await;
        assert!(matches!(r.status, 400 | 422), "{}", r.body);
        assert_eq!(r.content_type, "application/problem+json");
        let nobody = format!("/api/v1/subjects/{}/lifecycle", uuid::Uuid::now_v7());
        let r = s
            .post(
                &nobody,
                &s.admin,
                json!({ "kind": "relationship_ended", "reason": "x", "on": today.to_string() }),
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = s.get(&path, &s.admin).await;
        assert!(
            r.body["events"].as_array().unwrap().is_empty(),
            "{}",
            r.body
        );
    })
}

/// A student leaves. Three years on her grades have outlived every purpose: no read, decision
/// or "every field" returns them, while her name, kept five years for the contracts, is still
/// read. Five years on nothing is left to read. A value rectified later counts from that day.
pub(super) fn a_field_past_its_retention_is_read_for_no_purpose(db: TestDb) -> Fut {
    Box::pin(async move {
        let (offset, clock) = shifted_clock();
        let s = Server::start_with_clock(&db, clock).await;
        let id = s
            .create_student_id(
                &s.admin,
                json!({ "surname": "Сәрсенбаева", "phone": "+7 701 234 56 78", "grades": "5" }),
            )
            .await;
        let days = |n: i64| offset.store(n * 86_400, std::sync::atomic::Ordering::SeqCst);
        days(10);
        let subject = format!("/api/v1/subjects/{id}");
        let r = s
            .patch(
                &subject,
                &s.admin,
                json!({ "fields": { "phone": "+7 702 000 11 22" } }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let rectified = s.state.app.vault.today();
        let path = format!("{subject}/lifecycle");
        let left = json!({ "kind": "relationship_ended", "reason": "окончила школу", "on": rectified.to_string() });
        assert_eq!(s.post(&path, &s.admin, left).await.status, 201);
        let field = |r: &Reply, key: &str| {
            r.body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .find(|f| f["field"] == key)
                .cloned()
                .unwrap()
        };
        let r = s.get(&path, &s.admin).await;
        assert_eq!(field(&r, "phone")["collected"], rectified.to_string());
        assert_eq!(field(&r, "grades")["ended"], false);
        let read = |fields: &str| format!("{subject}?purpose=education{fields}");
        let r = s.get(&read("&fields=grades"), &s.admin).await;
        assert_eq!(r.status, 200, "{}", r.body);

        // Three years and a bit later.
        days(10 + 1100);
        let r = s.get(&read("&fields=surname,grades"), &s.admin).await;
        assert_problem(&r, 403, "purpose-denied");
        assert_eq!(reason_codes(&r), ["retention_ended"]);
        let r = s.get(&read(""), &s.admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["fields"].get("grades").is_none(), "{}", r.body);
        assert_eq!(r.body["fields"]["surname"], "Сәрсенбаева");
        let r = s
            .post(
                "/api/v1/decisions",
                &s.admin,
                json!({ "subject_id": id, "purpose": "statutory_functions", "fields": ["grades"] }),
            )
            .await;
        assert_eq!(r.body["allowed"], false, "{}", r.body);
        assert_eq!(reason_codes(&r), ["retention_ended"]);
        let r = s.get(&path, &s.admin).await;
        let grades = field(&r, "grades");
        assert_eq!(grades["ended"], true, "{grades}");
        let three_years = time::Date::from_calendar_date(
            rectified.year() + 3,
            rectified.month(),
            rectified.day(),
        )
        .unwrap();
        assert_eq!(grades["kept_until"]["day"], three_years.to_string());
        assert_eq!(field(&r, "surname")["ended"], false);

        // Five years on, nothing the school's education purpose used is kept.
        days(10 + 1900);
        let r = s.get(&read(""), &s.admin).await;
        assert_problem(&r, 403, "purpose-denied");
        assert!(reason_codes(&r).iter().all(|c| c == "retention_ended"));
        assert!(reason_codes(&r).len() >= 3, "{}", r.body);
    })
}

/// The school platform's database says who left and why (`users.left_at`, `left_reason`):
/// the daily job records it for the subject with that IIN, once; a platform user derbes does
/// not hold and a day after today are counted, never recorded.
pub(super) fn the_platforms_lifecycle_is_recorded_once(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let born = |y, n| {
            iin_born(
                time::Date::from_calendar_date(y, time::Month::March, n).unwrap(),
                derbes_core::identifiers::Sex::Female,
            )
        };
        let (left, later, stranger, long) =
            (born(2010, 3), born(2011, 4), born(2012, 5), born(2013, 6));
        let id = s
            .create_student_id(&s.admin, json!({ "surname": "Сәрсенбаева", "iin": left }))
            .await;
        s.create_student_id(&s.admin, json!({ "surname": "Оспанова", "iin": later }))
            .await;
        let wordy = s
            .create_student_id(&s.admin, json!({ "surname": "Ерланова", "iin": long }))
            .await;
        let today = s.state.app.vault.today();
        let tomorrow = today + time::Duration::days(1);
        rusqlite::Connection::open(&s.platform)
            .unwrap()
            .execute_batch(&format!(
                "INSERT INTO users (iin, full_name, left_at, left_reason) VALUES
                 ('{left}', 'a', '{today} 18:00:00', 'переведена в другую школу'),
                 ('{later}', 'b', '{tomorrow}', NULL),
                 ('{long}', 'e', '{today}', '{}'),
                 ('{stranger}', 'c', '{today}', NULL),
                 ('000000000000', 'd', NULL, NULL)",
                "ж".repeat(600)
            ))
            .unwrap();
        let job = derbes_service::Actor::job("lifecycle-sync");
        let sync = s.state.app.retention.sync_lifecycle(&job).await.unwrap();
        assert_eq!(
            (sync.read, sync.recorded, sync.unknown),
            (4, 2, 1),
            "{sync:?}"
        );
        assert_eq!(sync.refused.get("in_the_future"), Some(&1), "{sync:?}");
        let again = s.state.app.retention.sync_lifecycle(&job).await.unwrap();
        assert_eq!((again.recorded, again.unchanged), (0, 2), "{again:?}");
        // A platform's reason longer than 500 characters is cut, not refused.
        let r = s
            .get(&format!("/api/v1/subjects/{wordy}/lifecycle"), &s.admin)
            .await;
        let reason = r.body["events"][0]["reason"].as_str().unwrap();
        assert_eq!(reason.chars().count(), 500, "{}", r.body);
        let r = s
            .get(&format!("/api/v1/subjects/{id}/lifecycle"), &s.admin)
            .await;
        assert_eq!(
            r.body["relationship_ended"],
            today.to_string(),
            "{}",
            r.body
        );
        let events = r.body["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "{}", r.body);
        assert_eq!(events[0]["reason"], "переведена в другую школу");
        assert_eq!(events[0]["recorded_by"], "admin:job-lifecycle-sync");
        assert!(!sync.summary().contains(&left), "{}", sync.summary());
    })
}

/// Three students: two left, one still studies. Three years on, the grades of the first are
/// proposed under the rule of the student file; those of the second are held by her open
/// request; the third is not counted. Auditors may look; staff may not; a year ahead at most.
pub(super) fn the_scan_groups_what_expired_and_holds_what_a_request_keeps(db: TestDb) -> Fut {
    Box::pin(async move {
        let (offset, clock) = shifted_clock();
        let s = Server::start_with_clock(&db, clock).await;
        let mut ids = Vec::new();
        for surname in ["Әлиева", "Бекова", "Сапарова"] {
            ids.push(
                s.create_student_id(&s.admin, json!({ "surname": surname, "grades": "5" }))
                    .await,
            );
        }
        let today = s.state.app.vault.today().to_string();
        for id in &ids[..2] {
            let left =
                json!({ "kind": "relationship_ended", "reason": "окончила школу", "on": today });
            let path = format!("/api/v1/subjects/{id}/lifecycle");
            assert_eq!(s.post(&path, &s.admin, left).await.status, 201);
        }
        let request = json!({ "kind": "complaint", "subject_id": ids[1], "channel": "paper",
                              "language": "ru", "details": "Жалоба на обработку" });
        let r = s.post("/api/v1/requests", &s.admin, request).await;
        assert_eq!(r.status, 201, "{}", r.body);
        offset.store(1100 * 86_400, std::sync::atomic::Ordering::SeqCst);
        let r = s.get("/api/v1/retention?days=30", &s.admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["scanned"], 3);
        let group = |part: &str| {
            r.body[part]
                .as_array()
                .unwrap()
                .iter()
                .find(|g| g["rule"] == "student_records")
                .cloned()
                .unwrap_or_else(|| panic!("no student_records in {part}: {}", r.body))
        };
        let expired = group("expired");
        assert_eq!(expired["action"], "destroy");
        assert_eq!(expired["subjects"], 1);
        assert_eq!(expired["sample"], json!([ids[0]]));
        assert_eq!(expired["field_keys"], json!(["grades"]), "{expired}");
        assert_eq!(expired["categories"], json!(["student"]));
        assert_eq!(group("held")["sample"], json!([ids[1]]));
        assert_eq!(
            r.body["held_for"],
            json!({ "requests": 1, "complaints": 1, "legal_holds": 0 })
        );
        let auditor = s.token(Role::Auditor, &[]).await;
        assert_eq!(s.get("/api/v1/retention", &auditor).await.status, 200);
        let staff = s.token(Role::Staff, &["education"]).await;
        assert_problem(&s.get("/api/v1/retention", &staff).await, 403, "forbidden");
        let r = s.get("/api/v1/retention?days=400", &s.admin).await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "days");
    })
}

/// A student left; the DPO holds her data for a claim. Staff may neither set nor lift a hold;
/// the register lists it with its reason, kept sealed; three years on her expired grades are
/// held, not proposed, until the DPO lifts the hold. A hold beyond ten years is refused.
pub(super) fn a_legal_hold_keeps_expired_data_until_lifted(db: TestDb) -> Fut {
    Box::pin(async move {
        let (offset, clock) = shifted_clock();
        let s = Server::start_with_clock(&db, clock).await;
        let id = s
            .create_student_id(&s.admin, json!({ "surname": "Әлиева", "grades": "5" }))
            .await;
        let path = format!("/api/v1/subjects/{id}/lifecycle");
        let today = s.state.app.vault.today();
        let on = today.to_string();
        let left = json!({ "kind": "relationship_ended", "reason": "окончила школу", "on": on });
        assert_eq!(s.post(&path, &s.admin, left).await.status, 201);
        let until = (today + time::Duration::days(1200)).to_string();
        let reason = "иск родителей, дело № 2-118/2026";
        let hold = json!({ "kind": "legal_hold", "reason": reason, "on": on, "until": until });
        let staff = s.token(Role::Staff, &["education"]).await;
        assert_problem(&s.post(&path, &staff, hold.clone()).await, 403, "forbidden");
        let dpo = s.token(Role::Dpo, &[]).await;
        let r = s.post(&path, &dpo, hold).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let hold_id = r.body["id"].clone();
        assert_eq!(subjects::in_clear(&db.raw_files().await, reason), None);
        let r = s.get("/api/v1/retention/holds", &dpo).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body[0]["subject_id"], id.as_str());
        assert_eq!(r.body[0]["reason"], reason);
        assert_eq!(r.body[0]["until"], until.as_str());
        assert_problem(
            &s.get("/api/v1/retention/holds", &staff).await,
            403,
            "forbidden",
        );
        let lift = json!({ "kind": "retracted", "event": hold_id, "on": on });
        assert_problem(&s.post(&path, &staff, lift.clone()).await, 403, "forbidden");

        offset.store(1100 * 86_400, std::sync::atomic::Ordering::SeqCst);
        let r = s.get(&path, &dpo).await;
        assert_eq!(r.body["held_until"], until.as_str(), "{}", r.body);
        let r = s.get("/api/v1/retention", &dpo).await;
        assert!(
            r.body["expired"].as_array().unwrap().is_empty(),
            "{}",
            r.body
        );
        assert_eq!(r.body["held"][0]["sample"], json!([id]), "{}", r.body);
        assert_eq!(r.body["held_for"]["legal_holds"], 1, "{}", r.body);
        assert_eq!(r.body["held_for"]["requests"], 0, "{}", r.body);
        // Lifted: proposed again, and gone from the register.
        let later = s.state.app.vault.today().to_string();
        let lift = json!({ "kind": "retracted", "event": hold_id, "on": later });
        assert_eq!(s.post(&path, &dpo, lift).await.status, 201);
        let r = s.get("/api/v1/retention", &dpo).await;
        assert_eq!(r.body["expired"][0]["sample"], json!([id]), "{}", r.body);
        assert_eq!(r.body["held_subjects"], 0, "{}", r.body);
        let r = s.get("/api/v1/retention/holds", &dpo).await;
        assert_eq!(r.body, json!([]));
        let r = s.get(&path, &dpo).await;
        assert!(r.body["held_until"].is_null(), "{}", r.body);

        let far = (s.state.app.vault.today() + time::Duration::days(3700)).to_string();
        for (hold, field) in [
            (
                json!({ "kind": "legal_hold", "reason": "проверка", "on": later, "until": far }),
                "until",
            ),
            (
                json!({ "kind": "legal_hold", "reason": "проверка", "on": later }),
                "until",
            ),
            (
                json!({ "kind": "legal_hold", "on": later, "until": later }),
                "reason",
            ),
        ] {
            let r = s.post(&path, &dpo, hold).await;
            assert_problem(&r, 422, "validation");
            assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
        }
    })
}

//! Retention batches: proposed by the DPO, approved by two people (four eyes), worked out
//! again when what has expired changed.

use super::*;

/// Three students; two left. Three years on, the DPO proposes the student file's batch: both
/// leavers' grades. The DPO's second approval is refused (four eyes). A hold on one of them
/// makes the administrator's approval stale: the proposal is worked out again without her and
/// its approvals fall; two approvals on the new one approve it, and a third is refused.
pub(super) fn a_batch_needs_two_approvals_on_a_fresh_proposal(db: TestDb) -> Fut {
    Box::pin(async move {
        let (s, ids, dpo) = three_years_after_two_left(&db).await;
        let staff = s.token(Role::Staff, &["education"]).await;
        let propose = |rule: &str| json!({ "rule": rule });
        let batches = "/api/v1/retention/batches";
        let r = s.post(batches, &staff, propose("student_records")).await;
        assert_problem(&r, 403, "forbidden");
        for rule in ["no_such_rule", "contract_records"] {
            let r = s.post(batches, &dpo, propose(rule)).await;
            assert_problem(&r, 422, "validation");
            assert_eq!(r.body["errors"][0]["field"], "rule", "{}", r.body);
        }
        let r = s.post(batches, &dpo, propose("student_records")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["status"], "proposed");
        assert_eq!(r.body["action"], "destroy");
        assert_eq!(r.body["approvals_needed"], 2);
        assert_eq!(r.body["summary"]["subjects"], 2, "{}", r.body);
        assert_eq!(
            r.body["summary"]["field_keys"],
            json!(["grades"]),
            "{}",
            r.body
        );
        let id = r.body["id"].as_str().unwrap().to_owned();
        let approve = format!("{batches}/{id}/approve");
        let r = s.post(&approve, &dpo, json!({})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["approvals"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["status"], "proposed");
        let r = s.post(&approve, &dpo, json!({})).await;
        assert_problem(&r, 409, "retention-batch");
        assert!(
            r.body["detail"].as_str().unwrap().contains("second person"),
            "{}",
            r.body
        );

        // A hold meanwhile: the proposal is stale.
        let later = s.state.app.vault.today();
        let until = (later + time::Duration::days(30)).to_string();
        let hold = json!({ "kind": "legal_hold", "reason": "иск", "on": later.to_string(), "until": until });
        let path = format!("/api/v1/subjects/{}/lifecycle", ids[0]);
        assert_eq!(s.post(&path, &dpo, hold).await.status, 201);
        let r = s.post(&approve, &s.admin, json!({})).await;
        assert_problem(&r, 409, "retention-batch");
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("0 subject(s) added, 1 gone"),
            "{}",
            r.body
        );
        let r = s.get(&format!("{batches}/{id}"), &dpo).await;
        assert_eq!(r.body["summary"]["subjects"], 1, "{}", r.body);
        assert_eq!(r.body["summary"]["sample"], json!([ids[1]]), "{}", r.body);
        assert_eq!(r.body["changed"]["removed"], 1, "{}", r.body);
        assert_eq!(r.body["approvals"], json!([]), "{}", r.body);
        for who in [&s.admin, &dpo] {
            let r = s.post(&approve, who, json!({})).await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let r = s.get(&format!("{batches}/{id}"), &dpo).await;
        assert_eq!(r.body["status"], "approved", "{}", r.body);
        let third = s.token(Role::Dpo, &[]).await;
        let r = s.post(&approve, &third, json!({})).await;
        assert_problem(&r, 409, "retention-batch");

        let auditor = s.token(Role::Auditor, &[]).await;
        let r = s.get(batches, &auditor).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body[0]["id"], id.as_str());
        let r = s.get("/api/v1/audit?limit=1000", &s.admin).await;
        let actions: Vec<&str> = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["action"].as_str())
            .filter(|a| a.starts_with("retention.batch"))
            .collect();
        assert_eq!(
            actions,
            [
                "retention.batch.propose",
                "retention.batch.approve",
                "retention.batch.recompute",
                "retention.batch.approve",
                "retention.batch.approve"
            ]
        );
    })
}

/// The student file's batch proposed by the DPO and approved by two people: its id.
pub(super) async fn approved_batch(s: &Server, dpo: &str) -> String {
    let batches = "/api/v1/retention/batches";
    let r = s
        .post(batches, dpo, json!({ "rule": "student_records" }))
        .await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    for who in [&s.admin, dpo] {
        let r = s
            .post(&format!("{batches}/{id}/approve"), who, json!({}))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
    id
}

/// An executed batch issues its act of destruction: numbered, signed with the operator's
/// published key, printable in each language with the declared commission; none before.
pub(super) fn an_executed_batch_issues_a_signed_act(db: TestDb) -> Fut {
    Box::pin(async move {
        let (s, _, dpo) = three_years_after_two_left(&db).await;
        let id = approved_batch(&s, &dpo).await;
        let act = format!("/api/v1/retention/batches/{id}/act");
        let r = s.get(&act, &dpo).await;
        assert_problem(&r, 404, "not-found");
        assert!(
            r.body["detail"].as_str().unwrap().contains("not executed"),
            "{}",
            r.body
        );
        let job = derbes_service::Actor::job("retention-run");
        s.state.app.retention.run_batches(&job).await.unwrap();

        let r = s.get(&act, &dpo).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_has(&r.disposition, "destruction-act-");
        let year = s.state.app.vault.today().year();
        assert_eq!(r.body["act"]["number"], format!("{year}-1"), "{}", r.body);
        assert_eq!(r.body["act"]["rule"]["code"], "student_records");
        assert_eq!(r.body["act"]["field_subjects"], 2);
        assert_eq!(r.body["act"]["fields_destroyed"], 2);
        assert_eq!(r.body["act"]["commission"].as_array().unwrap().len(), 3);
        // The signature is the operator's, over the act as given.
        let keys = s.get("/.well-known/derbes-receipt-keys.json", &dpo).await;
        let sig = &r.body["signature"];
        assert_eq!(
            keys.body["keys"][0]["x"], sig["public_key"],
            "{}",
            keys.body
        );
        let canonical = derbes_core::receipt::canonical_json(&r.body["act"]).unwrap();
        let check = |text: &str| {
            derbes_crypto::verify_signature(
                sig["public_key"].as_str().unwrap(),
                text.as_bytes(),
                sig["value"].as_str().unwrap(),
            )
        };
        assert_eq!(check(&canonical), Ok(()));
        assert!(check(&canonical.replace("\"field_subjects\":2", "\"field_subjects\":1")).is_err());

        for (lang, title, chair) in [
            (
                "kk",
                "Дербес деректерді жою туралы акт №",
                "Комиссия төрағасы: Дербес деректерді өңдеуді ұйымдастыруға жауапты адам, Жұмабаева",
            ),
            (
                "ru",
                "Акт об уничтожении персональных данных №",
                "Председатель комиссии: Лицо, ответственное за организацию обработки персональных данных, Жұмабаева",
            ),
            (
                "en",
                "Act of destruction of personal data №",
                "Chair of the commission: Person responsible for organizing the processing of personal data, Aliya Zhumabayeva",
            ),
        ] {
            let r = s.get(&format!("{act}?format=html&lang={lang}"), &dpo).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert!(
                r.content_type.starts_with("text/html"),
                "{}",
                r.content_type
            );
            assert!(r.text.contains(title), "{lang}: {}", r.text);
            assert!(r.text.contains(chair), "{lang}: {}", r.text);
        }
        let r = s.get(&format!("{act}?format=pdf"), &dpo).await;
        assert_problem(&r, 422, "validation");
        let r = s.get("/api/v1/retention/acts", &auditor_of(&s).await).await;
        assert_eq!(r.body.as_array().map(Vec::len), Some(1), "{}", r.body);
        let staff = s.token(Role::Staff, &["education"]).await;
        assert_problem(&s.get(&act, &staff).await, 403, "forbidden");
    })
}

async fn auditor_of(s: &Server) -> String {
    s.token(Role::Auditor, &[]).await
}

/// Three students with grades; the first two left. Three years and a bit later: the server,
/// their ids, and a DPO's token.
async fn three_years_after_two_left(db: &TestDb) -> (Server, Vec<String>, String) {
    let (offset, clock) = shifted_clock();
    let s = Server::start_with_clock(db, clock).await;
    let mut ids = Vec::new();
    for (day, surname) in [(1, "Әлиева"), (2, "Бекова"), (3, "Сапарова")] {
        let born = time::Date::from_calendar_date(2008, time::Month::March, day).unwrap();
        let iin = iin_born(born, Sex::Female);
        ids.push(
            s.create_student_id(
                &s.admin,
                json!({ "surname": surname, "grades": "5", "iin": iin }),
            )
            .await,
        );
        // The platform holds her name and her year's grade.
        rusqlite::Connection::open(&s.platform)
            .unwrap()
            .execute(
                "INSERT INTO users (iin, full_name, year_grade) VALUES (?1, ?2, '5')",
                [iin.as_str(), surname],
            )
            .unwrap();
    }
    let today = s.state.app.vault.today().to_string();
    for id in &ids[..2] {
        let left = json!({ "kind": "relationship_ended", "reason": "окончила школу", "on": today });
        let path = format!("/api/v1/subjects/{id}/lifecycle");
        assert_eq!(s.post(&path, &s.admin, left).await.status, 201);
    }
    offset.store(1100 * 86_400, std::sync::atomic::Ordering::SeqCst);
    let dpo = s.token(Role::Dpo, &[]).await;
    (s, ids, dpo)
}

/// The approved batch is executed by the job: the leavers' grades go, their names stay, once;
/// a backup from before brings them back, and the destruction log has them destroyed again.
pub(super) fn an_approved_batch_destroys_once_and_again_after_a_restore(db: TestDb) -> Fut {
    Box::pin(async move {
        let (s, ids, dpo) = three_years_after_two_left(&db).await;
        let batches = "/api/v1/retention/batches";
        let id = approved_batch(&s, &dpo).await;
        let job = derbes_service::Actor::job("retention-run");
        let leaver: uuid::Uuid = ids[1].parse().unwrap();
        let backed_up = s.store.subject(leaver).await.unwrap().unwrap();
        let ran = s.state.app.retention.run_batches(&job).await.unwrap();
        let [done] = &ran[..] else { panic!("{ran:?}") };
        let outcome = done.batch.outcome.clone().unwrap();
        assert_eq!(
            (outcome.subjects, outcome.fields, outcome.whole_subjects),
            (2, 2, 0),
            "{outcome:?}"
        );
        assert!(s
            .state
            .app
            .retention
            .run_batches(&job)
            .await
            .unwrap()
            .is_empty());
        let fields_of = |r: &Reply| -> Vec<String> {
            r.body["fields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["field"].as_str().unwrap().to_owned())
                .collect()
        };
        let life = |id: &str| format!("/api/v1/subjects/{id}/lifecycle");
        let r = s.get(&life(&ids[1]), &dpo).await;
        assert_eq!(fields_of(&r), ["surname", "iin"], "{}", r.body);
        // In the platform, only the leavers' grade column is masked: their names stay, and
        // the student who stays keeps her grade.
        let platform: Vec<(String, Option<String>)> = rusqlite::Connection::open(&s.platform)
            .unwrap()
            .prepare("SELECT full_name, year_grade FROM users ORDER BY full_name")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            platform,
            [
                ("Бекова".to_owned(), None),
                ("Сапарова".to_owned(), Some("5".to_owned())),
                ("Әлиева".to_owned(), None),
            ]
        );
        let r = s
            .get(&format!("{batches}/{id}"), &auditor_of(&s).await)
            .await;
        assert_eq!(r.body["status"], "done", "{}", r.body);
        assert_eq!(r.body["outcome"]["fields"], 2, "{}", r.body);
        let r = s
            .get(&format!("/api/v1/subjects/{}/audit", ids[1]), &s.admin)
            .await;
        let destroyed = r.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == "subject.destroy_fields")
            .cloned()
            .unwrap_or_else(|| panic!("{}", r.body));
        assert_eq!(destroyed["fields"], json!(["grades"]), "{destroyed}");

        // A backup from before brings her grades back: the destruction log has them destroyed
        // again.
        let now = s.store.subject(leaver).await.unwrap().unwrap();
        s.store
            .write(derbes_store::WriteOp::UpdateSubject {
                id: leaver,
                expected_version: now.version,
                fields: backed_up.fields.clone(),
                field_collected: backed_up.field_collected.clone(),
                index: Vec::new(),
                audit: derbes_core::audit::AuditDraft::new(
                    "test",
                    "restore",
                    derbes_core::audit::Outcome::Ok,
                ),
            })
            .await
            .unwrap();
        let r = s.get(&life(&ids[1]), &dpo).await;
        assert_eq!(
            fields_of(&r),
            ["surname", "iin", "grades"],
            "restored: {}",
            r.body
        );
        let destructions = &s.state.app.destructions;
        let done = destructions.reconcile_destructions().await.unwrap();
        assert_eq!(done.reapplied_fields, 1, "{done:?}");
        let r = s.get(&life(&ids[1]), &dpo).await;
        assert_eq!(fields_of(&r), ["surname", "iin"], "{}", r.body);
        let again = destructions.reconcile_destructions().await.unwrap();
        assert_eq!(again.reapplied_fields, 0, "once is enough");
    })
}

/// Six visitors consented to analytics for 90 days; 500 days on, their visits are past the
/// analytics rule, which depersonalizes. The approved batch keeps one record of each, with the
/// browser and the year of the visit only, and destroys the visitors. A release shows only
/// the group of five alike; the one visitor on another browser is held back and counted. The
/// act says what the records keep, and the batch's pseudonym key is gone.
pub(super) fn a_depersonalizing_batch_keeps_records_that_name_no_one(db: TestDb) -> Fut {
    Box::pin(async move {
        let (s, ids, dpo, year) = six_visitors_past_analytics(&db).await;
        let release = "/api/v1/retention/depersonalized/analytics_data";
        let r = s.get(release, &dpo).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["records"], json!([]), "nothing kept yet");
        let batches = "/api/v1/retention/batches";
        let r = s
            .post(batches, &dpo, json!({ "rule": "analytics_data" }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["action"], "depersonalize");
        assert_eq!(
            (
                &r.body["summary"]["subjects"],
                &r.body["summary"]["whole_subjects"]
            ),
            (&json!(6), &json!(6)),
            "{}",
            r.body
        );
        let id = r.body["id"].as_str().unwrap().to_owned();
        for who in [&s.admin, &dpo] {
            let r = s
                .post(&format!("{batches}/{id}/approve"), who, json!({}))
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
        }
        let job = derbes_service::Actor::job("retention-run");
        let ran = s.state.app.retention.run_batches(&job).await.unwrap();
        let [done] = &ran[..] else { panic!("{ran:?}") };
        let outcome = done.batch.outcome.clone().unwrap();
        assert_eq!(
            (outcome.subjects, outcome.whole_subjects),
            (6, 6),
            "{outcome:?}"
        );
        let batch_id: uuid::Uuid = id.parse().unwrap();
        assert_eq!(s.store.pseudonym_key(batch_id).await.unwrap(), None);
        for visitor in &ids {
            let gone = s.store.subject(visitor.parse().unwrap()).await.unwrap();
            assert_eq!(gone, None, "destroyed whole once depersonalized");
        }

        // The release: the five alike, the sixth held back.
        let r = s.get(release, &dpo).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let record = json!({ "category": "site_visitor", "values": { "access_time": year, "browser": "Firefox 128" } });
        assert_eq!(r.body["records"], json!(vec![record; 5]), "{}", r.body);
        assert_eq!(
            (
                &r.body["k"],
                &r.body["groups"],
                &r.body["suppressed_groups"],
                &r.body["suppressed_records"]
            ),
            (&json!(5), &json!(1), &json!(1), &json!(1)),
            "{}",
            r.body
        );
        assert_eq!(
            r.body["quasi_identifiers"],
            json!(["browser", "access_time"])
        );
        let r = s.get(&format!("{release}?format=csv"), &dpo).await;
        assert_eq!(r.status, 200);
        let row = format!("site_visitor,{year},Firefox 128");
        let mut expected = vec!["category,access_time,browser"];
        expected.extend(std::iter::repeat_n(row.as_str(), 5));
        assert_eq!(r.text.lines().collect::<Vec<_>>(), expected);
        let staff = s.token(Role::Staff, &["analytics"]).await;
        assert_problem(&s.get(release, &staff).await, 403, "forbidden");
        let r = s
            .get("/api/v1/retention/depersonalized/student_records", &dpo)
            .await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "rule", "{}", r.body);
        assert_problem(
            &s.get(&format!("{release}?format=xml"), &dpo).await,
            422,
            "validation",
        );

        // The act: of depersonalization, with what the records keep.
        let r = s.get(&format!("{batches}/{id}/act"), &dpo).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["act"]["depersonalized_records"], 6, "{}", r.body);
        let kept: Vec<&str> = r.body["act"]["kept"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kept"].as_str().unwrap())
            .collect();
        assert_eq!(kept, ["year", "keep"], "{}", r.body);
        let r = s
            .get(&format!("{batches}/{id}/act?format=html&lang=ru"), &dpo)
            .await;
        let page = &r.text;
        assert!(
            page.contains("Акт об обезличивании персональных данных"),
            "{page}"
        );
        assert!(page.contains("Время посещения: только год"), "{page}");

        // The audit keeps counts: no kept value is in any event.
        let events = s.get("/api/v1/audit?limit=1000", &s.admin).await;
        let said = events.body.to_string();
        assert!(said.contains("retention.release"), "{said}");
        assert!(!said.contains("Firefox"), "{said}");
    })
}

/// Six site visitors (five on one browser) who consented to analytics for 90 days, 500 days
/// on: their visits are past both the web logs' rule and the analytics rule. Their ids, a
/// DPO's token, and the year of their visit.
async fn six_visitors_past_analytics(db: &TestDb) -> (Server, Vec<String>, String, String) {
    let (offset, clock) = shifted_clock();
    let s = Server::start_with_clock(db, clock).await;
    let visited = s.state.app.vault.now();
    let ids = s.six_visitors().await;
    // The consent ended after 90 days; the analytics rule keeps the visits 12 months more.
    offset.store(500 * 86_400, std::sync::atomic::Ordering::SeqCst);
    let dpo = s.token(Role::Dpo, &[]).await;
    (s, ids, dpo, visited.year().to_string())
}

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
async fn approved_batch(s: &Server, dpo: &str) -> String {
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
        assert!(
            r.disposition.contains("destruction-act-"),
            "{}",
            r.disposition
        );
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
    for surname in ["Әлиева", "Бекова", "Сапарова"] {
        ids.push(
            s.create_student_id(&s.admin, json!({ "surname": surname, "grades": "5" }))
                .await,
        );
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
        assert_eq!(fields_of(&r), ["surname"], "{}", r.body);
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
        assert_eq!(fields_of(&r), ["surname", "grades"], "restored: {}", r.body);
        let done = s
            .state
            .app
            .destructions
            .reconcile_destructions()
            .await
            .unwrap();
        assert_eq!(done.reapplied_fields, 1, "{done:?}");
        let r = s.get(&life(&ids[1]), &dpo).await;
        assert_eq!(fields_of(&r), ["surname"], "{}", r.body);
        let again = s
            .state
            .app
            .destructions
            .reconcile_destructions()
            .await
            .unwrap();
        assert_eq!(again.reapplied_fields, 0, "once is enough");
    })
}

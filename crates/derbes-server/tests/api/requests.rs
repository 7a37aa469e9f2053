//! Data-subject requests from intake to completion; access, rectification and destruction.

use super::*;

/// A school's request desk: the server, and the DPO's, staff's (education) and auditor's
/// tokens.
struct Desk {
    s: Server,
    dpo: String,
    staff: String,
    auditor: String,
}

impl Desk {
    async fn open(db: &TestDb) -> Desk {
        let s = Server::start(db).await;
        let dpo = s.token(Role::Dpo, &[]).await;
        let staff = s.token(Role::Staff, &["education"]).await;
        let auditor = s.token(Role::Auditor, &[]).await;
        Desk {
            s,
            dpo,
            staff,
            auditor,
        }
    }

    /// A student with an e-mail of her own.
    async fn a_student(&self) -> String {
        self.s
            .create_student_id(
                &self.s.admin,
                json!({ "surname": "Сәрсенбаева", "given_name": "Дана", "email": "dana@mail.kz" }),
            )
            .await
    }

    /// A parent with an e-mail on file, not linked to anyone.
    async fn a_parent(&self) -> String {
        self.s
            .a_representative(json!({ "surname": "Сәрсенбаев", "email": "ata@mail.kz" }))
            .await
    }

    /// A parent linked to `child`.
    async fn a_parent_linked_to(&self, child: &str) -> String {
        let parent = self.a_parent().await;
        let r = self.s.link_parent(child, &parent).await;
        assert_eq!(r.status, 201, "{}", r.body);
        parent
    }

    /// A student, her linked parent, and the parent's request to block her data:
    /// (student, request).
    async fn a_parents_blocking_request(&self) -> (String, String) {
        let child = self.a_student().await;
        let parent = self.a_parent_linked_to(&child).await;
        let (id, _) = self.file(&blocking(&child, &parent)).await;
        (child, id)
    }

    /// Files `filing` as staff: the request's id and the answer.
    async fn file(&self, filing: &Value) -> (String, Reply) {
        let r = self
            .s
            .post("/api/v1/requests", &self.staff, filing.clone())
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        (r.body["id"].as_str().unwrap().to_owned(), r)
    }

    async fn step(&self, id: &str, token: &str, step: Value) -> Reply {
        self.s
            .post(&format!("/api/v1/requests/{id}/steps"), token, step)
            .await
    }

    /// Sends the one-time code for `id` and returns it, read from the mail.
    async fn sent_code(&self, id: &str) -> Reply {
        self.s
            .post(
                &format!("/api/v1/requests/{id}/verification/code"),
                &self.staff,
                json!({}),
            )
            .await
    }

    async fn check_code(&self, id: &str, code: &str) -> Reply {
        self.s
            .post(
                &format!("/api/v1/requests/{id}/verification/code/check"),
                &self.staff,
                json!({ "code": code }),
            )
            .await
    }

    /// Verifies the requester of `id` with the code the mail carried.
    async fn verified_by_code(&self, id: &str) {
        let r = self.sent_code(id).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let code = six_digits(&last_mail(&self.s.outbox).1);
        let r = self.check_code(id, &code).await;
        assert_eq!(r.body["status"], "identity_verified", "{}", r.body);
    }

    /// Submits `id` as staff and approves it as the DPO, blocking until `until`.
    async fn approved(&self, id: &str, until: &str) -> Reply {
        let r = self
            .step(id, &self.staff, json!({ "step": "submit" }))
            .await;
        assert_eq!(r.body["status"], "awaiting_approval", "{}", r.body);
        let r = self
            .step(id, &self.dpo, json!({ "step": "approve", "until": until }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        r
    }

    /// Records the answer's outgoing number for `id` as the DPO and completes it: the answer.
    async fn answered_and_completed(&self, id: &str) -> Reply {
        let answer = json!({ "step": "record_answer", "reference": "№ 01-12/345" });
        let r = self.step(id, &self.dpo, answer).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = self
            .step(id, &self.dpo, json!({ "step": "complete" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        r
    }
}

/// The parent's request that the child's data be blocked, filed online in Kazakh.
fn blocking(child: &str, parent: &str) -> Value {
    json!({ "kind": "blocking", "subject_id": child, "representative_id": parent,
            "channel": "online", "language": "kk", "details": "Деректерді тексеру кезінде бұғаттауды сұраймын" })
}

/// Ten days from today, as a date.
fn ten_days_on() -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(10)).to_string()
}

/// A parent files for a child only once linked to it; the due date is fixed and explained at
/// intake, and the requester's words are for the DPO.
pub(super) fn a_parent_files_only_for_a_linked_child(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let child = d.a_student().await;
        let parent = d.a_parent().await;
        let filing = blocking(&child, &parent);
        let r = d.s.post("/api/v1/requests", &d.staff, filing.clone()).await;
        assert_problem(&r, 404, "not-found");
        let r = d.s.link_parent(&child, &parent).await;
        assert_eq!(r.status, 201, "{}", r.body);

        let (id, r) = d.file(&filing).await;
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
        let read = d.s.get(&format!("/api/v1/requests/{id}"), &d.dpo).await;
        assert_eq!(
            read.body["details"],
            "Деректерді тексеру кезінде бұғаттауды сұраймын"
        );
        assert_eq!(each(&r.body["actions"], "kind"), ["block", "answer"]);
    })
}

/// The same request again is a duplicate; filed anyway on purpose it says so, and once
/// rejected nothing moves it.
pub(super) fn a_duplicate_is_refused_unless_filed_on_purpose(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let child = d.a_student().await;
        let filing = blocking(&child, &d.a_parent_linked_to(&child).await);
        let (id, _) = d.file(&filing).await;
        let r = d.s.post("/api/v1/requests", &d.staff, filing.clone()).await;
        assert_problem(&r, 409, "conflict");
        assert_eq!(r.body["existing_request_id"], id.as_str());
        let mut again = filing.clone();
        again["allow_duplicate"] = json!(true);
        let (dup, r) = d.file(&again).await;
        assert_eq!(r.body["duplicate_of"], id.as_str());
        let r = d
            .step(
                &dup,
                &d.dpo,
                json!({ "step": "reject", "reason": "duplicate" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "rejected");
        let r = d.step(&dup, &d.dpo, json!({ "step": "submit" })).await;
        assert_problem(&r, 409, "request-step");
    })
}

/// No approval before the requester is verified; the one-time code goes to the parent's
/// e-mail on file, never the child's, and verifies once.
pub(super) fn a_one_time_code_verifies_the_representative(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let (_, id) = d.a_parents_blocking_request().await;
        let r = d.step(&id, &d.dpo, json!({ "step": "submit" })).await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "wrong_status");

        let r = d.sent_code(&id).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["sent_to"], "a***@m***.kz");
        assert_eq!(r.body["sends_left"], 2);
        let (to, body) = last_mail(&d.s.outbox);
        assert_eq!(to, "ata@mail.kz");
        assert!(body.contains("растау коды"), "{body}");
        let code = six_digits(&body);
        let wrong = if code == "000000" { "111111" } else { "000000" };
        let r = d.check_code(&id, wrong).await;
        assert_problem(&r, 422, "one-time-code");
        assert_eq!(r.body["attempts_left"], 4);
        let r = d.check_code(&id, &code).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "identity_verified");
        assert_eq!(r.body["verification"]["method"], "one_time_code");
        assert_eq!(r.body["verification"]["field"], "email");
        // A used code does not verify again.
        let r = d.check_code(&id, &code).await;
        assert_problem(&r, 409, "conflict");
    })
}

/// Staff submit and cannot approve; the DPO's approval sets the block; completion waits for
/// the answer; the auditor reads the request without the requester's words.
pub(super) fn the_dpo_approves_and_completion_waits_for_the_answer(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let (child, id) = d.a_parents_blocking_request().await;
        d.verified_by_code(&id).await;
        let r = d.step(&id, &d.staff, json!({ "step": "submit" })).await;
        assert_eq!(r.body["status"], "awaiting_approval", "{}", r.body);
        let r = d.step(&id, &d.staff, json!({ "step": "approve" })).await;
        assert_problem(&r, 403, "forbidden");
        let until = ten_days_on();
        let r = d
            .step(&id, &d.dpo, json!({ "step": "approve", "until": until }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["status"], "in_progress");
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert_eq!(r.body["actions"][1]["status"], "pending");
        let flags =
            d.s.get(&format!("/api/v1/subjects/{child}/flags"), &d.s.admin)
                .await;
        assert_eq!(
            flags.body["blocked"]["reason"], "subject_request",
            "{}",
            flags.body
        );
        assert_eq!(flags.body["blocked"]["until"], until.as_str());

        let r = d.step(&id, &d.dpo, json!({ "step": "complete" })).await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "actions_pending");
        let empty = json!({ "step": "record_answer", "reference": "" });
        assert_problem(&d.step(&id, &d.dpo, empty).await, 422, "validation");
        let r = d.answered_and_completed(&id).await;
        assert_eq!(
            each(&r.body["history"], "step"),
            ["file", "verify_identity", "submit", "approve", "complete"]
        );

        let r = d.s.get(&format!("/api/v1/requests/{id}"), &d.auditor).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.get("details").is_none());
    })
}

/// A paper request: a restriction needs a declared purpose and a received time not in the
/// future; staff check the identity document (the note sealed for the DPO); it is withdrawn.
pub(super) fn a_paper_request_is_checked_by_document_and_withdrawn(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let child = d.a_student().await;
        let mut paper = json!({ "kind": "restriction", "subject_id": child, "channel": "paper", "language": "ru" });
        let r = d.s.post("/api/v1/requests", &d.staff, paper.clone()).await;
        assert_problem(&r, 422, "validation");
        assert!(r.body["detail"].as_str().unwrap().contains("purpose"));
        paper["purpose"] = json!("nonexistent");
        let r = d.s.post("/api/v1/requests", &d.staff, paper.clone()).await;
        assert_eq!(r.status, 422, "{}", r.body);
        paper["purpose"] = json!("extracurricular");
        paper["received_at"] = json!("2099-01-01T00:00:00Z");
        let r = d.s.post("/api/v1/requests", &d.staff, paper.clone()).await;
        assert_problem(&r, 422, "validation");
        paper["received_at"] = json!("2026-11-20T10:00:00+05:00");
        let (id, r) = d.file(&paper).await;
        // Friday 20 November 2026, one working day: Monday 23 November.
        assert_eq!(r.body["due"]["due_on"], "2026-11-23");
        let r =
            d.s.post(
                &format!("/api/v1/requests/{id}/verification/document"),
                &d.staff,
                json!({ "document": "id_card", "note": "Жеке куәлік тексерілді" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["verification"]["method"], "document");
        assert!(r.body["verification_note"].is_null(), "{}", r.body);
        let read = d.s.get(&format!("/api/v1/requests/{id}"), &d.dpo).await;
        assert_eq!(read.body["verification_note"], "Жеке куәлік тексерілді");
        let r = d.step(&id, &d.staff, json!({ "step": "withdraw" })).await;
        assert_eq!(r.body["status"], "withdrawn", "{}", r.body);
    })
}

/// The register lists open requests by default, closed ones when asked, by due time, and
/// refuses filters it cannot apply.
pub(super) fn the_register_lists_requests_by_due_time(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let child = d.a_student().await;
        for kind in ["blocking", "destruction"] {
            let (id, _) = d
                .file(&json!({ "kind": kind, "subject_id": child, "channel": "paper", "language": "ru" }))
                .await;
            let r = d.step(&id, &d.staff, json!({ "step": "withdraw" })).await;
            assert_eq!(r.body["status"], "withdrawn", "{}", r.body);
        }
        let r = d.s.get("/api/v1/requests", &d.dpo).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body.as_array().unwrap().len(), 0, "{}", r.body);
        let r =
            d.s.get(
                &format!("/api/v1/requests?subject_id={child}&open=false"),
                &d.dpo,
            )
            .await;
        assert_eq!(r.body.as_array().unwrap().len(), 2, "{}", r.body);
        let (info, _) = d
            .file(&json!({ "kind": "information", "subject_id": child, "channel": "email", "language": "en" }))
            .await;
        let r =
            d.s.get("/api/v1/requests?due_within_days=30", &d.staff)
                .await;
        assert_eq!(r.body[0]["id"], info.as_str(), "{}", r.body);
        assert!(r.body[0].get("details").is_none());
        // A look ahead beyond any date is refused, not a panic.
        assert_problem(
            &d.s.get("/api/v1/requests?due_within_days=4000000000", &d.staff)
                .await,
            422,
            "validation",
        );
        let r = d.s.get("/api/v1/requests?overdue=true", &d.auditor).await;
        assert_eq!(r.body.as_array().unwrap().len(), 0);
        assert_problem(
            &d.s.get("/api/v1/requests?limit=0", &d.dpo).await,
            422,
            "validation",
        );
        assert_problem(
            &d.s.get("/api/v1/requests?status=nonsense", &d.dpo).await,
            400,
            "bad-request",
        );
        let r =
            d.s.get(
                &format!("/api/v1/requests/{}", uuid::Uuid::now_v7()),
                &d.dpo,
            )
            .await;
        assert_problem(&r, 404, "not-found");
        let platform = d.s.token(Role::Integration, &["education"]).await;
        assert_problem(
            &d.s.get("/api/v1/requests", &platform).await,
            403,
            "forbidden",
        );
    })
}

/// Every step is in the audit chain under the subject, without the requester's words or
/// address.
pub(super) fn every_step_is_audited_without_the_requesters_words(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let (child, id) = d.a_parents_blocking_request().await;
        d.verified_by_code(&id).await;
        d.approved(&id, &ten_days_on()).await;
        d.answered_and_completed(&id).await;
        let (paper, _) = d
            .file(&json!({ "kind": "information", "subject_id": child, "channel": "paper", "language": "ru" }))
            .await;
        let r = d
            .step(&paper, &d.staff, json!({ "step": "withdraw" }))
            .await;
        assert_eq!(r.body["status"], "withdrawn", "{}", r.body);

        let audit =
            d.s.get(&format!("/api/v1/subjects/{child}/audit"), &d.s.admin)
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
    })
}

/// The subject asks for what already holds (no block in force, a consent never given): the
/// actions are done, and say so, rather than failing for good.
pub(super) fn what_already_holds_is_done_and_says_so(db: TestDb) -> Fut {
    Box::pin(async move {
        let d = Desk::open(&db).await;
        let child = d.a_student().await;
        let (_, r) = d
            .s
            .approved_request(
                &d.staff,
                &d.dpo,
                json!({ "kind": "unblocking", "subject_id": child, "channel": "paper", "language": "ru" }),
            )
            .await;
        assert_eq!(r.body["actions"][0]["kind"], "unblock", "{}", r.body);
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert_eq!(r.body["actions"][0]["note"], "no block was in force");
        let (_, r) = d
            .s
            .approved_request(
                &d.staff,
                &d.dpo,
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

/// A student on the school platform, with a consent given and a read recorded, and the desk
/// that answers her requests; the server's clock can be moved on.
struct Enrolled {
    s: Server,
    offset: Arc<std::sync::atomic::AtomicI64>,
    admin: String,
    dpo: String,
    staff: String,
    subject: String,
    iin: String,
    consent_id: String,
    consents: String,
}

impl Enrolled {
    async fn start(db: &TestDb) -> Enrolled {
        let (offset, clock) = shifted_clock();
        let s = Server::start_with_clock(db, clock).await;
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
                "INSERT INTO users (id, iin, full_name, email) VALUES (1, '{iin}', 'Сәрсенбаева Дана (платформа)', 'dana.platform@mail.kz'), (2, '760212350620', 'Оспанов Ерлан', 'erlan@mail.kz');
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
        Enrolled {
            s,
            offset,
            admin,
            dpo,
            staff,
            subject,
            iin,
            consent_id,
            consents,
        }
    }

    /// A paper request of hers, of `kind`, answered in `language`.
    fn filing(&self, kind: &str, language: &str) -> Value {
        json!({ "kind": kind, "subject_id": self.subject, "channel": "paper", "language": language })
    }

    /// Her access request, verified on paper, submitted by the DPO and approved by an admin
    /// (four eyes): its id, its package built.
    async fn approved_access(&self) -> String {
        let r = self
            .s
            .post(
                "/api/v1/requests",
                &self.staff,
                self.filing("access_export", "ru"),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let r = self
            .s
            .post(&verify(&id), &self.staff, json!({ "document": "id_card" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = self
            .s
            .post(&steps(&id), &self.dpo, json!({ "step": "submit" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = self
            .s
            .post(&steps(&id), &self.admin, json!({ "step": "approve" }))
            .await;
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        id
    }
}

fn steps(id: &str) -> String {
    format!("/api/v1/requests/{id}/steps")
}

fn verify(id: &str) -> String {
    format!("/api/v1/requests/{id}/verification/document")
}

/// Access: verified on paper, submitted by the DPO, approved by another person, and only then
/// the package is built.
pub(super) fn an_access_request_needs_a_second_person_to_approve(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(e = Enrolled::start(&db).await => Enrolled { s, admin, dpo, staff });
        // Access: verified on paper, submitted by the DPO, approved by another person.
        let r = s
            .post("/api/v1/requests", staff, e.filing("access_export", "ru"))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let access = r.body["id"].as_str().unwrap().to_owned();
        let r = s
            .post(&verify(&access), staff, json!({ "document": "id_card" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s
            .post(&steps(&access), dpo, json!({ "step": "submit" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let package = format!("/api/v1/requests/{access}/package");
        let r = s.get(&package, dpo).await;
        assert_problem(&r, 410, "package-gone");
        // Four eyes: whoever submitted cannot approve.
        let r = s
            .post(&steps(&access), dpo, json!({ "step": "approve" }))
            .await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "same_approver", "{}", r.body);
        let r = s
            .post(&steps(&access), admin, json!({ "step": "approve" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["actions"][0]["kind"], "export");
        assert_action(&r, 0, "done", "access package built: 5 fields, 1 consents");
    })
}

/// The access package is the DPO's to download: her data, the platform's rows of her alone,
/// CSV a spreadsheet cannot run, HTML that shows markup as text, and receipts that verify.
pub(super) fn the_access_package_holds_her_data_and_nobody_elses(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(e = Enrolled::start(&db).await => Enrolled { s, dpo, staff, consent_id });
        let access = e.approved_access().await;
        let package = format!("/api/v1/requests/{access}/package");
        let r = s.get(&package, staff).await;
        assert_problem(&r, 403, "forbidden");
        let r = s.get(&package, dpo).await;
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
        assert_eq!(surname["source_label"], "сам субъект");
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
    })
}

/// The written answer, in Russian, to the e-mail on file: the DPO's to read, sent once even when
/// asked twice at once, and sent again after a delivery that failed.
pub(super) fn the_access_answer_is_sent_once(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(e = Enrolled::start(&db).await => Enrolled { s, dpo, staff });
        let access = e.approved_access().await;
        // The written answer, in Russian, to the e-mail on file; sent once.
        let answer = format!("/api/v1/requests/{access}/answer");
        // The letter (with the DPO's own words) is the DPO's to read.
        assert_eq!(s.get(&answer, staff).await.status, 403);
        let r = s.get(&answer, dpo).await;
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
            .post(&steps(&access), dpo, json!({ "step": "send_answer" }))
            .await;
        assert_problem(&r, 503, "unavailable");
        std::fs::remove_file(&s.outbox).unwrap();
        if had_outbox {
            std::fs::rename(&aside, &s.outbox).unwrap();
        }
        let r = s.get(&format!("/api/v1/requests/{access}"), dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "pending", "{}", r.body);
        // Two sends at once: one e-mail, and the other call is told why not.
        let send = steps(&access);
        let (a, b) = tokio::join!(
            s.post(&send, dpo, json!({ "step": "send_answer" })),
            s.post(&send, dpo, json!({ "step": "send_answer" }))
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
            .post(&steps(&access), dpo, json!({ "step": "send_answer" }))
            .await;
        assert_problem(&r, 409, "conflict");
        let r = s
            .post(&steps(&access), dpo, json!({ "step": "complete" }))
            .await;
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        let r = s.get(&answer, dpo).await;
        assert_eq!(r.body["sent"], true);
        assert_eq!(r.body["body"].as_str().unwrap(), letter);
    })
}

/// Rectification: the corrected value is checked against evidence, validated, applied once.
pub(super) fn a_rectification_is_checked_against_evidence(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(e = Enrolled::start(&db).await => Enrolled { s, dpo, staff, subject });
        // Rectification: the corrected value is checked against evidence, validated, applied.
        let (rect, r) = s
            .approved_request(staff, dpo, e.filing("rectification", "kk"))
            .await;
        assert_eq!(r.body["actions"][0]["status"], "pending");
        let rect_steps = steps(&rect);
        let rectify = |by, fields: serde_json::Value, evidence: &str| {
            s.post(
                &rect_steps,
                by,
                json!({ "step": "rectify", "fields": fields, "evidence": evidence }),
            )
        };
        let r = rectify(dpo, json!({ "email": "not-an-email" }), "Жеке куәлік").await;
        assert_problem(&r, 422, "validation");
        let r = rectify(dpo, json!({ "surname": "Әлиева" }), " ").await;
        assert_problem(&r, 422, "validation");
        let r = rectify(staff, json!({ "surname": "Әлиева" }), "Жеке куәлік").await;
        assert_problem(&r, 403, "forbidden");
        let r = rectify(
            dpo,
            json!({ "surname": "Әлиева" }),
            "Неке туралы куәлік № 123",
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["actions"][0]["status"], "done");
        assert_eq!(r.body["actions"][0]["note"], "rectified: surname");
        assert_eq!(r.body["evidence"], "Неке туралы куәлік № 123");
        let r = rectify(dpo, json!({ "surname": "Басқа" }), "x").await;
        assert_problem(&r, 409, "conflict");
        let r = s
            .get(
                &format!("/api/v1/subjects/{subject}?purpose=education"),
                staff,
            )
            .await;
        assert_eq!(r.body["fields"]["surname"], "Әлиева", "{}", r.body);
    })
}

/// Destruction: refused while an obligation is open or the platform refuses, done once both
/// allow; then gone everywhere but the audit, the answer still reaches the requester.
#[allow(
    clippy::too_many_lines,
    reason = "one destruction followed from its refusals to its record everywhere it reaches"
)]
pub(super) fn a_destruction_waits_for_obligations_and_the_platform(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(e = Enrolled::start(&db).await => Enrolled { s, admin, dpo, staff, subject, iin, consents });
        let platform_db = rusqlite::Connection::open(&s.platform).unwrap();
        let access = e.approved_access().await;
        let package = format!("/api/v1/requests/{access}/package");
        // Destruction: refused while an obligation is open, done once it is fulfilled.
        let obligation = format!("/api/v1/subjects/{subject}/obligations/extracurricular");
        let r = s
            .put(&obligation, admin, json!({ "note": "экскурсия" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (destroy, r) = s
            .approved_request(staff, dpo, e.filing("destruction", "en"))
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
        assert_eq!(s.get(&read_path, staff).await.status, 200);
        let r = s.delete(&obligation, admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        // A legal hold the DPO set keeps the data too, until the DPO lifts it.
        let lifecycle = format!("/api/v1/subjects/{subject}/lifecycle");
        let today = s.state.app.vault.today();
        let until = (today + time::Duration::days(30)).to_string();
        let hold = json!({ "kind": "legal_hold", "reason": "запрос прокуратуры", "on": today.to_string(), "until": until });
        let r = s.post(&lifecycle, dpo, hold).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let hold_id = r.body["id"].clone();
        let r = s
            .post(&steps(&destroy), dpo, json!({ "step": "run_actions" }))
            .await;
        failed_for(
            &r,
            &format!("legal hold keeps the subject's data through {until}"),
        );
        let lift = json!({ "kind": "retracted", "event": hold_id, "on": today.to_string() });
        assert_eq!(s.post(&lifecycle, dpo, lift).await.status, 201);
        // The platform's database refuses (a table is missing): nothing is destroyed anywhere,
        // the request stays in progress with the connector's error.
        platform_db
            .execute_batch("ALTER TABLE grades RENAME TO grades_moved")
            .unwrap();
        let r = s
            .post(&steps(&destroy), dpo, json!({ "step": "run_actions" }))
            .await;
        failed_for(&r, "connector `platform`: table `grades`");
        assert_eq!(s.get(&read_path, staff).await.status, 200);
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
            .post(&steps(&destroy), dpo, json!({ "step": "run_actions" }))
            .await;
        assert_action(&r, 0, "done", "destroyed by crypto-shredding");

        // Gone everywhere: reads, lookups, consents, the package; the record says what went.
        let r = s
            .get(
                &format!("/api/v1/subjects/{subject}?purpose=education"),
                staff,
            )
            .await;
        assert_problem(&r, 410, "destroyed");
        assert_eq!(r.body["destruction"]["request_id"], destroy.as_str());
        let r = s
            .post(
                "/api/v1/lookup",
                admin,
                json!({ "field": "iin", "value": iin, "purpose": "education" }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["subjects"], json!([]), "{}", r.body);
        let r = s.get(consents, admin).await;
        assert_problem(&r, 410, "destroyed");
        let r = s.get(&package, dpo).await;
        assert_problem(&r, 410, "package-gone");
        let r = s
            .get(&format!("/api/v1/subjects/{subject}/destruction"), dpo)
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
        assert!(!r.text.contains("Сәрсенбаева") && !r.text.contains(iin.as_str()));
        let r = s
            .get(
                &format!("/api/v1/subjects/{}/destruction", uuid::Uuid::now_v7()),
                dpo,
            )
            .await;
        assert_problem(&r, 404, "not-found");
        let r = s
            .get(&format!("/api/v1/subjects/{subject}/destruction"), staff)
            .await;
        assert_problem(&r, 403, "forbidden");
        // The audit keeps what happened, never a value; the request keeps the requester's words.
        let audit = s
            .get(&format!("/api/v1/subjects/{subject}/audit"), admin)
            .await;
        assert!(audit.text.contains("subject.destroy"));
        assert!(!audit.text.contains("Сәрсенбаева") && !audit.text.contains(iin.as_str()));
        // The answer still reaches the requester: the address was kept, sealed, at approval.
        let r = s
            .post(&steps(&destroy), dpo, json!({ "step": "send_answer" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let (to, mail) = last_mail(&s.outbox);
        assert_eq!(to, "dana@mail.kz");
        assert!(mail.contains("your personal data were destroyed"), "{mail}");
        let r = s
            .post(&steps(&destroy), dpo, json!({ "step": "complete" }))
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
        assert!(log.contains(subject.as_str()) && !log.contains(iin.as_str()));
    })
}

/// An access package expires: refused after its time, and swept; an information answer lists
/// the purposes, printed when there is no e-mail on file.
pub(super) fn a_package_expires_and_is_swept(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(e = Enrolled::start(&db).await => Enrolled { s, admin, dpo, staff, offset });
        use std::sync::atomic::Ordering;
        // A package expires: refused after its time, and swept.
        let other = s
            .create_student_id(admin, json!({ "surname": "Оспанов" }))
            .await;
        let (second, r) = s
            .approved_request(
                staff,
                dpo,
                json!({ "kind": "access_export", "subject_id": other, "channel": "online", "language": "kk" }),
            )
            .await;
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        let package = format!("/api/v1/requests/{second}/package");
        let report =
            String::from_utf8(unzip(&s.get(&package, dpo).await.bytes)["report.html"].clone())
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
                staff,
                dpo,
                json!({ "kind": "information", "subject_id": other, "channel": "paper", "language": "ru" }),
            )
            .await;
        let r = s.get(&format!("/api/v1/requests/{info}/answer"), dpo).await;
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
                dpo,
                json!({ "step": "send_answer", "text": "x".repeat(4001) }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(&steps(&info), dpo, json!({ "step": "send_answer" }))
            .await;
        assert_problem(&r, 409, "conflict");
        assert!(
            r.body["detail"].as_str().unwrap().contains("record_answer"),
            "{}",
            r.body
        );
        let r = s.get(&package, dpo).await;
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

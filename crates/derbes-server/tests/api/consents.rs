//! A minor's consents over the years: a parent's, then the subject's own at majority; blocks,
//! restrictions and obligations over them.

use super::*;
use std::sync::atomic::{AtomicI64, Ordering};

/// A family at the school: a student of 17 (born 2008-12-01) and her father, not yet linked,
/// the platform's token, and a clock that starts on 2026-11-21 and can be moved.
struct Family {
    s: Server,
    clock_at: Arc<AtomicI64>,
    admin: String,
    platform: String,
    child: String,
    parent: String,
    /// The child's consent ledger.
    consents: String,
    /// Paper as the method, with the scanned form's digest.
    paper: Value,
}

/// 09:00 UTC of a day, as a Unix time.
fn day(y: i32, m: u8, d: u8) -> i64 {
    time::Date::from_calendar_date(y, time::Month::try_from(m).unwrap(), d)
        .unwrap()
        .with_hms(9, 0, 0)
        .unwrap()
        .assume_utc()
        .unix_timestamp()
}

impl Family {
    async fn start(db: &TestDb) -> Family {
        let clock_at = Arc::new(AtomicI64::new(day(2026, 11, 21)));
        let reading = Arc::clone(&clock_at);
        let clock: Clock = Arc::new(move || {
            time::OffsetDateTime::from_unix_timestamp(reading.load(Ordering::SeqCst)).unwrap()
        });
        let s = Server::start_with_clock(db, clock).await;
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
            .a_representative(json!({ "surname": "Сәрсенбаев", "given_name": "Ерлан",
                "iin": iin_born(time::Date::from_calendar_date(1980, time::Month::May, 4).unwrap(), Sex::Male) }))
            .await;
        let consents = format!("/api/v1/subjects/{child}/consents");
        Family {
            s,
            clock_at,
            admin,
            platform,
            child,
            parent,
            consents,
            paper: json!({ "kind": "paper", "evidence_sha256": "5e".repeat(32) }),
        }
    }

    /// Moves the server's clock to 09:00 UTC of that day.
    fn at(&self, y: i32, m: u8, d: u8) {
        self.clock_at.store(day(y, m, d), Ordering::SeqCst);
    }

    /// The platform reads the child for `purpose`.
    async fn read(&self, purpose: &str) -> Reply {
        self.s
            .get(
                &format!("/api/v1/subjects/{}?purpose={purpose}", self.child),
                &self.platform,
            )
            .await
    }

    /// The parent's consent `action` for extracurricular activities, on paper.
    fn by_parent(&self, action: &str) -> Value {
        json!({ "purpose": "extracurricular", "action": action, "representative_id": self.parent, "method": self.paper })
    }

    /// Links the parent to the child with the birth certificate.
    async fn linked(&self) {
        let r = self.s.link_parent(&self.child, &self.parent).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// The parent, linked, consents on paper: the consent's id.
    async fn given(&self) -> String {
        self.linked().await;
        let r = self
            .s
            .post(&self.consents, &self.platform, self.by_parent("give"))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    fn receipt_path(&self, consent: &str) -> String {
        format!("/api/v1/subjects/{}/consents/{consent}/receipt", self.child)
    }
}

/// Nothing yet: a consent-based purpose is refused; the child, 17, cannot consent alone, and
/// the parent cannot before being linked.
pub(super) fn a_minor_cannot_consent_alone_nor_an_unlinked_parent(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, platform, consents });
        // Nothing yet: a consent-based purpose is refused, a contract-based one is not.
        let r = f.read("extracurricular").await;
        assert_problem(&r, 403, "purpose-denied");
        assert_eq!(reason_codes(&r), ["no_consent"]);
        assert_eq!(f.read("education").await.status, 200);

        // The child, 17, cannot consent alone; the parent cannot act before being linked.
        let r = s
            .post(consents, platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }))
            .await;
        assert_problem(&r, 422, "consent-refused");
        assert_eq!(problem_codes(&r), ["minor_cannot_act_alone"]);
        let r = s.post(consents, platform, f.by_parent("give")).await;
        assert_problem(&r, 422, "consent-refused");
        assert_eq!(problem_codes(&r), ["representative_not_linked"]);
    })
}

/// Linked with the birth certificate, the parent consents on paper and the platform reads.
pub(super) fn a_linked_parent_consents_and_the_platform_reads(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, admin, platform, child, parent, consents });
        // Linked with the birth certificate, the parent consents on paper.
        let link = json!({ "representative_id": parent, "relation": "parent",
                           "documents": [{ "kind": "birth_certificate", "sha256": "b1".repeat(32) }] });
        let r = s
            .post(
                &format!("/api/v1/subjects/{child}/representatives"),
                admin,
                link.clone(),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = s
            .get(
                &format!("/api/v1/subjects/{parent}/representatives"),
                platform,
            )
            .await;
        assert_eq!(
            r.body["represents"][0]["subject_id"],
            child.as_str(),
            "{}",
            r.body
        );
        let r = s.post(consents, platform, f.by_parent("give")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let given = r.body["id"].as_str().unwrap().to_owned();
        assert_eq!(r.body["given_by"]["relation"], "parent");
        assert!(r.body["terms"]["fields"]
            .as_array()
            .unwrap()
            .contains(&json!("health_info")));
        let r = f.read("extracurricular").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["consent_id"], given.as_str());
        assert!(r.body.get("confirmation_due").is_none());
    })
}

/// The parent downloads a signed receipt; anyone can check it against the published key, in
/// JSON, a page in the visitor's language or text.
pub(super) fn a_consent_receipt_verifies_offline(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, platform, child, parent });
        let given = f.given().await;
        // The parent downloads a signed receipt; anyone can check it against the published key.
        let receipt_path = format!("/api/v1/subjects/{child}/consents/{given}/receipt");
        let r = s.get(&receipt_path, platform).await;
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
                Some(platform),
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
        for lang in ["kk", "en"] {
            let r = s
                .get(&format!("{receipt_path}?format=html&lang={lang}"), platform)
                .await;
            assert_eq!(r.status, 200, "{lang}: {}", r.text);
            assert!(r.text.contains(&format!("<html lang=\"{lang}\">")));
            assert!(r.text.contains("derbes receipt verify") && !r.text.contains("\\("));
        }
        let r = s
            .get(&format!("{receipt_path}?format=text&lang=en"), platform)
            .await;
        assert!(r.text.starts_with("Receipt for consent"), "{}", r.text);
        assert_problem(
            &s.get(&format!("{receipt_path}?format=pdf"), platform).await,
            422,
            "validation",
        );
        assert_problem(
            &s.get(
                &format!("/api/v1/subjects/{child}/consents/{parent}/receipt"),
                platform,
            )
            .await,
            404,
            "not-found",
        );
    })
}

/// While the excursion the child is booked on runs, consent cannot be withdrawn (Art. 8(2)).
pub(super) fn an_open_obligation_holds_a_withdrawal_back(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, admin, platform, child, consents });
        f.given().await;
        // While the excursion the child is booked on runs, consent cannot be withdrawn (Art. 8(2)).
        let obligation = format!("/api/v1/subjects/{child}/obligations/extracurricular");
        let r = s
            .put(&obligation, platform, json!({ "note": "экскурсия №3" }))
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .put(
                &obligation,
                admin,
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
                admin,
                json!({}),
            )
            .await;
        assert_problem(&r, 422, "validation");
        assert!(r.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("withdrawal_obligation"));
        let r = s.post(consents, platform, f.by_parent("withdraw")).await;
        assert_problem(&r, 422, "consent-refused");
        assert_eq!(problem_codes(&r), ["unfulfilled_obligation"]);
        assert_eq!(f.read("extracurricular").await.status, 200);
        let r = s.delete(&obligation, admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["obligations"], json!({}));
        assert_problem(&s.delete(&obligation, admin).await, 409, "conflict");
    })
}

/// A withdrawal takes effect on the very next read; its receipt says so; a contract is not
/// withdrawn like a consent.
pub(super) fn a_withdrawal_takes_effect_on_the_next_read(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, platform, parent, consents, paper });
        let given = f.given().await;
        let receipt_path = f.receipt_path(&given);
        // A withdrawal takes effect on the very next read.
        let r = s.post(consents, platform, f.by_parent("withdraw")).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let r = f.read("extracurricular").await;
        assert_problem(&r, 403, "purpose-denied");
        assert_eq!(reason_codes(&r), ["consent_withdrawn"]);
        let r = s.post(consents, platform, f.by_parent("withdraw")).await;
        assert_eq!(problem_codes(&r), ["nothing_to_withdraw"]);
        // The receipt of the withdrawn consent says so.
        let r = s.get(&receipt_path, platform).await;
        assert_eq!(r.body["receipt"]["status"], "withdrawn", "{}", r.text);
        // A contract is not withdrawn like a consent (Art. 8(2)).
        let r = s
            .post(consents, platform, json!({ "purpose": "education", "action": "withdraw", "representative_id": parent, "method": paper }))
            .await;
        assert_eq!(problem_codes(&r), ["not_consent_based"]);
        let r = s.get(consents, platform).await;
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
    })
}

/// The child turns 18 on 2026-12-01: the parent's consent keeps holding and the read asks for
/// the child's confirmation, until she consents in her own name, for a term that ends.
pub(super) fn at_majority_the_child_consents_in_her_own_name(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, platform, consents });
        f.linked().await;
        // Consent again; the child turns 18 on 2026-12-01: the consent keeps holding and the read
        // asks for the child's confirmation, until the child consents in their own name.
        assert_eq!(
            s.post(consents, platform, f.by_parent("give")).await.status,
            201
        );
        f.at(2026, 12, 2);
        let r = f.read("extracurricular").await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["confirmation_due"], true);
        let r = s
            .post(consents, platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" }, "until": "2027-06-30" }))
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["given_by"]["kind"], "subject");
        let own = r.body["id"].as_str().unwrap().to_owned();
        let r = f.read("extracurricular").await;
        assert_eq!(r.body["consent_id"], own.as_str(), "{}", r.body);
        assert!(r.body.get("confirmation_due").is_none());
        let r = s.get(consents, platform).await;
        assert_eq!(r.body["minor"], false);
        // The term ends on 2027-06-30.
        f.at(2027, 7, 1);
        assert_eq!(
            reason_codes(&f.read("extracurricular").await),
            ["consent_expired"]
        );
        f.at(2026, 12, 3);
    })
}

/// The month the child is to confirm her parent's consent in follows a corrected birth date
/// once the `majority-reconfirmations` job has worked it out again; a subject whose consents
/// came before derbes kept the months is settled the same way.
pub(super) fn a_corrected_birth_date_moves_the_month_of_majority(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, admin, child });
        f.given().await;
        let consents = &s.state.app.consents;
        let dpo = derbes_service::Actor::command_line("test");
        let due = || async {
            let due = consents.reconfirmations_due(&dpo, 0, 10).await.unwrap();
            due.due
                .iter()
                .map(|r| (r.subject_id.to_string(), r.month.to_string()))
                .collect::<Vec<_>>()
        };
        // Born 2008-12-01: listed from November 2026 (a month ahead), not before.
        f.at(2026, 10, 31);
        assert!(due().await.is_empty(), "not two months ahead");
        f.at(2026, 11, 21);
        assert_eq!(due().await, [(child.clone(), "2026-12-01".to_owned())]);
        f.at(2026, 12, 2);
        assert_eq!(due().await, [(child.clone(), "2026-12-01".to_owned())]);
        assert_eq!(
            consents.settle_reconfirmations().await.unwrap(),
            0,
            "nothing to settle"
        );

        // Her IIN was wrong: she was born on 2009-03-10.
        let iin = iin_born(time::macros::date!(2009 - 03 - 10), Sex::Female);
        let r = s
            .patch(
                &format!("/api/v1/subjects/{child}"),
                admin,
                json!({ "fields": { "iin": iin } }),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(consents.settle_reconfirmations().await.unwrap(), 1);
        assert!(due().await.is_empty(), "not due in December any more");
        f.at(2027, 2, 1);
        assert_eq!(due().await, [(child.clone(), "2027-03-01".to_owned())]);
    })
}

/// Blocking stops every purpose; restriction stops one; lifting lets reads go on; a block that
/// ran out no longer holds.
pub(super) fn blocks_and_restrictions_stop_reads_until_lifted(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, admin, platform, child });
        f.given().await;
        f.at(2026, 12, 3);
        // Blocking stops every purpose; restriction stops one; lifting lets reads go on.
        let block = format!("/api/v1/subjects/{child}/block");
        let r = s
            .put(&block, platform, json!({ "reason": "accuracy_contested" }))
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .put(&block, admin, json!({ "reason": "accuracy_contested", "note": "өтініш №14", "until": "2026-12-10" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["blocked"]["reason"], "accuracy_contested");
        assert_eq!(
            reason_codes(&f.read("education").await),
            ["subject_blocked"]
        );
        let r = s
            .delete(&format!("{block}?reason=subject_request"), admin)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body["blocked"].is_null());
        let r = s
            .delete(&format!("{block}?reason=subject_request"), admin)
            .await;
        assert_problem(&r, 409, "conflict");
        let restrict = format!("/api/v1/subjects/{child}/restrictions/extracurricular");
        let r = s
            .put(&restrict, admin, json!({ "reason": "objection" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            reason_codes(&f.read("extracurricular").await),
            ["processing_restricted"]
        );
        assert_eq!(f.read("education").await.status, 200);
        let r = s.delete(&format!("{restrict}?reason=other"), admin).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(f.read("extracurricular").await.status, 200);
        // A block that ran out no longer holds.
        s.put(
            &block,
            admin,
            json!({ "reason": "subject_request", "until": "2026-12-05" }),
        )
        .await;
        assert_eq!(
            reason_codes(&f.read("education").await),
            ["subject_blocked"]
        );
        f.at(2026, 12, 6);
        assert_eq!(f.read("education").await.status, 200);
    })
}

/// Bad input is refused with the field named; nothing is recorded.
pub(super) fn bad_consent_input_is_refused_and_nothing_is_recorded(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, admin, platform, child, consents });
        f.given().await;
        f.at(2026, 12, 6);
        let before = s.get(consents, platform).await.body["history"]
            .as_array()
            .unwrap()
            .len();
        // Bad input is refused with the field named; nothing is recorded.
        let r = s
            .post(consents, platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "paper", "evidence_sha256": "not-a-hash" } }))
            .await;
        assert_problem(&r, 422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "method.evidence_sha256");
        let r = s
            .post(consents, platform, json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" }, "until": "2020-01-01" }))
            .await;
        assert_eq!(r.body["errors"][0]["field"], "until", "{}", r.body);
        let r = s
            .post(
                consents,
                platform,
                json!({ "purpose": "safety", "action": "give", "method": { "kind": "web" } }),
            )
            .await;
        assert_problem(&r, 403, "forbidden");
        let r = s
            .post(
                consents,
                platform,
                json!({ "purpose": "extracurricular", "action": "grant" }),
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        let r = s
            .post(
                &format!("/api/v1/subjects/{child}/representatives"),
                admin,
                json!({ "representative_id": child, "relation": "parent", "documents": [] }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s.get(consents, platform).await;
        assert_eq!(
            r.body["history"].as_array().unwrap().len(),
            before,
            "{}",
            r.body
        );
    })
}

/// The trail names every step of a family's consents, and the chain is intact.
pub(super) fn every_consent_step_is_in_the_audit_trail(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(f = Family::start(&db).await => Family { s, admin, platform, child, consents });
        let given = f.given().await;
        assert_eq!(s.get(&f.receipt_path(&given), platform).await.status, 200);
        let obligation = format!("/api/v1/subjects/{child}/obligations/extracurricular");
        let r = s
            .put(&obligation, admin, json!({ "note": "экскурсия №3" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(s.delete(&obligation, admin).await.status, 200);
        assert_eq!(
            s.post(consents, platform, f.by_parent("withdraw"))
                .await
                .status,
            201
        );
        let block = format!("/api/v1/subjects/{child}/block");
        let r = s
            .put(&block, admin, json!({ "reason": "accuracy_contested" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s
            .delete(&format!("{block}?reason=subject_request"), admin)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let restrict = format!("/api/v1/subjects/{child}/restrictions/extracurricular");
        let r = s
            .put(&restrict, admin, json!({ "reason": "objection" }))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        // The trail names every step, and the chain is intact.
        let r = s
            .get(&format!("/api/v1/subjects/{child}/audit?limit=1000"), admin)
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
        for e in s.store.audit_page(0, 10_000).await.unwrap() {
            v.push(&e, keys.as_ref()).unwrap();
        }
    })
}

//! The Store conformance suite: the same cases against SQLite and PostgreSQL.
#![allow(clippy::unwrap_used)]

use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::consent::{
    ConsentAction, ConsentEvent, Document, DocumentKind, GivenBy, Grant, Method, PurposeTerms,
    Relation, RepresentativeLink, Term,
};
use derbes_core::destruction::{Destruction, Removed};
use derbes_core::flags::{Flag, FlagReason, Obligation};
use derbes_core::lifecycle::{LifecycleEvent, LifecycleKind};
use derbes_core::request::{RequestKind, Status};
use derbes_core::retention_batch::{Batch, BatchItem, BatchStatus, BatchSummary, ItemMark};
use derbes_crypto::KeyRing;
use derbes_store::testing::{run_suite, Case, Fut, TestDb};
use derbes_store::{
    open, AccountChange, AccountRecord, AccountWrite, Applied, DestructionChecked,
    DueReconfirmations, EndSessions, FlagWrite, IndexEntry, JobOutcome, JobRun, JobWrite, KeyOwner,
    KeyRecord, PackageRecord, Page, Reconfirmation, ReconfirmationsDue, RequestQuery,
    RequestRecord, SessionRecord, SessionStage, Store, StoreError, SubjectRecord, SubjectState,
    TokenRecord, WebhookJob, WebhookStatus, WriteOp,
};
use std::process::ExitCode;
use std::sync::Arc;
use time::macros::date;
use uuid::Uuid;

fn keys() -> Arc<KeyRing> {
    Arc::new(KeyRing::generate().unwrap())
}

/// The reconfirmations of every purpose due by `through`, ten from the `offset`-th.
fn due_through(through: time::Date, offset: u32) -> DueReconfirmations {
    DueReconfirmations {
        through,
        purposes: Vec::new(),
        offset,
        limit: 10,
    }
}

async fn store(db: &TestDb, keys: &Arc<KeyRing>) -> Arc<dyn Store> {
    open(&db.url, Arc::clone(keys) as derbes_store::Keys)
        .await
        .unwrap()
}

fn record(category: &str) -> SubjectRecord {
    SubjectRecord {
        id: Uuid::now_v7(),
        category: category.into(),
        dek: vec![1; 73],
        kek_version: 1,
        dek_generation: 1,
        fields: vec![("iin".into(), vec![9; 40]), ("surname".into(), vec![8; 30])],
        version: 1,
        created_at: stamp("2026-11-21T00:00:00.000000Z"),
        updated_at: stamp("2026-11-21T00:00:00.000000Z"),
        field_collected: std::collections::BTreeMap::new(),
    }
}

/// A time as the store keeps it.
fn stamp(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

fn digest(n: u8) -> [u8; 32] {
    [n; 32]
}

fn create(r: &SubjectRecord, d: u8) -> WriteOp {
    WriteOp::CreateSubject {
        record: r.clone(),
        index: vec![IndexEntry {
            field: "iin".into(),
            digest: digest(d),
        }],
        audit: AuditDraft::new("test", "subject.create", Outcome::Ok)
            .subject(r.id)
            .fields(&["iin", "surname"]),
    }
}

/// Verifies the whole chain; returns how many events it holds after its start event.
async fn verify_chain(s: &Arc<dyn Store>, keys: &KeyRing) -> i64 {
    let report = derbes_store::verify_chain(s.as_ref(), keys, &[], None)
        .await
        .unwrap()
        .unwrap();
    report.events - 1
}

fn create_read_and_lookup(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let r = record("student");
        assert_eq!(s.write(create(&r, 1)).await.unwrap(), Applied::Created);
        assert_eq!(s.subject(r.id).await.unwrap().unwrap(), r);
        assert_eq!(
            s.lookup("iin", &digest(1)).await.unwrap(),
            vec![(r.id, "student".to_string())]
        );
        assert!(s.lookup("iin", &digest(2)).await.unwrap().is_empty());
        assert!(s.subject(Uuid::now_v7()).await.unwrap().is_none());
        assert_eq!(s.count_subjects().await.unwrap(), 1);
        let events = s.subject_audit(r.id, 0, 10).await.unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].fields, vec!["iin", "surname"]);
        assert_eq!(verify_chain(&s, &k).await, 1);
    })
}

fn duplicates_write_nothing(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let first = record("student");
        s.write(create(&first, 1)).await.unwrap();
        let second = record("student");
        match s.write(create(&second, 1)).await {
            Err(StoreError::Duplicate {
                field, existing, ..
            }) => {
                assert_eq!(field, "iin");
                assert_eq!(existing, first.id);
            }
            other => panic!("expected a duplicate, got {other:?}"),
        }
        assert!(s.subject(second.id).await.unwrap().is_none());
        // The same identifier in another category is another subject.
        s.write(create(&record("legal_representative"), 1))
            .await
            .unwrap();
        assert_eq!(s.lookup("iin", &digest(1)).await.unwrap().len(), 2);
        assert_eq!(verify_chain(&s, &k).await, 2);
    })
}

fn concurrent_group_isolates_failures(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let mut tasks = Vec::new();
        // 200 creates, every fourth reusing digest 0: one of those wins, the others fail alone.
        for i in 0..200u32 {
            let s = Arc::clone(&s);
            let d = if i % 4 == 0 { 0 } else { (i % 250) as u8 + 1 };
            let r = record("student");
            let mut op = create(&r, d);
            if let WriteOp::CreateSubject { index, .. } = &mut op {
                index[0].digest[1] = (i / 250) as u8;
                if i % 4 != 0 {
                    index[0].digest[2] = i as u8;
                }
            }
            tasks.push(tokio::spawn(async move { s.write(op).await }));
        }
        let mut ok = 0;
        let mut dup = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(_) => ok += 1,
                Err(StoreError::Duplicate { .. }) => dup += 1,
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!((ok, dup), (151, 49));
        assert_eq!(s.count_subjects().await.unwrap(), 151);
        assert_eq!(verify_chain(&s, &k).await, 151);
    })
}

fn update_checks_version_and_replaces_index(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let r = record("student");
        s.write(create(&r, 1)).await.unwrap();
        let collected: std::collections::BTreeMap<String, time::Date> =
            [("iin".to_owned(), date!(2026 - 12 - 01))].into();
        let update = |version, d: u8| WriteOp::UpdateSubject {
            id: r.id,
            expected_version: version,
            fields: vec![("iin".into(), vec![7; 40])],
            field_collected: collected.clone(),
            index: vec![IndexEntry {
                field: "iin".into(),
                digest: digest(d),
            }],
            audit: AuditDraft::new("test", "subject.rectify", Outcome::Ok)
                .subject(r.id)
                .fields(&["iin"]),
        };
        assert_eq!(
            s.write(update(1, 2)).await.unwrap(),
            Applied::Updated { version: 2 }
        );
        assert!(matches!(
            s.write(update(1, 3)).await,
            Err(StoreError::VersionConflict)
        ));
        let stored = s.subject(r.id).await.unwrap().unwrap();
        assert_eq!(stored.version, 2);
        assert_eq!(stored.fields, vec![("iin".to_string(), vec![7; 40])]);
        assert_eq!(
            stored.field_collected, collected,
            "the day the new value was collected"
        );
        let (read, _) = s.subject_with_state(r.id, None).await.unwrap().unwrap();
        assert_eq!(read.field_collected, collected);
        assert!(s.lookup("iin", &digest(1)).await.unwrap().is_empty());
        assert_eq!(s.lookup("iin", &digest(2)).await.unwrap().len(), 1);
        let missing = WriteOp::UpdateSubject {
            id: Uuid::now_v7(),
            expected_version: 1,
            fields: vec![],
            field_collected: collected.clone(),
            index: vec![],
            audit: AuditDraft::new("test", "subject.rectify", Outcome::Ok),
        };
        assert!(matches!(s.write(missing).await, Err(StoreError::NotFound)));
        assert_eq!(verify_chain(&s, &k).await, 2);
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "a store scenario read top to bottom, on both backends"
)]
fn rewrap_tokens_and_declarations(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let a = record("student");
        let b = record("student");
        s.write(create(&a, 1)).await.unwrap();
        s.write(create(&b, 2)).await.unwrap();
        let page = s
            .keys_page(KeyOwner::Subject, Page::first(1))
            .await
            .unwrap();
        assert_eq!(page.len(), 1);
        let rest = s
            .keys_page(KeyOwner::Subject, Page::after(Some(page[0].id), 10))
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        let stale = KeyRecord {
            kek_version: 5,
            ..page[0].clone()
        };
        let op = WriteOp::Rewrap {
            keys: vec![(page[0].clone(), vec![2; 73], 2), (stale, vec![3; 73], 2)],
            audit: Some(AuditDraft::new("test", "keys.rotate", Outcome::Ok)),
        };
        assert_eq!(s.write(op).await.unwrap(), Applied::Rewrapped { count: 1 });
        let after = s.subject(page[0].id).await.unwrap().unwrap();
        assert_eq!((after.kek_version, after.dek), (2, vec![2; 73]));

        let t = TokenRecord {
            id: Uuid::now_v7(),
            digest: "d1".into(),
            name: "journal".into(),
            role: "staff".into(),
            purposes: vec!["education".into()],
            created_at: stamp("2026-11-21T00:00:00.000000Z"),
            revoked_at: None,
            expires_at: Some(stamp("2027-11-21T00:00:00.000000Z")),
            last_used_at: None,
        };
        s.write(WriteOp::CreateToken {
            token: t.clone(),
            audit: AuditDraft::new("test", "token.create", Outcome::Ok),
        })
        .await
        .unwrap();
        assert_eq!(s.token("d1").await.unwrap(), Some(t.clone()));
        assert_eq!(s.count_active_tokens().await.unwrap(), 1);
        assert!(s.token("d2").await.unwrap().is_none());
        // Use is recorded forwards only; a revocation is recorded once.
        for at in ["2026-11-22T10:01:00.000000Z", "2026-11-22T10:00:00.000000Z"] {
            s.write(WriteOp::TokensUsed {
                used: vec![("d1".into(), stamp(at)), ("nobody".into(), stamp(at))],
            })
            .await
            .unwrap();
        }
        let used = s.token("d1").await.unwrap().unwrap();
        assert_eq!(
            used.last_used_at,
            Some(stamp("2026-11-22T10:01:00.000000Z"))
        );
        let revoke = |at: &str| WriteOp::RevokeToken {
            id: t.id,
            at: stamp(at),
            audit: AuditDraft::new("test", "token.revoke", Outcome::Ok),
        };
        let Applied::TokenRevoked {
            token,
            already: false,
        } = s
            .write(revoke("2026-11-23T00:00:00.000000Z"))
            .await
            .unwrap()
        else {
            panic!("revoked")
        };
        assert_eq!(token.revoked_at, Some(stamp("2026-11-23T00:00:00.000000Z")));
        assert!(matches!(
            s.write(revoke("2026-11-24T00:00:00.000000Z"))
                .await
                .unwrap(),
            Applied::TokenRevoked { already: true, .. }
        ));
        assert_eq!(s.tokens().await.unwrap(), vec![*token]);
        assert_eq!(s.count_active_tokens().await.unwrap(), 0);
        assert!(matches!(
            s.write(WriteOp::RevokeToken {
                id: Uuid::now_v7(),
                at: stamp("2026-11-24T00:00:00.000000Z"),
                audit: AuditDraft::new("test", "token.revoke", Outcome::Ok),
            })
            .await,
            Err(StoreError::NotFound)
        ));

        let decl = |hash: &str| WriteOp::RecordDeclaration {
            version: "2025.1".into(),
            content_hash: hash.into(),
            content: "version = \"2025.1\"".into(),
            audit: AuditDraft::new("test", "declaration.record", Outcome::Ok),
        };
        assert_eq!(
            s.write(decl("h1")).await.unwrap(),
            Applied::DeclarationRecorded { new: true }
        );
        assert_eq!(
            s.write(decl("h1")).await.unwrap(),
            Applied::DeclarationRecorded { new: false }
        );
        assert!(matches!(
            s.write(decl("h2")).await,
            Err(StoreError::DeclarationChanged { .. })
        ));
        assert_eq!(
            s.declaration("2025.1").await.unwrap(),
            Some(("h1".to_owned(), "version = \"2025.1\"".to_owned()))
        );
        assert_eq!(s.declaration("2024.9").await.unwrap(), None);
        s.write(WriteOp::RecordDeclaration {
            version: "2026.1".into(),
            content_hash: "h3".into(),
            content: "version = \"2026.1\"".into(),
            audit: AuditDraft::new("test", "declaration.record", Outcome::Ok),
        })
        .await
        .unwrap();
        let listed: Vec<(String, String)> = s
            .declarations()
            .await
            .unwrap()
            .into_iter()
            .map(|(v, h, _)| (v, h))
            .collect();
        assert_eq!(
            listed,
            [
                ("2025.1".to_owned(), "h1".to_owned()),
                ("2026.1".to_owned(), "h3".to_owned())
            ]
        );
        assert_eq!(verify_chain(&s, &k).await, 7);
    })
}

fn data_survives_reopening(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let r = record("student");
        {
            let s = store(&db, &k).await;
            s.write(create(&r, 1)).await.unwrap();
            s.write(WriteOp::Audit(vec![AuditDraft::new(
                "test",
                "subject.read",
                Outcome::Allowed,
            )
            .subject(r.id)]))
                .await
                .unwrap();
        }
        let s = store(&db, &k).await;
        assert_eq!(s.subject(r.id).await.unwrap().unwrap(), r);
        s.write(WriteOp::Audit(vec![AuditDraft::new(
            "test",
            "subject.read",
            Outcome::Denied,
        )
        .subject(r.id)]))
            .await
            .unwrap();
        assert_eq!(verify_chain(&s, &k).await, 3);
        assert_eq!(s.subject_audit(r.id, 2, 10).await.unwrap().len(), 2);
    })
}

fn consent(subject: Uuid, purpose: &str, action: ConsentAction, by: GivenBy) -> ConsentEvent {
    ConsentEvent {
        id: Uuid::now_v7(),
        subject_id: subject,
        purpose: purpose.into(),
        action,
        given_by: by,
        method: Method::Paper {
            evidence_sha256: "ab".repeat(32),
        },
        at: time::OffsetDateTime::now_utc(),
    }
}

fn grant(purpose: &str) -> Grant {
    Grant::new(
        PurposeTerms {
            purpose: purpose.into(),
            declaration_version: "2026-1".into(),
            fields: vec!["surname".into()],
            recipients: vec![],
            third_party_transfer: false,
            cross_border_transfer: false,
            publication: false,
        },
        Term::PurposeAchieved,
    )
}

async fn state_of(s: &Arc<dyn Store>, id: Uuid) -> SubjectState {
    s.subject_with_state(id, None).await.unwrap().unwrap().1
}

fn flag(reason: FlagReason) -> Flag {
    Flag {
        reason,
        note: Some("заявление №12".into()),
        sealed_note: None,
        until: None,
        set_by: "token:dpo".into(),
        set_at: time::OffsetDateTime::now_utc(),
    }
}

/// A subject with consents whose fields are corrected is listed for its months of majority to
/// be worked out again; they are settled only against the version and ledger they were worked
/// out from.
fn months_of_majority_are_settled_against_what_was_read(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let (child, other) = two_students(&s).await;
        let audit = |action: &str| AuditDraft::new("test", action, Outcome::Ok).subject(child.id);
        let by = GivenBy::Representative {
            representative_id: other.id,
            relation: Relation::Parent,
        };
        let give = consent(
            child.id,
            "olympiad",
            ConsentAction::Give(grant("olympiad")),
            by,
        );
        s.write(WriteOp::RecordConsent {
            event: give,
            seen: 0,
            version: 1,
            reconfirm_in: Some(date!(2030 - 03 - 01)),
            audit: audit("consent.give"),
        })
        .await
        .unwrap();
        assert!(s
            .unsettled_reconfirmations(Page::first(10))
            .await
            .unwrap()
            .is_empty());
        let correct = |id: Uuid| WriteOp::UpdateSubject {
            id,
            expected_version: 1,
            fields: vec![("iin".into(), vec![7; 40])],
            field_collected: std::collections::BTreeMap::new(),
            index: vec![],
            audit: AuditDraft::new("test", "subject.rectify", Outcome::Ok).subject(id),
        };
        s.write(correct(child.id)).await.unwrap();
        s.write(correct(other.id)).await.unwrap();
        assert_eq!(
            s.unsettled_reconfirmations(Page::first(10)).await.unwrap(),
            [child.id],
            "only a subject with consents"
        );
        let settle = |version, consents| WriteOp::SettleReconfirmations {
            subject_id: child.id,
            version,
            consents,
            due: vec![("olympiad".into(), date!(2031 - 05 - 01))],
            audit: audit("consent.reconfirmations.settle"),
        };
        for stale in [settle(1, 1), settle(2, 0)] {
            assert!(matches!(
                s.write(stale).await,
                Err(StoreError::VersionConflict)
            ));
        }
        // A consent whose month was worked out before the correction is refused too.
        let renew = consent(
            child.id,
            "olympiad",
            ConsentAction::Renew(grant("olympiad")),
            GivenBy::Subject,
        );
        let before_correction = WriteOp::RecordConsent {
            event: renew,
            seen: 1,
            version: 1,
            reconfirm_in: None,
            audit: audit("consent.renew"),
        };
        assert!(matches!(
            s.write(before_correction).await,
            Err(StoreError::VersionConflict)
        ));
        assert_eq!(
            s.write(settle(2, 1)).await.unwrap(),
            Applied::ReconfirmationsSettled
        );
        assert!(s
            .unsettled_reconfirmations(Page::first(10))
            .await
            .unwrap()
            .is_empty());
        let due = s
            .reconfirmations_due(due_through(date!(2031 - 05 - 01), 0))
            .await
            .unwrap();
        assert_eq!(
            due.due.iter().map(|r| r.month).collect::<Vec<_>>(),
            [date!(2031 - 05 - 01)]
        );
        another_declaration_unsettles_the_months(&s, child.id, settle).await;
        assert_eq!(verify_chain(&s, &k).await, 10);
    })
}

/// Under a new declaration, or an older one put back, every month of majority is worked out
/// again; started again under the same one, none is.
async fn another_declaration_unsettles_the_months(
    s: &Arc<dyn Store>,
    child: Uuid,
    settle: impl Fn(i64, usize) -> WriteOp,
) {
    // A new declaration may change the age of majority: every month is worked out again.
    let declaration = |version: &str| WriteOp::RecordDeclaration {
        version: version.into(),
        content_hash: version.repeat(8),
        content: format!("version = \"{version}\""),
        audit: AuditDraft::new("system", "declaration.record", Outcome::Ok),
    };
    s.write(declaration("2027.1")).await.unwrap();
    assert_eq!(
        s.unsettled_reconfirmations(Page::first(10)).await.unwrap(),
        [child]
    );
    assert!(
        s.unsettled_reconfirmations(Page::after(Some(child), 10))
            .await
            .unwrap()
            .is_empty(),
        "none after the last one"
    );
    let unsettled = || s.unsettled_reconfirmations(Page::first(10));
    s.write(settle(2, 1)).await.unwrap();
    // Started again under the same one: nothing to work out; under a newer one, then the
    // older one put back: each time again.
    s.write(declaration("2027.1")).await.unwrap();
    assert!(unsettled().await.unwrap().is_empty());
    s.write(declaration("2027.2")).await.unwrap();
    assert_eq!(unsettled().await.unwrap(), [child]);
    s.write(settle(2, 1)).await.unwrap();
    assert_eq!(
        s.write(declaration("2027.1")).await.unwrap(),
        Applied::DeclarationRecorded { new: false }
    );
    assert_eq!(
        unsettled().await.unwrap(),
        [child],
        "the older one put back"
    );
}

/// The consent ledger appends in order and refuses an append decided on a stale ledger; links
/// and flags are set, replaced and removed; each change is in the chain.
#[allow(
    clippy::too_many_lines,
    reason = "a store scenario read top to bottom, on both backends"
)]
fn consents_links_and_flags(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let (child, parent) = (record("student"), record("legal_representative"));
        s.write(create(&child, 1)).await.unwrap();
        s.write(create(&parent, 2)).await.unwrap();
        assert_eq!(state_of(&s, child.id).await, SubjectState::default());
        let audit = |action: &str| AuditDraft::new("test", action, Outcome::Ok).subject(child.id);

        let link = RepresentativeLink {
            subject_id: child.id,
            representative_id: parent.id,
            relation: Relation::Parent,
            documents: vec![Document {
                kind: DocumentKind::BirthCertificate,
                sha256: "cd".repeat(32),
            }],
            linked_at: time::OffsetDateTime::now_utc(),
            linked_by: "token:staff".into(),
        };
        let linked = s
            .write(WriteOp::LinkRepresentative {
                link: link.clone(),
                audit: audit("representative.link"),
            })
            .await
            .unwrap();
        assert_eq!(linked, Applied::Linked { new: true });
        let relinked = RepresentativeLink {
            relation: Relation::Guardian,
            ..link.clone()
        };
        let again = s
            .write(WriteOp::LinkRepresentative {
                link: relinked.clone(),
                audit: audit("representative.link"),
            })
            .await
            .unwrap();
        assert_eq!(again, Applied::Linked { new: false });
        assert_eq!(
            s.represented_by(parent.id).await.unwrap(),
            vec![relinked.clone()]
        );

        let by_parent = GivenBy::Representative {
            representative_id: parent.id,
            relation: Relation::Parent,
        };
        let give = consent(
            child.id,
            "olympiad",
            ConsentAction::Give(grant("olympiad")),
            by_parent.clone(),
        );
        let recorded = s
            .write(WriteOp::RecordConsent {
                event: give.clone(),
                seen: 0,
                version: 1,
                reconfirm_in: Some(date!(2030 - 03 - 01)),
                audit: audit("consent.give"),
            })
            .await
            .unwrap();
        assert_eq!(recorded, Applied::ConsentRecorded);
        // The parent's consent is for the child to confirm in March 2030, not before.
        let due = |through: time::Date, purposes: &[&str]| {
            s.reconfirmations_due(DueReconfirmations {
                purposes: purposes.iter().map(|p| p.to_string()).collect(),
                ..due_through(through, 0)
            })
        };
        let march = Reconfirmation {
            subject_id: child.id,
            purpose: "olympiad".into(),
            month: date!(2030 - 03 - 01),
        };
        assert_eq!(
            due(date!(2030 - 03 - 31), &[]).await.unwrap(),
            ReconfirmationsDue {
                due: vec![march.clone()],
                total: 1
            }
        );
        assert_eq!(
            due(date!(2030 - 02 - 28), &[]).await.unwrap(),
            ReconfirmationsDue::default()
        );
        assert_eq!(
            s.reconfirmations_due(due_through(date!(2030 - 03 - 31), 1))
                .await
                .unwrap(),
            ReconfirmationsDue::default(),
            "a page past the end"
        );
        assert_eq!(
            due(date!(2031 - 01 - 01), &["photos"]).await.unwrap(),
            ReconfirmationsDue::default(),
            "only the purposes asked"
        );
        let consenting = |purpose: &'static str, after: Option<Uuid>| {
            s.consenting_subjects(purpose, Page::after(after, 10))
        };
        assert_eq!(consenting("olympiad", None).await.unwrap(), [child.id]);
        assert!(consenting("olympiad", Some(child.id))
            .await
            .unwrap()
            .is_empty());
        assert!(consenting("newsletter", None).await.unwrap().is_empty());
        // Decided on the empty ledger, but the ledger has moved on: refused, nothing written.
        let stale = consent(
            child.id,
            "olympiad",
            ConsentAction::Withdraw,
            by_parent.clone(),
        );
        let refused = s
            .write(WriteOp::RecordConsent {
                event: stale,
                seen: 0,
                version: 1,
                reconfirm_in: None,
                audit: audit("consent.withdraw"),
            })
            .await;
        assert!(
            matches!(refused, Err(StoreError::VersionConflict)),
            "{refused:?}"
        );
        let withdraw = consent(
            child.id,
            "olympiad",
            ConsentAction::Withdraw,
            by_parent.clone(),
        );
        s.write(WriteOp::RecordConsent {
            event: withdraw.clone(),
            seen: 1,
            version: 1,
            reconfirm_in: None,
            audit: audit("consent.withdraw"),
        })
        .await
        .unwrap();
        assert_eq!(
            due(date!(2031 - 01 - 01), &[]).await.unwrap(),
            ReconfirmationsDue::default(),
            "a withdrawal ends the duty"
        );
        // `seen` counts the events of the event's own purpose: another purpose starts at 0.
        let photos = consent(
            child.id,
            "photos",
            ConsentAction::Give(grant("photos")),
            by_parent,
        );
        s.write(WriteOp::RecordConsent {
            event: photos.clone(),
            seen: 0,
            version: 1,
            reconfirm_in: Some(date!(2030 - 03 - 01)),
            audit: audit("consent.give"),
        })
        .await
        .unwrap();
        assert_eq!(
            due(date!(2030 - 03 - 01), &["photos", "olympiad"])
                .await
                .unwrap()
                .total,
            1
        );
        let one_purpose = s
            .subject_with_state(child.id, Some("olympiad".into()))
            .await
            .unwrap()
            .unwrap()
            .1;
        assert_eq!(one_purpose.consents, vec![give.clone(), withdraw.clone()]);

        for f in [
            FlagWrite::Block(Some(flag(FlagReason::AccuracyContested))),
            FlagWrite::Restriction {
                purpose: "olympiad".into(),
                flag: Some(flag(FlagReason::Objection)),
            },
            FlagWrite::Obligation {
                purpose: "olympiad".into(),
                obligation: Some(Obligation {
                    note: Some("contract 12".into()),
                    sealed_note: None,
                    until: None,
                    set_by: "token:dpo".into(),
                    set_at: time::OffsetDateTime::now_utc(),
                }),
            },
        ] {
            s.write(WriteOp::SetFlag {
                subject_id: child.id,
                flag: f,
                audit: audit("subject.flag"),
            })
            .await
            .unwrap();
        }
        let state = state_of(&s, child.id).await;
        assert_eq!(state.consents, vec![give, withdraw, photos]);
        assert_eq!(state.representatives, vec![relinked]);
        assert_eq!(
            state.blocked.map(|f| f.reason),
            Some(FlagReason::AccuracyContested)
        );
        assert_eq!(
            state
                .restrictions
                .iter()
                .map(|(p, f)| (p.as_str(), f.reason))
                .collect::<Vec<_>>(),
            [("olympiad", FlagReason::Objection)]
        );
        assert_eq!(
            state
                .obligations
                .iter()
                .map(|(p, o)| (p.as_str(), o.note.as_deref()))
                .collect::<Vec<_>>(),
            [("olympiad", Some("contract 12"))]
        );
        // The parent's own state is untouched.
        assert_eq!(state_of(&s, parent.id).await, SubjectState::default());

        for lift in [
            FlagWrite::Block(None),
            FlagWrite::Obligation {
                purpose: "olympiad".into(),
                obligation: None,
            },
        ] {
            s.write(WriteOp::SetFlag {
                subject_id: child.id,
                flag: lift,
                audit: audit("subject.unflag"),
            })
            .await
            .unwrap();
        }
        s.write(WriteOp::UnlinkRepresentative {
            subject_id: child.id,
            representative_id: parent.id,
            audit: audit("representative.unlink"),
        })
        .await
        .unwrap();
        let gone = s
            .write(WriteOp::UnlinkRepresentative {
                subject_id: child.id,
                representative_id: parent.id,
                audit: audit("representative.unlink"),
            })
            .await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
        let state = state_of(&s, child.id).await;
        assert!(state.blocked.is_none() && state.representatives.is_empty());
        assert!(state.obligations.is_empty());
        assert_eq!(state.restrictions.len(), 1);
        assert_eq!(state.consents.len(), 3);
        // Two creates, two links, three consents, three flags, two lifts and an unlink.
        assert_eq!(verify_chain(&s, &k).await, 13);

        // Every change but the creates is in the feed, under its audit event's seq, in order;
        // the refused unlink is not. (Event 1 starts the chain.)
        let feed = s.state_changes(0, 100).await.unwrap();
        assert_eq!(feed.floor, 0);
        assert_eq!(feed.changes.len(), 11, "{feed:?}");
        assert!(feed.changes.iter().all(|(_, id)| *id == child.id));
        let seqs: Vec<i64> = feed.changes.iter().map(|(seq, _)| *seq).collect();
        assert_eq!(seqs, (4..=14).collect::<Vec<i64>>());
        assert_eq!(feed.latest, 14);
        let later = s.state_changes(11, 2).await.unwrap();
        assert_eq!(later.changes, vec![(12, child.id), (13, child.id)]);
        assert_eq!(later.latest, 14);
    })
}

fn request_record(subject: Uuid, kind: &str, due_at: &str) -> RequestRecord {
    RequestRecord {
        id: Uuid::now_v7(),
        subject_id: subject,
        kind: kind.parse().unwrap(),
        status: Status::Received,
        open: true,
        received_at: stamp("2026-11-20T05:00:00.000000Z"),
        due_at: stamp(due_at),
        dek: vec![7; 73],
        kek_version: 1,
        version: 1,
        updated_at: stamp("2026-11-20T05:00:00.000000Z"),
        body: "{}".into(),
        category: "student".into(),
    }
}

/// The subject left on 31 May 2026.
fn left(subject_id: Uuid) -> LifecycleEvent {
    LifecycleEvent {
        id: Uuid::now_v7(),
        subject_id,
        kind: LifecycleKind::RelationshipEnded {
            reason: None,
            sealed_reason: Some("c2VhbGVk".into()),
        },
        on: date!(2026 - 05 - 31),
        recorded_at: stamp("2026-06-01T05:00:00.000000Z"),
        recorded_by: "test".into(),
    }
}

fn record_lifecycle(event: LifecycleEvent, seen: usize) -> WriteOp {
    WriteOp::RecordLifecycle {
        audit: AuditDraft::new("test", "subject.lifecycle", Outcome::Ok).subject(event.subject_id),
        event,
        seen,
    }
}

/// Lifecycle events append in order to an existing subject's ledger, and an append decided on
/// a ledger that has moved on writes nothing.
fn lifecycle_events_append_in_order(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let child = record("student");
        s.write(create(&child, 1)).await.unwrap();
        let first = left(child.id);
        let undo = LifecycleEvent {
            id: Uuid::now_v7(),
            kind: LifecycleKind::Retracted { event: first.id },
            ..first.clone()
        };
        assert_eq!(
            s.write(record_lifecycle(first.clone(), 0)).await.unwrap(),
            Applied::LifecycleRecorded
        );
        let events = verify_chain(&s, &k).await;
        assert!(matches!(
            s.write(record_lifecycle(undo.clone(), 0)).await,
            Err(StoreError::VersionConflict)
        ));
        assert!(matches!(
            s.write(record_lifecycle(left(Uuid::now_v7()), 0)).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(verify_chain(&s, &k).await, events, "nothing written");
        s.write(record_lifecycle(undo.clone(), 1)).await.unwrap();
        assert_eq!(
            s.lifecycle_events(child.id).await.unwrap(),
            [first.clone(), undo.clone()]
        );
        // Decisions read them with the rest of the subject's state, in the order recorded.
        for purpose in [None, Some("education".to_owned())] {
            let (_, state) = s
                .subject_with_state(child.id, purpose)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(state.lifecycle, [first.clone(), undo.clone()]);
        }
        let feed = s.state_changes(0, 1000).await.unwrap();
        assert_eq!(feed.changes.last().map(|c| c.1), Some(child.id));
    })
}

/// The retention scan reads subjects a page at a time in id order, each with its field names,
/// collection days, consent ledger and lifecycle; and the subjects an open request holds.
fn retention_pages_carry_ledgers_and_open_requests_hold(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let mut subjects: Vec<SubjectRecord> = (0..3).map(|_| record("student")).collect();
        subjects.sort_by_key(|r| r.id);
        subjects[2]
            .field_collected
            .insert("surname".into(), date!(2026 - 11 - 25));
        for (n, r) in subjects.iter().enumerate() {
            s.write(create(r, u8::try_from(n).unwrap() + 1))
                .await
                .unwrap();
        }
        let given = consent(
            subjects[0].id,
            "olympiad",
            ConsentAction::Give(grant("olympiad")),
            GivenBy::Subject,
        );
        s.write(WriteOp::RecordConsent {
            event: given.clone(),
            seen: 0,
            version: 1,
            reconfirm_in: None,
            audit: AuditDraft::new("test", "consent.give", Outcome::Ok).subject(subjects[0].id),
        })
        .await
        .unwrap();
        let gone = left(subjects[1].id);
        s.write(record_lifecycle(gone.clone(), 0)).await.unwrap();
        let first = s.retention_page(Page::first(2)).await.unwrap();
        assert_eq!(
            first.iter().map(|p| p.id).collect::<Vec<_>>(),
            [subjects[0].id, subjects[1].id]
        );
        assert_eq!(first[0].field_keys, ["iin", "surname"]);
        assert_eq!(first[0].consents, [given]);
        assert!(first[0].lifecycle.is_empty());
        assert_eq!(first[1].lifecycle, [gone]);
        assert_eq!(first[0].created_at, subjects[0].created_at);
        let rest = s
            .retention_page(Page::after(Some(first[1].id), 2))
            .await
            .unwrap();
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].field_collected, subjects[2].field_collected);
        assert!(s
            .retention_page(Page::after(Some(rest[0].id), 2))
            .await
            .unwrap()
            .is_empty());
        assert!(s.subjects_with_open_requests().await.unwrap().is_empty());
        let asked = request_record(
            subjects[2].id,
            "access_export",
            "2026-12-10T18:59:59.999999Z",
        );
        s.write(file(&asked, false)).await.unwrap();
        assert_eq!(
            s.subjects_with_open_requests().await.unwrap(),
            [(subjects[2].id, false)]
        );
        let complaint = request_record(subjects[2].id, "complaint", "2026-12-30T18:59:59.999999Z");
        s.write(file(&complaint, false)).await.unwrap();
        assert_eq!(
            s.subjects_with_open_requests().await.unwrap(),
            [(subjects[2].id, true)],
            "one subject, a complaint among its requests"
        );
    })
}

/// A batch of the student file proposed on 1 June 2029 with one item per subject given.
/// Two students, created.
async fn two_students(s: &Arc<dyn Store>) -> (SubjectRecord, SubjectRecord) {
    let (one, two) = (record("student"), record("student"));
    s.write(create(&one, 1)).await.unwrap();
    s.write(create(&two, 2)).await.unwrap();
    (one, two)
}

/// An approved batch of `items`, stored.
async fn approved_batch(s: &Arc<dyn Store>, items: Vec<BatchItem>) -> Batch {
    let batch = batch_of(&items);
    s.write(WriteOp::PutRetentionBatch {
        batch: Box::new(batch.clone()),
        seen: None,
        items: Some(items),
        audit: AuditDraft::new("test", "retention.batch.approve", Outcome::Ok),
    })
    .await
    .unwrap();
    batch
}

fn batch_of(items: &[BatchItem]) -> Batch {
    Batch {
        id: Uuid::now_v7(),
        rule: "student_records".into(),
        action: derbes_core::declaration::RetentionAction::Destroy,
        status: BatchStatus::Approved,
        computed_on: date!(2029 - 06 - 01),
        proposed_at: stamp("2029-06-01T05:00:00.000000Z"),
        proposed_by: "dpo:aigul".into(),
        summary: BatchSummary::of(items),
        changed: None,
        approvals: Vec::new(),
        approvals_needed: 1,
        outcome: None,
        act: None,
    }
}

/// A batch's items are stored with it and replaced with a new version; each item is executed
/// once, with its mark, and refused when a hold or an open request came, or when it was
/// executed already: a run stopped midway repeats nothing. A restore's re-application
/// destroys the fields without a batch.
fn retention_batches_execute_each_item_once(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let (one, two) = two_students(&s).await;
        let item = |r: &SubjectRecord| BatchItem {
            subject_id: r.id,
            category: "student".into(),
            fields: vec!["iin".into()],
            whole: false,
        };
        let mut items = vec![item(&one), item(&two)];
        items.sort_by_key(|i| i.subject_id);
        let batch = batch_of(&items);
        let put = |b: &Batch, seen, items: Option<Vec<BatchItem>>| WriteOp::PutRetentionBatch {
            batch: Box::new(b.clone()),
            seen,
            items,
            audit: AuditDraft::new("test", "retention.batch.propose", Outcome::Ok),
        };
        assert_eq!(
            s.write(put(&batch, None, Some(items.clone())))
                .await
                .unwrap(),
            Applied::BatchPut { version: 1 }
        );
        assert!(matches!(
            s.write(put(&batch, Some(7), None)).await,
            Err(StoreError::VersionConflict)
        ));
        let stored = s.retention_batch(batch.id).await.unwrap().unwrap();
        assert_eq!((stored.batch.clone(), stored.version), (batch.clone(), 1));
        assert_eq!(s.retention_batches(10).await.unwrap(), [stored]);
        let pending = |s: Arc<dyn Store>| async move {
            s.retention_batch_items(batch.id, Page::first(10), true)
                .await
                .unwrap()
                .len()
        };
        assert_eq!(pending(s.clone()).await, 2);
        let destroy = |r: &SubjectRecord, events: usize| WriteOp::DestroyFields {
            depersonalized: None,
            subject_id: r.id,
            expected_version: 1,
            kept: (vec![r.fields[1].clone()], Default::default()),
            destroyed: vec!["iin".into()],
            checked: Some((events, batch.id)),
            audit: AuditDraft::new("test", "subject.destroy_fields", Outcome::Ok).subject(r.id),
        };
        let events = verify_chain(&s, &k).await;
        // A hold recorded since the decision; an open request: refused, nothing written.
        assert!(matches!(
            s.write(destroy(&one, 1)).await,
            Err(StoreError::VersionConflict)
        ));
        let asked = request_record(two.id, "access_export", "2029-06-10T18:59:59.999999Z");
        s.write(file(&asked, false)).await.unwrap();
        let events_after_filing = verify_chain(&s, &k).await;
        assert_eq!(events_after_filing, events + 1);
        assert!(matches!(
            s.write(destroy(&two, 0)).await,
            Err(StoreError::VersionConflict)
        ));
        assert_eq!(verify_chain(&s, &k).await, events_after_filing);
        assert_eq!(
            s.write(destroy(&one, 0)).await.unwrap(),
            Applied::BatchItemDone
        );
        let read = s.subject(one.id).await.unwrap().unwrap();
        assert_eq!(read.fields, [one.fields[1].clone()]);
        assert!(s.lookup("iin", &digest(1)).await.unwrap().is_empty());
        // Executed once: again is refused (the version and the mark both moved on).
        assert!(matches!(
            s.write(destroy(&one, 0)).await,
            Err(StoreError::VersionConflict)
        ));
        let mark = |r: &SubjectRecord| WriteOp::MarkBatchItem {
            batch: batch.id,
            subject_id: r.id,
            outcome: ItemMark::Skipped("held".into()),
        };
        assert!(matches!(
            s.write(mark(&one)).await,
            Err(StoreError::VersionConflict)
        ));
        s.write(mark(&two)).await.unwrap();
        assert_eq!(pending(s.clone()).await, 0);
        let all = s
            .retention_batch_items(batch.id, Page::first(10), false)
            .await
            .unwrap();
        let marks: Vec<(Uuid, Option<ItemMark>)> = all
            .into_iter()
            .map(|i| (i.item.subject_id, i.outcome))
            .collect();
        assert!(
            marks.contains(&(one.id, Some(ItemMark::Fields(vec!["iin".into()])))),
            "{marks:?}"
        );
        assert!(
            marks.contains(&(two.id, Some(ItemMark::Skipped("held".into())))),
            "{marks:?}"
        );
        // A restore re-applies without a batch.
        let again = WriteOp::DestroyFields {
            depersonalized: None,
            subject_id: two.id,
            expected_version: 1,
            kept: (vec![two.fields[1].clone()], Default::default()),
            destroyed: vec!["iin".into()],
            checked: None,
            audit: AuditDraft::new("test", "subject.destroy_fields", Outcome::Ok).subject(two.id),
        };
        assert_eq!(s.write(again).await.unwrap(), Applied::BatchItemDone);
        assert_eq!(s.subject(two.id).await.unwrap().unwrap().fields.len(), 1);
    })
}

/// A batch that depersonalizes: its pseudonym key is stored once (the first runner's wins),
/// listed for rotation and deleted when the batch is stored done. Each record is written with
/// the write that destroys what it came from, or not at all; it names no subject.
fn depersonalized_records_are_kept_with_their_destruction(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let (one, two) = two_students(&s).await;
        let mut items: Vec<BatchItem> = [(&one, false), (&two, true)]
            .into_iter()
            .map(|(r, whole)| BatchItem {
                subject_id: r.id,
                category: "student".into(),
                fields: vec!["iin".into()],
                whole,
            })
            .collect();
        items.sort_by_key(|i| i.subject_id);
        let mut batch = batch_of(&items);
        batch.rule = "statistics".into();
        batch.action = derbes_core::declaration::RetentionAction::Depersonalize;
        let put = |b: &Batch, seen, items| WriteOp::PutRetentionBatch {
            batch: Box::new(b.clone()),
            seen,
            items,
            audit: AuditDraft::new("test", "retention.batch.propose", Outcome::Ok),
        };
        s.write(put(&batch, None, Some(items))).await.unwrap();
        let key = |dek: u8| derbes_store::PseudonymKey {
            dek: vec![dek; 73],
            kek_version: 1,
        };
        for offered in [1, 2] {
            let stored = s
                .write(WriteOp::PutPseudonymKey {
                    batch: batch.id,
                    key: key(offered),
                })
                .await
                .unwrap();
            assert_eq!(stored, Applied::PseudonymKey(key(1)), "the first one stays");
        }
        assert_eq!(s.pseudonym_key(batch.id).await.unwrap(), Some(key(1)));
        let listed = s
            .keys_page(KeyOwner::Pseudonym, Page::first(10))
            .await
            .unwrap();
        assert_eq!(listed.iter().map(|k| k.id).collect::<Vec<_>>(), [batch.id]);

        let kept = |year: &str| derbes_store::Depersonalized {
            rule: "statistics".into(),
            record: derbes_core::depersonalize::Record {
                category: "student".into(),
                values: [("birth_date".to_owned(), year.to_owned())].into(),
            },
        };
        let fields_of = |r: &SubjectRecord, events| WriteOp::DestroyFields {
            depersonalized: Some(kept("2009")),
            subject_id: r.id,
            expected_version: 1,
            kept: (vec![r.fields[1].clone()], Default::default()),
            destroyed: vec!["iin".into()],
            checked: Some((events, batch.id)),
            audit: AuditDraft::new("test", "subject.destroy_fields", Outcome::Ok).subject(r.id),
        };
        let page = |s: Arc<dyn Store>, rule: &'static str, page| async move {
            s.depersonalized_records(rule, page).await.unwrap()
        };
        let records = |s, rule| page(s, rule, Page::first(10));
        // Refused (the decision saw a lifecycle event the subject does not have): no record.
        assert!(matches!(
            s.write(fields_of(&one, 1)).await,
            Err(StoreError::VersionConflict)
        ));
        assert!(records(s.clone(), "statistics").await.is_empty());
        s.write(fields_of(&one, 0)).await.unwrap();
        let whole = WriteOp::DestroySubject {
            depersonalized: Some(kept("2010")),
            batch: Some(batch.id),
            destruction: Destruction {
                subject_id: two.id,
                category: "student".into(),
                destroyed_at: stamp("2029-06-01T06:00:00.000000Z"),
                actor: "job:retention-run".into(),
                request_id: None,
                batch_id: Some(batch.id),
                fields: vec!["iin".into(), "surname".into()],
                removed: Removed::default(),
                connectors: Vec::new(),
            },
            audit: AuditDraft::new("test", "subject.destroy", Outcome::Ok).subject(two.id),
            checked: None,
        };
        s.write(whole.clone()).await.unwrap();
        // Destroyed already: answered with the destruction, and no second record.
        s.write(whole).await.unwrap();
        let mut years: Vec<String> = records(s.clone(), "statistics")
            .await
            .into_iter()
            .map(|(_, r)| r.values["birth_date"].clone())
            .collect();
        years.sort();
        assert_eq!(years, ["2009", "2010"]);
        assert!(records(s.clone(), "analytics_data").await.is_empty());
        let first = page(s.clone(), "statistics", Page::first(1)).await;
        let rest = page(s.clone(), "statistics", Page::after(Some(first[0].0), 10)).await;
        assert_eq!((first.len(), rest.len()), (1, 1));
        assert!(rest[0].0 > first[0].0, "in the order of their ids");

        // Done: the key goes with it.
        let done = Batch {
            status: BatchStatus::Done,
            ..batch.clone()
        };
        s.write(put(&done, Some(1), None)).await.unwrap();
        assert_eq!(s.pseudonym_key(batch.id).await.unwrap(), None);
        assert!(s
            .keys_page(KeyOwner::Pseudonym, Page::first(10))
            .await
            .unwrap()
            .is_empty());
        s.rewrite_depersonalized().await.unwrap();
        assert_eq!(records(s.clone(), "statistics").await.len(), 2);
    })
}

/// A batch stored again at its version replaces its items.
fn a_batch_stored_again_replaces_its_items(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let items: Vec<BatchItem> = (1..=2u128)
            .map(|n| BatchItem {
                subject_id: Uuid::from_u128(n),
                category: "student".into(),
                fields: vec!["grades".into()],
                whole: false,
            })
            .collect();
        let batch = batch_of(&items);
        let put = |b: &Batch, seen, items: Option<Vec<BatchItem>>| WriteOp::PutRetentionBatch {
            batch: Box::new(b.clone()),
            seen,
            items,
            audit: AuditDraft::new("test", "retention.batch.propose", Outcome::Ok),
        };
        s.write(put(&batch, None, Some(items.clone())))
            .await
            .unwrap();
        // A new version replaces the items.
        let fewer = batch_of(&items[..1]);
        let fewer = Batch {
            id: batch.id,
            ..fewer
        };
        s.write(put(&fewer, Some(1), Some(items[..1].to_vec())))
            .await
            .unwrap();
        let all = s
            .retention_batch_items(batch.id, Page::first(10), false)
            .await
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(
            s.retention_batch(batch.id).await.unwrap().unwrap().version,
            2
        );
        // An act's number belongs to one batch: another batch's act may not take it.
        let act = |number: &str| -> derbes_core::destruction_act::Act {
            serde_json::from_value(serde_json::json!({
                "schema": "derbes.destruction-act/1", "number": number, "date": "2029-06-01",
                "batch_id": Uuid::nil(), "operator": { "name": {}, "bin": "940140000385" },
                "declaration_version": "1", "categories": [], "fields": [],
                "rule": { "code": "student_records", "label": {}, "period": {}, "action": "destroy" },
                "whole_subjects": 0, "field_subjects": 0, "fields_destroyed": 0, "skipped": {},
                "proposed_by": "x", "proposed_at": "2029-06-01T05:00:00Z", "approved_by": [],
                "executed_at": "2029-06-01T06:00:00Z", "commission": []
            }))
            .unwrap()
        };
        let numbered = |b: &Batch, n: &str| Batch {
            act: Some(act(n)),
            ..b.clone()
        };
        s.write(put(&numbered(&fewer, "2029-1"), Some(2), None))
            .await
            .unwrap();
        let other = batch_of(&items);
        s.write(put(&other, None, None)).await.unwrap();
        assert!(matches!(
            s.write(put(&numbered(&other, "2029-1"), Some(1), None))
                .await,
            Err(StoreError::VersionConflict)
        ));
        s.write(put(&numbered(&other, "2029-2"), Some(1), None))
            .await
            .unwrap();
        // Its own batch written again keeps its number.
        s.write(put(&numbered(&fewer, "2029-1"), Some(3), None))
            .await
            .unwrap();
        // A batch's end: the storage of destroyed keys rewritten (PostgreSQL's partitions).
        assert_eq!(
            s.write(WriteOp::RewriteDestroyedKeys).await.unwrap(),
            Applied::KeysRewritten
        );
    })
}

fn file(record: &RequestRecord, refuse_duplicate: bool) -> WriteOp {
    WriteOp::FileRequest {
        record: record.clone(),
        refuse_duplicate,
        audit: AuditDraft::new("test", "request.file", Outcome::Ok).subject(record.subject_id),
    }
}

/// Lists of requests: by due time then id, filtered, paged (`access` completed, `destroy`
/// due first, both of subject `a`).
async fn lists_by_due_time(
    s: &Arc<dyn Store>,
    access: &RequestRecord,
    destroy: &RequestRecord,
    a: Uuid,
) {
    let ids = |v: Vec<RequestRecord>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let all = s
        .requests(RequestQuery {
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].id, destroy.id);
    let open = s
        .requests(RequestQuery {
            open_only: true,
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!ids(open.clone()).contains(&access.id));
    assert_eq!(open.len(), 3);
    let due_soon = s
        .requests(RequestQuery {
            open_only: true,
            due_by: Some(stamp("2026-11-24T00:00:00.000000Z")),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(due_soon), vec![destroy.id]);
    let later = s
        .requests(RequestQuery {
            open_only: true,
            due_after: Some(stamp("2026-11-24T00:00:00.000000Z")),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(later.len(), 2, "the open ones not due by then");
    assert!(!ids(later).contains(&destroy.id));
    let of_a = s
        .requests(RequestQuery {
            subject_id: Some(a),
            kind: Some(RequestKind::AccessExport),
            status: Some(Status::Completed),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(ids(of_a), vec![access.id]);
    let first = s
        .requests(RequestQuery {
            limit: 2,
            ..Default::default()
        })
        .await
        .unwrap();
    let last = &first[1];
    let rest = s
        .requests(RequestQuery {
            after: Some((last.due_at, last.id)),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut paged = ids(first);
    paged.extend(ids(rest));
    assert_eq!(paged, ids(all.clone()));
    // By the subject's category, kept with each request: staff's reach.
    let of = |categories: Vec<&str>| RequestQuery {
        categories: Some(categories.into_iter().map(String::from).collect()),
        limit: 10,
        ..Default::default()
    };
    let staff = s.requests(of(vec!["employee", "student"])).await.unwrap();
    assert_eq!(ids(staff), ids(all.clone()));
    let employees = s.requests(of(vec!["employee"])).await.unwrap();
    assert_eq!(employees.len(), 1, "the one about an employee");
    assert!(employees.iter().all(|r| r.category == "employee"));
    assert!(s.requests(of(Vec::new())).await.unwrap().is_empty());
}

fn requests_file_update_list_and_rewrap(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let access = request_record(a, "access_export", "2026-11-25T18:59:59.000000Z");
        let destroy = request_record(a, "destruction", "2026-11-23T18:59:59.000000Z");
        let other = RequestRecord {
            category: "employee".into(),
            ..request_record(b, "access_export", "2026-11-25T18:59:59.000000Z")
        };
        for r in [&access, &destroy, &other] {
            assert_eq!(s.write(file(r, true)).await.unwrap(), Applied::RequestFiled);
        }
        assert_eq!(s.request(access.id).await.unwrap().as_ref(), Some(&access));

        // A second open request of the same kind for the same subject is refused when asked,
        // names the first, and writes nothing.
        let again = request_record(a, "access_export", "2026-11-26T18:59:59.000000Z");
        match s.write(file(&again, true)).await {
            Err(StoreError::DuplicateRequest { existing }) => assert_eq!(existing, access.id),
            other => panic!("expected a duplicate, got {other:?}"),
        }
        assert!(s.request(again.id).await.unwrap().is_none());

        // Updates check the version.
        let mut done = access.clone();
        done.status = Status::Completed;
        done.open = false;
        done.version = 2;
        done.body = r#"{"answer":"sent"}"#.into();
        let update = |r: &RequestRecord| WriteOp::UpdateRequest {
            record: r.clone(),
            audit: vec![AuditDraft::new("test", "request.complete", Outcome::Ok).subject(a)],
            jobs: vec![],
        };
        assert_eq!(
            s.write(update(&done)).await.unwrap(),
            Applied::RequestUpdated
        );
        assert!(matches!(
            s.write(update(&done)).await,
            Err(StoreError::VersionConflict)
        ));
        let mut missing = done.clone();
        missing.id = Uuid::now_v7();
        assert!(matches!(
            s.write(update(&missing)).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(s.request(access.id).await.unwrap().unwrap(), done);
        // Once the first is closed, the same kind can be filed again.
        assert_eq!(
            s.write(file(&again, true)).await.unwrap(),
            Applied::RequestFiled
        );

        lists_by_due_time(&s, &access, &destroy, a).await;

        // Request keys are paged and rewrapped like subject keys.
        let page = s
            .keys_page(KeyOwner::Request, Page::first(10))
            .await
            .unwrap();
        assert_eq!(page.len(), 4);
        assert!(page.iter().all(|k| k.owner == KeyOwner::Request));
        let op = WriteOp::Rewrap {
            keys: vec![(page[0].clone(), vec![9; 73], 2)],
            audit: None,
        };
        assert_eq!(s.write(op).await.unwrap(), Applied::Rewrapped { count: 1 });
        let r = s.request(page[0].id).await.unwrap().unwrap();
        assert_eq!((r.kek_version, r.dek), (2, vec![9; 73]));
        // Four filings, one refusal (nothing written) and one update.
        assert_eq!(verify_chain(&s, &k).await, 5);
    })
}

/// `parent` linked to `child` as a parent.
fn parent_of(child: &SubjectRecord, parent: &SubjectRecord) -> WriteOp {
    WriteOp::LinkRepresentative {
        link: RepresentativeLink {
            subject_id: child.id,
            representative_id: parent.id,
            relation: Relation::Parent,
            documents: vec![],
            linked_at: time::OffsetDateTime::now_utc(),
            linked_by: "token:staff".into(),
        },
        audit: AuditDraft::new("test", "representative.link", Outcome::Ok).subject(child.id),
    }
}

/// Destructions that reach the store together (one commit group) end each as it would alone,
/// in order: a subject who represents another is refused, a batch item no longer pending and
/// a subject with an open request are refused, an unknown subject is not found, a subject
/// asked twice is destroyed once; the other is destroyed with its record, mark and event.
fn destructions_together_end_each_as_alone(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let (one, two) = two_students(&s).await;
        let (three, parent) = (record("student"), record("legal_representative"));
        s.write(create(&three, 3)).await.unwrap();
        s.write(create(&parent, 4)).await.unwrap();
        let now = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .unwrap();
        s.write(parent_of(&one, &parent)).await.unwrap();
        let whole = |r: &SubjectRecord| BatchItem {
            subject_id: r.id,
            category: "student".into(),
            fields: vec!["iin".into(), "surname".into()],
            whole: true,
        };
        let mut items = vec![whole(&one), whole(&two), whole(&three)];
        items.sort_by_key(|i| i.subject_id);
        let batch = approved_batch(&s, items).await;
        s.write(WriteOp::MarkBatchItem {
            batch: batch.id,
            subject_id: two.id,
            outcome: ItemMark::Skipped("legal_hold".into()),
        })
        .await
        .unwrap();
        let asked = request_record(three.id, "access_export", "2029-06-10T18:59:59.999999Z");
        s.write(file(&asked, false)).await.unwrap();
        let destroy = |id: Uuid, batch_id: Option<Uuid>| WriteOp::DestroySubject {
            destruction: Destruction {
                subject_id: id,
                category: "student".into(),
                destroyed_at: now,
                actor: "token:dpo".into(),
                request_id: None,
                batch_id,
                fields: vec!["iin".into(), "surname".into()],
                removed: Removed::default(),
                connectors: Vec::new(),
            },
            audit: AuditDraft::new("test", "subject.destroy", Outcome::Ok).subject(id),
            checked: Some(DestructionChecked {
                obligations: Vec::new(),
                lifecycle_events: 0,
            }),
            batch: batch_id,
            depersonalized: None,
        };
        let events = verify_chain(&s, &k).await;
        let b = Some(batch.id);
        let (by_parent, of_one, of_two, of_three, unknown, again) = tokio::join!(
            s.write(destroy(parent.id, None)),
            s.write(destroy(one.id, b)),
            s.write(destroy(two.id, b)),
            s.write(destroy(three.id, b)),
            s.write(destroy(Uuid::now_v7(), None)),
            s.write(destroy(one.id, b)),
        );
        assert!(matches!(by_parent, Err(StoreError::VersionConflict)));
        let Ok(Applied::Destroyed {
            destruction,
            already: false,
        }) = of_one
        else {
            panic!("the first student is destroyed: {of_one:?}")
        };
        assert_eq!(
            (
                destruction.removed.index_entries,
                destruction.removed.representative_links
            ),
            (1, 1)
        );
        assert!(matches!(of_two, Err(StoreError::VersionConflict)));
        assert!(matches!(of_three, Err(StoreError::VersionConflict)));
        assert!(matches!(unknown, Err(StoreError::NotFound)));
        assert_eq!(
            again.unwrap(),
            Applied::Destroyed {
                destruction: destruction.clone(),
                already: true
            }
        );
        assert_eq!(verify_chain(&s, &k).await, events + 1);
        assert!(s.subject(one.id).await.unwrap().is_none());
        for kept in [&two, &three, &parent] {
            assert!(s.subject(kept.id).await.unwrap().is_some());
        }
        let marks: Vec<(Uuid, Option<ItemMark>)> = s
            .retention_batch_items(batch.id, Page::first(10), false)
            .await
            .unwrap()
            .into_iter()
            .map(|i| (i.item.subject_id, i.outcome))
            .collect();
        assert!(marks.contains(&(one.id, Some(ItemMark::Whole(2)))));
        assert!(marks.contains(&(two.id, Some(ItemMark::Skipped("legal_hold".into())))));
        assert!(marks.contains(&(three.id, None)));
        // The parent represents no one now: destroyed on its own.
        assert!(matches!(
            s.write(destroy(parent.id, None)).await,
            Ok(Applied::Destroyed { already: false, .. })
        ));
    })
}

#[allow(
    clippy::too_many_lines,
    reason = "a store scenario read top to bottom, on both backends"
)]
fn destruction_removes_everything_personal_once(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let (child, parent, other) = (
            record("student"),
            record("legal_representative"),
            record("student"),
        );
        s.write(create(&child, 1)).await.unwrap();
        s.write(create(&parent, 2)).await.unwrap();
        s.write(create(&other, 3)).await.unwrap();
        let audit =
            |id: Uuid, action: &str| AuditDraft::new("test", action, Outcome::Ok).subject(id);
        s.write(parent_of(&child, &parent)).await.unwrap();
        let by_parent = GivenBy::Representative {
            representative_id: parent.id,
            relation: Relation::Parent,
        };
        s.write(WriteOp::RecordConsent {
            event: consent(
                child.id,
                "olympiad",
                ConsentAction::Give(grant("olympiad")),
                by_parent,
            ),
            seen: 0,
            version: 1,
            reconfirm_in: Some(date!(2030 - 03 - 01)),
            audit: audit(child.id, "consent.give"),
        })
        .await
        .unwrap();
        s.write(WriteOp::SetFlag {
            subject_id: child.id,
            flag: FlagWrite::Restriction {
                purpose: "olympiad".into(),
                flag: Some(flag(FlagReason::Objection)),
            },
            audit: audit(child.id, "flag.set"),
        })
        .await
        .unwrap();
        let request = request_record(child.id, "access_export", "2026-11-25T18:59:59.000000Z");
        s.write(file(&request, true)).await.unwrap();
        // A legal hold the DPO set on the child (it ended: the destruction was decided after).
        let hold = LifecycleEvent {
            kind: LifecycleKind::LegalHold {
                until: date!(2026 - 06 - 30),
                reason: None,
                sealed_reason: Some("c2VhbGVk".into()),
            },
            ..left(child.id)
        };
        s.write(record_lifecycle(hold, 0)).await.unwrap();
        assert_eq!(s.subjects_with_legal_holds().await.unwrap(), [child.id]);
        let package = PackageRecord {
            request_id: request.id,
            subject_id: child.id,
            created_at: stamp("2026-11-21T05:00:00.000000Z"),
            expires_at: stamp("2026-12-21T05:00:00.000000Z"),
            sealed: vec![5; 300],
        };
        assert_eq!(
            s.write(WriteOp::StorePackage {
                package: package.clone(),
                audit: audit(child.id, "package.store")
            })
            .await
            .unwrap(),
            Applied::PackageStored
        );
        assert_eq!(s.package(request.id).await.unwrap(), Some(package.clone()));
        // No package for a subject that is not held.
        let orphan = PackageRecord {
            request_id: Uuid::now_v7(),
            subject_id: Uuid::now_v7(),
            ..package.clone()
        };
        assert!(matches!(
            s.write(WriteOp::StorePackage {
                package: orphan,
                audit: audit(child.id, "package.store")
            })
            .await,
            Err(StoreError::NotFound)
        ));
        assert!(s
            .expired_packages(stamp("2026-12-21T04:59:59.000000Z"), 10)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(
            s.expired_packages(stamp("2026-12-21T05:00:00.000000Z"), 10)
                .await
                .unwrap(),
            vec![(request.id, child.id)]
        );
        let feed_before = s.state_changes(0, 1000).await.unwrap().latest;

        let asked = Destruction {
            subject_id: child.id,
            category: "student".into(),
            destroyed_at: time::OffsetDateTime::now_utc()
                .replace_nanosecond(0)
                .unwrap(),
            actor: "token:dpo".into(),
            request_id: Some(request.id),
            batch_id: None,
            fields: vec!["iin".into(), "surname".into()],
            removed: Removed::default(),
            connectors: Vec::new(),
        };
        // Decided on no obligations, the one lifecycle event, and on the subject representing
        // no one.
        let checked = |lifecycle_events| DestructionChecked {
            obligations: Vec::new(),
            lifecycle_events,
        };
        let destroy = |d: &Destruction| WriteOp::DestroySubject {
            depersonalized: None,
            batch: None,
            destruction: d.clone(),
            audit: audit(d.subject_id, "subject.destroy"),
            checked: Some(checked(1)),
        };
        // What the decision read no longer holds: refused, nothing written. The parent
        // represents the child; the child's obligations are not the ones the decision saw.
        let events = verify_chain(&s, &k).await;
        let parent_asked = Destruction {
            subject_id: parent.id,
            ..asked.clone()
        };
        assert!(matches!(
            s.write(destroy(&parent_asked)).await,
            Err(StoreError::VersionConflict)
        ));
        let stale = WriteOp::DestroySubject {
            depersonalized: None,
            batch: None,
            destruction: asked.clone(),
            audit: audit(child.id, "subject.destroy"),
            checked: Some(DestructionChecked {
                obligations: vec![(
                    "olympiad".into(),
                    Obligation {
                        note: None,
                        sealed_note: None,
                        until: None,
                        set_by: "token:dpo".into(),
                        set_at: asked.destroyed_at,
                    },
                )],
                lifecycle_events: 1,
            }),
        };
        assert!(matches!(
            s.write(stale).await,
            Err(StoreError::VersionConflict)
        ));
        // Decided before the hold was recorded.
        let before_the_hold = WriteOp::DestroySubject {
            depersonalized: None,
            batch: None,
            destruction: asked.clone(),
            audit: audit(child.id, "subject.destroy"),
            checked: Some(checked(0)),
        };
        assert!(matches!(
            s.write(before_the_hold).await,
            Err(StoreError::VersionConflict)
        ));
        assert_eq!(verify_chain(&s, &k).await, events);
        let never_held = Uuid::now_v7();
        assert_eq!(
            s.held(vec![child.id, never_held, parent.id]).await.unwrap(),
            [child.id, parent.id].into_iter().collect()
        );
        let Applied::Destroyed {
            destruction,
            already: false,
        } = s.write(destroy(&asked)).await.unwrap()
        else {
            panic!("the first destruction must write")
        };
        assert_eq!(
            destruction.removed,
            Removed {
                index_entries: 1,
                consent_events: 1,
                representative_links: 1,
                flags: 1,
                obligations: 0,
                packages: 1,
                lifecycle_events: 1,
            }
        );
        assert!(s.lifecycle_events(child.id).await.unwrap().is_empty());
        assert!(s.subjects_with_legal_holds().await.unwrap().is_empty());
        assert!(s.subject(child.id).await.unwrap().is_none());
        assert_eq!(
            s.reconfirmations_due(due_through(date!(2031 - 01 - 01), 0))
                .await
                .unwrap(),
            ReconfirmationsDue::default(),
            "no duty outlives the subject"
        );
        assert_eq!(
            s.held(vec![child.id, parent.id]).await.unwrap(),
            [parent.id].into_iter().collect()
        );
        assert!(s.held(Vec::new()).await.unwrap().is_empty());
        assert!(s
            .subject_with_state(child.id, None)
            .await
            .unwrap()
            .is_none());
        assert!(s.lookup("iin", &digest(1)).await.unwrap().is_empty());
        assert!(s.represented_by(parent.id).await.unwrap().is_empty());
        assert!(s.package(request.id).await.unwrap().is_none());
        assert_eq!(
            s.destruction(child.id).await.unwrap(),
            Some(destruction.clone())
        );
        // The others are untouched; the request and the audit stay.
        assert!(s.subject(parent.id).await.unwrap().is_some());
        assert_eq!(s.lookup("iin", &digest(3)).await.unwrap().len(), 1);
        assert!(s.request(request.id).await.unwrap().is_some());
        let feed = s.state_changes(feed_before, 1000).await.unwrap();
        assert_eq!(
            feed.changes.iter().map(|c| c.1).collect::<Vec<_>>(),
            vec![child.id]
        );

        // Again: answered with the first record, nothing written, no new change in the feed.
        let events = verify_chain(&s, &k).await;
        assert_eq!(
            s.write(destroy(&asked)).await.unwrap(),
            Applied::Destroyed {
                destruction: destruction.clone(),
                already: true
            }
        );
        assert_eq!(verify_chain(&s, &k).await, events);
        assert_eq!(
            s.state_changes(feed_before, 1000)
                .await
                .unwrap()
                .changes
                .len(),
            1
        );
        // Never held: not found, nothing written.
        let never = Destruction {
            subject_id: Uuid::now_v7(),
            ..asked.clone()
        };
        assert!(matches!(
            s.write(destroy(&never)).await,
            Err(StoreError::NotFound)
        ));

        let second = Destruction {
            subject_id: other.id,
            request_id: None,
            batch_id: None,
            ..asked
        };
        // The other student has no lifecycle event.
        s.write(WriteOp::DestroySubject {
            depersonalized: None,
            batch: None,
            destruction: second.clone(),
            audit: audit(other.id, "subject.destroy"),
            checked: Some(checked(0)),
        })
        .await
        .unwrap();
        let all = s.destructions(Page::first(10)).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].subject_id < all[1].subject_id);
        assert_eq!(
            s.destructions(Page::after(Some(all[0].subject_id), 10))
                .await
                .unwrap(),
            vec![all[1].clone()]
        );
        assert!(matches!(
            s.write(WriteOp::DeletePackage {
                request_id: request.id,
                audit: audit(child.id, "package.delete")
            })
            .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(s.count_subjects().await.unwrap(), 1);
        // The ledger, links and flags went with the subject: a subject written again under the
        // same id (a restore of its row alone) finds none of them.
        s.write(create(&child, 9)).await.unwrap();
        assert_eq!(state_of(&s, child.id).await, SubjectState::default());
    })
}

fn webhook_jobs_go_with_their_request_and_change_only_from_the_status_read(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let subject = Uuid::now_v7();
        let mut request = request_record(subject, "destruction", "2026-11-25T18:59:59.000000Z");
        s.write(file(&request, true)).await.unwrap();
        let job = WebhookJob {
            id: Uuid::now_v7(),
            request_id: request.id,
            subject_id: subject,
            webhook: "lms".into(),
            event: "destruction".into(),
            status: WebhookStatus::Pending,
            attempts: 0,
            next_attempt_at: stamp("2026-11-21T10:00:00.000000Z"),
            payload: Some(vec![3; 80]),
            last_error: None,
            updated_at: stamp("2026-11-21T10:00:00.000000Z"),
        };
        // A failed request update stores no job.
        let mut stale = request.clone();
        stale.version = 7;
        let with_job = |r: &RequestRecord| WriteOp::UpdateRequest {
            record: r.clone(),
            audit: vec![],
            jobs: vec![JobWrite {
                job: job.clone(),
                expect: None,
            }],
        };
        assert!(matches!(
            s.write(with_job(&stale)).await,
            Err(StoreError::VersionConflict)
        ));
        assert_eq!(s.webhook_job(job.id).await.unwrap(), None);
        request.version = 2;
        s.write(with_job(&request)).await.unwrap();
        // Written again as new, it conflicts: a job is created once.
        request.version = 3;
        assert!(matches!(
            s.write(with_job(&request)).await,
            Err(StoreError::JobChanged)
        ));
        assert_eq!(s.webhook_job(job.id).await.unwrap(), Some(job.clone()));
        assert_due_from(&s, &job).await;

        // Delivered, then confirmed; a writer that read `pending` cannot overwrite it.
        let delivered = WebhookJob {
            status: WebhookStatus::Delivered,
            attempts: 1,
            next_attempt_at: stamp("2026-11-22T10:00:00.000000Z"),
            ..job.clone()
        };
        let update = |j: &WebhookJob, expected: WebhookStatus| WriteOp::UpdateWebhookJob {
            job: j.clone(),
            expected_status: expected,
            audit: vec![AuditDraft::new("test", "request.connector", Outcome::Ok).subject(subject)],
        };
        assert_eq!(
            s.write(update(&delivered, WebhookStatus::Pending))
                .await
                .unwrap(),
            Applied::WebhookJobUpdated
        );
        // Delivered, it is due again only when its confirmation is overdue.
        assert_due_from(&s, &delivered).await;
        let confirmed = WebhookJob {
            status: WebhookStatus::Confirmed,
            payload: None,
            ..delivered.clone()
        };
        s.write(update(&confirmed, WebhookStatus::Delivered))
            .await
            .unwrap();
        assert!(matches!(
            s.write(update(&delivered, WebhookStatus::Pending)).await,
            Err(StoreError::VersionConflict)
        ));
        assert_eq!(s.webhook_job(job.id).await.unwrap(), Some(confirmed));
        let unknown = WebhookJob {
            id: Uuid::now_v7(),
            ..job
        };
        assert!(matches!(
            s.write(update(&unknown, WebhookStatus::Pending)).await,
            Err(StoreError::NotFound)
        ));
        verify_chain(&s, &k).await;
    })
}

/// The job is due from its `next_attempt_at` on, and not a second before.
async fn assert_due_from(s: &Arc<dyn Store>, job: &WebhookJob) {
    let before = job.next_attempt_at - time::Duration::seconds(1);
    assert!(s.due_webhook_jobs(before, 10).await.unwrap().is_empty());
    assert_eq!(
        s.due_webhook_jobs(job.next_attempt_at, 10).await.unwrap(),
        vec![job.clone()]
    );
}

/// Where `needle` occurs in the database's files.
async fn found_in_files(db: &TestDb, needle: &[u8]) -> Vec<String> {
    db.raw_files()
        .await
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
        .map(|(path, _)| path)
        .collect()
}

/// After a destruction, the subject's wrapped data key is in none of the database's live files
/// (SQLite: the file and its WAL; PostgreSQL: every relation's files, dead rows included), so
/// the key file can open nothing of it; a subject kept is still there, so the scan reads what
/// it must.
fn a_destroyed_key_is_gone_from_the_live_files(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let mut made = Vec::new();
        for n in 0..3u8 {
            let id = Uuid::now_v7();
            let dk = derbes_crypto::DataKey::generate().unwrap();
            let wrapped = k.wrap(&dk, &id, 1).unwrap();
            let mut r = record("student");
            r.id = id;
            r.dek = wrapped.bytes.clone();
            r.fields = vec![(
                "iin".into(),
                dk.seal(&id, 1, "iin", b"871008401427").unwrap(),
            )];
            s.write(create(&r, 40 + n)).await.unwrap();
            made.push((r, dk));
        }
        // Rewrapped once, as a key rotation does: the older wrapping must go too.
        let (victim, victim_key) = &made[1];
        let rewrapped = k.wrap(victim_key, &victim.id, 1).unwrap();
        s.write(WriteOp::Rewrap {
            keys: vec![(
                KeyRecord {
                    owner: KeyOwner::Subject,
                    id: victim.id,
                    dek_generation: 1,
                    dek: victim.dek.clone(),
                    kek_version: 1,
                },
                rewrapped.bytes.clone(),
                1,
            )],
            audit: None,
        })
        .await
        .unwrap();
        let nonce = |wrapped: &[u8]| wrapped[1..25].to_vec();
        assert!(
            !found_in_files(&db, &nonce(&rewrapped.bytes))
                .await
                .is_empty(),
            "the scan does not see the live key"
        );
        s.write(WriteOp::DestroySubject {
            depersonalized: None,
            batch: None,
            destruction: Destruction {
                subject_id: victim.id,
                category: "student".into(),
                destroyed_at: time::OffsetDateTime::now_utc(),
                actor: "test".into(),
                request_id: None,
                batch_id: None,
                fields: vec!["iin".into()],
                removed: Removed::default(),
                connectors: Vec::new(),
            },
            audit: AuditDraft::new("test", "subject.destroy", Outcome::Ok).subject(victim.id),
            checked: Some(DestructionChecked {
                obligations: Vec::new(),
                lifecycle_events: 0,
            }),
        })
        .await
        .unwrap();
        for wrapped in [&victim.dek, &rewrapped.bytes] {
            let found = found_in_files(&db, &nonce(wrapped)).await;
            assert!(
                found.is_empty(),
                "the destroyed subject's wrapped key is still in {found:?}"
            );
        }
        // The subjects kept are whole and open.
        for (r, dk) in [&made[0], &made[2]] {
            let held = s.subject(r.id).await.unwrap().unwrap();
            assert_eq!(held.dek, r.dek);
            let opened = dk.open(&r.id, 1, "iin", &held.fields[0].1).unwrap();
            assert_eq!(&opened[..], b"871008401427");
            assert!(!found_in_files(&db, &nonce(&r.dek)).await.is_empty());
        }
    })
}

/// After a batch item's fields are destroyed and the subjects' storage is rewritten (as a batch
/// does before it is done), the destroyed field's sealed value is in none of the database's
/// live files, an older version of the record included, while the field kept is still there.
fn destroyed_fields_are_gone_from_the_live_files(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let mut r = record("student");
        let dk = derbes_crypto::DataKey::generate().unwrap();
        r.dek = k.wrap(&dk, &r.id, 1).unwrap().bytes;
        let iin = dk.seal(&r.id, 1, "iin", b"871008401427").unwrap();
        let surname = dk.seal(&r.id, 1, "surname", b"Sarsenbayeva").unwrap();
        r.fields = vec![
            ("iin".into(), iin.clone()),
            ("surname".into(), surname.clone()),
        ];
        s.write(create(&r, 60)).await.unwrap();
        let items = vec![BatchItem {
            subject_id: r.id,
            category: "student".into(),
            fields: vec!["iin".into()],
            whole: false,
        }];
        let batch = approved_batch(&s, items).await;
        // The authentication tag ends each sealed value, and differs from one sealing to the next.
        let tag = |sealed: &[u8]| sealed[sealed.len() - 16..].to_vec();
        assert!(
            !found_in_files(&db, &tag(&iin)).await.is_empty(),
            "the scan does not see the field"
        );
        s.write(WriteOp::DestroyFields {
            subject_id: r.id,
            expected_version: 1,
            kept: (
                vec![("surname".into(), surname.clone())],
                Default::default(),
            ),
            destroyed: vec!["iin".into()],
            checked: Some((0, batch.id)),
            depersonalized: None,
            audit: AuditDraft::new("test", "subject.destroy_fields", Outcome::Ok).subject(r.id),
        })
        .await
        .unwrap();
        s.rewrite_subjects().await.unwrap();
        let found = found_in_files(&db, &tag(&iin)).await;
        assert!(
            found.is_empty(),
            "the destroyed field is still in {found:?}"
        );
        assert!(!found_in_files(&db, &tag(&surname)).await.is_empty());
        let held = s.subject(r.id).await.unwrap().unwrap();
        assert_eq!(held.fields, [("surname".to_owned(), surname)]);
    })
}

/// A job's last run replaces the one before, counted, failures apart; it writes no audit
/// event, and it outlives the process that recorded it.
fn job_runs_keep_the_last_run_counted(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let at = |m: u8| stamp(&format!("2026-12-06T10:{m:02}:00.25Z"));
        let run = |name: &str, m: u8, outcome: JobOutcome, detail: &str| JobRun {
            name: name.into(),
            every_seconds: 60,
            started_at: at(m),
            finished_at: at(m),
            outcome,
            detail: detail.into(),
            next_run_at: at(m + 1),
            runs: 1,
            failures: 0,
        };
        {
            let s = store(&db, &k).await;
            assert!(s.job_runs().await.unwrap().is_empty());
            let head = s.audit_head().await.unwrap();
            for (m, outcome, detail) in [
                (1, JobOutcome::Failed, "the storage did not answer"),
                (2, JobOutcome::Done, "sent 2 webhook job(s)"),
                (3, JobOutcome::Idle, ""),
            ] {
                s.write(WriteOp::RecordJobRun(run(
                    "webhook-delivery",
                    m,
                    outcome,
                    detail,
                )))
                .await
                .unwrap();
            }
            s.write(WriteOp::RecordJobRun(run(
                "key-reload",
                5,
                JobOutcome::Skipped,
                "broken",
            )))
            .await
            .unwrap();
            assert_eq!(s.audit_head().await.unwrap(), head, "no audit event");
        }
        let s = store(&db, &k).await;
        let runs = s.job_runs().await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["key-reload", "webhook-delivery"]
        );
        let w = &runs[1];
        assert_eq!(
            (w.outcome, w.detail.as_str(), w.runs, w.failures),
            (JobOutcome::Idle, "", 3, 1)
        );
        assert_eq!((w.started_at, w.next_run_at), (at(3), at(4)));
        assert_eq!((runs[0].outcome, runs[0].runs), (JobOutcome::Skipped, 1));
    })
}

/// A time written into a column by something other than derbes, in another form, is reported
/// as a corrupt store (naming the cause), never read as another time or a panic.
fn a_stored_time_in_another_form_is_corrupt(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        let r = record("student");
        s.write(WriteOp::CreateSubject {
            record: r.clone(),
            index: vec![],
            audit: AuditDraft::new("test", "subject.create", Outcome::Ok).subject(r.id),
        })
        .await
        .unwrap();
        assert_eq!(
            s.subject(r.id).await.unwrap().unwrap().updated_at,
            r.updated_at
        );
        // Not a time at all, and a time in a form that would sort out of place.
        for stored in ["21 November 2026", "2026-11-21T10:00:00Z"] {
            db.execute(&format!("UPDATE subjects SET updated_at = '{stored}'"))
                .await;
            match s.subject(r.id).await {
                Err(StoreError::Corrupt(cause)) => {
                    assert!(cause.contains("stored time"), "{cause}")
                }
                other => panic!("{stored}: expected a corrupt store, got {other:?}"),
            }
        }
    })
}

fn account(login: &str) -> AccountRecord {
    AccountRecord {
        id: Uuid::now_v7(),
        login: login.into(),
        display_name: "Әлия Серікова".into(),
        role: "staff".into(),
        purposes: vec!["education".into()],
        lang: "kk".into(),
        password_hash: "$argon2id$v=19$m=19456,t=5,p=1$c2FsdA$aGFzaA".into(),
        must_change_password: true,
        totp_required: false,
        totp_secret: None,
        totp_last_step: None,
        failed_sign_ins: 0,
        locked_until: None,
        created_at: stamp("2026-12-06T09:00:00Z"),
        disabled_at: None,
        version: 1,
    }
}

fn session(account: &AccountRecord, digest: &str, minute: u8) -> SessionRecord {
    let at = stamp(&format!("2026-12-06T10:{minute:02}:00Z"));
    SessionRecord {
        digest: digest.into(),
        account_id: account.id,
        stage: SessionStage::SignedIn,
        created_at: at,
        last_seen_at: at,
        expires_at: at + time::Duration::hours(12),
        pending_totp: Some(vec![1, 2, 3]),
    }
}

fn account_write(
    account: Option<AccountChange>,
    end_sessions: EndSessions,
    start_session: Option<SessionRecord>,
    action: Option<&str>,
) -> WriteOp {
    WriteOp::Account(Box::new(AccountWrite {
        account,
        end_sessions,
        start_session,
        audit: action
            .map(|a| AuditDraft::new("admin:cli", a, Outcome::Ok))
            .into_iter()
            .collect(),
    }))
}

/// Accounts are unique by login and change only from the version read; a session starts,
/// is replaced, is seen, and ends with its account's reset; only audited writes add events.
fn accounts_and_their_sessions(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let aliya = account("aliya");
        {
            let s = store(&db, &k).await;
            let head = s.audit_head().await.unwrap().map(|h| h.seq).unwrap_or(0);
            let create = || {
                account_write(
                    Some(AccountChange::Create(aliya.clone())),
                    EndSessions::None,
                    None,
                    Some("account.create"),
                )
            };
            s.write(create()).await.unwrap();
            let mut again = aliya.clone();
            again.id = Uuid::now_v7();
            let taken = s
                .write(account_write(
                    Some(AccountChange::Create(again)),
                    EndSessions::None,
                    None,
                    Some("account.create"),
                ))
                .await;
            assert!(matches!(taken, Err(StoreError::LoginTaken)), "{taken:?}");
            assert_eq!(s.account(aliya.id).await.unwrap(), Some(aliya.clone()));
            assert_eq!(
                s.account_by_login("aliya").await.unwrap(),
                Some(aliya.clone())
            );
            assert!(s.account_by_login("bolat").await.unwrap().is_none());

            // A sign-in: the account's failures are cleared and a session starts, together.
            let signed_in = AccountRecord {
                failed_sign_ins: 0,
                totp_last_step: Some(60_000_000),
                version: 2,
                ..aliya.clone()
            };
            s.write(account_write(
                Some(AccountChange::Update(signed_in.clone())),
                EndSessions::None,
                Some(session(&aliya, "s1", 0)),
                Some("account.sign_in"),
            ))
            .await
            .unwrap();
            // A change made on the version read before is refused, and writes nothing.
            let stale = s
                .write(account_write(
                    Some(AccountChange::Update(AccountRecord {
                        display_name: "Бөтен".into(),
                        ..signed_in.clone()
                    })),
                    EndSessions::None,
                    Some(session(&aliya, "s-stale", 0)),
                    None,
                ))
                .await;
            assert!(
                matches!(stale, Err(StoreError::VersionConflict)),
                "{stale:?}"
            );
            assert!(s.session("s-stale").await.unwrap().is_none());
            assert_eq!(s.account(aliya.id).await.unwrap(), Some(signed_in.clone()));

            // The next step replaces the session; seen times only move forward.
            s.write(account_write(
                None,
                EndSessions::One("s1".into()),
                Some(session(&aliya, "s2", 1)),
                None,
            ))
            .await
            .unwrap();
            assert!(s.session("s1").await.unwrap().is_none());
            let later = stamp("2026-12-06T10:20:00Z");
            for at in [later, stamp("2026-12-06T10:05:00Z")] {
                s.write(WriteOp::SessionsSeen {
                    seen: vec![("s2".into(), at), ("gone".into(), at)],
                })
                .await
                .unwrap();
            }
            let s2 = s.session("s2").await.unwrap().unwrap();
            assert_eq!(
                (s2.last_seen_at, s2.stage, s2.pending_totp),
                (later, SessionStage::SignedIn, Some(vec![1, 2, 3]))
            );
            // Two audited writes: the creation and the sign-in.
            assert_eq!(
                s.audit_head().await.unwrap().map(|h| h.seq).unwrap_or(0),
                head + 2
            );
        }
        // After reopening: a new session clears the ones that ran out, a reset ends them all.
        sessions_run_out_and_end_with_a_reset(&store(&db, &k).await, &aliya).await;
    })
}

async fn sessions_run_out_and_end_with_a_reset(s: &Arc<dyn Store>, aliya: &AccountRecord) {
    let mut next_day = session(aliya, "s3", 0);
    next_day.created_at += time::Duration::days(1);
    s.write(account_write(None, EndSessions::None, Some(next_day), None))
        .await
        .unwrap();
    assert!(s.session("s2").await.unwrap().is_none(), "ran out");
    s.write(account_write(
        None,
        EndSessions::One("s4".into()),
        Some(session(aliya, "s4", 2)),
        None,
    ))
    .await
    .unwrap();
    s.write(account_write(
        None,
        EndSessions::AllOf(aliya.id),
        None,
        Some("account.reset"),
    ))
    .await
    .unwrap();
    for d in ["s3", "s4"] {
        assert!(s.session(d).await.unwrap().is_none(), "{d}");
    }
    assert_eq!(s.accounts().await.unwrap().len(), 1);
    let missing = s
        .write(account_write(
            Some(AccountChange::Update(account("nobody"))),
            EndSessions::None,
            None,
            None,
        ))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[
        ("create_read_and_lookup", create_read_and_lookup),
        ("duplicates_write_nothing", duplicates_write_nothing),
        (
            "concurrent_group_isolates_failures",
            concurrent_group_isolates_failures,
        ),
        (
            "update_checks_version_and_replaces_index",
            update_checks_version_and_replaces_index,
        ),
        (
            "rewrap_tokens_and_declarations",
            rewrap_tokens_and_declarations,
        ),
        ("data_survives_reopening", data_survives_reopening),
        (
            "job_runs_keep_the_last_run_counted",
            job_runs_keep_the_last_run_counted,
        ),
        ("consents_links_and_flags", consents_links_and_flags),
        (
            "months_of_majority_are_settled_against_what_was_read",
            months_of_majority_are_settled_against_what_was_read,
        ),
        (
            "lifecycle_events_append_in_order",
            lifecycle_events_append_in_order,
        ),
        (
            "retention_pages_carry_ledgers_and_open_requests_hold",
            retention_pages_carry_ledgers_and_open_requests_hold,
        ),
        (
            "retention_batches_execute_each_item_once",
            retention_batches_execute_each_item_once,
        ),
        (
            "a_batch_stored_again_replaces_its_items",
            a_batch_stored_again_replaces_its_items,
        ),
        (
            "depersonalized_records_are_kept_with_their_destruction",
            depersonalized_records_are_kept_with_their_destruction,
        ),
        (
            "requests_file_update_list_and_rewrap",
            requests_file_update_list_and_rewrap,
        ),
        (
            "destruction_removes_everything_personal_once",
            destruction_removes_everything_personal_once,
        ),
        (
            "destructions_together_end_each_as_alone",
            destructions_together_end_each_as_alone,
        ),
        (
            "webhook_jobs_go_with_their_request_and_change_only_from_the_status_read",
            webhook_jobs_go_with_their_request_and_change_only_from_the_status_read,
        ),
        (
            "a_destroyed_key_is_gone_from_the_live_files",
            a_destroyed_key_is_gone_from_the_live_files,
        ),
        (
            "destroyed_fields_are_gone_from_the_live_files",
            destroyed_fields_are_gone_from_the_live_files,
        ),
        ("accounts_and_their_sessions", accounts_and_their_sessions),
        (
            "a_stored_time_in_another_form_is_corrupt",
            a_stored_time_in_another_form_is_corrupt,
        ),
    ];
    run_suite("conformance", cases)
}

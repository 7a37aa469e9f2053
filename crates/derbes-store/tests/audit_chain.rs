//! The audit chain against someone with access to the database: the same cases on SQLite and
//! PostgreSQL. Each tampering is done as such a person would, with SQL on the database itself.
#![allow(clippy::unwrap_used)]

use derbes_core::audit::{
    AuditDraft, ChainBreak, ChainKeys, Checkpoint, Outcome, Segment, START_ACTION,
};
use derbes_crypto::KeyRing;
use derbes_store::testing::{run_suite, Case, Fut, TestDb};
use derbes_store::{
    check_exported, next_segment, open, open_with, verify_chain, Applied, ChainPolicy, ChainStatus,
    Keys, SegmentFiles, Store, StoreError, WriteOp,
};
use std::process::ExitCode;
use std::sync::Arc;

fn keys() -> Arc<KeyRing> {
    Arc::new(KeyRing::generate().unwrap())
}

async fn store(db: &TestDb, keys: &Arc<KeyRing>) -> Arc<dyn Store> {
    open(&db.url, Arc::clone(keys) as Keys).await.unwrap()
}

fn read(n: usize) -> WriteOp {
    WriteOp::Audit(
        (0..n)
            .map(|i| {
                AuditDraft::new("staff:journal", "subject.read", Outcome::Allowed)
                    .purpose("education")
                    .reason(format!("read {i}"))
            })
            .collect(),
    )
}

async fn last_seq(s: &Arc<dyn Store>) -> i64 {
    s.audit_head().await.unwrap().unwrap().seq
}

fn broken(s: &Arc<dyn Store>) -> String {
    match s.chain().status() {
        ChainStatus::Broken(r) => r,
        other => panic!("the chain should be reported broken, not {other:?}"),
    }
}

async fn refused(s: &Arc<dyn Store>) -> String {
    match s.write(read(1)).await {
        Err(StoreError::ChainBroken(m)) => m,
        other => panic!("a write on a broken chain must be refused, not {other:?}"),
    }
}

async fn full(s: &Arc<dyn Store>, k: &KeyRing, exported: &[Checkpoint]) -> Result<i64, ChainBreak> {
    verify_chain(s.as_ref(), k, exported, None)
        .await
        .unwrap()
        .map(|r| r.events)
}

/// A new database's chain begins with its start event and checkpoint 1, and verifies.
fn a_new_chain_begins_verified_and_checkpointed(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        assert_eq!(
            s.chain().status(),
            ChainStatus::Verified {
                seq: 1,
                checkpoint: 1
            }
        );
        let first = s.audit_event(1).await.unwrap().unwrap();
        assert_eq!(first.action, START_ACTION);
        s.write(read(3)).await.unwrap();
        let report = verify_chain(s.as_ref(), k.as_ref(), &[], None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (report.events, report.checkpoints, report.legacy_until),
            (4, 1, 0)
        );
        // The same database with another installation's key file does not verify at all.
        drop(s);
        let other = keys();
        let s = store(&db, &other).await;
        assert!(broken(&s).contains("checkpoint 1"), "{}", broken(&s));
        refused(&s).await;
    })
}

/// A checkpoint asked for covers the chain as it stands; asked again with nothing new, it is
/// the same one; the writer also signs one by itself every so many events.
fn checkpoints_are_signed_numbered_and_held(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = open_with(
            &db.url,
            Arc::clone(&k) as Keys,
            ChainPolicy {
                checkpoint_every_events: 10,
            },
        )
        .await
        .unwrap();
        s.write(read(4)).await.unwrap();
        let Applied::Checkpointed(c) = s.write(WriteOp::Checkpoint).await.unwrap() else {
            panic!("a checkpoint was asked for")
        };
        assert_eq!((c.n, c.seq), (2, 5));
        assert!(c.signature_valid(k.as_ref()));
        let Applied::Checkpointed(again) = s.write(WriteOp::Checkpoint).await.unwrap() else {
            panic!("a checkpoint was asked for")
        };
        assert_eq!(again, c);
        for _ in 0..3 {
            s.write(read(4)).await.unwrap();
        }
        let last = s.last_checkpoint().await.unwrap().unwrap();
        assert_eq!(
            (last.n, last.seq),
            (3, 17),
            "signed by itself after 10 events"
        );
        assert_eq!(
            check_exported(s.as_ref(), k.as_ref(), &c).await.unwrap(),
            Ok(())
        );
        assert_eq!(full(&s, &k, &[c.clone(), last.clone()]).await, Ok(17));
        // A checkpoint signed with another key proves nothing.
        let forged = Checkpoint::sign(9, 5, c.hash, c.at.clone(), 0, keys().as_ref());
        let e = check_exported(s.as_ref(), k.as_ref(), &forged)
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("signature"), "{e}");
    })
}

/// An event changed, or the last one removed, while derbes runs: the next write is refused and
/// the chain reported broken; reads still work.
fn a_change_under_a_running_writer_stops_all_writes(db: TestDb) -> Fut {
    Box::pin(async move {
        for tamper in ["change", "remove"] {
            let k = keys();
            let db = fresh(&db).await;
            let s = store(&db, &k).await;
            s.write(read(3)).await.unwrap();
            let last = last_seq(&s).await;
            db.execute(&if tamper == "change" {
                format!("UPDATE audit_events SET actor = 'admin:someone else' WHERE seq = {last}")
            } else {
                format!("DELETE FROM audit_events WHERE seq = {last}")
            })
            .await;
            let m = refused(&s).await;
            assert!(m.contains(&format!("event {last}")), "{tamper}: {m}");
            assert!(broken(&s).contains(&format!("event {last}")), "{tamper}");
            // Stays refused, and nothing was appended.
            refused(&s).await;
            assert_eq!(
                s.audit_page(last - 1, 10).await.unwrap().len(),
                usize::from(tamper == "change")
            );
            assert!(s.audit_event(1).await.unwrap().is_some());
        }
    })
}

/// A second derbes on the same database: each verifies what the other appended before it
/// appends, and the chain stays one.
fn two_writers_continue_each_other(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let a = store(&db, &k).await;
        let b = store(&db, &k).await;
        for _ in 0..5 {
            a.write(read(2)).await.unwrap();
            b.write(read(3)).await.unwrap();
        }
        assert_eq!(full(&a, &k, &[]).await, Ok(26));
        // An event forged by someone without the key, appended after b's last: a refuses.
        let forged = {
            let mut e = b.audit_event(26).await.unwrap().unwrap();
            e.seq = 27;
            e
        };
        db.execute(&format!(
            "INSERT INTO audit_events (seq, at, actor, action, fields, outcome, hash) VALUES (27, '{}', '{}', '{}', '', 'ok', {})",
            forged.at,
            forged.actor,
            forged.action,
            db.bytes(&forged.hash)
        ))
        .await;
        let m = refused(&a).await;
        assert!(m.contains("event 27"), "{m}");
    })
}

/// Tampering while derbes was stopped is found when the store opens: writes are refused.
fn tampering_offline_is_found_at_open(db: TestDb) -> Fut {
    Box::pin(async move {
        type Tamper = fn(i64, &TestDb) -> String;
        let cases: [(&str, Tamper, &str); 5] = [
            (
                "an event changed",
                |last, _| {
                    format!(
                        "UPDATE audit_events SET purpose = 'marketing' WHERE seq = {}",
                        last - 1
                    )
                },
                "hash does not match",
            ),
            (
                "an unknown outcome",
                |last, _| format!("UPDATE audit_events SET outcome = 'granted' WHERE seq = {last}"),
                "outcome \"granted\" is not one derbes writes",
            ),
            (
                "the last events removed",
                |last, _| format!("DELETE FROM audit_events WHERE seq > {}", last - 2),
                "signed head says",
            ),
            (
                "every event and checkpoint removed",
                |_, _| "DELETE FROM audit_events; DELETE FROM audit_checkpoints".into(),
                "holds no events",
            ),
            (
                "the checkpoints removed",
                |_, _| "DELETE FROM audit_checkpoints".into(),
                "no checkpoint",
            ),
        ];
        for (what, sql, found) in cases {
            let db = fresh(&db).await;
            let k = keys();
            let last = {
                let s = store(&db, &k).await;
                s.write(read(4)).await.unwrap();
                last_seq(&s).await
            };
            db.execute(&sql(last, &db)).await;
            let s = store(&db, &k).await;
            let m = broken(&s);
            assert!(m.contains(found), "{what}: {m}");
            refused(&s).await;
            let v = full(&s, &k, &[]).await;
            assert!(v.is_err(), "{what}: verify found {v:?}");
        }
    })
}

/// The chain rolled back to an older genuine state (events removed, and the head and
/// checkpoints they had then put back, as copies in a WAL or old tuples allow): only a
/// checkpoint kept outside the database can tell, and it does.
fn a_rollback_past_an_exported_checkpoint_is_proven(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        s.write(read(3)).await.unwrap();
        let then = last_seq(&s).await;
        let head = s.audit_head().await.unwrap().unwrap();
        s.write(read(5)).await.unwrap();
        let Applied::Checkpointed(exported) = s.write(WriteOp::Checkpoint).await.unwrap() else {
            panic!("a checkpoint was asked for")
        };
        drop(s);
        db.execute(&format!(
            "DELETE FROM audit_events WHERE seq > {then}; DELETE FROM audit_checkpoints WHERE n > 1;
             UPDATE audit_head SET seq = {then}, hash = {}, mac = {} WHERE id = 1",
            db.bytes(&head.hash),
            db.bytes(&head.mac)
        ))
        .await;
        let s = store(&db, &k).await;
        // The database alone looks whole...
        assert!(matches!(s.chain().status(), ChainStatus::Verified { .. }));
        assert_eq!(full(&s, &k, &[]).await, Ok(then));
        // ...but the exported checkpoint proves the rollback.
        let e = check_exported(s.as_ref(), k.as_ref(), &exported)
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(e, ChainBreak::RolledBack { n: 2, .. }), "{e}");
        assert!(e.to_string().contains("rolled back"), "{e}");
        let e = full(&s, &k, std::slice::from_ref(&exported))
            .await
            .unwrap_err();
        assert!(
            matches!(e, ChainBreak::RolledBack { n: 2, seq, .. } if seq == exported.seq),
            "{e}"
        );
    })
}

/// A database written by a derbes from before the keyed chain: its unkeyed chain is verified
/// against the head it was signed with, sealed once with checkpoint 1, and continued keyed.
fn a_legacy_chain_is_verified_sealed_and_continued(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let legacy = legacy_events(4);
        let last = legacy.last().unwrap();
        let mac = k.legacy_audit_head_mac(last.seq, &derbes_core::declaration::hex(&last.hash));
        db.legacy(&legacy, &mac).await;
        {
            let s = store(&db, &k).await;
            assert_eq!(
                s.chain().status(),
                ChainStatus::Verified {
                    seq: 4,
                    checkpoint: 1
                }
            );
            s.write(read(2)).await.unwrap();
        }
        let s = store(&db, &k).await;
        let report = verify_chain(s.as_ref(), k.as_ref(), &[], None)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (report.events, report.legacy_until, report.checkpoints),
            (6, 4, 1)
        );
        assert_eq!(s.audit_event(2).await.unwrap().unwrap(), legacy[1]);

        // Changed before the upgrade: found, and nothing is sealed.
        let db = fresh(&db).await;
        let mut changed = legacy.clone();
        changed[1].purpose = Some("marketing".into());
        db.legacy(&changed, &mac).await;
        let s = store(&db, &k).await;
        assert!(broken(&s).contains("event 2"), "{}", broken(&s));
        assert!(s.last_checkpoint().await.unwrap().is_none());
        // A head signed with another key file.
        let db = fresh(&db).await;
        db.legacy(
            &legacy,
            &keys().legacy_audit_head_mac(4, &derbes_core::declaration::hex(&last.hash)),
        )
        .await;
        let s = store(&db, &k).await;
        assert!(broken(&s).contains("signed head"), "{}", broken(&s));
    })
}

/// Unkeyed events as a derbes from before the keyed chain wrote them.
fn legacy_events(n: i64) -> Vec<derbes_core::audit::AuditEvent> {
    struct Unkeyed;
    impl ChainKeys for Unkeyed {
        fn event_hash(&self, _: &[u8]) -> [u8; 32] {
            [0; 32]
        }
        fn event_hash_matches(&self, _: &[u8], _: &[u8; 32]) -> bool {
            false
        }
        fn head_mac(&self, _: i64, _: &[u8; 32]) -> [u8; 32] {
            [0; 32]
        }
        fn head_mac_matches(&self, _: i64, _: &[u8; 32], _: &[u8]) -> bool {
            false
        }
        fn legacy_head_matches(&self, _: i64, _: &str, _: &str) -> bool {
            false
        }
        fn sign_checkpoint(&self, _: &[u8]) -> Vec<u8> {
            Vec::new()
        }
        fn checkpoint_signature_matches(&self, _: &[u8], _: &[u8]) -> bool {
            false
        }
        fn checkpoint_key_id(&self) -> String {
            String::new()
        }
    }
    let mut prev = derbes_core::audit::GENESIS;
    (1..=n)
        .map(|seq| {
            let mut e = AuditDraft::new("system", "declaration.record", Outcome::Ok)
                .details(&serde_json::json!({ "version": seq }))
                .seal(seq, time::OffsetDateTime::now_utc(), &prev, &Unkeyed);
            e.hash = e.legacy_hash(&prev);
            prev = e.hash;
            e
        })
        .collect()
}

/// Archive files kept in memory, by segment number.
#[derive(Default)]
struct Files(std::sync::Mutex<std::collections::BTreeMap<i64, String>>);

impl SegmentFiles for Files {
    fn text(&self, s: &Segment) -> Result<String, String> {
        self.0
            .lock()
            .unwrap()
            .get(&s.n)
            .cloned()
            .ok_or_else(|| format!("no file for segment {}", s.n))
    }
}

impl Files {
    /// Archives the next segment of events before `before`: its file kept here, its events
    /// removed from the database.
    async fn archive(&self, s: &Arc<dyn Store>, k: &KeyRing, before: &str) -> Option<Segment> {
        let (segment, body) =
            next_segment(s.as_ref(), k, before, "2026-12-03T12:00:00.000000Z".into())
                .await
                .unwrap()
                .unwrap()?;
        self.0.lock().unwrap().insert(
            segment.n,
            format!("{body}{}\n", segment.to_line(&k.checkpoint_key_id())),
        );
        s.write(WriteOp::ArchiveAudit {
            segment: segment.clone(),
            audit: AuditDraft::new("system", "audit.archived", Outcome::Ok),
        })
        .await
        .unwrap();
        Some(segment)
    }
}

async fn checkpoint(s: &Arc<dyn Store>) -> Checkpoint {
    match s.write(WriteOp::Checkpoint).await.unwrap() {
        Applied::Checkpointed(c) => c,
        other => panic!("a checkpoint was asked for, not {other:?}"),
    }
}

/// Events past the audit retention leave the database in signed segments: the chain verifies
/// across them (and whole with their files), the writer goes on after them, and the database
/// keeps the events from its last checkpoint on.
fn archived_segments_keep_the_chain_verifying(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        s.write(read(20)).await.unwrap();
        let exported = checkpoint(&s).await; // event 21
        s.write(read(5)).await.unwrap();
        let files = Files::default();
        // Nothing is older than a time before the chain began.
        assert_eq!(files.archive(&s, &k, "2000-01-01T00:00:00Z").await, None);
        let first = files.archive(&s, &k, "9999-12-31T00:00:00Z").await.unwrap();
        assert_eq!(
            (first.n, first.first, first.last),
            (1, 1, 20),
            "kept from the last checkpoint on"
        );
        assert_eq!(s.audit_event(20).await.unwrap(), None);
        assert_eq!(s.audit_page(0, 1).await.unwrap()[0].seq, 21);
        let report = verify_chain(
            s.as_ref(),
            k.as_ref(),
            std::slice::from_ref(&exported),
            Some(&files),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(
            (
                report.events,
                report.segments.len(),
                report.archive_verified
            ),
            (27, 1, true)
        );
        assert_eq!(
            full(&s, &k, &[]).await,
            Ok(27),
            "the signed segments alone, without their files"
        );
        assert_eq!(
            check_exported(s.as_ref(), k.as_ref(), &exported)
                .await
                .unwrap(),
            Ok(())
        );
        // Nothing more is due until a later checkpoint.
        assert_eq!(files.archive(&s, &k, "9999-12-31T00:00:00Z").await, None);
        drop(s);
        // Opened again: verified from its last checkpoint, written on, archived again.
        let s = store(&db, &k).await;
        assert!(
            matches!(s.chain().status(), ChainStatus::Verified { seq: 27, .. }),
            "{:?}",
            s.chain().status()
        );
        s.write(read(3)).await.unwrap();
        checkpoint(&s).await;
        let second = files.archive(&s, &k, "9999-12-31T00:00:00Z").await.unwrap();
        assert_eq!(
            (second.n, second.first, second.last, second.prev),
            (2, 21, 28, first.hash)
        );
        let report = verify_chain(
            s.as_ref(),
            k.as_ref(),
            std::slice::from_ref(&exported),
            Some(&files),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!((report.events, report.segments.len()), (31, 2));

        // A segment that does not end on the chain's event, or reaches into the kept events, is
        // refused, and nothing is removed.
        let head = last_seq(&s).await;
        let kept = s.audit_page(0, 1).await.unwrap()[0].seq;
        let forged = Segment {
            n: 3,
            first: kept,
            last: head - 1,
            prev: second.hash,
            hash: [7; 32],
            digest: [0; 32],
            at: "2026-12-03T12:00:00.000000Z".into(),
            legacy_until: 0,
            signature: Vec::new(),
        }
        .signed(k.as_ref());
        let e = s
            .write(WriteOp::ArchiveAudit {
                segment: forged,
                audit: AuditDraft::new("system", "audit.archived", Outcome::Ok),
            })
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::ArchiveRefused(_)), "{e}");
        assert_eq!(s.audit_page(0, 1).await.unwrap()[0].seq, kept);

        // An archive file changed, or missing, is found.
        let text = files.text(&first).unwrap().replacen("read 3", "read 9", 1);
        files.0.lock().unwrap().insert(1, text);
        let e = verify_chain(s.as_ref(), k.as_ref(), &[], Some(&files))
            .await
            .unwrap()
            .unwrap_err();
        assert!(matches!(e, ChainBreak::Segment { n: 1, .. }), "{e}");
        files.0.lock().unwrap().remove(&1);
        let e = verify_chain(s.as_ref(), k.as_ref(), &[], Some(&files))
            .await
            .unwrap()
            .unwrap_err();
        assert!(e.to_string().contains("cannot be read"), "{e}");
    })
}

/// Whoever can write to the database but has no key file cannot hide events behind a segment:
/// a segment removed, changed or made up, or events removed past the last segment, break the
/// chain.
fn segments_cannot_be_forged_or_removed(db: TestDb) -> Fut {
    Box::pin(async move {
        let k = keys();
        let s = store(&db, &k).await;
        s.write(read(20)).await.unwrap();
        checkpoint(&s).await;
        s.write(read(20)).await.unwrap();
        checkpoint(&s).await;
        s.write(read(2)).await.unwrap();
        let files = Files::default();
        files.archive(&s, &k, "9999-12-31T00:00:00Z").await.unwrap();
        assert!(full(&s, &k, &[]).await.is_ok());
        drop(s);
        let tampered = |sql: &'static str| {
            let db = &db;
            let k = &k;
            async move {
                db.execute(&format!("BEGIN; {sql}; COMMIT;")).await;
                let s = store(db, k).await;
                full(&s, k, &[]).await
            }
        };
        // The segment's end moved, so that it covers more events than it holds.
        let e = tampered("UPDATE audit_segments SET last_seq = last_seq + 1")
            .await
            .unwrap_err();
        assert!(matches!(e, ChainBreak::Segment { n: 1, .. }), "{e}");
        db.execute("UPDATE audit_segments SET last_seq = last_seq - 1")
            .await;
        // The segment itself removed (and put back).
        let e = tampered(
            "CREATE TABLE kept AS SELECT * FROM audit_segments; DELETE FROM audit_segments",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(
                e,
                ChainBreak::Gap {
                    seq: 41,
                    expected: 1
                }
            ),
            "{e}"
        );
        db.execute("INSERT INTO audit_segments SELECT * FROM kept; DROP TABLE kept")
            .await;
        assert!(full(&store(&db, &k).await, &k, &[]).await.is_ok());
        // The events after the segment removed, as if archived.
        let e = tampered("DELETE FROM audit_events WHERE seq <= 42")
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                ChainBreak::Gap {
                    seq: 43,
                    expected: 41
                }
            ),
            "{e}"
        );
    })
}

async fn fresh(db: &TestDb) -> TestDb {
    derbes_store::testing::another(db).await
}

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[
        (
            "a_new_chain_begins_verified_and_checkpointed",
            a_new_chain_begins_verified_and_checkpointed,
        ),
        (
            "checkpoints_are_signed_numbered_and_held",
            checkpoints_are_signed_numbered_and_held,
        ),
        (
            "a_change_under_a_running_writer_stops_all_writes",
            a_change_under_a_running_writer_stops_all_writes,
        ),
        (
            "two_writers_continue_each_other",
            two_writers_continue_each_other,
        ),
        (
            "tampering_offline_is_found_at_open",
            tampering_offline_is_found_at_open,
        ),
        (
            "a_rollback_past_an_exported_checkpoint_is_proven",
            a_rollback_past_an_exported_checkpoint_is_proven,
        ),
        (
            "a_legacy_chain_is_verified_sealed_and_continued",
            a_legacy_chain_is_verified_sealed_and_continued,
        ),
        (
            "archived_segments_keep_the_chain_verifying",
            archived_segments_keep_the_chain_verifying,
        ),
        (
            "segments_cannot_be_forged_or_removed",
            segments_cannot_be_forged_or_removed,
        ),
    ];
    run_suite("audit-chain", cases)
}

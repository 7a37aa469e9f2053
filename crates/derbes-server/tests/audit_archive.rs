//! Audit events past the audit retention leave the database for signed segment files: the
//! chain still verifies across them (and whole, with the files), the server writes on after
//! them, a changed file is found, and a chain that does not verify is not archived.
#![allow(clippy::unwrap_used)]

use derbes_core::audit::ChainBreak;
use derbes_service::{AuditArchive, Clock, DailyAudit};
use derbes_store::testing::{run_suite, Case, TestDb};
use serde_json::json;
use std::process::ExitCode;
use std::sync::Arc;

mod common;
use common::*;

/// A server whose clock runs 30 days ahead: what it writes now is past a retention of a day.
async fn month_later(db: &TestDb) -> Server {
    let clock: Clock = Arc::new(|| time::OffsetDateTime::now_utc() + time::Duration::days(30));
    Server::start_with_clock(db, clock).await
}

fn archive_dir() -> (tempfile::TempDir, AuditArchive) {
    let dir = tempfile::tempdir().unwrap();
    let archive = AuditArchive::new(dir.path().join("audit-archive"));
    (dir, archive)
}

/// Two students, with a checkpoint signed between them (returned).
async fn two_students_and_a_checkpoint_between(s: &Server) -> derbes_core::audit::Checkpoint {
    s.create_student_id(&s.admin, json!({ "iin": "061211600012" }))
        .await;
    let checkpoint = s.state.app.vault.checkpoint().await.unwrap();
    s.create_student_id(&s.admin, json!({ "iin": "070101500014" }))
        .await;
    checkpoint
}

fn old_events_move_to_segments_and_the_chain_verifies_across_them(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = month_later(&db).await;
        let vault = &s.state.app.vault;
        let (_dir, archive) = archive_dir();
        let checkpoint = two_students_and_a_checkpoint_between(&s).await;
        // Kept for 60 days, nothing written today is due.
        assert!(s
            .state
            .app
            .audit
            .archive_audit(&archive, 60, "system")
            .await
            .unwrap()
            .is_empty());
        let written = s
            .state
            .app
            .audit
            .archive_audit(&archive, 1, "system")
            .await
            .unwrap();
        assert_eq!(written.len(), 1);
        let segment = &written[0];
        assert_eq!((segment.n, segment.first), (1, 1));
        assert_eq!(
            segment.last,
            checkpoint.seq - 1,
            "kept from the last checkpoint on"
        );
        let file = archive.path_of(segment);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(s
            .state
            .app
            .audit
            .archive_audit(&archive, 1, "system")
            .await
            .unwrap()
            .is_empty());
        let store = &s.store;
        assert_eq!(store.audit_event(1).await.unwrap(), None);
        let exported = &checkpoint;
        let verified = |files: bool| {
            let archive = archive.clone();
            async move {
                derbes_store::verify_chain(
                    store.as_ref(),
                    vault.keys().as_ref(),
                    std::slice::from_ref(exported),
                    files.then_some(&archive as &dyn derbes_store::SegmentFiles),
                )
                .await
                .unwrap()
            }
        };
        let report = verified(true).await.unwrap();
        assert!(report.archive_verified);
        assert_eq!(report.segments, written);
        // The archival is itself an event of the chain, and the server writes on.
        let head = store.audit_head().await.unwrap().unwrap().seq;
        let last = store.audit_event(head).await.unwrap().unwrap();
        assert_eq!(last.action, derbes_service::ARCHIVED);
        s.create_student_id(&s.admin, json!({ "iin": "080202600011" }))
            .await;
        let status = s.get("/api/v1/audit/status", &s.admin).await;
        assert_eq!(status.body["chain"], "intact", "{}", status.body);
        assert!(verified(true).await.is_ok());
        // A changed archive file is found; without the files, the signed segment still holds.
        let text = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, text.replacen("\"seq\":2,", "\"seq\":2, ", 1)).unwrap();
        let e = verified(true).await.unwrap_err();
        assert!(matches!(e, ChainBreak::Segment { n: 1, .. }), "{e}");
        assert!(verified(false).await.is_ok());
    })
}

fn a_chain_that_does_not_verify_is_not_archived(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = month_later(&db).await;
        let (_dir, archive) = archive_dir();
        two_students_and_a_checkpoint_between(&s).await;
        db.execute("UPDATE audit_events SET actor = 'nobody' WHERE seq = 2")
            .await;
        let e = s
            .state
            .app
            .audit
            .archive_audit(&archive, 1, "system")
            .await
            .unwrap_err();
        assert!(e.to_string().contains("event 2"), "{e}");
        assert!(
            !archive.dir().exists() || std::fs::read_dir(archive.dir()).unwrap().next().is_none()
        );
        assert!(s.store.audit_event(2).await.unwrap().is_some());
    })
}

/// What `serve` does every day: the whole chain is verified first, and a chain broken anywhere,
/// even after the events due for the archive, archives nothing and stops the writes.
fn the_daily_duty_archives_only_after_the_whole_chain_verifies(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = month_later(&db).await;
        let (_dir, archive) = archive_dir();
        let checkpoint = two_students_and_a_checkpoint_between(&s).await;
        match s.state.app.audit.daily_audit(None).await.unwrap() {
            DailyAudit::Verified { events, archived } => {
                assert!(events > checkpoint.seq);
                assert!(archived.is_empty(), "no retention, no archive");
            }
            DailyAudit::Broken(b) => panic!("{b}"),
        }
        assert!(!archive.dir().exists());
        match s
            .state
            .app
            .audit
            .daily_audit(Some((&archive, 1)))
            .await
            .unwrap()
        {
            DailyAudit::Verified { archived, .. } => {
                assert_eq!(archived.len(), 1);
                assert!(archive.path_of(&archived[0]).exists());
            }
            DailyAudit::Broken(b) => panic!("{b}"),
        }
        // A third student after the archive; then an event after the checkpoint is changed.
        s.create_student_id(&s.admin, json!({ "iin": "080808600016" }))
            .await;
        let files = || std::fs::read_dir(archive.dir()).unwrap().count();
        let before = files();
        db.execute(&format!(
            "UPDATE audit_events SET actor = 'nobody' WHERE seq = {}",
            checkpoint.seq + 1
        ))
        .await;
        match s
            .state
            .app
            .audit
            .daily_audit(Some((&archive, 0)))
            .await
            .unwrap()
        {
            DailyAudit::Broken(b) => assert!(
                b.to_string()
                    .contains(&format!("event {}", checkpoint.seq + 1)),
                "{b}"
            ),
            DailyAudit::Verified { .. } => panic!("a changed event verified"),
        }
        assert_eq!(files(), before, "nothing archived from a broken chain");
        let r = s
            .create_student(&s.admin, json!({ "surname": "Серікова" }))
            .await;
        assert_problem(&r, 503, "audit-chain-broken");
        let r = s.call("GET", "/api/v1/health", None, None).await;
        assert_eq!(r.body["audit_chain"], "broken", "{}", r.body);
    })
}

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[
        (
            "old_events_move_to_segments_and_the_chain_verifies_across_them",
            old_events_move_to_segments_and_the_chain_verifies_across_them,
        ),
        (
            "a_chain_that_does_not_verify_is_not_archived",
            a_chain_that_does_not_verify_is_not_archived,
        ),
        (
            "the_daily_duty_archives_only_after_the_whole_chain_verifies",
            the_daily_duty_archives_only_after_the_whole_chain_verifies,
        ),
    ];
    run_suite("audit-archive", cases)
}

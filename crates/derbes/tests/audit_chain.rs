//! The audit chain end to end, through the real binary: what `audit verify` finds, what a
//! running server does with a chain someone changed, and the checkpoints kept outside the
//! database that prove a rollback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use derbes_core::audit::{ChainKeys, Hash, GENESIS};
use serde_json::json;
use std::path::Path;
use std::process::Output;

mod common;
use common::*;

fn max_seq(c: &rusqlite::Connection) -> i64 {
    c.query_row("SELECT MAX(seq) FROM audit_events", [], |r| r.get(0))
        .unwrap()
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom: each kind of tampering, then verify"
)]
fn audit_verify_detects_edits_removals_reorders_and_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let pristine = cwd.join("pristine");
    {
        let mut s = Server::start(cwd, &pristine);
        let token = s.token.clone().unwrap();
        let ids: Vec<String> = student_iins(3)
            .iter()
            .enumerate()
            .map(|(i, iin)| create_student(&s, &token, i, &format!("Сейітова{i}"), iin))
            .collect();
        for id in &ids {
            read_subject(&s, &token, id);
        }
        s.stop();
    }
    // 1 audit.start, 2 declaration.record, 3 token.create, 4..6 subject.create, 7..9 subject.read.
    let (last, middle_read): (i64, i64) = {
        let c = db(&pristine);
        let last = max_seq(&c);
        assert!(last >= 9, "expected at least 9 events, found {last}");
        let middle_read: i64 = c
            .query_row(
                "SELECT seq FROM audit_events WHERE action = 'subject.read' AND purpose = 'education' ORDER BY seq LIMIT 1 OFFSET 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        (last, middle_read)
    };

    // (a) intact
    let o = verify(cwd, &pristine);
    assert_ok(&o);
    assert_stdout_has(&o, "intact");
    assert_stdout_has(&o, &format!("{last} event(s)"));

    let tampered = |name: &str, sql: &str| -> Output {
        let d = cwd.join(name);
        copy_data(&pristine, &d);
        {
            let c = db(&d);
            c.execute_batch(sql).unwrap();
        }
        verify(cwd, &d)
    };

    // (b) an event in the middle changed: its purpose, or its actor
    let o = tampered(
        "purpose",
        &format!("UPDATE audit_events SET purpose = 'marketing' WHERE seq = {middle_read};"),
    );
    assert_failed_with(&o, &format!("event {middle_read}:"));
    let o = tampered(
        "actor",
        "UPDATE audit_events SET actor = 'admin:someone else' WHERE seq = 4;",
    );
    assert_failed_with(&o, "event 4:");

    // (c) an event in the middle removed
    let o = tampered("gap", "DELETE FROM audit_events WHERE seq = 5;");
    assert_failed_with(&o, "event 6:");
    assert_stderr_has(&o, "sequence number 5");

    // (d) two events reordered: the rows at 4 and 5 exchange places
    let o = tampered(
        "swap",
        "UPDATE audit_events SET seq = -4 WHERE seq = 4;
         UPDATE audit_events SET seq = 4 WHERE seq = 5;
         UPDATE audit_events SET seq = 5 WHERE seq = -4;",
    );
    assert_failed_with(&o, "event 4:");

    // (e) the last event removed, the signed head left alone
    let o = tampered(
        "truncated",
        &format!("DELETE FROM audit_events WHERE seq = {last};"),
    );
    assert_failed_with(&o, &format!("signed head says {last}"));

    // (f) the last event removed and the head moved back to the one before, with the old MAC
    let o = tampered(
        "head-moved",
        &format!(
            "DELETE FROM audit_events WHERE seq = {last};
             UPDATE audit_head SET seq = {prev}, hash = (SELECT hash FROM audit_events WHERE seq = {prev}) WHERE id = 1;",
            prev = last - 1
        ),
    );
    assert_failed_with(&o, "BROKEN");
    assert_stderr_has(&o, "signed head");

    // (g) every event removed, and the head set back to where a new database's begins
    let o = tampered(
        "emptied",
        "DELETE FROM audit_events; UPDATE audit_head SET seq = 0 WHERE id = 1;",
    );
    assert_failed(&o);

    // (h) an outcome changed to a word derbes never writes
    let o = tampered(
        "outcome",
        &format!("UPDATE audit_events SET outcome = 'granted' WHERE seq = {middle_read};"),
    );
    assert_failed_with(
        &o,
        &format!("audit event {middle_read}: its outcome \"granted\""),
    );

    // The pristine copy still verifies after all that (the copies were independent).
    let o = verify(cwd, &pristine);
    assert_ok(&o);
}

/// Someone with the database but not the key file changes an event and rewrites every hash
/// after it, and the signed head, under a key of their own: the chain does not verify, and no
/// writer of derbes appends to it, so that no later action makes it look whole again.
#[test]
fn a_rewritten_chain_is_refused_by_every_writer_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let (token, id) = {
        let mut s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let id = create_student(&s, &token, 0, "Сейітова", &student_iins(1)[0]);
        read_subject(&s, &token, &id);
        s.stop();
        (token, id)
    };
    {
        let c = db(&data);
        let chain = derbes_store::testing::sqlite_events(&c).unwrap();
        let forger = derbes_crypto::KeyRing::generate().unwrap();
        let from = chain.len() - 2;
        let mut prev: Hash = if from == 0 {
            GENESIS
        } else {
            chain[from - 1].hash
        };
        for (i, e) in chain.iter().enumerate().skip(from) {
            let mut e = e.clone();
            if i == from {
                e.actor = "admin:someone else".into();
            }
            e.hash = forger.event_hash(&e.encoding(&prev));
            c.execute(
                "UPDATE audit_events SET actor = ?1, hash = ?2 WHERE seq = ?3",
                rusqlite::params![e.actor, &e.hash[..], e.seq],
            )
            .unwrap();
            prev = e.hash;
        }
        let last = chain.len() as i64;
        c.execute(
            "UPDATE audit_head SET hash = ?1, mac = ?2 WHERE id = 1",
            rusqlite::params![&prev[..], &forger.head_mac(last, &prev)[..]],
        )
        .unwrap();
    }
    let o = derbes_at(cwd, &data, &["audit", "verify"]);
    assert_failed_with(&o, "BROKEN");
    // The command line refuses to add a token to it...
    let o = create_token(cwd, &data, "auditor", "audit firm", &[]);
    assert_failed_with(&o, "audit chain is broken");
    // ...and the server starts, says so, and refuses everything it would have to record.
    {
        let s = Server::start(cwd, &data);
        let stderr = s.stderr_with("THE AUDIT CHAIN IS BROKEN");
        assert!(stderr.contains("THE AUDIT CHAIN IS BROKEN"), "{stderr}");
        let (status, body) = http("GET", &s.url("/api/v1/health"), None, None);
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["status"], "audit_chain_broken", "{body}");
        let (status, body) = s.get(&format!("/api/v1/subjects/{id}?purpose=education"), &token);
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            body["type"], "urn:derbes:problem:audit-chain-broken",
            "{body}"
        );
        let (status, body) = s.get(
            "/api/v1/subjects/00000000-0000-7000-8000-000000000000?purpose=education",
            &token,
        );
        assert_eq!(
            status, 503,
            "a 404 read must not be recorded on the broken chain either: {body}"
        );
        let (status, body) = s.get("/api/v1/audit/status", &token);
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["chain"], "broken", "{body}");
    }
    // After all that, the chain is still reported broken: nothing laundered it.
    let o = derbes_at(cwd, &data, &["audit", "verify"]);
    assert_failed_with(&o, "BROKEN");
}

fn checkpoint_lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with("derbes-audit-checkpoint"))
        .map(str::to_owned)
        .collect()
}

/// The database restored to an older state (a backup, or an older head found in a WAL): the
/// checkpoint exported since proves it; derbes refuses to write until the operator acknowledges
/// the restore, which both the chain and the checkpoint file then record.
#[test]
fn a_rollback_past_an_exported_checkpoint_is_refused_until_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let file = cwd.join("data.checkpoints");
    let backup = cwd.join("backup");
    let token = {
        let mut s = Server::start(cwd, &data);
        s.stop();
        s.token.clone().unwrap()
    };
    // The server exported checkpoint 1 beside the data directory, privately.
    assert_eq!(
        checkpoint_lines(&file).len(),
        1,
        "{:?}",
        std::fs::read_to_string(&file)
    );
    assert_eq!(mode(&file), 0o600);
    copy_data(&data, &backup);
    let paper = {
        let mut s = Server::start(cwd, &data);
        create_student(&s, &token, 0, "Сейітова", &student_iins(1)[0]);
        // The auditor's paper copy, taken while the server runs.
        let o = derbes_at(cwd, &data, &["audit", "checkpoint"]);
        assert_ok(&o);
        let line = text(&o.stdout).trim().to_owned();
        assert!(
            line.starts_with("derbes-audit-checkpoint n="),
            "{}",
            show(&o)
        );
        s.stop();
        let paper = cwd.join("paper.txt");
        std::fs::write(&paper, format!("# signed by the auditor\n{line}\n")).unwrap();
        paper
    };
    assert_eq!(checkpoint_lines(&file).len(), 2);
    copy_data(&backup, &data);

    // The database alone looks whole; the checkpoints kept outside it say otherwise.
    for args in [
        vec![],
        vec!["--checkpoints".to_owned(), paper.display().to_string()],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = derbes_at(cwd, &data, &[&["audit", "verify"], &args[..]].concat());
        assert_failed_with(&o, "rolled back");
    }
    {
        let s = Server::start(cwd, &data);
        let stderr = s.stderr_with("ROLLED BACK");
        assert!(stderr.contains("ROLLED BACK"), "{stderr}");
        let (status, body) = http("GET", &s.url("/api/v1/health"), None, None);
        assert_eq!(status, 503, "{body}");
        let (status, body) = s.post(
            "/api/v1/subjects",
            &token,
            &json!({ "category": "student", "fields": { "surname": "Жаңа" } }),
        );
        assert_eq!(status, 503, "{body}");
    }
    // The operator acknowledges the restore; the history since the backup is given up openly.
    let o = derbes_at(
        cwd,
        &data,
        &["audit", "acknowledge-restore", "--as", "aliya"],
    );
    assert_ok(&o);
    assert_stdout_has(&o, "acknowledged as audit event");
    let o = derbes_at(cwd, &data, &["audit", "verify"]);
    assert_ok(&o);
    assert_stdout_has(&o, "restored from a backup");
    // Acknowledged once; a second time there is nothing to acknowledge.
    let o = derbes_at(cwd, &data, &["audit", "acknowledge-restore"]);
    assert_failed(&o);
    let s = Server::start(cwd, &data);
    let (status, body) = http("GET", &s.url("/api/v1/health"), None, None);
    assert_eq!(
        (status, &body["audit_chain"]),
        (200, &json!("intact")),
        "{body}"
    );
    create_student(&s, &token, 1, "Жаңа", &student_iins(2)[1]);
}

/// `audit archive` needs an audit retention; with one, it archives only what is past it.
#[test]
fn audit_archive_follows_the_configured_retention() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    Server::start(cwd, &data).stop();
    let archive = |cwd: &Path| derbes_at(cwd, &data, &["audit", "archive"]);
    let o = archive(cwd);
    assert_failed_with(&o, "[audit] keep_days");
    std::fs::write(cwd.join("derbes.toml"), "[audit]\nkeep_days = 30\n").unwrap();
    let o = archive(cwd);
    assert_ok(&o);
    assert_stdout_has(&o, "no audit event is older than 30 days");
    assert!(!cwd.join("data.audit-archive").exists());
    let o = derbes_at(cwd, &data, &["audit", "verify"]);
    assert_ok(&o);
}

//! End-to-end tests of the `derbes` binary: the real executable, real SQLite files in temporary
//! directories, real HTTP. Each test asserts something an operator relies on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use derbes_core::identifiers::{Iin, Sex};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;
use common::*;

fn examples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
}

/// 1-based (line, column in characters) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let start = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not found"));
    assert!(
        text[start + needle.len()..].find(needle).is_none(),
        "{needle} occurs twice"
    );
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

/// Rewrites the text line by line; `f` gets the current `[table]` header and the line.
fn edit_lines(text: &str, mut f: impl FnMut(&str, &str) -> Option<String>) -> String {
    let mut table = String::new();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('[') {
            table = line.trim().to_owned();
        }
        match f(&table, line) {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

#[test]
fn check_accepts_every_example() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.iter().any(|p| p.ends_with("shoqan-school.toml")),
        "{files:?}"
    );
    for f in &files {
        let o = run(derbes(dir.path()).arg("check").arg(f));
        assert!(o.status.success(), "{}: {}", f.display(), show(&o));
        let stdout = text(&o.stdout);
        assert!(
            stdout.contains(&format!("{}: ok", f.display())),
            "{}: {}",
            f.display(),
            show(&o)
        );
    }
}

#[test]
fn check_names_every_problem_with_its_position_and_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(examples_dir().join("shoqan-school.toml")).unwrap();
    let mut added = false;
    let mut renamed = false;
    let broken = edit_lines(&original, |table, line| {
        if table == "[purposes.education]" && line.starts_with("fields = [") {
            added = true;
            let body = line.trim_end().strip_suffix(']').unwrap();
            Some(format!("{body}, \"shoe_size\"]"))
        } else if table == "[purposes.extracurricular]" && line.starts_with("retention = ") {
            renamed = true;
            Some("retention = \"no_such_rule\"".to_owned())
        } else {
            None
        }
    });
    assert!(added && renamed, "the example changed shape");
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, &broken).unwrap();
    let (l1, c1) = position(&broken, "\"shoe_size\"");
    let (l2, c2) = position(&broken, "\"no_such_rule\"");

    let o = run(derbes(dir.path()).arg("check").arg(&file));
    assert!(!o.status.success(), "{}", show(&o));
    let stderr = text(&o.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    for (line, col, what) in [(l1, c1, "shoe_size"), (l2, c2, "no_such_rule")] {
        let prefix = format!("{}:{line}:{col}: error", file.display());
        let i = lines
            .iter()
            .position(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no problem reported at {prefix}: {}", show(&o)));
        assert!(lines[i].contains(what), "{}: {}", lines[i], show(&o));
        assert!(
            lines
                .get(i + 1)
                .is_some_and(|l| l.trim_start().starts_with("fix:")),
            "no fix: hint after {}: {}",
            lines[i],
            show(&o)
        );
    }
    assert!(
        !text(&o.stdout).contains(": ok"),
        "a broken file reported ok: {}",
        show(&o)
    );
}

#[test]
fn check_strict_fails_on_warnings_that_plain_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(examples_dir().join("shoqan-school.toml")).unwrap();
    // Databases in Germany: a warning (Art. 12(2)). Every recipient then receives data across the
    // border and needs a basis, or the check reports errors rather than only the warning.
    let mut moved = false;
    let edited = edit_lines(&original, |table, line| {
        if line.starts_with("storage_country = ") {
            moved = true;
            Some("storage_country = \"DE\"".to_owned())
        } else if table.starts_with("[recipients.") && line.starts_with("country = ") {
            Some(format!(
                "{line}\ncross_border_basis = \"contract_performance\""
            ))
        } else {
            None
        }
    });
    assert!(moved);
    let file = dir.path().join("abroad.toml");
    std::fs::write(&file, &edited).unwrap();

    let plain = run(derbes(dir.path()).arg("check").arg(&file));
    assert!(plain.status.success(), "{}", show(&plain));
    assert!(
        text(&plain.stdout).contains(&format!("{}: ok (1 warning(s))", file.display())),
        "{}",
        show(&plain)
    );
    let (line, col) = position(&edited, "\"DE\"");
    assert!(
        text(&plain.stderr).contains(&format!(
            "{}:{line}:{col}: warning: storage_country",
            file.display()
        )),
        "{}",
        show(&plain)
    );

    let strict = run(derbes(dir.path()).args(["check", "--strict"]).arg(&file));
    assert!(!strict.status.success(), "{}", show(&strict));
    assert!(
        text(&strict.stderr).contains("0 error(s), 1 warning(s)"),
        "{}",
        show(&strict)
    );
    assert!(!text(&strict.stdout).contains(": ok"), "{}", show(&strict));
}

// ---------------------------------------------------------------------------------------------
// serve
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_creates_key_and_token_once_and_the_token_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key = data.join("derbes.key");

    let mut first = Server::start(dir.path(), &data);
    let token = first
        .token
        .clone()
        .unwrap_or_else(|| panic!("no admin token on first start: {:?}", first.stdout));
    assert!(token.len() > 20, "{token}");
    // Not on the terminal-less output, nor in the log: only in the private file.
    assert!(
        !first.stdout.iter().any(|l| l.contains(&token)) && !first.stderr().contains(&token),
        "the first token reached the log: {:?}",
        first.stdout
    );
    assert!(key.exists(), "no key file; stderr: {}", first.stderr());
    assert_eq!(mode(&key), 0o600, "the key file must be private");
    assert_eq!(mode(&data), 0o700, "the data directory must be private");
    // The demo's key file lies in the data directory: a copy of it would carry both.
    let stderr = first.stderr_with("is inside the data directory");
    assert!(stderr.contains("is inside the data directory"), "{stderr}");
    assert_eq!(
        mode(&data.join("derbes.db")),
        0o600,
        "the database must be private"
    );
    let key_text = std::fs::read_to_string(&key).unwrap();

    let (status, body) = http("GET", &first.url("/api/v1/health"), None, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["backend"], "sqlite", "{body}");
    assert_eq!(body["status"], "ok", "{body}");
    first.stop();

    let second = Server::start(dir.path(), &data);
    assert!(
        second.token.is_none(),
        "a second start printed another token: {:?}",
        second.stdout
    );
    assert!(
        !second.stdout.iter().any(|l| l.contains("dbs_")),
        "{:?}",
        second.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&key).unwrap(),
        key_text,
        "the key file was rewritten on restart"
    );
    assert_eq!(mode(&key), 0o600);

    let (status, body) = http(
        "POST",
        &second.url("/api/v1/subjects"),
        Some(&token),
        Some(&json!({"category":"student","fields":{"surname":"Нұрланова","iin":"061211600012"}})),
    );
    assert_eq!(
        status,
        201,
        "the first token no longer works: {body}; stderr: {}",
        second.stderr()
    );
    let (status, _) = http(
        "POST",
        &second.url("/api/v1/subjects"),
        Some("dbs_not_a_real_token"),
        Some(&json!({"category":"student","fields":{"surname":"Нұрланова","iin":"061211600012"}})),
    );
    assert_eq!(status, 401, "an unknown token was accepted");
}

// ---------------------------------------------------------------------------------------------
// keys rotate
// ---------------------------------------------------------------------------------------------

#[test]
fn keys_rotate_keeps_every_value_readable_and_the_chain_intact() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let key = data.join("derbes.key");
    let iins = student_iins(3);
    let (token, before): (String, Vec<(String, Value)>) = {
        let mut s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let before = iins
            .iter()
            .enumerate()
            .map(|(i, iin)| {
                let id = create_student(&s, &token, i, &format!("Қасымова{i}"), iin);
                let body = read_subject(&s, &token, &id);
                assert_eq!(body["fields"]["iin"], iin.as_str(), "{body}");
                (id, body["fields"].clone())
            })
            .collect();
        s.stop();
        (token, before)
    };
    let old_key = std::fs::read_to_string(&key).unwrap();
    assert_eq!(old_key.matches("[[kek]]").count(), 1, "{old_key}");

    let o = run(derbes(cwd)
        .args(["keys", "rotate", "--data-dir"])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("rewrapped 3 data key(s)"),
        "{}",
        show(&o)
    );
    let new_key = std::fs::read_to_string(&key).unwrap();
    assert_eq!(new_key.matches("[[kek]]").count(), 2, "{new_key}");
    assert_eq!(mode(&key), 0o600, "the rotated key file must stay private");
    assert!(
        !data.join("derbes.key.tmp").exists(),
        "a temporary key file was left behind"
    );
    // Every data key is now wrapped by the new key-encryption key.
    let versions: Vec<i64> = column(&data, "SELECT DISTINCT kek_version FROM subjects");
    assert_eq!(versions, vec![2], "data keys not rewrapped");

    let s = Server::start(cwd, &data);
    assert!(s.token.is_none(), "{:?}", s.stdout);
    for (id, fields) in &before {
        let body = read_subject(&s, &token, id);
        assert_eq!(&body["fields"], fields, "values changed after rotation");
    }
    drop(s);

    let o = verify(cwd, &data);
    assert!(o.status.success(), "{}", show(&o));
    assert!(text(&o.stdout).contains("intact"), "{}", show(&o));
}

/// The server runs its duties on a clock and keeps the last run of each: an admin sees them
/// over the API (nobody else), and the operator at the command line, after the server stopped.
#[test]
fn the_server_runs_its_jobs_and_shows_their_last_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let mut s = Server::start(cwd, &data);
    let admin = s.token.clone().unwrap();
    // The jobs due at start run at once; wait for the last of them to be recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let jobs = loop {
        let (status, body) = http("GET", &s.url("/api/v1/jobs"), Some(&admin), None);
        assert_eq!(status, 200, "{body}");
        let ran = |name: &str| {
            body["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["name"] == name && j["last_run"].is_object())
        };
        if [
            "webhook-delivery",
            "package-sweep",
            "audit-verification",
            "outbox-sweep",
        ]
        .iter()
        .all(|n| ran(n))
        {
            break body["jobs"].as_array().unwrap().clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "jobs never ran: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let names: Vec<&str> = jobs.iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "webhook-delivery",
            "package-sweep",
            "audit-checkpoint",
            "audit-verification",
            "outbox-sweep",
            "token-use",
            "key-reload"
        ]
    );
    let job = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap();
    let audit = &job("audit-verification")["last_run"];
    assert_eq!(audit["outcome"], "done", "{audit}");
    assert_eq!(audit["detail"], "the audit chain verifies");
    assert_eq!(audit["every_seconds"], 86_400);
    let webhooks = &job("webhook-delivery")["last_run"];
    assert_eq!(webhooks["outcome"], "idle", "no connector, nothing to send");
    assert_eq!(webhooks["failures"], 0);
    // A checkpoint comes one period after start.
    assert!(job("audit-checkpoint")["last_run"].is_null());
    assert!(job("key-reload")["does"]
        .as_str()
        .unwrap()
        .contains("keys rotate"));
    // Only an admin sees them.
    let o = run(derbes(cwd)
        .args([
            "token",
            "create",
            "--name",
            "dpo",
            "--role",
            "dpo",
            "--data-dir",
        ])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    let dpo = text(&o.stdout).trim().to_owned();
    let (status, body) = http("GET", &s.url("/api/v1/jobs"), Some(&dpo), None);
    assert_eq!(status, 403, "{body}");
    s.stop();

    let o = run(derbes(cwd).args(["jobs", "--data-dir"]).arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    let out = text(&o.stdout);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_owned()
    };
    assert!(
        line("audit-verification").contains("done")
            && line("audit-verification").contains("1 run(s), 0 failed: the audit chain verifies"),
        "{out}"
    );
    assert!(line("webhook-delivery").contains("idle"), "{out}");
    assert!(line("audit-checkpoint").contains("never run"), "{out}");
    assert!(out.contains("deletes the access packages whose download period has ended"));
}

/// Tokens have a life: an integration token expires by default, every token is listed with its
/// use, and a revocation from the command line holds at once in the running server.
#[test]
fn tokens_are_listed_and_a_revocation_holds_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let s = Server::start(cwd, &data);
    let o = run(derbes(cwd)
        .args([
            "token",
            "create",
            "--role",
            "integration",
            "--purpose",
            "education",
            "--name",
            "journal",
            "--data-dir",
        ])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    let token = text(&o.stdout).trim().to_owned();
    let err = text(&o.stderr);
    assert!(
        err.contains("expires 20"),
        "an integration token expires by default: {err}"
    );
    let id = err
        .split("(id ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap()
        .to_owned();
    let ask = |t: &str| {
        http(
            "POST",
            &s.url("/api/v1/decisions"),
            Some(t),
            Some(&json!({ "subject_id": "00000000-0000-7000-8000-000000000000", "purpose": "education" })),
        )
        .0
    };
    assert_eq!(ask(&token), 200);
    // The scheme is case-insensitive.
    let (status, _) = {
        let agent = agent();
        let r = agent.run(
            ureq::http::Request::builder()
                .method("GET")
                .uri(s.url("/api/v1/tokens"))
                .header(
                    "Authorization",
                    format!("bEaReR {}", s.token.clone().unwrap()),
                )
                .body(())
                .unwrap(),
        );
        (r.unwrap().status().as_u16(), ())
    };
    assert_eq!(status, 200);
    let o = run(derbes(cwd).args(["token", "list", "--data-dir"]).arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    let listed = text(&o.stdout);
    assert!(
        listed.contains(&id) && listed.contains("active") && listed.contains("journal"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "a list never shows a token");
    let o = run(derbes(cwd)
        .args(["token", "revoke", &id, "--data-dir"])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    // At once, in the server that checked it a moment ago.
    assert_eq!(ask(&token), 401);
    let o = run(derbes(cwd).args(["token", "list", "--data-dir"]).arg(&data));
    assert!(text(&o.stdout).contains("revoked"), "{}", show(&o));
    let o = run(derbes(cwd)
        .args([
            "token",
            "create",
            "--role",
            "staff",
            "--purpose",
            "education",
            "--name",
            "x",
            "--expires-in-days",
            "0",
            "--data-dir",
        ])
        .arg(&data));
    assert!(
        !o.status.success() && text(&o.stderr).contains("expires_in_days"),
        "{}",
        show(&o)
    );
}

/// Key epochs: after a rotation, `keys retire` deletes the old version once the backups that may
/// need it have expired; the live database reads on, and a backup from before opens nothing
/// with the key file (so neither does what was destroyed since it was taken).
#[test]
fn keys_retire_leaves_an_expired_backup_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let key = data.join("derbes.key");
    let (token, ids) = {
        let mut s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let ids: Vec<String> = student_iins(2)
            .iter()
            .enumerate()
            .map(|(i, iin)| create_student(&s, &token, i, &format!("Бекова{i}"), iin))
            .collect();
        s.stop();
        (token, ids)
    };
    let backup = cwd.join("backup");
    copy_data(&data, &backup);
    let o = run(derbes(cwd)
        .args(["keys", "rotate", "--data-dir"])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    // Backups are kept 35 days by default: version 1 stays.
    let o = run(derbes(cwd)
        .args(["keys", "retire", "--data-dir"])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("key version 1: kept: backups taken before"),
        "{}",
        show(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&key)
            .unwrap()
            .matches("[[kek]]")
            .count(),
        2
    );
    // With no backups kept, it goes.
    std::fs::write(
        cwd.join("derbes.toml"),
        format!(
            "data_dir = \"{}\"\n[keys]\nbackup_retention_days = 0\n",
            data.display()
        ),
    )
    .unwrap();
    let o = run(derbes(cwd).args(["keys", "retire", "--dry-run"]));
    assert!(
        o.status.success() && text(&o.stdout).contains("key version 1: would be retired"),
        "{}",
        show(&o)
    );
    assert_eq!(
        std::fs::read_to_string(&key)
            .unwrap()
            .matches("[[kek]]")
            .count(),
        2,
        "a dry run changes nothing"
    );
    let o = run(derbes(cwd).args(["keys", "retire"]));
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("key version 1: retired"),
        "{}",
        show(&o)
    );
    let file = std::fs::read_to_string(&key).unwrap();
    assert!(
        file.contains("retired = [1]") && file.matches("[[kek]]").count() == 1,
        "{file}"
    );
    assert_eq!(mode(&key), 0o600);
    // The live database reads on, and the retirement is in the audit trail.
    {
        let s = Server::start(cwd, &data);
        for id in &ids {
            read_subject(&s, &token, id);
        }
    }
    let actions: Vec<String> = column(
        &data,
        "SELECT action FROM audit_events WHERE action LIKE 'keys.%'",
    );
    assert_eq!(actions, ["keys.rotate", "keys.retire"]);
    // The backup's data keys, all wrapped under version 1, open with nothing the key file holds.
    let ring = derbes_crypto::KeyRing::from_file_text(&file).unwrap();
    let keys: Vec<(Vec<u8>, Vec<u8>, u32)> = {
        let c = db(&backup);
        let mut stmt = c
            .prepare("SELECT id, dek, kek_version FROM subjects")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(keys.len(), 2);
    for (id, dek, version) in keys {
        let id = uuid::Uuid::from_slice(&id).unwrap();
        let wrapped = derbes_crypto::WrappedKey {
            kek_version: version,
            bytes: dek,
        };
        assert!(matches!(
            ring.unwrap(&wrapped, &id, 1),
            Err(derbes_crypto::CryptoError::UnknownKeyVersion(1))
        ));
    }
}

/// A server that runs through a rotation keeps reading, and the subjects it creates before it
/// reads the new key file end up under the new key too.
#[test]
fn keys_rotate_while_serving_keeps_reads_working_and_rewraps_new_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let key = data.join("derbes.key");
    let s = Server::start(cwd, &data);
    let token = s.token.clone().unwrap();
    let iins = student_iins(3);
    let id = create_student(&s, &token, 0, "Оспанова", &iins[0]);
    let rotate = derbes(cwd)
        .args(["keys", "rotate", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while std::fs::read_to_string(&key)
        .unwrap_or_default()
        .matches("[[kek]]")
        .count()
        < 2
    {
        assert!(std::time::Instant::now() < deadline, "no key version 2");
        std::thread::sleep(Duration::from_millis(20));
    }
    // The server has not read the new key file yet: this subject's key is wrapped under version 1.
    let late = create_student(&s, &token, 2, "Жұмабаева", &iins[2]);
    let o = rotate.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", show(&o));
    let versions: Vec<i64> = column(&data, "SELECT DISTINCT kek_version FROM subjects");
    assert_eq!(
        versions,
        vec![2],
        "a data key was left under the old version"
    );
    // The running server meets key version 2 on this read and reads the key file again.
    let body = read_subject(&s, &token, &id);
    assert_eq!(body["fields"]["iin"], iins[0].as_str(), "{body}");
    assert_eq!(
        read_subject(&s, &token, &late)["fields"]["surname"],
        "Жұмабаева"
    );
    let id2 = create_student(&s, &token, 1, "Омарова", &iins[1]);
    assert_eq!(
        read_subject(&s, &token, &id2)["fields"]["surname"],
        "Омарова"
    );
    drop(s);
    let o = verify(cwd, &data);
    assert!(o.status.success(), "{}", show(&o));
}

// ---------------------------------------------------------------------------------------------
// generate and import
// ---------------------------------------------------------------------------------------------

#[test]
fn generate_then_import_reports_each_row_and_all_or_nothing_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    // The key file comes from a first start of the server.
    drop(Server::start(cwd, &data));

    let o = run(derbes(cwd).args(["generate", "--count", "500", "--out", "f.csv"]));
    assert!(o.status.success(), "{}", show(&o));
    let csv = std::fs::read_to_string(cwd.join("f.csv")).unwrap();
    assert_eq!(csv.lines().count(), 501, "header and 500 rows");

    let import = |data: &Path, key: &Path, extra: &[&str]| {
        run(derbes(cwd)
            .args(["import", "f.csv", "--category", "student"])
            .args(extra)
            .arg("--data-dir")
            .arg(data)
            .arg("--key-file")
            .arg(key))
    };
    let key = data.join("derbes.key");

    let o = import(&data, &key, &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(text(&o.stdout).contains("imported 500 "), "{}", show(&o));
    let count: i64 = db(&data)
        .query_row("SELECT COUNT(*) FROM subjects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 500);

    // Again: every row is a duplicate.
    let o = import(&data, &key, &[]);
    assert!(!o.status.success(), "{}", show(&o));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("f.csv:2: ") && stderr.contains("already exists"),
        "{}",
        show(&o)
    );
    assert!(text(&o.stdout).contains("imported 0 "), "{}", show(&o));
    let count: i64 = db(&data)
        .query_row("SELECT COUNT(*) FROM subjects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 500);

    // One row with a wrong check digit, --all-or-nothing, a fresh database.
    let bad_line = 251;
    let mut lines: Vec<String> = csv.lines().map(str::to_owned).collect();
    let row = &lines[bad_line - 1];
    let iin = row.split(',').nth(5).unwrap().to_owned();
    assert!(
        iin.len() == 12 && iin.bytes().all(|b| b.is_ascii_digit()),
        "{row}"
    );
    let last = iin.as_bytes()[11] - b'0';
    let wrong = format!("{}{}", &iin[..11], (last + 1) % 10);
    lines[bad_line - 1] = row.replacen(&iin, &wrong, 1);
    std::fs::write(cwd.join("f.csv"), lines.join("\n") + "\n").unwrap();

    let fresh = cwd.join("fresh");
    let o = import(&fresh, &key, &["--all-or-nothing"]);
    assert!(!o.status.success(), "{}", show(&o));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains(&format!("f.csv:{bad_line}: iin")),
        "{}",
        show(&o)
    );
    assert_eq!(
        stderr.matches("f.csv:").count(),
        1,
        "only the bad row is a problem: {}",
        show(&o)
    );
    assert!(!text(&o.stdout).contains("imported"), "{}", show(&o));
    let count: i64 = db(&fresh)
        .query_row("SELECT COUNT(*) FROM subjects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 0, "--all-or-nothing imported rows from a bad file");
}

// ---------------------------------------------------------------------------------------------
// configuration
// ---------------------------------------------------------------------------------------------

/// Runs `serve` expecting it to refuse to start.
fn serve_must_fail(cmd: &mut Command) -> Output {
    let port = free_port();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let o = run_within(cmd, STARTUP_TIMEOUT);
    assert!(!o.status.success(), "serve started: {}", show(&o));
    o
}

#[test]
fn config_unknown_key_and_unknown_env_var_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let config = cwd.join("derbes.toml");
    std::fs::write(
        &config,
        "# derbes configuration\ndata_dir = \"data\"\nlisten_port = 1\n",
    )
    .unwrap();
    let o = serve_must_fail(derbes(cwd).arg("--config").arg(&config));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains(&format!("{}:3:1:", config.display())) && stderr.contains("unknown field"),
        "{}",
        show(&o)
    );
    assert!(
        stderr.contains("listen_port"),
        "the message should name the key: {}",
        show(&o)
    );
    assert!(
        !cwd.join("data").exists(),
        "serve created the data directory despite a bad configuration"
    );

    // The same file found implicitly as ./derbes.toml.
    let o = serve_must_fail(&mut derbes(cwd));
    assert!(text(&o.stderr).contains("derbes.toml:3:1:"), "{}", show(&o));

    std::fs::remove_file(&config).unwrap();
    let o = serve_must_fail(
        derbes(cwd)
            .env("DERBES_LISTN", "x")
            .arg("--data-dir")
            .arg(cwd.join("data")),
    );
    assert!(text(&o.stderr).contains("DERBES_LISTN"), "{}", show(&o));
    assert!(!cwd.join("data").exists());
}

#[test]
fn import_names_the_file_line_of_a_row_after_a_multi_line_value() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    drop(Server::start(cwd, &data));
    let iins = student_iins(2);
    let csv = format!(
        "surname,address,iin\nАбаева,\"Алматы қ.,\nАбай даңғылы\",{}\nОмаров,Астана,{}1\n",
        iins[0],
        &iins[1][..11]
    );
    let f = cwd.join("m.csv");
    std::fs::write(&f, csv).unwrap();
    let o = run(derbes(cwd).arg("--data-dir").arg(&data).args([
        "import",
        "m.csv",
        "--category",
        "student",
    ]));
    assert!(!o.status.success(), "{}", show(&o));
    let err = text(&o.stderr);
    // The bad IIN is on line 4: the quoted address of the row before spans lines 2-3.
    assert!(err.contains("m.csv:4: iin"), "{err}");
    assert!(
        text(&o.stdout).contains("imported 1 subject"),
        "{}",
        show(&o)
    );
}

// ---------------------------------------------------------------------------------------------
// consents import
// ---------------------------------------------------------------------------------------------

/// Paper consent forms from a CSV: subjects and representatives named by IIN, every row checked
/// like an API call, refused rows reported by line and column without their values.
#[test]
fn consents_import_records_paper_forms_and_reports_each_refused_row() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let iin = |birth: time::Date, sex: Sex, serial: u16| {
        Iin::compose(birth, sex, serial)
            .unwrap()
            .as_str()
            .to_owned()
    };
    let child_iin = iin(time::macros::date!(2015 - 04 - 02), Sex::Male, 31);
    let parent_iin = iin(time::macros::date!(1984 - 09 - 20), Sex::Female, 32);
    let stranger_iin = iin(time::macros::date!(1990 - 01 - 05), Sex::Male, 33);
    {
        let s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let child = create_student(&s, &token, 1, "Серікұлы", &child_iin);
        let (status, parent) = http(
            "POST",
            &s.url("/api/v1/subjects"),
            Some(&token),
            Some(
                &json!({ "category": "legal_representative", "fields": { "surname": "Серікова", "iin": parent_iin } }),
            ),
        );
        assert_eq!(status, 201, "{parent}");
        let link = |relation: &str| {
            http(
                "POST",
                &s.url(&format!("/api/v1/subjects/{child}/representatives")),
                Some(&token),
                Some(
                    &json!({ "representative_id": parent["id"], "relation": relation,
                              "documents": [{ "kind": "birth_certificate", "sha256": "ab".repeat(32) }] }),
                ),
            )
        };
        let (status, body) = link("mother");
        assert_eq!(status, 422, "`mother` is not a relation: {body}");
        let (status, body) = link("parent");
        assert_eq!(status, 201, "{body}");
    }
    let hash = "C0".repeat(32);
    let csv = format!(
        "subject,purpose,action,representative,evidence_sha256,until\n\
         {child_iin},extracurricular,give,{parent_iin},{hash},\n\
         {child_iin},extracurricular,give,,{hash},\n\
         {stranger_iin},extracurricular,give,{parent_iin},{hash},\n\
         {child_iin},extracurricular,give,{parent_iin},not-a-hash,\n\
         {child_iin},extracurricular,grant,{parent_iin},{hash},\n\
         {child_iin},education,withdraw,{parent_iin},{hash},\n\
         {child_iin},extracurricular,withdraw,{parent_iin},{hash},\n"
    );
    std::fs::write(cwd.join("forms.csv"), csv).unwrap();
    let o = run(derbes(cwd)
        .args([
            "consents",
            "import",
            "forms.csv",
            "--errors",
            "refused.csv",
            "--data-dir",
        ])
        .arg(&data));
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("recorded 2 consent event(s)"),
        "{}",
        show(&o)
    );
    let stderr = text(&o.stderr);
    for expected in [
        "forms.csv:3: the subject is 11",
        "forms.csv:4: subject: no subject has this IIN",
        "forms.csv:5: method.evidence_sha256:",
        "forms.csv:6: action: must be give, renew or withdraw",
        "forms.csv:7: purpose `education` rests on contract",
    ] {
        assert!(
            stderr.contains(expected),
            "{expected:?} missing: {}",
            show(&o)
        );
    }
    for iin in [&child_iin, &parent_iin, &stranger_iin] {
        assert!(
            !stderr.contains(iin.as_str()),
            "an IIN was echoed: {stderr}"
        );
    }
    let refused = std::fs::read_to_string(cwd.join("refused.csv")).unwrap();
    assert_eq!(refused.lines().count(), 6, "{refused}");
    let actions: Vec<String> = column(
        &data,
        "SELECT json_extract(event, '$.action') FROM consent_events ORDER BY n",
    );
    assert_eq!(actions, ["give", "withdraw"]);
    let o = verify(cwd, &data);
    assert!(o.status.success(), "{}", show(&o));
}

#[test]
fn receipt_verify_checks_a_downloaded_receipt_offline() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let (receipt, keys) = {
        let s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let iin = student_iins(1).remove(0);
        let student = create_student(&s, &token, 1, "Нұрланқызы", &iin);
        // Born in 2006, the student is of age and consents in their own name.
        let (status, event) = http(
            "POST",
            &s.url(&format!("/api/v1/subjects/{student}/consents")),
            Some(&token),
            Some(
                &json!({ "purpose": "extracurricular", "action": "give", "method": { "kind": "web" } }),
            ),
        );
        assert_eq!(status, 201, "{event}");
        let id = event["id"].as_str().unwrap();
        let (status, receipt) = http(
            "GET",
            &s.url(&format!("/api/v1/subjects/{student}/consents/{id}/receipt")),
            Some(&token),
            None,
        );
        assert_eq!(status, 200, "{receipt}");
        let (status, keys) = http(
            "GET",
            &s.url("/.well-known/derbes-receipt-keys.json"),
            None,
            None,
        );
        assert_eq!(status, 200, "{keys}");
        (receipt, keys)
    };
    // The file as a browser saves it; its layout does not matter to the signature.
    std::fs::write(
        cwd.join("receipt.json"),
        serde_json::to_string_pretty(&receipt).unwrap(),
    )
    .unwrap();
    std::fs::write(cwd.join("keys.json"), keys.to_string()).unwrap();
    let verify_receipt = |file: &str, extra: &[&str]| {
        run(derbes(cwd)
            .args(["receipt", "verify", file])
            .args(extra)
            .arg("--data-dir")
            .arg(&data))
    };

    // Against the published key set, and against the installation's own key file.
    let o = verify_receipt("receipt.json", &["--keys", "keys.json", "--lang", "ru"]);
    assert!(o.status.success(), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(out.contains("receipt.json: valid: receipt"), "{out}");
    assert!(
        out.contains("Квитанция о согласии на сбор и обработку персональных данных"),
        "{out}"
    );
    assert!(
        !out.contains(&student_iins(1)[0]),
        "the IIN is in the receipt: {out}"
    );
    let o = verify_receipt("receipt.json", &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("Дербес деректер тізбесі"),
        "{}",
        show(&o)
    );

    // A changed receipt fails, naming why.
    let mut forged = receipt.clone();
    forged["receipt"]["terms"]["publication"] = json!(true);
    std::fs::write(cwd.join("forged.json"), forged.to_string()).unwrap();
    let o = verify_receipt("forged.json", &["--keys", "keys.json"]);
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("forged.json: NOT valid: the signature is not valid"),
        "{}",
        show(&o)
    );

    // Another installation's key is not the operator's.
    let other = cwd.join("other");
    let o = run(derbes(cwd)
        .args(["receipt", "verify", "receipt.json", "--data-dir"])
        .arg(&other));
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("pass it with --keys"),
        "{}",
        show(&o)
    );
    drop(Server::start(cwd, &other));
    let o = run(derbes(cwd)
        .args(["receipt", "verify", "receipt.json", "--data-dir"])
        .arg(&other));
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("not among the operator's published keys"),
        "{}",
        show(&o)
    );
}

#[test]
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
fn calendar_and_requests_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    // The shipped calendar: 2026 has fifteen weekdays off besides weekends.
    let o = run(derbes(cwd).args(["calendar", "show", "--year", "2026"]));
    assert!(o.status.success(), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(
        out.contains("2026-03-24  Tuesday    day off for Nauryz (2026-03-21)"),
        "{out}"
    );
    assert!(out.contains("15 weekdays off besides weekends"), "{out}");

    // The operator adds a decree transfer: Friday 4 December 2026 off, Saturday 28 November
    // worked. A due date over that week follows it.
    let shipped = text(&run(derbes(cwd).args(["calendar", "show", "--year", "2025"])).stdout);
    assert!(
        shipped.contains("2025-01-03  Friday     day off by transfer"),
        "{shipped}"
    );
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../derbes-core/calendars/kz.toml"),
    )
    .unwrap();
    let edited = format!("{source}\n[[transfers]]\nday_off = \"2026-12-04\"\nworking_day = \"2026-11-28\"\nbasis = \"Decree No. 1 (test)\"\n");
    std::fs::write(cwd.join("calendar.toml"), edited).unwrap();
    let o = run(derbes(cwd).args([
        "--calendar",
        "calendar.toml",
        "calendar",
        "due",
        "--kind",
        "information",
        "--received",
        "2026-12-02T10:00:00+05:00",
        "--lang",
        "en",
    ]));
    assert!(o.status.success(), "{}", show(&o));
    // Thursday 3, (Friday 4 off), Saturday 5 and Sunday 6, Monday 7, Tuesday 8.
    assert!(text(&o.stdout).starts_with("2026-12-08\n"), "{}", show(&o));
    let o = run(derbes(cwd).args([
        "calendar",
        "due",
        "--kind",
        "information",
        "--received",
        "2026-12-02T10:00:00+05:00",
    ]));
    assert!(text(&o.stdout).starts_with("2026-12-07\n"), "{}", show(&o));
    // A broken calendar names the place and the fix.
    std::fs::write(
        cwd.join("bad.toml"),
        source.replace("\"+05:00\"", "\"UTC+5\""),
    )
    .unwrap();
    let o = run(derbes(cwd).args(["calendar", "show", "--file", "bad.toml"]));
    assert!(!o.status.success());
    assert!(
        text(&o.stderr)
            .contains("utc_offset: `UTC+5` is not an offset from UTC; write it as \"+05:00\""),
        "{}",
        show(&o)
    );

    // A request filed through the API is listed by due time; one-time codes land in the outbox.
    let data = cwd.join("data");
    let request_id;
    {
        let s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let iin = student_iins(1).remove(0);
        let student = create_student(&s, &token, 1, "Нұрланқызы", &iin);
        let (status, filed) = http(
            "POST",
            &s.url("/api/v1/requests"),
            Some(&token),
            Some(
                &json!({ "kind": "access_export", "subject_id": student, "channel": "online", "language": "kk" }),
            ),
        );
        assert_eq!(status, 201, "{filed}");
        request_id = filed["id"].as_str().unwrap().to_owned();
        let (status, sent) = http(
            "POST",
            &s.url(&format!(
                "/api/v1/requests/{}/verification/code",
                filed["id"].as_str().unwrap()
            )),
            Some(&token),
            None,
        );
        // The student has no e-mail on file: the DPO is told to check a document instead.
        assert_eq!(status, 409, "{sent}");
        assert!(
            sent["detail"].as_str().unwrap().contains("document check"),
            "{sent}"
        );
    }
    let o = run(derbes(cwd).arg("--data-dir").arg(&data).args([
        "requests",
        "list",
        "--due-within-days",
        "10",
    ]));
    assert!(o.status.success(), "{}", show(&o));
    assert!(text(&o.stdout).contains("access_export"), "{}", show(&o));
    assert!(text(&o.stderr).contains("1 request(s)"), "{}", show(&o));

    // The same request handled at the terminal, from the document check to the package.
    let requests = |args: &[&str]| {
        run(derbes(cwd)
            .arg("--data-dir")
            .arg(&data)
            .arg("requests")
            .args(args))
    };
    let o = requests(&[
        "verify",
        &request_id,
        "--document",
        "passport",
        "--as",
        "aliya",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("\"status\": \"identity_verified\""),
        "{}",
        show(&o)
    );
    let o = requests(&["verify", &request_id, "--document", "selfie"]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("--document `selfie`"),
        "{}",
        show(&o)
    );
    let o = requests(&[
        "step",
        &request_id,
        r#"{"step": "submit"}"#,
        "--as",
        "aliya",
    ]);
    assert!(o.status.success(), "{}", show(&o));
    let o = requests(&["step", &request_id, r#"{"step": "approve"}"#, "--as", "dpo"]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("access package built"),
        "{}",
        show(&o)
    );
    let o = requests(&["step", &request_id, r#"{"step": "fly"}"#]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("the step is not valid JSON"),
        "{}",
        show(&o)
    );
    let zip = cwd.join("package.zip");
    let o = requests(&["package", &request_id, "--out", zip.to_str().unwrap()]);
    assert!(o.status.success(), "{}", show(&o));
    assert!(std::fs::read(&zip).unwrap().starts_with(b"PK"));
    let o = requests(&["answer", &request_id]);
    assert!(
        text(&o.stdout).contains("Дербес деректер бойынша өтінішіңізге жауап"),
        "{}",
        show(&o)
    );
    let o = requests(&["show", &request_id]);
    assert!(
        text(&o.stdout).contains("\"actor\": \"admin:cli-requests:aliya\""),
        "{}",
        show(&o)
    );
}

/// Puts a backed-up database back in place of the live one, as an operator restoring would.
fn restore_database(backup: &Path, data: &Path) {
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(data.join(format!("derbes.db{suffix}")));
    }
    std::fs::copy(backup.join("derbes.db"), data.join("derbes.db")).unwrap();
}

#[test]
fn a_destruction_is_applied_again_after_a_restore_from_backup() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let backup = cwd.join("backup");
    let iins = student_iins(2);
    let (gone, kept, token) = {
        let s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let gone = create_student(&s, &token, 1, "Жойылатын", &iins[0]);
        let kept = create_student(&s, &token, 2, "Қалатын", &iins[1]);
        (gone, kept, token)
    };
    copy_data(&data, &backup);
    {
        let s = Server::start(cwd, &data);
        let (status, filed) = http(
            "POST",
            &s.url("/api/v1/requests"),
            Some(&token),
            Some(
                &json!({ "kind": "destruction", "subject_id": gone, "channel": "paper", "language": "ru" }),
            ),
        );
        assert_eq!(status, 201, "{filed}");
        let id = filed["id"].as_str().unwrap();
        let (status, body) = http(
            "POST",
            &s.url(&format!("/api/v1/requests/{id}/verification/document")),
            Some(&token),
            Some(&json!({ "document": "id_card" })),
        );
        assert_eq!(status, 200, "{body}");
        for step in ["submit", "approve"] {
            let (status, body) = http(
                "POST",
                &s.url(&format!("/api/v1/requests/{id}/steps")),
                Some(&token),
                Some(&json!({ "step": step })),
            );
            assert_eq!(status, 200, "{step}: {body}");
            if step == "approve" {
                assert_eq!(body["actions"][0]["status"], "done", "{body}");
            }
        }
    }
    let log = std::fs::read_to_string(data.join("destructions.log")).unwrap();
    assert_eq!(log.lines().count(), 1);
    assert!(log.contains(&gone) && !log.contains(&iins[0]));

    // The backup from before the destruction is restored: the subject is back in the database.
    restore_database(&backup, &data);
    let count = |data: &Path| column::<i64>(data, "SELECT COUNT(*) FROM subjects")[0];
    assert_eq!(count(&data), 2);
    let o = run(derbes(cwd)
        .args(["destructions", "reapply", "--data-dir"])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("1 record(s); 1 restored subject(s) destroyed again"),
        "{}",
        show(&o)
    );
    assert!(text(&o.stderr).contains(&format!("destroyed again: subject {gone}")));
    assert_eq!(count(&data), 1);
    let blind: Vec<i64> = column(&data, "SELECT COUNT(*) FROM blind_index");
    assert_eq!(blind[0], 2, "the kept student's iin and phone stay indexed");
    // Once is enough: a second run finds nothing to do, and the chain still verifies.
    let o = run(derbes(cwd)
        .args(["destructions", "reapply", "--data-dir"])
        .arg(&data));
    assert!(
        text(&o.stderr).contains("0 restored subject(s)"),
        "{}",
        show(&o)
    );
    assert!(verify(cwd, &data).status.success());
    let o = run(derbes(cwd)
        .args(["destructions", "list", "--data-dir"])
        .arg(&data));
    assert!(o.status.success(), "{}", show(&o));
    assert!(text(&o.stdout).contains(&gone) && !text(&o.stdout).contains(&kept));

    // Restored again, the server itself destroys it before it serves.
    restore_database(&backup, &data);
    {
        let s = Server::start(cwd, &data);
        let stderr = s.stderr_with("destroyed again");
        assert!(stderr.contains("destroyed again"), "{stderr}");
        let (status, body) = http(
            "GET",
            &s.url(&format!("/api/v1/subjects/{gone}?purpose=education")),
            Some(&token),
            None,
        );
        assert_eq!(status, 410, "{body}");
        read_subject(&s, &token, &kept);
    }

    // A line someone added to the log destroys nothing and is reported.
    let forged = log.replace(&gone, &kept);
    std::fs::write(data.join("destructions.log"), format!("{log}{forged}")).unwrap();
    let o = run(derbes(cwd)
        .args(["destructions", "reapply", "--data-dir"])
        .arg(&data));
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stderr).contains("line 2 ignored: its MAC does not verify"),
        "{}",
        show(&o)
    );
    assert_eq!(count(&data), 1);
}

#[test]
fn a_broken_answer_template_stops_the_server_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::create_dir_all(cwd.join("letters")).unwrap();
    std::fs::write(
        cwd.join("letters/answer.ru.txt"),
        "Ответ\n\n{% for x in done %}{{ x }}\n",
    )
    .unwrap();
    std::fs::write(
        cwd.join("derbes.toml"),
        "data_dir = \"data\"\ntemplates = \"letters\"\n",
    )
    .unwrap();
    let o = serve_must_fail(&mut derbes(cwd));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("an answer template cannot be used") && stderr.contains("answer.ru.txt"),
        "{}",
        show(&o)
    );
}

#[test]
fn connectors_check_reads_every_mapped_column_and_names_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let platform = cwd.join("platform.db");
    rusqlite::Connection::open(&platform)
        .unwrap()
        .execute_batch(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, iin TEXT, full_name TEXT);
             CREATE TABLE grades (id INTEGER PRIMARY KEY, user_id INTEGER, grade INTEGER);",
        )
        .unwrap();
    let map = format!(
        "name = \"platform\"\ndatabase = \"sqlite:{}\"\n[identity]\ntable = \"users\"\nkey = \"id\"\ncolumn = \"iin\"\nfield = \"iin\"\n\
         [[tables]]\ntable = \"grades\"\nreference = \"user_id\"\nmasking = \"delete_row\"\ncolumns.grade = {{}}\n\
         [[tables]]\ntable = \"users\"\ncolumns.full_name = {{ field = \"surname\", masking = \"redact\" }}\n",
        platform.display()
    );
    std::fs::write(cwd.join("platform.toml"), &map).unwrap();
    std::fs::write(
        cwd.join("derbes.toml"),
        "data_dir = \"data\"\nconnectors = [\"platform.toml\"]\n",
    )
    .unwrap();
    // The first start creates the key file.
    drop(Server::start(cwd, &cwd.join("data")));
    let o = run(derbes(cwd).args(["connectors", "check"]));
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("platform: ok, 2 table(s) readable on SQLite at"),
        "{}",
        show(&o)
    );
    // A column the database does not have.
    std::fs::write(
        cwd.join("platform.toml"),
        map.replace("columns.grade", "columns.mark"),
    )
    .unwrap();
    let o = run(derbes(cwd).args(["connectors", "check"]));
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        text(&o.stdout).contains("connector `platform`: table `grades`: no such column: mark"),
        "{}",
        show(&o)
    );
    // A field the declaration does not have: the map is refused with its place.
    std::fs::write(
        cwd.join("platform.toml"),
        map.replace("field = \"surname\"", "field = \"nickname\""),
    )
    .unwrap();
    let o = run(derbes(cwd).args(["connectors", "check"]));
    assert!(!o.status.success());
    assert!(
        text(&o.stderr)
            .contains("tables[1] (users).columns.full_name: `nickname` is not a declared field"),
        "{}",
        show(&o)
    );
}

#[test]
fn a_webhook_with_a_weak_secret_or_an_undeclared_field_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(cwd.join("lms.secret"), "too-short\n").unwrap();
    let config = |identify: &str| {
        format!(
            "data_dir = \"data\"\n[[webhooks]]\nname = \"lms\"\nurl = \"https://lms.school.kz/derbes\"\nsecret_file = \"lms.secret\"\nidentify_by = [\"{identify}\"]\n"
        )
    };
    std::fs::write(cwd.join("derbes.toml"), config("iin")).unwrap();
    let o = serve_must_fail(&mut derbes(cwd));
    assert!(
        text(&o.stderr).contains("[[webhooks]] #1 (lms)")
            && text(&o.stderr).contains("at least 32"),
        "{}",
        show(&o)
    );
    std::fs::write(cwd.join("lms.secret"), "x".repeat(48)).unwrap();
    std::fs::write(cwd.join("derbes.toml"), config("nickname")).unwrap();
    let o = serve_must_fail(&mut derbes(cwd));
    assert!(
        text(&o.stderr).contains("identify_by names `nickname`, which is not a declared field"),
        "{}",
        show(&o)
    );
}

#[test]
fn an_smtp_address_that_cannot_be_used_stops_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    std::fs::write(
        cwd.join("derbes.toml"),
        "data_dir = \"data\"\n[mail]\nfrom = \"dpo@school.kz\"\nsmtp = \"ftp://mail.school.kz\"\n",
    )
    .unwrap();
    let o = serve_must_fail(&mut derbes(cwd));
    assert!(
        text(&o.stderr).contains("[mail] smtp")
            && text(&o.stderr).contains("smtp://user@host:587?tls=required"),
        "{}",
        show(&o)
    );
}

#[test]
fn policy_render_writes_each_language_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let o = run(derbes(cwd).args(["policy", "render", "--lang", "ru", "--format", "md"]));
    assert!(o.status.success(), "{}", show(&o));
    let md = text(&o.stdout);
    assert!(md.starts_with("# Политика конфиденциальности"), "{md}");
    assert!(
        md.contains("## 9. Права субъекта") && md.contains("{#rights}"),
        "{md}"
    );
    let out = cwd.join("policy.html");
    let o = run(derbes(cwd).args([
        "policy",
        "render",
        "--lang",
        "kk",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(o.status.success(), "{}", show(&o));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("<html lang=\"kk\">") && html.contains("<h2 id=\"minors\">"),
        "{html}"
    );
    assert!(html.contains("құпиялылық саясаты"));
    let o = run(derbes(cwd).args(["policy", "render", "--lang", "de"]));
    assert!(
        !o.status.success() && text(&o.stderr).contains("use kk, ru or en"),
        "{}",
        show(&o)
    );
    // The other documents, by name.
    let o = run(derbes(cwd).args([
        "policy",
        "render",
        "--document",
        "data-list",
        "--lang",
        "en",
        "--format",
        "md",
    ]));
    assert!(o.status.success(), "{}", show(&o));
    assert!(text(&o.stdout).starts_with("# List of personal data needed and sufficient"));
    let o = run(derbes(cwd).args(["policy", "render", "--document", "leaflet"]));
    assert!(
        !o.status.success()
            && text(&o.stderr)
                .contains("use policy, data-list, consent-forms or processing-record"),
        "{}",
        show(&o)
    );
    // A PDF is a file, and needs Chromium: where there is none, the error says what to do.
    let o = run(derbes(cwd).args(["policy", "render", "--format", "pdf"]));
    assert!(
        !o.status.success() && text(&o.stderr).contains("--out FILE"),
        "{}",
        show(&o)
    );
    let pdf = cwd.join("policy.pdf");
    let o = run(derbes(cwd).env("PATH", cwd).args([
        "policy",
        "render",
        "--format",
        "pdf",
        "--out",
        pdf.to_str().unwrap(),
    ]));
    assert!(
        !o.status.success() && text(&o.stderr).contains("apt-get install chromium"),
        "{}",
        show(&o)
    );
    assert!(!pdf.exists());
}

#[test]
fn policy_diff_names_the_changes_and_flags_fresh_consent() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let old = examples_dir().join("shoqan-school.toml");
    let source = std::fs::read_to_string(&old).unwrap();
    let new = cwd.join("new.toml");
    std::fs::write(
        &new,
        source
            .replacen("version = \"2025.1\"", "version = \"2026.1\"", 1)
            .replacen(
                "recipients = [\"transport_company\", \"medical_institution\"]",
                "recipients = [\"transport_company\"]",
                1,
            ),
    )
    .unwrap();
    let o = run(derbes(cwd)
        .args(["policy", "diff"])
        .arg(&old)
        .arg(&new)
        .args(["--lang", "ru"]));
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("# Изменения политики конфиденциальности: 2025.1 → 2026.1"),
        "{out}"
    );
    assert!(out.contains("изменились получатели"), "{out}");
    let o = run(derbes(cwd).args(["policy", "diff"]).arg(&old).arg(&old));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(text(&o.stdout).contains("Өзгерістер жоқ."));
}

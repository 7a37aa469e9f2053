//! The key file and the key ring: created once by `serve`, rotated (stopped or serving) and retired.

use super::*;

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

    let (status, body) = second.post(
        "/api/v1/subjects",
        &token,
        &json!({"category":"student","fields":{"surname":"Нұрланова","iin":"061211600012"}}),
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

    let o = derbes_at(cwd, &data, &["keys", "rotate"]);
    assert_ok(&o);
    assert_stdout_has(&o, "rewrapped 3 data key(s)");
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
    assert_ok(&o);
    assert_stdout_has(&o, "intact");
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
    let o = derbes_at(cwd, &data, &["keys", "rotate"]);
    assert_ok(&o);
    // Backups are kept 35 days by default: version 1 stays.
    let o = derbes_at(cwd, &data, &["keys", "retire"]);
    assert_ok(&o);
    assert_stdout_has(&o, "key version 1: kept: backups taken before");
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
    assert_ok(&o);
    assert_stdout_has(&o, "key version 1: would be retired");
    assert_eq!(
        std::fs::read_to_string(&key)
            .unwrap()
            .matches("[[kek]]")
            .count(),
        2,
        "a dry run changes nothing"
    );
    let o = run(derbes(cwd).args(["keys", "retire"]));
    assert_ok(&o);
    assert_stdout_has(&o, "key version 1: retired");
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
    assert_ok(&o);
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
    assert_ok(&o);
}

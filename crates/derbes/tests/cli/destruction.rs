//! Destructions that outlive a restore from backup.

use super::*;

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
        let (status, filed) = s.post("/api/v1/requests", &token, &json!({ "kind": "destruction", "subject_id": gone, "channel": "paper", "language": "ru" }));
        assert_eq!(status, 201, "{filed}");
        let id = filed["id"].as_str().unwrap();
        let (status, body) = s.post(
            &format!("/api/v1/requests/{id}/verification/document"),
            &token,
            &json!({ "document": "id_card" }),
        );
        assert_eq!(status, 200, "{body}");
        for step in ["submit", "approve"] {
            let (status, body) = s.post(
                &format!("/api/v1/requests/{id}/steps"),
                &token,
                &json!({ "step": step }),
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
    let o = derbes_at(cwd, &data, &["destructions", "reapply"]);
    assert_ok(&o);
    assert_stderr_has(&o, "1 record(s); 1 restored subject(s) destroyed again");
    assert!(text(&o.stderr).contains(&format!("destroyed again: subject {gone}")));
    assert_eq!(count(&data), 1);
    let blind: Vec<i64> = column(&data, "SELECT COUNT(*) FROM blind_index");
    assert_eq!(blind[0], 2, "the kept student's iin and phone stay indexed");
    // Once is enough: a second run finds nothing to do, and the chain still verifies.
    let o = derbes_at(cwd, &data, &["destructions", "reapply"]);
    assert_stderr_has(&o, "0 restored subject(s)");
    assert_ok(&verify(cwd, &data));
    let o = derbes_at(cwd, &data, &["destructions", "list"]);
    assert_ok(&o);
    assert!(text(&o.stdout).contains(&gone) && !text(&o.stdout).contains(&kept));

    // Restored again, the server itself destroys it before it serves.
    restore_database(&backup, &data);
    {
        let s = Server::start(cwd, &data);
        let stderr = s.stderr_with("destroyed again");
        assert!(stderr.contains("destroyed again"), "{stderr}");
        let (status, body) = s.get(
            &format!("/api/v1/subjects/{gone}?purpose=education"),
            &token,
        );
        assert_eq!(status, 410, "{body}");
        read_subject(&s, &token, &kept);
    }

    // A line someone added to the log destroys nothing and is reported.
    let forged = log.replace(&gone, &kept);
    std::fs::write(data.join("destructions.log"), format!("{log}{forged}")).unwrap();
    let o = derbes_at(cwd, &data, &["destructions", "reapply"]);
    assert_failed_with(&o, "line 2 ignored: its MAC does not verify");
    assert_eq!(count(&data), 1);
}

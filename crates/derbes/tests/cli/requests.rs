//! The working-day calendar and data-subject requests from the command line.

use super::*;

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
    assert_ok(&o);
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
    assert_ok(&o);
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
    assert_failed(&o);
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
        let (status, filed) = s.post("/api/v1/requests", &token, &json!({ "kind": "access_export", "subject_id": student, "channel": "online", "language": "kk" }));
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
    assert_ok(&o);
    assert_stdout_has(&o, "access_export");
    assert_stderr_has(&o, "1 request(s)");

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
    assert_ok(&o);
    assert_stdout_has(&o, "\"status\": \"identity_verified\"");
    let o = requests(&["verify", &request_id, "--document", "selfie"]);
    assert_failed_with(&o, "--document `selfie`");
    let o = requests(&[
        "step",
        &request_id,
        r#"{"step": "submit"}"#,
        "--as",
        "aliya",
    ]);
    assert_ok(&o);
    let o = requests(&["step", &request_id, r#"{"step": "approve"}"#, "--as", "dpo"]);
    assert_ok(&o);
    assert_stdout_has(&o, "access package built");
    let o = requests(&["step", &request_id, r#"{"step": "fly"}"#]);
    assert_failed_with(&o, "the step is not valid JSON");
    let zip = cwd.join("package.zip");
    let o = requests(&["package", &request_id, "--out", zip.to_str().unwrap()]);
    assert_ok(&o);
    assert!(std::fs::read(&zip).unwrap().starts_with(b"PK"));
    let o = requests(&["answer", &request_id]);
    assert_stdout_has(&o, "Дербес деректер бойынша өтінішіңізге жауап");
    let o = requests(&["show", &request_id]);
    assert_stdout_has(&o, "\"actor\": \"admin:cli-requests:aliya\"");
}

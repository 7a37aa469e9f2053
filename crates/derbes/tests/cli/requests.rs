//! The working-day calendar and data-subject requests from the command line.

use super::*;

/// The shipped calendar: 2026 has fifteen weekdays off besides weekends, and the 2025
/// transfers are there.
#[test]
fn the_shipped_calendar_lists_the_days_off() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let o = run(derbes(cwd).args(["calendar", "show", "--year", "2026"]));
    assert_ok(&o);
    assert_stdout_has(&o, "2026-03-24  Tuesday    day off for Nauryz (2026-03-21)");
    assert_stdout_has(&o, "15 weekdays off besides weekends");
    let o = run(derbes(cwd).args(["calendar", "show", "--year", "2025"]));
    assert_stdout_has(&o, "2025-01-03  Friday     day off by transfer");
}

/// The operator adds a decree transfer (Friday 4 December 2026 off, Saturday 28 November
/// worked): a due date over that week follows it; a broken calendar names the place and the
/// fix.
#[test]
fn an_operators_calendar_moves_a_due_date_and_a_broken_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../derbes-core/calendars/kz.toml"),
    )
    .unwrap();
    let edited = format!("{source}\n[[transfers]]\nday_off = \"2026-12-04\"\nworking_day = \"2026-11-28\"\nbasis = \"Decree No. 1 (test)\"\n");
    std::fs::write(cwd.join("calendar.toml"), edited).unwrap();
    let due = [
        "due",
        "--kind",
        "information",
        "--received",
        "2026-12-02T10:00:00+05:00",
    ];
    let o = run(derbes(cwd)
        .args(["--calendar", "calendar.toml", "calendar"])
        .args(due)
        .args(["--lang", "en"]));
    assert_ok(&o);
    // Thursday 3, (Friday 4 off), Saturday 5 and Sunday 6, Monday 7, Tuesday 8.
    assert!(text(&o.stdout).starts_with("2026-12-08\n"), "{}", show(&o));
    let o = run(derbes(cwd).arg("calendar").args(due));
    assert!(text(&o.stdout).starts_with("2026-12-07\n"), "{}", show(&o));
    std::fs::write(
        cwd.join("bad.toml"),
        source.replace("\"+05:00\"", "\"UTC+5\""),
    )
    .unwrap();
    let o = run(derbes(cwd).args(["calendar", "show", "--file", "bad.toml"]));
    assert_failed_with(
        &o,
        "utc_offset: `UTC+5` is not an offset from UTC; write it as \"+05:00\"",
    );
}

/// A running server in `data` with an access request filed online for a student with no
/// e-mail on file: (server, admin token, request id).
fn a_filed_request(cwd: &Path, data: &Path) -> (Server, String, String) {
    let s = Server::start(cwd, data);
    let token = s.token.clone().unwrap();
    let iin = student_iins(1).remove(0);
    let student = create_student(&s, &token, 1, "Нұрланқызы", &iin);
    let (status, filed) = s.post(
        "/api/v1/requests",
        &token,
        &json!({ "kind": "access_export", "subject_id": student, "channel": "online", "language": "kk" }),
    );
    assert_eq!(status, 201, "{filed}");
    let id = filed["id"].as_str().unwrap().to_owned();
    (s, token, id)
}

/// A request filed through the API is listed by due time at the terminal; with no e-mail on
/// file, the DPO is told to check a document instead of sending a code.
#[test]
fn a_request_filed_through_the_api_is_listed_by_due_time() {
    let dir = tempfile::tempdir().unwrap();
    let (cwd, data) = (dir.path(), dir.path().join("data"));
    let (mut s, token, id) = a_filed_request(cwd, &data);
    let (status, sent) = http(
        "POST",
        &s.url(&format!("/api/v1/requests/{id}/verification/code")),
        Some(&token),
        None,
    );
    assert_eq!(status, 409, "{sent}");
    assert!(
        sent["detail"].as_str().unwrap().contains("document check"),
        "{sent}"
    );
    s.stop();
    let o = derbes_at(cwd, &data, &["requests", "list", "--due-within-days", "10"]);
    assert_ok(&o);
    assert_stdout_has(&o, "access_export");
    assert_stderr_has(&o, "1 request(s)");
}

/// The same request handled at the terminal, from the document check to the package, the
/// answer and its history under the person's name.
#[test]
fn a_request_is_handled_at_the_terminal_from_the_check_to_the_package() {
    let dir = tempfile::tempdir().unwrap();
    let (cwd, data) = (dir.path(), dir.path().join("data"));
    let (mut s, _, id) = a_filed_request(cwd, &data);
    s.stop();
    let requests = |args: &[&str]| derbes_at(cwd, &data, &[&["requests"], args].concat());
    let o = requests(&["verify", &id, "--document", "passport", "--as", "aliya"]);
    assert_ok(&o);
    assert_stdout_has(&o, "\"status\": \"identity_verified\"");
    let o = requests(&["verify", &id, "--document", "selfie"]);
    assert_failed_with(&o, "--document `selfie`");
    let o = requests(&["step", &id, r#"{"step": "submit"}"#, "--as", "aliya"]);
    assert_ok(&o);
    let o = requests(&["step", &id, r#"{"step": "approve"}"#, "--as", "dpo"]);
    assert_ok(&o);
    assert_stdout_has(&o, "access package built");
    let o = requests(&["step", &id, r#"{"step": "fly"}"#]);
    assert_failed_with(&o, "the step is not valid JSON");
    let zip = cwd.join("package.zip");
    let o = requests(&["package", &id, "--out", zip.to_str().unwrap()]);
    assert_ok(&o);
    assert!(std::fs::read(&zip).unwrap().starts_with(b"PK"));
    let o = requests(&["answer", &id]);
    assert_stdout_has(&o, "Дербес деректер бойынша өтінішіңізге жауап");
    let o = requests(&["show", &id]);
    assert_stdout_has(&o, "\"actor\": \"admin:cli-requests:aliya\"");
}

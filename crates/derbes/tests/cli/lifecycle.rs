//! `derbes lifecycle`: events recorded from a CSV file and one at a time, each row checked like
//! an API call and refused by line and column without its values; shown with each field's
//! last day.

use super::*;

#[test]
fn lifecycle_import_records_events_and_reports_each_refused_row() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let iin = Iin::compose(time::macros::date!(2012 - 03 - 14), Sex::Female, 41)
        .unwrap()
        .as_str()
        .to_owned();
    let stranger = Iin::compose(time::macros::date!(2011 - 07 - 02), Sex::Male, 42)
        .unwrap()
        .as_str()
        .to_owned();
    {
        let s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        create_student(&s, &token, 1, "Сейітқызы", &iin);
    }
    let show = || derbes_at(cwd, &data, &["lifecycle", "show", &iin]);
    let o = show();
    assert_ok(&o);
    // The day she was collected, in the operator's calendar: the only day an event may have.
    let out = text(&o.stdout);
    let today = out
        .lines()
        .find(|l| l.starts_with("surname "))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .to_owned();
    assert!(out.contains("relationship ended: no"), "{out}");
    let csv = format!(
        "subject,kind,on,reason,purpose,event\n\
         {iin},relationship_ended,{today},переведена в другую школу,,\n\
         {iin},relationship_ended,2999-01-01,x,,\n\
         {iin},left,{today},x,,\n\
         {stranger},relationship_ended,{today},x,,\n\
         {iin},purpose_achieved,{today},,space,\n\
         {iin},retracted,{today},,,not-an-id\n"
    );
    std::fs::write(cwd.join("events.csv"), csv).unwrap();
    let import = [
        "lifecycle",
        "import",
        "events.csv",
        "--errors",
        "refused.csv",
    ];
    let o = derbes_at(cwd, &data, &import);
    assert_failed(&o);
    assert_stdout_has(&o, "recorded 1 lifecycle event(s)");
    let stderr = text(&o.stderr);
    for expected in [
        "events.csv:3: on: is after today",
        "events.csv:4: kind: must be relationship_ended",
        "events.csv:5: subject: no subject has this IIN",
        "events.csv:6: purpose: purpose `space` is not declared",
        "events.csv:7: event: must be the id of an event",
    ] {
        assert!(stderr.contains(expected), "{expected:?} missing: {stderr}");
    }
    assert!(
        !stderr.contains(&iin) && !stderr.contains(&stranger),
        "{stderr}"
    );
    let refused = std::fs::read_to_string(cwd.join("refused.csv")).unwrap();
    assert_eq!(refused.lines().count(), 6, "{refused}");
    let record = |kind: &str, extra: &[&str]| {
        let record = ["lifecycle", "record", &iin, "--on", &today, "--kind", kind];
        derbes_at(cwd, &data, &[&record[..], extra].concat())
    };
    let achieved = |purpose: &[&str]| record("purpose_achieved", purpose);
    assert_ok(&achieved(&["--purpose", "extracurricular"]));
    let o = achieved(&[]);
    assert_failed_with(&o, "purpose: is required");
    let out = text(&show().stdout);
    assert!(
        out.contains(&format!("relationship ended: {today}")),
        "{out}"
    );
    assert!(out.contains("переведена в другую школу"), "{out}");
    assert!(
        out.contains(&format!("purpose achieved: extracurricular on {today}")),
        "{out}"
    );
    // Her phone number is kept five years from her leaving (the contracts), her file three.
    let phone = out.lines().find(|l| l.starts_with("phone ")).unwrap();
    let year: i32 = today[..4].parse().unwrap();
    let after = |years: i32| format!("{}{}", year + years, &today[4..]);
    assert!(phone.contains(&format!("  {}  ", after(5))), "{phone}");
    assert!(
        phone.contains(&format!("statutory_functions ({})", after(3))),
        "{phone}"
    );
    assert!(!out.contains("grades"), "only the fields she has: {out}");
    // A legal hold: in the register, and on her lifecycle.
    let until = after(1);
    let o = record(
        "legal_hold",
        &["--reason", "сот ісі № 2-118", "--until", &until],
    );
    assert_ok(&o);
    let o = derbes_at(cwd, &data, &["retention", "holds"]);
    assert_stdout_has(&o, &format!("{today} to {until}"));
    assert_stdout_has(&o, "сот ісі № 2-118");
    let out = text(&show().stdout);
    assert!(
        out.contains(&format!("legal hold in force through {until}")),
        "{out}"
    );
    assert_ok(&verify(cwd, &data));
}

/// The retention scan at the terminal: counts and ids, never a value; as JSON, the API's
/// answer; a look too far ahead refused with the option named.
#[test]
fn retention_scan_counts_what_expired() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    {
        let s = Server::start(cwd, &data);
        let token = s.token.clone().unwrap();
        let iin = Iin::compose(time::macros::date!(2012 - 03 - 14), Sex::Female, 43)
            .unwrap()
            .as_str()
            .to_owned();
        create_student(&s, &token, 1, "Сейітқызы", &iin);
    }
    // One subject, nothing expired yet.
    let scan = |args: &[&str]| derbes_at(cwd, &data, &[&["retention", "scan"], args].concat());
    let o = scan(&[]);
    assert_ok(&o);
    let out = text(&o.stdout);
    assert!(out.starts_with("1 subject(s) scanned on "), "{out}");
    assert!(out.contains("expired:\n  nothing"), "{out}");
    let o = scan(&["--days", "3000", "--json"]);
    assert_failed_with(&o, "--days: is more than 366");
    let o = scan(&["--json"]);
    let json: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["scanned"], 1);
    // Nothing to propose, nothing to run; a rule the declaration lacks is named.
    let retention = |args: &[&str]| {
        derbes_at(
            cwd,
            &data,
            &[&["retention"], args, &["--as", "aigul"]].concat(),
        )
    };
    let o = retention(&["propose", "student_records"]);
    assert_failed_with(&o, "rule: has nothing expired");
    assert_failed_with(
        &retention(&["propose", "archive"]),
        "rule: names no retention rule",
    );
    assert_stdout_has(&retention(&["run"]), "no approved batch to execute");
    let o = retention(&["run", "--dry-run"]);
    assert_stdout_has(&o, "no approved batch to execute");
    assert!(
        text(&o.stdout).contains("expired:\n  nothing"),
        "{}",
        text(&o.stdout)
    );
    assert_stdout_has(
        &retention(&["batches"]),
        "no retention batch has been proposed",
    );
    // No act before a batch is executed; a PDF needs a file to go to.
    assert_stdout_has(
        &retention(&["acts"]),
        "no act of destruction has been issued",
    );
    let nil = "00000000-0000-0000-0000-000000000000";
    assert_failed_with(
        &retention(&["act", nil]),
        "there is no retention batch with this id",
    );
    assert_failed_with(
        &retention(&["act", nil, "--format", "pdf"]),
        "--format pdf writes a file: name it with --out FILE",
    );
    assert_failed_with(
        &retention(&["act", nil, "--format", "docx"]),
        "--format `docx`: use json, html or pdf",
    );
    // A release: of a rule that depersonalizes, nothing kept yet; one that destroys is named.
    let o = retention(&["release", "analytics_data", "--format", "csv"]);
    assert_ok(&o);
    assert_eq!(text(&o.stdout), "category\n");
    assert!(
        text(&o.stderr).contains("released 0 record(s) in 0 group(s) of at least 5"),
        "{}",
        text(&o.stderr)
    );
    assert_failed_with(
        &retention(&["release", "student_records"]),
        "rule: names no retention rule of the declaration that depersonalizes",
    );
    assert_failed_with(
        &retention(&["release", "analytics_data", "--format", "xlsx"]),
        "--format `xlsx`: use json or csv",
    );
}

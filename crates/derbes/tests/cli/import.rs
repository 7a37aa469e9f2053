//! Bulk imports: subjects (`generate`, `import`) and paper consent forms (`consents import`).

use super::*;

#[test]
fn generate_then_import_reports_each_row_and_all_or_nothing_imports_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    // The key file comes from a first start of the server.
    drop(Server::start(cwd, &data));

    let o = run(derbes(cwd).args(["generate", "--count", "500", "--out", "f.csv"]));
    assert_ok(&o);
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
    assert_ok(&o);
    assert_stdout_has(&o, "imported 500 ");
    let count: i64 = db(&data)
        .query_row("SELECT COUNT(*) FROM subjects", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 500);

    // Again: every row is a duplicate.
    let o = import(&data, &key, &[]);
    assert_failed(&o);
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains("f.csv:2: ") && stderr.contains("already exists"),
        "{}",
        show(&o)
    );
    assert_stdout_has(&o, "imported 0 ");
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
    assert_failed(&o);
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
    let o = derbes_at(cwd, &data, &["import", "m.csv", "--category", "student"]);
    assert_failed(&o);
    let err = text(&o.stderr);
    // The bad IIN is on line 4: the quoted address of the row before spans lines 2-3.
    assert!(err.contains("m.csv:4: iin"), "{err}");
    assert_stdout_has(&o, "imported 1 subject");
}

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
        let (status, parent) = s.post("/api/v1/subjects", &token, &json!({ "category": "legal_representative", "fields": { "surname": "Серікова", "iin": parent_iin } }));
        assert_eq!(status, 201, "{parent}");
        let link = |relation: &str| {
            s.post(&format!("/api/v1/subjects/{child}/representatives"), &token, &json!({ "representative_id": parent["id"], "relation": relation,
                              "documents": [{ "kind": "birth_certificate", "sha256": "ab".repeat(32) }] }))
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
    let o = derbes_at(
        cwd,
        &data,
        &["consents", "import", "forms.csv", "--errors", "refused.csv"],
    );
    assert_failed(&o);
    assert_stdout_has(&o, "recorded 2 consent event(s)");
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
    assert_ok(&o);
}

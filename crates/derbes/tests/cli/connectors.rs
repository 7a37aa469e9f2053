//! Connectors, mail and answer templates: checked before `serve` starts, with the file or field that is wrong.

use super::*;

#[test]
fn a_broken_answer_or_report_template_stops_the_server_and_names_the_file() {
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
    // Mended, the access report's template is checked the same way.
    std::fs::remove_file(cwd.join("letters/answer.ru.txt")).unwrap();
    std::fs::write(
        cwd.join("letters/access-report.kk.md"),
        "# Есеп\n\n{% for f in fields %}{{ f.colour }}{% endfor %}\n",
    )
    .unwrap();
    let o = serve_must_fail(&mut derbes(cwd));
    assert_stderr_has(&o, "an access report template cannot be used");
    assert_stderr_has(&o, "access-report.kk.md");
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
    assert_ok(&o);
    assert_stdout_has(&o, "platform: ok, 2 table(s) readable on SQLite at");
    // A column the database does not have.
    std::fs::write(
        cwd.join("platform.toml"),
        map.replace("columns.grade", "columns.mark"),
    )
    .unwrap();
    let o = run(derbes(cwd).args(["connectors", "check"]));
    assert_failed(&o);
    assert_stdout_has(
        &o,
        "connector `platform`: table `grades`: no such column: mark",
    );
    // A field the declaration does not have: the map is refused with its place.
    std::fs::write(
        cwd.join("platform.toml"),
        map.replace("field = \"surname\"", "field = \"nickname\""),
    )
    .unwrap();
    let o = run(derbes(cwd).args(["connectors", "check"]));
    assert_failed(&o);
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
    assert_stderr_has(
        &o,
        "identify_by names `nickname`, which is not a declared field",
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

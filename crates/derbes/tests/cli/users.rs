//! Person accounts of the console from the command line.

use super::*;

fn users(cwd: &Path, data: &Path, args: &[&str]) -> Output {
    derbes_at(cwd, data, &[&["users"], args].concat())
}

/// A data directory with a running server (accounts are managed beside it) and a DPO.
fn with_a_dpo() -> (tempfile::TempDir, PathBuf, Server, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start(dir.path(), &data);
    let o = users(
        dir.path(),
        &data,
        &[
            "create",
            "Aliya.Serikova",
            "--role",
            "dpo",
            "--name",
            "Әлия Серікова",
        ],
    );
    assert_ok(&o);
    assert_stderr_has(&o, "aliya.serikova");
    assert_stderr_has(&o, "second factor");
    let password = text(&o.stdout).trim().to_owned();
    assert_eq!(
        password.len(),
        23,
        "one line, the password alone: {password}"
    );
    (dir, data, s, password)
}

/// An administrator creates accounts with one-time passwords shown once, lists, disables,
/// enables and resets them; every change is in the audit trail, and no password is stored or
/// printed twice.
#[test]
fn accounts_are_created_listed_disabled_and_reset() {
    let (dir, data, _s, password) = with_a_dpo();
    let cwd = dir.path();
    assert_ok(&users(
        cwd,
        &data,
        &[
            "create",
            "bolat",
            "--role",
            "staff",
            "--name",
            "Болат Ахметов",
            "--purpose",
            "education",
            "--lang",
            "ru",
        ],
    ));
    let listed = text(&users(cwd, &data, &["list"]).stdout);
    let lines: Vec<&str> = listed.lines().collect();
    assert_eq!(lines.len(), 2, "{listed}");
    assert!(
        lines[0].starts_with("aliya.serikova")
            && lines[0].contains("active")
            && lines[0].contains("to_enrol"),
        "{listed}"
    );
    assert!(
        lines[1].contains("education")
            && lines[1].contains("second factor: off")
            && lines[1].contains(" ru "),
        "{listed}"
    );
    assert!(!listed.contains(&password), "a list never shows a password");

    assert_ok(&users(cwd, &data, &["disable", "bolat"]));
    assert_stdout_has(&users(cwd, &data, &["list"]), "disabled since");
    assert_ok(&users(cwd, &data, &["enable", "bolat"]));
    assert_failed_with(
        &users(cwd, &data, &["disable", "nobody"]),
        "there is no account with this login",
    );
    let o = users(cwd, &data, &["reset", "aliya.serikova", "--second-factor"]);
    assert_ok(&o);
    let again = text(&o.stdout).trim().to_owned();
    assert_ne!(again, password);

    let actions: Vec<String> = column(
        &data,
        "SELECT actor || ' ' || action FROM audit_events WHERE action LIKE 'account.%' ORDER BY seq",
    );
    assert_eq!(
        actions,
        [
            "admin:cli-users account.create",
            "admin:cli-users account.create",
            "admin:cli-users account.disable",
            "admin:cli-users account.enable",
            "admin:cli-users account.reset",
        ]
    );
    let hashes: Vec<String> = column(&data, "SELECT password_hash FROM accounts");
    assert!(
        hashes.iter().all(|h| h.starts_with("$argon2id$")),
        "{hashes:?}"
    );
    let stored = std::fs::read(data.join("derbes.db")).unwrap();
    assert!(
        !stored.windows(again.len()).any(|w| w == again.as_bytes()),
        "the password is not in the database"
    );
}

/// Staff need purposes, integrations are not persons, a login is taken once (in any case) and
/// is written in Latin letters: each refusal names its field and writes nothing.
#[test]
fn an_account_needs_a_free_login_a_person_s_role_and_purposes() {
    let (dir, data, _s, _) = with_a_dpo();
    for (args, needle) in [
        (
            ["create", "bolat", "--role", "staff", "--name", "Болат"],
            "`purposes` must name the purposes a `staff` account acts for",
        ),
        (
            [
                "create",
                "journal",
                "--role",
                "integration",
                "--name",
                "Күнделік",
            ],
            "`role` must be admin, dpo, staff or auditor",
        ),
        (
            [
                "create",
                "ALIYA.serikova",
                "--role",
                "auditor",
                "--name",
                "Әлия",
            ],
            "`login` is taken by another account",
        ),
        (
            ["create", "бөтен", "--role", "auditor", "--name", "Бөтен"],
            "`login` must be 3-64 characters",
        ),
    ] {
        assert_failed_with(&users(dir.path(), &data, &args), needle);
    }
    assert_eq!(
        text(&users(dir.path(), &data, &["list"]).stdout)
            .lines()
            .count(),
        1
    );
}

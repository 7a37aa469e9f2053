//! The SQL connector against real databases with a sample school-platform schema: SQLite always,
//! PostgreSQL with `DERBES_TEST_POSTGRES_URL`, MariaDB with `DERBES_TEST_MARIADB_URL`. Without
//! a URL the suite says plainly that it did not run; under `CI=true` it fails instead.
#![allow(clippy::unwrap_used)]

use derbes_connect::{DatasetMap, SqlConnector, TableOutcome, REDACTED};
use std::process::ExitCode;

const POSTGRES_ENV: &str = "DERBES_TEST_POSTGRES_URL";
const MARIADB_ENV: &str = "DERBES_TEST_MARIADB_URL";

const SUBJECT_IIN: &str = "061211600012";
const OTHER_IIN: &str = "760212350620";

/// The sample platform: users, enrolments, grades, forum posts and a login log. `{s}` is the
/// schema prefix, `{ts}` the timestamp type.
const SCHEMA: &str = "
CREATE TABLE {s}users (id INTEGER PRIMARY KEY, iin VARCHAR(12) UNIQUE, full_name VARCHAR(200) NOT NULL, email VARCHAR(254) UNIQUE, phone VARCHAR(20), created_at {ts} NOT NULL, left_at DATE);
CREATE TABLE {s}enrolments (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, course VARCHAR(100) NOT NULL, enrolled_on DATE NOT NULL, FOREIGN KEY (user_id) REFERENCES {s}users (id));
CREATE TABLE {s}grades (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, course VARCHAR(100) NOT NULL, grade INTEGER NOT NULL, teacher_comment TEXT, FOREIGN KEY (user_id) REFERENCES {s}users (id));
CREATE TABLE {s}forum_posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT NOT NULL, posted_at {ts} NOT NULL, FOREIGN KEY (user_id) REFERENCES {s}users (id));
CREATE TABLE {s}login_log (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, ip VARCHAR(45) NOT NULL, at {ts} NOT NULL, FOREIGN KEY (user_id) REFERENCES {s}users (id));
INSERT INTO {s}users VALUES (1, '061211600012', 'Нұрланова Әйгерім', 'aigerim@mail.kz', '+77012345678', '2025-09-01 08:00:00', NULL);
INSERT INTO {s}users VALUES (2, '760212350620', 'Оспанов Ерлан', 'erlan@mail.kz', '+77017654321', '2025-09-01 08:05:00', '2026-05-31');
INSERT INTO {s}enrolments VALUES (1, 1, 'Алгебра 9', '2025-09-01'), (2, 1, 'Қазақ тілі 9', '2025-09-01'), (3, 2, 'Физика', '2025-09-01');
INSERT INTO {s}grades VALUES (1, 1, 'Алгебра 9', 5, 'Өте жақсы'), (2, 1, 'Қазақ тілі 9', 4, NULL), (3, 2, 'Физика', 3, 'Жақсы');
INSERT INTO {s}forum_posts VALUES (1, 1, 'Сәлеметсіз бе, үй тапсырмасы қандай?', '2025-10-01 19:00:00'), (2, 2, 'Рақмет', '2025-10-01 19:05:00');
INSERT INTO {s}login_log VALUES (1, 1, '10.0.0.7', '2025-10-01 18:59:00'), (2, 1, '10.0.0.7', '2025-10-02 18:59:00'), (3, 2, '10.0.0.8', '2025-10-02 19:00:00');
";

/// The map of the sample platform; `{s}` is the schema prefix.
const MAP: &str = include_str!("school-map.toml");

fn connector(url: &str, prefix: &str, map: &str) -> SqlConnector {
    let text = map.replace("{url}", url).replace("{s}", prefix);
    SqlConnector::new(DatasetMap::parse(&text, |_| true, |_| true).unwrap()).unwrap()
}

fn rows_of<'a>(
    access: &'a [derbes_connect::TableRows],
    table: &str,
) -> &'a Vec<Vec<Option<String>>> {
    &access
        .iter()
        .find(|t| t.table.ends_with(table))
        .unwrap()
        .rows
}

fn outcome(outcomes: &[TableOutcome], table: &str) -> (String, u64) {
    let o = outcomes.iter().find(|o| o.table.ends_with(table)).unwrap();
    (o.action.clone(), o.rows)
}

/// Access, a destruction that fails half-way and changes nothing, a destruction, and again.
async fn walk(url: &str, prefix: &str) {
    let c = connector(url, prefix, MAP);

    // Access: the subject's rows of every table, nobody else's.
    let access = c.access(SUBJECT_IIN).await.unwrap();
    let users = rows_of(&access, "users");
    assert_eq!(users.len(), 1);
    assert_eq!(users[0][1].as_deref(), Some("Нұрланова Әйгерім"));
    assert_eq!(users[0][2].as_deref(), Some("aigerim@mail.kz"));
    assert!(
        users[0][4]
            .as_deref()
            .unwrap()
            .starts_with("2025-09-01 08:00:00"),
        "{users:?}"
    );
    assert_eq!(rows_of(&access, "enrolments").len(), 2);
    assert_eq!(rows_of(&access, "login_log").len(), 2);
    let grades = rows_of(&access, "grades");
    assert_eq!(grades.len(), 2);
    assert!(grades.iter().any(|g| g[2].as_deref() == Some("Өте жақсы")));
    assert!(c
        .access("000000000000")
        .await
        .unwrap()
        .iter()
        .all(|t| t.rows.is_empty()));

    // The lifecycle the platform records: only the user who left, by his identifier.
    let life = c.lifecycle().await.unwrap();
    assert_eq!(
        life,
        [derbes_connect::LifecycleRow {
            identifier: OTHER_IIN.into(),
            relationship_ended: Some("2026-05-31".into()),
            reason: None,
            purposes_achieved: Vec::new(),
        }]
    );

    // A destruction that fails on its third statement (a NOT NULL column set to NULL) leaves
    // the login log it had already emptied as it was.
    let broken = MAP.replace(
        "columns.grade = {}",
        "columns.grade = { masking = \"null\" }",
    );
    let e = connector(url, prefix, &broken)
        .destroy(SUBJECT_IIN)
        .await
        .unwrap_err();
    assert!(e.problem.contains("grades"), "{e}");
    assert!(!e.to_string().contains(SUBJECT_IIN), "{e}");
    assert_eq!(
        rows_of(&c.access(SUBJECT_IIN).await.unwrap(), "login_log").len(),
        2
    );

    // The retention of the e-mail and the phone ended: their columns only, no row deleted.
    let expired = ["email".to_owned(), "phone".to_owned()];
    let done = c.destroy_fields(SUBJECT_IIN, &expired).await.unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(outcome(&done, "users"), ("masked".into(), 1));
    let access = c.access(SUBJECT_IIN).await.unwrap();
    let user = &rows_of(&access, "users")[0];
    assert_eq!(user[1].as_deref(), Some("Нұрланова Әйгерім"));
    assert_ne!(user[2].as_deref(), Some("aigerim@mail.kz"));
    assert_eq!(user[3], None);
    assert_eq!(rows_of(&access, "enrolments").len(), 2);
    assert_eq!(rows_of(&access, "login_log").len(), 2);

    // The destruction.
    let done = c.destroy(SUBJECT_IIN).await.unwrap();
    assert_eq!(outcome(&done, "login_log"), ("deleted".into(), 2));
    assert_eq!(outcome(&done, "enrolments"), ("deleted".into(), 2));
    assert_eq!(outcome(&done, "grades"), ("masked".into(), 2));
    assert_eq!(outcome(&done, "forum_posts"), ("masked".into(), 1));
    assert_eq!(outcome(&done, "users"), ("masked".into(), 1));
    assert_eq!(done.last().unwrap().table, format!("{prefix}users"));
    // The subject can no longer be found; the others are untouched.
    assert!(c
        .access(SUBJECT_IIN)
        .await
        .unwrap()
        .iter()
        .all(|t| t.rows.is_empty()));
    let other = c.access(OTHER_IIN).await.unwrap();
    assert_eq!(
        rows_of(&other, "users")[0][1].as_deref(),
        Some("Оспанов Ерлан")
    );
    assert_eq!(rows_of(&other, "login_log").len(), 1);
    assert_eq!(rows_of(&other, "grades")[0][2].as_deref(), Some("Жақсы"));
    // What is left of the subject's row: no identifier, no name, no phone, an e-mail that is
    // a salted digest (unique, unlinkable), the creation time.
    let inspect = connector(
        url,
        prefix,
        &MAP.replace("column = \"iin\"", "column = \"full_name\""),
    );
    let left = inspect.access(REDACTED).await.unwrap();
    let row = &rows_of(&left, "users")[0];
    assert_eq!(row[0], None);
    assert_eq!(row[3], None);
    let email = row[2].as_deref().unwrap();
    assert!(
        email.len() == 64 && email.chars().all(|c| c.is_ascii_hexdigit()),
        "{email}"
    );
    assert_eq!(
        rows_of(&left, "forum_posts")[0][0].as_deref(),
        Some(REDACTED)
    );
    assert_eq!(rows_of(&left, "grades").len(), 2);
    assert!(rows_of(&left, "grades")
        .iter()
        .all(|g| g[2].is_none() || g[2].as_deref() == Some(REDACTED)));

    // Again: nothing left to reach.
    let again = c.destroy(SUBJECT_IIN).await.unwrap();
    assert!(again.iter().all(|o| o.rows == 0), "{again:?}");
}

fn suffix() -> String {
    let mut b = [0u8; 6];
    getrandom::fill(&mut b).unwrap();
    b.iter().map(|x| format!("{x:02x}")).collect()
}

async fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("platform.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&SCHEMA.replace("{s}", "").replace("{ts}", "TEXT"))
        .unwrap();
    drop(conn);
    walk(&format!("sqlite:{}", path.display()), "").await;
}

async fn postgres(url: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let schema = format!("dc_{}", suffix());
    client
        .batch_execute(&format!(
            "CREATE SCHEMA {schema}; {}",
            SCHEMA
                .replace("{s}", &format!("{schema}."))
                .replace("{ts}", "TIMESTAMP")
        ))
        .await
        .unwrap();
    walk(url, &format!("{schema}.")).await;
    client
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .await
        .unwrap();
}

fn mariadb_exec(url: &str, sql: &str) {
    use mysql::prelude::Queryable;
    let mut conn = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
    for statement in sql.split(";\n").map(str::trim).filter(|s| !s.is_empty()) {
        conn.query_drop(statement).unwrap();
    }
}

async fn mariadb(url: &str) {
    let db = format!("dc_{}", suffix());
    let (u, setup) = (
        url.to_owned(),
        format!(
            "CREATE DATABASE {db};\n{}",
            SCHEMA
                .replace("{s}", &format!("{db}."))
                .replace("{ts}", "DATETIME")
        ),
    );
    tokio::task::spawn_blocking(move || mariadb_exec(&u, &setup))
        .await
        .unwrap();
    walk(url, &format!("{db}.")).await;
    let u = url.to_owned();
    tokio::task::spawn_blocking(move || mariadb_exec(&u, &format!("DROP DATABASE {db};\n")))
        .await
        .unwrap();
}

fn main() -> ExitCode {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let run = |name: &str, f: std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>| {
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| rt.block_on(f))).is_ok();
        println!(
            "connectors [{name}] access and destruction on the sample platform ... {}",
            if ok { "ok" } else { "FAILED" }
        );
        !ok
    };
    let mut failed = run("sqlite", Box::pin(sqlite()));
    for (name, env) in [("postgres", POSTGRES_ENV), ("mariadb", MARIADB_ENV)] {
        match std::env::var(env).ok().filter(|s| !s.is_empty()) {
            Some(url) if name == "postgres" => {
                failed |= run(name, Box::pin(async move { postgres(&url).await }))
            }
            Some(url) => failed |= run(name, Box::pin(async move { mariadb(&url).await })),
            None if ci => {
                println!("connectors: {env} is not set, but CI=true requires the {name} suite");
                failed = true;
            }
            None => println!("\nconnectors: {name} suite NOT RUN — set {env} to run it\n"),
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        println!("connectors: passed");
        ExitCode::SUCCESS
    }
}

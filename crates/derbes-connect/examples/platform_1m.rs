//! Times the SQL connector over a sample school platform of about 1,000,000 rows: access and
//! destruction of one subject at a time, for random subjects.
//!
//! cargo run --release -p derbes-connect --example platform_1m -- DATABASE [ROWS] [SUBJECTS]
//!
//! DATABASE is postgres://…, mysql://… or sqlite:/path/file.db. The tables go into a new schema
//! (PostgreSQL), database (MariaDB) or file (SQLite) that is dropped at the end.
#![allow(clippy::unwrap_used)]

use derbes_connect::{DatasetMap, SqlConnector};
use std::time::Instant;

/// The same map as the connector tests.
const MAP: &str = include_str!("../tests/school-map.toml");

/// Tables, then rows: users U; enrolments and grades 3 per user; forum posts and logins 1.5.
fn schema(ts: &str, s: &str) -> String {
    format!(
        "CREATE TABLE {s}users (id INTEGER PRIMARY KEY, iin VARCHAR(12) UNIQUE, full_name VARCHAR(200) NOT NULL, email VARCHAR(254) UNIQUE, phone VARCHAR(20), created_at {ts} NOT NULL, left_at DATE);
CREATE TABLE {s}enrolments (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, course VARCHAR(100) NOT NULL, enrolled_on DATE NOT NULL);
CREATE TABLE {s}grades (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, course VARCHAR(100) NOT NULL, grade INTEGER NOT NULL, teacher_comment TEXT);
CREATE TABLE {s}forum_posts (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, body TEXT NOT NULL, posted_at {ts} NOT NULL);
CREATE TABLE {s}login_log (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, ip VARCHAR(45) NOT NULL, at {ts} NOT NULL)"
    )
}

fn indexes(s: &str) -> Vec<String> {
    ["enrolments", "grades", "forum_posts", "login_log"]
        .iter()
        .map(|t| format!("CREATE INDEX {t}_user ON {s}{t} (user_id)"))
        .collect()
}

/// The fill statements; `series(n)` is a row source of `x` = 1..=n, `pad(e, w)` zero-pads.
fn fill(
    s: &str,
    users: u64,
    series: impl Fn(u64) -> String,
    pad: impl Fn(&str, u32) -> String,
    cat: impl Fn(&[&str]) -> String,
) -> Vec<String> {
    let (three, half) = (users * 3, users * 3 / 2);
    vec![
        format!(
            "INSERT INTO {s}users (id, iin, full_name, email, phone, created_at) SELECT x, {}, {}, {}, {}, '2025-09-01 08:00:00' FROM {}",
            pad("x", 12),
            cat(&["'Оқушы '", "x"]),
            cat(&["'user'", "x", "'@mail.kz'"]),
            cat(&["'+7701'", &pad("x", 7)]),
            series(users)
        ),
        format!("INSERT INTO {s}enrolments (id, user_id, course, enrolled_on) SELECT x, (x - 1) / 3 + 1, {}, '2025-09-01' FROM {}", cat(&["'Курс '", "x % 20"]), series(three)),
        format!("INSERT INTO {s}grades (id, user_id, course, grade, teacher_comment) SELECT x, (x - 1) / 3 + 1, {}, x % 5 + 1, 'Жақсы' FROM {}", cat(&["'Курс '", "x % 20"]), series(three)),
        format!("INSERT INTO {s}forum_posts (id, user_id, body, posted_at) SELECT x, (x - 1) * 2 / 3 + 1, 'Үй тапсырмасы туралы сұрақ', '2025-10-01 19:00:00' FROM {}", series(half)),
        format!("INSERT INTO {s}login_log (id, user_id, ip, at) SELECT x, (x - 1) * 2 / 3 + 1, '10.0.0.7', '2025-10-01 18:59:00' FROM {}", series(half)),
    ]
}

fn pick(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 * q) as usize).min(v.len() - 1)]
}

#[tokio::main(flavor = "multi_thread")]
#[allow(
    clippy::too_many_lines,
    reason = "an example read top to bottom: build the platform, then measure"
)]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("DATABASE: postgres://…, mysql://… or sqlite:/path");
    let rows: u64 = args.get(2).map_or(1_000_000, |s| s.parse().unwrap());
    let subjects: usize = args.get(3).map_or(200, |s| s.parse().unwrap());
    let users = rows / 10;
    let name = format!("bench_{}", std::process::id());
    let started = Instant::now();
    let (conn_url, prefix) = if url.starts_with("postgres") {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        let s = format!("{name}.");
        let mut sql = vec![format!("CREATE SCHEMA {name}"), schema("TIMESTAMP", &s)];
        sql.extend(fill(
            &s,
            users,
            |n| format!("generate_series(1, {n}) x"),
            |e, w| format!("lpad(CAST({e} AS TEXT), {w}, '0')"),
            |p| {
                p.iter()
                    .map(|x| format!("CAST({x} AS TEXT)"))
                    .collect::<Vec<_>>()
                    .join(" || ")
            },
        ));
        sql.extend(indexes(&s));
        sql.push("ANALYZE".to_owned());
        for q in sql {
            client.batch_execute(&q).await.unwrap();
        }
        (url.clone(), s)
    } else if url.starts_with("mysql") {
        use mysql::prelude::Queryable;
        let mut c = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
        let s = format!("{name}.");
        let mut sql = vec![format!("CREATE DATABASE {name}")];
        sql.extend(schema("DATETIME", &s).split(";\n").map(str::to_owned));
        sql.extend(fill(
            &s,
            users,
            |n| format!("(SELECT seq AS x FROM seq_1_to_{n}) g"),
            |e, w| format!("LPAD({e}, {w}, '0')"),
            |p| format!("CONCAT({})", p.join(", ")),
        ));
        sql.extend(indexes(&s));
        for q in sql {
            c.query_drop(
                q.replace("(x - 1) / 3", "(x - 1) DIV 3")
                    .replace("(x - 1) * 2 / 3", "(x - 1) * 2 DIV 3"),
            )
            .unwrap();
        }
        (url.clone(), s)
    } else {
        let path = url.trim_start_matches("sqlite:");
        let _ = std::fs::remove_file(path);
        let c = rusqlite::Connection::open(path).unwrap();
        c.execute_batch("PRAGMA journal_mode = WAL").unwrap();
        let mut sql = vec![schema("TEXT", "")];
        let series = |n: u64| {
            format!("(WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {n}) SELECT x FROM g)")
        };
        sql.extend(fill(
            "",
            users,
            series,
            |e, w| format!("printf('%0{w}d', {e})"),
            |p| p.join(" || "),
        ));
        sql.extend(indexes(""));
        for q in sql {
            c.execute_batch(&q).unwrap();
        }
        (url.clone(), String::new())
    };
    println!(
        "platform of {} rows ({users} users) built in {:.1} s",
        users * 10,
        started.elapsed().as_secs_f64()
    );
    let map = MAP.replace("{url}", &conn_url).replace("{s}", &prefix);
    let c = SqlConnector::new(DatasetMap::parse(&map, |_| true, |_| true).unwrap()).unwrap();
    // Warm the connection path and the caches.
    for i in 0..5u64 {
        c.access(&format!("{:012}", users - i)).await.unwrap();
    }
    let (mut access, mut destroy, mut both) = (Vec::new(), Vec::new(), Vec::new());
    let mut seed = 0x2545F4914F6CDD1Du64;
    let mut chosen = std::collections::HashSet::new();
    while chosen.len() < subjects {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = seed % (users - 10) + 1;
        // Each subject once: a destroyed one is found no more.
        if !chosen.insert(n) {
            continue;
        }
        let iin = format!("{n:012}");
        let t = Instant::now();
        let got = c.access(&iin).await.unwrap();
        let a = t.elapsed().as_secs_f64() * 1000.0;
        let found = got
            .iter()
            .find(|t| t.table.ends_with("users"))
            .map_or(0, |t| t.rows.len());
        assert_eq!(found, 1, "subject {iin} not found");
        let t = Instant::now();
        c.destroy(&iin).await.unwrap();
        let d = t.elapsed().as_secs_f64() * 1000.0;
        access.push(a);
        destroy.push(d);
        both.push(a + d);
    }
    for (what, v) in [
        ("access", &mut access),
        ("destruction", &mut destroy),
        ("access + destruction", &mut both),
    ] {
        let (p50, p99, max) = (pick(v, 0.5), pick(v, 0.99), pick(v, 1.0));
        println!("{what:<22} n={subjects}  p50={p50:6.2}  p99={p99:6.2}  max={max:6.2} ms");
    }
    // Clean up.
    if url.starts_with("postgres") {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(&format!("DROP SCHEMA {name} CASCADE"))
            .await
            .unwrap();
    } else if url.starts_with("mysql") {
        use mysql::prelude::Queryable;
        let mut m = mysql::Conn::new(mysql::Opts::from_url(url).unwrap()).unwrap();
        m.query_drop(format!("DROP DATABASE {name}")).unwrap();
    }
}

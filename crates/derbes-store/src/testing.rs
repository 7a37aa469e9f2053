//! A small test harness that runs the same cases against SQLite and PostgreSQL.
//!
//! PostgreSQL runs when `DERBES_TEST_POSTGRES_URL` is set (each case gets a fresh schema); when it
//! is not set the harness says so plainly, and under `CI=true` it fails instead.

use std::future::Future;
use std::pin::Pin;
use std::process::ExitCode;

pub const POSTGRES_ENV: &str = "DERBES_TEST_POSTGRES_URL";

/// A database for one case: a SQLite file in a fresh directory, or a fresh PostgreSQL schema.
pub struct TestDb {
    pub backend: &'static str,
    pub url: String,
    /// A scratch directory (SQLite file, key files, exports).
    pub dir: tempfile::TempDir,
    schema: Option<(String, String)>,
    /// Its schema is dropped with it (the harness drops the schemas of the databases it made).
    owned: bool,
}

/// What a case returns: its run, to be awaited on the suite's runtime.
pub type Fut = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A case of a suite, run once per backend with a fresh database.
pub type Case = fn(TestDb) -> Fut;

/// Another fresh database of the same backend as `db`, for a case that needs several; it is
/// removed when dropped.
pub async fn another(db: &TestDb) -> TestDb {
    match &db.schema {
        None => sqlite_db(),
        Some((base, _)) => {
            let mut other = postgres_db(base).await.unwrap_or_else(|e| panic!("{e}"));
            other.owned = true;
            other
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let (true, Some((base, schema))) = (self.owned, self.schema.take()) {
            // On a thread of its own: a test database may be dropped inside a runtime.
            let _ = std::thread::spawn(move || drop_schema_now(&base, &schema)).join();
        }
    }
}

impl TestDb {
    /// Runs `f` with a connection of its own to this PostgreSQL database.
    async fn with_client<T, F, Pending>(&self, f: F) -> T
    where
        F: FnOnce(tokio_postgres::Client) -> Pending,
        Pending: std::future::Future<Output = T>,
    {
        let (client, conn) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect: {e}"));
        let task = tokio::spawn(conn);
        let out = f(client).await;
        let _ = task.await;
        out
    }

    /// Runs SQL on the database directly, as someone with access to its files or its server
    /// would: for tests of what derbes notices.
    pub async fn execute(&self, sql: &str) {
        if self.backend == "sqlite" {
            let conn = rusqlite::Connection::open(&self.url)
                .unwrap_or_else(|e| panic!("cannot open {}: {e}", self.url));
            conn.busy_timeout(std::time::Duration::from_secs(10))
                .unwrap_or_else(|e| panic!("{e}"));
            conn.execute_batch(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
        } else {
            self.with_client(|client| async move {
                client
                    .batch_execute(sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            })
            .await;
        }
    }

    /// The bytes of every file that holds this database's rows, as someone who copies the
    /// files would find them: the SQLite file with its WAL; the files of every relation of the
    /// PostgreSQL schema, after a checkpoint has written what the server holds in memory.
    pub async fn raw_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut paths = Vec::new();
        if self.backend == "sqlite" {
            for suffix in ["", "-wal", "-journal"] {
                paths.push(std::path::PathBuf::from(format!("{}{suffix}", self.url)));
            }
        } else {
            let found = self
                .with_client(|client| async move {
                    client
                        .batch_execute("CHECKPOINT")
                        .await
                        .unwrap_or_else(|e| panic!("CHECKPOINT: {e}"));
                    let dir: String = client
                        .query_one("SHOW data_directory", &[])
                        .await
                        .unwrap_or_else(|e| panic!("{e}"))
                        .get(0);
                    let rows = client
                        .query(
                            "SELECT pg_relation_filepath(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE n.nspname = current_schema() AND pg_relation_filepath(c.oid) IS NOT NULL
                             UNION ALL
                             SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                             WHERE n.nspname = current_schema() AND c.reltoastrelid <> 0",
                            &[],
                        )
                        .await
                        .unwrap_or_else(|e| panic!("{e}"));
                    rows.iter()
                        .map(|r| std::path::Path::new(&dir).join(r.get::<_, String>(0)))
                        .collect::<Vec<_>>()
                })
                .await;
            paths.extend(found);
        }
        paths
            .into_iter()
            .filter_map(|p| Some((p.display().to_string(), std::fs::read(&p).ok()?)))
            .collect()
    }

    /// A byte string as a literal of this backend's SQL.
    pub fn bytes(&self, b: &[u8]) -> String {
        let hex = derbes_core::declaration::hex(b);
        if self.backend == "sqlite" {
            format!("X'{hex}'")
        } else {
            format!("'\\x{hex}'::bytea")
        }
    }

    /// Makes a database as a derbes from before the keyed chain left it: the schema of then,
    /// and `events` with their unkeyed hashes and the head signed with `head_mac` over the last
    /// one. (The events' `hash` is the legacy hash, and every event links to the one before.)
    pub async fn legacy(&self, events: &[derbes_core::audit::AuditEvent], head_mac: &str) {
        let migrations = if self.backend == "sqlite" {
            crate::sqlite::migrations_before_keyed_chain()
        } else {
            crate::postgres::migrations_before_keyed_chain()
        };
        let mut sql = String::from(
            "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL);\n",
        );
        for (version, text) in &migrations {
            sql.push_str(text);
            sql.push_str(&format!(
                ";\nINSERT INTO schema_migrations VALUES ({version}, 'then');\n"
            ));
        }
        let q = |s: &Option<String>| match s {
            Some(s) => format!("'{}'", s.replace('\'', "''")),
            None => "NULL".into(),
        };
        let mut prev = derbes_core::audit::GENESIS;
        for e in events {
            sql.push_str(&format!(
                "INSERT INTO audit_events (seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, prev_hash, hash) VALUES ({}, '{}', '{}', '{}', {}, {}, '{}', '{}', {}, {}, '{}', '{}');\n",
                e.seq,
                e.at,
                e.actor,
                e.action,
                q(&e.subject_id),
                q(&e.purpose),
                e.fields.join("\u{1f}"),
                e.outcome.as_str(),
                q(&e.reason),
                q(&e.details),
                derbes_core::declaration::hex(&prev),
                derbes_core::declaration::hex(&e.hash),
            ));
            prev = e.hash;
        }
        let last = events.last().map_or(0, |e| e.seq);
        sql.push_str(&format!(
            "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, {last}, '{}', '{head_mac}');\n",
            derbes_core::declaration::hex(&prev)
        ));
        self.execute(&sql).await;
    }
}

async fn postgres_db(base: &str) -> Result<TestDb, String> {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .map_err(|e| format!("cannot connect to {POSTGRES_ENV}: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let schema = format!("derbes_test_{}", uuid::Uuid::now_v7().simple());
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .map_err(|e| format!("cannot create a test schema: {e}"))?;
    let sep = if base.contains('?') { '&' } else { '?' };
    Ok(TestDb {
        backend: "postgres",
        url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
        dir: tempfile::tempdir().map_err(|e| e.to_string())?,
        schema: Some((base.to_owned(), schema)),
        owned: false,
    })
}

fn sqlite_db() -> TestDb {
    let dir =
        tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
    TestDb {
        backend: "sqlite",
        url: dir.path().join("derbes.db").display().to_string(),
        dir,
        schema: None,
        owned: false,
    }
}

/// Drops a test schema, outside any runtime.
fn drop_schema_now(base: &str, schema: &str) {
    if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        rt.block_on(drop_schema(base, schema));
    }
}

async fn drop_schema(base: &str, schema: &str) {
    if let Ok((client, conn)) = tokio_postgres::connect(base, tokio_postgres::NoTls).await {
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let _ = client
            .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
            .await;
    }
}

/// Runs every case on SQLite, then on PostgreSQL when configured. Prints one line per case and
/// a closing `N passed, M failed` line.
pub fn run_suite(suite: &str, cases: &[(&str, Case)]) -> ExitCode {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    let pg = std::env::var(POSTGRES_ENV).ok().filter(|s| !s.is_empty());
    let (mut passed, mut failed) = (0u32, 0u32);
    let mut backends = vec!["sqlite"];
    match &pg {
        Some(_) => backends.push("postgres"),
        None if ci => {
            println!("{suite}: {POSTGRES_ENV} is not set, but CI=true requires the PostgreSQL suite");
            failed += 1;
        }
        None => println!(
            "\n{suite}: PostgreSQL suite NOT RUN — set {POSTGRES_ENV}=postgres://postgres@127.0.0.1:5432/test to run it\n"
        ),
    }
    for backend in backends {
        for (name, case) in cases {
            // A runtime of its own for each case: what the case left running (a server, its
            // pool, the store's writer and listener) stops with it and gives its connections
            // back, so a long suite never runs the database out of them.
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    failed += 1;
                    println!(
                        "{suite} [{backend}] {name} ... FAILED\n    cannot start a runtime: {e}"
                    );
                    continue;
                }
            };
            let mut schema = None;
            let outcome = runtime.block_on(async {
                let db = if backend == "sqlite" {
                    sqlite_db()
                } else {
                    match postgres_db(pg.as_deref().unwrap_or_default()).await {
                        Ok(db) => db,
                        Err(e) => return Err(e),
                    }
                };
                schema.clone_from(&db.schema);
                tokio::spawn(case(db))
                    .await
                    .map_err(|e| match e.try_into_panic() {
                        Ok(p) => p
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_else(|| "panicked".into()),
                        Err(e) => e.to_string(),
                    })
            });
            runtime.shutdown_timeout(std::time::Duration::from_secs(10));
            // The schema goes once nothing of the case is left to hold a connection into it.
            if let Some((base, schema)) = schema {
                drop_schema_now(&base, &schema);
            }
            match outcome {
                Ok(()) => {
                    passed += 1;
                    println!("{suite} [{backend}] {name} ... ok");
                }
                Err(e) => {
                    failed += 1;
                    println!("{suite} [{backend}] {name} ... FAILED\n    {e}");
                }
            }
        }
    }
    println!("\n{suite}: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Every event of the chain in a SQLite database, as its rows hold them: for a test that
/// changes the file behind derbes' back.
pub fn sqlite_events(
    c: &rusqlite::Connection,
) -> Result<Vec<derbes_core::audit::AuditEvent>, crate::StoreError> {
    let columns = crate::audit::EVENT_COLUMNS;
    let mut stmt = c.prepare(&format!("SELECT {columns} FROM audit_events ORDER BY seq"))?;
    let rows = stmt.query_map([], crate::sqlite::raw_event)?;
    rows.map(|r| r?.event()).collect()
}

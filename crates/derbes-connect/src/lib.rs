//! derbes connectors: a data-subject request reaches into the operator's own databases.
//!
//! A [`SqlConnector`] is driven by a [`DatasetMap`]: access reads the mapped columns of every
//! row that reaches the subject; destruction deletes or masks them, in one transaction per
//! database, so that a failure leaves the database as it was. PostgreSQL, MariaDB/MySQL and
//! SQLite are supported. Error messages carry codes and names, never values.

pub mod map;

pub use map::{DatasetMap, LifecycleMap, MapProblem, Masking, TableMasking};

use serde::Serialize;
use std::fmt::Write as _;

/// Which kind of database a map's `database` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Mysql,
    Sqlite,
}

impl Backend {
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else if url.starts_with("mysql://") || url.starts_with("mariadb://") {
            Some(Backend::Mysql)
        } else if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else {
            None
        }
    }

    /// Quotes a checked identifier. SQLite takes backticks too, and unlike double quotes they
    /// never turn an unknown column into a string literal.
    fn quote(self, name: &str) -> String {
        let q = if self == Backend::Postgres { '"' } else { '`' };
        name.split('.')
            .map(|p| format!("{q}{p}{q}"))
            .collect::<Vec<_>>()
            .join(".")
    }

    fn as_text(self, expr: &str) -> String {
        match self {
            Backend::Mysql => format!("CAST({expr} AS CHAR)"),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// SHA-256 in hex of the column's text with a salt parameter, NULL kept NULL.
    fn hashed(self, column: &str, salt: &str) -> String {
        let text = self.as_text(column);
        let digest = match self {
            Backend::Postgres => {
                format!("encode(sha256(convert_to({text} || {salt}, 'UTF8')), 'hex')")
            }
            Backend::Mysql => format!("SHA2(CONCAT({text}, {salt}), 256)"),
            Backend::Sqlite => format!("derbes_sha256({text} || {salt})"),
        };
        format!("CASE WHEN {column} IS NULL THEN NULL ELSE {digest} END")
    }
}

/// How a statement finds the subject's rows.
enum Reach<'a> {
    /// By the identifier in the identity column (a subquery for the other tables).
    Identifier(&'a str),
    /// By the identity table's keys, read beforehand.
    Keys(&'a [String]),
}

/// What a destruction destroys of the subject.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Everything: rows deleted and columns masked as the map says.
    Whole,
    /// Only these declared fields (their retention ended, the subject stays): each column
    /// holding one of them is masked as the map says, or set to NULL in a table whose rows a
    /// whole destruction deletes; no row is deleted, no other column changes.
    Fields(&'a [String]),
}

impl Scope<'_> {
    /// What this destruction does to a column of `table`, if anything.
    fn masking(&self, table: &map::TableMap, column: &map::ColumnMap) -> Option<Masking> {
        match self {
            Scope::Whole => column.masking,
            Scope::Fields(fields) => {
                let field = column.field.as_ref()?;
                if !fields.contains(field) {
                    return None;
                }
                column
                    .masking
                    .or((table.masking == Some(TableMasking::DeleteRow)).then_some(Masking::Null))
            }
        }
    }
}

/// A statement with its parameters, all text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Statement {
    sql: String,
    params: Vec<String>,
}

impl Statement {
    fn new(backend: Backend) -> (Self, Backend) {
        (
            Statement {
                sql: String::new(),
                params: Vec::new(),
            },
            backend,
        )
    }

    /// Appends a placeholder for `value`.
    fn param(&mut self, backend: Backend, value: &str) -> String {
        self.params.push(value.to_owned());
        match backend {
            Backend::Postgres => format!("${}", self.params.len()),
            _ => "?".to_owned(),
        }
    }
}

/// The text a redacted column holds.
pub const REDACTED: &str = "[redacted]";

/// What the platform records of one user's lifecycle: days as `YYYY-MM-DD` as read (checked
/// when they are recorded), the reason as the platform words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRow {
    /// The value of the identity column.
    pub identifier: String,
    pub relationship_ended: Option<String>,
    pub reason: Option<String>,
    /// Purpose key and day.
    pub purposes_achieved: Vec<(String, String)>,
}

/// One table's rows of the subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableRows {
    pub table: String,
    pub columns: Vec<ColumnInfo>,
    pub rows: Vec<Vec<Option<String>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ColumnInfo {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// What a destruction did to one table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct TableOutcome {
    pub table: String,
    /// `deleted` or `masked`.
    pub action: String,
    pub rows: u64,
}

/// A connector that did not complete; the database is as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("connector `{connector}`: {problem}")]
pub struct ConnectorError {
    pub connector: String,
    pub problem: String,
}

/// A connector to one SQL database.
#[derive(Debug, Clone)]
pub struct SqlConnector {
    map: DatasetMap,
    backend: Backend,
}

impl SqlConnector {
    /// A connector for a checked map.
    pub fn new(map: DatasetMap) -> Result<Self, MapProblem> {
        let backend = Backend::of(&map.database).ok_or_else(|| MapProblem {
            place: "database".into(),
            problem: "is not a postgres://, mysql:// or sqlite: address".into(),
            fix: "see docs/connectors.md".into(),
        })?;
        Ok(SqlConnector { map, backend })
    }

    pub fn name(&self) -> &str {
        &self.map.name
    }

    pub fn map(&self) -> &DatasetMap {
        &self.map
    }

    /// The database, without credentials: for messages.
    pub fn describe(&self) -> String {
        let url = &self.map.database;
        let place = url.rsplit('@').next().unwrap_or(url);
        let place = place
            .split_once("://")
            .map_or(place, |(_, rest)| rest)
            .trim_start_matches("sqlite:");
        let kind = match self.backend {
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MariaDB/MySQL",
            Backend::Sqlite => "SQLite",
        };
        format!("{kind} at {}", place.split('?').next().unwrap_or(place))
    }

    fn fail(&self, problem: impl Into<String>) -> ConnectorError {
        ConnectorError {
            connector: self.map.name.clone(),
            problem: problem.into(),
        }
    }

    /// The condition that selects `table`'s rows of the subject.
    fn reach(&self, st: &mut Statement, table: &map::TableMap, reach: &Reach<'_>) -> String {
        let b = self.backend;
        let id = &self.map.identity;
        match reach {
            Reach::Identifier(identifier) => {
                let ph = st.param(b, identifier);
                match &table.reference {
                    None => format!("{} = {ph}", b.quote(&id.column)),
                    Some(r) => format!(
                        "{} IN (SELECT {} FROM {} WHERE {} = {ph})",
                        b.quote(r),
                        b.quote(&id.key),
                        b.quote(&id.table),
                        b.quote(&id.column)
                    ),
                }
            }
            Reach::Keys(keys) => {
                let list: Vec<String> = keys.iter().map(|k| st.param(b, k)).collect();
                let column = table.reference.as_deref().unwrap_or(&id.key);
                format!("{} IN ({})", b.quote(column), list.join(", "))
            }
        }
    }

    fn select(&self, table: &map::TableMap, identifier: &str) -> Statement {
        let (mut st, b) = Statement::new(self.backend);
        let columns: Vec<String> = table
            .columns
            .keys()
            .map(|c| b.as_text(&b.quote(c)))
            .collect();
        let cols = if columns.is_empty() {
            "1".to_owned()
        } else {
            columns.join(", ")
        };
        let cond = self.reach(&mut st, table, &Reach::Identifier(identifier));
        st.sql = format!("SELECT {cols} FROM {} WHERE {cond}", b.quote(&table.table));
        st
    }

    /// The statement a destruction runs on `table`, and what it does; `None` when it keeps
    /// every column.
    fn destroy_statement(
        &self,
        table: &map::TableMap,
        reach: &Reach<'_>,
        scope: Scope<'_>,
        salt: &str,
    ) -> Option<(Statement, &'static str)> {
        let (mut st, b) = Statement::new(self.backend);
        if table.masking == Some(TableMasking::DeleteRow) && matches!(scope, Scope::Whole) {
            let cond = self.reach(&mut st, table, reach);
            st.sql = format!("DELETE FROM {} WHERE {cond}", b.quote(&table.table));
            return Some((st, "deleted"));
        }
        let mut set = String::new();
        for (c, m) in &table.columns {
            let Some(masking) = scope.masking(table, m) else {
                continue;
            };
            let col = b.quote(c);
            let value = match masking {
                Masking::Null => "NULL".to_owned(),
                Masking::Redact => st.param(b, REDACTED),
                Masking::Hash => {
                    let ph = st.param(b, salt);
                    b.hashed(&col, &ph)
                }
            };
            if !set.is_empty() {
                set.push_str(", ");
            }
            let _ = write!(set, "{col} = {value}");
        }
        if set.is_empty() {
            return None;
        }
        let cond = self.reach(&mut st, table, reach);
        st.sql = format!("UPDATE {} SET {set} WHERE {cond}", b.quote(&table.table));
        Some((st, "masked"))
    }

    /// Every mapped row of the subject whose identity column holds `identifier`.
    pub async fn access(&self, identifier: &str) -> Result<Vec<TableRows>, ConnectorError> {
        let work: Vec<(Statement, String, usize)> = self
            .map
            .tables
            .iter()
            .map(|t| (self.select(t, identifier), t.table.clone(), t.columns.len()))
            .collect();
        let results = self.read(work).await?;
        Ok(self
            .map
            .tables
            .iter()
            .zip(results)
            .map(|(t, rows)| TableRows {
                table: t.table.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|(c, m)| ColumnInfo {
                        name: c.clone(),
                        field: m.field.clone(),
                    })
                    .collect(),
                rows,
            })
            .collect())
    }

    /// What the platform records of its users' lifecycles (the map's `[lifecycle]`): each row
    /// of the identity table with a day in one of the mapped columns, by its identifier. A
    /// timestamp counts by its date. Empty when the map has no `[lifecycle]`.
    pub async fn lifecycle(&self) -> Result<Vec<LifecycleRow>, ConnectorError> {
        let Some((st, n)) = self.lifecycle_statement("") else {
            return Ok(Vec::new());
        };
        let Some(life) = &self.map.lifecycle else {
            return Ok(Vec::new());
        };
        let achieved: Vec<&String> = life.purposes_achieved.keys().collect();
        let rows = self
            .read(vec![(st, self.map.identity.table.clone(), n)])
            .await?
            .pop()
            .unwrap_or_default();
        let day = |v: &Option<String>| v.as_deref().map(|d| d.chars().take(10).collect::<String>());
        Ok(rows
            .into_iter()
            .filter_map(|row| {
                let identifier = row.first()?.clone()?;
                let mut days = row[1..n - 1].iter();
                let relationship_ended = match life.relationship_ended {
                    Some(_) => days.next().and_then(day),
                    None => None,
                };
                let purposes_achieved = achieved
                    .iter()
                    .zip(days)
                    .filter_map(|(p, d)| Some(((*p).clone(), day(d)?)))
                    .collect();
                Some(LifecycleRow {
                    identifier,
                    relationship_ended,
                    reason: row[n - 1].clone(),
                    purposes_achieved,
                })
            })
            .collect())
    }

    /// Reads every mapped table and column once, the lifecycle columns included, for an
    /// identifier that matches nobody: the map and the database agree when this succeeds.
    /// Returns how many tables were read.
    pub async fn check(&self) -> Result<usize, ConnectorError> {
        let tables = self.access("\u{1}derbes-connector-check").await?.len();
        if let Some((st, n)) = self.lifecycle_statement(" AND 1 = 0") {
            self.read(vec![(st, self.map.identity.table.clone(), n)])
                .await?;
        }
        Ok(tables)
    }

    /// The statement reading the lifecycle columns (identifier, days, reason) with `extra`
    /// appended to its condition, and its number of columns.
    fn lifecycle_statement(&self, extra: &str) -> Option<(Statement, usize)> {
        let life = self.map.lifecycle.as_ref()?;
        let b = self.backend;
        let id = &self.map.identity;
        let achieved: Vec<(&String, &String)> = life.purposes_achieved.iter().collect();
        let dated: Vec<&str> = life
            .relationship_ended
            .iter()
            .map(String::as_str)
            .chain(achieved.iter().map(|(_, c)| c.as_str()))
            .collect();
        let mut columns = vec![b.as_text(&b.quote(&id.column))];
        columns.extend(dated.iter().map(|c| b.as_text(&b.quote(c))));
        columns.push(match &life.reason {
            Some(r) => b.as_text(&b.quote(r)),
            None => "NULL".to_owned(),
        });
        let any: Vec<String> = dated
            .iter()
            .map(|c| format!("{} IS NOT NULL", b.quote(c)))
            .collect();
        let (mut st, _) = Statement::new(b);
        st.sql = format!(
            "SELECT {} FROM {} WHERE {} IS NOT NULL AND ({}){extra}",
            columns.join(", "),
            b.quote(&id.table),
            b.quote(&id.column),
            any.join(" OR ")
        );
        Some((st, columns.len()))
    }

    /// Runs `work` (statement, table, number of columns) and returns each one's rows, all
    /// values as text.
    async fn read(
        &self,
        work: Vec<(Statement, String, usize)>,
    ) -> Result<Vec<Vec<Vec<Option<String>>>>, ConnectorError> {
        match self.backend {
            Backend::Postgres => {
                let client = self.postgres().await?;
                let mut out = Vec::new();
                for (st, table, n) in &work {
                    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = st
                        .params
                        .iter()
                        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect();
                    let rows = client
                        .query(&st.sql, &params)
                        .await
                        .map_err(|e| self.fail(pg_problem(table, &e)))?;
                    out.push(
                        rows.iter()
                            .map(|r| (0..*n).map(|i| r.get::<_, Option<String>>(i)).collect())
                            .collect::<Vec<_>>(),
                    );
                }
                Ok(out)
            }
            Backend::Mysql => {
                let url = self.map.database.clone();
                let name = self.map.name.clone();
                tokio::task::spawn_blocking(move || mysql_access(&url, &work))
                    .await
                    .map_err(|_| self.fail("the database task failed"))?
                    .map_err(|problem| ConnectorError {
                        connector: name,
                        problem,
                    })
            }
            Backend::Sqlite => {
                let path = self.sqlite_path();
                tokio::task::spawn_blocking(move || sqlite_access(&path, &work))
                    .await
                    .map_err(|_| self.fail("the database task failed"))?
                    .map_err(|p| self.fail(p))
            }
        }
    }

    /// Deletes and masks the subject's rows in one transaction; on any failure nothing changes.
    pub async fn destroy(&self, identifier: &str) -> Result<Vec<TableOutcome>, ConnectorError> {
        self.destroy_scope(identifier, Scope::Whole).await
    }

    /// Masks the columns holding `fields` in the subject's rows, in one transaction; on any
    /// failure nothing changes. Tables holding none of them are not touched.
    pub async fn destroy_fields(
        &self,
        identifier: &str,
        fields: &[String],
    ) -> Result<Vec<TableOutcome>, ConnectorError> {
        self.destroy_scope(identifier, Scope::Fields(fields)).await
    }

    async fn destroy_scope(
        &self,
        identifier: &str,
        scope: Scope<'_>,
    ) -> Result<Vec<TableOutcome>, ConnectorError> {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| self.fail("no randomness for the salt"))?;
        let salt: String = salt.iter().map(|b| format!("{b:02x}")).collect();
        let reach = Reach::Identifier(identifier);
        let statements: Vec<(Statement, &'static str, String)> = self
            .map
            .destruction_order()
            .filter_map(|t| {
                self.destroy_statement(t, &reach, scope, &salt)
                    .map(|(s, what)| (s, what, t.table.clone()))
            })
            .collect();
        let counts = match self.backend {
            Backend::Postgres => {
                let mut client = self.postgres().await?;
                let tx = client
                    .transaction()
                    .await
                    .map_err(|e| self.fail(pg_problem("", &e)))?;
                let mut counts = Vec::new();
                for (st, _, table) in &statements {
                    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = st
                        .params
                        .iter()
                        .map(|p| p as &(dyn tokio_postgres::types::ToSql + Sync))
                        .collect();
                    counts.push(
                        tx.execute(&st.sql, &params)
                            .await
                            .map_err(|e| self.fail(pg_problem(table, &e)))?,
                    );
                }
                tx.commit()
                    .await
                    .map_err(|e| self.fail(pg_problem("", &e)))?;
                counts
            }
            // MariaDB/MySQL deletes by the keys it reads first, not by these statements.
            Backend::Mysql => {
                let fields = match scope {
                    Scope::Whole => None,
                    Scope::Fields(f) => Some(f.to_vec()),
                };
                return self.mysql_destroy_blocking(identifier, fields, salt).await;
            }
            Backend::Sqlite => {
                let path = self.sqlite_path();
                let work: Vec<(Statement, String)> = statements
                    .iter()
                    .map(|(s, _, t)| (s.clone(), t.clone()))
                    .collect();
                tokio::task::spawn_blocking(move || sqlite_destroy(&path, &work))
                    .await
                    .map_err(|_| self.fail("the database task failed"))?
                    .map_err(|p| self.fail(p))?
            }
        };
        Ok(statements
            .iter()
            .zip(counts)
            .map(|((_, action, table), rows)| TableOutcome {
                table: table.clone(),
                action: (*action).to_owned(),
                rows,
            })
            .collect())
    }

    /// The destruction on MariaDB/MySQL, off the async threads. MariaDB runs `IN (subquery)` in
    /// an UPDATE or DELETE as a dependent subquery, row by row over the whole table; the identity
    /// keys are read first (locked) instead.
    async fn mysql_destroy_blocking(
        &self,
        identifier: &str,
        fields: Option<Vec<String>>,
        salt: String,
    ) -> Result<Vec<TableOutcome>, ConnectorError> {
        let this = self.clone();
        let identifier = identifier.to_owned();
        tokio::task::spawn_blocking(move || {
            let scope = fields.as_deref().map_or(Scope::Whole, Scope::Fields);
            this.mysql_destroy(&identifier, scope, &salt)
        })
        .await
        .map_err(|_| self.fail("the database task failed"))?
        .map_err(|p| self.fail(p))
    }

    /// The destruction on MariaDB/MySQL: the identity keys first, then every table by key.
    fn mysql_destroy(
        &self,
        identifier: &str,
        scope: Scope<'_>,
        salt: &str,
    ) -> Result<Vec<TableOutcome>, String> {
        use mysql::prelude::Queryable;
        let b = self.backend;
        let id = &self.map.identity;
        let mut conn = mysql_conn(&self.map.database)?;
        let mut tx = conn
            .start_transaction(mysql::TxOpts::default())
            .map_err(|e| mysql_problem("", &e))?;
        let keys: Vec<Option<String>> = tx
            .exec(
                format!(
                    "SELECT {} FROM {} WHERE {} = ? FOR UPDATE",
                    b.as_text(&b.quote(&id.key)),
                    b.quote(&id.table),
                    b.quote(&id.column)
                ),
                (identifier,),
            )
            .map_err(|e| mysql_problem(&id.table, &e))?;
        let keys: Vec<String> = keys.into_iter().flatten().collect();
        let reach = Reach::Keys(&keys);
        let mut out = Vec::new();
        for t in self.map.destruction_order() {
            let Some((st, action)) = self.destroy_statement(t, &reach, scope, salt) else {
                continue;
            };
            let rows = if keys.is_empty() {
                0
            } else {
                tx.exec_drop(&st.sql, mysql_params(&st))
                    .map_err(|e| mysql_problem(&t.table, &e))?;
                tx.affected_rows()
            };
            out.push(TableOutcome {
                table: t.table.clone(),
                action: action.to_owned(),
                rows,
            });
        }
        // Dropped without commit on any error above: MariaDB rolls the transaction back.
        tx.commit().map_err(|e| mysql_problem("", &e))?;
        Ok(out)
    }

    async fn postgres(&self) -> Result<tokio_postgres::Client, ConnectorError> {
        let (client, connection) =
            tokio_postgres::connect(&self.map.database, tokio_postgres::NoTls)
                .await
                .map_err(|e| {
                    self.fail(format!(
                        "cannot connect to {}: {}",
                        self.describe(),
                        pg_problem("", &e)
                    ))
                })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    fn sqlite_path(&self) -> std::path::PathBuf {
        let p = self.map.database.trim_start_matches("sqlite:");
        std::path::PathBuf::from(p.strip_prefix("//").unwrap_or(p))
    }
}

/// A PostgreSQL error as code and message: the server's message names constraints and types,
/// while its `detail` (which can quote values) is left out.
fn pg_problem(table: &str, e: &tokio_postgres::Error) -> String {
    let what = match e.as_db_error() {
        Some(d) => format!("{} (SQLSTATE {})", d.message(), d.code().code()),
        None => e.to_string(),
    };
    if table.is_empty() {
        what
    } else {
        format!("table `{table}`: {what}")
    }
}

/// A MariaDB/MySQL error without values: a server error by its code and state only (its
/// message can quote a duplicate value).
fn mysql_problem(table: &str, e: &mysql::Error) -> String {
    let what = match e {
        mysql::Error::MySqlError(m) => format!("MySQL error {} (SQLSTATE {})", m.code, m.state),
        mysql::Error::UrlError(_) => "the database address is not valid".to_owned(),
        other => other.to_string(),
    };
    if table.is_empty() {
        what
    } else {
        format!("table `{table}`: {what}")
    }
}

fn mysql_conn(url: &str) -> Result<mysql::Conn, String> {
    let url = url.replacen("mariadb://", "mysql://", 1);
    let opts =
        mysql::Opts::from_url(&url).map_err(|_| "the database address is not valid".to_owned())?;
    mysql::Conn::new(opts).map_err(|e| format!("cannot connect: {}", mysql_problem("", &e)))
}

fn mysql_access(
    url: &str,
    work: &[(Statement, String, usize)],
) -> Result<Vec<Vec<Vec<Option<String>>>>, String> {
    use mysql::prelude::Queryable;
    let mut conn = mysql_conn(url)?;
    let mut out = Vec::new();
    for (st, table, n) in work {
        let rows: Vec<mysql::Row> = conn
            .exec(&st.sql, mysql_params(st))
            .map_err(|e| mysql_problem(table, &e))?;
        out.push(
            rows.into_iter()
                .map(|mut r| {
                    (0..*n)
                        .map(|i| match r.take_opt::<Option<String>, _>(i) {
                            None => Ok(None),
                            Some(v) => v.map_err(|_| {
                                // The column and its place, never the value.
                                format!("{table}: column {} is not text", i + 1)
                            }),
                        })
                        .collect::<Result<Vec<_>, String>>()
                })
                .collect::<Result<Vec<_>, String>>()?,
        );
    }
    Ok(out)
}

fn mysql_params(st: &Statement) -> mysql::Params {
    mysql::Params::Positional(st.params.iter().map(|p| p.as_str().into()).collect())
}

fn sqlite_conn(path: &std::path::Path) -> Result<rusqlite::Connection, String> {
    use rusqlite::functions::FunctionFlags;
    use sha2::Digest;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    conn.create_scalar_function(
        "derbes_sha256",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let text: String = ctx.get(0)?;
            let digest = sha2::Sha256::digest(text.as_bytes());
            Ok(digest
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>())
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(conn)
}

fn sqlite_access(
    path: &std::path::Path,
    work: &[(Statement, String, usize)],
) -> Result<Vec<Vec<Vec<Option<String>>>>, String> {
    let conn = sqlite_conn(path)?;
    let mut out = Vec::new();
    for (st, table, n) in work {
        let mut stmt = conn
            .prepare(&st.sql)
            .map_err(|e| format!("table `{table}`: {e}"))?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(st.params.iter()), |r| {
                (0..*n).map(|i| r.get::<_, Option<String>>(i)).collect()
            })
            .map_err(|e| format!("table `{table}`: {e}"))?
            .collect::<Result<Vec<Vec<Option<String>>>, _>>()
            .map_err(|e| format!("table `{table}`: {e}"))?;
        out.push(rows);
    }
    Ok(out)
}

fn sqlite_destroy(
    path: &std::path::Path,
    work: &[(Statement, String)],
) -> Result<Vec<u64>, String> {
    let mut conn = sqlite_conn(path)?;
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    let mut counts = Vec::new();
    for (st, table) in work {
        counts.push(
            tx.execute(&st.sql, rusqlite::params_from_iter(st.params.iter()))
                .map_err(|e| format!("table `{table}`: {e}"))? as u64,
        );
    }
    tx.commit().map_err(|e| e.to_string())?;
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(database: &str) -> SqlConnector {
        let text = map::tests::SAMPLE.replace("postgres://derbes@127.0.0.1/test", database);
        SqlConnector::new(DatasetMap::parse(&text, |_| true, |_| true).unwrap()).unwrap()
    }

    #[test]
    fn statements_quote_names_and_bind_every_value() {
        let pg = connector("postgres://u:secret@db.kz:5432/lms");
        let users = &pg.map.tables[1];
        let st = pg.select(users, "061211600012");
        assert_eq!(
            st.sql,
            r#"SELECT CAST("iin" AS TEXT), CAST("full_name" AS TEXT), CAST("created_at" AS TEXT) FROM "users" WHERE "iin" = $1"#
        );
        assert_eq!(st.params, ["061211600012"]);
        let (st, what) = pg
            .destroy_statement(
                &pg.map.tables[0],
                &Reach::Identifier("x"),
                Scope::Whole,
                "s",
            )
            .unwrap();
        assert_eq!(what, "deleted");
        assert_eq!(
            st.sql,
            r#"DELETE FROM "enrolments" WHERE "user_id" IN (SELECT "id" FROM "users" WHERE "iin" = $1)"#
        );
        let (st, _) = pg
            .destroy_statement(users, &Reach::Identifier("x"), Scope::Whole, "salt")
            .unwrap();
        assert!(
            st.sql
                .starts_with(r#"UPDATE "users" SET "iin" = CASE WHEN "iin" IS NULL"#),
            "{}",
            st.sql
        );
        assert!(
            st.sql.ends_with(r#""full_name" = $2 WHERE "iin" = $3"#),
            "{}",
            st.sql
        );
        assert_eq!(st.params, ["salt", REDACTED, "x"]);
        assert_eq!(pg.describe(), "PostgreSQL at db.kz:5432/lms");

        let my = connector("mysql://root@127.0.0.1:3306/test");
        let (st, _) = my
            .destroy_statement(
                &my.map.tables[1],
                &Reach::Keys(&["7".to_owned(), "9".to_owned()]),
                Scope::Whole,
                "salt",
            )
            .unwrap();
        assert!(
            st.sql.contains("SHA2(CONCAT(CAST(`iin` AS CHAR), ?), 256)"),
            "{}",
            st.sql
        );
        assert!(st.sql.ends_with("WHERE `id` IN (?, ?)"), "{}", st.sql);
        assert_eq!(st.params, ["salt", REDACTED, "7", "9"]);
        let (st, _) = my
            .destroy_statement(
                &my.map.tables[0],
                &Reach::Keys(&["7".to_owned()]),
                Scope::Whole,
                "salt",
            )
            .unwrap();
        assert_eq!(st.sql, "DELETE FROM `enrolments` WHERE `user_id` IN (?)");
        assert_eq!(my.describe(), "MariaDB/MySQL at 127.0.0.1:3306/test");
    }

    #[test]
    fn a_destruction_of_fields_masks_only_their_columns_and_deletes_no_row() {
        let map = map::tests::SAMPLE.replace(
            "columns.course = {}",
            "columns.course = {}\ncolumns.teacher = { field = \"surname\" }",
        );
        let pg = SqlConnector::new(DatasetMap::parse(&map, |_| true, |_| true).unwrap()).unwrap();
        let surname = ["surname".to_owned()];
        let reach = Reach::Identifier("x");
        // A table whose rows a whole destruction deletes: the column set to NULL, the row kept.
        let (st, what) = pg
            .destroy_statement(&pg.map.tables[0], &reach, Scope::Fields(&surname), "s")
            .unwrap();
        assert_eq!(what, "masked");
        assert!(
            st.sql
                .starts_with(r#"UPDATE "enrolments" SET "teacher" = NULL WHERE"#),
            "{}",
            st.sql
        );
        // The identity table: only the surname's column, masked as the map says.
        let (st, _) = pg
            .destroy_statement(&pg.map.tables[1], &reach, Scope::Fields(&surname), "s")
            .unwrap();
        assert_eq!(
            st.sql,
            r#"UPDATE "users" SET "full_name" = $1 WHERE "iin" = $2"#
        );
        // A field no column holds: nothing to run.
        let email = ["email".to_owned()];
        assert!(pg.map.tables.iter().all(|t| pg
            .destroy_statement(t, &reach, Scope::Fields(&email), "s")
            .is_none()));
    }
}

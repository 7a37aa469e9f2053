//! The PostgreSQL store: one writer connection committing groups (the audit head row is locked
//! `FOR UPDATE` so several derbes processes chain events in one order), a pool for reads.

mod accounts;
mod audit;
mod declarations;
mod depersonalized;
mod destructions;
mod job_runs;
mod keys;
mod packages;
mod requests;
mod retention_batches;
mod retention_scans;
mod subject_state;
mod subjects;
mod tokens;
mod webhooks;

use crate::backend::*;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use std::collections::HashMap;
use subjects::subject_row;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// A statement's parameters.
type SqlParams<'a> = &'a [&'a (dyn tokio_postgres::types::ToSql + Sync)];

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/postgres/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/postgres/0002_consents.sql"),
    ),
    (
        3,
        include_str!("../../migrations/postgres/0003_obligations.sql"),
    ),
    (
        4,
        include_str!("../../migrations/postgres/0004_state_changes.sql"),
    ),
    (
        5,
        include_str!("../../migrations/postgres/0005_requests.sql"),
    ),
    (
        6,
        include_str!("../../migrations/postgres/0006_destructions.sql"),
    ),
    (
        7,
        include_str!("../../migrations/postgres/0007_webhook_jobs.sql"),
    ),
    (
        8,
        include_str!("../../migrations/postgres/0008_consents_by_purpose.sql"),
    ),
    (
        9,
        include_str!("../../migrations/postgres/0009_keyed_audit.sql"),
    ),
    (
        10,
        include_str!("../../migrations/postgres/0010_subject_keys.sql"),
    ),
    (
        11,
        include_str!("../../migrations/postgres/0011_token_lifecycle.sql"),
    ),
    (
        12,
        include_str!("../../migrations/postgres/0012_audit_segments.sql"),
    ),
    (
        13,
        include_str!("../../migrations/postgres/0013_job_runs.sql"),
    ),
    (
        14,
        include_str!("../../migrations/postgres/0014_accounts.sql"),
    ),
    (
        15,
        include_str!("../../migrations/postgres/0015_requests_by_status.sql"),
    ),
    (
        16,
        include_str!("../../migrations/postgres/0016_majority_reconfirmations.sql"),
    ),
    (
        17,
        include_str!("../../migrations/postgres/0017_reconfirmations_unsettled.sql"),
    ),
    (
        18,
        include_str!("../../migrations/postgres/0018_guardians_months.sql"),
    ),
    (
        19,
        include_str!("../../migrations/postgres/0019_request_categories.sql"),
    ),
    (
        20,
        include_str!("../../migrations/postgres/0020_declaration_in_force.sql"),
    ),
    (
        21,
        include_str!("../../migrations/postgres/0021_lifecycle_events.sql"),
    ),
    (
        22,
        include_str!("../../migrations/postgres/0022_field_collected.sql"),
    ),
    (
        23,
        include_str!("../../migrations/postgres/0023_retention_scans.sql"),
    ),
    (
        24,
        include_str!("../../migrations/postgres/0024_legal_holds.sql"),
    ),
    (
        25,
        include_str!("../../migrations/postgres/0025_retention_batches.sql"),
    ),
    (
        26,
        include_str!("../../migrations/postgres/0026_depersonalized.sql"),
    ),
];

/// The channel on which a revocation is announced to every derbes on the database.
const TOKEN_CHANNEL: &str = "derbes_tokens";

/// The migrations of a database written before the chain was keyed (for tests of the upgrade).
#[cfg(feature = "testing")]
pub(crate) fn migrations_before_keyed_chain() -> Vec<(i64, &'static str)> {
    MIGRATIONS
        .iter()
        .copied()
        .take_while(|(v, _)| *v < KEYED_CHAIN)
        .collect()
}

/// The migration after which a new database's chain is started (see [`start_chain`]).
const KEYED_CHAIN: i64 = 9;
const POOL_SIZE: usize = 16;

pub struct PostgresStore {
    tx: mpsc::Sender<Job>,
    pool: Pool,
    chain: Arc<ChainState>,
    tokens: Arc<TokenWatch>,
}

/// The channel the listener sends itself a heartbeat on, to know that it still hears.
const ALIVE_CHANNEL: &str = "derbes_tokens_alive";

/// How often the listener proves that its connection still delivers notifications.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(1);

/// How long after the last heartbeat heard the cache is still trusted: a connection that went
/// silent (a half-open TCP connection delivers nothing and reports no error) stops it soon.
const HEARD_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// What this process has heard of revocations: a count of announcements, and whether it is
/// listening now and heard its own heartbeat lately (otherwise nothing may be trusted from a
/// cache).
struct TokenWatch {
    generation: std::sync::atomic::AtomicU64,
    listening: std::sync::atomic::AtomicBool,
    /// Milliseconds from `start` to the last heartbeat heard.
    heard_at: std::sync::atomic::AtomicU64,
    start: std::time::Instant,
}

impl Default for TokenWatch {
    fn default() -> Self {
        Self {
            generation: Default::default(),
            listening: Default::default(),
            heard_at: Default::default(),
            start: std::time::Instant::now(),
        }
    }
}

impl TokenWatch {
    fn millis(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    fn heard(&self) {
        self.heard_at
            .store(self.millis(), std::sync::atomic::Ordering::Release);
    }

    /// The count of revocations heard, when the cache may be trusted: while listening, with a
    /// heartbeat heard within `HEARD_WITHIN`.
    fn trusted_generation(&self) -> Option<u64> {
        use std::sync::atomic::Ordering;
        let since = self
            .millis()
            .saturating_sub(self.heard_at.load(Ordering::Acquire));
        let fresh = u128::from(since) <= HEARD_WITHIN.as_millis();
        (self.listening.load(Ordering::Acquire) && fresh)
            .then(|| self.generation.load(Ordering::Acquire))
    }
}

/// Listens for revocations on a connection of its own, reconnecting when it is lost.
async fn watch_tokens(config: tokio_postgres::Config, watch: Arc<TokenWatch>) {
    use std::sync::atomic::Ordering;
    use tokio_postgres::AsyncMessage;
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            let heard = Arc::clone(&watch);
            let mut driver = tokio::spawn(async move {
                while let Some(m) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    match m {
                        Ok(AsyncMessage::Notification(n)) if n.channel() == ALIVE_CHANNEL => {
                            heard.heard();
                        }
                        Ok(AsyncMessage::Notification(_)) => {
                            heard.generation.fetch_add(1, Ordering::AcqRel);
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
            let statement = format!("LISTEN {TOKEN_CHANNEL}; LISTEN {ALIVE_CHANNEL}");
            let listen = client.batch_execute(&statement);
            if !matches!(tokio::time::timeout(HEARD_WITHIN, listen).await, Ok(Ok(()))) {
                // Not listening: connect anew (meanwhile every token is read from the store).
                driver.abort();
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                continue;
            }
            // Anything cached before now was checked before this listener heard: drop it.
            watch.generation.fetch_add(1, Ordering::AcqRel);
            watch.heard();
            watch.listening.store(true, Ordering::Release);
            // The heartbeat: a notification to itself every second. When one is not answered
            // in time, the connection is given up and made anew.
            let beat = format!("NOTIFY {ALIVE_CHANNEL}");
            let heartbeat = async {
                loop {
                    tokio::time::sleep(HEARTBEAT).await;
                    let notify = client.batch_execute(&beat);
                    if !matches!(tokio::time::timeout(HEARD_WITHIN, notify).await, Ok(Ok(()))) {
                        break;
                    }
                }
            };
            tokio::select! {
                _ = &mut driver => {}
                () = heartbeat => driver.abort(),
            }
            watch.listening.store(false, Ordering::Release);
            watch.generation.fetch_add(1, Ordering::AcqRel);
            drop(client);
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

async fn connect(config: &tokio_postgres::Config) -> Result<Client, StoreError> {
    let (client, connection) = config
        .connect(NoTls)
        .await
        .map_err(|e| StoreError::Open(format!("cannot connect to PostgreSQL: {e}")))?;
    tokio::spawn(async move {
        // The connection ends when the client is dropped or the server goes away; the writer
        // notices through `is_closed` and reconnects.
        let _ = connection.await;
    });
    Ok(client)
}

/// The writer's connection: its statements are short and run thousands of times a second, so
/// generic plans (planned once) beat custom plans (planned at every execution).
async fn connect_writer(config: &tokio_postgres::Config) -> Result<Client, StoreError> {
    let client = connect(config).await?;
    client
        .batch_execute("SET plan_cache_mode = force_generic_plan")
        .await?;
    Ok(client)
}

async fn migrate(client: &Client, keys: &dyn ChainKeys) -> Result<(), StoreError> {
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at TEXT NOT NULL)")
        .await?;
    for (version, sql) in MIGRATIONS {
        client
            .batch_execute("BEGIN; LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            .await?;
        let done = client
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )
            .await?
            .is_some();
        let result = if done {
            Ok(())
        } else {
            match client.batch_execute(sql).await {
                Ok(()) => match client
                    .execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                        &[version, &now()],
                    )
                    .await
                {
                    Ok(_) if *version == KEYED_CHAIN => start_chain(client, keys).await,
                    Ok(_) => Ok(()),
                    Err(e) => Err(e.into()),
                },
                Err(e) => Err(e.into()),
            }
        };
        match result {
            Ok(()) => client.batch_execute("COMMIT").await?,
            Err(e) => {
                let _ = client.batch_execute("ROLLBACK").await;
                return Err(StoreError::Open(format!("migration {version} failed: {e}")));
            }
        }
    }
    Ok(())
}

/// Starts the chain of a new database with its start event, its signed head and checkpoint 1, in
/// the transaction of the migration that keys the chain (another derbes opening the same database
/// meanwhile waits for it). A database that already has events, or had a head signed by an
/// earlier derbes, is left as it is.
async fn start_chain(client: &Client, keys: &dyn ChainKeys) -> Result<(), StoreError> {
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM audit_events), (SELECT coalesce(max(seq), 0) FROM audit_head_v1)",
            &[],
        )
        .await?;
    if row.get::<_, i64>(0) > 0 || row.get::<_, i64>(1) > 0 {
        return Ok(());
    }
    let e = crate::chain::start_event("postgres", keys);
    client
        .execute(
            "INSERT INTO audit_events (seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, hash)
             VALUES ($1, $2, $3, $4, NULL, NULL, '', $5, NULL, $6, $7)",
            &[&e.seq, &e.at, &e.actor, &e.action, &e.outcome.as_str(), &e.details, &&e.hash[..]],
        )
        .await?;
    client
        .execute(
            "UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1",
            &[&e.seq, &&e.hash[..], &&keys.head_mac(e.seq, &e.hash)[..]],
        )
        .await?;
    insert_checkpoint(client, &Checkpoint::sign(1, 1, e.hash, e.at, 0, keys)).await
}

async fn insert_checkpoint(client: &Client, c: &Checkpoint) -> Result<(), StoreError> {
    client
        .execute(
            &format!("INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[&c.n, &c.seq, &&c.hash[..], &c.at, &c.legacy_until, &c.signature],
        )
        .await?;
    Ok(())
}

fn segment_from_row(r: &Row) -> Result<Segment, StoreError> {
    crate::segment_of((
        r.get(0),
        r.get(1),
        r.get(2),
        r.get(3),
        r.get(4),
        r.get(5),
        r.get(6),
        r.get(7),
        r.get(8),
    ))
}

fn checkpoint_from_row(r: &Row) -> Result<Checkpoint, StoreError> {
    crate::checkpoint_of((r.get(0), r.get(1), r.get(2), r.get(3), r.get(4), r.get(5)))
}

impl PostgresStore {
    /// Connects, applies migrations and starts the writer task. The writer appends nothing until
    /// the chain is verified ([`crate::open`] does that).
    pub async fn open(url: &str, keys: Keys, policy: ChainPolicy) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url
            .parse()
            .map_err(|e| StoreError::Open(format!("the PostgreSQL URL is not valid: {e}")))?;
        let client = connect_writer(&config).await?;
        migrate(&client, keys.as_ref()).await?;
        // The readers plan each statement once too: a statement on the partitioned key table
        // would otherwise be planned anew at every execution (custom plans prune partitions,
        // and cost 0.8 ms of planning for a 0.1 ms read, measured).
        let mut readers = config.clone();
        let options = match config.get_options() {
            Some(o) if !o.is_empty() => format!("{o} -c plan_cache_mode=force_generic_plan"),
            _ => "-c plan_cache_mode=force_generic_plan".to_owned(),
        };
        readers.options(&options);
        let manager = Manager::from_config(
            readers,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Open(e.to_string()))?;
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_GROUP);
        let chain = Arc::new(ChainState::new());
        let writer = Writer {
            config,
            client,
            statements: HashMap::new(),
            chain: Chain {
                keys,
                state: Arc::clone(&chain),
                policy,
            },
            pending: Vec::new(),
            groups: 0,
            head: (0, [0; 32]),
            at: time::OffsetDateTime::UNIX_EPOCH,
            rewrite: Vec::new(),
            changes: Vec::new(),
            rewrite_all: false,
        };
        let listen = writer.config.clone();
        tokio::spawn(writer.run(rx));
        let tokens = Arc::new(TokenWatch::default());
        tokio::spawn(watch_tokens(listen, Arc::clone(&tokens)));
        Ok(Self {
            tx,
            pool,
            chain,
            tokens,
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool
            .get()
            .await
            .map_err(|e| StoreError::Backend(e.to_string()))
    }

    /// The rows of one statement, run on a pooled connection (which prepares it once).
    async fn rows(&self, sql: &str, params: SqlParams<'_>) -> Result<Vec<Row>, StoreError> {
        let c = self.client().await?;
        let s = c.prepare_cached(sql).await?;
        Ok(c.query(&s, params).await?)
    }

    /// The row of one statement that reads at most one.
    async fn row(&self, sql: &str, params: SqlParams<'_>) -> Result<Option<Row>, StoreError> {
        let c = self.client().await?;
        let s = c.prepare_cached(sql).await?;
        Ok(c.query_opt(&s, params).await?)
    }
}

struct Writer {
    config: tokio_postgres::Config,
    client: Client,
    statements: HashMap<&'static str, Statement>,
    chain: Chain,
    /// Audit events of the group being committed, inserted together before COMMIT.
    pending: Vec<AuditEvent>,
    /// Groups committed, to prune the feed of state changes now and then.
    groups: u64,
    /// Partitions of `subject_keys` that held a key destroyed in the group being committed.
    rewrite: Vec<String>,
    /// The feed's entries (sequence, subject) of the group being committed.
    changes: Vec<(i64, Uuid)>,
    /// Whether every partition is to be rewritten after the commit (a batch's end).
    rewrite_all: bool,
    /// The chain's head as the group being committed has extended it so far.
    head: (i64, Hash),
    /// When the group being committed is written: every event of the group carries it.
    at: time::OffsetDateTime,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.recv().await {
            let mut jobs = vec![first];
            drain(&mut rx, &mut jobs);
            let (ops, replies): (Vec<WriteOp>, Vec<_>) = jobs.into_iter().unzip();
            let results = self.commit_group(ops).await;
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(result);
            }
        }
    }

    async fn prep(&mut self, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    /// `sqls`, prepared (once per connection), to send together.
    async fn prep_all(&mut self, sqls: &[&'static str]) -> Result<Vec<Statement>, StoreError> {
        let mut prepared = Vec::with_capacity(sqls.len());
        for sql in sqls {
            prepared.push(self.prep(sql).await?);
        }
        Ok(prepared)
    }

    /// Runs a statement of the group's transaction (prepared once per connection): the rows
    /// it changed.
    async fn execute(
        &mut self,
        sql: &'static str,
        params: SqlParams<'_>,
    ) -> Result<u64, StoreError> {
        let s = self.prep(sql).await?;
        Ok(self.client.execute(&s, params).await?)
    }

    /// The row a query of the group's transaction finds, if any.
    async fn query_opt(
        &mut self,
        sql: &'static str,
        params: SqlParams<'_>,
    ) -> Result<Option<Row>, StoreError> {
        let s = self.prep(sql).await?;
        Ok(self.client.query_opt(&s, params).await?)
    }

    /// The one row a query of the group's transaction finds.
    async fn query_one(
        &mut self,
        sql: &'static str,
        params: SqlParams<'_>,
    ) -> Result<Row, StoreError> {
        let s = self.prep(sql).await?;
        Ok(self.client.query_one(&s, params).await?)
    }

    /// The rows a query of the group's transaction finds.
    async fn query(
        &mut self,
        sql: &'static str,
        params: SqlParams<'_>,
    ) -> Result<Vec<Row>, StoreError> {
        let s = self.prep(sql).await?;
        Ok(self.client.query(&s, params).await?)
    }

    async fn commit_group(&mut self, ops: Vec<WriteOp>) -> Vec<Result<Applied, StoreError>> {
        let n = ops.len();
        let fail_all = |e: StoreError| crate::fail_each(n, &e);
        if self.client.is_closed() {
            match connect_writer(&self.config).await {
                Ok(c) => {
                    self.client = c;
                    self.statements.clear();
                }
                Err(e) => return fail_all(e),
            }
        }
        let anchor = match self.begin().await {
            Ok(a) => a,
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                return fail_all(e);
            }
        };
        self.head = (anchor.seq, anchor.hash);
        self.at = time::OffsetDateTime::now_utc();
        let mut results = Vec::with_capacity(n);
        let mut asked = Vec::new();
        self.rewrite.clear();
        self.rewrite_all = false;
        // The group's audit events are inserted together in one statement at the end; an
        // operation made only of audit events (reads, refusals) needs no savepoint.
        self.pending.clear();
        self.changes.clear();
        // Whether an operation's savepoint is still open: released together with the next
        // one's creation (one round trip), the last by the commit.
        let mut open = false;
        let mut ops = ops.into_iter().peekable();
        while let Some(op) = ops.next() {
            // Destructions that follow one another are applied together.
            if let WriteOp::DestroySubject { .. } = op {
                let run = destructions::take_run(op, &mut ops);
                self.destroy_run(run, &mut open, &mut results).await;
                continue;
            }
            if matches!(op, WriteOp::Checkpoint) {
                asked.push(results.len());
                results.push(Ok(Applied::Audited));
                continue;
            }
            if matches!(op, WriteOp::RewriteDestroyedKeys) {
                // No statement in the group: the partitions are listed after the commit.
                self.rewrite_all = true;
                results.push(Ok(Applied::KeysRewritten));
                continue;
            }
            // Every other operation gets a savepoint: a failed statement aborts a PostgreSQL
            // transaction, and the savepoint keeps the rest of the group.
            let guarded = !matches!(op, WriteOp::Audit(_));
            let saved = (self.head, self.pending.len());
            if guarded {
                if let Err(e) = self.savepoint(&mut open).await {
                    results.push(Err(e));
                    continue;
                }
            }
            let changed = op.changed_subject();
            let r = self.apply(op).await;
            let changed = changed.filter(|_| r.as_ref().is_ok_and(|a| !a.changed_nothing()));
            if let (Ok(_), Some(id)) = (&r, changed) {
                // Written with the group's events, in one statement.
                self.changes.push((self.head.0, id));
            }
            if guarded && r.is_err() {
                self.head = saved.0;
                self.pending.truncate(saved.1);
                let _ = self.client.batch_execute("ROLLBACK TO SAVEPOINT op").await;
            }
            results.push(r);
        }
        let head = self.head;
        match self.finish_group(&anchor, head, !asked.is_empty()).await {
            Ok(checkpoint) => {
                self.chain.state.set(Anchor {
                    seq: head.0,
                    hash: head.1,
                    legacy_until: anchor.legacy_until,
                    checkpoint: checkpoint
                        .as_ref()
                        .map_or(anchor.checkpoint, |c| (c.n, c.seq)),
                });
                if let Some(c) = checkpoint {
                    for i in asked {
                        results[i] = Ok(Applied::Checkpointed(c.clone()));
                    }
                }
                self.rewrite_key_partitions(&mut results).await;
                results
            }
            Err(e) => {
                let _ = self.client.batch_execute("ROLLBACK").await;
                fail_all(e)
            }
        }
    }

    /// Opens the savepoint of the group's next operation, releasing the previous one (`open`)
    /// in the same round trip.
    async fn savepoint(&mut self, open: &mut bool) -> Result<(), StoreError> {
        let sql = if *open {
            "RELEASE SAVEPOINT op; SAVEPOINT op"
        } else {
            "SAVEPOINT op"
        };
        self.client.batch_execute(sql).await?;
        *open = true;
        Ok(())
    }

    /// Inserts the group's events, signs a checkpoint when one is asked for or due, moves the
    /// signed head and commits.
    async fn finish_group(
        &mut self,
        anchor: &Anchor,
        head: (i64, Hash),
        asked: bool,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.groups += 1;
        if self.groups.is_multiple_of(PRUNE_EVERY) {
            self.prune_state_changes().await?;
        }
        self.record_changes().await?;
        // Taken out and put back, so the buffer keeps its capacity from group to group.
        let events = std::mem::take(&mut self.pending);
        let inserted = self.insert_events(&events).await;
        self.pending = events;
        inserted?;
        let checkpoint =
            if asked || head.0 - anchor.checkpoint.1 >= self.chain.policy.checkpoint_every_events {
                Some(self.write_checkpoint(head, anchor.legacy_until).await?)
            } else {
                None
            };
        if head.0 != anchor.seq || checkpoint.is_some() {
            let mac = self.chain.keys.head_mac(head.0, &head.1);
            self.execute(
                "UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1",
                &[&head.0, &&head.1[..], &&mac[..]],
            )
            .await?;
        }
        self.client.batch_execute("COMMIT").await?;
        Ok(checkpoint)
    }

    /// Every partition of `subject_keys`, to rewrite them all.
    async fn every_key_partition(&mut self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .query(
                "SELECT inhrelid::regclass::text FROM pg_inherits
                 WHERE inhparent = 'subject_keys'::regclass ORDER BY 1",
                &[],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    /// Rewrites the partitions of `subject_keys` that held keys destroyed by the committed group,
    /// so that the dead rows holding them are gone from the live files before the destruction
    /// is answered. A rewrite that fails turns the destruction's answer into an error (the
    /// destruction stands; repeating it rewrites again).
    async fn rewrite_key_partitions(&mut self, results: &mut [Result<Applied, StoreError>]) {
        let mut failed = None;
        if std::mem::take(&mut self.rewrite_all) {
            match self.every_key_partition().await {
                Ok(all) => {
                    for p in all {
                        if !self.rewrite.contains(&p) {
                            self.rewrite.push(p);
                        }
                    }
                }
                Err(e) => failed = Some(format!("the key partitions cannot be listed: {e}")),
            }
        }
        for partition in std::mem::take(&mut self.rewrite) {
            let named = partition
                .strip_prefix("subject_keys_")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if !named {
                failed = Some(format!("unexpected key partition `{partition}`"));
                continue;
            }
            if let Err(e) = self
                .client
                .batch_execute(&format!("VACUUM (FULL) {partition}"))
                .await
            {
                failed = Some(format!(
                    "the key partition {partition} was not rewritten: {e}"
                ));
            }
        }
        if let Some(m) = failed {
            for r in results.iter_mut() {
                if matches!(
                    r,
                    Ok(Applied::Destroyed { already: false, .. } | Applied::KeysRewritten)
                ) {
                    *r = Err(StoreError::Backend(m.clone()));
                }
            }
        }
    }

    /// Signs a checkpoint of the chain at `head`, unless the last one already covers it.
    async fn write_checkpoint(
        &mut self,
        head: (i64, Hash),
        legacy_until: i64,
    ) -> Result<Checkpoint, StoreError> {
        let last = match self.query_opt("SELECT n, seq, hash, at, legacy_until, signature FROM audit_checkpoints ORDER BY n DESC LIMIT 1", &[]).await? {
            Some(r) => Some(checkpoint_from_row(&r)?),
            None => None,
        };
        if let Some(l) = last
            .as_ref()
            .filter(|l| l.seq == head.0 && l.hash == head.1)
        {
            return Ok(l.clone());
        }
        let (n, at) = crate::chain::next_checkpoint(last.as_ref());
        let c = Checkpoint::sign(
            n,
            head.0,
            head.1,
            at,
            legacy_until,
            self.chain.keys.as_ref(),
        );
        insert_checkpoint(&self.client, &c).await?;
        Ok(c)
    }

    /// Lists the group's changed subjects in the feed of state changes, each under the seq of
    /// the event recording it, in one statement.
    async fn record_changes(&mut self) -> Result<(), StoreError> {
        if self.changes.is_empty() {
            return Ok(());
        }
        let (seqs, ids): (Vec<i64>, Vec<Uuid>) = self.changes.iter().copied().unzip();
        self.execute(
            "INSERT INTO state_changes (seq, subject_id)
             SELECT * FROM unnest($1::bigint[], $2::uuid[])",
            &[&seqs, &ids],
        )
        .await?;
        Ok(())
    }

    /// Keeps the newest [`STATE_CHANGES_KEPT`] changes of the feed and raises its floor.
    async fn prune_state_changes(&mut self) -> Result<(), StoreError> {
        let Some(row) = self
            .query_opt(
                "SELECT seq FROM state_changes ORDER BY seq DESC LIMIT 1 OFFSET $1",
                &[&STATE_CHANGES_KEPT],
            )
            .await?
        else {
            return Ok(());
        };
        let cut: i64 = row.get(0);
        self.execute("DELETE FROM state_changes WHERE seq <= $1", &[&cut])
            .await?;
        self.execute(
            "UPDATE state_change_floor SET seq = GREATEST(seq, $1) WHERE id = 1",
            &[&cut],
        )
        .await?;
        Ok(())
    }

    /// Inserts sealed events with one statement.
    async fn insert_events(&mut self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let col = |f: fn(&AuditEvent) -> Option<&str>| events.iter().map(f).collect::<Vec<_>>();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        let text = |f: fn(&AuditEvent) -> &str| events.iter().map(f).collect::<Vec<_>>();
        let fields: Vec<String> = events.iter().map(|e| e.fields.join("\u{1f}")).collect();
        self.execute("INSERT INTO audit_events (seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, hash)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                      $8::text[], $9::text[], $10::text[], $11::bytea[])", &[
                    &seqs,
                    &text(|e| &e.at),
                    &text(|e| &e.actor),
                    &text(|e| &e.action),
                    &col(|e| e.subject_id.as_deref()),
                    &col(|e| e.purpose.as_deref()),
                    &fields,
                    &text(|e| e.outcome.as_str()),
                    &col(|e| e.reason.as_deref()),
                    &col(|e| e.details.as_deref()),
                    &events.iter().map(|e| &e.hash[..]).collect::<Vec<&[u8]>>(),
                ],
            )
            .await?;
        Ok(())
    }

    /// Starts the group's transaction, holding the head lock, and returns the writer's anchor
    /// once the chain is verified to still hold it and to continue it with whatever other
    /// processes appended since. A chain that does not is reported broken, and nothing is
    /// written.
    async fn begin(&mut self) -> Result<Anchor, StoreError> {
        let anchor = self.chain.state.anchor()?;
        let lock = self
            .prep("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
            .await?;
        // Bounded on both sides, so that the statement's generic plan is an index range scan:
        // with only a lower bound, PostgreSQL plans a scan and sort of the whole table (a third of
        // it estimated to match), and every commit group grew slower with the audit trail.
        let page = self
            .prep(
                "SELECT seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, hash
                 FROM audit_events WHERE seq >= $1 AND seq < $2 ORDER BY seq",
            )
            .await?;
        const WINDOW: i64 = 5000;
        let mut cont = Continuation::new(&anchor);
        let mut from = cont.first_seq();
        // One round trip: PostgreSQL runs the pipelined statements in order, so the first
        // window is read in the transaction, under the head lock.
        let first_to = from + WINDOW;
        let bounds: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&from, &first_to];
        let (begun, locked, first) = tokio::join!(
            self.client.batch_execute("BEGIN"),
            self.client.query_opt(&lock, &[]),
            self.client.query(&page, &bounds),
        );
        begun?;
        let head_seq: Option<i64> = locked?.map(|r| r.get(0));
        let mut first = Some(first?);
        let checked = loop {
            let rows = match first.take() {
                Some(rows) => rows,
                None => self.client.query(&page, &[&from, &(from + WINDOW)]).await?,
            };
            let events = match crate::events(rows.iter().map(raw_event).collect()) {
                Ok(e) => e,
                Err(StoreError::Corrupt(m)) => {
                    break Err(derbes_core::audit::ChainBreak::Corrupt(m))
                }
                Err(e) => return Err(e),
            };
            if let Err(b) = cont.push(&events, self.chain.keys.as_ref()) {
                break Err(b);
            }
            // Sequence numbers have no gaps: a window not full is the end, unless the head
            // names a later event (then `finish` says the chain is short of it).
            from += WINDOW;
            if events.len() < WINDOW as usize && head_seq.is_none_or(|h| from > h) {
                break Ok(());
            }
        };
        match checked.and_then(|()| cont.finish(head_seq)) {
            Ok(a) => Ok(a),
            Err(b) => {
                self.chain.state.refuse(b.to_string());
                Err(StoreError::ChainBroken(b.to_string()))
            }
        }
    }

    /// Seals an event into the chain; it is inserted with the group's other events.
    fn append(&mut self, draft: AuditDraft) {
        let e = draft.seal(
            self.head.0 + 1,
            self.at,
            &self.head.1,
            self.chain.keys.as_ref(),
        );
        self.head = (e.seq, e.hash);
        self.pending.push(e);
    }

    /// Refuses index entries held by another subject of the same category.
    async fn check_unique(
        &mut self,
        id: &Uuid,
        category: &str,
        index: &[IndexEntry],
    ) -> Result<(), StoreError> {
        for e in index {
            let holder = self.query_opt("SELECT subject_id FROM blind_index WHERE field = $1 AND digest = $2 AND category = $3", &[&e.field, &&e.digest[..], &category])
                .await?;
            e.free_for(id, category, holder.map(|row| row.get(0)))?;
        }
        Ok(())
    }

    async fn insert_index(
        &mut self,
        id: &Uuid,
        category: &str,
        index: &[IndexEntry],
    ) -> Result<(), StoreError> {
        if index.is_empty() {
            return Ok(());
        }
        let fields: Vec<&str> = index.iter().map(|e| e.field.as_str()).collect();
        let digests: Vec<&[u8]> = index.iter().map(|e| &e.digest[..]).collect();
        self.execute("INSERT INTO blind_index (field, digest, category, subject_id)
                 SELECT field, digest, $3, $4 FROM unnest($1::text[], $2::bytea[]) AS e(field, digest)", &[&fields, &digests, &category, id])
            .await?;
        Ok(())
    }

    async fn apply(&mut self, op: WriteOp) -> Result<Applied, StoreError> {
        match op {
            // Taken by the commit group itself, before any operation is applied.
            WriteOp::Checkpoint | WriteOp::RewriteDestroyedKeys => Ok(Applied::Audited),
            WriteOp::ArchiveAudit { segment, audit } => self.archive_audit(segment, audit).await,
            WriteOp::CreateSubject {
                record: r,
                index,
                audit,
            } => self.create_subject(r, index, audit).await,
            WriteOp::UpdateSubject {
                id,
                expected_version,
                fields,
                field_collected,
                index,
                audit,
            } => {
                self.update_subject(
                    id,
                    expected_version,
                    (fields, field_collected),
                    index,
                    audit,
                )
                .await
            }
            WriteOp::Rewrap { keys, audit } => self.rewrap(keys, audit).await,
            WriteOp::CreateToken { token: t, audit } => self.create_token(t, audit).await,
            WriteOp::RevokeToken {
                id,
                at: when,
                audit,
            } => self.revoke_token(id, when, audit).await,
            WriteOp::TokensUsed { used } => self.tokens_used(used).await,
            WriteOp::Account(w) => self.write_account(*w).await,
            WriteOp::SessionsSeen { seen } => self.sessions_seen(seen).await,
            WriteOp::RecordJobRun(run) => {
                self.record_job_run(&run).await?;
                Ok(Applied::JobRunRecorded)
            }
            WriteOp::KeepRetentionScan(scan) => {
                self.keep_retention_scan(&scan).await?;
                Ok(Applied::RetentionScanKept)
            }
            op @ (WriteOp::PutRetentionBatch { .. }
            | WriteOp::DestroyFields { .. }
            | WriteOp::MarkBatchItem { .. }) => self.apply_retention_batch(op).await,
            WriteOp::PutPseudonymKey { batch, key } => self.put_pseudonym_key(batch, &key).await,
            WriteOp::RecordDeclaration {
                version,
                content_hash,
                content,
                audit,
            } => {
                self.record_declaration(version, content_hash, content, audit)
                    .await
            }
            WriteOp::RecordConsent {
                event,
                seen,
                version,
                reconfirm_in,
                audit,
            } => {
                self.record_consent(event, (seen, version), reconfirm_in, audit)
                    .await
            }
            WriteOp::RecordLifecycle { event, seen, audit } => {
                self.record_lifecycle(event, seen, audit).await
            }
            WriteOp::SettleReconfirmations {
                subject_id,
                version,
                consents,
                due,
                audit,
            } => {
                self.settle_reconfirmations(subject_id, version, consents, due, audit)
                    .await
            }
            WriteOp::LinkRepresentative { link, audit } => {
                self.link_representative(link, audit).await
            }
            WriteOp::UnlinkRepresentative {
                subject_id,
                representative_id,
                audit,
            } => {
                self.unlink_representative(subject_id, representative_id, audit)
                    .await
            }
            WriteOp::SetFlag {
                subject_id,
                flag,
                audit,
            } => self.set_flag(subject_id, flag, audit).await,
            WriteOp::FileRequest {
                record: r,
                refuse_duplicate,
                audit,
            } => self.file_request(r, refuse_duplicate, audit).await,
            WriteOp::UpdateRequest {
                record: r,
                audit,
                jobs,
            } => self.update_request(r, audit, jobs).await,
            WriteOp::UpdateWebhookJob {
                job,
                expected_status,
                audit,
            } => self.update_webhook_job(job, expected_status, audit).await,
            // Taken by the commit group, with the destructions that follow it.
            WriteOp::DestroySubject { .. } => Err(StoreError::Backend("not in a run".into())),
            WriteOp::StorePackage { package: p, audit } => self.store_package(p, audit).await,
            WriteOp::DeletePackage { request_id, audit } => {
                self.delete_package(request_id, audit).await
            }
            WriteOp::Audit(drafts) => self.audit(drafts).await,
        }
    }

    /// Stores a webhook job, replacing one of the same id.
    async fn put_job(&mut self, j: &WebhookJob) -> Result<(), StoreError> {
        self.execute("INSERT INTO webhook_jobs (id, request_id, subject_id, webhook, event, status, attempts, next_attempt_at, payload, last_error, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
                   next_attempt_at = excluded.next_attempt_at, payload = excluded.payload,
                   last_error = excluded.last_error, updated_at = excluded.updated_at", &[
                    &j.id,
                    &j.request_id,
                    &j.subject_id,
                    &j.webhook,
                    &j.event,
                    &j.status.code(),
                    &i32::try_from(j.attempts).unwrap_or(i32::MAX),
                    &At(j.next_attempt_at),
                    &j.payload,
                    &j.last_error,
                    &At(j.updated_at),
                ],
            )
            .await?;
        Ok(())
    }
}

fn to_i32(v: u32) -> Result<i32, StoreError> {
    i32::try_from(v).map_err(|_| StoreError::Backend(format!("{v} does not fit the column")))
}

fn to_u32(v: i32) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative key version {v}")))
}

fn raw_event(r: &Row) -> RawEvent {
    RawEvent {
        seq: r.get(0),
        at: r.get(1),
        actor: r.get(2),
        action: r.get(3),
        subject_id: r.get(4),
        purpose: r.get(5),
        fields: r.get(6),
        outcome: r.get(7),
        reason: r.get(8),
        details: r.get(9),
        hash: r.get(10),
    }
}

fn events_of(rows: &[Row]) -> Result<Vec<AuditEvent>, StoreError> {
    crate::events(rows.iter().map(raw_event).collect())
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn write(&self, op: WriteOp) -> Result<Applied, StoreError> {
        crate::submit(&self.tx, op).await
    }

    fn chain(&self) -> &ChainState {
        &self.chain
    }
}

#[cfg(test)]
mod token_watch_tests {
    use super::TokenWatch;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_cache_is_trusted_only_while_the_listener_hears_its_heartbeat() {
        let w = TokenWatch::default();
        assert_eq!(w.trusted_generation(), None, "not listening yet");
        w.listening.store(true, Ordering::Release);
        w.heard();
        w.generation.store(7, Ordering::Release);
        assert_eq!(w.trusted_generation(), Some(7));
        // Silent for longer than it may be: the cache is no longer trusted.
        let silent = super::HEARD_WITHIN.as_millis() as u64 + 1;
        w.heard_at.store(0, Ordering::Release);
        let w = TokenWatch {
            start: std::time::Instant::now() - std::time::Duration::from_millis(silent),
            ..w
        };
        assert_eq!(w.trusted_generation(), None);
        w.heard();
        assert_eq!(w.trusted_generation(), Some(7));
        w.listening.store(false, Ordering::Release);
        assert_eq!(w.trusted_generation(), None);
    }
}

//! The PostgreSQL store: one writer connection committing groups (the audit head row is locked
//! `FOR UPDATE` so several derbes processes chain events in one order), a pool for reads.

mod job_runs;

use crate::chain::{Anchor, Chain, ChainPolicy, ChainState, Continuation};
use crate::fields_blob::{decode_fields, encode_fields};
use crate::{
    drain, from_json, now, to_json, Applied, AuditHead, FlagTable, IndexEntry, Job, JobRun,
    KeyOwner, KeyRecord, Keys, PackageRecord, Param, RawEvent, RequestQuery, RequestRecord,
    StateChanges, Store, StoreError, SubjectRecord, SubjectState, TokenRecord, WebhookJob, WriteOp,
    CHECKPOINT_COLUMNS, EVENT_COLUMNS, MAX_GROUP, PRUNE_EVERY, REQUEST_COLUMNS, SEGMENT_COLUMNS,
    STATE_CHANGES_KEPT, TOKEN_COLUMNS,
};
use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use derbes_core::audit::{
    format_timestamp, AuditDraft, AuditEvent, ChainKeys, Checkpoint, Hash, Segment,
};
use derbes_core::consent::RepresentativeLink;
use derbes_core::destruction::{Destruction, Removed};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_postgres::{Client, NoTls, Row, Statement};
use uuid::Uuid;

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

fn token_from_row(r: &Row) -> Result<TokenRecord, StoreError> {
    let purposes: String = r.get(4);
    Ok(TokenRecord {
        id: r.get(0),
        digest: r.get(1),
        name: r.get(2),
        role: r.get(3),
        purposes: crate::purposes_of(&purposes)?,
        created_at: r.get(5),
        revoked_at: r.get(6),
        expires_at: r.get(7),
        last_used_at: r.get(8),
    })
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
            rewrite: Vec::new(),
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
        let mut head = (anchor.seq, anchor.hash);
        let at = time::OffsetDateTime::now_utc();
        let mut results = Vec::with_capacity(n);
        let mut asked = Vec::new();
        self.rewrite.clear();
        // The group's audit events are inserted together in one statement at the end; an
        // operation made only of audit events (reads, refusals) needs no savepoint.
        self.pending.clear();
        for op in ops {
            if matches!(op, WriteOp::Checkpoint) {
                asked.push(results.len());
                results.push(Ok(Applied::Audited));
                continue;
            }
            // Every other operation gets a savepoint: a failed statement aborts a PostgreSQL
            // transaction, and the savepoint keeps the rest of the group.
            let guarded = !matches!(op, WriteOp::Audit(_));
            let saved = (head, self.pending.len());
            if guarded {
                if let Err(e) = self.client.batch_execute("SAVEPOINT op").await {
                    results.push(Err(e.into()));
                    continue;
                }
            }
            let changed = op.changed_subject();
            let mut r = self.apply(op, &mut head, at).await;
            let changed = changed.filter(|_| r.as_ref().is_ok_and(|a| !a.changed_nothing()));
            if let (Ok(_), Some(id)) = (&r, changed) {
                if let Err(e) = self.record_change(head.0, id).await {
                    r = Err(e);
                }
            }
            if guarded {
                if r.is_err() {
                    head = saved.0;
                    self.pending.truncate(saved.1);
                    let _ = self.client.batch_execute("ROLLBACK TO SAVEPOINT op").await;
                }
                let _ = self.client.batch_execute("RELEASE SAVEPOINT op").await;
            }
            results.push(r);
        }
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
            let s = self
                .prep("UPDATE audit_head SET seq = $1, hash = $2, mac = $3 WHERE id = 1")
                .await?;
            self.client
                .execute(&s, &[&head.0, &&head.1[..], &&mac[..]])
                .await?;
        }
        self.client.batch_execute("COMMIT").await?;
        Ok(checkpoint)
    }

    /// Rewrites the partitions of `subject_keys` that held keys destroyed by the committed group,
    /// so that the dead rows holding them are gone from the live files before the destruction
    /// is answered. A rewrite that fails turns the destruction's answer into an error (the
    /// destruction stands; repeating it rewrites again).
    async fn rewrite_key_partitions(&mut self, results: &mut [Result<Applied, StoreError>]) {
        let mut failed = None;
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
                if matches!(r, Ok(Applied::Destroyed { already: false, .. })) {
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
        let s = self
            .prep("SELECT n, seq, hash, at, legacy_until, signature FROM audit_checkpoints ORDER BY n DESC LIMIT 1")
            .await?;
        let last = match self.client.query_opt(&s, &[]).await? {
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

    /// Lists a subject in the feed of state changes, under the seq of the event recording it.
    async fn record_change(&mut self, seq: i64, id: Uuid) -> Result<(), StoreError> {
        let s = self
            .prep("INSERT INTO state_changes (seq, subject_id) VALUES ($1, $2)")
            .await?;
        self.client.execute(&s, &[&seq, &id]).await?;
        Ok(())
    }

    /// Keeps the newest [`STATE_CHANGES_KEPT`] changes of the feed and raises its floor.
    async fn prune_state_changes(&mut self) -> Result<(), StoreError> {
        let s = self
            .prep("SELECT seq FROM state_changes ORDER BY seq DESC LIMIT 1 OFFSET $1")
            .await?;
        let Some(row) = self.client.query_opt(&s, &[&STATE_CHANGES_KEPT]).await? else {
            return Ok(());
        };
        let cut: i64 = row.get(0);
        let s = self
            .prep("DELETE FROM state_changes WHERE seq <= $1")
            .await?;
        self.client.execute(&s, &[&cut]).await?;
        let s = self
            .prep("UPDATE state_change_floor SET seq = GREATEST(seq, $1) WHERE id = 1")
            .await?;
        self.client.execute(&s, &[&cut]).await?;
        Ok(())
    }

    /// Inserts sealed events with one statement.
    async fn insert_events(&mut self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let s = self
            .prep(
                "INSERT INTO audit_events (seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, hash)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                                      $8::text[], $9::text[], $10::text[], $11::bytea[])",
            )
            .await?;
        let col = |f: fn(&AuditEvent) -> Option<&str>| events.iter().map(f).collect::<Vec<_>>();
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        let text = |f: fn(&AuditEvent) -> &str| events.iter().map(f).collect::<Vec<_>>();
        let fields: Vec<String> = events.iter().map(|e| e.fields.join("\u{1f}")).collect();
        self.client
            .execute(
                &s,
                &[
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
    fn append(&mut self, head: &mut (i64, Hash), draft: AuditDraft, at: time::OffsetDateTime) {
        let e = draft.seal(head.0 + 1, at, &head.1, self.chain.keys.as_ref());
        *head = (e.seq, e.hash);
        self.pending.push(e);
    }

    /// Refuses index entries held by another subject of the same category.
    async fn check_unique(
        &mut self,
        id: &Uuid,
        category: &str,
        index: &[IndexEntry],
    ) -> Result<(), StoreError> {
        let s = self
            .prep("SELECT subject_id FROM blind_index WHERE field = $1 AND digest = $2 AND category = $3")
            .await?;
        for e in index {
            if let Some(row) = self
                .client
                .query_opt(&s, &[&e.field, &&e.digest[..], &category])
                .await?
            {
                let existing: Uuid = row.get(0);
                if existing != *id {
                    return Err(StoreError::Duplicate {
                        field: e.field.clone(),
                        category: category.to_owned(),
                        existing,
                    });
                }
            }
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
        let s = self
            .prep(
                "INSERT INTO blind_index (field, digest, category, subject_id)
                 SELECT field, digest, $3, $4 FROM unnest($1::text[], $2::bytea[]) AS e(field, digest)",
            )
            .await?;
        let fields: Vec<&str> = index.iter().map(|e| e.field.as_str()).collect();
        let digests: Vec<&[u8]> = index.iter().map(|e| &e.digest[..]).collect();
        self.client
            .execute(&s, &[&fields, &digests, &category, id])
            .await?;
        Ok(())
    }

    #[allow(
        clippy::too_many_lines,
        reason = "one arm per WriteOp; becomes a dispatcher to per-aggregate modules"
    )]
    async fn apply(
        &mut self,
        op: WriteOp,
        head: &mut (i64, Hash),
        at: time::OffsetDateTime,
    ) -> Result<Applied, StoreError> {
        match op {
            // Taken by the commit group itself, before any operation is applied.
            WriteOp::Checkpoint => Ok(Applied::Audited),
            WriteOp::ArchiveAudit { segment, audit } => {
                let last_segment = self
                    .prep(
                        "SELECT n, first_seq, last_seq, prev_hash, hash, digest, at, legacy_until, signature
                         FROM audit_segments ORDER BY n DESC LIMIT 1",
                    )
                    .await?;
                let first = self.prep("SELECT min(seq) FROM audit_events").await?;
                let at_last = self
                    .prep("SELECT hash FROM audit_events WHERE seq = $1")
                    .await?;
                let checkpoint = self
                    .prep("SELECT seq FROM audit_checkpoints ORDER BY n DESC LIMIT 1")
                    .await?;
                let held = crate::chain::Held {
                    last_segment: self
                        .client
                        .query_opt(&last_segment, &[])
                        .await?
                        .as_ref()
                        .map(segment_from_row)
                        .transpose()?,
                    first: self.client.query_one(&first, &[]).await?.get(0),
                    hash_at_last: self
                        .client
                        .query_opt(&at_last, &[&segment.last])
                        .await?
                        .and_then(|r| r.get::<_, Vec<u8>>(0).try_into().ok()),
                    last_checkpoint: self
                        .client
                        .query_opt(&checkpoint, &[])
                        .await?
                        .map_or(0, |r| r.get(0)),
                    head: head.0,
                };
                crate::chain::check_archivable(&segment, &held, self.chain.keys.as_ref())?;
                let insert = self
                    .prep(
                        "INSERT INTO audit_segments (n, first_seq, last_seq, prev_hash, hash, digest, at, legacy_until, signature)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    )
                    .await?;
                self.client
                    .execute(
                        &insert,
                        &[
                            &segment.n,
                            &segment.first,
                            &segment.last,
                            &&segment.prev[..],
                            &&segment.hash[..],
                            &&segment.digest[..],
                            &segment.at,
                            &segment.legacy_until,
                            &segment.signature,
                        ],
                    )
                    .await?;
                let delete = self
                    .prep("DELETE FROM audit_events WHERE seq <= $1")
                    .await?;
                self.client.execute(&delete, &[&segment.last]).await?;
                self.append(head, audit, at);
                Ok(Applied::Audited)
            }
            WriteOp::CreateSubject {
                record: r,
                index,
                audit,
            } => {
                self.check_unique(&r.id, &r.category, &index).await?;
                // The subject and its blind-index entries in one statement.
                let s = self
                    .prep(
                        "WITH subject AS (
                             INSERT INTO subjects (id, category, fields, version, created_at, updated_at)
                             VALUES ($1, $2, $6, $7, $8, $9)),
                         key AS (
                             INSERT INTO subject_keys (subject_id, dek, kek_version, dek_generation)
                             VALUES ($1, $3, $4, $5))
                         INSERT INTO blind_index (field, digest, category, subject_id)
                         SELECT field, digest, $2, $1 FROM unnest($10::text[], $11::bytea[]) AS e(field, digest)",
                    )
                    .await?;
                let fields =
                    encode_fields(&r.fields).map_err(|e| StoreError::Backend(e.to_string()))?;
                let index_fields: Vec<&str> = index.iter().map(|e| e.field.as_str()).collect();
                let digests: Vec<&[u8]> = index.iter().map(|e| &e.digest[..]).collect();
                self.client
                    .execute(
                        &s,
                        &[
                            &r.id,
                            &r.category,
                            &r.dek,
                            &to_i32(r.kek_version)?,
                            &to_i32(r.dek_generation)?,
                            &fields,
                            &r.version,
                            &r.created_at,
                            &r.updated_at,
                            &index_fields,
                            &digests,
                        ],
                    )
                    .await?;
                self.append(head, audit, at);
                Ok(Applied::Created)
            }
            WriteOp::UpdateSubject {
                id,
                expected_version,
                fields,
                index,
                audit,
            } => {
                let s = self
                    .prep("SELECT category FROM subjects WHERE id = $1")
                    .await?;
                let category: String = self
                    .client
                    .query_opt(&s, &[&id])
                    .await?
                    .ok_or(StoreError::NotFound)?
                    .get(0);
                self.check_unique(&id, &category, &index).await?;
                let s = self
                    .prep("UPDATE subjects SET fields = $1, version = version + 1, updated_at = $2 WHERE id = $3 AND version = $4")
                    .await?;
                let blob =
                    encode_fields(&fields).map_err(|e| StoreError::Backend(e.to_string()))?;
                if self
                    .client
                    .execute(&s, &[&blob, &now(), &id, &expected_version])
                    .await?
                    == 0
                {
                    return Err(StoreError::VersionConflict);
                }
                let s = self
                    .prep("DELETE FROM blind_index WHERE subject_id = $1")
                    .await?;
                self.client.execute(&s, &[&id]).await?;
                self.insert_index(&id, &category, &index).await?;
                self.append(head, audit, at);
                Ok(Applied::Updated {
                    version: expected_version + 1,
                })
            }
            WriteOp::Rewrap { keys, audit } => {
                let subjects = self
                    .prep("UPDATE subject_keys SET dek = $1, kek_version = $2 WHERE subject_id = $3 AND kek_version = $4 AND dek_generation = $5")
                    .await?;
                let requests = self
                    .prep("UPDATE requests SET dek = $1, kek_version = $2 WHERE id = $3 AND kek_version = $4")
                    .await?;
                let mut count = 0u64;
                for (old, dek, kek_version) in keys {
                    let (new_version, old_version) =
                        (to_i32(kek_version)?, to_i32(old.kek_version)?);
                    count += match old.owner {
                        KeyOwner::Subject => {
                            let generation = to_i32(old.dek_generation)?;
                            self.client
                                .execute(
                                    &subjects,
                                    &[&dek, &new_version, &old.id, &old_version, &generation],
                                )
                                .await?
                        }
                        KeyOwner::Request => {
                            self.client
                                .execute(&requests, &[&dek, &new_version, &old.id, &old_version])
                                .await?
                        }
                    };
                }
                if let Some(a) = audit {
                    self.append(head, a, at);
                }
                Ok(Applied::Rewrapped { count })
            }
            WriteOp::CreateToken { token: t, audit } => {
                let s = self
                    .prep("INSERT INTO tokens (id, digest, name, role, purposes, created_at, revoked_at, expires_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
                    .await?;
                let purposes = serde_json::to_string(&t.purposes)
                    .map_err(|e| StoreError::Backend(e.to_string()))?;
                self.client
                    .execute(
                        &s,
                        &[
                            &t.id,
                            &t.digest,
                            &t.name,
                            &t.role,
                            &purposes,
                            &t.created_at,
                            &t.revoked_at,
                            &t.expires_at,
                            &t.last_used_at,
                        ],
                    )
                    .await?;
                self.append(head, audit, at);
                Ok(Applied::TokenCreated)
            }
            WriteOp::RevokeToken {
                id,
                at: when,
                audit,
            } => {
                let s = self
                    .prep("SELECT id, digest, name, role, purposes, created_at, revoked_at, expires_at, last_used_at FROM tokens WHERE id = $1 FOR UPDATE")
                    .await?;
                let row = self
                    .client
                    .query_opt(&s, &[&id])
                    .await?
                    .ok_or(StoreError::NotFound)?;
                let token = token_from_row(&row)?;
                if token.revoked_at.is_some() {
                    return Ok(Applied::TokenRevoked {
                        token: Box::new(token),
                        already: true,
                    });
                }
                let s = self
                    .prep("UPDATE tokens SET revoked_at = $1 WHERE id = $2")
                    .await?;
                self.client.execute(&s, &[&when, &id]).await?;
                // Every derbes listening hears of it when this transaction commits.
                let s = self.prep("SELECT pg_notify('derbes_tokens', '')").await?;
                self.client.query_one(&s, &[]).await?;
                self.append(head, audit, at);
                Ok(Applied::TokenRevoked {
                    token: Box::new(TokenRecord {
                        revoked_at: Some(when),
                        ..token
                    }),
                    already: false,
                })
            }
            WriteOp::TokensUsed { used } => {
                let s = self
                    .prep(
                        "UPDATE tokens t SET last_used_at = u.at FROM unnest($1::text[], $2::text[]) AS u(digest, at)
                         WHERE t.digest = u.digest AND (t.last_used_at IS NULL OR t.last_used_at < u.at)",
                    )
                    .await?;
                let (digests, times): (Vec<String>, Vec<String>) = used.into_iter().unzip();
                self.client.execute(&s, &[&digests, &times]).await?;
                Ok(Applied::TokensUsed)
            }
            WriteOp::RecordJobRun(run) => {
                self.record_job_run(&run).await?;
                Ok(Applied::JobRunRecorded)
            }
            WriteOp::RecordDeclaration {
                version,
                content_hash,
                content,
                audit,
            } => {
                let s = self
                    .prep("SELECT content_hash FROM declarations WHERE version = $1")
                    .await?;
                let existing: Option<String> = self
                    .client
                    .query_opt(&s, &[&version])
                    .await?
                    .map(|r| r.get(0));
                match existing {
                    Some(h) if h == content_hash => Ok(Applied::DeclarationRecorded { new: false }),
                    Some(_) => Err(StoreError::DeclarationChanged { version }),
                    None => {
                        let s = self
                            .prep("INSERT INTO declarations (version, content_hash, content, recorded_at) VALUES ($1, $2, $3, $4)")
                            .await?;
                        self.client
                            .execute(&s, &[&version, &content_hash, &content, &now()])
                            .await?;
                        self.append(head, audit, at);
                        Ok(Applied::DeclarationRecorded { new: true })
                    }
                }
            }
            WriteOp::RecordConsent { event, seen, audit } => {
                let s = self
                    .prep("SELECT count(*), count(*) FILTER (WHERE purpose = $2) FROM consent_events WHERE subject_id = $1")
                    .await?;
                let row = self
                    .client
                    .query_one(&s, &[&event.subject_id, &event.purpose])
                    .await?;
                let (n, of_purpose): (i64, i64) = (row.get(0), row.get(1));
                if usize::try_from(of_purpose).ok() != Some(seen) {
                    return Err(StoreError::VersionConflict);
                }
                let s = self
                    .prep("INSERT INTO consent_events (subject_id, n, id, purpose, at, event) VALUES ($1, $2, $3, $4, $5, $6)")
                    .await?;
                let n = i32::try_from(n)
                    .map_err(|_| StoreError::Backend("consent ledger too long".into()))?;
                let inserted = self
                    .client
                    .execute(
                        &s,
                        &[
                            &event.subject_id,
                            &n,
                            &event.id,
                            &event.purpose,
                            &derbes_core::audit::format_timestamp(event.at),
                            &to_json(&event)?,
                        ],
                    )
                    .await;
                match inserted {
                    // Another derbes process appended to the same ledger meanwhile.
                    Err(e)
                        if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) =>
                    {
                        return Err(StoreError::VersionConflict)
                    }
                    other => other?,
                };
                self.append(head, audit, at);
                Ok(Applied::ConsentRecorded)
            }
            WriteOp::LinkRepresentative { link, audit } => {
                let s = self
                    .prep(
                        "INSERT INTO representatives (subject_id, representative_id, link) VALUES ($1, $2, $3)
                         ON CONFLICT (subject_id, representative_id) DO UPDATE SET link = excluded.link
                         RETURNING (xmax = 0)",
                    )
                    .await?;
                let new: bool = self
                    .client
                    .query_one(
                        &s,
                        &[&link.subject_id, &link.representative_id, &to_json(&link)?],
                    )
                    .await?
                    .get(0);
                self.append(head, audit, at);
                Ok(Applied::Linked { new })
            }
            WriteOp::UnlinkRepresentative {
                subject_id,
                representative_id,
                audit,
            } => {
                let s = self
                    .prep("DELETE FROM representatives WHERE subject_id = $1 AND representative_id = $2")
                    .await?;
                if self
                    .client
                    .execute(&s, &[&subject_id, &representative_id])
                    .await?
                    == 0
                {
                    return Err(StoreError::NotFound);
                }
                self.append(head, audit, at);
                Ok(Applied::Unlinked)
            }
            WriteOp::SetFlag {
                subject_id,
                flag,
                audit,
            } => {
                let (table, key, body) = flag.row()?;
                let (put, lift) = match table {
                    FlagTable::Flags => (
                        "INSERT INTO subject_flags (subject_id, purpose, flag) VALUES ($1, $2, $3)
                         ON CONFLICT (subject_id, purpose) DO UPDATE SET flag = excluded.flag",
                        "DELETE FROM subject_flags WHERE subject_id = $1 AND purpose = $2",
                    ),
                    FlagTable::Obligations => (
                        "INSERT INTO obligations (subject_id, purpose, obligation) VALUES ($1, $2, $3)
                         ON CONFLICT (subject_id, purpose) DO UPDATE SET obligation = excluded.obligation",
                        "DELETE FROM obligations WHERE subject_id = $1 AND purpose = $2",
                    ),
                };
                match body {
                    Some(b) => {
                        let s = self.prep(put).await?;
                        self.client.execute(&s, &[&subject_id, &key, &b]).await?
                    }
                    None => {
                        let s = self.prep(lift).await?;
                        self.client.execute(&s, &[&subject_id, &key]).await?
                    }
                };
                self.append(head, audit, at);
                Ok(Applied::FlagSet)
            }
            WriteOp::FileRequest {
                record: r,
                refuse_duplicate,
                audit,
            } => {
                if refuse_duplicate {
                    let s = self
                        .prep("SELECT id FROM requests WHERE subject_id = $1 AND kind = $2 AND open LIMIT 1")
                        .await?;
                    if let Some(row) = self.client.query_opt(&s, &[&r.subject_id, &r.kind]).await? {
                        return Err(StoreError::DuplicateRequest {
                            existing: row.get(0),
                        });
                    }
                }
                let s = self
                    .prep("INSERT INTO requests (id, subject_id, kind, status, open, received_at, due_at, dek, kek_version, version, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
                    .await?;
                self.client
                    .execute(
                        &s,
                        &[
                            &r.id,
                            &r.subject_id,
                            &r.kind,
                            &r.status,
                            &r.open,
                            &r.received_at,
                            &r.due_at,
                            &r.dek,
                            &to_i32(r.kek_version)?,
                            &r.version,
                            &r.updated_at,
                            &r.body,
                        ],
                    )
                    .await?;
                self.append(head, audit, at);
                Ok(Applied::RequestFiled)
            }
            WriteOp::UpdateRequest {
                record: r,
                audit,
                jobs,
            } => {
                let s = self
                    .prep("UPDATE requests SET status = $2, open = $3, due_at = $4, version = $5, updated_at = $6, body = $7 WHERE id = $1 AND version = $8")
                    .await?;
                let changed = self
                    .client
                    .execute(
                        &s,
                        &[
                            &r.id,
                            &r.status,
                            &r.open,
                            &r.due_at,
                            &r.version,
                            &r.updated_at,
                            &r.body,
                            &(r.version - 1),
                        ],
                    )
                    .await?;
                if changed == 0 {
                    let s = self.prep("SELECT 1 FROM requests WHERE id = $1").await?;
                    let exists = self.client.query_opt(&s, &[&r.id]).await?.is_some();
                    return Err(if exists {
                        StoreError::VersionConflict
                    } else {
                        StoreError::NotFound
                    });
                }
                for w in &jobs {
                    let s = self
                        .prep("SELECT status FROM webhook_jobs WHERE id = $1 FOR UPDATE")
                        .await?;
                    let status: Option<String> = self
                        .client
                        .query_opt(&s, &[&w.job.id])
                        .await?
                        .map(|r| r.get(0));
                    if status != w.expect {
                        return Err(StoreError::JobChanged);
                    }
                    self.put_job(&w.job).await?;
                }
                for d in audit {
                    self.append(head, d, at);
                }
                Ok(Applied::RequestUpdated)
            }
            WriteOp::UpdateWebhookJob {
                job,
                expected_status,
                audit,
            } => {
                let s = self
                    .prep("SELECT status FROM webhook_jobs WHERE id = $1 FOR UPDATE")
                    .await?;
                match self.client.query_opt(&s, &[&job.id]).await? {
                    None => return Err(StoreError::NotFound),
                    Some(row) if row.get::<_, String>(0) != expected_status => {
                        return Err(StoreError::VersionConflict)
                    }
                    Some(_) => {}
                }
                self.put_job(&job).await?;
                for d in audit {
                    self.append(head, d, at);
                }
                Ok(Applied::WebhookJobUpdated)
            }
            WriteOp::DestroySubject {
                mut destruction,
                audit,
                checked,
            } => {
                let id = destruction.subject_id;
                // Locked: a package or a second destruction waiting on the row sees it gone.
                let s = self
                    .prep("SELECT 1 FROM subjects WHERE id = $1 FOR UPDATE")
                    .await?;
                if self.client.query_opt(&s, &[&id]).await?.is_none() {
                    let s = self
                        .prep("SELECT record FROM destructions WHERE subject_id = $1")
                        .await?;
                    return match self.client.query_opt(&s, &[&id]).await? {
                        Some(row) => Ok(Applied::Destroyed {
                            destruction: from_json(&row.get::<_, String>(0))?,
                            already: true,
                        }),
                        None => Err(StoreError::NotFound),
                    };
                }
                if let Some(checked) = &checked {
                    // Every write holds the audit head's lock: no obligation or link can be
                    // written between these reads and the deletes.
                    let s = self
                        .prep("SELECT purpose, obligation FROM obligations WHERE subject_id = $1")
                        .await?;
                    let obligations = self
                        .client
                        .query(&s, &[&id])
                        .await?
                        .iter()
                        .map(|r| (r.get(0), r.get(1)))
                        .collect();
                    let s = self
                        .prep("SELECT 1 FROM representatives WHERE representative_id = $1 LIMIT 1")
                        .await?;
                    let represents = self.client.query_opt(&s, &[&id]).await?.is_some();
                    if !crate::types::destruction_check_holds(checked, obligations, represents)? {
                        return Err(StoreError::VersionConflict);
                    }
                }
                // The partition of the key, rewritten once the destruction is committed.
                let s = self
                    .prep("SELECT tableoid::regclass::text FROM subject_keys WHERE subject_id = $1")
                    .await?;
                if let Some(row) = self.client.query_opt(&s, &[&id]).await? {
                    let partition: String = row.get(0);
                    if !self.rewrite.contains(&partition) {
                        self.rewrite.push(partition);
                    }
                }
                self.delete_of(id, "DELETE FROM subject_keys WHERE subject_id = $1")
                    .await?;
                destruction.removed = Removed {
                    index_entries: self
                        .delete_of(id, "DELETE FROM blind_index WHERE subject_id = $1")
                        .await?,
                    consent_events: self
                        .delete_of(id, "DELETE FROM consent_events WHERE subject_id = $1")
                        .await?,
                    representative_links: self
                        .delete_of(id, "DELETE FROM representatives WHERE subject_id = $1")
                        .await?,
                    flags: self
                        .delete_of(id, "DELETE FROM subject_flags WHERE subject_id = $1")
                        .await?,
                    obligations: self
                        .delete_of(id, "DELETE FROM obligations WHERE subject_id = $1")
                        .await?,
                    packages: self
                        .delete_of(id, "DELETE FROM request_packages WHERE subject_id = $1")
                        .await?,
                };
                self.delete_of(id, "DELETE FROM subjects WHERE id = $1")
                    .await?;
                let s = self
                    .prep(
                        "INSERT INTO destructions (subject_id, destroyed_at, record) VALUES ($1, $2, $3)
                         ON CONFLICT (subject_id) DO UPDATE SET destroyed_at = excluded.destroyed_at, record = excluded.record",
                    )
                    .await?;
                self.client
                    .execute(
                        &s,
                        &[
                            &id,
                            &format_timestamp(destruction.destroyed_at),
                            &to_json(&destruction)?,
                        ],
                    )
                    .await?;
                self.append(head, audit, at);
                Ok(Applied::Destroyed {
                    destruction,
                    already: false,
                })
            }
            WriteOp::StorePackage { package: p, audit } => {
                // A subject destroyed meanwhile gets no package.
                let s = self
                    .prep("SELECT 1 FROM subjects WHERE id = $1 FOR SHARE")
                    .await?;
                if self.client.query_opt(&s, &[&p.subject_id]).await?.is_none() {
                    return Err(StoreError::NotFound);
                }
                let s = self
                    .prep(
                        "INSERT INTO request_packages (request_id, subject_id, created_at, expires_at, sealed) VALUES ($1, $2, $3, $4, $5)
                         ON CONFLICT (request_id) DO UPDATE SET created_at = excluded.created_at, expires_at = excluded.expires_at, sealed = excluded.sealed",
                    )
                    .await?;
                self.client
                    .execute(
                        &s,
                        &[
                            &p.request_id,
                            &p.subject_id,
                            &p.created_at,
                            &p.expires_at,
                            &p.sealed,
                        ],
                    )
                    .await?;
                self.append(head, audit, at);
                Ok(Applied::PackageStored)
            }
            WriteOp::DeletePackage { request_id, audit } => {
                if self
                    .delete_of(
                        request_id,
                        "DELETE FROM request_packages WHERE request_id = $1",
                    )
                    .await?
                    == 0
                {
                    return Err(StoreError::NotFound);
                }
                self.append(head, audit, at);
                Ok(Applied::PackageDeleted)
            }
            WriteOp::Audit(drafts) => {
                for d in drafts {
                    self.append(head, d, at);
                }
                Ok(Applied::Audited)
            }
        }
    }

    /// Stores a webhook job, replacing one of the same id.
    async fn put_job(&mut self, j: &WebhookJob) -> Result<(), StoreError> {
        let s = self
            .prep(
                "INSERT INTO webhook_jobs (id, request_id, subject_id, webhook, event, status, attempts, next_attempt_at, payload, last_error, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempts = excluded.attempts,
                   next_attempt_at = excluded.next_attempt_at, payload = excluded.payload,
                   last_error = excluded.last_error, updated_at = excluded.updated_at",
            )
            .await?;
        self.client
            .execute(
                &s,
                &[
                    &j.id,
                    &j.request_id,
                    &j.subject_id,
                    &j.webhook,
                    &j.event,
                    &j.status,
                    &i32::try_from(j.attempts).unwrap_or(i32::MAX),
                    &j.next_attempt_at,
                    &j.payload,
                    &j.last_error,
                    &j.updated_at,
                ],
            )
            .await?;
        Ok(())
    }

    /// Runs a DELETE keyed by one id and counts the rows it removed.
    async fn delete_of(&mut self, id: Uuid, sql: &'static str) -> Result<u64, StoreError> {
        let s = self.prep(sql).await?;
        Ok(self.client.execute(&s, &[&id]).await?)
    }
}

async fn subject_row(
    c: &deadpool_postgres::Object,
    id: Uuid,
) -> Result<Option<SubjectRecord>, StoreError> {
    let s = c
        .prepare_cached(
            "SELECT s.category, k.dek, k.kek_version, k.dek_generation, s.fields, s.version, s.created_at, s.updated_at
             FROM subjects s JOIN subject_keys k ON k.subject_id = s.id WHERE s.id = $1",
        )
        .await?;
    let Some(r) = c.query_opt(&s, &[&id]).await? else {
        return Ok(None);
    };
    let fields: Vec<u8> = r.get(4);
    Ok(Some(SubjectRecord {
        id,
        category: r.get(0),
        dek: r.get(1),
        kek_version: to_u32(r.get(2))?,
        dek_generation: to_u32(r.get(3))?,
        fields: decode_fields(&fields).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        version: r.get(5),
        created_at: r.get(6),
        updated_at: r.get(7),
    }))
}

async fn subject_and_state(
    c: &deadpool_postgres::Object,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError> {
    match subject_row(c, id).await? {
        Some(r) => Ok(Some((r, state_rows(c, id, purpose).await?))),
        None => Ok(None),
    }
}

/// Consents (of one purpose, or all), links and flags of a subject, in one statement.
async fn state_rows(
    c: &deadpool_postgres::Object,
    id: Uuid,
    purpose: Option<&str>,
) -> Result<SubjectState, StoreError> {
    let s = c
        .prepare_cached(crate::types::state_sql!("$1", "$2::text"))
        .await?;
    let rows = c
        .query(&s, &[&id, &purpose])
        .await?
        .iter()
        .map(|r| {
            (
                i64::from(r.get::<_, i32>(0)),
                i64::from(r.get::<_, i32>(1)),
                r.get(2),
                r.get(3),
            )
        })
        .collect();
    SubjectState::from_rows(rows)
}

fn to_i32(v: u32) -> Result<i32, StoreError> {
    i32::try_from(v).map_err(|_| StoreError::Backend(format!("{v} does not fit the column")))
}

fn to_u32(v: i32) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("negative key version {v}")))
}

fn job_from_row(r: &Row) -> Result<WebhookJob, StoreError> {
    Ok(WebhookJob {
        id: r.get(0),
        request_id: r.get(1),
        subject_id: r.get(2),
        webhook: r.get(3),
        event: r.get(4),
        status: r.get(5),
        attempts: to_u32(r.get(6))?,
        next_attempt_at: r.get(7),
        payload: r.get(8),
        last_error: r.get(9),
        updated_at: r.get(10),
    })
}

fn request_from_row(r: &Row) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        id: r.get(0),
        subject_id: r.get(1),
        kind: r.get(2),
        status: r.get(3),
        open: r.get(4),
        received_at: r.get(5),
        due_at: r.get(6),
        dek: r.get(7),
        kek_version: to_u32(r.get(8))?,
        version: r.get(9),
        updated_at: r.get(10),
        body: r.get(11),
    })
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

    async fn held(&self, ids: Vec<Uuid>) -> Result<std::collections::HashSet<Uuid>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached("SELECT id FROM subjects WHERE id = ANY($1)")
            .await?;
        let mut held = std::collections::HashSet::new();
        for chunk in ids.chunks(5000) {
            for row in c.query(&s, &[&chunk]).await? {
                held.insert(row.get(0));
            }
        }
        Ok(held)
    }

    async fn subject(&self, id: Uuid) -> Result<Option<SubjectRecord>, StoreError> {
        subject_row(&self.client().await?, id).await
    }

    async fn rewrite_flag_tables(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .batch_execute("VACUUM (FULL) subject_flags, obligations")
            .await?;
        Ok(())
    }

    async fn subjects_with_clear_notes(&self) -> Result<Vec<Uuid>, StoreError> {
        // A sealed note is `"sealed_note":`; a clear one `"note":`, quote included.
        let rows = self
            .client()
            .await?
            .query(
                "SELECT subject_id FROM subject_flags WHERE flag LIKE '%\"note\":%' UNION SELECT subject_id FROM obligations WHERE obligation LIKE '%\"note\":%'",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn subject_with_state(
        &self,
        id: Uuid,
        purpose: Option<String>,
    ) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError> {
        subject_and_state(&self.client().await?, id, purpose.as_deref()).await
    }

    async fn lookup(
        &self,
        field: &str,
        digest: &[u8; 32],
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached("SELECT subject_id, category FROM blind_index WHERE field = $1 AND digest = $2 ORDER BY category")
            .await?;
        Ok(c.query(&s, &[&field, &&digest[..]])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn subject_audit(
        &self,
        id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE subject_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ))
            .await?;
        events_of(
            &c.query(&s, &[&id.to_string(), &after_seq, &i64::from(limit)])
                .await?,
        )
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
            ))
            .await?;
        events_of(&c.query(&s, &[&after_seq, &i64::from(limit)]).await?)
    }

    async fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let c = self.client().await?;
        c.query_opt("SELECT seq, hash, mac FROM audit_head WHERE id = 1", &[])
            .await?
            .map(|r| {
                let hash: Vec<u8> = r.get(1);
                Ok(AuditHead {
                    seq: r.get(0),
                    hash: hash.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt("the signed head's hash is not 32 bytes long".into())
                    })?,
                    mac: r.get(2),
                })
            })
            .transpose()
    }

    async fn audit_event(&self, seq: i64) -> Result<Option<AuditEvent>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq = $1"
            ))
            .await?;
        Ok(events_of(&c.query(&s, &[&seq]).await?)?.pop())
    }

    async fn checkpoints(&self, after: i64, limit: u32) -> Result<Vec<Checkpoint>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE n > $1 ORDER BY n LIMIT $2"
            ))
            .await?;
        c.query(&s, &[&after, &i64::from(limit)])
            .await?
            .iter()
            .map(checkpoint_from_row)
            .collect()
    }

    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY n DESC LIMIT 1"),
            &[],
        )
        .await?
        .as_ref()
        .map(checkpoint_from_row)
        .transpose()
    }

    async fn audit_segments(&self) -> Result<Vec<Segment>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {SEGMENT_COLUMNS} FROM audit_segments ORDER BY n"
            ))
            .await?;
        c.query(&s, &[])
            .await?
            .iter()
            .map(segment_from_row)
            .collect()
    }

    async fn legacy_head(&self) -> Result<Option<(i64, String, String)>, StoreError> {
        let c = self.client().await?;
        Ok(
            c.query_opt("SELECT seq, hash, mac FROM audit_head_v1 WHERE id = 1", &[])
                .await?
                .map(|r| (r.get(0), r.get(1), r.get(2))),
        )
    }

    fn chain(&self) -> &ChainState {
        &self.chain
    }

    async fn token(&self, digest: &str) -> Result<Option<TokenRecord>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE digest = $1"
            ))
            .await?;
        c.query_opt(&s, &[&digest])
            .await?
            .as_ref()
            .map(token_from_row)
            .transpose()
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let c = self.client().await?;
        c.query(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"),
            &[],
        )
        .await?
        .iter()
        .map(token_from_row)
        .collect()
    }

    async fn job_runs(&self) -> Result<Vec<JobRun>, StoreError> {
        let c = self.client().await?;
        c.query(job_runs::SELECT, &[])
            .await?
            .iter()
            .map(job_runs::from_row)
            .collect()
    }

    fn token_generation(&self) -> Option<u64> {
        self.tokens.trusted_generation()
    }

    async fn count_active_tokens(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM tokens WHERE revoked_at IS NULL", &[])
            .await?
            .get(0);
        Ok(n.unsigned_abs())
    }

    async fn keys_page(
        &self,
        owner: KeyOwner,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<KeyRecord>, StoreError> {
        let c = self.client().await?;
        let after = after.unwrap_or(Uuid::nil());
        let s = c
            .prepare_cached(match owner {
                KeyOwner::Subject => "SELECT subject_id, dek_generation, dek, kek_version FROM subject_keys WHERE subject_id > $1 ORDER BY subject_id LIMIT $2",
                KeyOwner::Request => "SELECT id, 1, dek, kek_version FROM requests WHERE id > $1 ORDER BY id LIMIT $2",
            })
            .await?;
        c.query(&s, &[&after, &i64::from(limit)])
            .await?
            .iter()
            .map(|r| {
                Ok(KeyRecord {
                    owner,
                    id: r.get(0),
                    dek_generation: to_u32(r.get(1))?,
                    dek: r.get(2),
                    kek_version: to_u32(r.get(3))?,
                })
            })
            .collect()
    }

    async fn key_versions(&self) -> Result<std::collections::BTreeMap<u32, u64>, StoreError> {
        let c = self.client().await?;
        let mut out = std::collections::BTreeMap::new();
        for r in c
            .query(
                "SELECT kek_version, count(*) FROM subject_keys GROUP BY kek_version
                 UNION ALL SELECT kek_version, count(*) FROM requests GROUP BY kek_version",
                &[],
            )
            .await?
        {
            let n: i64 = r.get(1);
            *out.entry(to_u32(r.get(0))?).or_insert(0) += u64::try_from(n).unwrap_or(0);
        }
        Ok(out)
    }

    async fn count_subjects(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM subjects", &[])
            .await?
            .get(0);
        Ok(n.unsigned_abs())
    }

    async fn subjects_with_state(
        &self,
        asked: Vec<(Uuid, Option<String>)>,
    ) -> Result<Vec<Option<(SubjectRecord, SubjectState)>>, StoreError> {
        let c = self.client().await?;
        let mut out = Vec::with_capacity(asked.len());
        for (id, purpose) in asked {
            out.push(subject_and_state(&c, id, purpose.as_deref()).await?);
        }
        Ok(out)
    }

    async fn represented_by(
        &self,
        representative_id: Uuid,
    ) -> Result<Vec<RepresentativeLink>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached("SELECT link FROM representatives WHERE representative_id = $1")
            .await?;
        c.query(&s, &[&representative_id])
            .await?
            .iter()
            .map(|r| from_json(r.get::<_, &str>(0)))
            .collect()
    }

    async fn state_changes(&self, after: i64, limit: u32) -> Result<StateChanges, StoreError> {
        // One prepared statement, one snapshot: asked before every batch of decisions. A row per
        // change, or a single row with no change, each carrying the floor and the newest seq.
        let c = self.client().await?;
        let s = c
            .prepare_cached(
                "SELECT f.seq, (SELECT max(seq) FROM state_changes), x.seq, x.subject_id
                 FROM state_change_floor f
                 LEFT JOIN LATERAL (SELECT seq, subject_id FROM state_changes WHERE seq > $1 ORDER BY seq LIMIT $2) x ON true
                 WHERE f.id = 1",
            )
            .await?;
        let rows = c.query(&s, &[&after, &i64::from(limit)]).await?;
        let mut feed = StateChanges::default();
        for r in &rows {
            feed.floor = r.get(0);
            feed.latest = r
                .get::<_, Option<i64>>(1)
                .unwrap_or(feed.floor)
                .max(feed.floor);
            if let (Some(seq), Some(id)) = (r.get::<_, Option<i64>>(2), r.get::<_, Option<Uuid>>(3))
            {
                feed.changes.push((seq, id));
            }
        }
        Ok(feed)
    }

    async fn request(&self, id: Uuid) -> Result<Option<RequestRecord>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"
            ))
            .await?;
        c.query_opt(&s, &[&id])
            .await?
            .map(|r| request_from_row(&r))
            .transpose()
    }

    async fn requests(&self, query: RequestQuery) -> Result<Vec<RequestRecord>, StoreError> {
        let (sql, params) = query.sql(|n| format!("${n}"), "true");
        let values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = params
            .into_iter()
            .map(|p| -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
                match p {
                    Param::Text(t) => Box::new(t),
                    Param::Id(id) => Box::new(id),
                    Param::Int(i) => Box::new(i),
                }
            })
            .collect();
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        let c = self.client().await?;
        let s = c.prepare_cached(&sql).await?;
        c.query(&s, &refs)
            .await?
            .iter()
            .map(request_from_row)
            .collect()
    }

    async fn destruction(&self, subject_id: Uuid) -> Result<Option<Destruction>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached("SELECT record FROM destructions WHERE subject_id = $1")
            .await?;
        c.query_opt(&s, &[&subject_id])
            .await?
            .map(|r| from_json(&r.get::<_, String>(0)))
            .transpose()
    }

    async fn destructions(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Destruction>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(
                "SELECT record FROM destructions WHERE subject_id > $1 ORDER BY subject_id LIMIT $2",
            )
            .await?;
        c.query(&s, &[&after.unwrap_or(Uuid::nil()), &i64::from(limit)])
            .await?
            .iter()
            .map(|r| from_json(&r.get::<_, String>(0)))
            .collect()
    }

    async fn package(&self, request_id: Uuid) -> Result<Option<PackageRecord>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(
                "SELECT subject_id, created_at, expires_at, sealed FROM request_packages WHERE request_id = $1",
            )
            .await?;
        Ok(c.query_opt(&s, &[&request_id])
            .await?
            .map(|r| PackageRecord {
                request_id,
                subject_id: r.get(0),
                created_at: r.get(1),
                expires_at: r.get(2),
                sealed: r.get(3),
            }))
    }

    async fn expired_packages(
        &self,
        at: String,
        limit: u32,
    ) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(
                "SELECT request_id, subject_id FROM request_packages WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2",
            )
            .await?;
        Ok(c.query(&s, &[&at, &i64::from(limit)])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn webhook_job(&self, id: Uuid) -> Result<Option<WebhookJob>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {} FROM webhook_jobs WHERE id = $1",
                crate::sqlite::JOB_COLUMNS
            ))
            .await?;
        c.query_opt(&s, &[&id])
            .await?
            .map(|r| job_from_row(&r))
            .transpose()
    }

    async fn due_webhook_jobs(
        &self,
        at: String,
        limit: u32,
    ) -> Result<Vec<WebhookJob>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(&format!(
                "SELECT {} FROM webhook_jobs WHERE status IN ('pending', 'delivered') AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $2",
                crate::sqlite::JOB_COLUMNS
            ))
            .await?;
        c.query(&s, &[&at, &i64::from(limit)])
            .await?
            .iter()
            .map(job_from_row)
            .collect()
    }

    async fn count_consenting(&self, purpose: &str) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one(
                "SELECT COUNT(DISTINCT subject_id) FROM consent_events WHERE purpose = $1",
                &[&purpose],
            )
            .await?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn declarations(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let c = self.client().await?;
        Ok(c.query(
            "SELECT version, content_hash, recorded_at FROM declarations ORDER BY recorded_at, version",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
    }

    async fn declaration(&self, version: &str) -> Result<Option<(String, String)>, StoreError> {
        let c = self.client().await?;
        Ok(c.query_opt(
            "SELECT content_hash, content FROM declarations WHERE version = $1",
            &[&version],
        )
        .await?
        .map(|r| (r.get(0), r.get(1))))
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

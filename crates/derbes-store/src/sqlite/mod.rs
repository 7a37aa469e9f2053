//! The SQLite store: WAL, one writer thread committing groups with `BEGIN IMMEDIATE`, a small
//! pool of read-only connections.

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
use crate::subject_runs::{subject_events, Entry, RunPolicy, SubjectRuns};
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use subjects::subject_row;
use webhooks::put_job;

const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../../migrations/sqlite/0001_init.sql")),
    (
        2,
        include_str!("../../migrations/sqlite/0002_subject_runs.sql"),
    ),
    (3, include_str!("../../migrations/sqlite/0003_consents.sql")),
    (
        4,
        include_str!("../../migrations/sqlite/0004_obligations.sql"),
    ),
    (
        5,
        include_str!("../../migrations/sqlite/0005_state_changes.sql"),
    ),
    (6, include_str!("../../migrations/sqlite/0006_requests.sql")),
    (
        7,
        include_str!("../../migrations/sqlite/0007_destructions.sql"),
    ),
    (
        8,
        include_str!("../../migrations/sqlite/0008_webhook_jobs.sql"),
    ),
    (
        9,
        include_str!("../../migrations/sqlite/0009_consents_by_purpose.sql"),
    ),
    (
        10,
        include_str!("../../migrations/sqlite/0010_keyed_audit.sql"),
    ),
    (
        11,
        include_str!("../../migrations/sqlite/0011_secure_delete.sql"),
    ),
    (
        12,
        include_str!("../../migrations/sqlite/0012_token_lifecycle.sql"),
    ),
    (
        13,
        include_str!("../../migrations/sqlite/0013_audit_segments.sql"),
    ),
    (
        14,
        include_str!("../../migrations/sqlite/0014_job_runs.sql"),
    ),
    (
        15,
        include_str!("../../migrations/sqlite/0015_accounts.sql"),
    ),
    (
        16,
        include_str!("../../migrations/sqlite/0016_requests_by_status.sql"),
    ),
    (
        17,
        include_str!("../../migrations/sqlite/0017_majority_reconfirmations.sql"),
    ),
    (
        18,
        include_str!("../../migrations/sqlite/0018_reconfirmations_unsettled.sql"),
    ),
    (
        19,
        include_str!("../../migrations/sqlite/0019_guardians_months.sql"),
    ),
    (
        20,
        include_str!("../../migrations/sqlite/0020_request_categories.sql"),
    ),
    (
        21,
        include_str!("../../migrations/sqlite/0021_declaration_in_force.sql"),
    ),
    (
        22,
        include_str!("../../migrations/sqlite/0022_lifecycle_events.sql"),
    ),
    (
        23,
        include_str!("../../migrations/sqlite/0023_field_collected.sql"),
    ),
    (
        24,
        include_str!("../../migrations/sqlite/0024_retention_scans.sql"),
    ),
    (
        25,
        include_str!("../../migrations/sqlite/0025_legal_holds.sql"),
    ),
    (
        26,
        include_str!("../../migrations/sqlite/0026_retention_batches.sql"),
    ),
    (
        27,
        include_str!("../../migrations/sqlite/0027_depersonalized.sql"),
    ),
];

/// The migration after which the database is vacuumed once: space freed before deletions were
/// zeroed may still hold what earlier destructions removed.
const SECURE_DELETE: i64 = 11;

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
const KEYED_CHAIN: i64 = 10;
const READERS: usize = 4;
/// Prepared statements kept per connection: more than the store has.
const STATEMENT_CACHE: usize = 256;

pub struct SqliteStore {
    tx: mpsc::Sender<Job>,
    /// The writer thread: when the last sender is gone it finishes the queued operations and
    /// then checkpoints the whole WAL.
    writer: Option<std::thread::JoinHandle<()>>,
    /// Dropping the sender stops the checkpoint thread.
    checkpoints: Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>,
    readers: Arc<Readers>,
    chain: Arc<ChainState>,
    /// The revocation marker beside the database, when it could be made (see `Revocations`).
    revocations: Option<Revocations>,
    path: std::path::PathBuf,
}

/// The subjects with a note kept in clear: see `Store::subjects_with_clear_notes`.
const CLEAR_NOTES: &str = "SELECT subject_id FROM subject_flags WHERE flag LIKE '%\"note\":%' UNION SELECT subject_id FROM obligations WHERE obligation LIKE '%\"note\":%'";

/// A file beside the database that grows by a byte whenever a process revokes a token, after
/// the revocation commits. Every derbes on the database looks at its size and time before it
/// trusts a token it checked earlier (one `stat`, instead of a read of the token), so that a
/// revocation by any process, `derbes token revoke` included, holds from its commit. Without the
/// file (it could not be made, or is gone) tokens are checked in the store every time.
#[derive(Clone)]
struct Revocations(std::path::PathBuf);

impl Revocations {
    fn beside(db: &Path) -> Option<Self> {
        // Every process names the same marker, however it names the database.
        let db = std::fs::canonicalize(db).ok()?;
        let path = std::path::PathBuf::from(format!("{}-revocations", db.display()));
        let mut open = std::fs::OpenOptions::new();
        open.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut open, 0o600);
        open.open(&path).ok().map(|_| Self(path))
    }

    fn generation(&self) -> Option<u64> {
        let m = std::fs::metadata(&self.0).ok()?;
        let at = m
            .modified()
            .ok()?
            .duration_since(std::time::UNIX_EPOCH)
            .ok()?
            .as_nanos();
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(&m);
        #[cfg(not(unix))]
        let inode = 0u64;
        // Truncation keeps the low bits: the size alone changes with every revocation.
        #[allow(clippy::cast_possible_truncation)]
        let at = at as u64;
        Some(m.len() ^ at.rotate_left(20) ^ inode.rotate_left(44))
    }

    /// Tells every process of a revocation just committed. When the marker cannot grow, it is
    /// removed, so that no process trusts a cached token any more.
    fn announce(&self) {
        use std::io::Write;
        let grown = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.0)
            .and_then(|mut f| f.write_all(b"\n"));
        let gone = |e: std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        if let Err(e) = grown {
            if !gone(e) && std::fs::remove_file(&self.0).is_err_and(|e| !gone(e)) {
                eprintln!(
                    "derbes: warning: the revocation marker {} can be neither written nor removed; other derbes processes may accept the revoked token for up to a minute",
                    self.0.display()
                );
            }
        }
    }
}

struct Readers {
    conns: Mutex<Vec<Connection>>,
    available: Condvar,
}

impl Readers {
    fn with<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let conn = {
            let mut guard = self.conns.lock().map_err(|_| StoreError::Closed)?;
            loop {
                if let Some(c) = guard.pop() {
                    break c;
                }
                guard = self.available.wait(guard).map_err(|_| StoreError::Closed)?;
            }
        };
        let result = f(&conn);
        if let Ok(mut guard) = self.conns.lock() {
            guard.push(conn);
            self.available.notify_one();
        }
        result
    }
}

/// Copies the whole WAL into the database file and cuts it to nothing, so that no older version
/// of a page (one that held what a destruction removed) stays in the WAL. Returns whether it
/// completed: a reader still on older frames holds it back, and then it is tried again later.
fn scrub_wal(conn: &Connection) -> bool {
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    })
    .is_ok_and(|busy| busy == 0)
}

fn connect(path: &Path) -> Result<Connection, StoreError> {
    let conn =
        Connection::open(path).map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Every statement the store runs stays prepared: rusqlite keeps 16 by default, fewer than
    // one whole-subject destruction runs, so each was prepared again (docs/PERFORMANCE.md).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

/// Applies the migrations not applied yet; returns whether the database must be vacuumed.
fn migrate(conn: &Connection, keys: &dyn ChainKeys) -> Result<bool, StoreError> {
    let mut vacuum = false;
    conn.execute_batch(
        "BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL); COMMIT;",
    )?;
    for (version, sql) in MIGRATIONS {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let done: bool = conn
            .query_row(
                "SELECT 1 FROM schema_migrations WHERE version = ?1",
                [version],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        let result = if done {
            Ok(())
        } else {
            conn.execute_batch(sql)
                .and_then(|_| {
                    conn.execute(
                        "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
                        params![version, now()],
                    )
                })
                .map_err(StoreError::from)
                .and_then(|_| {
                    if *version == KEYED_CHAIN {
                        start_chain(conn, keys)
                    } else {
                        Ok(())
                    }
                })
        };
        match result {
            Ok(()) => conn.execute_batch("COMMIT")?,
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                return Err(StoreError::Open(format!("migration {version} failed: {e}")));
            }
        }
        vacuum |= !done && *version == SECURE_DELETE;
    }
    Ok(vacuum)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file, applies migrations and starts the writer.
    ///
    /// The writer appends nothing until the chain is verified ([`crate::open`] does that).
    pub fn open(path: &Path, keys: Keys, chain_policy: ChainPolicy) -> Result<Self, StoreError> {
        Self::open_with(
            path,
            keys,
            chain_policy,
            WalPolicy::default(),
            RunPolicy::default(),
        )
    }

    fn open_with(
        path: &Path,
        keys: Keys,
        chain_policy: ChainPolicy,
        policy: WalPolicy,
        run_policy: RunPolicy,
    ) -> Result<Self, StoreError> {
        let new = !path.exists();
        let writer = connect(path)?;
        #[cfg(unix)]
        if new {
            // Only derbes's user reads the database (SQLite gives its WAL the same mode).
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| StoreError::Open(format!("{}: {e}", path.display())))?;
        }
        // The writer inserts blind-index entries at random places in a large B-tree: a bigger
        // page cache (32 MiB) keeps those pages at hand. Not bigger: SQLite walks every slot of
        // the cache when it trims it at commit, and with 256 MiB that walk took 44% of the
        // writer's time (docs/PERFORMANCE.md).
        // Checkpoints run on their own thread (below), never inside a commit that requests
        // are waiting for. Deleted content is overwritten with zeros (the cells of a destroyed
        // subject's key and fields, and the pages freed), not merely marked free.
        writer.execute_batch(&format!(
            "PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {}; PRAGMA secure_delete = ON;",
            policy.size_limit
        ))?;
        if migrate(&writer, keys.as_ref())? {
            let held: i64 =
                writer.query_row("SELECT count(*) FROM destructions", [], |r| r.get(0))?;
            if held > 0 {
                eprintln!(
                    "derbes: rewriting the database once, so that no space freed by the {held} destruction(s) before this version still holds their data"
                );
                writer.execute_batch("VACUUM")?;
            }
            scrub_wal(&writer);
        }
        let runs = SubjectRuns::load(&writer, run_policy)?;
        let mut conns = Vec::with_capacity(READERS);
        for _ in 0..READERS {
            let c = connect(path)?;
            // SQLite's default page cache (2 MiB). A read that starts after a commit finds its
            // cache reset, and the reset walks every slot the cache ever grew to: with 64 MiB
            // caches, resets took a quarter of the CPU while consents were recorded
            // (docs/PERFORMANCE.md).
            c.execute_batch("PRAGMA query_only = 1;")?;
            conns.push(c);
        }
        let checkpointer = connect(path)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let finish = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let finish_requests = Arc::clone(&finish);
        let scrub = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let scrub_requests = Arc::clone(&scrub);
        let checkpoints = std::thread::Builder::new()
            .name("derbes-sqlite-checkpoint".into())
            .spawn(move || {
                checkpoint_loop(
                    checkpointer,
                    stopped,
                    finish_requests,
                    scrub_requests,
                    policy,
                )
            })
            .map_err(|e| StoreError::Open(format!("cannot start the checkpoint thread: {e}")))?;
        let revocations = Revocations::beside(path);
        let announces = revocations.clone();
        let (tx, rx) = mpsc::channel::<Job>(4 * MAX_GROUP);
        let chain = Arc::new(ChainState::new());
        let chain_writer = Chain {
            keys,
            state: Arc::clone(&chain),
            policy: chain_policy,
        };
        let writer = std::thread::Builder::new()
            .name("derbes-sqlite-writer".into())
            .spawn(move || writer_loop(writer, rx, chain_writer, finish, scrub, runs, announces))
            .map_err(|e| StoreError::Open(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            tx,
            writer: Some(writer),
            checkpoints: Some((stop, checkpoints)),
            readers: Arc::new(Readers {
                conns: Mutex::new(conns),
                available: Condvar::new(),
            }),
            chain,
            revocations,
            path: path.to_owned(),
        })
    }

    /// A point query (one row by key): run on the calling thread, which costs less than
    /// handing it to the blocking pool; WAL readers never wait for the writer.
    fn read_now<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.readers.with(f)
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let readers = Arc::clone(&self.readers);
        tokio::task::spawn_blocking(move || readers.with(f))
            .await
            .map_err(|_| StoreError::Closed)?
    }
}

impl Drop for SqliteStore {
    /// Stops the checkpoint thread, then lets the writer finish what is queued and checkpoint the
    /// whole WAL, and waits for it: a command like `import` leaves a small WAL behind, and no
    /// checkpoint competes with a writer that is still committing.
    fn drop(&mut self) {
        if let Some((stop, thread)) = self.checkpoints.take() {
            drop(stop);
            let _ = thread.join();
        }
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.tx, closed));
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// When and how the WAL is checkpointed and started over.
#[derive(Debug, Clone, Copy)]
struct WalPolicy {
    /// How often the checkpoint thread copies WAL frames into the database file.
    interval: std::time::Duration,
    /// A WAL longer than this many frames is brought back to its start.
    restart_frames: i64,
    /// How many frames the writer may be left to copy itself before the WAL restarts.
    tail_frames: i64,
    /// The size a restarted WAL file is cut back to (`journal_size_limit`), in bytes.
    size_limit: i64,
}

impl Default for WalPolicy {
    fn default() -> Self {
        Self {
            interval: std::time::Duration::from_secs(2),
            // 4 KiB frames: 256 MiB. Each restart under load costs one stall of the writer (a
            // complete checkpoint ends with an fsync of the database file, 1-70 ms measured
            // here), so restarts are kept rare; see docs/PERFORMANCE.md.
            restart_frames: 65536,
            tail_frames: 64,
            // Large enough that a restarted WAL is overwritten in place rather than cut and
            // grown again (growing a file costs the kernel a zeroed page per frame).
            size_limit: 512 << 20,
        }
    }
}

/// Keeps the WAL short without making commits wait for checkpoints.
///
/// A PASSIVE checkpoint never blocks the writer or readers, but under constant writes it never
/// catches up with the end of the WAL either, and SQLite only starts the WAL over when a
/// checkpoint has copied every frame. Left alone the WAL grows without bound (measured: 1.4 GB
/// for a 47 MB database after 12 s of reads). So this thread copies the bulk, repeating while
/// the frames written meanwhile are many, and then asks the writer to copy the short remainder
/// between two commit groups: the writer's next transaction then starts the WAL over.
/// Measured (docs/PERFORMANCE.md): checkpoints inside commits put a lookup's p99 at 17 ms.
fn checkpoint_loop(
    conn: Connection,
    stopped: std::sync::mpsc::Receiver<()>,
    finish: Arc<std::sync::atomic::AtomicBool>,
    scrub: Arc<std::sync::atomic::AtomicBool>,
    policy: WalPolicy,
) {
    use std::sync::atomic::Ordering;
    use std::sync::mpsc::RecvTimeoutError;
    while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(policy.interval) {
        // A destruction whose WAL the writer could not cut at once: tried again until done.
        if scrub.load(Ordering::Acquire) && scrub_wal(&conn) {
            scrub.store(false, Ordering::Release);
        }
        let Some(mut log) = passive_checkpoint(&conn) else {
            continue;
        };
        if log < policy.restart_frames {
            continue;
        }
        // Each pass copies what the writer added during the previous one, so passes get
        // shorter; once one finds only a few new frames, the writer copies the rest.
        let mut added = i64::MAX;
        for _ in 0..8 {
            let Some(now) = passive_checkpoint(&conn) else {
                break;
            };
            added = now - log;
            log = now;
            if added <= policy.tail_frames {
                break;
            }
        }
        // Writes too fast for the passes to close in: past twice the limit the writer copies
        // a longer remainder rather than let the WAL grow without bound.
        if added <= policy.tail_frames || log >= 2 * policy.restart_frames {
            finish.store(true, Ordering::Release);
        }
    }
}

/// One PASSIVE checkpoint: the WAL's length in frames, when the pass copied all of them (a reader
/// still on older frames keeps them, and then the WAL cannot start over yet anyway).
fn passive_checkpoint(conn: &Connection) -> Option<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get::<_, i64>(1)?, r.get::<_, i64>(2)?))
    })
    .ok()
    .filter(|(log, copied)| *log >= 0 && copied == log)
    .map(|(log, _)| log)
}

fn writer_loop(
    conn: Connection,
    mut rx: mpsc::Receiver<Job>,
    chain: Chain,
    finish: Arc<std::sync::atomic::AtomicBool>,
    scrub: Arc<std::sync::atomic::AtomicBool>,
    mut runs: SubjectRuns,
    revocations: Option<Revocations>,
) {
    use tokio::sync::mpsc::error::TryRecvError;
    // After a failed index step, the next one waits a little (the chain stays complete; only the
    // index lags, and the tail scan covers it).
    let mut retry_at = std::time::Instant::now();
    let mut step = |runs: &mut SubjectRuns| {
        if runs.has_work() && std::time::Instant::now() >= retry_at {
            if let Err(e) = runs.step(&conn) {
                eprintln!(
                    "derbes: a step of the per-subject audit index failed, retrying in 1 s: {e}"
                );
                retry_at = std::time::Instant::now() + std::time::Duration::from_secs(1);
            }
            true
        } else {
            false
        }
    };
    let mut groups: u64 = 0;
    let mut mark = None;
    loop {
        let first = match rx.try_recv() {
            Ok(job) => job,
            // Idle: index work first, then wait for the next operation.
            Err(TryRecvError::Empty) => {
                if step(&mut runs) {
                    continue;
                }
                match rx.blocking_recv() {
                    Some(job) => job,
                    None => break,
                }
            }
            Err(TryRecvError::Disconnected) => break,
        };
        let mut jobs = vec![first];
        drain(&mut rx, &mut jobs);
        if jobs.len() > 1 && jobs.len() < MAX_GROUP / 4 {
            // Under load, a moment's wait fills the group: one commit for more operations.
            std::thread::sleep(std::time::Duration::from_micros(300));
            drain(&mut rx, &mut jobs);
        }
        let (ops, replies): (Vec<WriteOp>, Vec<_>) = jobs.into_iter().unzip();
        groups += 1;
        let (results, appended) = commit_group(
            &conn,
            ops,
            &chain,
            &mut mark,
            groups.is_multiple_of(PRUNE_EVERY),
        );
        runs.committed(appended);
        // A destruction (of a subject, or of a batch item's fields) is answered once no older
        // version of its pages is left in the WAL (deleted cells are zeroed in the pages
        // themselves): the answer means it is gone. A batch item marked skipped answers the
        // same way and empties the WAL too, which is rare enough not to tell apart.
        let destroyed = results.iter().any(|r| {
            matches!(
                r,
                Ok(Applied::Destroyed { already: false, .. } | Applied::BatchItemDone)
            )
        });
        if destroyed && !scrub_wal(&conn) {
            scrub.store(true, std::sync::atomic::Ordering::Release);
        }
        // A revocation is announced as soon as it commits, here, whether or not anyone still
        // waits for its answer (a repeated one too: announcing twice costs a re-read).
        let revoked = results
            .iter()
            .any(|r| matches!(r, Ok(Applied::TokenRevoked { .. })));
        if let (true, Some(r)) = (revoked, &revocations) {
            r.announce();
        }
        for (reply, result) in replies.into_iter().zip(results) {
            let _ = reply.send(result);
        }
        if finish.swap(false, std::sync::atomic::Ordering::AcqRel) {
            // The checkpoint thread copied all but the last few frames; with no commit in
            // between, this pass copies the rest and the next transaction restarts the WAL.
            let _ = passive_checkpoint(&conn);
        }
        // Under load, one step of index work between two groups.
        step(&mut runs);
    }
    // The last operation is committed: a complete checkpoint leaves a small WAL behind.
    let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
}

/// The chain's head while a group is applied, and the per-subject index entries of the events
/// the group appended so far.
#[derive(Debug)]
struct Head {
    seq: i64,
    hash: Hash,
    appended: Vec<Entry>,
}

impl Head {
    fn mark(&self) -> (i64, Hash, usize) {
        (self.seq, self.hash, self.appended.len())
    }

    fn reset(&mut self, (seq, hash, len): (i64, Hash, usize)) {
        self.seq = seq;
        self.hash = hash;
        self.appended.truncate(len);
    }
}

/// Applies a group of operations in one transaction. Each operation of more than one statement
/// runs under its own savepoint, so a refused one leaves the rest of the group alone. Also returns
/// the per-subject index entries of the events committed (none when the commit failed).
/// Keeps the newest `keep` changes of the feed and raises its floor.
fn prune_state_changes(conn: &Connection, keep: i64) -> Result<(), StoreError> {
    let cut: Option<i64> = conn
        .prepare_cached("SELECT seq FROM state_changes ORDER BY seq DESC LIMIT 1 OFFSET ?1")?
        .query_row([keep], |r| r.get(0))
        .optional()?;
    if let Some(cut) = cut {
        conn.prepare_cached("DELETE FROM state_changes WHERE seq <= ?1")?
            .execute([cut])?;
        conn.prepare_cached("UPDATE state_change_floor SET seq = max(seq, ?1) WHERE id = 1")?
            .execute([cut])?;
    }
    Ok(())
}

/// Where the writer left the chain with its last commit: the connection's data version then
/// (which changes only when another connection commits) and the anchor it moved to.
#[derive(Debug)]
struct WriterMark {
    data_version: i64,
    anchor: Anchor,
}

/// Commits `ops` in one transaction; `prune` also prunes the feed of state changes. `mark` is
/// where the previous group left the chain, and is moved on.
fn commit_group(
    conn: &Connection,
    ops: Vec<WriteOp>,
    chain: &Chain,
    mark: &mut Option<WriterMark>,
    prune: bool,
) -> (Vec<Result<Applied, StoreError>>, Vec<Entry>) {
    let n = ops.len();
    let fail_all = |e: StoreError| (crate::fail_each(n, &e), Vec::new());
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        return fail_all(e.into());
    }
    let last_mark = mark.take();
    let (anchor, data_version) = match verified_tail(conn, chain, last_mark) {
        Ok(a) => a,
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return fail_all(e);
        }
    };
    let mut head = Head {
        seq: anchor.seq,
        hash: anchor.hash,
        appended: Vec::new(),
    };
    let at = time::OffsetDateTime::now_utc();
    let keys = chain.keys.as_ref();
    let mut results = Vec::with_capacity(n);
    let mut asked = Vec::new();
    for op in ops {
        if matches!(op, WriteOp::Checkpoint) {
            asked.push(results.len());
            results.push(Ok(Applied::Audited));
            continue;
        }
        let saved = head.mark();
        let guarded = needs_savepoint(&op);
        if guarded {
            if let Err(e) = exec_cached(conn, "SAVEPOINT op") {
                results.push(Err(e.into()));
                continue;
            }
        }
        let changed = op.changed_subject();
        let r = apply(conn, op, &mut head, at, keys).and_then(|applied| {
            if let Some(id) = changed.filter(|_| !applied.changed_nothing()) {
                conn.prepare_cached("INSERT INTO state_changes (seq, subject_id) VALUES (?1, ?2)")?
                    .execute(params![head.seq, &id.as_bytes()[..]])?;
            }
            Ok(applied)
        });
        if let Err(e) = &r {
            // Some errors (disk full, I/O, out of memory) make SQLite roll the whole transaction
            // back: what came before is gone too, and later operations would commit on their own
            // with a chain that points at events that no longer exist. Fail the group instead.
            if conn.is_autocommit() {
                return fail_all(StoreError::Backend(e.to_string()));
            }
            head.reset(saved);
            if guarded {
                let _ = exec_cached(conn, "ROLLBACK TO op");
            }
        }
        if guarded {
            let _ = exec_cached(conn, "RELEASE op");
        }
        results.push(r);
    }
    let finished = (|| -> Result<Option<Checkpoint>, StoreError> {
        if prune {
            prune_state_changes(conn, STATE_CHANGES_KEPT)?;
        }
        let checkpoint = if !asked.is_empty()
            || head.seq - anchor.checkpoint.1 >= chain.policy.checkpoint_every_events
        {
            Some(write_checkpoint(
                conn,
                head.seq,
                head.hash,
                anchor.legacy_until,
                keys,
            )?)
        } else {
            None
        };
        if head.seq != anchor.seq || checkpoint.is_some() {
            put_head(conn, head.seq, &head.hash, keys)?;
        }
        conn.execute_batch("COMMIT")?;
        Ok(checkpoint)
    })();
    match finished {
        Ok(checkpoint) => {
            let next = Anchor {
                seq: head.seq,
                hash: head.hash,
                legacy_until: anchor.legacy_until,
                checkpoint: checkpoint
                    .as_ref()
                    .map_or(anchor.checkpoint, |c| (c.n, c.seq)),
            };
            // Read under the write lock, before this commit (which does not change it).
            *mark = Some(WriterMark {
                data_version,
                anchor: next.clone(),
            });
            chain.state.set(next);
            if let Some(c) = checkpoint {
                for i in asked {
                    results[i] = Ok(Applied::Checkpointed(c.clone()));
                }
            }
            (results, head.appended)
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            fail_all(e)
        }
    }
}

/// The writer's anchor, after verifying, within the group's transaction, that the chain still
/// holds it and that whatever other processes appended since continues it. A chain that does
/// not is reported broken, and nothing is written. When no other connection committed since
/// this writer's last commit (`mark`), which left the chain at the same anchor, the tail is the
/// one it wrote and verified, and is not read again. Also returns the data version read.
fn verified_tail(
    conn: &Connection,
    chain: &Chain,
    mark: Option<WriterMark>,
) -> Result<(Anchor, i64), StoreError> {
    let data_version: i64 = conn
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?;
    let anchor = chain.state.anchor()?;
    if mark.is_some_and(|m| m.data_version == data_version && m.anchor == anchor) {
        return Ok((anchor, data_version));
    }
    let head_seq: Option<i64> = conn
        .prepare_cached("SELECT seq FROM audit_head WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let mut cont = Continuation::new(&anchor);
    let mut from = cont.first_seq();
    let checked = loop {
        let page = match events_from(conn, from, 5000) {
            Ok(p) => p,
            Err(StoreError::Corrupt(m)) => break Err(derbes_core::audit::ChainBreak::Corrupt(m)),
            Err(e) => return Err(e),
        };
        if let Err(b) = cont.push(&page, chain.keys.as_ref()) {
            break Err(b);
        }
        match page.last() {
            Some(last) if page.len() == 5000 => from = last.seq + 1,
            _ => break Ok(()),
        }
    };
    match checked.and_then(|()| cont.finish(head_seq)) {
        Ok(a) => Ok((a, data_version)),
        Err(b) => {
            chain.state.refuse(b.to_string());
            Err(StoreError::ChainBroken(b.to_string()))
        }
    }
}

/// A single INSERT (one audit event) undoes itself when it fails; anything longer needs a
/// savepoint to be undone alone.
fn needs_savepoint(op: &WriteOp) -> bool {
    !matches!(op, WriteOp::Audit(drafts) if drafts.len() == 1)
}

fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn append(
    conn: &Connection,
    head: &mut Head,
    draft: AuditDraft,
    at: time::OffsetDateTime,
    keys: &dyn ChainKeys,
) -> Result<(), StoreError> {
    let e = draft.seal(head.seq + 1, at, &head.hash, keys);
    insert_event(conn, &e)?;
    if let Some(subject) = e.subject_id {
        head.appended.push((subject, e.seq));
    }
    head.seq = e.seq;
    head.hash = e.hash;
    Ok(())
}

/// Starts the chain of a new database with its start event, its signed head and checkpoint 1, in
/// the transaction of the migration that keys the chain. A database that already has events, or
/// had a head signed by an earlier derbes, is left as it is.
fn start_chain(conn: &Connection, keys: &dyn ChainKeys) -> Result<(), StoreError> {
    let (events, legacy): (i64, i64) = conn.query_row(
        "SELECT (SELECT count(*) FROM audit_events), (SELECT coalesce(max(seq), 0) FROM audit_head_v1)",
        [],
        |r| r.try_into(),
    )?;
    if events > 0 || legacy > 0 {
        return Ok(());
    }
    let e = crate::chain::start_event("sqlite", keys);
    insert_event(conn, &e)?;
    put_head(conn, e.seq, &e.hash, keys)?;
    insert_checkpoint(conn, &Checkpoint::sign(1, 1, e.hash, e.at, 0, keys))?;
    Ok(())
}

fn insert_event(conn: &Connection, e: &AuditEvent) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_events (seq, at, actor, action, subject_id, purpose, fields, outcome, reason, details, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?
    .execute(params![
        e.seq,
        e.at,
        e.actor,
        e.action,
        e.subject_id,
        e.purpose,
        e.fields.join("\u{1f}"),
        e.outcome.as_str(),
        e.reason,
        e.details,
        &e.hash[..]
    ])?;
    Ok(())
}

fn put_head(
    conn: &Connection,
    seq: i64,
    hash: &Hash,
    keys: &dyn ChainKeys,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit_head (id, seq, hash, mac) VALUES (1, ?1, ?2, ?3)
         ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac",
    )?
    .execute(params![seq, &hash[..], &keys.head_mac(seq, hash)[..]])?;
    Ok(())
}

fn insert_checkpoint(conn: &Connection, c: &Checkpoint) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO audit_checkpoints ({CHECKPOINT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))?
    .execute(params![
        c.n,
        c.seq,
        &c.hash[..],
        c.at,
        c.legacy_until,
        c.signature
    ])?;
    Ok(())
}

fn checkpoint_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<crate::CheckpointRow> {
    r.try_into()
}

/// The archived segments, in order.
fn segments(conn: &Connection) -> Result<Vec<Segment>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {SEGMENT_COLUMNS} FROM audit_segments ORDER BY n"
    ))?;
    let rows = stmt.query_map([], |r| r.try_into())?;
    rows.map(|r| crate::segment_of(r?)).collect()
}

fn last_checkpoint(conn: &Connection) -> Result<Option<Checkpoint>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY n DESC LIMIT 1"
    ))?
    .query_row([], checkpoint_row)
    .optional()?
    .map(crate::checkpoint_of)
    .transpose()
}

/// Signs a checkpoint of the chain at (`seq`, `hash`), unless the last one already covers it.
fn write_checkpoint(
    conn: &Connection,
    seq: i64,
    hash: Hash,
    legacy_until: i64,
    keys: &dyn ChainKeys,
) -> Result<Checkpoint, StoreError> {
    let last = last_checkpoint(conn)?;
    if let Some(l) = last.as_ref().filter(|l| l.seq == seq && l.hash == hash) {
        return Ok(l.clone());
    }
    let (n, at) = crate::chain::next_checkpoint(last.as_ref());
    let c = Checkpoint::sign(n, seq, hash, at, legacy_until, keys);
    insert_checkpoint(conn, &c)?;
    Ok(c)
}

/// Events from `from` on, in order, at most `limit`.
fn events_from(conn: &Connection, from: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq >= ?1 ORDER BY seq LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![from, limit], raw_event)?;
    crate::events(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One operation's hold on the commit group: the connection, and the chain its audit events
/// continue.
struct Tx<'a> {
    conn: &'a Connection,
    head: &'a mut Head,
    at: time::OffsetDateTime,
    keys: &'a dyn ChainKeys,
}

impl Tx<'_> {
    /// Seals an audit event into the chain.
    fn append(&mut self, draft: AuditDraft) -> Result<(), StoreError> {
        append(self.conn, self.head, draft, self.at, self.keys)
    }
}

fn apply(
    conn: &Connection,
    op: WriteOp,
    head: &mut Head,
    at: time::OffsetDateTime,
    keys: &dyn ChainKeys,
) -> Result<Applied, StoreError> {
    let mut tx = Tx {
        conn,
        head,
        at,
        keys,
    };
    match op {
        WriteOp::CreateSubject {
            record: r,
            index,
            audit,
        } => subjects::create_subject(&mut tx, r, index, audit),
        WriteOp::UpdateSubject {
            id,
            expected_version,
            fields,
            field_collected,
            index,
            audit,
        } => subjects::update_subject(
            &mut tx,
            id,
            expected_version,
            (fields, field_collected),
            index,
            audit,
        ),
        WriteOp::Rewrap { keys, audit } => keys::rewrap(&mut tx, keys, audit),
        WriteOp::CreateToken { token: t, audit } => tokens::create_token(&mut tx, t, audit),
        WriteOp::RevokeToken { id, at, audit } => tokens::revoke_token(&mut tx, id, at, audit),
        WriteOp::TokensUsed { used } => tokens::tokens_used(&mut tx, used),
        WriteOp::Account(w) => accounts::write(&mut tx, *w),
        WriteOp::SessionsSeen { seen } => accounts::sessions_seen(&mut tx, seen),
        WriteOp::RecordJobRun(run) => {
            job_runs::record(conn, &run)?;
            Ok(Applied::JobRunRecorded)
        }
        WriteOp::KeepRetentionScan(scan) => {
            retention_scans::keep(conn, &scan)?;
            Ok(Applied::RetentionScanKept)
        }
        op @ (WriteOp::PutRetentionBatch { .. }
        | WriteOp::DestroyFields { .. }
        | WriteOp::MarkBatchItem { .. }) => retention_batches::apply(&mut tx, op),
        WriteOp::PutPseudonymKey { batch, key } => depersonalized::put_key(conn, batch, &key),
        WriteOp::RecordDeclaration {
            version,
            content_hash,
            content,
            audit,
        } => declarations::record_declaration(&mut tx, version, content_hash, content, audit),
        WriteOp::RecordConsent {
            event,
            seen,
            version,
            reconfirm_in,
            audit,
        } => subject_state::record_consent(&mut tx, event, (seen, version), reconfirm_in, audit),
        WriteOp::RecordLifecycle { event, seen, audit } => {
            subject_state::record_lifecycle(&mut tx, event, seen, audit)
        }
        WriteOp::SettleReconfirmations {
            subject_id,
            version,
            consents,
            due,
            audit,
        } => subject_state::settle_reconfirmations(
            &mut tx, subject_id, version, consents, due, audit,
        ),
        WriteOp::LinkRepresentative { link, audit } => {
            subject_state::link_representative(&mut tx, link, audit)
        }
        WriteOp::UnlinkRepresentative {
            subject_id,
            representative_id,
            audit,
        } => subject_state::unlink_representative(&mut tx, subject_id, representative_id, audit),
        WriteOp::SetFlag {
            subject_id,
            flag,
            audit,
        } => subject_state::set_flag(&mut tx, subject_id, flag, audit),
        WriteOp::FileRequest {
            record: r,
            refuse_duplicate,
            audit,
        } => requests::file_request(&mut tx, r, refuse_duplicate, audit),
        WriteOp::UpdateRequest {
            record: r,
            audit,
            jobs,
        } => requests::update_request(&mut tx, r, audit, jobs),
        WriteOp::UpdateWebhookJob {
            job,
            expected_status,
            audit,
        } => webhooks::update_webhook_job(&mut tx, job, expected_status, audit),
        WriteOp::DestroySubject {
            destruction,
            audit,
            checked,
            batch,
            depersonalized,
        } => destructions::destroy_subject(
            &mut tx,
            destruction,
            audit,
            checked,
            (batch, depersonalized),
        ),
        WriteOp::StorePackage { package: p, audit } => packages::store_package(&mut tx, p, audit),
        WriteOp::DeletePackage { request_id, audit } => {
            packages::delete_package(&mut tx, request_id, audit)
        }
        // Taken by the commit group itself, before any operation is applied.
        WriteOp::Checkpoint => Ok(Applied::Audited),
        // Deleted content is zeroed as it is deleted (`secure_delete`).
        WriteOp::RewriteDestroyedKeys => Ok(Applied::KeysRewritten),
        WriteOp::ArchiveAudit { segment, audit } => audit::archive_audit(&mut tx, segment, audit),
        WriteOp::Audit(drafts) => audit::audit(&mut tx, drafts),
    }
}

fn uuid_of(bytes: Vec<u8>) -> Result<Uuid, StoreError> {
    Uuid::from_slice(&bytes).map_err(|_| StoreError::Corrupt("subject id is not 16 bytes".into()))
}

pub(crate) fn raw_event(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawEvent> {
    Ok(RawEvent {
        seq: r.get(0)?,
        at: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        subject_id: r.get(4)?,
        purpose: r.get(5)?,
        fields: r.get(6)?,
        outcome: r.get(7)?,
        reason: r.get(8)?,
        details: r.get(9)?,
        // A hash changed to text (an edit by hand) reads as its bytes, and then fails the
        // length check or verification.
        hash: match r.get_ref(10)? {
            rusqlite::types::ValueRef::Blob(b) => b.to_vec(),
            rusqlite::types::ValueRef::Text(t) => t.to_vec(),
            _ => Vec::new(),
        },
    })
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn write(&self, op: WriteOp) -> Result<Applied, StoreError> {
        crate::submit(&self.tx, op).await
    }

    fn chain(&self) -> &ChainState {
        &self.chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use derbes_core::audit::Outcome;

    fn test_keys() -> Keys {
        Arc::new(derbes_crypto::KeyRing::generate().unwrap())
    }

    /// Migrates a new database and returns a writer's chain, verified up to its start event.
    fn test_chain(conn: &Connection) -> Chain {
        let keys = test_keys();
        migrate(conn, keys.as_ref()).unwrap();
        let start = events_from(conn, 1, 1).unwrap().remove(0);
        let state = Arc::new(ChainState::new());
        state.set(Anchor {
            seq: 1,
            hash: start.hash,
            legacy_until: 0,
            checkpoint: (1, 1),
        });
        Chain {
            keys,
            state,
            policy: ChainPolicy::default(),
        }
    }

    #[test]
    fn pruning_keeps_the_newest_changes_and_raises_the_floor() {
        let dir = tempfile::tempdir().unwrap();
        let conn = connect(&dir.path().join("p.db")).unwrap();
        migrate(&conn, test_keys().as_ref()).unwrap();
        for seq in 1..=5 {
            conn.execute(
                "INSERT INTO state_changes (seq, subject_id) VALUES (?1, ?2)",
                params![seq, &Uuid::from_u128(seq as u128).as_bytes()[..]],
            )
            .unwrap();
        }
        prune_state_changes(&conn, 2).unwrap();
        let kept: Vec<i64> = conn
            .prepare("SELECT seq FROM state_changes ORDER BY seq")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(kept, [4, 5]);
        let floor: i64 = conn
            .query_row("SELECT seq FROM state_change_floor", [], |r| r.get(0))
            .unwrap();
        assert_eq!(floor, 3);
        // Nothing to prune: the floor stays.
        prune_state_changes(&conn, 2).unwrap();
        let floor: i64 = conn
            .query_row("SELECT seq FROM state_change_floor", [], |r| r.get(0))
            .unwrap();
        assert_eq!(floor, 3);
    }

    /// The WAL header's checkpoint sequence number (bytes 12..16, big-endian): SQLite adds one
    /// each time the WAL starts over.
    fn wal_restarts(db: &Path) -> u32 {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        use std::io::Read;
        let mut header = [0u8; 16];
        match std::fs::File::open(wal).and_then(|mut f| f.read_exact(&mut header)) {
            Ok(()) => u32::from_be_bytes([header[12], header[13], header[14], header[15]]),
            Err(_) => 0,
        }
    }

    /// Under writes that never pause, the WAL still starts over, and its file stays small: a
    /// checkpoint that only ever runs beside the writer never catches up with it.
    #[test]
    fn wal_starts_over_under_constant_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("derbes.db");
        let policy = WalPolicy {
            interval: std::time::Duration::from_millis(50),
            restart_frames: 64,
            tail_frames: 16,
            size_limit: 1 << 20,
        };
        let keys = test_keys();
        let store = Arc::new(
            SqliteStore::open_with(
                &path,
                Arc::clone(&keys),
                ChainPolicy::default(),
                policy,
                RunPolicy::default(),
            )
            .unwrap(),
        );
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(crate::chain::anchor(store.as_ref(), keys.as_ref()))
            .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        // Many writers at once keep the writer's queue from ever running empty.
        let writers: Vec<_> = (0..256)
            .map(|w| {
                let store = Arc::clone(&store);
                let stop = Arc::clone(&stop);
                rt.spawn(async move {
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let draft = AuditDraft::new("test", "subject.read", Outcome::Allowed)
                            .subject(Uuid::now_v7())
                            .purpose(&format!("p{w}"));
                        store.write(WriteOp::Audit(vec![draft])).await.unwrap();
                    }
                })
            })
            .collect();
        let before = wal_restarts(&path);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let (mut restarts, mut largest) = (0, 0);
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        while restarts < 3 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            restarts = wal_restarts(&path).wrapping_sub(before);
            largest = largest.max(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0));
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for w in writers {
            rt.block_on(w).unwrap();
        }
        assert!(restarts >= 3, "the WAL started over {restarts} times");
        // Each restart cuts the file back to the policy's limit; between restarts it grows by
        // at most what one interval's writes add.
        assert!(largest < 16 << 20, "the WAL grew to {largest} bytes");
        // Closing the store commits what is queued and leaves an empty WAL.
        drop(store);
        assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0);
    }

    /// A database written before the per-subject runs existed keeps its subjects' trails: the
    /// migration turns them into the first run.
    #[test]
    fn migration_indexes_earlier_events() {
        let dir = tempfile::tempdir().unwrap();
        let conn = connect(&dir.path().join("derbes.db")).unwrap();
        conn.execute_batch(MIGRATIONS[0].1).unwrap();
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
            [],
        )
        .unwrap();
        conn.execute("INSERT INTO schema_migrations VALUES (1, 'then')", [])
            .unwrap();
        let (a, b) = (Uuid::now_v7().to_string(), Uuid::now_v7().to_string());
        for (seq, s) in [&a, &b, &a].iter().enumerate() {
            conn.execute(
                "INSERT INTO audit_events (seq, at, actor, action, subject_id, fields, outcome, prev_hash, hash)
                 VALUES (?1, 'then', 'test', 'subject.read', ?2, '', 'allowed', '00', ?3)",
                params![seq as i64 + 1, s, "ab".repeat(32)],
            )
            .unwrap();
        }
        migrate(&conn, test_keys().as_ref()).unwrap();
        let runs = SubjectRuns::load(&conn, RunPolicy::default()).unwrap();
        assert!(!runs.has_work());
        let seqs = |s: &str| -> Vec<i64> {
            subject_events(&conn, s, 0, 10)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect()
        };
        assert_eq!(seqs(&a), [1, 3]);
        assert_eq!(seqs(&b), [2]);
        // Read from the run, not from a scan of the tail.
        let covered: i64 = conn
            .query_row(
                "SELECT max(last_seq) FROM audit_subject_run_list",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(covered, 3);
    }

    #[derive(Debug, Clone)]
    enum Action {
        /// One commit group: an audit event per element, about subject `n` or none.
        Group(Vec<Option<u8>>),
        /// Background steps between groups.
        Steps(u8),
        /// The writer stops wherever it is and the store opens again.
        Reopen,
    }

    fn action() -> impl proptest::strategy::Strategy<Value = Action> {
        use proptest::prelude::*;
        prop_oneof![
            4 => proptest::collection::vec(proptest::option::weighted(0.8, 0u8..5), 1..8)
                .prop_map(Action::Group),
            3 => (1u8..12).prop_map(Action::Steps),
            1 => Just(Action::Reopen),
        ]
    }

    fn open_runs(conn: &Connection) -> SubjectRuns {
        let policy = RunPolicy {
            run_entries: 5,
            fanout: 2,
            chunk: 3,
        };
        SubjectRuns::load(conn, policy).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever the interleaving of commits, background steps and restarts, a subject's
        /// events are exactly the events recorded about it, in order; and once the background
        /// work is done, no entry is left outside a listed run and no size class holds a full
        /// set of runs.
        #[test]
        fn subject_events_match_the_chain(actions in proptest::collection::vec(action(), 1..60)) {
            let dir = tempfile::tempdir().unwrap();
            let conn = connect(&dir.path().join("derbes.db")).unwrap();
            let chain = test_chain(&conn);
            let subjects: Vec<String> = (0..5).map(|_| Uuid::now_v7().to_string()).collect();
            let mut recorded: Vec<(String, i64)> = Vec::new();
            // Event 1 starts the chain.
            let mut seq = 1;
            let mut runs = open_runs(&conn);
            let check = |recorded: &[(String, i64)]| {
                for s in &subjects {
                    let expected: Vec<i64> =
                        recorded.iter().filter(|e| &e.0 == s).map(|e| e.1).collect();
                    let got: Vec<i64> = subject_events(&conn, s, 0, u32::MAX)
                        .unwrap()
                        .into_iter()
                        .map(|e| e.seq)
                        .collect();
                    assert_eq!(got, expected);
                    if let Some(&middle) = expected.get(expected.len() / 2) {
                        let later = subject_events(&conn, s, middle, 2).unwrap();
                        let want: Vec<i64> =
                            expected.iter().copied().filter(|&q| q > middle).take(2).collect();
                        assert_eq!(later.iter().map(|e| e.seq).collect::<Vec<_>>(), want);
                    }
                }
            };
            for a in actions {
                match a {
                    Action::Group(events) => {
                        let drafts = events
                            .iter()
                            .map(|s| {
                                let d = AuditDraft::new("test", "subject.read", Outcome::Allowed);
                                match s {
                                    Some(n) => d.subject(&subjects[*n as usize]),
                                    None => d,
                                }
                            })
                            .collect();
                        let (results, appended) =
                            commit_group(&conn, vec![WriteOp::Audit(drafts)], &chain, &mut None, false);
                        assert!(results.iter().all(|r| r.is_ok()));
                        for s in events {
                            seq += 1;
                            if let Some(n) = s {
                                recorded.push((subjects[n as usize].clone(), seq));
                            }
                        }
                        runs.committed(appended);
                    }
                    Action::Steps(n) => {
                        for _ in 0..n {
                            runs.step(&conn).unwrap();
                        }
                    }
                    Action::Reopen => runs = open_runs(&conn),
                }
                check(&recorded);
            }
            while runs.has_work() {
                runs.step(&conn).unwrap();
            }
            check(&recorded);
            let (listed, entries, held): (i64, i64, i64) = conn
                .query_row(
                    "SELECT count(*), coalesce(sum(entries), 0), (SELECT count(*) FROM audit_subject_runs) FROM audit_subject_run_list",
                    [],
                    |r| r.try_into(),
                )
                .unwrap();
            assert_eq!(entries, held, "entries outside listed runs");
            assert!(recorded.len() as i64 - held < 5, "{} entries left unindexed", recorded.len() as i64 - held);
            // Merged down to one run per size class (entries doubling from 5 up), at most.
            let classes = 1 + (held / 5).max(1).ilog2() as i64;
            assert!(listed <= classes, "{listed} runs listed for {held} entries");
        }
    }
}

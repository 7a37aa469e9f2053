//! The SQLite audit chain's per-subject index, kept off the commit path as sorted runs.
//!
//! An ordinary index on `audit_events(subject_id)` makes every audit event insert an entry at a
//! random place in a large B-tree, so each commit writes a fresh copy of a random leaf page to
//! the WAL (about 1.5 pages per read measured). Instead the writer keeps the `(subject_id, seq)`
//! pairs of newly committed events in memory and, once it holds a run's worth, writes them sorted
//! into a new run: a run is appended in key order, about one page per hundred entries. Runs of
//! the same size class are merged in the background so that a subject's lookup probes only a
//! few of them. All of this work happens in small steps between commit groups.
//!
//! A subject's events are the entries of every *listed* run (`audit_subject_run_list`) plus the
//! events after the highest seq the listed runs cover, found by scanning that short tail of the
//! chain. A run is listed in the same transaction that writes its last entries, so a reader sees
//! either the whole run or none of it and the tail then covers those events. Entries of runs that
//! are not listed (being built, being merged into, or merged away) are garbage and are deleted in
//! steps; a crash in the middle of any step loses nothing, since the chain itself is the truth
//! and the pending pairs are read back from it at start.

use crate::{StoreError, EVENT_COLUMNS};
use derbes_core::audit::AuditEvent;
use rusqlite::{params, Connection, OptionalExtension};

/// A `(subject_id, seq)` entry of the index.
pub(crate) type Entry = (String, i64);

/// Sizes of the background work.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RunPolicy {
    /// Pending entries that make a new run.
    pub run_entries: usize,
    /// Runs of one size class that are merged into one run of the next class.
    pub fanout: usize,
    /// Entries written or deleted per step (one transaction between two commit groups).
    pub chunk: usize,
}

impl Default for RunPolicy {
    fn default() -> Self {
        // A step of 2,048 entries takes about a millisecond; a run of 65,536 is a few seconds of
        // reads at full load, and its tail scan about 10 ms.
        Self {
            run_entries: 65536,
            fanout: 8,
            chunk: 2048,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RunInfo {
    run: i64,
    first_seq: i64,
    last_seq: i64,
    entries: i64,
}

/// A run being written from the pending entries, in chunks.
struct Build {
    info: RunInfo,
    entries: Vec<Entry>,
    written: usize,
}

/// Runs being merged into a new one, in key order.
struct Merge {
    info: RunInfo,
    sources: Vec<RunInfo>,
    /// The last key written to the new run.
    cursor: Entry,
}

/// The writer's side of the index: what is pending and which background step comes next.
pub(crate) struct SubjectRuns {
    policy: RunPolicy,
    /// Entries of committed events newer than any listed or building run, in seq order.
    pending: Vec<Entry>,
    runs: Vec<RunInfo>,
    building: Option<Build>,
    merging: Option<Merge>,
    /// Unlisted runs whose entries are still to be deleted.
    garbage: Vec<i64>,
    next_run: i64,
    /// Some size class holds `fanout` runs: kept up to date when runs change, since `has_work`
    /// runs after every commit group.
    merge_due: bool,
}

impl SubjectRuns {
    /// Reads the listed runs, finds unlisted entries to delete and reloads the pending entries
    /// from the chain.
    pub fn load(conn: &Connection, policy: RunPolicy) -> Result<Self, StoreError> {
        let runs = conn
            .prepare(
                "SELECT run, first_seq, last_seq, entries FROM audit_subject_run_list ORDER BY run",
            )?
            .query_map([], |r| {
                Ok(RunInfo {
                    run: r.get(0)?,
                    first_seq: r.get(1)?,
                    last_seq: r.get(2)?,
                    entries: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        // Distinct run numbers in the entries table, one seek each.
        let mut garbage = Vec::new();
        let mut next_run = runs.iter().map(|r| r.run).max().unwrap_or(0) + 1;
        let mut seek =
            conn.prepare("SELECT run FROM audit_subject_runs WHERE run > ?1 ORDER BY run LIMIT 1")?;
        let mut after = i64::MIN;
        while let Some(run) = seek.query_row([after], |r| r.get::<_, i64>(0)).optional()? {
            if !runs.iter().any(|r| r.run == run) {
                garbage.push(run);
            }
            next_run = next_run.max(run + 1);
            after = run;
        }
        let covered = runs.iter().map(|r| r.last_seq).max().unwrap_or(0);
        let pending = conn
            .prepare(
                "SELECT subject_id, seq FROM audit_events WHERE seq > ?1 AND subject_id IS NOT NULL ORDER BY seq",
            )?
            .query_map([covered], |r| r.try_into())?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut loaded = Self {
            policy,
            pending,
            runs,
            building: None,
            merging: None,
            garbage,
            next_run,
            merge_due: false,
        };
        loaded.runs_changed();
        Ok(loaded)
    }

    fn runs_changed(&mut self) {
        self.merge_due = self.merge_candidates().is_some();
    }

    /// Adds the entries of a committed group (in seq order).
    pub fn committed(&mut self, entries: impl IntoIterator<Item = Entry>) {
        self.pending.extend(entries);
    }

    /// Whether a background step is due.
    pub fn has_work(&self) -> bool {
        self.building.is_some()
            || self.pending.len() >= self.policy.run_entries
            || self.merging.is_some()
            || self.merge_due
            || !self.garbage.is_empty()
    }

    /// Does one step of background work in its own transaction. On error nothing in memory
    /// changes, so the step is simply tried again later.
    pub fn step(&mut self, conn: &Connection) -> Result<(), StoreError> {
        if self.building.is_none() && self.pending.len() >= self.policy.run_entries {
            let mut entries = std::mem::take(&mut self.pending);
            let info = RunInfo {
                run: self.next_run,
                first_seq: entries.first().map_or(0, |e| e.1),
                last_seq: entries.last().map_or(0, |e| e.1),
                entries: entries.len() as i64,
            };
            self.next_run += 1;
            entries.sort_unstable();
            self.building = Some(Build {
                info,
                entries,
                written: 0,
            });
        }
        if let Some(b) = &mut self.building {
            let end = (b.written + self.policy.chunk).min(b.entries.len());
            let last = end == b.entries.len();
            transaction(conn, |conn| {
                insert_entries(conn, b.info.run, &b.entries[b.written..end])?;
                if last {
                    list(conn, &b.info, &[])?;
                }
                Ok(())
            })?;
            b.written = end;
            if last {
                self.runs.push(b.info);
                self.building = None;
                self.runs_changed();
            }
            return Ok(());
        }
        if self.merge_due {
            if let Some(sources) = self.merge_candidates() {
                let info = RunInfo {
                    run: self.next_run,
                    first_seq: sources.iter().map(|r| r.first_seq).min().unwrap_or(0),
                    last_seq: sources.iter().map(|r| r.last_seq).max().unwrap_or(0),
                    entries: sources.iter().map(|r| r.entries).sum(),
                };
                self.next_run += 1;
                self.merging = Some(Merge {
                    info,
                    sources,
                    cursor: (String::new(), i64::MIN),
                });
                self.merge_due = false;
            }
        }
        if let Some(m) = &mut self.merging {
            let (batch, done) = merge_chunk(conn, m, self.policy.chunk)?;
            transaction(conn, |conn| {
                insert_entries(conn, m.info.run, &batch)?;
                if done {
                    list(conn, &m.info, &m.sources)?;
                }
                Ok(())
            })?;
            if let Some(last) = batch.into_iter().last() {
                m.cursor = last;
            }
            if done {
                let sources: Vec<i64> = m.sources.iter().map(|r| r.run).collect();
                self.runs.retain(|r| !sources.contains(&r.run));
                self.runs.push(m.info);
                self.garbage.extend(sources);
                self.merging = None;
                self.runs_changed();
            }
            return Ok(());
        }
        if let Some(&run) = self.garbage.first() {
            let emptied = transaction(conn, |conn| delete_chunk(conn, run, self.policy.chunk))?;
            if emptied {
                self.garbage.remove(0);
            }
        }
        Ok(())
    }

    /// The oldest `fanout` runs of the smallest size class that has that many.
    fn merge_candidates(&self) -> Option<Vec<RunInfo>> {
        if self.merging.is_some() {
            return None;
        }
        let class = |entries: i64| {
            let (mut class, mut bound) =
                (0u32, (self.policy.run_entries * self.policy.fanout) as i64);
            while entries >= bound {
                class += 1;
                bound = bound.saturating_mul(self.policy.fanout as i64);
            }
            class
        };
        let mut classes: Vec<u32> = self.runs.iter().map(|r| class(r.entries)).collect();
        classes.sort_unstable();
        classes.dedup();
        classes.into_iter().find_map(|c| {
            let mut same: Vec<RunInfo> = self
                .runs
                .iter()
                .filter(|r| class(r.entries) == c)
                .copied()
                .collect();
            (same.len() >= self.policy.fanout).then(|| {
                same.sort_by_key(|r| r.run);
                same.truncate(self.policy.fanout);
                same
            })
        })
    }
}

fn transaction<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match f(conn).and_then(|v| conn.execute_batch("COMMIT").map(|_| v).map_err(Into::into)) {
        Ok(v) => Ok(v),
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn insert_entries(conn: &Connection, run: i64, entries: &[Entry]) -> Result<(), StoreError> {
    let mut stmt = conn.prepare_cached(
        "INSERT INTO audit_subject_runs (run, subject_id, seq) VALUES (?1, ?2, ?3)",
    )?;
    for (subject, seq) in entries {
        stmt.execute(params![run, subject, seq])?;
    }
    Ok(())
}

/// Lists `run` and unlists the runs it replaces, in the caller's transaction.
fn list(conn: &Connection, run: &RunInfo, replaces: &[RunInfo]) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO audit_subject_run_list (run, first_seq, last_seq, entries) VALUES (?1, ?2, ?3, ?4)",
        params![run.run, run.first_seq, run.last_seq, run.entries],
    )?;
    for r in replaces {
        conn.execute("DELETE FROM audit_subject_run_list WHERE run = ?1", [r.run])?;
    }
    Ok(())
}

/// The next entries of the merged run, in key order, and whether they are the last.
///
/// Reads up to `chunk` entries after the cursor from each source. Entries up to the smallest
/// "last entry read" among the sources that had more are certainly the next ones in order.
fn merge_chunk(
    conn: &Connection,
    m: &Merge,
    chunk: usize,
) -> Result<(Vec<Entry>, bool), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT subject_id, seq FROM audit_subject_runs
         WHERE run = ?1 AND (subject_id, seq) > (?2, ?3) ORDER BY subject_id, seq LIMIT ?4",
    )?;
    let mut batch = Vec::new();
    let mut bound: Option<Entry> = None;
    for source in &m.sources {
        let rows = stmt
            .query_map(
                params![source.run, m.cursor.0, m.cursor.1, chunk as i64],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
            )?
            .collect::<rusqlite::Result<Vec<Entry>>>()?;
        if rows.len() == chunk {
            if let Some(last) = rows.last() {
                if bound.as_ref().is_none_or(|b| last < b) {
                    bound = Some(last.clone());
                }
            }
        }
        batch.extend(rows);
    }
    batch.sort_unstable();
    match bound {
        Some(b) => {
            batch.retain(|e| *e <= b);
            Ok((batch, false))
        }
        None => Ok((batch, true)),
    }
}

/// Deletes up to `chunk` entries of an unlisted run; true when none are left.
fn delete_chunk(conn: &Connection, run: i64, chunk: usize) -> Result<bool, StoreError> {
    let bound: Option<Entry> = conn
        .prepare_cached(
            "SELECT subject_id, seq FROM audit_subject_runs WHERE run = ?1 ORDER BY subject_id, seq LIMIT 1 OFFSET ?2",
        )?
        .query_row(params![run, chunk as i64], |r| r.try_into())
        .optional()?;
    match bound {
        Some((subject, seq)) => {
            conn.prepare_cached(
                "DELETE FROM audit_subject_runs WHERE run = ?1 AND (subject_id, seq) < (?2, ?3)",
            )?
            .execute(params![run, subject, seq])?;
            Ok(false)
        }
        None => {
            conn.prepare_cached("DELETE FROM audit_subject_runs WHERE run = ?1")?
                .execute([run])?;
            Ok(true)
        }
    }
}

/// Audit events about one subject, oldest first, after `after_seq`: the listed runs, then the
/// tail of the chain they do not cover yet. One statement, so one consistent snapshot.
pub(crate) fn subject_events(
    conn: &Connection,
    subject: &str,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq IN (
             SELECT seq FROM audit_subject_runs
             WHERE run IN (SELECT run FROM audit_subject_run_list) AND subject_id = ?1 AND seq > ?2
             UNION ALL
             SELECT seq FROM audit_events
             WHERE seq > max(?2, (SELECT coalesce(max(last_seq), 0) FROM audit_subject_run_list))
               AND subject_id = ?1
         ) ORDER BY seq LIMIT ?3"
    ))?;
    let rows = stmt.query_map(params![subject, after_seq, limit], crate::sqlite::raw_event)?;
    crate::events(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

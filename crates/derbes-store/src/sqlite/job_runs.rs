//! The last run of each periodic job, on SQLite.

use super::*;
use crate::job_runs::{count, JobOutcome, JobRun};
use crate::JobRunStore;
use crate::StoreError;
use rusqlite::{params, Connection};

/// Replaces the job's last run, counting it.
pub(super) fn record(conn: &Connection, run: &JobRun) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO job_runs (name, every_seconds, started_at, finished_at, outcome, detail, next_run_at, runs, failures)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)
         ON CONFLICT (name) DO UPDATE SET every_seconds = excluded.every_seconds,
             started_at = excluded.started_at, finished_at = excluded.finished_at,
             outcome = excluded.outcome, detail = excluded.detail, next_run_at = excluded.next_run_at,
             runs = job_runs.runs + 1, failures = job_runs.failures + excluded.failures",
    )?
    .execute(params![
        run.name,
        i64::try_from(run.every_seconds).unwrap_or(i64::MAX),
        At(run.started_at),
        At(run.finished_at),
        run.outcome.as_str(),
        run.detail,
        At(run.next_run_at),
        i64::from(run.outcome == JobOutcome::Failed),
    ])?;
    Ok(())
}

/// Every job's last run, by name.
pub(super) fn all(conn: &Connection) -> Result<Vec<JobRun>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name, every_seconds, started_at, finished_at, outcome, detail, next_run_at, runs, failures
         FROM job_runs ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, At>(2)?,
            r.get::<_, At>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, At>(6)?,
            r.get::<_, i64>(7)?,
            r.get::<_, i64>(8)?,
        ))
    })?;
    rows.map(|row| {
        let (name, every, started, finished, outcome, detail, next, runs, failures) = row?;
        Ok(JobRun {
            name,
            every_seconds: count(every),
            started_at: started.0,
            finished_at: finished.0,
            outcome: JobOutcome::parse(&outcome)?,
            detail,
            next_run_at: next.0,
            runs: count(runs),
            failures: count(failures),
        })
    })
    .collect()
}

#[async_trait]
impl JobRunStore for SqliteStore {
    async fn job_runs(&self) -> Result<Vec<JobRun>, StoreError> {
        self.read(job_runs::all).await
    }
}

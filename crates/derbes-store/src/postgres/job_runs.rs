//! The last run of each periodic job, on PostgreSQL.

use super::Writer;
use super::*;
use crate::job_runs::{count, JobOutcome, JobRun};
use crate::JobRunStore;
use crate::StoreError;
use tokio_postgres::Row;

impl Writer {
    /// Replaces the job's last run, counting it.
    pub(super) async fn record_job_run(&mut self, run: &JobRun) -> Result<(), StoreError> {
        self.execute("INSERT INTO job_runs (name, every_seconds, started_at, finished_at, outcome, detail, next_run_at, runs, failures)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8)
                 ON CONFLICT (name) DO UPDATE SET every_seconds = excluded.every_seconds,
                     started_at = excluded.started_at, finished_at = excluded.finished_at,
                     outcome = excluded.outcome, detail = excluded.detail, next_run_at = excluded.next_run_at,
                     runs = job_runs.runs + 1, failures = job_runs.failures + excluded.failures", &[
                    &run.name,
                    &i64::try_from(run.every_seconds).unwrap_or(i64::MAX),
                    &At(run.started_at),
                    &At(run.finished_at),
                    &run.outcome.as_str(),
                    &run.detail,
                    &At(run.next_run_at),
                    &i64::from(run.outcome == JobOutcome::Failed),
                ],
            )
            .await?;
        Ok(())
    }
}

/// The columns [`from_row`] reads.
pub(super) const SELECT: &str = "SELECT name, every_seconds, started_at, finished_at, outcome, detail, next_run_at, runs, failures FROM job_runs ORDER BY name";

pub(super) fn from_row(r: &Row) -> Result<JobRun, StoreError> {
    Ok(JobRun {
        name: r.try_get(0)?,
        every_seconds: count(r.try_get(1)?),
        started_at: r.try_get::<_, At>(2)?.0,
        finished_at: r.try_get::<_, At>(3)?.0,
        outcome: JobOutcome::parse(r.try_get(4)?)?,
        detail: r.try_get(5)?,
        next_run_at: r.try_get::<_, At>(6)?.0,
        runs: count(r.try_get(7)?),
        failures: count(r.try_get(8)?),
    })
}

#[async_trait]
impl JobRunStore for PostgresStore {
    async fn job_runs(&self) -> Result<Vec<JobRun>, StoreError> {
        let c = self.client().await?;
        c.query(job_runs::SELECT, &[])
            .await?
            .iter()
            .map(job_runs::from_row)
            .collect()
    }
}

//! The record of the periodic jobs' runs: the last run of each job, kept so that an operator
//! sees whether derbes's duties on a clock are being done. Bookkeeping of derbes itself, no
//! action on personal data: it carries no audit event.

use crate::StoreError;
use time::OffsetDateTime;

/// How a run of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobOutcome {
    /// It did something.
    Done,
    /// There was nothing to do.
    Idle,
    /// It did not run: a condition it needs did not hold (the audit chain is broken).
    Skipped,
    /// It failed; the next run tries again.
    Failed,
}

impl JobOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            JobOutcome::Done => "done",
            JobOutcome::Idle => "idle",
            JobOutcome::Skipped => "skipped",
            JobOutcome::Failed => "failed",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "done" => JobOutcome::Done,
            "idle" => JobOutcome::Idle,
            "skipped" => JobOutcome::Skipped,
            "failed" => JobOutcome::Failed,
            other => return Err(StoreError::Corrupt(format!("job outcome `{other}`"))),
        })
    }
}

/// The last run of a job, with how many runs and failures it has had.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct JobRun {
    pub name: String,
    /// Seconds between runs.
    pub every_seconds: u64,
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub finished_at: OffsetDateTime,
    pub outcome: JobOutcome,
    /// What it did, or why it failed or was skipped; never personal data. Empty when idle.
    pub detail: String,
    #[serde(with = "time::serde::rfc3339")]
    pub next_run_at: OffsetDateTime,
    /// Runs recorded so far, this one included (on writing: ignored, counted by the store).
    pub runs: u64,
    /// Failed runs recorded so far.
    pub failures: u64,
}

/// A count as it is stored (SQL integers are signed).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The last run of each periodic job.
#[async_trait::async_trait]
pub trait JobRunStore: Send + Sync {
    /// The last run of every periodic job that has run, by name.
    async fn job_runs(&self) -> Result<Vec<JobRun>, StoreError>;
}

//! The duties derbes does on a clock, in one registry: each job has a name, a period and one
//! call into the service. `serve` runs them; every run is recorded (when it started and ended,
//! what it did or why it failed, when it runs next), so that `derbes jobs` and
//! `GET /api/v1/jobs` show whether the duties are being done.
//!
//! A new duty (retention, incident notice) is one more entry in [`jobs`] and one line in
//! [`CATALOGUE`].

use crate::access::Action;
use crate::actor::Actor;
use crate::app::App;
use crate::audit_archive::{AuditArchive, AuditDuty, DailyAudit};
use crate::vault::VaultError;
use derbes_store::{JobOutcome, JobRun, WriteOp};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// Every job derbes knows, with what it does: the board lists them all, run or not.
pub const CATALOGUE: &[(&str, &str)] = &[
    (
        WEBHOOKS,
        "sends the webhook connectors' jobs as they fall due, and retries failed ones",
    ),
    (
        PACKAGES,
        "deletes the access packages whose download period has ended",
    ),
    (
        CHECKPOINT,
        "signs a checkpoint of the audit chain and exports it to the checkpoint file",
    ),
    (
        AUDIT,
        "verifies the whole audit chain; with an audit retention, archives the events past it",
    ),
    (
        OUTBOX,
        "deletes the messages an outbox has kept longer than its retention",
    ),
    (TOKEN_USE, "records when each API token was last used"),
    (
        RECONFIRMATIONS,
        "works out the months of majority of subjects with consents recorded before derbes kept them, or corrected since",
    ),
    (
        KEYS,
        "reads the key file again to pick up key versions added by `derbes keys rotate`",
    ),
    (
        RETENTION_SCAN,
        "scans every subject for fields whose retention has ended, those a legal hold keeps and those ending within 30 days, and keeps the counts for Today",
    ),
    (
        RETENTION_RUN,
        "executes the retention batches the DPO approved: destroys the fields (or whole subjects) whose retention ended, item by item, resuming where a run stopped",
    ),
    (
        LIFECYCLE_SYNC,
        "records what the platforms' databases say of their users' lifecycles (the SQL connectors' [lifecycle] maps): the end of the relationship, purposes achieved",
    ),
];

const WEBHOOKS: &str = "webhook-delivery";
const PACKAGES: &str = "package-sweep";
const CHECKPOINT: &str = "audit-checkpoint";
const AUDIT: &str = "audit-verification";
const OUTBOX: &str = "outbox-sweep";
const TOKEN_USE: &str = "token-use";
const KEYS: &str = "key-reload";
const RECONFIRMATIONS: &str = "majority-reconfirmations";
const LIFECYCLE_SYNC: &str = "lifecycle-sync";
const RETENTION_SCAN: &str = "retention-scan";
const RETENTION_RUN: &str = "retention-run";

/// How often webhook jobs are looked at.
pub const WEBHOOK_PERIOD: Duration = Duration::from_secs(5);
/// How often expired access packages are looked for.
pub const PACKAGE_SWEEP_PERIOD: Duration = Duration::from_secs(600);
/// How often subjects left with unsettled months of majority are looked for.
pub const RECONFIRMATION_PERIOD: Duration = Duration::from_secs(600);
/// How often the whole audit chain is verified.
pub const AUDIT_VERIFICATION_PERIOD: Duration = Duration::from_secs(24 * 3600);
/// How often a running server reads its key file again, to pick up versions that
/// `derbes keys rotate` added.
pub const KEY_RELOAD_PERIOD: Duration = Duration::from_secs(10);
const OUTBOX_SWEEP_PERIOD: Duration = Duration::from_secs(3600);
const TOKEN_USE_PERIOD: Duration = Duration::from_secs(60);
/// How often every subject is scanned for what expired.
pub const RETENTION_SCAN_PERIOD: Duration = Duration::from_secs(24 * 3600);
/// How often approved retention batches are looked for.
pub const RETENTION_RUN_PERIOD: Duration = Duration::from_secs(60);
/// How often the platforms' lifecycle columns are read.
pub const LIFECYCLE_SYNC_PERIOD: Duration = Duration::from_secs(24 * 3600);

/// What the operator configured for the jobs.
pub struct JobSettings {
    /// How often a checkpoint of the audit chain is signed.
    pub checkpoint_every: Duration,
    /// Where audit events past their retention go, and after how many days.
    pub audit_archive: Option<(AuditArchive, u32)>,
    /// How long an outbox keeps a message.
    pub outbox_age: Duration,
}

/// What one run did, in a sentence without personal data.
#[derive(Debug, Default)]
pub struct Ran {
    /// Empty when there was nothing to do.
    pub detail: String,
    /// Worth a line in the server's log (otherwise only on the board).
    pub notable: bool,
}

impl Ran {
    /// Nothing to do.
    pub fn idle() -> Self {
        Ran::default()
    }

    /// Done, and worth a line in the log.
    pub fn notable(detail: String) -> Self {
        Ran {
            detail,
            notable: true,
        }
    }

    /// Done, routinely: only on the board.
    pub fn routine(detail: String) -> Self {
        Ran {
            detail,
            notable: false,
        }
    }

    /// Notable `what(n)` when `n` things were done, idle otherwise.
    fn counted(n: usize, what: impl FnOnce(usize) -> String) -> Self {
        if n == 0 {
            Ran::idle()
        } else {
            Ran::notable(what(n))
        }
    }
}

type Run = Box<
    dyn Fn(Arc<App>) -> Pin<Box<dyn Future<Output = Result<Ran, VaultError>> + Send>> + Send + Sync,
>;

/// A named periodic job.
pub struct Job {
    pub name: &'static str,
    pub every: Duration,
    /// Whether the first run comes at start; otherwise one period after.
    pub at_start: bool,
    /// Skipped while the audit chain is broken (it would sign or record on a broken chain).
    needs_intact_chain: bool,
    run: Run,
}

impl Job {
    fn new<F, Fut>(name: &'static str, every: Duration, at_start: bool, run: F) -> Self
    where
        F: Fn(Arc<App>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Ran, VaultError>> + Send + 'static,
    {
        Job {
            name,
            every,
            at_start,
            needs_intact_chain: false,
            run: Box::new(move |app| Box::pin(run(app))),
        }
    }

    fn on_intact_chain(mut self) -> Self {
        self.needs_intact_chain = true;
        self
    }

    /// Runs the job once and records the run. A failure, and a notable result, also go to
    /// standard error.
    async fn run_once(&self, app: &Arc<App>) {
        let vault = &app.vault;
        let started = vault.now();
        let (outcome, detail, notable) = if let Some(reason) = self
            .needs_intact_chain
            .then(|| vault.chain_broken())
            .flatten()
        {
            let detail = format!("the audit chain is broken ({reason})");
            (JobOutcome::Skipped, detail, false)
        } else {
            match (self.run)(Arc::clone(app)).await {
                Ok(ran) if ran.detail.is_empty() => (JobOutcome::Idle, ran.detail, false),
                Ok(ran) => (JobOutcome::Done, ran.detail, ran.notable),
                Err(e) => (JobOutcome::Failed, e.to_string(), true),
            }
        };
        let finished = vault.now();
        let every = time::Duration::try_from(self.every).unwrap_or(time::Duration::DAY);
        let run = JobRun {
            name: self.name.to_owned(),
            every_seconds: self.every.as_secs(),
            started_at: started,
            finished_at: finished,
            outcome,
            detail,
            next_run_at: started + every,
            runs: 1,
            failures: u64::from(outcome == JobOutcome::Failed),
        };
        match outcome {
            JobOutcome::Failed => eprintln!("derbes: warning: job {}: {}", self.name, run.detail),
            _ if notable => eprintln!("derbes: {}", run.detail),
            _ => {}
        }
        // While the audit chain is broken the store writes nothing, this record included; the
        // audit status says why.
        if vault.chain_broken().is_none() {
            if let Err(e) = vault.store().write(WriteOp::RecordJobRun(run)).await {
                eprintln!(
                    "derbes: warning: the run of job {} was not recorded: {e}",
                    self.name
                );
            }
        }
    }
}

/// Every periodic job of a running server.
pub fn jobs(settings: JobSettings) -> Vec<Job> {
    let JobSettings {
        checkpoint_every,
        audit_archive,
        outbox_age,
    } = settings;
    let audit_archive = Arc::new(audit_archive);
    vec![
        Job::new(WEBHOOKS, WEBHOOK_PERIOD, true, |a| async move {
            let n = a.requests.deliver_webhooks().await?;
            Ok(Ran::counted(n, |n| format!("sent {n} webhook job(s)")))
        }),
        Job::new(PACKAGES, PACKAGE_SWEEP_PERIOD, true, |a| async move {
            let n = a.requests.delete_expired_packages().await?;
            Ok(Ran::counted(n, |n| {
                format!("deleted {n} expired access package(s)")
            }))
        }),
        Job::new(CHECKPOINT, checkpoint_every, false, |a| async move {
            let c = a.vault.checkpoint().await?;
            Ok(Ran::routine(format!(
                "signed a checkpoint at event {}",
                c.seq
            )))
        })
        .on_intact_chain(),
        Job::new(AUDIT, AUDIT_VERIFICATION_PERIOD, true, move |a| {
            let archive = Arc::clone(&audit_archive);
            async move { audit_verification(&a.audit, archive.as_ref().as_ref()).await }
        }),
        Job::new(OUTBOX, OUTBOX_SWEEP_PERIOD, true, move |a| async move {
            Ok(Ran::counted(a.vault.sweep_outbox(outbox_age), |n| {
                format!("deleted {n} message(s) kept in the outbox past their time")
            }))
        }),
        Job::new(TOKEN_USE, TOKEN_USE_PERIOD, false, |a| async move {
            let n = a.tokens.record_token_use().await?;
            Ok(if n == 0 {
                Ran::idle()
            } else {
                Ran::routine(format!("recorded the last use of {n} token(s)"))
            })
        }),
        Job::new(
            RECONFIRMATIONS,
            RECONFIRMATION_PERIOD,
            true,
            |a| async move {
                let n = a.consents.settle_reconfirmations().await?;
                Ok(Ran::counted(n, |n| {
                    format!("worked out the months of majority of {n} subject(s)")
                }))
            },
        )
        .on_intact_chain(),
        // The first run comes one period after start-up, which has just read the key file.
        Job::new(KEYS, KEY_RELOAD_PERIOD, false, |a| async move {
            Ok(if a.vault.reload_keys()? {
                Ran::notable(format!(
                    "key file reloaded; new data keys are wrapped under key version {}",
                    a.vault.keys().current_version()
                ))
            } else {
                Ran::idle()
            })
        }),
        Job::new(
            RETENTION_SCAN,
            RETENTION_SCAN_PERIOD,
            true,
            |a| async move {
                let report = a.retention.keep_scan(&Actor::job(RETENTION_SCAN)).await?;
                let summary = crate::retention::scan_summary(&report);
                Ok(if report.expired.is_empty() {
                    Ran::routine(summary)
                } else {
                    Ran::notable(summary)
                })
            },
        )
        .on_intact_chain(),
        Job::new(RETENTION_RUN, RETENTION_RUN_PERIOD, true, |a| async move {
            let ran = a.retention.run_batches(&Actor::job(RETENTION_RUN)).await?;
            Ok(Ran::counted(ran.len(), |n| {
                let lines: Vec<String> = ran.iter().map(crate::retention::batch_summary).collect();
                format!("executed {n} retention batch(es): {}", lines.join("; "))
            }))
        })
        .on_intact_chain(),
        Job::new(
            LIFECYCLE_SYNC,
            LIFECYCLE_SYNC_PERIOD,
            true,
            |a| async move {
                let mapped = a
                    .vault
                    .connectors()
                    .iter()
                    .any(|c| c.map().lifecycle.is_some());
                if !mapped {
                    return Ok(Ran::idle());
                }
                let sync = a
                    .retention
                    .sync_lifecycle(&Actor::job(LIFECYCLE_SYNC))
                    .await?;
                Ok(if sync.recorded == 0 && sync.refused.is_empty() {
                    Ran::routine(sync.summary())
                } else {
                    Ran::notable(sync.summary())
                })
            },
        )
        .on_intact_chain(),
    ]
}

async fn audit_verification(
    audit: &AuditDuty,
    archive: Option<&(AuditArchive, u32)>,
) -> Result<Ran, VaultError> {
    match (audit.daily_audit(archive.map(|(a, days)| (a, *days))).await?, archive) {
        // Only a configured archive receives segments.
        (DailyAudit::Verified { archived, .. }, Some((archive, keep_days)))
            if !archived.is_empty() =>
        {
            Ok(Ran::notable(format!(
                "archived {} audit event(s) older than {keep_days} days in {} segment(s) in {}",
                archived.iter().map(|s| s.events()).sum::<i64>(),
                archived.len(),
                archive.dir().display()
            )))
        }
        (DailyAudit::Verified { .. }, _) => Ok(Ran::routine("the audit chain verifies".to_owned())),
        (DailyAudit::Broken(b), _) => Err(VaultError::Unavailable(format!(
            "THE AUDIT CHAIN IS BROKEN: {b}; every action that must be recorded is refused from now on"
        ))),
    }
}

/// Runs every job on its clock until the returned handles are aborted.
pub fn spawn(app: &Arc<App>, jobs: Vec<Job>) -> Vec<tokio::task::JoinHandle<()>> {
    jobs.into_iter()
        .map(|job| {
            let app = Arc::clone(app);
            tokio::spawn(async move {
                let first = tokio::time::Instant::now()
                    + if job.at_start {
                        Duration::ZERO
                    } else {
                        job.every
                    };
                let mut tick = tokio::time::interval_at(first, job.every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    job.run_once(&app).await;
                }
            })
        })
        .collect()
}

/// One job on the board: what it does and how its last run went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct JobStatus {
    pub name: &'static str,
    pub does: &'static str,
    /// The last run, if the job ever ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run: Option<JobRun>,
}

impl App {
    /// Every job with its last run (admin).
    pub async fn job_board(&self, actor: &Actor) -> Result<Vec<JobStatus>, VaultError> {
        self.vault.authorize(actor, Action::JobsRead)?;
        let mut runs = self.vault.store().job_runs().await?;
        Ok(CATALOGUE
            .iter()
            .map(|&(name, does)| JobStatus {
                name,
                does,
                last_run: runs
                    .iter()
                    .position(|r| r.name == name)
                    .map(|i| runs.swap_remove(i)),
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The board lists the catalogue: every job the server runs is in it, once, and nothing
    /// else is.
    #[test]
    fn the_catalogue_names_every_job_once() {
        let names: Vec<&str> = jobs(JobSettings {
            checkpoint_every: Duration::from_secs(60),
            audit_archive: None,
            outbox_age: Duration::from_secs(60),
        })
        .iter()
        .map(|j| j.name)
        .collect();
        let listed: Vec<&str> = CATALOGUE.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, listed);
    }
}

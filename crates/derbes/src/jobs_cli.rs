//! `derbes jobs`: the periodic jobs of the server and how their last runs went.

use crate::config::Config;
use crate::setup;
use anyhow::Result;
use std::process::ExitCode;

/// One line per job: name, outcome of the last run, when it ran and runs next, runs and
/// failures so far, what it did; then what the job does.
pub async fn list(config: &Config) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let actor = derbes_service::Actor::command_line("jobs");
    for job in opened.app.job_board(&actor).await? {
        match &job.last_run {
            Some(r) => println!(
                "{:<20} {:<7}  last run {}  next {}  every {}s  {} run(s), {} failed{}",
                job.name,
                r.outcome.as_str(),
                derbes_core::audit::format_timestamp(r.started_at),
                derbes_core::audit::format_timestamp(r.next_run_at),
                r.every_seconds,
                r.runs,
                r.failures,
                if r.detail.is_empty() {
                    String::new()
                } else {
                    format!(": {}", r.detail)
                }
            ),
            None => println!("{:<20} never run (the server runs it)", job.name),
        }
        println!("{:<20} {}", "", job.does);
    }
    Ok(ExitCode::SUCCESS)
}

//! `derbes`: the operator's privacy policy as enforced software.

mod audit_verify;
mod config;
mod consent_import;
mod csv_rows;
mod generate;
mod import;
mod jobs_cli;
mod keys_cli;
mod lifecycle_cli;
mod pdf;
mod policy_cli;
mod receipt_verify;
mod requests_cli;
mod retention_cli;
mod setup;
mod token_cli;
mod users_cli;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::{Config, Overrides};
use derbes_core::declaration::Severity;
use derbes_core::Declaration;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "derbes",
    version,
    about = "derbes: the operator's privacy policy as enforced software (Law of the Republic of Kazakhstan No. 94-V)"
)]
struct Cli {
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server. With no configuration: SQLite under ./derbes-data, the demo declaration,
    /// a generated key file and an admin token printed once.
    Serve,
    /// Check declaration files; report every problem with file:line:column.
    Check {
        /// Declaration files (TOML)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Treat warnings as errors
        #[arg(long)]
        strict: bool,
    },
    /// API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Person accounts of the console (admins, DPOs, staff, auditors)
    Users {
        #[command(subcommand)]
        command: users_cli::UsersCommand,
    },
    /// The audit chain
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The key ring
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Import subjects from a CSV file
    Import(import::ImportArgs),
    /// The consent ledger
    Consents {
        #[command(subcommand)]
        command: ConsentsCommand,
    },
    /// Lifecycle events (a relationship ended, a purpose achieved), which start retention
    /// periods, and how long each of a subject's fields is kept
    Lifecycle {
        #[command(subcommand)]
        command: lifecycle_cli::LifecycleCommand,
    },
    /// Retention over every subject: what has expired, what a legal hold keeps, what expires
    /// soon
    Retention {
        /// Who is at the terminal, for the audit trail and the four-eyes rule [default: $USER]
        #[arg(long = "as", global = true)]
        person: Option<String>,
        #[command(subcommand)]
        command: retention_cli::RetentionCommand,
    },
    /// Consent receipts
    Receipt {
        #[command(subcommand)]
        command: ReceiptCommand,
    },
    /// Write a CSV of synthetic, realistic Kazakh subjects (valid IINs, phones, names) for demos
    /// and benchmarks
    Generate(generate::GenerateArgs),
    /// The working-day calendar deadlines are counted with
    Calendar {
        #[command(subcommand)]
        command: CalendarCommand,
    },
    /// Data-subject requests
    Requests {
        /// Who is at the terminal, for the audit trail and the four-eyes rule [default: $USER]
        #[arg(long = "as", global = true)]
        person: Option<String>,
        #[command(subcommand)]
        command: RequestsCommand,
    },
    /// Destroyed subjects and the destruction log
    Destructions {
        #[command(subcommand)]
        command: DestructionsCommand,
    },
    /// The privacy policy and the other documents rendered from the declaration
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The server's periodic jobs (webhook delivery, package sweep, audit checkpoints and
    /// verification, outbox sweep, token use, key reload) and how their last runs went
    Jobs,
    /// The SQL connectors to the operator's own databases
    Connectors {
        #[command(subcommand)]
        command: ConnectorsCommand,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// The policy, the list of personal data, the consent forms or the record of processing
    /// activities, in one language, as HTML (with a print stylesheet), Markdown or PDF
    Render(policy_cli::RenderArgs),
    /// What changed between two declaration files, and which purposes need fresh consent (exit
    /// code 3 when some do)
    Diff(policy_cli::DiffArgs),
}

#[derive(Subcommand)]
enum ConnectorsCommand {
    /// Check every dataset map against its database: each mapped table and column is read once
    /// (for an identifier no subject has), so a missing table, column or permission shows now
    Check,
}

#[derive(Subcommand)]
enum DestructionsCommand {
    /// After restoring a backup: destroy again the subjects the destruction log records, and add
    /// the database's records the log lacks (the server also does this when it starts)
    Reapply,
    /// The destroyed subjects the database records
    List,
}

#[derive(Subcommand)]
enum CalendarCommand {
    /// Check the calendar and list a year's holidays, moved days off and transfers
    Show(requests_cli::ShowArgs),
    /// The due date of a request received at a time, with the count explained
    Due(requests_cli::DueArgs),
}

#[derive(Subcommand)]
enum RequestsCommand {
    /// Open requests by due time (due soon, overdue)
    List(requests_cli::ListArgs),
    /// Handle one request: file, show, step, verify, package, answer
    #[command(flatten)]
    Work(requests_cli::WorkCommand),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token and print it once
    Create(token_cli::CreateArgs),
    /// Every token: id, name, role, purposes, created, expires, last used, revoked
    List,
    /// Revoke a token by its id, at once in every running derbes
    Revoke {
        /// The token's id (`derbes token list` shows it)
        id: uuid::Uuid,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the whole chain, its checkpoints and its signed head, and that it was not rolled
    /// back past a checkpoint kept outside the database; exit non-zero and name what is wrong
    Verify {
        /// Checkpoints kept outside the database (one per line, as `audit checkpoint` prints
        /// them) [default: the configured checkpoint file, when it exists]
        #[arg(long)]
        checkpoints: Option<PathBuf>,
        /// The archive of segments moved out of the database, to verify event by event
        /// [default: the configured archive directory, when it exists]
        #[arg(long)]
        archive: Option<PathBuf>,
    },
    /// Move the audit events older than `[audit] keep_days` out of the database into signed
    /// segment files in the archive directory (`serve` does it every day)
    Archive,
    /// Sign a checkpoint of the chain now, append it to the checkpoint file and print it (for
    /// the auditor's paper file)
    Checkpoint,
    /// After restoring the database from a backup older than the last exported checkpoint:
    /// record (in the chain and the checkpoint file) that the history since the backup is given
    /// up, so that derbes writes again
    AcknowledgeRestore {
        /// Who is at the terminal, for the audit trail [default: $USER]
        #[arg(long = "as")]
        person: Option<String>,
    },
}

#[derive(Subcommand)]
enum ConsentsCommand {
    /// Record paper consent forms listed in a CSV file, with per-row errors
    Import(consent_import::ConsentImportArgs),
}

#[derive(Subcommand)]
enum ReceiptCommand {
    /// Check a downloaded receipt offline: its signature, and that the key is the operator's;
    /// print its text
    Verify(receipt_verify::VerifyArgs),
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Add a new key-encryption key and rewrap every subject's data key under it
    Rotate,
    /// Delete from the key file the key versions that no data key and no backup still kept
    /// needs ([keys] backup_retention_days): what was destroyed cannot then be opened from any
    /// copy made before
    Retire {
        /// Say what would be retired, and change nothing
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("derbes: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn run(cli: Cli) -> Result<ExitCode> {
    if let Command::Check { files, strict } = &cli.command {
        return Ok(check(files, *strict));
    }
    if let Command::Generate(args) = &cli.command {
        generate::run(args)?;
        return Ok(ExitCode::SUCCESS);
    }
    let config = Config::resolve(&cli.overrides)?;
    if let Command::Receipt {
        command: ReceiptCommand::Verify(args),
    } = &cli.command
    {
        return receipt_verify::run(&config, args);
    }
    match &cli.command {
        Command::Calendar {
            command: CalendarCommand::Show(args),
        } => return requests_cli::show(&config, args),
        Command::Calendar {
            command: CalendarCommand::Due(args),
        } => {
            let (declaration, _) = setup::declaration(&config)?;
            return requests_cli::due_date(&config, args, &declaration);
        }
        _ => {}
    }
    runtime()?.block_on(async move {
        match cli.command {
            Command::Serve => serve(&config).await.map(|_| ExitCode::SUCCESS),
            Command::Users { command } => users_cli::run(&config, command).await,
            Command::Token {
                command: TokenCommand::Create(args),
            } => token_cli::create(&config, &args).await,
            Command::Token {
                command: TokenCommand::List,
            } => token_cli::list(&config).await,
            Command::Token {
                command: TokenCommand::Revoke { id },
            } => token_cli::revoke(&config, id).await,
            Command::Audit {
                command:
                    AuditCommand::Verify {
                        checkpoints,
                        archive,
                    },
            } => audit_verify::verify(&config, checkpoints.as_deref(), archive.as_deref()).await,
            Command::Audit {
                command: AuditCommand::Archive,
            } => audit_verify::archive(&config).await,
            Command::Audit {
                command: AuditCommand::Checkpoint,
            } => audit_verify::checkpoint(&config).await,
            Command::Audit {
                command: AuditCommand::AcknowledgeRestore { person },
            } => {
                audit_verify::acknowledge_restore(&config, &requests_cli::person(person.clone()))
                    .await
            }
            Command::Keys {
                command: KeysCommand::Rotate,
            } => keys_cli::rotate(&config).await.map(|_| ExitCode::SUCCESS),
            Command::Keys {
                command: KeysCommand::Retire { dry_run },
            } => keys_cli::retire(&config, dry_run).await,
            Command::Import(args) => import::run(&config, &args).await,
            Command::Consents {
                command: ConsentsCommand::Import(args),
            } => consent_import::run(&config, &args).await,
            Command::Lifecycle { command } => lifecycle_cli::run(&config, &command).await,
            Command::Retention { command, person } => {
                retention_cli::run(&config, person, &command).await
            }
            Command::Requests {
                command: RequestsCommand::List(args),
                ..
            } => requests_cli::list(&config, &args).await,
            Command::Requests {
                command: RequestsCommand::Work(work),
                person,
            } => requests_cli::work(&config, person, &work).await,
            Command::Destructions {
                command: DestructionsCommand::Reapply,
            } => requests_cli::reapply_destructions(&config).await,
            Command::Destructions {
                command: DestructionsCommand::List,
            } => requests_cli::list_destructions(&config).await,
            Command::Jobs => jobs_cli::list(&config).await,
            Command::Connectors {
                command: ConnectorsCommand::Check,
            } => requests_cli::check_connectors(&config).await,
            Command::Policy {
                command: PolicyCommand::Render(args),
            } => policy_cli::render(&config, &args),
            Command::Policy {
                command: PolicyCommand::Diff(args),
            } => policy_cli::diff(&args),
            Command::Check { .. }
            | Command::Generate(_)
            | Command::Receipt { .. }
            | Command::Calendar { .. } => Ok(ExitCode::SUCCESS),
        }
    })
}

fn check(files: &[PathBuf], strict: bool) -> ExitCode {
    let mut failed = false;
    for file in files {
        let text = match std::fs::read_to_string(file) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{}: cannot read: {e}", file.display());
                failed = true;
                continue;
            }
        };
        let problems = match Declaration::load(&text) {
            Ok(l) => l.warnings,
            Err(p) => p,
        };
        let errors = problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        let warnings = problems.len() - errors;
        for p in &problems {
            eprintln!("{}:{p}", file.display());
        }
        if errors > 0 || (strict && warnings > 0) {
            failed = true;
            eprintln!(
                "{}: {errors} error(s), {warnings} warning(s)",
                file.display()
            );
        } else {
            println!("{}: ok ({warnings} warning(s))", file.display());
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

async fn serve(config: &Config) -> Result<()> {
    let opened = setup::open(config, true).await?;
    if config.key_file.starts_with(&config.data_dir) {
        eprintln!(
            "derbes: warning: the key file {} is inside the data directory {}: a copy of that directory (a backup, say) carries the data and the key to open it; keep the key file elsewhere (--key-file, or key_file in derbes.toml)",
            config.key_file.display(),
            config.data_dir.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if std::fs::metadata(&config.data_dir).is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
            eprintln!(
                "derbes: warning: other users may enter the data directory {}; run `chmod 700 {}`",
                config.data_dir.display(),
                config.data_dir.display()
            );
        }
    }
    if config.checkpoint_file.starts_with(&config.data_dir) {
        eprintln!(
            "derbes: warning: the checkpoint file {} is inside the data directory; whoever can replace the database can then replace it too: set [audit] checkpoint_file to a place outside it",
            config.checkpoint_file.display()
        );
    }
    // A database rolled back past the last checkpoint exported from it is not written to.
    if let Some(b) = opened.app.vault.check_checkpoint_file().await? {
        eprintln!(
            "derbes: THE AUDIT CHAIN WAS ROLLED BACK OR REPLACED: {b} (checkpoint file {})",
            config.checkpoint_file.display()
        );
    }
    let broken = opened.app.vault.chain_broken();
    if let Some(reason) = &broken {
        eprintln!("derbes: serving with every action that must be recorded refused, until the audit chain is looked into: {reason}");
    } else {
        // A database restored from a backup may hold subjects destroyed since: destroy them
        // again before serving anything.
        let reconciled = opened
            .app
            .destructions
            .reconcile_destructions()
            .await
            .context("cannot reconcile the destruction log with the database")?;
        if reconciled.logged > 0 || reconciled.appended > 0 || !reconciled.rejected.is_empty() {
            requests_cli::report_reconciled(&reconciled, &config.destruction_log);
        }
        // Notes of blocks, restrictions and obligations written in clear by an earlier derbes.
        match opened.app.consents.seal_clear_notes().await {
            Ok(0) => {}
            Ok(n) => eprintln!("derbes: sealed {n} note(s) kept in clear by an earlier version"),
            Err(e) => eprintln!("derbes: warning: notes kept in clear were not sealed: {e}"),
        }
        if let Err(e) = opened.app.vault.export_checkpoints().await {
            eprintln!("derbes: warning: audit checkpoints not exported: {e}");
        }
    }
    if broken.is_none() && opened.app.tokens.count_active().await? == 0 {
        token_cli::first_admin(config, &opened.app.tokens).await?;
    }
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    // The console's own listener, bound before the server says it is serving.
    let console_listener = match &config.console_listen {
        None => {
            println!("derbes: the console is at http://{addr}/console");
            None
        }
        Some(at) => {
            let l = tokio::net::TcpListener::bind(at)
                .await
                .with_context(|| format!("cannot listen on {at} ([console] listen)"))?;
            println!(
                "derbes: the console is at http://{}/console (its own address; not at {addr})",
                l.local_addr()?
            );
            Some(l)
        }
    };
    let d = opened.app.vault.declaration();
    println!(
        "derbes: serving http://{addr}/api/v1 — declaration \"{}\" version {}, {}",
        d.operator.name.get(derbes_core::text::Lang::En),
        d.version,
        config.store_description()
    );
    // The duties on a clock: webhook deliveries, package sweeps, checkpoints, the daily audit
    // verification, outbox sweeps, token use, key reloads.
    let jobs = derbes_service::jobs::jobs(derbes_service::JobSettings {
        checkpoint_every: config.checkpoint_interval,
        audit_archive: config.audit_keep_days.map(|days| {
            (
                derbes_service::AuditArchive::new(&config.audit_archive_dir),
                days,
            )
        }),
        outbox_age: std::time::Duration::from_secs(u64::from(config.outbox_days) * 86_400),
    });
    let running = derbes_service::jobs::spawn(&opened.app, jobs);
    let app = Arc::clone(&opened.app);
    let state = derbes_server::AppState::new(opened.app).with_console(config.console);
    run_listeners(listener, console_listener, state, config.limits).await?;
    for job in running {
        job.abort();
    }
    // The last events get a checkpoint, exported, before the server stops.
    if app.vault.chain_broken().is_none() {
        let _ = app.tokens.record_token_use().await;
        if let Err(e) = app.vault.checkpoint().await {
            eprintln!("derbes: warning: the last audit checkpoint: {e}");
        }
    }
    eprintln!("derbes: stopped");
    Ok(())
}

/// Serves the API (and the console, unless it has a listener of its own) until a shutdown
/// signal stops both.
async fn run_listeners(
    listener: tokio::net::TcpListener,
    console_listener: Option<tokio::net::TcpListener>,
    state: derbes_server::AppState,
    limits: derbes_server::Limits,
) -> Result<()> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    let until_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let console = console_listener.map(|l| {
        tokio::spawn(derbes_server::serve_console(
            l,
            state.clone(),
            limits,
            until_stopped(),
        ))
    });
    derbes_server::serve_with(listener, state, limits, until_stopped()).await?;
    if let Some(console) = console {
        let _ = console.await;
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

// Allocation-heavy request handling (JSON, sealed values, audit events) is measurably faster
// with mimalloc than with the system allocator (docs/PERFORMANCE.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

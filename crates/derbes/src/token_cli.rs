//! `derbes token create|list|revoke`, and the first admin token of a new installation.

use crate::config::Config;
use crate::setup;
use anyhow::{Context, Result};
use derbes_service::Role;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct CreateArgs {
    /// admin, dpo, staff, auditor or integration
    #[arg(long)]
    role: String,
    /// A purpose the token may act for (staff and integration; repeat for several)
    #[arg(long = "purpose")]
    purposes: Vec<String>,
    /// A label shown in the audit trail
    #[arg(long)]
    name: String,
    /// Days the token lives [default: [tokens] integration_days for integration tokens (365),
    /// person_days for the others (none)]
    #[arg(long, conflicts_with = "no_expiry")]
    expires_in_days: Option<u32>,
    /// The token does not expire
    #[arg(long)]
    no_expiry: bool,
}

pub async fn create(config: &Config, args: &CreateArgs) -> Result<ExitCode> {
    let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
    let days = if args.no_expiry {
        Some(None)
    } else {
        args.expires_in_days.map(Some)
    };
    let opened = setup::open(config, false).await?;
    let created = opened
        .app
        .tokens
        .create_token("cli", &args.name, role, args.purposes.clone(), days)
        .await?;
    println!("{}", created.token);
    eprintln!(
        "derbes: created a `{role}` token named \"{}\" (id {}, {}); it is shown once, derbes keeps only its digest",
        created.view.name,
        created.view.id,
        match &created.view.expires_at {
            Some(e) => format!("expires {e}"),
            None => "does not expire".into(),
        }
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn list(config: &Config) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let actor = derbes_service::Actor::command_line("token-list");
    for t in opened.app.tokens.list_tokens(&actor).await? {
        let purposes = if t.purposes.is_empty() {
            "-".to_owned()
        } else {
            t.purposes.join(",")
        };
        println!(
            "{}  {:<8} {:<11} {:<24} created {}  expires {}  last used {}{}  {}",
            t.id,
            t.status,
            t.role,
            purposes,
            t.created_at,
            t.expires_at.as_deref().unwrap_or("never"),
            t.last_used_at.as_deref().unwrap_or("never"),
            t.revoked_at
                .as_deref()
                .map(|r| format!("  revoked {r}"))
                .unwrap_or_default(),
            t.name
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn revoke(config: &Config, id: uuid::Uuid) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let t = opened.app.tokens.revoke("cli", id).await?;
    println!(
        "derbes: token {} (\"{}\", {}) is revoked since {}",
        t.id,
        t.name,
        t.role,
        t.revoked_at.as_deref().unwrap_or("now")
    );
    Ok(ExitCode::SUCCESS)
}

/// The file the first admin token is written to when no terminal shows it.
pub fn first_admin_file(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("first-admin-token")
}

/// Creates the first admin token. It never goes to a log: on a terminal it is shown once;
/// otherwise (a service manager, a pipe) it is written to a file only derbes's user can read,
/// whose path is printed.
pub async fn first_admin(config: &Config, tokens: &derbes_service::Tokens) -> Result<()> {
    let created = tokens
        .create_token("system", "first admin", Role::Admin, Vec::new(), Some(None))
        .await?;
    if std::io::stdout().is_terminal() {
        println!(
            "derbes: created the first admin token. It is shown ONCE; keep it safe:\n\n    {}\n",
            created.token
        );
        return Ok(());
    }
    let path = first_admin_file(config);
    let _ = std::fs::remove_file(&path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(&path)
        .with_context(|| format!("cannot write the first admin token to {}", path.display()))?;
    writeln!(f, "{}", created.token)?;
    f.sync_all()?;
    println!(
        "derbes: created the first admin token; it is in the file {} (mode 0600) and shown nowhere else: read it, keep it safe, and delete the file",
        path.display()
    );
    Ok(())
}

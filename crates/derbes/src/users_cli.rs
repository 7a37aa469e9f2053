//! `derbes users create|list|disable|enable|reset`: the console's person accounts.

use crate::config::Config;
use crate::setup;
use anyhow::Result;
use derbes_service::{AccountSpec, AccountView, Actor, IssuedPassword, Role};
use std::process::ExitCode;

#[derive(clap::Subcommand)]
pub enum UsersCommand {
    /// Create a person account and print its one-time password once
    Create(CreateArgs),
    /// Every account: login, status, role, purposes, second factor, name
    List,
    /// Disable an account and end its sessions at once
    Disable {
        /// The account's login
        login: String,
    },
    /// Enable a disabled account again
    Enable {
        /// The account's login
        login: String,
    },
    /// Give an account a new one-time password (printed once), lift a lockout and end its
    /// sessions
    Reset {
        /// The account's login
        login: String,
        /// Also remove its second factor (a lost phone): it is enrolled again at the next
        /// sign-in
        #[arg(long)]
        second_factor: bool,
    },
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// What the person signs in with (Latin letters, digits, `.`, `_`, `-`)
    login: String,
    /// admin, dpo, staff or auditor
    #[arg(long)]
    role: String,
    /// The person's name as colleagues know it
    #[arg(long)]
    name: String,
    /// A purpose a staff account acts for (repeat for several)
    #[arg(long = "purpose")]
    purposes: Vec<String>,
    /// The console's language for the person: kk, ru or en [default: kk]
    #[arg(long)]
    lang: Option<String>,
    /// Ask a staff or auditor account for a second factor too (admins and DPOs always are)
    #[arg(long)]
    second_factor: bool,
}

pub async fn run(config: &Config, command: UsersCommand) -> Result<ExitCode> {
    let opened = setup::open(config, false).await?;
    let accounts = &opened.app.accounts;
    let actor = Actor::command_line("users");
    match command {
        UsersCommand::Create(args) => {
            let role: Role = args.role.parse().map_err(anyhow::Error::msg)?;
            let spec = AccountSpec {
                login: args.login,
                display_name: args.name,
                role,
                purposes: args.purposes,
                lang: args.lang,
                second_factor: args.second_factor.then_some(true),
            };
            issued(&accounts.create(&actor, spec).await?, "created");
        }
        UsersCommand::List => {
            for a in accounts.list(&actor).await? {
                println!("{}", line(&a));
            }
        }
        UsersCommand::Disable { login } => {
            let a = accounts.set_disabled(&actor, &login, true).await?;
            println!(
                "derbes: account {} is disabled; its sessions have ended",
                a.login
            );
        }
        UsersCommand::Enable { login } => {
            let a = accounts.set_disabled(&actor, &login, false).await?;
            println!("derbes: account {} is enabled", a.login);
        }
        UsersCommand::Reset {
            login,
            second_factor,
        } => issued(
            &accounts.reset(&actor, &login, second_factor).await?,
            "reset",
        ),
    }
    Ok(ExitCode::SUCCESS)
}

fn line(a: &AccountView) -> String {
    let purposes = if a.purposes.is_empty() {
        "-".to_owned()
    } else {
        a.purposes.join(",")
    };
    let since = match (&a.disabled_at, &a.locked_until) {
        (Some(d), _) => format!(" since {d}"),
        (None, Some(l)) => format!(" until {l}"),
        (None, None) => String::new(),
    };
    format!(
        "{:<24} {}{since}  {:<8} {:<24} second factor: {:<9} {}  {}",
        a.login, a.status, a.role, purposes, a.second_factor, a.lang, a.display_name
    )
}

/// The one-time password on standard output (alone, for a script), what happened on standard
/// error.
fn issued(i: &IssuedPassword, what: &str) {
    println!("{}", *i.one_time_password);
    eprintln!(
        "derbes: {what} account {} ({}, {}); the one-time password above is shown once: hand it to the person, who chooses their own at the first sign-in{}",
        i.account.login,
        i.account.role,
        i.account.display_name,
        if i.account.second_factor == "to_enrol" {
            " and enrols a second factor (an authenticator app)"
        } else {
            ""
        }
    );
}

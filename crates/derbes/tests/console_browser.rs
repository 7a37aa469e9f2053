//! The console in a real browser: Playwright (`tests/console/e2e.mjs`, from npm, pinned in its
//! lock file) drives Debian's headless Chromium through every sign-in page, in kk, ru and en,
//! on a desktop and a phone, against a real `derbes serve` on SQLite and on PostgreSQL;
//! axe-core checks each page view for serious or critical WCAG 2.1 AA violations, and every
//! view is kept as a screenshot (`$CARGO_TARGET_DIR/tmp/console/`).
//!
//! Without Node.js, the npm packages (`npm ci` in `tests/console`) or Chromium the suite says
//! that it did not run; with `DERBES_TEST_BROWSER=required` (as in CI) it fails instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::*;

use derbes_store::testing::{run_suite, Case, Fut, TestDb};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn scripts() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console"))
}

fn chromium() -> Option<PathBuf> {
    std::env::var_os("DERBES_CHROMIUM")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/bin/chromium")))
        .filter(|p| p.is_file())
}

/// A person account made at the command line; its one-time password.
fn account(cwd: &Path, data: &Path, login: &str, role: &str, extra: &[&str]) -> String {
    let create = [
        "users",
        "create",
        login,
        "--role",
        role,
        "--name",
        "Әлия Серікова",
    ];
    let o = derbes_at(cwd, data, &[&create[..], extra].concat());
    assert_ok(&o);
    text(&o.stdout).trim().to_owned()
}

/// Every sign-in page, every language, desktop and phone, staff's refusals, a stolen cookie.
fn the_console_in_a_browser(db: TestDb) -> Fut {
    Box::pin(async move {
        tokio::task::spawn_blocking(move || {
            let cwd = db.dir.path();
            let data = cwd.join("data");
            let mut config =
                String::from("[console]\nsecure_cookies = true\n[requests]\nfour_eyes = true\n");
            if db.backend == "postgres" {
                config = format!("database_url = \"{}\"\n{config}", db.url);
            }
            std::fs::write(cwd.join("derbes.toml"), config).unwrap();
            let server = Server::start(cwd, &data);
            let accounts = serde_json::json!({
                "admin-desktop": account(cwd, &data, "admin-desktop", "admin", &[]),
                "admin-phone": account(cwd, &data, "admin-phone", "admin", &[]),
                "staff": account(cwd, &data, "staff", "staff", &["--purpose", "education"]),
                "dpo": account(cwd, &data, "dpo", "dpo", &["--lang", "ru"]),
                "auditor": account(cwd, &data, "auditor", "auditor", &["--lang", "en"]),
            });
            let o = create_token(cwd, &data, "admin", "seed", &[]);
            assert_ok(&o);
            let token = text(&o.stdout).trim().to_owned();
            let shots = PathBuf::from(
                std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into()),
            )
            .join("tmp/console")
            .join(db.backend);
            let o = run_within(
                std::process::Command::new("node")
                    .arg("e2e.mjs")
                    .current_dir(scripts())
                    .env("DERBES_BASE", server.url(""))
                    .env("DERBES_ACCOUNTS", accounts.to_string())
                    .env("DERBES_TOKEN", token)
                    .env("DERBES_SHOTS", &shots)
                    .env("DERBES_CHROMIUM", chromium().unwrap()),
                std::time::Duration::from_secs(300),
            );
            print!("{}", text(&o.stdout));
            assert!(o.status.success(), "{}", show(&o));
        })
        .await
        .unwrap();
    })
}

fn main() -> ExitCode {
    let required = std::env::var("DERBES_TEST_BROWSER").is_ok_and(|v| v == "required");
    let node = std::process::Command::new("node").arg("--version").output();
    let missing = if chromium().is_none() {
        Some("Chromium was not found (Debian: apt-get install chromium; or set DERBES_CHROMIUM)")
    } else if !node.is_ok_and(|o| o.status.success()) {
        Some("Node.js was not found (Debian: apt-get install nodejs npm)")
    } else if !scripts().join("node_modules/playwright-core").is_dir() {
        Some("the npm packages are not installed (run `npm ci` in crates/derbes/tests/console)")
    } else {
        None
    };
    if let Some(why) = missing {
        if required {
            eprintln!("console browser suite: required by DERBES_TEST_BROWSER, but {why}");
            return ExitCode::FAILURE;
        }
        println!("console browser suite: NOT RUN: {why}");
        return ExitCode::SUCCESS;
    }
    let cases: &[(&str, Case)] = &[("the_console_in_a_browser", the_console_in_a_browser)];
    run_suite("console-browser", cases)
}

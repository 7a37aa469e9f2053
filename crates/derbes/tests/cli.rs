//! End-to-end tests of the `derbes` binary: the real executable, real SQLite files in temporary
//! directories, real HTTP. Each test asserts something an operator relies on.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use derbes_core::identifiers::{Iin, Sex};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod common;
use common::*;

#[path = "cli/connectors.rs"]
mod connectors;
#[path = "cli/console.rs"]
mod console;
#[path = "cli/declaration.rs"]
mod declaration;
#[path = "cli/destruction.rs"]
mod destruction;
#[path = "cli/import.rs"]
mod import;
#[path = "cli/jobs.rs"]
mod jobs;
#[path = "cli/keys.rs"]
mod keys;
#[path = "cli/lifecycle.rs"]
mod lifecycle;
#[path = "cli/receipts.rs"]
mod receipts;
#[path = "cli/requests.rs"]
mod requests;
#[path = "cli/tokens.rs"]
mod tokens;
#[path = "cli/users.rs"]
mod users;

fn examples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
}

/// 1-based (line, column in characters) of the first occurrence of `needle` in `text`.
fn position(text: &str, needle: &str) -> (usize, usize) {
    let start = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle} not found"));
    assert!(
        text[start + needle.len()..].find(needle).is_none(),
        "{needle} occurs twice"
    );
    let before = &text[..start];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    (line, col)
}

/// Rewrites the text line by line; `f` gets the current `[table]` header and the line.
fn edit_lines(text: &str, mut f: impl FnMut(&str, &str) -> Option<String>) -> String {
    let mut table = String::new();
    let mut out = String::new();
    for line in text.lines() {
        if line.starts_with('[') {
            table = line.trim().to_owned();
        }
        match f(&table, line) {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Runs `serve` expecting it to refuse to start.
fn serve_must_fail(cmd: &mut Command) -> Output {
    let port = free_port();
    cmd.args(["serve", "--listen", &format!("127.0.0.1:{port}")]);
    let o = run_within(cmd, STARTUP_TIMEOUT);
    assert!(!o.status.success(), "serve started: {}", show(&o));
    o
}

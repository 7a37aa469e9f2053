//! The invariants of ARCHITECTURE.md that a reading of the source can hold: core does no I/O,
//! the service knows no HTTP, the service's modules import only downward, and the front ends
//! neither authorize nor reach the store themselves.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

mod tree;

use tree::workspace;

fn crate_dir(name: &str) -> PathBuf {
    workspace().join("crates").join(name)
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    tree::files(dir, "rs")
}

/// The names under `[dependencies]` of a crate's manifest (not dev- or build-dependencies).
fn dependencies(krate: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(crate_dir(krate).join("Cargo.toml")).unwrap();
    let doc: toml_edit::DocumentMut = text.parse().unwrap();
    doc.get("dependencies")
        .and_then(|d| d.as_table())
        .map(|t| t.iter().map(|(k, _)| k.to_owned()).collect())
        .unwrap_or_default()
}

/// The source without its comments, so that prose may name what code may not use.
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace())
        .unwrap_or(path)
        .display()
        .to_string()
}

#[test]
fn core_does_no_io() {
    let allowed = [
        "foldhash",
        "serde",
        "serde_json",
        "thiserror",
        "toml_edit",
        "indexmap",
        "time",
        "uuid",
        "sha2",
    ];
    for dep in dependencies("derbes-core") {
        assert!(
            allowed.contains(&dep.as_str()),
            "derbes-core depends on `{dep}`: core decides from values and does no I/O; put what needs `{dep}` in derbes-service or derbes-store"
        );
    }
    for file in rust_files(&crate_dir("derbes-core/src")) {
        let text = code(&file);
        for io in [
            "std::fs",
            "std::net",
            "std::process",
            "std::env::var",
            "tokio",
        ] {
            assert!(
                !text.contains(io),
                "{} uses {io}: core does no I/O; read in the caller and pass the value",
                relative(&file)
            );
        }
    }
}

#[test]
fn the_service_knows_no_http() {
    let http = [
        "axum",
        "hyper",
        "hyper-util",
        "http-body-util",
        "tower",
        "tower_governor",
    ];
    for dep in dependencies("derbes-service") {
        assert!(
            !http.contains(&dep.as_str()),
            "derbes-service depends on `{dep}`: HTTP belongs to derbes-server"
        );
    }
    for file in rust_files(&crate_dir("derbes-service/src")) {
        let text = code(&file);
        for name in ["axum", "hyper"] {
            assert!(
                !text.contains(&format!("{name}::")),
                "{} uses {name}: HTTP belongs to derbes-server",
                relative(&file)
            );
        }
    }
}

/// The service's modules by level: a module may import its own level and the levels below.
const LEVELS: &[(u8, &[&str])] = &[
    // The kernel and the adapters: the vault (declaration, key ring, store, clock, seal and
    // open, audit, write), the actor and the access table, files, what is sent out (mail,
    // webhooks) and what is rendered (templates, HTML).
    (
        0,
        &[
            "vault",
            "actor",
            "access",
            "audit_chain",
            "files",
            "unique_keys",
            "outbound",
            "render",
        ],
    ),
    // Capabilities that need only the kernel (and each other, without a cycle); `decisions`
    // keeps the facts cache.
    (
        1,
        &[
            "subjects",
            "keys",
            "tokens",
            "accounts",
            "consents",
            "decisions",
            "receipts",
            "policy",
            "audit_archive",
        ],
    ),
    // Capabilities built on the simple ones.
    (2, &["destruction"]),
    // Retention (a folder): lifecycle events, holds, the scan, and batches, whose whole
    // subjects go through destruction.
    (3, &["retention"]),
    // Data-subject requests (a folder): intake, workflow, verification, actions, access
    // packages, answers, the webhook connectors.
    (3, &["requests"]),
    // The top: the application composing the capabilities, the periodic jobs over them, the
    // crate root, and the console's read models that span capabilities (`today`).
    (4, &["app", "jobs", "lib", "today", "subject_file"]),
];

fn level_of(module: &str) -> Option<u8> {
    LEVELS
        .iter()
        .find(|(_, ms)| ms.contains(&module))
        .map(|(l, _)| *l)
}

/// The first path segments after `crate::` in a source text, `use crate::{a, b::c}` included.
fn crate_imports(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            for item in group.split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
    out
}

#[test]
fn service_modules_import_only_downward() {
    let src = crate_dir("derbes-service/src");
    let mut upward = BTreeSet::new();
    for file in rust_files(&src) {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        let from = level_of(&module).unwrap_or_else(|| {
            panic!(
                "derbes-service module `{module}` has no level: add it to LEVELS in this test and to the code map of ARCHITECTURE.md"
            )
        });
        for to in crate_imports(&code(&file)) {
            // Items re-exported at the crate root are reached through their module.
            let Some(level) = level_of(&to) else { continue };
            if to != module && level > from {
                upward.insert(format!("{module} -> {to}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules import upward: {upward:?}; move the shared piece down to the lower module (or the kernel), or the caller up (ARCHITECTURE.md, \"Where things go\")"
    );
}

#[test]
fn front_ends_neither_authorize_nor_reach_the_store() {
    for dir in ["derbes-server/src", "derbes/src"] {
        for file in rust_files(&crate_dir(dir)) {
            let text = code(&file);
            for check in [
                ".require(",
                ".authorize(",
                ".role ==",
                ".role !=",
                "reaches(",
            ] {
                assert!(
                    !text.contains(check),
                    "{} authorizes (`{check}`): a front end makes one service call, and the service checks role and purpose",
                    relative(&file)
                );
            }
            for reach in [".store()", "WriteOp"] {
                assert!(
                    !text.contains(reach),
                    "{} reaches the store past the service (`{reach}`): add a service method, which writes with the audit event",
                    relative(&file)
                );
            }
        }
    }
}

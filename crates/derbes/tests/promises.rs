//! The promises of the rendered documents stay traced to what keeps them: every
//! `promise("id")` of a shipped template names an entry of the registry, every entry is made by
//! some template, every test an entry (or `docs/seed-coverage.md`) names exists, and
//! `docs/promises.md` is the registry as it is.
#![allow(clippy::unwrap_used)]

use derbes_service::promises::{marks, KeptBy, PROMISES};
use std::collections::BTreeSet;

mod tree;

use tree::{templates, workspace};

/// `docs/promises.md`: the table of promises and what keeps each one.
fn table() -> String {
    let mut out = String::from(
        "# Promises and what keeps them\n\n\
         <!-- Written from crates/derbes-service/src/render/promises.rs; a test keeps the two equal. \
         After changing the registry, write this file again with \
         `DERBES_UPDATE_DOCS=1 cargo test -p derbes --test promises`. -->\n\n\
         Every sentence of a rendered document (the policy, the list of personal data, the consent \
         forms, the record of processing activities, the answer letters, the access report, the \
         consent receipts) that promises a behaviour carries a promise id in its template: \
         `{{ promise(\"id\") }}`, which renders as nothing. Each id is kept either by derbes, with \
         the tests that prove it, or by the operator as its own measure, and then the documents \
         say \"the operator ensures…\", never that it happens by itself. A template that names an \
         id missing here does not render, and a test fails when an entry's test does not exist.\n\n\
         An operator who replaces a template keeps the ids of the sentences it keeps; a sentence \
         the operator adds is the operator's own promise.\n\n\
         ## Kept by derbes\n\n\
         | Promise | What the documents say | How derbes keeps it | Tests |\n\
         |---|---|---|---|\n",
    );
    for p in PROMISES {
        if let KeptBy::Derbes { how, tests } = p.kept_by {
            let tests: Vec<String> = tests.iter().map(|t| format!("`{t}`")).collect();
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                p.id,
                p.says,
                how,
                tests.join("<br>")
            ));
        }
    }
    out.push_str(
        "\n## The operator's own measures\n\n\
         The documents word these as what the operator does or ensures. Where derbes is to keep \
         one, the capability is named; when it lands, the sentence and this entry change together.\n\n\
         | Promise | What the documents say | derbes will keep it with |\n\
         |---|---|---|\n",
    );
    for p in PROMISES {
        if let KeptBy::Operator { until } = p.kept_by {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                p.id,
                p.says,
                until.unwrap_or("— (the operator's alone)")
            ));
        }
    }
    out
}

/// Whether `reference` (`<file>::<test function>`) names a function of that file.
fn test_exists(reference: &str) -> Result<(), String> {
    let (file, name) = reference
        .split_once("::")
        .ok_or_else(|| format!("{reference}: not <file>::<test>"))?;
    let text = std::fs::read_to_string(workspace().join(file))
        .map_err(|e| format!("{reference}: {file} cannot be read: {e}"))?;
    let defined = [format!("fn {name}("), format!("fn {name}<")]
        .iter()
        .any(|d| text.contains(d.as_str()));
    if defined {
        Ok(())
    } else {
        Err(format!("{reference}: {file} has no fn {name}"))
    }
}

#[test]
fn every_mark_in_a_template_names_a_promise_and_every_promise_is_made() {
    let known: BTreeSet<&str> = PROMISES.iter().map(|p| p.id).collect();
    let mut made = BTreeSet::new();
    let mut errors = Vec::new();
    for (name, text) in templates() {
        for id in marks(&text) {
            if !known.contains(id) {
                errors.push(format!("{name}: promise(\"{id}\") is not in the registry"));
            }
            made.insert(id.to_owned());
        }
    }
    for id in &known {
        if !made.contains(*id) {
            errors.push(format!("the promise {id} is in no template: remove it"));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn every_test_that_keeps_a_promise_exists() {
    let mut errors = Vec::new();
    for p in PROMISES {
        if let KeptBy::Derbes { tests, .. } = p.kept_by {
            errors.extend(tests.iter().filter_map(|t| test_exists(t).err()));
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// `docs/seed-coverage.md` names tests as `` `<file>::<test>` `` and promises as
/// `` `promise:<id>` ``: each must exist.
#[test]
fn seed_coverage_names_only_tests_and_promises_that_exist() {
    let text = std::fs::read_to_string(workspace().join("docs/seed-coverage.md")).unwrap();
    let known: BTreeSet<&str> = PROMISES.iter().map(|p| p.id).collect();
    let mut errors = Vec::new();
    let mut tests = 0;
    for code in text.split('`').skip(1).step_by(2) {
        if let Some(id) = code.strip_prefix("promise:") {
            if !known.contains(id) {
                errors.push(format!("no promise {id}"));
            }
        } else if code.starts_with("crates/") && code.contains(".rs::") {
            tests += 1;
            errors.extend(test_exists(code).err());
        }
    }
    assert!(tests > 10, "seed-coverage.md names only {tests} tests");
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn docs_promises_md_is_the_registry() {
    let path = workspace().join("docs/promises.md");
    let table = table();
    if std::env::var_os("DERBES_UPDATE_DOCS").is_some() {
        std::fs::write(&path, &table).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        kept == table,
        "docs/promises.md differs from the registry in crates/derbes-service/src/render/promises.rs: write it again with DERBES_UPDATE_DOCS=1 cargo test -p derbes --test promises"
    );
}

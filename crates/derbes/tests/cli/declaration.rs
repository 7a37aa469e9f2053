//! The declaration and the configuration: `derbes check`, configuration errors, `derbes policy render` and `policy diff`.

use super::*;

#[test]
fn check_accepts_every_example() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(
        files.iter().any(|p| p.ends_with("shoqan-school.toml")),
        "{files:?}"
    );
    for f in &files {
        let o = run(derbes(dir.path()).arg("check").arg(f));
        assert!(o.status.success(), "{}: {}", f.display(), show(&o));
        let stdout = text(&o.stdout);
        assert!(
            stdout.contains(&format!("{}: ok", f.display())),
            "{}: {}",
            f.display(),
            show(&o)
        );
    }
}

#[test]
fn check_names_every_problem_with_its_position_and_a_fix() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(examples_dir().join("shoqan-school.toml")).unwrap();
    let mut added = false;
    let mut renamed = false;
    let broken = edit_lines(&original, |table, line| {
        if table == "[purposes.education]" && line.starts_with("fields = [") {
            added = true;
            let body = line.trim_end().strip_suffix(']').unwrap();
            Some(format!("{body}, \"shoe_size\"]"))
        } else if table == "[purposes.extracurricular]" && line.starts_with("retention = ") {
            renamed = true;
            Some("retention = \"no_such_rule\"".to_owned())
        } else {
            None
        }
    });
    assert!(added && renamed, "the example changed shape");
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, &broken).unwrap();
    let (l1, c1) = position(&broken, "\"shoe_size\"");
    let (l2, c2) = position(&broken, "\"no_such_rule\"");

    let o = run(derbes(dir.path()).arg("check").arg(&file));
    assert_failed(&o);
    let stderr = text(&o.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    for (line, col, what) in [(l1, c1, "shoe_size"), (l2, c2, "no_such_rule")] {
        let prefix = format!("{}:{line}:{col}: error", file.display());
        let i = lines
            .iter()
            .position(|l| l.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no problem reported at {prefix}: {}", show(&o)));
        assert!(lines[i].contains(what), "{}: {}", lines[i], show(&o));
        assert!(
            lines
                .get(i + 1)
                .is_some_and(|l| l.trim_start().starts_with("fix:")),
            "no fix: hint after {}: {}",
            lines[i],
            show(&o)
        );
    }
    assert!(
        !text(&o.stdout).contains(": ok"),
        "a broken file reported ok: {}",
        show(&o)
    );
}

#[test]
fn check_strict_fails_on_warnings_that_plain_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let original = std::fs::read_to_string(examples_dir().join("shoqan-school.toml")).unwrap();
    // Databases in Germany: a warning (Art. 12(2)). Every recipient then receives data across the
    // border and needs a basis, or the check reports errors rather than only the warning.
    let mut moved = false;
    let edited = edit_lines(&original, |table, line| {
        if line.starts_with("storage_country = ") {
            moved = true;
            Some("storage_country = \"DE\"".to_owned())
        } else if table.starts_with("[recipients.") && line.starts_with("country = ") {
            Some(format!(
                "{line}\ncross_border_basis = \"contract_performance\""
            ))
        } else {
            None
        }
    });
    assert!(moved);
    let file = dir.path().join("abroad.toml");
    std::fs::write(&file, &edited).unwrap();

    let plain = run(derbes(dir.path()).arg("check").arg(&file));
    assert_ok(&plain);
    assert!(
        text(&plain.stdout).contains(&format!("{}: ok (1 warning(s))", file.display())),
        "{}",
        show(&plain)
    );
    let (line, col) = position(&edited, "\"DE\"");
    assert_stderr_has(
        &plain,
        &format!("{}:{line}:{col}: warning: storage_country", file.display()),
    );

    let strict = run(derbes(dir.path()).args(["check", "--strict"]).arg(&file));
    assert_failed_with(&strict, "0 error(s), 1 warning(s)");
    assert!(!text(&strict.stdout).contains(": ok"), "{}", show(&strict));
}

#[test]
fn config_unknown_key_and_unknown_env_var_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let config = cwd.join("derbes.toml");
    std::fs::write(
        &config,
        "# derbes configuration\ndata_dir = \"data\"\nlisten_port = 1\n",
    )
    .unwrap();
    let o = serve_must_fail(derbes(cwd).arg("--config").arg(&config));
    let stderr = text(&o.stderr);
    assert!(
        stderr.contains(&format!("{}:3:1:", config.display())) && stderr.contains("unknown field"),
        "{}",
        show(&o)
    );
    assert!(
        stderr.contains("listen_port"),
        "the message should name the key: {}",
        show(&o)
    );
    assert!(
        !cwd.join("data").exists(),
        "serve created the data directory despite a bad configuration"
    );

    // The same file found implicitly as ./derbes.toml.
    let o = serve_must_fail(&mut derbes(cwd));
    assert_stderr_has(&o, "derbes.toml:3:1:");

    std::fs::remove_file(&config).unwrap();
    let o = serve_must_fail(
        derbes(cwd)
            .env("DERBES_LISTN", "x")
            .arg("--data-dir")
            .arg(cwd.join("data")),
    );
    assert_stderr_has(&o, "DERBES_LISTN");
    assert!(!cwd.join("data").exists());
}

#[test]
fn policy_render_writes_each_language_and_format() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let o = run(derbes(cwd).args(["policy", "render", "--lang", "ru", "--format", "md"]));
    assert_ok(&o);
    let md = text(&o.stdout);
    assert!(md.starts_with("# Политика конфиденциальности"), "{md}");
    assert!(
        md.contains("## 9. Права субъекта") && md.contains("{#rights}"),
        "{md}"
    );
    let out = cwd.join("policy.html");
    let o = run(derbes(cwd).args([
        "policy",
        "render",
        "--lang",
        "kk",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert_ok(&o);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("<html lang=\"kk\">") && html.contains("<h2 id=\"minors\">"),
        "{html}"
    );
    assert!(html.contains("құпиялылық саясаты"));
    let o = run(derbes(cwd).args(["policy", "render", "--lang", "de"]));
    assert_failed_with(&o, "use kk, ru or en");
    // The other documents, by name.
    let o = run(derbes(cwd).args([
        "policy",
        "render",
        "--document",
        "data-list",
        "--lang",
        "en",
        "--format",
        "md",
    ]));
    assert_ok(&o);
    assert!(text(&o.stdout).starts_with("# List of personal data needed and sufficient"));
    let o = run(derbes(cwd).args(["policy", "render", "--document", "leaflet"]));
    assert_failed_with(
        &o,
        "use policy, data-list, consent-forms or processing-record",
    );
    // A PDF is a file, and needs Chromium: where there is none, the error says what to do.
    let o = run(derbes(cwd).args(["policy", "render", "--format", "pdf"]));
    assert_failed_with(&o, "--out FILE");
    let pdf = cwd.join("policy.pdf");
    let o = run(derbes(cwd).env("PATH", cwd).args([
        "policy",
        "render",
        "--format",
        "pdf",
        "--out",
        pdf.to_str().unwrap(),
    ]));
    assert_failed_with(&o, "apt-get install chromium");
    assert!(!pdf.exists());
}

#[test]
fn policy_diff_names_the_changes_and_flags_fresh_consent() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let old = examples_dir().join("shoqan-school.toml");
    let source = std::fs::read_to_string(&old).unwrap();
    let next = |recipients: &str| {
        let new = cwd.join("new.toml");
        let text = source
            .replacen("version = \"2025.1\"", "version = \"2026.1\"", 1)
            .replacen(
                "recipients = [\"transport_company\", \"medical_institution\"]",
                recipients,
                1,
            );
        std::fs::write(&new, text).unwrap();
        run(derbes(cwd)
            .args(["policy", "diff"])
            .arg(&old)
            .arg(&new)
            .args(["--lang", "ru"]))
    };
    // A recipient added: the old consents do not cover it; scripts see exit code 3.
    let o = next("recipients = [\"transport_company\", \"medical_institution\", \"it_support\"]");
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(
        out.starts_with("# Изменения политики конфиденциальности: 2025.1 → 2026.1"),
        "{out}"
    );
    assert!(
        out.contains("получатели добавлены: Организация IT-поддержки"),
        "{out}"
    );
    // A recipient dropped: changed, but every consent still covers what is left.
    let o = next("recipients = [\"transport_company\"]");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = text(&o.stdout);
    assert!(
        out.contains("Ни одна цель не требует нового согласия."),
        "{out}"
    );
    assert!(out.contains("получатели исключены: "), "{out}");
    let o = run(derbes(cwd).args(["policy", "diff"]).arg(&old).arg(&old));
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(text(&o.stdout).contains("Өзгерістер жоқ."));
}

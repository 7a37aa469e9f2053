//! The jobs `serve` runs on a clock, and `derbes jobs`.

use super::*;

/// The server runs its duties on a clock and keeps the last run of each: an admin sees them
/// over the API (nobody else), and the operator at the command line, after the server stopped.
#[test]
fn the_server_runs_its_jobs_and_shows_their_last_runs() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let mut s = Server::start(cwd, &data);
    let admin = s.token.clone().unwrap();
    // The jobs due at start run at once; wait for the last of them to be recorded.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let jobs = loop {
        let (status, body) = s.get("/api/v1/jobs", &admin);
        assert_eq!(status, 200, "{body}");
        let ran = |name: &str| {
            body["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .any(|j| j["name"] == name && j["last_run"].is_object())
        };
        if [
            "webhook-delivery",
            "package-sweep",
            "audit-verification",
            "outbox-sweep",
            "lifecycle-sync",
        ]
        .iter()
        .all(|n| ran(n))
        {
            break body["jobs"].as_array().unwrap().clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "jobs never ran: {body}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let names: Vec<&str> = jobs.iter().map(|j| j["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "webhook-delivery",
            "package-sweep",
            "audit-checkpoint",
            "audit-verification",
            "outbox-sweep",
            "token-use",
            "majority-reconfirmations",
            "key-reload",
            "retention-scan",
            "retention-run",
            "lifecycle-sync"
        ]
    );
    let job = |name: &str| jobs.iter().find(|j| j["name"] == name).unwrap();
    let audit = &job("audit-verification")["last_run"];
    assert_eq!(audit["outcome"], "done", "{audit}");
    assert_eq!(audit["detail"], "the audit chain verifies");
    assert_eq!(audit["every_seconds"], 86_400);
    let webhooks = &job("webhook-delivery")["last_run"];
    assert_eq!(webhooks["outcome"], "idle", "no connector, nothing to send");
    assert_eq!(webhooks["failures"], 0);
    let sync = &job("lifecycle-sync")["last_run"];
    assert_eq!(
        sync["outcome"], "idle",
        "no connector maps a lifecycle: {sync}"
    );
    // A checkpoint comes one period after start.
    assert!(job("audit-checkpoint")["last_run"].is_null());
    assert!(job("key-reload")["does"]
        .as_str()
        .unwrap()
        .contains("keys rotate"));
    // Only an admin sees them.
    let o = create_token(cwd, &data, "dpo", "dpo", &[]);
    assert_ok(&o);
    let dpo = text(&o.stdout).trim().to_owned();
    let (status, body) = s.get("/api/v1/jobs", &dpo);
    assert_eq!(status, 403, "{body}");
    s.stop();

    let o = derbes_at(cwd, &data, &["jobs"]);
    assert_ok(&o);
    let out = text(&o.stdout);
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_owned()
    };
    assert!(
        line("audit-verification").contains("done")
            && line("audit-verification").contains("1 run(s), 0 failed: the audit chain verifies"),
        "{out}"
    );
    assert!(line("webhook-delivery").contains("idle"), "{out}");
    assert!(line("audit-checkpoint").contains("never run"), "{out}");
    assert!(out.contains("deletes the access packages whose download period has ended"));
}

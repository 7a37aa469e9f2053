//! API tokens from the command line.

use super::*;

/// Tokens have a life: an integration token expires by default, every token is listed with its
/// use, and a revocation from the command line holds at once in the running server.
#[test]
fn tokens_are_listed_and_a_revocation_holds_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = dir.path();
    let data = cwd.join("data");
    let s = Server::start(cwd, &data);
    let o = create_token(
        cwd,
        &data,
        "integration",
        "journal",
        &["--purpose", "education"],
    );
    assert_ok(&o);
    let token = text(&o.stdout).trim().to_owned();
    let err = text(&o.stderr);
    assert!(
        err.contains("expires 20"),
        "an integration token expires by default: {err}"
    );
    let id = err
        .split("(id ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap()
        .to_owned();
    let ask = |t: &str| {
        s.post("/api/v1/decisions", t, &json!({ "subject_id": "00000000-0000-7000-8000-000000000000", "purpose": "education" }))
        .0
    };
    assert_eq!(ask(&token), 200);
    // The scheme is case-insensitive.
    let (status, _) = {
        let agent = agent();
        let r = agent.run(
            ureq::http::Request::builder()
                .method("GET")
                .uri(s.url("/api/v1/tokens"))
                .header(
                    "Authorization",
                    format!("bEaReR {}", s.token.clone().unwrap()),
                )
                .body(())
                .unwrap(),
        );
        (r.unwrap().status().as_u16(), ())
    };
    assert_eq!(status, 200);
    let o = derbes_at(cwd, &data, &["token", "list"]);
    assert_ok(&o);
    let listed = text(&o.stdout);
    assert!(
        listed.contains(&id) && listed.contains("active") && listed.contains("journal"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "a list never shows a token");
    let o = derbes_at(cwd, &data, &["token", "revoke", &id]);
    assert_ok(&o);
    // At once, in the server that checked it a moment ago.
    assert_eq!(ask(&token), 401);
    let o = derbes_at(cwd, &data, &["token", "list"]);
    assert_stdout_has(&o, "revoked");
    let o = create_token(
        cwd,
        &data,
        "staff",
        "x",
        &["--purpose", "education", "--expires-in-days", "0"],
    );
    assert_failed_with(&o, "expires_in_days");
}

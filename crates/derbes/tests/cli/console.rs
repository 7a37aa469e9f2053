//! Where the console is served.

use super::*;

/// The console is served beside the API by default; with `[console] listen` it has an address
/// of its own (an internal network, say), and the API's address no longer serves it.
#[test]
fn the_console_can_have_an_address_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (cwd, data) = (dir.path(), dir.path().join("data"));
    let s = Server::start(cwd, &data);
    assert_eq!(http("GET", &s.url("/console/sign-in"), None, None).0, 200);
    drop(s);

    let port = free_port();
    std::fs::write(
        cwd.join("derbes.toml"),
        format!("[console]\nlisten = \"127.0.0.1:{port}\"\n"),
    )
    .unwrap();
    let s = Server::start(cwd, &data);
    let own = format!("http://127.0.0.1:{port}");
    assert_eq!(
        http("GET", &format!("{own}/console/sign-in"), None, None).0,
        200
    );
    assert_eq!(http("GET", &s.url("/console/sign-in"), None, None).0, 404);
    assert_eq!(http("GET", &s.url("/api/v1/health"), None, None).0, 200);
    assert_eq!(
        http("GET", &format!("{own}/api/v1/health"), None, None).0,
        404
    );
    let said = s.stdout.join("\n");
    assert!(
        said.contains(&format!("the console is at {own}/console")),
        "{said}"
    );
}

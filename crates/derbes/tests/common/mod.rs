//! What the binary's end-to-end tests share: running `derbes` with a clean environment, and a
//! real `derbes serve` on a free port.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use derbes_core::identifiers::{Iin, Sex};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// The binary, with every `DERBES_*` variable of the test environment removed and the current
/// directory set to `cwd` (a temporary directory), so that no stray configuration leaks in.
pub fn derbes(cwd: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_derbes"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("DERBES_") {
            cmd.env_remove(&k);
        }
    }
    cmd.current_dir(cwd);
    cmd
}

/// Runs a command to completion (within two minutes) and returns its output.
pub fn run(cmd: &mut Command) -> Output {
    run_within(cmd, Duration::from_secs(120))
}

/// Runs `derbes args --data-dir data` in `cwd` to completion.
pub fn derbes_at(cwd: &Path, data: &Path, args: &[&str]) -> Output {
    run(derbes(cwd).args(args).arg("--data-dir").arg(data))
}

/// `derbes token create --role <role> --name <name> <extra…>` on `data`.
pub fn create_token(cwd: &Path, data: &Path, role: &str, name: &str, extra: &[&str]) -> Output {
    let create = ["token", "create", "--role", role, "--name", name];
    derbes_at(cwd, data, &[&create[..], extra].concat())
}

/// Runs a command to completion and returns its output; kills it and fails after `limit`.
pub fn run_within(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start derbes");
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = out.read_to_end(&mut b);
        b
    });
    let err_t = std::thread::spawn(move || {
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        b
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("derbes did not finish within {limit:?}: {cmd:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that the command succeeded, showing what it wrote when it did not.
#[track_caller]
pub fn assert_ok(o: &Output) {
    assert!(o.status.success(), "{}", show(o));
}

/// Asserts that the command failed, showing what it wrote when it did not.
#[track_caller]
pub fn assert_failed(o: &Output) {
    assert!(!o.status.success(), "{}", show(o));
}

/// Asserts that the command wrote `needle` to its standard output.
#[track_caller]
pub fn assert_stdout_has(o: &Output, needle: &str) {
    assert!(text(&o.stdout).contains(needle), "{}", show(o));
}

/// Asserts that the command wrote `needle` to its standard error.
#[track_caller]
pub fn assert_stderr_has(o: &Output, needle: &str) {
    assert!(text(&o.stderr).contains(needle), "{}", show(o));
}

/// Asserts that the command failed and said `needle` on its standard error.
#[track_caller]
pub fn assert_failed_with(o: &Output, needle: &str) {
    assert_failed(o);
    assert_stderr_has(o, needle);
}

/// Formats an output for assertion messages.
pub fn show(o: &Output) -> String {
    format!(
        "status: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        o.status,
        text(&o.stdout),
        text(&o.stderr)
    )
}

/// A loopback port nothing listens on, for a server this test starts. Taken below the kernel's
/// ephemeral range (32768 and up on Linux): a port the kernel hands out can be taken again, as
/// the source port of any outgoing connection, before the server binds it. Each call in a
/// process takes the next port of a range that depends on the process id, so parallel tests do
/// not race for the same one either.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // The low bits of the process id pick where this process starts.
    let start = u16::try_from(std::process::id() % u32::from(SPAN)).unwrap_or(0);
    for _ in 0..SPAN {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = FIRST + (start + n % SPAN) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {FIRST}-{}", FIRST + SPAN - 1)
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// (status, JSON body or Null)
pub fn http(method: &str, url: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
    let req = ureq::http::Request::builder().method(method).uri(url);
    let req = match token {
        Some(t) => req.header("Authorization", format!("Bearer {t}")),
        None => req,
    };
    let agent = agent();
    let mut resp = match body {
        None => agent.run(req.body(()).unwrap()),
        Some(v) => agent.run(
            req.header("Content-Type", "application/json")
                .body(v.to_string())
                .unwrap(),
        ),
    }
    .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A running `derbes serve`; killed when dropped, even when the test fails.
pub struct Server {
    child: Option<Child>,
    pub base: String,
    /// The admin token, when this start printed one.
    pub token: Option<String>,
    /// Every stdout line up to and including the "serving" line.
    pub stdout: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `serve` with the data directory `data` and waits for it to listen.
    pub fn start(cwd: &Path, data: &Path) -> Server {
        let port = free_port();
        let mut child = derbes(cwd)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("cannot start derbes serve");
        let stdout = child.stdout.take().unwrap();
        let stderr_pipe = child.stderr.take().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut server = Server {
            child: Some(child),
            base: format!("http://127.0.0.1:{port}"),
            token: None,
            stdout: Vec::new(),
            stderr: Arc::clone(&stderr),
        };
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                let mut s = stderr.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    // With no terminal, the first admin token goes to a private file.
                    if let Some(path) = line
                        .split_once("first admin token; it is in the file ")
                        .and_then(|(_, rest)| rest.split_once(" (mode 0600)"))
                        .map(|(p, _)| p.to_owned())
                    {
                        let p = std::path::Path::new(&path);
                        let p = if p.is_relative() { cwd.join(p) } else { p.to_path_buf() };
                        assert_eq!(
                            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
                            0o600
                        );
                        server.token = Some(std::fs::read_to_string(&p).unwrap().trim().to_owned());
                    }
                    if let Some(t) = line.split_whitespace().find(|w| w.starts_with("dbs_")) {
                        assert!(
                            server.token.is_none(),
                            "two tokens printed: {:?}",
                            server.stdout
                        );
                        server.token = Some(t.to_owned());
                    }
                    let serving = line.contains("serving http://");
                    server.stdout.push(line);
                    if serving {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => panic!(
                    "serve did not report `serving http://` within {STARTUP_TIMEOUT:?}; stdout: {:?}; stderr: {}",
                    server.stdout,
                    server.stderr()
                ),
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // Give the stderr reader a moment to collect the reason.
                    std::thread::sleep(Duration::from_millis(200));
                    panic!(
                        "serve exited before listening; stdout: {:?}; stderr: {}",
                        server.stdout,
                        server.stderr()
                    )
                }
            }
        }
        server
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// The standard error once it holds `needle`, or after five seconds without it: the lines
    /// a server writes there before it serves may still be on their way through the pipe.
    pub fn stderr_with(&self, needle: &str) -> String {
        let waited = Instant::now();
        loop {
            let s = self.stderr();
            if s.contains(needle) || waited.elapsed() > Duration::from_secs(5) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GETs `path` with a bearer token: (status, JSON body).
    pub fn get(&self, path: &str, token: &str) -> (u16, Value) {
        http("GET", &self.url(path), Some(token), None)
    }

    /// POSTs `body` to `path` with a bearer token: (status, JSON body).
    pub fn post(&self, path: &str, token: &str, body: &Value) -> (u16, Value) {
        http("POST", &self.url(path), Some(token), Some(body))
    }

    /// Kills the process and waits for it to be gone.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// `n` distinct valid IINs of girls born 11 December 2006.
pub fn student_iins(n: usize) -> Vec<String> {
    let birth = time::macros::date!(2006 - 12 - 11);
    (0..10_000)
        .filter_map(|serial| Iin::compose(birth, Sex::Female, serial))
        .map(|iin| iin.as_str().to_owned())
        .take(n)
        .collect()
}

/// Creates a student; `n` makes the phone number (a unique identifier) distinct.
pub fn create_student(s: &Server, token: &str, n: usize, surname: &str, iin: &str) -> String {
    let phone = format!("8 (701) 234-56-{:02}", n % 100);
    let (status, body) = s.post(
        "/api/v1/subjects",
        token,
        &json!({
            "category": "student",
            "fields": { "surname": surname, "given_name": "Әйгерім", "iin": iin, "phone": phone }
        }),
    );
    assert_eq!(status, 201, "create {surname}: {body}");
    body["id"].as_str().expect("an id").to_owned()
}

pub fn read_subject(s: &Server, token: &str, id: &str) -> Value {
    let (status, body) = s.get(&format!("/api/v1/subjects/{id}?purpose=education"), token);
    assert_eq!(status, 200, "read {id}: {body}");
    body
}

pub fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

pub fn db(data: &Path) -> rusqlite::Connection {
    let p = data.join("derbes.db");
    assert!(p.exists(), "{} does not exist", p.display());
    rusqlite::Connection::open(p).unwrap()
}

/// The first column of every row of `sql`, on the data directory's database.
pub fn column<T: rusqlite::types::FromSql>(data: &Path, sql: &str) -> Vec<T> {
    db(data)
        .prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Copies the key file and the database (after a checkpoint, so the .db file is complete).
pub fn copy_data(from: &Path, to: &Path) {
    {
        let c = db(from);
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    std::fs::create_dir_all(to).unwrap();
    std::fs::copy(from.join("derbes.db"), to.join("derbes.db")).unwrap();
    let key = to.join("derbes.key");
    std::fs::copy(from.join("derbes.key"), &key).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// `derbes audit verify` on a data directory.
pub fn verify(cwd: &Path, data: &Path) -> Output {
    run(derbes(cwd)
        .args(["audit", "verify", "--data-dir"])
        .arg(data))
}

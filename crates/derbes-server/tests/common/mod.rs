//! What the API suites share: a server on a free port over real SQLite or PostgreSQL, and calls
//! to it over real HTTP.
#![allow(clippy::unwrap_used, dead_code)]

use derbes_core::Declaration;
use derbes_crypto::KeyRing;
use derbes_server::AppState;
use derbes_service::{App, Clock, RequestSettings, Role, Settings, Vault};
use derbes_store::testing::TestDb;
use serde_json::{json, Value};
use std::sync::Arc;

pub const DEMO: &str = include_str!("../../../../examples/shoqan-school.toml");

/// The demo declaration, with an obligation that keeps consent to `extracurricular` from being
/// withdrawn while an excursion the student is booked on is under way (Art. 8(2)).
pub fn declaration() -> Declaration {
    let anchor =
        "legal_basis = \"consent\"\ncategories = [\"student\", \"legal_representative\"]\n";
    assert_eq!(DEMO.matches(anchor).count(), 1);
    let text = DEMO.replace(
        anchor,
        &format!("{anchor}withdrawal_obligation = {{ kk = \"Оқушы жазылған экскурсия аяқталғанға дейін\", ru = \"До окончания экскурсии, на которую записан обучающийся\", en = \"Until the excursion the student is booked on is over\" }}\n"),
    );
    Declaration::load(&text).unwrap().declaration
}

pub use derbes_store::testing::Fut;

/// A running server with an admin token.
pub struct Server {
    pub base: String,
    pub admin: String,
    pub state: AppState,
    /// The store behind the server, for what a test checks beneath the service (rows as they
    /// are stored, writes no service makes).
    pub store: Arc<dyn derbes_store::Store>,
    pub agent: ureq::Agent,
    /// Where one-time codes and answers are delivered.
    pub outbox: std::path::PathBuf,
    /// The school platform's own database (SQLite), reached through the SQL connector.
    pub platform: std::path::PathBuf,
}

/// The school platform's schema for the connector, and its dataset map.
pub const PLATFORM_SCHEMA: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, iin TEXT UNIQUE, full_name TEXT NOT NULL, email TEXT UNIQUE, left_at TEXT, left_reason TEXT, year_grade TEXT);
CREATE TABLE grades (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id), course TEXT NOT NULL, grade INTEGER NOT NULL);";
pub const PLATFORM_MAP: &str = r#"
name = "platform"
database = "sqlite:{path}"
[identity]
table = "users"
key = "id"
column = "iin"
field = "iin"
[[tables]]
table = "grades"
reference = "user_id"
masking = "delete_row"
columns.course = {}
columns.grade = {}
[[tables]]
table = "users"
columns.iin = { field = "iin", masking = "null" }
columns.full_name = { field = "surname", masking = "redact" }
columns.email = { field = "email", masking = "hash" }
columns.year_grade = { field = "grades", masking = "null" }
[lifecycle]
relationship_ended = "left_at"
reason = "left_reason"
"#;

pub struct Reply {
    pub status: u16,
    pub content_type: String,
    /// `Content-Disposition`, when sent.
    pub disposition: String,
    pub text: String,
    /// The body as received (a zip, say).
    pub bytes: Vec<u8>,
    pub body: Value,
}

impl Server {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with_clock(db, Arc::new(time::OffsetDateTime::now_utc)).await
    }

    /// A server whose decisions are taken at the times `clock` gives.
    pub async fn start_with_clock(db: &TestDb, clock: Clock) -> Self {
        Self::start_with(db, clock, Vec::new()).await
    }

    /// A server with a clock and webhook connectors.
    pub async fn start_with(
        db: &TestDb,
        clock: Clock,
        webhooks: Vec<derbes_service::Webhook>,
    ) -> Self {
        Self::start_limited(db, clock, webhooks, derbes_server::Limits::default()).await
    }

    /// A server whose listener limits its clients as `limits` say.
    pub async fn start_limited(
        db: &TestDb,
        clock: Clock,
        webhooks: Vec<derbes_service::Webhook>,
        limits: derbes_server::Limits,
    ) -> Self {
        let keys = Arc::new(KeyRing::generate().unwrap());
        let store = derbes_store::open(&db.url, Arc::clone(&keys) as derbes_store::Keys)
            .await
            .unwrap();
        let declaration = Arc::new(declaration());
        let outbox =
            std::env::temp_dir().join(format!("derbes-api-outbox-{}", uuid::Uuid::now_v7()));
        let platform = outbox.with_extension("platform.db");
        rusqlite::Connection::open(&platform)
            .unwrap()
            .execute_batch(PLATFORM_SCHEMA)
            .unwrap();
        let map = derbes_connect::DatasetMap::parse(
            &PLATFORM_MAP.replace("{path}", &platform.display().to_string()),
            |f| declaration.field(f).is_some(),
            |p| declaration.purpose(p).is_some(),
        )
        .unwrap();
        let connector = derbes_connect::SqlConnector::new(map).unwrap();
        let state = AppState::new(Arc::new(App::new(
            Vault::new(declaration, keys, Arc::clone(&store))
                .with_clock(clock)
                .with_mailer(Arc::new(derbes_service::Outbox::new(
                    &outbox,
                    "dpo@school.kz",
                )))
                .with_connectors(vec![connector]),
            Settings {
                destruction_log: Some(derbes_service::DestructionLog::new(
                    outbox.with_extension("destructions.log"),
                )),
                requests: RequestSettings {
                    four_eyes: true,
                    webhooks,
                    ..RequestSettings::default()
                },
                retention: derbes_service::RetentionSettings { four_eyes: true },
                ..Settings::default()
            },
        )));
        let admin = state
            .app
            .tokens
            .create_token("test", "admin", Role::Admin, vec![], None)
            .await
            .unwrap()
            .token;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(derbes_server::serve_with(
            listener,
            state.clone(),
            limits,
            std::future::pending(),
        ));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            base,
            admin,
            state,
            store,
            agent,
            outbox,
            platform,
        }
    }

    pub async fn token(&self, role: Role, purposes: &[&str]) -> String {
        self.state
            .app
            .tokens
            .create_token(
                "test",
                &format!("{role}"),
                role,
                purposes.iter().map(|s| s.to_string()).collect(),
                None,
            )
            .await
            .unwrap()
            .token
    }

    /// Sends a request from a blocking thread (ureq is blocking; the server runs on the runtime).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> Reply {
        self.call_with(method, path, token, body, None).await
    }

    /// As `call`, with one more request header.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
        header: Option<(&'static str, String)>,
    ) -> Reply {
        let agent = self.agent.clone();
        let url = format!("{}{path}", self.base);
        let method = method.to_owned();
        let token = token.map(str::to_owned);
        tokio::task::spawn_blocking(move || {
            send_blocking(&agent, &method, &url, token.as_deref(), body, header)
        })
        .await
        .unwrap()
    }

    /// As `call_with`, from a thread that may block (not the runtime's).
    pub fn call_blocking(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Body>,
    ) -> Reply {
        let url = format!("{}{path}", self.base);
        send_blocking(&self.agent, method, &url, token, body, None)
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("POST", path, Some(token), Some(Body::Json(body)))
            .await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("PUT", path, Some(token), Some(Body::Json(body)))
            .await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call("DELETE", path, Some(token), None).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call("PATCH", path, Some(token), Some(Body::Json(body)))
            .await
    }

    pub async fn create_student(&self, token: &str, fields: Value) -> Reply {
        self.post(
            "/api/v1/subjects",
            token,
            json!({ "category": "student", "fields": fields }),
        )
        .await
    }

    /// Creates a student and returns its id; a refusal fails the test with the server's answer.
    pub async fn create_student_id(&self, token: &str, fields: Value) -> String {
        let r = self.create_student(token, fields).await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Creates a legal representative with `fields`: its id.
    pub async fn a_representative(&self, fields: Value) -> String {
        let r = self
            .post(
                "/api/v1/subjects",
                &self.admin,
                json!({ "category": "legal_representative", "fields": fields }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["id"].as_str().unwrap().to_owned()
    }

    /// Links `parent` to `child` as its parent, with the birth certificate's digest.
    /// Six visitors of the site today who consented to analytics for 90 days: five with one
    /// browser, one with another. Their ids.
    pub async fn six_visitors(&self) -> Vec<String> {
        let visited = self.state.app.vault.now().date();
        let mut ids = Vec::new();
        for n in 0..6 {
            let browser = if n < 5 { "Firefox 128" } else { "Safari 17" };
            let fields = json!({ "browser": browser, "access_time": visited.to_string(),
                "cookie_data": format!("_ga=GA1.2.{n}"), "ip_address": format!("10.0.0.{n}") });
            let body = json!({ "category": "site_visitor", "fields": fields });
            let r = self.post("/api/v1/subjects", &self.admin, body).await;
            assert_eq!(r.status, 201, "{}", r.body);
            let id = r.body["id"].as_str().unwrap().to_owned();
            let consent = json!({ "purpose": "analytics", "action": "give", "method": { "kind": "web" },
                "until": (visited + time::Duration::days(90)).to_string() });
            let r = self
                .post(
                    &format!("/api/v1/subjects/{id}/consents"),
                    &self.admin,
                    consent,
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            ids.push(id);
        }
        ids
    }

    pub async fn link_parent(&self, child: &str, parent: &str) -> Reply {
        self.post(
            &format!("/api/v1/subjects/{child}/representatives"),
            &self.admin,
            json!({ "representative_id": parent, "relation": "parent",
                    "documents": [{ "kind": "birth_certificate", "sha256": "b1".repeat(32) }] }),
        )
        .await
    }
}

/// An IIN for a person born on `birth`.
pub fn iin_born(birth: time::Date, sex: derbes_core::identifiers::Sex) -> String {
    derbes_core::identifiers::Iin::compose(birth, sex, 77)
        .unwrap()
        .as_str()
        .to_owned()
}

impl Drop for Server {
    /// The files a test server leaves: its outbox, destruction log and platform database.
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.outbox);
        let _ = std::fs::remove_file(self.outbox.with_extension("destructions.log"));
        let _ = std::fs::remove_file(&self.platform);
    }
}

/// Sends one request and reads the whole answer (ureq blocks).
fn send_blocking(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    token: Option<&str>,
    body: Option<Body>,
    header: Option<(&'static str, String)>,
) -> Reply {
    let auth = token.map(|t| format!("Bearer {t}"));
    let builder = || {
        let req = ureq::http::Request::builder().method(method).uri(url);
        let req = match &auth {
            Some(a) => req.header("Authorization", a),
            None => req,
        };
        match &header {
            Some((name, value)) => req.header(*name, value.as_str()),
            None => req,
        }
    };
    let send = |agent: &ureq::Agent| {
        let req = builder();
        match body.clone() {
            None => agent.run(req.body(()).unwrap()),
            Some(Body::Json(v)) => agent.run(
                req.header("Content-Type", "application/json")
                    .body(v.to_string())
                    .unwrap(),
            ),
            Some(Body::Raw(ct, bytes)) => {
                agent.run(req.header("Content-Type", ct).body(bytes).unwrap())
            }
        }
    };
    let resp = match send(agent) {
        // A kept-alive connection the server has closed meanwhile (it may close one whose
        // request body it did not read): sent again on a new connection, as HTTP clients do.
        // A server that fails fails again.
        Err(ureq::Error::Io(_)) => send(
            &ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_idle_connections(0)
                .build()
                .into(),
        ),
        other => other,
    };
    let mut resp = resp.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let (content_type, disposition) = (header("content-type"), header("content-disposition"));
    let bytes = resp
        .body_mut()
        .with_config()
        .limit(10 << 20)
        .read_to_vec()
        .unwrap_or_default();
    let text = String::from_utf8(bytes.clone()).unwrap_or_default();
    Reply {
        status: resp.status().as_u16(),
        content_type,
        disposition,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
        bytes,
    }
}

#[derive(Clone)]
pub enum Body {
    Json(Value),
    Raw(&'static str, Vec<u8>),
}

/// The `key` string of each element of the JSON array `list`.
pub fn each<'a>(list: &'a Value, key: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|x| x[key].as_str().unwrap())
        .collect()
}

/// How many entries of the JSON array `list` have `value` under `key`.
pub fn count_where(list: &Value, key: &str, value: &str) -> usize {
    let entries = list.as_array().map(Vec::as_slice).unwrap_or_default();
    entries.iter().filter(|e| e[key] == value).count()
}

/// Asserts that `text` holds `needle`, and shows the text when it does not.
#[track_caller]
pub fn assert_has(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} is missing from:\n{text}");
}

pub fn assert_problem(r: &Reply, status: u16, kind: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(
        r.body["type"],
        format!("urn:derbes:problem:{kind}"),
        "{}",
        r.body
    );
    assert_eq!(r.body["status"], status);
    assert!(!r.body["detail"].as_str().unwrap_or("").is_empty());
}

pub fn reason_codes(r: &Reply) -> Vec<String> {
    r.body["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["code"].as_str().unwrap().to_owned())
        .collect()
}

/// The newest message in the outbox: (To, body).
pub fn last_mail(outbox: &std::path::Path) -> (String, String) {
    let mut files: Vec<_> = std::fs::read_dir(outbox)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    let text = std::fs::read_to_string(files.last().unwrap()).unwrap();
    let to = text
        .lines()
        .find_map(|l| l.strip_prefix("To: "))
        .unwrap()
        .to_owned();
    // Headers end at the first blank line; the body keeps its own blank lines.
    let body = text.split_once("\r\n\r\n").unwrap().1.to_owned();
    (to, body)
}

pub fn six_digits(body: &str) -> String {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .unwrap()
        .to_owned()
}

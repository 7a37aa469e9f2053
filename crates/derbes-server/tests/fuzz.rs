//! A state-aware fuzz of the API. Each case is a random sequence of calls, by random actors
//! (every role, tokens made and revoked on the way, no token), on ids taken from the answers to
//! earlier calls: subjects of every category, representatives, consents, requests and their
//! one-time codes, tokens. Bodies and queries are drawn from the OpenAPI document the server
//! serves, with values the declaration accepts; some are made invalid on purpose.
//!
//! After every call: no server error; the status is one the document lists for the operation; a
//! refusal is problem+json that names its status and repeats no personal value sent; a JSON
//! answer matches its documented schema; a body made invalid is refused; a missing or revoked
//! token is refused; a destroyed subject is never read. After every sequence the audit chain
//! verifies. A failing sequence is shrunk by proptest and printed call by call; the run's seed
//! is printed, and `DERBES_FUZZ_SEED` and `DERBES_FUZZ_CASES` replay or lengthen it.
#![allow(clippy::unwrap_used)]

use derbes_core::identifiers::{Iin, Sex};
use derbes_service::Role;
use derbes_store::testing::{run_suite, Case, TestDb};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::Arc;

mod common;
use common::*;

/// The seed of the runs in CI; `DERBES_FUZZ_SEED` chooses another.
const SEED: u64 = 0x6465_7262_6573;

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[(
        "call_sequences_on_real_ids_keep_every_promise",
        call_sequences_on_real_ids_keep_every_promise,
    )];
    run_suite("fuzz", cases)
}

fn call_sequences_on_real_ids_keep_every_promise(db: TestDb) -> Fut {
    Box::pin(async move {
        let server = Arc::new(Server::start(&db).await);
        let api = Arc::new(Api::read(
            &server.get("/api/v1/openapi.json", &server.admin).await.body,
        ));
        let runtime = tokio::runtime::Handle::current();
        let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse::<u64>().ok());
        let seed = env("DERBES_FUZZ_SEED").unwrap_or(SEED);
        let cases = env("DERBES_FUZZ_CASES").unwrap_or(24);
        println!("fuzz [{}]: seed {seed}, {cases} sequences", db.backend);
        let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let reached = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
        let reached_here = Arc::clone(&reached);
        tokio::task::spawn_blocking(move || {
            let mut runner = TestRunner::new_with_rng(
                Config {
                    cases: u32::try_from(cases).unwrap_or(u32::MAX),
                    failure_persistence: None,
                    max_shrink_iters: 300,
                    ..Config::default()
                },
                TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
            );
            // Past the document's operations, the moves that take requests and consents further.
            let steps = prop::collection::vec(step(api.ops.len() + api.ops.len() / 2), 15..45);
            let result = runner.run(&steps, |steps| {
                let mut world = World::start(&server, &runtime);
                for s in &steps {
                    world.take(&server, &api, s)?;
                }
                counted.fetch_add(
                    world.transcript.lines().count(),
                    std::sync::atomic::Ordering::Relaxed,
                );
                if std::env::var("DERBES_FUZZ_SHOW").is_ok_and(|v| v == "calls") {
                    println!("{}", world.transcript);
                }
                let mut reached = reached_here.lock().unwrap();
                for (op, status) in &world.answered {
                    *reached.entry(format!("{op} {status}")).or_insert(0u32) += 1;
                }
                world.finish(&server, &runtime)
            });
            if let Err(e) = result {
                panic!("seed {seed}: {e}");
            }
        })
        .await
        .unwrap();
        let reached = reached.lock().unwrap();
        if std::env::var("DERBES_FUZZ_SHOW").is_ok() {
            for (k, n) in reached.iter() {
                println!("  {n:5} {k}");
            }
        }
        // A fuzz that no longer gets far proves little: these must have been reached.
        for deep in [
            "POST /api/v1/subjects/{id}/consents 201",
            "GET /api/v1/subjects/{id}/consents/{consent_id}/receipt 200",
            "POST /api/v1/requests/{id}/verification/code/check 200",
            "POST /api/v1/requests/{id}/steps 200",
            "DELETE /api/v1/tokens/{id} 200",
        ] {
            assert!(reached.contains_key(deep), "no call reached {deep}");
        }
        println!(
            "fuzz [{}]: {} calls, none broke a promise",
            db.backend,
            calls.load(std::sync::atomic::Ordering::Relaxed)
        );
    })
}

fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&seed.to_le_bytes());
    }
    bytes
}

/// One step: which operation, by which actor, the seed of its values, and whether its body is
/// made invalid.
#[derive(Debug, Clone)]
struct Step {
    op: usize,
    actor: u8,
    seed: u64,
    invalid: Option<Invalid>,
}

/// How a body that the document allows is made one it does not.
#[derive(Debug, Clone, Copy)]
enum Invalid {
    /// A required property left out.
    Missing,
    /// A property no schema names, where the object admits none.
    Unknown,
    /// A string property sent as a number.
    WrongType,
    /// The first property sent twice.
    Twice,
    /// Not JSON at all.
    NotJson,
}

fn step(ops: usize) -> impl Strategy<Value = Step> {
    let invalid = prop_oneof![
        8 => Just(None),
        1 => prop_oneof![
            Just(Invalid::Missing),
            Just(Invalid::Unknown),
            Just(Invalid::WrongType),
            Just(Invalid::Twice),
            Just(Invalid::NotJson),
        ]
        .prop_map(Some),
    ];
    (0..ops, any::<u8>(), any::<u64>(), invalid).prop_map(|(op, actor, seed, invalid)| Step {
        op,
        actor,
        seed,
        invalid,
    })
}

/// An operation of the OpenAPI document.
#[derive(Clone)]
struct Op {
    method: String,
    path: String,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Map<String, Value>,
    authed: bool,
}

/// The document, and its operations.
struct Api {
    doc: Value,
    ops: Vec<Op>,
}

impl Api {
    fn read(doc: &Value) -> Self {
        let mut ops = Vec::new();
        for (path, methods) in doc["paths"].as_object().unwrap() {
            for (method, op) in methods.as_object().unwrap() {
                let op = Op {
                    method: method.to_uppercase(),
                    path: path.clone(),
                    params: op["parameters"].as_array().cloned().unwrap_or_default(),
                    body: op
                        .pointer("/requestBody/content/application~1json/schema")
                        .cloned(),
                    responses: op["responses"].as_object().unwrap().clone(),
                    authed: op.get("security").is_some(),
                };
                // The operations that make or change what later calls act on come up more.
                let weight = match (op.method.as_str(), op.path.as_str()) {
                    (_, p) if !p.starts_with("/api/v1/") || p.ends_with("openapi.json") => 1,
                    ("POST", "/api/v1/subjects" | "/api/v1/requests") => 6,
                    ("POST", p) if p.starts_with("/api/v1/requests/") => 6,
                    ("POST" | "PUT" | "PATCH" | "DELETE", _) => 4,
                    _ => 2,
                };
                ops.extend(std::iter::repeat_n(op, weight));
            }
        }
        Self {
            doc: doc.clone(),
            ops,
        }
    }

    /// `schema`, with a `$ref` followed.
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema["$ref"].as_str() {
            Some(r) => {
                let target = self
                    .doc
                    .pointer(r.trim_start_matches('#'))
                    .unwrap_or_else(|| panic!("the document has no {r}"));
                self.resolve(target)
            }
            None => schema,
        }
    }

    /// Where `value` does not match `schema`, the first such place; every keyword the document
    /// uses is checked, and one this check does not know fails it.
    #[allow(
        clippy::too_many_lines,
        reason = "one arm per JSON Schema keyword the checker knows"
    )]
    fn mismatch(&self, value: &Value, schema: &Value, at: &str) -> Option<String> {
        let schema = self.resolve(schema);
        let Some(s) = schema.as_object() else {
            return Some(format!("{at}: the schema is not an object"));
        };
        for key in s.keys() {
            let known = [
                "type",
                "required",
                "properties",
                "additionalProperties",
                "items",
                "enum",
                "const",
                "oneOf",
                "format",
                "pattern",
                "minLength",
                "maxLength",
                "minimum",
                "maximum",
                "minItems",
                "maxItems",
                "minProperties",
                "description",
            ];
            if !known.contains(&key.as_str()) {
                return Some(format!("{at}: the check does not know the keyword {key}"));
            }
        }
        if let Some(types) = s.get("type") {
            let types: Vec<&str> = match types {
                Value::Array(t) => t.iter().filter_map(Value::as_str).collect(),
                t => vec![t.as_str().unwrap_or("")],
            };
            let kind = match value {
                Value::Null => "null",
                Value::Bool(_) => "boolean",
                Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
                Value::Number(_) => "number",
                Value::String(_) => "string",
                Value::Array(_) => "array",
                Value::Object(_) => "object",
            };
            let fits = types.contains(&kind) || (kind == "integer" && types.contains(&"number"));
            if !fits {
                return Some(format!("{at}: {kind}, where the document says {types:?}"));
            }
        }
        if let Some(options) = s.get("enum").and_then(Value::as_array) {
            if !options.contains(value) {
                return Some(format!("{at}: {value} is not one of {options:?}"));
            }
        }
        if let Some(c) = s.get("const") {
            if c != value {
                return Some(format!("{at}: {value}, where the document says {c}"));
            }
        }
        if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
            let fitting = branches
                .iter()
                .filter(|b| self.mismatch(value, b, at).is_none())
                .count();
            if fitting != 1 {
                return Some(format!("{at}: {value} fits {fitting} branches of a oneOf"));
            }
        }
        match value {
            Value::Object(o) => {
                for r in s
                    .get("required")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let r = r.as_str().unwrap_or("");
                    if !o.contains_key(r) {
                        return Some(format!("{at}: required `{r}` is missing"));
                    }
                }
                let props = s.get("properties").and_then(Value::as_object);
                for (k, v) in o {
                    let inner = format!("{at}.{k}");
                    let found = match (props.and_then(|p| p.get(k)), s.get("additionalProperties"))
                    {
                        (Some(p), _) => self.mismatch(v, p, &inner),
                        (None, Some(Value::Bool(false))) => {
                            Some(format!("{inner}: not in the document"))
                        }
                        (None, Some(extra @ Value::Object(_))) => self.mismatch(v, extra, &inner),
                        (None, _) => None,
                    };
                    if found.is_some() {
                        return found;
                    }
                }
                let n = o.len() as u64;
                if s.get("minProperties")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                {
                    return Some(format!(
                        "{at}: {n} properties, fewer than the document's minimum"
                    ));
                }
                None
            }
            Value::Array(items) => {
                let n = items.len() as u64;
                if s.get("minItems")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                    || s.get("maxItems")
                        .and_then(Value::as_u64)
                        .is_some_and(|m| n > m)
                {
                    return Some(format!("{at}: {n} items, out of the document's bounds"));
                }
                let schema = s.get("items")?;
                items
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| self.mismatch(v, schema, &format!("{at}[{i}]")))
            }
            Value::String(text) => {
                let format = s.get("format").and_then(Value::as_str);
                let ok = match format {
                    Some("uuid") => uuid::Uuid::parse_str(text).is_ok(),
                    Some("date") => time::Date::parse(
                        text,
                        &time::format_description::well_known::Iso8601::DATE,
                    )
                    .is_ok(),
                    Some("date-time") => time::OffsetDateTime::parse(
                        text,
                        &time::format_description::well_known::Rfc3339,
                    )
                    .is_ok(),
                    _ => true,
                };
                let n = text.chars().count() as u64;
                if !ok {
                    Some(format!("{at}: {text:?} is not a {}", format.unwrap_or("")))
                } else if s
                    .get("minLength")
                    .and_then(Value::as_u64)
                    .is_some_and(|m| n < m)
                    || s.get("maxLength")
                        .and_then(Value::as_u64)
                        .is_some_and(|m| n > m)
                {
                    Some(format!(
                        "{at}: {n} characters, out of the document's bounds"
                    ))
                } else {
                    None
                }
            }
            Value::Number(x) => {
                let x = x.as_f64().unwrap_or(0.0);
                let below = s
                    .get("minimum")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| x < m);
                let above = s
                    .get("maximum")
                    .and_then(Value::as_f64)
                    .is_some_and(|m| x > m);
                (below || above).then(|| format!("{at}: {x} out of the document's bounds"))
            }
            _ => None,
        }
    }
}

/// A subject the sequence made.
struct Subject {
    id: String,
    category: String,
    destroyed: bool,
}

/// A token the sequence may call with.
struct Actor {
    secret: String,
    id: String,
    role: String,
    revoked: bool,
}

/// What a sequence has made and learnt so far, and the calls it made.
struct World<'a> {
    declaration: &'a derbes_core::Declaration,
    subjects: Vec<Subject>,
    requests: Vec<String>,
    /// (subject, consent event).
    consents: Vec<(String, String)>,
    /// (subject, its representative).
    links: Vec<(String, String)>,
    tokens: Vec<Actor>,
    /// Every personal value sent, that no refusal may repeat.
    personal: Vec<String>,
    /// The newest one-time code delivered.
    code: Option<String>,
    transcript: String,
    /// (operation, status) of every call.
    answered: Vec<(String, u16)>,
}

/// IINs are unique across the sequences of a run.
static SERIAL: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);

/// What a call was, for the checks.
struct Call {
    actor: Option<usize>,
    path: String,
    /// The path's ids and the body are all well-formed.
    well_formed: bool,
    invalid: bool,
}

impl<'a> World<'a> {
    /// Tokens of every role, and a student with a linked parent, an employee and a candidate.
    fn start(server: &'a Server, runtime: &tokio::runtime::Handle) -> Self {
        let vault = &server.state.app.vault;
        let mut tokens = Vec::new();
        for (role, purposes) in [
            (Role::Admin, vec![]),
            (Role::Dpo, vec![]),
            (Role::Staff, vec!["education", "extracurricular"]),
            (Role::Staff, vec!["recruitment"]),
            (Role::Auditor, vec![]),
            (Role::Integration, vec!["education"]),
        ] {
            let purposes = purposes.into_iter().map(str::to_owned).collect();
            let t = runtime
                .block_on(
                    server
                        .state
                        .app
                        .tokens
                        .create_token("fuzz", "fuzz", role, purposes, None),
                )
                .unwrap();
            tokens.push(Actor {
                secret: t.token,
                id: t.view.id.to_string(),
                role: role.to_string(),
                revoked: false,
            });
        }
        let mut world = World {
            declaration: vault.declaration(),
            subjects: Vec::new(),
            requests: Vec::new(),
            consents: Vec::new(),
            links: Vec::new(),
            tokens,
            personal: Vec::new(),
            code: None,
            transcript: String::new(),
            answered: Vec::new(),
        };
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(1));
        for category in ["student", "legal_representative", "employee", "candidate"] {
            let fields = world.field_values(category, true, &mut rng);
            let r = server.call_blocking(
                "POST",
                "/api/v1/subjects",
                Some(&world.tokens[0].secret),
                Some(Body::Json(
                    json!({ "category": category, "fields": fields }),
                )),
            );
            assert_eq!(r.status, 201, "{}", r.body);
            world.learn("POST", "/api/v1/subjects", &r, server);
        }
        let (child, parent) = (world.subjects[0].id.clone(), world.subjects[1].id.clone());
        let r = server.call_blocking(
            "POST",
            &format!("/api/v1/subjects/{child}/representatives"),
            Some(&world.tokens[0].secret),
            Some(Body::Json(
                json!({ "representative_id": parent, "relation": "parent",
                "documents": [{ "kind": "birth_certificate", "sha256": "ab".repeat(32) }] }),
            )),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        world.links.push((child, parent));
        world
    }

    /// One step: a call drawn from the document, or a move that takes a request or a consent
    /// further the way its holder would; its checks, and what it teaches.
    fn take(&mut self, server: &Server, api: &Api, step: &Step) -> Result<(), TestCaseError> {
        let mut rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(step.seed));
        let actor = Some(usize::from(step.actor) % (self.tokens.len() + 1))
            .filter(|&i| i < self.tokens.len());
        let Some(op) = api.ops.get(step.op) else {
            return match (step.op - api.ops.len()) % 3 {
                0 => self.advance_a_request(server, api, &mut rng),
                1 => self.file_a_request(server, api, &mut rng),
                _ => self.give_or_withdraw_a_consent(server, api, &mut rng),
            };
        };
        let mut path = op.path.clone();
        let mut query = Vec::new();
        let mut well_formed = true;
        let mut subject = None;
        for p in &op.params {
            let name = p["name"].as_str().unwrap_or("");
            match p["in"].as_str() {
                Some("path") => {
                    let (value, fine) =
                        self.path_value(&op.path, name, api, p, subject.as_deref(), &mut rng);
                    if op.path.starts_with("/api/v1/subjects/{id}") && name == "id" {
                        subject = Some(value.clone());
                    }
                    well_formed &= fine;
                    path = path.replace(&format!("{{{name}}}"), &value);
                }
                _ if p["required"] == true || rng.random_bool(0.4) => {
                    let v = self.generate(api, &p["schema"], name, subject.as_deref(), &mut rng);
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    query.push(format!("{name}={}", encode(&v)));
                }
                _ => {}
            }
        }
        if !query.is_empty() {
            path = format!("{path}?{}", query.join("&"));
        }
        let mut invalid = false;
        let body = op.body.as_ref().map(|schema| {
            let value = self.generate(api, schema, "", subject.as_deref(), &mut rng);
            match step
                .invalid
                .and_then(|how| make_invalid(api, schema, value.clone(), how))
            {
                Some(bad) => {
                    invalid = true;
                    bad
                }
                None => Body::Json(value),
            }
        });
        let call = Call {
            actor,
            path,
            well_formed,
            invalid,
        };
        self.send(server, api, op, call, body).map(|_| ())
    }

    /// Sends `call` of `op`, checks the answer and learns from it.
    fn send(
        &mut self,
        server: &Server,
        api: &Api,
        op: &Op,
        call: Call,
        body: Option<Body>,
    ) -> Result<Reply, TestCaseError> {
        let shown = match &body {
            Some(Body::Json(v)) => v.to_string(),
            Some(Body::Raw(ct, bytes)) => format!("({ct}) {}", String::from_utf8_lossy(bytes)),
            None => String::new(),
        };
        let token = call.actor.map(|i| self.tokens[i].secret.clone());
        let r = server.call_blocking(&op.method, &call.path, token.as_deref(), body);
        let _ = writeln!(
            self.transcript,
            "{} {} {} {} -> {} {}",
            call.actor
                .map_or("(no token)", |i| self.tokens[i].role.as_str()),
            op.method,
            call.path,
            shown.chars().take(400).collect::<String>(),
            r.status,
            r.body["type"].as_str().unwrap_or("")
        );
        self.answered
            .push((format!("{} {}", op.method, op.path), r.status));
        if let Some(broken) = self.broken_promise(api, op, &call, &r) {
            return Err(TestCaseError::fail(format!(
                "{broken}\nanswer: {}\nthe calls:\n{}",
                r.text.chars().take(2000).collect::<String>(),
                self.transcript
            )));
        }
        self.learn(&op.method, &op.path, &r, server);
        Ok(r)
    }

    /// Sends a well-formed call of the operation `method` `template` to `path` by the first
    /// token of `role` still valid.
    fn send_as(
        &mut self,
        server: &Server,
        api: &Api,
        role: &str,
        (method, template, path): (&str, &str, String),
        body: Option<Value>,
    ) -> Result<Reply, TestCaseError> {
        let op = api
            .ops
            .iter()
            .find(|o| o.method == method && o.path == template)
            .unwrap_or_else(|| panic!("the document has no {method} {template}"));
        let actor = self
            .tokens
            .iter()
            .position(|t| t.role == role && !t.revoked);
        let call = Call {
            actor,
            path,
            well_formed: true,
            invalid: false,
        };
        self.send(server, api, op, call, body.map(Body::Json))
    }

    /// The next call a request's handlers would make, for a request the sequence filed: an
    /// identity check (a document, or a one-time code sent and checked), submission, approval
    /// by the DPO, the answer, completion, the package.
    fn advance_a_request(
        &mut self,
        server: &Server,
        api: &Api,
        rng: &mut TestRng,
    ) -> Result<(), TestCaseError> {
        if self.requests.is_empty() {
            return Ok(());
        }
        // Mostly one of the last few: a request is taken through its steps, not just begun.
        let n = self.requests.len();
        let from = if rng.random_bool(0.8) {
            n.saturating_sub(2)
        } else {
            0
        };
        let id = self.requests[rng.random_range(from..n)].clone();
        let r = self.send_as(
            server,
            api,
            "admin",
            (
                "GET",
                "/api/v1/requests/{id}",
                format!("/api/v1/requests/{id}"),
            ),
            None,
        )?;
        let steps = (
            "POST",
            "/api/v1/requests/{id}/steps",
            format!("/api/v1/requests/{id}/steps"),
        );
        let step = |s: &str| Some(json!({ "step": s }));
        match r.body["status"].as_str().unwrap_or("") {
            "received" if rng.random_bool(0.5) => {
                let path = format!("/api/v1/requests/{id}/verification/document");
                let document = if r.body["requester"]["kind"] == "representative" {
                    "birth_certificate"
                } else {
                    "id_card"
                };
                self.send_as(
                    server,
                    api,
                    "admin",
                    ("POST", "/api/v1/requests/{id}/verification/document", path),
                    Some(json!({ "document": document })),
                )?;
            }
            "received" => {
                let path = format!("/api/v1/requests/{id}/verification/code");
                let sent = self.send_as(
                    server,
                    api,
                    "admin",
                    (
                        "POST",
                        "/api/v1/requests/{id}/verification/code",
                        path.clone(),
                    ),
                    None,
                )?;
                if sent.status == 200 {
                    let code = self.code.clone().unwrap_or_default();
                    self.send_as(
                        server,
                        api,
                        "admin",
                        (
                            "POST",
                            "/api/v1/requests/{id}/verification/code/check",
                            format!("{path}/check"),
                        ),
                        Some(json!({ "code": code })),
                    )?;
                }
            }
            "identity_verified" => {
                self.send_as(server, api, "admin", steps, step("submit"))?;
            }
            "awaiting_approval" => {
                let body = match r.body["kind"].as_str() {
                    Some("blocking") => json!({ "step": "approve", "until": day(30) }),
                    _ if rng.random_bool(0.15) => {
                        json!({ "step": "reject", "reason": "not_justified" })
                    }
                    _ => json!({ "step": "approve" }),
                };
                self.send_as(server, api, "dpo", steps, Some(body))?;
            }
            "in_progress" | "rejected" => {
                let kind = r.body["kind"].as_str().unwrap_or("");
                let body = if kind == "rectification" && rng.random_bool(0.5) {
                    let fields = self.field_values("student", false, rng);
                    json!({ "step": "rectify", "fields": fields, "evidence": "Туу туралы куәлік" })
                } else if rng.random_bool(0.5) {
                    json!({ "step": "send_answer" })
                } else if rng.random_bool(0.5) {
                    json!({ "step": "complete" })
                } else {
                    json!({ "step": "record_answer", "reference": "№ 15-03/118" })
                };
                self.send_as(server, api, "dpo", steps, Some(body))?;
            }
            "completed" => {
                let (template, role) = if r.body["kind"] == "access_export" {
                    ("/api/v1/requests/{id}/package", "dpo")
                } else {
                    ("/api/v1/requests/{id}/answer", "admin")
                };
                let path = template.replace("{id}", &id);
                self.send_as(server, api, role, ("GET", template, path), None)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// A request filed the way staff file one: for a subject (by its representative, when it has
    /// one, now and then), of any kind, with a purpose where the kind needs one.
    fn file_a_request(
        &mut self,
        server: &Server,
        api: &Api,
        rng: &mut TestRng,
    ) -> Result<(), TestCaseError> {
        let live: Vec<String> = self
            .subjects
            .iter()
            .filter(|s| !s.destroyed)
            .map(|s| s.id.clone())
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        let id = live[rng.random_range(0..live.len())].clone();
        let kinds = api.resolve(&json!({ "$ref": "#/components/schemas/RequestKind" }))["enum"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let kind = kinds[rng.random_range(0..kinds.len())].clone();
        let channel = ["online", "email", "paper"][rng.random_range(0..3)];
        let language = ["kk", "ru", "en"][rng.random_range(0..3)];
        let mut body = json!({ "kind": kind, "subject_id": id, "channel": channel, "language": language,
            "details": "Өтінішті қарауыңызды сұраймын", "allow_duplicate": true });
        if matches!(
            kind.as_str(),
            Some("restriction" | "consent_withdrawal" | "objection")
        ) {
            let purposes: Vec<&String> = self.declaration.purposes.keys().collect();
            body["purpose"] = json!(purposes[rng.random_range(0..purposes.len())]);
        }
        if let Some((_, rep)) = self.links.iter().find(|(child, _)| *child == id) {
            if rng.random_bool(0.5) {
                body["representative_id"] = json!(rep);
            }
        }
        let role = ["admin", "dpo", "staff", "integration"][rng.random_range(0..4)];
        self.send_as(
            server,
            api,
            role,
            ("POST", "/api/v1/requests", "/api/v1/requests".into()),
            Some(body),
        )?;
        Ok(())
    }

    /// A consent given (by the representative, for a minor) or withdrawn, to a purpose based on
    /// consent that covers the subject's category; and its receipt.
    fn give_or_withdraw_a_consent(
        &mut self,
        server: &Server,
        api: &Api,
        rng: &mut TestRng,
    ) -> Result<(), TestCaseError> {
        let live: Vec<(String, String)> = self
            .subjects
            .iter()
            .filter(|s| !s.destroyed)
            .map(|s| (s.id.clone(), s.category.clone()))
            .collect();
        if live.is_empty() {
            return Ok(());
        }
        let (id, category) = live[rng.random_range(0..live.len())].clone();
        let purposes: Vec<String> = self
            .declaration
            .purposes
            .iter()
            .filter(|(_, p)| {
                p.legal_basis == derbes_core::declaration::LegalBasis::Consent
                    && p.covers_category(&category)
            })
            .map(|(k, _)| k.clone())
            .collect();
        if purposes.is_empty() {
            return Ok(());
        }
        let purpose = &purposes[rng.random_range(0..purposes.len())];
        let action = if rng.random_bool(0.75) {
            "give"
        } else {
            "withdraw"
        };
        let mut body = json!({ "purpose": purpose, "action": action, "method": { "kind": "paper", "evidence_sha256": hex(rng) } });
        if let Some((_, rep)) = self.links.iter().find(|(child, _)| *child == id) {
            body["representative_id"] = json!(rep);
        }
        let path = format!("/api/v1/subjects/{id}/consents");
        let r = self.send_as(
            server,
            api,
            "admin",
            ("POST", "/api/v1/subjects/{id}/consents", path),
            Some(body),
        )?;
        if r.status == 201 {
            let consent = r.body["id"].as_str().unwrap_or("").to_owned();
            let lang = ["kk", "ru", "en"][rng.random_range(0..3)];
            let template = "/api/v1/subjects/{id}/consents/{consent_id}/receipt";
            let path =
                format!("/api/v1/subjects/{id}/consents/{consent}/receipt?format=html&lang={lang}");
            self.send_as(server, api, "dpo", ("GET", template, path), None)?;
        }
        Ok(())
    }

    /// The first promise the answer `r` to `call` breaks.
    fn broken_promise(&self, api: &Api, op: &Op, call: &Call, r: &Reply) -> Option<String> {
        let s = r.status;
        if s >= 500 {
            return Some(format!("a server error ({s})"));
        }
        let Some(documented) = op.responses.get(&s.to_string()) else {
            return Some(format!(
                "{s} is not among the answers the document lists for it"
            ));
        };
        let success = (200..300).contains(&s);
        if !success {
            if r.content_type != "application/problem+json"
                || r.body["status"] != s
                || !r.body["type"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("urn:derbes:problem:")
                || r.body["detail"].as_str().unwrap_or("").is_empty()
            {
                return Some(format!(
                    "a refusal ({s}) that is not a problem naming its status"
                ));
            }
            if let Some(v) = self
                .personal
                .iter()
                .find(|v| v.chars().count() >= 6 && r.text.contains(v.as_str()))
            {
                return Some(format!("a refusal repeats the personal value {v:?}"));
            }
        }
        if op.authed && call.well_formed && !call.invalid {
            let refused_token = match call.actor {
                None => true,
                Some(i) => self.tokens[i].revoked,
            };
            if refused_token && s != 401 {
                return Some(format!("a missing or revoked token got {s}, not 401"));
            }
        }
        if call.invalid && success {
            return Some(format!(
                "a body the document does not allow was accepted ({s})"
            ));
        }
        if success && op.method == "GET" && op.path == "/api/v1/subjects/{id}" {
            let id = call.path.trim_start_matches("/api/v1/subjects/");
            let id = id.split('?').next().unwrap_or("");
            if self.subjects.iter().any(|x| x.destroyed && x.id == id) {
                return Some("a destroyed subject was read".into());
            }
        }
        if success && r.content_type.starts_with("application/json") {
            if let Some(schema) = documented.pointer("/content/application~1json/schema") {
                if let Some(m) = api.mismatch(&r.body, schema, "answer") {
                    return Some(format!("the answer does not match the document: {m}"));
                }
            }
        }
        None
    }
}

impl World<'_> {
    /// A value for the path parameter `name` of `path`: mostly a real id of the kind the path
    /// names, now and then one of another kind, an unknown one or no id at all. The flag says
    /// whether it is well-formed.
    fn path_value(
        &mut self,
        path: &str,
        name: &str,
        api: &Api,
        param: &Value,
        subject: Option<&str>,
        rng: &mut TestRng,
    ) -> (String, bool) {
        let roll = rng.random_range(0..100);
        if roll < 3 {
            return ("not-an-id".into(), false);
        }
        if roll < 8 {
            return (uuid::Uuid::now_v7().to_string(), true);
        }
        let pick = |ids: Vec<&str>, rng: &mut TestRng| -> Option<String> {
            (!ids.is_empty()).then(|| ids[rng.random_range(0..ids.len())].to_owned())
        };
        let real = match (name, path) {
            ("id", p) if p.starts_with("/api/v1/subjects/") => {
                pick(self.subjects.iter().map(|s| s.id.as_str()).collect(), rng)
            }
            ("representative_id", _) => pick(
                self.subjects
                    .iter()
                    .filter(|s| s.category == "legal_representative")
                    .map(|s| s.id.as_str())
                    .collect(),
                rng,
            ),
            ("id", p)
                if p.starts_with("/api/v1/requests/") || p.starts_with("/api/v1/webhooks/") =>
            {
                pick(self.requests.iter().map(String::as_str).collect(), rng)
            }
            ("id", "/api/v1/tokens/{id}") => {
                pick(self.tokens.iter().map(|t| t.id.as_str()).collect(), rng)
            }
            ("consent_id", _) => pick(self.consents.iter().map(|c| c.1.as_str()).collect(), rng),
            _ => None,
        };
        match real {
            Some(id) => (id, true),
            None => {
                let v = self.generate(api, &param["schema"], name, subject, rng);
                (encode(v.as_str().unwrap_or("")), true)
            }
        }
    }

    /// A value the schema allows, with what the sequence knows for the names it knows.
    fn generate(
        &mut self,
        api: &Api,
        schema: &Value,
        name: &str,
        subject: Option<&str>,
        rng: &mut TestRng,
    ) -> Value {
        let schema = api.resolve(schema);
        if let Some(v) = self.known_value(schema, name, subject, rng) {
            return v;
        }
        if let Some(branches) = schema["oneOf"].as_array() {
            let branch = &branches[rng.random_range(0..branches.len())];
            return self.generate(api, branch, name, subject, rng);
        }
        if let Some(c) = schema.get("const") {
            return c.clone();
        }
        if let Some(options) = schema["enum"].as_array() {
            return options[rng.random_range(0..options.len())].clone();
        }
        let kind = match &schema["type"] {
            Value::Array(kinds) => {
                let kinds: Vec<&str> = kinds.iter().filter_map(Value::as_str).collect();
                let non_null: Vec<&str> = kinds.iter().copied().filter(|k| *k != "null").collect();
                if non_null.is_empty() || rng.random_bool(0.15) {
                    kinds[0]
                } else {
                    non_null[rng.random_range(0..non_null.len())]
                }
            }
            Value::String(k) => k.as_str(),
            _ => "object",
        };
        match kind {
            "object" => {
                let required: Vec<&str> = schema["required"]
                    .as_array()
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let mut out = Map::new();
                // Properties in the order of their names: `category` is chosen before `fields`.
                let mut category: Option<String> = None;
                if let Some(props) = schema["properties"].as_object() {
                    for (key, inner) in props {
                        if !required.contains(&key.as_str()) && !rng.random_bool(0.5) {
                            continue;
                        }
                        let v = match (key.as_str(), category.as_deref()) {
                            ("fields", Some(c)) if api.resolve(inner)["type"] == "object" => {
                                self.field_values(c, false, rng)
                            }
                            _ => self.generate(api, inner, key, subject, rng),
                        };
                        if key == "category" {
                            category = v.as_str().map(str::to_owned);
                        }
                        out.insert(key.clone(), v);
                    }
                }
                if out.is_empty() && schema["additionalProperties"].is_object() {
                    // A map of field values: of the subject in the path, or of any category.
                    let category = subject
                        .and_then(|id| self.subjects.iter().find(|s| s.id == id))
                        .map_or("student".to_owned(), |s| s.category.clone());
                    return self.field_values(&category, false, rng);
                }
                Value::Object(out)
            }
            "array" => {
                let min = schema["minItems"].as_u64().unwrap_or(0);
                let max = schema["maxItems"].as_u64().unwrap_or(3).min(3).max(min);
                let n = rng.random_range(min..=max);
                let item = name.strip_suffix('s').unwrap_or(name);
                Value::Array(
                    (0..n)
                        .map(|_| self.generate(api, &schema["items"], item, subject, rng))
                        .collect(),
                )
            }
            "string" => match schema["format"].as_str() {
                Some("uuid") => json!(uuid::Uuid::now_v7().to_string()),
                Some("date") => json!(day(rng.random_range(-30..400))),
                Some("date-time") => json!(now()),
                _ if schema["pattern"] == "^[0-9a-f]{64}$" => json!(hex(rng)),
                _ => json!(text(rng)),
            },
            "integer" => {
                let min = schema["minimum"].as_i64().unwrap_or(0);
                let max = schema["maximum"]
                    .as_i64()
                    .unwrap_or(min + 100)
                    .min(min + 100);
                json!(rng.random_range(min..=max))
            }
            "boolean" => json!(rng.random_bool(0.5)),
            _ => Value::Null,
        }
    }

    /// What the sequence knows for a value called `name`: the ids it has, the purposes,
    /// categories and fields the declaration has, the one-time code sent last.
    fn known_value(
        &mut self,
        schema: &Value,
        name: &str,
        subject: Option<&str>,
        rng: &mut TestRng,
    ) -> Option<Value> {
        let d = self.declaration;
        let one_of = |list: Vec<String>, rng: &mut TestRng| -> Option<Value> {
            (!list.is_empty()).then(|| json!(list[rng.random_range(0..list.len())]))
        };
        let strings = schema["type"] == "string" || schema.get("type").is_none();
        match name {
            "subject_id" if rng.random_bool(0.9) => {
                one_of(self.subjects.iter().map(|s| s.id.clone()).collect(), rng)
            }
            "representative_id" if rng.random_bool(0.9) => one_of(
                self.subjects
                    .iter()
                    .filter(|s| s.category == "legal_representative")
                    .map(|s| s.id.clone())
                    .collect(),
                rng,
            ),
            "purpose" if rng.random_bool(0.95) => {
                // For a subject in the path, mostly a purpose that covers its category.
                let category = subject
                    .and_then(|id| self.subjects.iter().find(|s| s.id == id))
                    .map(|s| s.category.as_str())
                    .filter(|_| rng.random_bool(0.7));
                one_of(
                    d.purposes
                        .iter()
                        .filter(|(_, p)| category.is_none_or(|c| p.covers_category(c)))
                        .map(|(k, _)| k.clone())
                        .collect(),
                    rng,
                )
            }
            "category" if rng.random_bool(0.95) => {
                one_of(d.subject_categories.keys().cloned().collect(), rng)
            }
            "field" if strings => one_of(
                d.fields
                    .iter()
                    .filter(|(_, f)| f.lookup || rng.random_bool(0.1))
                    .map(|(k, _)| k.clone())
                    .collect(),
                rng,
            ),
            "fields" if schema["type"] == "string" => {
                // A read's comma-separated field keys.
                let keys: Vec<&String> = d.fields.keys().collect();
                let n = rng.random_range(1..4);
                let picked: Vec<&str> = (0..n)
                    .map(|_| keys[rng.random_range(0..keys.len())].as_str())
                    .collect();
                Some(json!(picked.join(",")))
            }
            "value" if strings => one_of(self.personal.clone(), rng),
            "code" if strings => Some(json!(match (&self.code, rng.random_bool(0.8)) {
                (Some(code), true) => code.clone(),
                _ => format!("{:06}", rng.random_range(0..1_000_000)),
            })),
            "version" if strings && rng.random_bool(0.8) => Some(json!(d.version)),
            "name" if strings => Some(json!(format!("fuzz {}", rng.random_range(0..100)))),
            "connector" if strings => Some(json!("platform")),
            "received_at" if strings => Some(json!(now())),
            _ => None,
        }
    }

    /// Values for some of the fields `category` declares (`surname` and the identifiers always
    /// when `full`), each valid for its validator, and remembered as personal values.
    fn field_values(&mut self, category: &str, full: bool, rng: &mut TestRng) -> Value {
        let d = self.declaration;
        let mut out = Map::new();
        for (key, field) in &d.fields {
            if !field.categories.iter().any(|c| c == category) {
                continue;
            }
            let wanted = if full {
                matches!(
                    key.as_str(),
                    "surname" | "given_name" | "iin" | "email" | "birth_date"
                )
            } else {
                rng.random_bool(0.25)
            };
            if !wanted {
                continue;
            }
            let minor = category == "student";
            let birth = time::Date::from_calendar_date(
                if minor { 2013 } else { 1984 },
                time::Month::May,
                17,
            )
            .unwrap();
            use derbes_core::declaration::Validator as V;
            let value = match field.validator {
                V::Iin => loop {
                    let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if let Some(iin) = Iin::compose(birth, Sex::Female, serial) {
                        break iin.as_str().to_owned();
                    }
                },
                V::Bin => "940140000385".into(),
                V::PhoneKz => format!("+7701{:07}", rng.random_range(0..10_000_000)),
                V::Email => format!(
                    "fuzz{}@mail.kz",
                    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ),
                V::IbanKz => "KZ86125KZT5004100100".into(),
                V::Date => birth.to_string(),
                V::Enum => field.values[rng.random_range(0..field.values.len())].clone(),
                // Made unique, so that a refusal that repeats it can only have taken it from
                // the value sent.
                V::Text => format!(
                    "{} {:05}",
                    text(rng),
                    SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                ),
            };
            if !matches!(field.validator, V::Enum | V::Date | V::Bin) {
                self.personal.push(value.clone());
            }
            out.insert(key.clone(), json!(value));
        }
        Value::Object(out)
    }

    /// What an answer teaches: the ids it made, the tokens revoked, the subjects destroyed, the
    /// one-time code delivered.
    fn learn(&mut self, method: &str, path: &str, r: &Reply, server: &Server) {
        if !(200..300).contains(&r.status) {
            return;
        }
        let id = r.body["id"].as_str().unwrap_or("").to_owned();
        match (method, path) {
            ("POST", "/api/v1/subjects") => self.subjects.push(Subject {
                id,
                category: r.body["category"].as_str().unwrap_or("").to_owned(),
                destroyed: false,
            }),
            ("POST", "/api/v1/requests") => self.requests.push(id),
            ("POST", "/api/v1/subjects/{id}/representatives") => {
                let subject = r.body["subject_id"].as_str().unwrap_or("").to_owned();
                let rep = r.body["representative_id"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned();
                self.links.push((subject, rep));
            }
            ("DELETE", "/api/v1/subjects/{id}/representatives/{representative_id}") => {
                // The answer lists the representatives the subject still has.
                let subject = r.body["subject_id"].as_str().unwrap_or("").to_owned();
                self.links.retain(|(s, _)| *s != subject);
                for link in r.body["representatives"].as_array().into_iter().flatten() {
                    let rep = link["representative_id"].as_str().unwrap_or("").to_owned();
                    self.links.push((subject.clone(), rep));
                }
            }
            ("POST", "/api/v1/subjects/{id}/consents") => {
                let subject = r.body["subject_id"].as_str().unwrap_or("").to_owned();
                self.consents.push((subject, id));
            }
            ("POST", "/api/v1/tokens") => self.tokens.push(Actor {
                secret: r.body["token"].as_str().unwrap_or("").to_owned(),
                id,
                role: r.body["role"].as_str().unwrap_or("").to_owned(),
                revoked: false,
            }),
            ("DELETE", "/api/v1/tokens/{id}") => {
                for t in self.tokens.iter_mut().filter(|t| t.id == id) {
                    t.revoked = true;
                }
            }
            ("POST", "/api/v1/requests/{id}/steps") => {
                let destroyed = r.body["kind"] == "destruction"
                    && r.body["actions"].as_array().is_some_and(|a| {
                        a.iter()
                            .any(|x| x["kind"] == "destroy" && x["status"] == "done")
                    });
                if destroyed {
                    let subject = r.body["subject_id"].as_str().unwrap_or("");
                    for s in self.subjects.iter_mut().filter(|s| s.id == subject) {
                        s.destroyed = true;
                    }
                }
            }
            ("POST", "/api/v1/requests/{id}/verification/code") => {
                self.code = newest_code(&server.outbox);
            }
            _ => {}
        }
    }

    /// After the sequence: the audit chain verifies, whole, and the server says it is intact.
    fn finish(
        &self,
        server: &Server,
        runtime: &tokio::runtime::Handle,
    ) -> Result<(), TestCaseError> {
        let verified = runtime
            .block_on(server.state.app.vault.verify_audit_chain())
            .map_err(|e| TestCaseError::fail(format!("the audit chain cannot be read: {e}")))?;
        if let Err(b) = verified {
            return Err(TestCaseError::fail(format!(
                "the audit chain does not verify: {b}\nthe calls:\n{}",
                self.transcript
            )));
        }
        let r = server.call_blocking("GET", "/api/v1/health", None, None);
        if r.status != 200 || r.body["audit_chain"] != "intact" {
            return Err(TestCaseError::fail(format!(
                "health after the sequence: {} {}\nthe calls:\n{}",
                r.status, r.body, self.transcript
            )));
        }
        Ok(())
    }
}

/// `value` (generated from `schema`) made into a body the document does not allow, in the way
/// `how` says, when that way applies to it.
fn make_invalid(api: &Api, schema: &Value, value: Value, how: Invalid) -> Option<Body> {
    let schema = api.resolve(schema);
    let Value::Object(mut object) = value else {
        return None;
    };
    match how {
        Invalid::Missing => {
            // A property every branch of the schema requires.
            let required = |s: &Value| -> Vec<String> {
                let s = api.resolve(s);
                s["required"]
                    .as_array()
                    .map(|r| {
                        r.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let everywhere: Vec<String> = match schema["oneOf"].as_array() {
                Some(branches) => {
                    let sets: Vec<Vec<String>> = branches.iter().map(required).collect();
                    sets[0]
                        .iter()
                        .filter(|k| sets.iter().all(|s| s.contains(k)))
                        .cloned()
                        .collect()
                }
                None => required(schema),
            };
            let key = everywhere.iter().find(|k| object.contains_key(*k))?;
            object.remove(key);
        }
        Invalid::Unknown => {
            // Unknown where the object, or every branch it may be, admits no other property.
            let closed = |s: &Value| api.resolve(s)["additionalProperties"] == false;
            let admits_none = match schema["oneOf"].as_array() {
                Some(branches) => branches.iter().all(closed),
                None => closed(schema),
            };
            if !admits_none {
                return None;
            }
            object.insert("unexpected_property".into(), json!("x"));
        }
        Invalid::WrongType => {
            let props = schema["properties"].as_object()?;
            let key = object
                .keys()
                .find(|k| {
                    props
                        .get(*k)
                        .is_some_and(|p| api.resolve(p)["type"] == "string")
                })?
                .clone();
            object.insert(key, json!(7));
        }
        Invalid::Twice => {
            let (key, first) = object.iter().next()?;
            let text = Value::Object(object.clone()).to_string();
            let twice = format!("{{{}:{first},{}", json!(key), &text[1..]);
            return Some(Body::Raw("application/json", twice.into_bytes()));
        }
        Invalid::NotJson => {
            return Some(Body::Raw("application/json", b"{\"not\": json".to_vec()));
        }
    }
    Some(Body::Json(Value::Object(object)))
}

/// The code of the newest one-time-code message in `outbox`, if any.
fn newest_code(outbox: &std::path::Path) -> Option<String> {
    let mut files: Vec<_> = std::fs::read_dir(outbox)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    let text = std::fs::read_to_string(files.last()?).ok()?;
    let body = text.split_once("\r\n\r\n")?.1;
    body.split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .map(str::to_owned)
}

/// Percent-encodes what is not unreserved in a URL.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b',' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Today plus `days`, as YYYY-MM-DD.
fn day(days: i64) -> String {
    (time::OffsetDateTime::now_utc().date() + time::Duration::days(days)).to_string()
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

fn hex(rng: &mut TestRng) -> String {
    (0..32)
        .map(|_| format!("{:02x}", rng.random_range(0..=255u8)))
        .collect()
}

/// Words in Kazakh, Russian and English, and now and then an odd character.
fn text(rng: &mut TestRng) -> String {
    const WORDS: &[&str] = &[
        "Әйгерім",
        "Нұрлан",
        "оқушы",
        "өтініш",
        "ұстаз",
        "Қазақстан",
        "Серік",
        "Иванова",
        "заявление",
        "parent",
        "note",
        "2026",
        "№ 5",
        "\u{301}",
        "\"quoted\"",
        "=SUM(A1)",
    ];
    let n = rng.random_range(1..4);
    (0..n)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

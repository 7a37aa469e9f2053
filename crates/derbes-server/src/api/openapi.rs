//! The OpenAPI 3.1 document of the API. `api::tests::every_route_is_documented_and_every_documented_path_is_served`
//! fails when a route is missing here; `tests/fuzz.rs` checks answers against it.

use serde_json::{json, Value};

fn problem(description: &str) -> Value {
    json!({ "description": description, "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } } })
}

fn ok(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn body(schema: &str) -> Value {
    json!({ "required": true, "content": { "application/json": { "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
}

fn id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "Subject id (UUIDv7)", "schema": { "type": "string", "format": "uuid" } })
}

fn page_params() -> Value {
    json!([
        { "name": "after", "in": "query", "description": "Return events with a sequence number above this", "schema": { "type": "integer", "minimum": 0, "maximum": 9007199254740991_i64 } },
        { "name": "limit", "in": "query", "description": "At most this many events (1-1000, default 100)", "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } }
    ])
}

fn authed(mut op: Value, errors: &[(&str, &str)]) -> Value {
    let responses = op["responses"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut responses = responses;
    responses.insert("401".into(), problem("Missing, invalid or revoked token"));
    responses.insert(
        "403".into(),
        problem("The token's role or purposes do not allow this"),
    );
    responses.insert(
        "503".into(),
        problem("The storage did not complete the request"),
    );
    for (code, d) in errors {
        responses.insert((*code).into(), problem(d));
    }
    op["responses"] = Value::Object(responses);
    op["security"] = json!([{ "bearer": [] }]);
    op
}

/// Adds the entries of `more` (an object) to `base` (an object).
fn merge(mut base: Value, more: Value) -> Value {
    if let (Some(b), Value::Object(m)) = (base.as_object_mut(), more) {
        b.extend(m);
    }
    base
}

pub fn document() -> Value {
    let mut doc = spine();
    doc["paths"] = merge(doc["paths"].take(), consent_paths());
    doc["components"]["schemas"] = merge(doc["components"]["schemas"].take(), consent_schemas());
    doc["components"]["schemas"] = merge(doc["components"]["schemas"].take(), receipt_schemas());
    doc["paths"] = merge(doc["paths"].take(), request_paths());
    doc["paths"] = merge(doc["paths"].take(), retention_paths());
    doc["components"]["schemas"] = merge(doc["components"]["schemas"].take(), retention_schemas());
    doc["components"]["schemas"] = merge(doc["components"]["schemas"].take(), request_schemas());
    if let Some(paths) = doc["paths"].as_object_mut() {
        for (path, ops) in paths.iter_mut() {
            if let Some(ops) = ops.as_object_mut() {
                for op in ops.values_mut() {
                    answers_every_operation_can_give(path, op);
                }
            }
        }
    }
    doc
}

/// What a code-like name (a purpose, a category, a field) looks like.
const CODE_PATTERN: &str = "^[a-z][a-z0-9_]{0,63}$";

/// Adds the answers any operation of its kind can give, whatever it does: 400 for a malformed
/// path or query (an unknown query parameter among them); for a body, 408 (sent too slowly), 413,
/// 415 and 422; for a token, 422 (a value the declaration does not know) and 429 (over the
/// rate); and the pattern of a purpose in the path or query.
fn answers_every_operation_can_give(path: &str, op: &mut Value) {
    let authed = op.get("security").is_some();
    let with_body = op.get("requestBody").is_some();
    let with_params = op.get("parameters").is_some();
    let mut add = |code: &str, d: &str| {
        if op["responses"].get(code).is_none() {
            op["responses"][code] = problem(d);
        }
    };
    add(
        "400",
        "A malformed path, query or body (an unknown query parameter, too)",
    );
    if with_body {
        add("408", "The body was sent too slowly");
        add("413", "The body is too large");
        add("415", "The body is not JSON");
        add("422", "A value is not valid: the problem names the field");
    }
    if authed || with_params {
        add("422", "A value is not valid: the problem names the field");
    }
    if authed {
        add(
            "429",
            "Too many requests from this token or address; see Retry-After",
        );
    }
    if path.starts_with("/api/v1/") && !authed {
        add("503", "The storage did not complete the request");
    }
    // What acts on a subject, or on a request about one, finds it destroyed: only the audit
    // trail and the destruction record remain.
    let on_a_subject = path.starts_with("/api/v1/subjects/{id}")
        && !path.ends_with("/audit")
        && !path.ends_with("/destruction");
    let on_a_request =
        path.starts_with("/api/v1/requests") && path != "/api/v1/requests/{id}/package";
    let listing = path == "/api/v1/requests" && !with_body;
    if authed && (on_a_subject || on_a_request) && !listing {
        add(
            "410",
            "The subject's data were destroyed (type destroyed, with the date and the request)",
        );
    }
    if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
        for p in params {
            if p["name"] == "purpose"
                && p["schema"]["type"] == "string"
                && p["schema"].get("pattern").is_none()
            {
                p["schema"]["pattern"] = json!(CODE_PATTERN);
            }
        }
    }
}

fn request_id_param() -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": "Request id (UUIDv7)", "schema": { "type": "string", "format": "uuid" } })
}

/// Data-subject requests.
fn request_paths() -> Value {
    let one = |summary: &str, description: &str, input: Option<&str>, errors: &[(&str, &str)]| {
        let mut op = json!({
            "summary": summary, "description": description,
            "parameters": [ request_id_param() ],
            "responses": { "200": ok("The request now", "Request") }
        });
        if let Some(i) = input {
            op["requestBody"] = body(i);
        }
        authed(op, errors)
    };
    let mut send_code = one("Send a one-time code to the requester's e-mail on file", "The code goes to the first e-mail field on file of the requester (the subject, or the representative); only its MAC is kept. Valid 15 minutes, 5 tries, 3 codes per request. Answers with the masked address.", None, &[("400", "Malformed id"), ("404", "No such request"), ("409", "Not in status received, no e-mail on file, or no codes left")]);
    send_code["responses"]["200"] = ok("The code is sent: the masked address, when the code expires, how many more codes may be sent", "CodeSent");
    json!({
            "/api/v1/requests": {
                "post": authed(json!({
                    "summary": "File a data-subject request",
                    "description": "Fixes the due date at intake from the declaration's `deadlines` (or the law's defaults) and the working-day calendar, and explains it in kk/ru/en. A representative files only for a subject they are linked to. A second open request of the same kind for the subject is refused (409, `existing_request_id`) unless `allow_duplicate` is set; then it is filed with `duplicate_of`. Roles: admin, dpo, staff, integration.",
                    "requestBody": body("RequestInput"),
                    "responses": { "201": ok("The request as filed", "Request") }
                }), &[("400", "Malformed JSON"), ("404", "No such subject, or the representative is not linked"), ("409", "An open request of the same kind exists"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Missing or extra purpose, undeclared purpose, details too long, received_at in the future or over a year ago")]),
                "get": authed(json!({
                    "summary": "List requests by due time",
                    "description": "Open requests by default; `due_within_days` lists open requests due by the end of that local day, `overdue` those past due. Requester's words are not listed; GET one request for them. Roles: admin, dpo, staff, auditor.",
                    "parameters": [
                        { "name": "status", "in": "query", "schema": { "$ref": "#/components/schemas/RequestStatus" } },
                        { "name": "kind", "in": "query", "schema": { "$ref": "#/components/schemas/RequestKind" } },
                        { "name": "subject_id", "in": "query", "schema": { "$ref": "#/components/schemas/Uuid" } },
                        { "name": "due_within_days", "in": "query", "schema": { "type": "integer", "minimum": 0, "maximum": 3660 } },
                        { "name": "overdue", "in": "query", "schema": { "type": "boolean" } },
                        { "name": "open", "in": "query", "schema": { "type": "boolean" } },
                        { "name": "after", "in": "query", "description": "Continue after this request id", "schema": { "$ref": "#/components/schemas/Uuid" } },
                        { "name": "limit", "in": "query", "schema": { "type": "integer", "minimum": 1, "maximum": 1000 } }
                    ],
                    "responses": { "200": { "description": "Requests", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/Request" } } } } } }
                }), &[("400", "Malformed query"), ("404", "`after` names no request"), ("422", "limit out of range")])
            },
            "/api/v1/requests/{id}": {
                "get": one("One request, with the requester's words", "Auditors see it without the sealed texts.", None, &[("400", "Malformed id"), ("404", "No such request")])
            },
            "/api/v1/requests/{id}/steps": {
                "post": one("Take a workflow step", "received → identity_verified → awaiting_approval → in_progress → completed; reject (with a reason) or withdraw before approval. `approve` carries out what derbes does itself (block, unblock, restrict, withdraw consent, build the access package, destroy the data by crypto-shredding) and records each action; a failed action leaves the request in progress with the error, and `run_actions` tries again. `complete` needs every action done. `record_answer` records an answer delivered outside derbes. `rectify` applies a rectification request's corrected values with the evidence checked (sealed). `send_answer` (once every other action is done, or after a rejection) renders the letter in the request's language from the operator's template and e-mails it to the requester's address on file, kept sealed from the decision on; `text` adds the DPO's own words. `settle_connector` settles a webhook action by hand, with a note. submit and withdraw: admin, dpo, staff, integration; the others: admin, dpo.", Some("StepInput"), &[("400", "Malformed JSON or id"), ("404", "No such request"), ("409", "The step is not possible in this status, or actions are pending"), ("422", "Invalid until, reference, evidence or corrected value")])
            },
            "/api/v1/requests/{id}/package": {
                "get": authed(json!({
                    "summary": "Download the access package",
                    "description": "A zip built when an access request is approved: data.json, fields.csv, purposes.csv, consents.csv, access-history.csv, receipts/<consent id>.json (signed) and report.html in the request's language. Sealed at rest under the request's key; deleted when it expires (configurable, 30 days by default) or when the subject's data are destroyed. Each download is audited. Roles: admin, dpo, integration.",
                    "parameters": [ request_id_param() ],
                    "responses": { "200": { "description": "The package", "content": { "application/zip": { "schema": { "type": "string", "format": "binary" } } } } }
                }), &[("400", "Malformed id"), ("404", "No such request"), ("410", "No package: never built, expired or destroyed (type package-gone)")])
            },
            "/api/v1/requests/{id}/answer": {
                "get": authed(json!({
                    "summary": "The written answer",
                    "description": "The letter as sent (`sent: true`), or as `send_answer` would send it now, with the masked address it goes to (none: no e-mail on file, print it and use record_answer). Roles: admin, dpo, staff.",
                    "parameters": [ request_id_param() ],
                    "responses": { "200": ok("The letter", "AnswerLetter") }
                }), &[("400", "Malformed id"), ("404", "No such request")])
            },
            "/api/v1/webhooks/jobs/{id}": {
                "post": {
                    "summary": "A webhook connector confirms its job",
                    "description": "No token: the body is signed with the webhook's shared secret in `X-Derbes-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`, within 5 minutes. `done` settles the request's webhook action (and deletes the identifiers derbes kept for the job); `failed` fails it with the detail, and `run_actions` sends the job again. A repeated `done` answers the job as it is.",
                    "parameters": [ { "name": "id", "in": "path", "required": true, "description": "The job's id (the messages' Idempotency-Key)", "schema": { "type": "string", "format": "uuid" } } ],
                    "requestBody": body("WebhookConfirmation"),
                    "responses": {
                        "200": ok("The job", "WebhookJob"),
                        "400": problem("Malformed id"),
                        "401": problem("Missing, stale or wrong signature (type webhook-signature)"),
                        "404": problem("No such job"),
                        "409": problem("The job failed or its webhook is no longer configured"),
                        "422": problem("Not a confirmation")
                    }
                }
            },
            "/api/v1/subjects/{id}/destruction": {
                "get": authed(json!({
                    "summary": "The record of a destroyed subject",
                    "description": "Non-personal facts only: category, when, by whom, for which request, the names of the fields held and how many index entries, consent events, links, flags and packages were removed. Reads of a destroyed subject answer 410 (type destroyed). Roles: admin, dpo, auditor.",
                    "parameters": [ id_param() ],
                    "responses": { "200": ok("The destruction record", "Destruction") }
                }), &[("400", "Malformed id"), ("404", "No subject with this id was destroyed")])
            },
            "/api/v1/requests/{id}/verification/code": {
                "post": send_code
            },
            "/api/v1/requests/{id}/verification/code/check": {
                "post": one("Check the one-time code", "A match verifies the requester's identity.", Some("CodeInput"), &[("400", "Malformed JSON or id"), ("404", "No such request"), ("409", "No code sent, or the request is past verification"), ("422", "Wrong or expired code (attempts_left)")])
            },
            "/api/v1/requests/{id}/verification/document": {
                "post": one("Record a document check by staff", "For a representative, the document must be the one that gives the authority (birth certificate, power of attorney, court decision). The note is sealed under the request's key.", Some("DocumentInput"), &[("400", "Malformed JSON or id"), ("404", "No such request"), ("409", "Not in status received"), ("422", "Wrong document for a representative, note too long")])
            }
    })
}

fn request_schemas() -> Value {
    let mut schemas = request_workflow_schemas();
    if let (Some(all), Value::Object(more)) = (schemas.as_object_mut(), request_outcome_schemas()) {
        all.extend(more);
    }
    schemas
}

/// What a request's outcome leaves: the written answer and the destruction record.
fn request_outcome_schemas() -> Value {
    json!({
                "WebhookConfirmation": { "type": "object", "additionalProperties": false, "required": ["job", "status"], "properties": {
                    "job": { "type": "string", "format": "uuid", "description": "The job confirmed: the id in the address" },
                    "status": { "enum": ["done", "failed"] }, "detail": { "type": "string", "maxLength": 500 } } },
                "WebhookJob": { "type": "object", "required": ["id", "webhook", "event", "status", "attempts"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "webhook": { "type": "string" }, "event": { "enum": ["access", "destruction"] },
                    "status": { "enum": ["pending", "delivered", "confirmed", "failed"] }, "attempts": { "type": "integer" } } },
                "AnswerLetter": { "type": "object", "required": ["sent", "language", "subject", "body"], "properties": {
                    "sent": { "type": "boolean" }, "to": { "type": "string" }, "language": { "enum": ["kk", "ru", "en"] },
                    "subject": { "type": "string" }, "body": { "type": "string" } } },
                "Destruction": { "type": "object", "required": ["subject_id", "category", "destroyed_at", "actor", "fields", "removed"], "properties": {
                    "subject_id": { "$ref": "#/components/schemas/Uuid" }, "category": { "type": "string" },
                    "destroyed_at": { "type": "string", "format": "date-time" }, "actor": { "type": "string" },
                    "request_id": { "$ref": "#/components/schemas/Uuid" },
                    "fields": { "type": "array", "items": { "type": "string" } },
                    "removed": { "type": "object", "properties": {
                        "index_entries": { "type": "integer" }, "consent_events": { "type": "integer" }, "representative_links": { "type": "integer" },
                        "flags": { "type": "integer" }, "obligations": { "type": "integer" }, "packages": { "type": "integer" },
                        "lifecycle_events": { "type": "integer" } } } } }
    })
}

fn request_workflow_schemas() -> Value {
    json!({
                "RequestKind": { "enum": ["information", "access_export", "rectification", "blocking", "unblocking", "destruction", "restriction", "consent_withdrawal", "objection", "complaint"] },
                "RequestStatus": { "enum": ["received", "identity_verified", "awaiting_approval", "in_progress", "completed", "rejected", "withdrawn"] },
                "RequestInput": { "type": "object", "additionalProperties": false, "required": ["kind", "subject_id", "channel", "language"], "properties": {
                    "kind": { "$ref": "#/components/schemas/RequestKind" }, "subject_id": { "$ref": "#/components/schemas/Uuid" },
                    "representative_id": { "$ref": "#/components/schemas/Uuid" },
                    "channel": { "enum": ["online", "email", "paper"] }, "language": { "enum": ["kk", "ru", "en"] },
                    "purpose": { "type": "string", "description": "Required for restriction, consent_withdrawal and objection" },
                    "details": { "type": "string", "maxLength": 4000 },
                    "received_at": { "type": "string", "format": "date-time", "description": "Paper and e-mail requests: when received (up to a year back)" },
                    "allow_duplicate": { "type": "boolean" } } },
                "StepInput": { "oneOf": [
                    { "type": "object", "additionalProperties": false, "required": ["step"], "properties": { "step": { "enum": ["submit", "withdraw", "complete", "run_actions"] } } },
                    { "type": "object", "additionalProperties": false, "required": ["step"], "properties": { "step": { "const": "approve" }, "until": { "type": "string", "format": "date", "description": "Blocking: the last day of the block" } } },
                    { "type": "object", "additionalProperties": false, "required": ["step", "reason"], "properties": { "step": { "const": "reject" }, "reason": { "enum": ["identity_not_confirmed", "not_justified", "contradicts_law", "duplicate", "no_data"] } } },
                    { "type": "object", "additionalProperties": false, "required": ["step", "reference"], "properties": { "step": { "const": "record_answer" }, "reference": { "type": "string", "maxLength": 200 } } },
                    { "type": "object", "additionalProperties": false, "required": ["step"], "properties": { "step": { "const": "send_answer" }, "text": { "type": "string", "maxLength": 4000 } } },
                    { "type": "object", "additionalProperties": false, "required": ["step", "connector", "note"], "properties": { "step": { "const": "settle_connector" }, "connector": { "type": "string" }, "note": { "type": "string", "maxLength": 500 } } },
                    { "type": "object", "additionalProperties": false, "required": ["step", "fields", "evidence"], "properties": { "step": { "const": "rectify" }, "fields": { "type": "object", "additionalProperties": { "type": ["string", "null"] } }, "evidence": { "type": "string", "maxLength": 1000 } } } ] },
                "CodeSent": { "type": "object", "required": ["sent_to", "expires_at", "sends_left"], "properties": {
                    "sent_to": { "type": "string", "description": "The address, masked: a***@m***.kz" },
                    "expires_at": { "type": "string", "format": "date-time" }, "sends_left": { "type": "integer", "minimum": 0 } } },
                "CodeInput": { "type": "object", "additionalProperties": false, "required": ["code"], "properties": { "code": { "type": "string" } } },
                "DocumentInput": { "type": "object", "additionalProperties": false, "required": ["document"], "properties": {
                    "document": { "enum": ["id_card", "passport", "birth_certificate", "power_of_attorney", "court_decision", "other"] },
                    "note": { "type": "string", "maxLength": 1000 } } },
                "Request": { "type": "object", "required": ["id", "subject_id", "kind", "status", "requester", "channel", "language", "received_at", "due", "overdue", "actions", "history", "version"], "properties": {
                    "id": { "$ref": "#/components/schemas/Uuid" }, "subject_id": { "$ref": "#/components/schemas/Uuid" },
                    "kind": { "$ref": "#/components/schemas/RequestKind" }, "status": { "$ref": "#/components/schemas/RequestStatus" },
                    "requester": { "type": "object", "required": ["kind", "id"], "properties": { "kind": { "enum": ["subject", "representative"] }, "id": { "$ref": "#/components/schemas/Uuid" } } },
                    "channel": { "type": "string" }, "language": { "type": "string" }, "purpose": { "type": "string" },
                    "received_at": { "type": "string", "format": "date-time" },
                    "due": { "type": "object", "required": ["received_on", "due_on", "due_at", "rule", "rule_source", "calendar", "skipped", "explanation"], "properties": {
                        "received_on": { "type": "string", "format": "date" }, "due_on": { "type": "string", "format": "date" }, "due_at": { "type": "string", "format": "date-time" },
                        "rule": { "type": "object" }, "rule_source": { "enum": ["declaration", "law"] }, "calendar": { "type": "object" },
                        "skipped": { "type": "array", "items": { "type": "object" } }, "weekdays_off": { "type": "integer" },
                        "carried_from": { "type": ["string", "null"] }, "beyond_calendar": { "type": "boolean" },
                        "explanation": { "type": "object", "required": ["kk", "ru", "en"] } } },
                    "overdue": { "type": "boolean" }, "details": { "type": "string" }, "duplicate_of": { "$ref": "#/components/schemas/Uuid" },
                    "verification": { "type": "object" }, "verification_note": { "type": "string" },
                    "rejection": { "type": "object" }, "evidence": { "type": "string" }, "answer": { "type": "string" },
                    "actions": { "type": "array", "items": { "type": "object", "required": ["kind", "status"], "properties": {
                        "kind": { "enum": ["block", "unblock", "restrict", "withdraw_consent", "export", "rectify", "destroy", "answer", "webhook"] },
                        "status": { "enum": ["pending", "waiting", "done", "failed"] }, "connector": { "type": "string" }, "job": { "type": "string", "format": "uuid" }, "at": { "type": ["string", "null"] }, "note": { "type": "string" } } } },
                    "history": { "type": "array", "items": { "type": "object" } }, "version": { "type": "integer" } } }
    })
}

/// Consents, representatives, blocks and restrictions, and decisions.
/// The lifecycle events that start retention periods.
fn retention_paths() -> Value {
    json!({
            "/api/v1/retention": { "get": authed(json!({
                "summary": "What has expired, what a legal hold keeps, and what expires soon, over every subject",
                "description": "A scan of every subject's fields on today's date: each field lives until the latest of the retention periods of the purposes that keep it; one whose period has run out is counted under the rule of that last period (and no purpose may read it any longer). Expired fields of subjects under a legal hold (an open data-subject request, a complaint among them, or a hold the DPO set, in force) are counted apart, as held, with how many subjects each kind of hold keeps. Grouped by rule with what the rule does (destroy or depersonalize), counts of subjects, of subjects none of whose fields is kept any longer, and of fields, the categories and field keys, a sample of subject ids, and the first and last of the fields' last days. No value is read.",
                "parameters": [ { "name": "days", "in": "query", "required": false, "description": "How many days ahead `upcoming` looks (default 30)", "schema": { "type": "integer", "minimum": 0, "maximum": 366 } } ],
                "responses": { "200": ok("The scan", "RetentionScan") }
            }), &[("400", "Malformed query"), ("422", "More than 366 days ahead")]) },
            "/api/v1/retention/holds": { "get": authed(json!({
                "summary": "The register of legal holds: each hold the DPO set that is not lifted and has not ended",
                "description": "For the DPO and the administrator. A legal hold suspends the destruction and depersonalization of a subject's data from its first through its last day (a claim, an inspection, an investigation). Set one by recording a lifecycle event of kind legal_hold; lift it by retracting that event. Those ending first come first, with their reasons.",
                "responses": { "200": { "description": "The holds", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/LegalHold" } } } } } }
            }), &[]) },
            "/api/v1/retention/batches": {
                "get": authed(json!({
                    "summary": "The latest retention batches, newest first (at most 100)",
                    "description": "For administrators, the DPO and auditors. Each batch is what one retention rule destroys or depersonalizes, as proposed and approved: counts, categories, field keys, a sample of subject ids and a digest of its items.",
                    "responses": { "200": { "description": "The batches", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/RetentionBatch" } } } } } }
                }), &[]),
                "post": authed(json!({
                    "summary": "Propose a batch: what one retention rule destroys or depersonalizes today",
                    "description": "For the DPO and administrators. Works out, over every subject not under a legal hold, the fields whose retention ended under the rule, subject by subject, and keeps them as the batch's items for approval. Audited as `retention.batch.propose` with counts only.",
                    "requestBody": { "required": true, "content": { "application/json": { "schema": { "type": "object", "additionalProperties": false, "required": ["rule"], "properties": { "rule": { "type": "string", "description": "A retention rule of the declaration" } } } } } },
                    "responses": { "201": ok("The proposed batch", "RetentionBatch") }
                }), &[("400", "Malformed JSON"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "No such rule, or nothing expired under it")]),
            },
            "/api/v1/retention/batches/{id}": { "get": authed(json!({
                "summary": "A retention batch",
                "parameters": [ id_param() ],
                "responses": { "200": ok("The batch", "RetentionBatch") }
            }), &[("400", "Malformed id"), ("404", "No such batch")]) },
            "/api/v1/retention/batches/{id}/approve": { "post": authed(json!({
                "summary": "Approve a proposed batch",
                "description": "For the DPO and administrators; with four eyes ([retention] four_eyes), two different people must approve. What has expired is worked out again first: when it no longer matches the proposal (a hold set, a consent given, a subject destroyed, more expired since), the approval is refused with 409 saying how many subjects were added, gone or changed, the proposal is worked out again and its approvals fall; review it and approve again. Approving twice, or a batch no longer proposed, is refused with 409. Audited as `retention.batch.approve`.",
                "parameters": [ id_param() ],
                "responses": { "200": ok("The batch with the approval", "RetentionBatch") }
            }), &[("400", "Malformed id"), ("404", "No such batch"), ("409", "Approved by you already, no longer proposed, or the proposal changed (worked out again)")]) },
            "/api/v1/retention/batches/{id}/act": { "get": authed(json!({
                "summary": "The act of destruction (or of depersonalization) of an executed batch",
                "description": "Issued when the batch is executed, numbered by year: the rule and its basis, the categories and fields, the counts, the method, and the commission the operator declared (operator.destruction_commission), with places for their signatures. The JSON is signed with the operator's Ed25519 key (the one published for receipts) over its RFC 8785 canonical form; `format=html` gives the page to print and sign, in `lang` (else Accept-Language, else kk); `derbes retention act --format pdf` prints it to PDF.",
                "parameters": [ id_param(),
                    { "name": "format", "in": "query", "schema": { "enum": ["json", "html"], "default": "json" } },
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } } ],
                "responses": { "200": { "description": "The act", "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/SignedAct" } },
                    "text/html": { "schema": { "type": "string" } } } } }
            }), &[("400", "Malformed id or query"), ("404", "No such batch, or not executed yet"), ("422", "Unknown format or language")]) },
            "/api/v1/retention/acts": { "get": authed(json!({
                "summary": "Every act of destruction or depersonalization issued, newest first",
                "responses": { "200": { "description": "The acts", "content": { "application/json": { "schema": { "type": "array", "items": { "$ref": "#/components/schemas/DestructionAct" } } } } } }
            }), &[]) },
            "/api/v1/retention/depersonalized/{rule}": { "get": authed(json!({
                "summary": "Release a rule's depersonalized records for statistics",
                "description": "For the DPO and the administrator. A retention rule that depersonalizes keeps, of each subject whose data it depersonalized, one record naming no subject: the subject's category and what the rule keeps of each field (a year, a region, the value, or a pseudonym under a key destroyed when its batch was done). Records are grouped by category and the rule's quasi-identifiers; only the groups of at least the rule's k records (default 5) are released, the others are counted and held back. `format=csv` gives the released records alone. Audited as `retention.release`, with counts only.",
                "parameters": [
                    { "name": "rule", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "format", "in": "query", "schema": { "enum": ["json", "csv"], "default": "json" } } ],
                "responses": { "200": { "description": "The release", "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/DepersonalizedRelease" } },
                    "text/csv": { "schema": { "type": "string" } } } } }
            }), &[("400", "Malformed query"), ("422", "Not a rule that depersonalizes, or an unknown format")]) },
            "/api/v1/subjects/{id}/lifecycle": {
                "get": authed(json!({
                    "summary": "A subject's lifecycle events, and what they add up to",
                    "description": "The events that start retention periods, in the order recorded, with the day the relationship ended and the purposes achieved as they stand after corrections (a later event of a kind wins; a retracted one does not count).",
                    "parameters": [ id_param() ],
                    "responses": { "200": ok("The lifecycle", "Lifecycle") }
                }), &[("400", "Malformed id"), ("404", "No such subject")]),
                "post": authed(json!({
                    "summary": "Record a lifecycle event: the relationship ended, a purpose achieved, a legal hold, or an earlier event retracted",
                    "description": "Events are never edited: a correction is a new event (a later one of the same kind wins), or the retraction of one recorded in error. A legal hold (kind legal_hold, with a reason and its last day in until) suspends the subject's destruction and depersonalization; it is set, and lifted by its retraction, only by the DPO or the administrator. Audited as `subject.lifecycle`.",
                    "parameters": [ id_param() ],
                    "requestBody": body("LifecycleInput"),
                    "responses": { "201": ok("The recorded event", "LifecycleEvent") }
                }), &[("400", "Malformed JSON or id"), ("404", "No such subject"), ("409", "Another event was recorded meanwhile"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "A day in the future or before collection, an undeclared purpose or one not for the subject's category, no reason, nothing to retract, or a hold's last day before today or more than ten years ahead")]),
            }
    })
}

fn retention_schemas() -> Value {
    json!({
                "DepersonalizedRelease": { "type": "object", "required": ["rule", "quasi_identifiers", "records", "k", "groups", "suppressed_groups", "suppressed_records"], "properties": {
                    "rule": { "type": "string" },
                    "quasi_identifiers": { "type": "array", "items": { "type": "string" } },
                    "records": { "type": "array", "items": { "type": "object", "required": ["category", "values"], "properties": {
                        "category": { "type": "string" },
                        "values": { "type": "object", "additionalProperties": { "type": "string" } } } } },
                    "k": { "type": "integer", "minimum": 1 },
                    "groups": { "type": "integer", "minimum": 0, "description": "Groups released" },
                    "suppressed_groups": { "type": "integer", "minimum": 0, "description": "Groups held back as smaller than k" },
                    "suppressed_records": { "type": "integer", "minimum": 0 } } },
                "RetentionScan": { "type": "object", "required": ["today", "days", "scanned", "expired_subjects", "held_subjects", "upcoming_subjects", "expired", "held", "upcoming"], "properties": {
                    "today": { "type": "string", "format": "date" },
                    "days": { "type": "integer", "minimum": 0 },
                    "scanned": { "type": "integer", "minimum": 0 },
                    "expired_subjects": { "type": "integer", "minimum": 0, "description": "Distinct subjects with a field expired (a subject under two rules counts once)" },
                    "held_subjects": { "type": "integer", "minimum": 0 },
                    "held_for": { "type": "object", "description": "Of the held subjects, how many each kind of hold keeps (a subject under two counts under both)", "properties": {
                        "requests": { "type": "integer", "minimum": 0 }, "complaints": { "type": "integer", "minimum": 0 }, "legal_holds": { "type": "integer", "minimum": 0 } } },
                    "upcoming_subjects": { "type": "integer", "minimum": 0 },
                    "expired": { "type": "array", "items": { "$ref": "#/components/schemas/ExpiryGroup" } },
                    "held": { "type": "array", "items": { "$ref": "#/components/schemas/ExpiryGroup" } },
                    "upcoming": { "type": "array", "items": { "$ref": "#/components/schemas/ExpiryGroup" } } } },
                "ExpiryGroup": { "type": "object", "required": ["rule", "action", "subjects", "whole_subjects", "fields", "categories", "field_keys", "sample", "first_day", "last_day"], "properties": {
                    "rule": { "type": "string" }, "action": { "enum": ["destroy", "depersonalize"] },
                    "subjects": { "type": "integer", "minimum": 0 }, "whole_subjects": { "type": "integer", "minimum": 0 }, "fields": { "type": "integer", "minimum": 0 },
                    "categories": { "type": "array", "items": { "type": "string" } }, "field_keys": { "type": "array", "items": { "type": "string" } },
                    "sample": { "type": "array", "maxItems": 10, "items": { "type": "string", "format": "uuid" } },
                    "first_day": { "type": "string", "format": "date" }, "last_day": { "type": "string", "format": "date" } } },
                "LifecycleInput": { "type": "object", "additionalProperties": false, "required": ["kind", "on"], "properties": {
                    "kind": { "enum": ["relationship_ended", "purpose_achieved", "retracted", "legal_hold"] },
                    "on": { "type": "string", "format": "date", "description": "The day it happened (a hold: the day it starts), not after today" },
                    "reason": { "type": "string", "minLength": 1, "maxLength": 500, "description": "Why the relationship ended (relationship_ended), or why destruction is suspended (legal_hold)" },
                    "until": { "type": "string", "format": "date", "description": "A legal hold's last day: today or later, at most ten years ahead (legal_hold)" },
                    "purpose": { "type": "string", "description": "The declared purpose achieved (purpose_achieved)" },
                    "event": { "type": "string", "format": "uuid", "description": "The event recorded in error (retracted)" } } },
                "LifecycleEvent": { "type": "object", "required": ["id", "subject_id", "kind", "on", "recorded_at", "recorded_by"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "subject_id": { "type": "string", "format": "uuid" },
                    "kind": { "enum": ["relationship_ended", "purpose_achieved", "retracted", "legal_hold"] },
                    "reason": { "type": "string" }, "purpose": { "type": "string" }, "event": { "type": "string", "format": "uuid" },
                    "until": { "type": "string", "format": "date", "description": "A legal hold's last day" },
                    "on": { "type": "string", "format": "date" }, "recorded_at": { "type": "string", "format": "date-time" },
                    "recorded_by": { "type": "string" } } },
                "Lifecycle": { "type": "object", "required": ["category", "events", "purposes_achieved", "fields"], "properties": {
                    "category": { "type": "string" },
                    "events": { "type": "array", "items": { "$ref": "#/components/schemas/LifecycleEvent" } },
                    "relationship_ended": { "type": ["string", "null"], "format": "date" },
                    "held_until": { "type": ["string", "null"], "format": "date", "description": "The last day of the legal holds in force: nothing of the subject is destroyed or depersonalized until the day after" },
                    "purposes_achieved": { "type": "object", "additionalProperties": { "type": "string", "format": "date" } },
                    "fields": { "type": "array", "description": "Each field the subject has a value for: the purposes that keep it and until when", "items": { "$ref": "#/components/schemas/FieldRetention" } } } },
                "RetentionBatch": { "type": "object", "required": ["id", "rule", "action", "status", "computed_on", "proposed_at", "proposed_by", "summary", "approvals", "approvals_needed", "version"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "rule": { "type": "string" },
                    "action": { "enum": ["destroy", "depersonalize"] },
                    "status": { "enum": ["proposed", "approved", "done"] },
                    "computed_on": { "type": "string", "format": "date" },
                    "proposed_at": { "type": "string", "format": "date-time" }, "proposed_by": { "type": "string" },
                    "summary": { "type": "object", "required": ["subjects", "whole_subjects", "fields", "categories", "field_keys", "sample", "digest"], "properties": {
                        "subjects": { "type": "integer", "minimum": 0 }, "whole_subjects": { "type": "integer", "minimum": 0 }, "fields": { "type": "integer", "minimum": 0 },
                        "categories": { "type": "array", "items": { "type": "string" } }, "field_keys": { "type": "array", "items": { "type": "string" } },
                        "sample": { "type": "array", "maxItems": 10, "items": { "type": "string", "format": "uuid" } }, "digest": { "type": "string" } } },
                    "changed": { "type": "object", "description": "How the proposal changed when last worked out again", "properties": {
                        "added": { "type": "integer", "minimum": 0 }, "removed": { "type": "integer", "minimum": 0 }, "changed": { "type": "integer", "minimum": 0 } } },
                    "approvals": { "type": "array", "items": { "type": "object", "required": ["by", "at"], "properties": { "by": { "type": "string" }, "at": { "type": "string", "format": "date-time" } } } },
                    "approvals_needed": { "type": "integer", "minimum": 1, "maximum": 2 },
                    "act": { "$ref": "#/components/schemas/DestructionAct" },
                    "version": { "type": "integer" } } },
                "DestructionAct": { "type": "object", "required": ["schema", "number", "date", "batch_id", "operator", "declaration_version", "rule", "categories", "fields", "whole_subjects", "field_subjects", "fields_destroyed", "skipped", "proposed_by", "proposed_at", "approved_by", "executed_at", "commission"], "properties": {
                    "schema": { "const": "derbes.destruction-act/1" },
                    "number": { "type": "string", "description": "<year>-<n>: the operator's n-th act of that year" },
                    "date": { "type": "string", "format": "date" }, "batch_id": { "type": "string", "format": "uuid" },
                    "operator": { "type": "object" }, "declaration_version": { "type": "string" },
                    "rule": { "type": "object", "required": ["code", "label", "period", "action"], "properties": { "code": { "type": "string" }, "label": { "type": "object" }, "period": { "type": "object" }, "basis": { "type": "object" }, "action": { "enum": ["destroy", "depersonalize"] } } },
                    "categories": { "type": "array", "items": { "type": "object" } }, "fields": { "type": "array", "items": { "type": "object" } },
                    "whole_subjects": { "type": "integer", "minimum": 0 }, "field_subjects": { "type": "integer", "minimum": 0 }, "fields_destroyed": { "type": "integer", "minimum": 0 },
                    "depersonalized_records": { "type": "integer", "minimum": 1, "description": "For a rule that depersonalizes: the records written, one per subject, naming none" },
                    "kept": { "type": "array", "description": "For a rule that depersonalizes: what each record keeps of each field", "items": { "type": "object", "required": ["field", "kept"], "properties": { "field": { "type": "object" }, "kept": { "enum": ["year", "region", "keep", "pseudonym"] } } } },
                    "skipped": { "type": "object", "additionalProperties": { "type": "integer" } },
                    "proposed_by": { "type": "string" }, "proposed_at": { "type": "string", "format": "date-time" },
                    "approved_by": { "type": "array", "items": { "type": "string" } }, "executed_at": { "type": "string", "format": "date-time" },
                    "commission": { "type": "array", "items": { "type": "object", "required": ["name", "position"], "properties": { "name": { "type": "object" }, "position": { "type": "object" } } } } } },
                "SignedAct": { "type": "object", "required": ["act", "signature"], "properties": {
                    "act": { "$ref": "#/components/schemas/DestructionAct" },
                    "signature": { "type": "object", "required": ["alg", "key_id", "public_key", "canonicalization", "value"], "properties": {
                        "alg": { "const": "Ed25519" }, "key_id": { "type": "string" }, "public_key": { "type": "string" },
                        "canonicalization": { "type": "string" }, "value": { "type": "string" } } } } },
                "LegalHold": { "type": "object", "required": ["subject_id", "category", "event", "from", "until", "set_by", "set_at"], "properties": {
                    "subject_id": { "type": "string", "format": "uuid" }, "category": { "type": "string" },
                    "event": { "type": "string", "format": "uuid", "description": "The lifecycle event that set it: retract it to lift the hold" },
                    "from": { "type": "string", "format": "date" }, "until": { "type": "string", "format": "date" },
                    "reason": { "type": ["string", "null"] }, "set_by": { "type": "string" }, "set_at": { "type": "string", "format": "date-time" } } },
                "Until": { "type": "object", "required": ["kind"], "description": "A last day (kind day), or no end yet (kind open: the period has not started)", "properties": {
                    "kind": { "enum": ["day", "open"] }, "day": { "type": "string", "format": "date" } } },
                "FieldRetention": { "type": "object", "required": ["field", "collected", "kept_until", "ended", "holds"], "properties": {
                    "field": { "type": "string" },
                    "collected": { "type": "string", "format": "date", "description": "The day its value was collected" },
                    "kept_until": { "description": "The latest hold's last day; null when no purpose keeps it", "oneOf": [ { "type": "null" }, { "$ref": "#/components/schemas/Until" } ] },
                    "ended": { "type": "boolean", "description": "Every hold has ended: no purpose may read the field" },
                    "holds": { "type": "array", "items": { "type": "object", "required": ["purpose", "rule", "until"], "properties": {
                        "purpose": { "type": "string" }, "rule": { "type": "string" }, "until": { "$ref": "#/components/schemas/Until" } } } } } }
    })
}

fn consent_paths() -> Value {
    json!({
            "/api/v1/decisions": { "post": authed(json!({
                "summary": "May purpose P use fields F of subject S now? One question or a batch",
                "description": "Each answer comes from the subject's consents, block, restrictions and the retention of its fields at this moment: allowed with the legal basis (and the consent it rests on), or refused with every reason (the same codes as reads, plus subject_not_found). A single question is audited like a read; a batch (up to 1000) is audited as one event listing each answer.",
                "requestBody": { "required": true, "content": { "application/json": { "schema": { "oneOf": [
                    { "$ref": "#/components/schemas/Question" },
                    { "type": "object", "additionalProperties": false, "required": ["decisions"], "properties": {
                        "decisions": { "type": "array", "minItems": 1, "maxItems": 1000, "items": { "$ref": "#/components/schemas/Question" } } } }
                ] } } } },
                "responses": { "200": { "description": "The answer, or {\"decisions\": [answers]} in the order asked", "content": { "application/json": { "schema": { "oneOf": [
                    { "$ref": "#/components/schemas/Answer" },
                    { "type": "object", "required": ["decisions"], "properties": { "decisions": { "type": "array", "items": { "$ref": "#/components/schemas/Answer" } } } }
                ] } } } } }
            }), &[("400", "Malformed JSON"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Malformed question (the field names which), or an empty or too large batch")]) },
            "/api/v1/subjects/{id}/consents": {
                "get": authed(json!({
                    "summary": "A subject's consent ledger",
                    "description": "Every consent event (give, renew, withdraw), oldest first, and the status today of each consent-based purpose that covers the subject's category. `terms_changed` marks a holding consent whose purpose was declared differently since.",
                    "parameters": [ id_param() ],
                    "responses": { "200": ok("The ledger", "ConsentLedger") }
                }), &[("400", "Malformed id"), ("404", "No such subject")]),
                "post": authed(json!({
                    "summary": "Give, renew or withdraw a consent",
                    "description": "Appends an event; nothing is changed in place. A minor cannot act alone; a representative must be linked to the subject; only consent-based purposes take consents (Art. 8(2)); a withdrawal needs a consent that holds and takes effect on the next decision. The purpose's terms (fields, recipients, cross-border transfer, publication) are recorded with their hash.",
                    "parameters": [ id_param() ],
                    "requestBody": body("ConsentInput"),
                    "responses": { "201": ok("The recorded event", "ConsentEvent") }
                }), &[("400", "Malformed JSON or id"), ("404", "No such subject"), ("409", "The ledger kept changing; send it again"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Invalid value (type validation) or refused consent action (type consent-refused, with every problem)")])
            },
            "/api/v1/subjects/{id}/representatives": {
                "get": authed(json!({
                    "summary": "Who represents the subject, and whom the subject represents",
                    "parameters": [ id_param() ],
                    "responses": { "200": ok("Links", "Representatives") }
                }), &[("400", "Malformed id"), ("404", "No such subject")]),
                "post": authed(json!({
                    "summary": "Link a legal representative",
                    "description": "The representative is a subject of a representative category (the declaration's minors.representative_categories). Documents are proven by the SHA-256 of their scans. Linking again replaces the relation and documents.",
                    "parameters": [ id_param() ],
                    "requestBody": body("LinkInput"),
                    "responses": { "201": ok("Linked", "RepresentativeLink"), "200": ok("Link replaced", "RepresentativeLink") }
                }), &[("400", "Malformed JSON or id"), ("404", "No such subject"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Invalid document hash, unknown representative or wrong category")])
            },
            "/api/v1/subjects/{id}/representatives/{representative_id}": { "delete": authed(json!({
                "summary": "Remove a representative link",
                "parameters": [ id_param(), { "name": "representative_id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } } ],
                "responses": { "200": ok("The remaining links", "Representatives") }
            }), &[("400", "Malformed id"), ("404", "No such subject or no such link")]) },
            "/api/v1/subjects/{id}/flags": { "get": authed(json!({
                "summary": "The subject's block, restrictions and open obligations",
                "parameters": [ id_param() ],
                "responses": { "200": ok("Flags", "Flags") }
            }), &[("400", "Malformed id"), ("404", "No such subject")]) },
            "/api/v1/subjects/{id}/block": {
                "put": authed(json!({
                    "summary": "Block the subject's data",
                    "description": "While the block holds, every decision about the subject is refused (subject_blocked): only storage goes on. `until` ends it on a date (a verification period).",
                    "parameters": [ id_param() ],
                    "requestBody": body("FlagInput"),
                    "responses": { "200": ok("Flags now", "Flags") }
                }), &[("400", "Malformed JSON or id"), ("404", "No such subject"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Invalid reason, note or date")]),
                "delete": authed(json!({
                    "summary": "Lift the block",
                    "parameters": [ id_param(), { "name": "reason", "in": "query", "required": true, "description": "Why it is lifted", "schema": { "$ref": "#/components/schemas/FlagReason" } } ],
                    "responses": { "200": ok("Flags now", "Flags") }
                }), &[("400", "Malformed id or missing reason"), ("404", "No such subject"), ("409", "No block in force")])
            },
            "/api/v1/subjects/{id}/restrictions/{purpose}": {
                "put": authed(json!({
                    "summary": "Restrict processing for one purpose",
                    "description": "While the restriction holds, decisions for this purpose are refused (processing_restricted).",
                    "parameters": [ id_param(), { "name": "purpose", "in": "path", "required": true, "schema": { "type": "string" } } ],
                    "requestBody": body("FlagInput"),
                    "responses": { "200": ok("Flags now", "Flags") }
                }), &[("400", "Malformed JSON or id"), ("404", "No such subject"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Undeclared purpose, invalid reason, note or date")]),
                "delete": authed(json!({
                    "summary": "Lift a restriction",
                    "parameters": [ id_param(), { "name": "purpose", "in": "path", "required": true, "schema": { "type": "string" } }, { "name": "reason", "in": "query", "required": true, "schema": { "$ref": "#/components/schemas/FlagReason" } } ],
                    "responses": { "200": ok("Flags now", "Flags") }
                }), &[("400", "Malformed id or missing reason"), ("404", "No such subject"), ("409", "No restriction in force"), ("422", "Undeclared purpose")])
            },
            "/api/v1/subjects/{id}/consents/{consent_id}/receipt": { "get": authed(json!({
                "summary": "A signed receipt for one consent event",
                "description": "Shaped after ISO/IEC TS 27560 and the Kantara Consent Receipt: the operator, the purpose, every Art. 8(4) element as agreed (rendered with the declaration version the consent was given under), who gave it and how, its term, how to withdraw, and the consent's status now; the subject is named by id only. `readable` holds the same in kk, ru and en. The JSON is signed with the operator's Ed25519 key over its RFC 8785 canonical form; check it offline with `derbes receipt verify`. `format=html` gives a printable page and `format=text` the readable text, in `lang` (else Accept-Language, else kk). Issuing is audited.",
                "parameters": [ id_param(),
                    { "name": "consent_id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } },
                    { "name": "format", "in": "query", "schema": { "enum": ["json", "html", "text"], "default": "json" } },
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } } ],
                "responses": { "200": { "description": "The receipt", "content": {
                    "application/json": { "schema": { "$ref": "#/components/schemas/SignedReceipt" } },
                    "text/html": { "schema": { "type": "string" } },
                    "text/plain": { "schema": { "type": "string" } } } } }
            }), &[("400", "Malformed id or query"), ("404", "No such subject, or no such event in its ledger"), ("422", "Unknown format or language")]) },
            "/.well-known/derbes-receipt-keys.json": { "get": {
                "summary": "The operator's public keys for consent receipts (JWK Set, Ed25519)",
                "responses": { "200": { "description": "JWK Set (RFC 7517, RFC 8037)", "content": { "application/json": { "schema": { "type": "object", "required": ["keys"], "properties": {
                    "keys": { "type": "array", "items": { "type": "object", "required": ["kty", "crv", "kid", "x"], "properties": {
                        "kty": { "const": "OKP" }, "crv": { "const": "Ed25519" }, "alg": { "const": "EdDSA" }, "use": { "const": "sig" },
                        "kid": { "type": "string" }, "x": { "type": "string" } } } } } } } } } }
            }},
            "/api/v1/subjects/{id}/obligations/{purpose}": {
                "put": authed(json!({
                    "summary": "Record an unfulfilled obligation that keeps consent from being withdrawn",
                    "description": "Law 94-V Art. 8(2): consent cannot be withdrawn while an obligation it secures is unfulfilled. Only for purposes that declare `withdrawal_obligation`. While the obligation is open, a withdrawal of consent to the purpose is refused (unfulfilled_obligation). `until` ends it on a date.",
                    "parameters": [ id_param(), { "name": "purpose", "in": "path", "required": true, "schema": { "type": "string" } } ],
                    "requestBody": body("ObligationInput"),
                    "responses": { "200": ok("Flags now", "Flags") }
                }), &[("400", "Malformed JSON or id"), ("404", "No such subject"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Undeclared purpose, a purpose without withdrawal_obligation, invalid note or date")]),
                "delete": authed(json!({
                    "summary": "Mark the obligation fulfilled",
                    "parameters": [ id_param(), { "name": "purpose", "in": "path", "required": true, "schema": { "type": "string" } } ],
                    "responses": { "200": ok("Flags now", "Flags") }
                }), &[("400", "Malformed id"), ("404", "No such subject"), ("409", "No obligation open"), ("422", "Undeclared purpose or a purpose without withdrawal_obligation")])
            }
    })
}

/// The signed consent receipt.
fn receipt_schemas() -> Value {
    json!({
                "SignedReceipt": { "type": "object", "required": ["receipt", "signature"], "properties": {
                    "receipt": { "type": "object", "required": ["schema", "receipt_id", "issued_at", "jurisdiction", "consent_record_id", "pii_principal_id", "status", "pii_controller", "purpose", "event", "readable"], "properties": {
                        "schema": { "const": "derbes/consent-receipt/1" }, "receipt_id": { "$ref": "#/components/schemas/Uuid" },
                        "issued_at": { "type": "string", "format": "date-time" }, "jurisdiction": { "const": "KZ" },
                        "consent_record_id": { "$ref": "#/components/schemas/Uuid" }, "pii_principal_id": { "$ref": "#/components/schemas/Uuid" },
                        "status": { "enum": ["active", "superseded", "withdrawn", "expired", "recorded"] },
                        "pii_controller": { "type": "object" }, "purpose": { "type": "object" }, "event": { "type": "object" },
                        "terms": { "type": "object", "description": "Give and renew: the Art. 8(4) contents as agreed" },
                        "readable": { "type": "object", "required": ["kk", "ru", "en"], "properties": { "kk": { "type": "string" }, "ru": { "type": "string" }, "en": { "type": "string" } } } } },
                    "signature": { "type": "object", "required": ["alg", "key_id", "public_key", "canonicalization", "value"], "properties": {
                        "alg": { "const": "Ed25519" }, "key_id": { "type": "string" }, "public_key": { "type": "string" },
                        "canonicalization": { "type": "string" }, "value": { "type": "string" } } } } }
    })
}

fn consent_schemas() -> Value {
    json!({
                "Question": { "type": "object", "additionalProperties": false, "required": ["subject_id", "purpose"], "properties": {
                    "subject_id": { "$ref": "#/components/schemas/Uuid" }, "purpose": { "type": "string" },
                    "fields": { "type": "array", "items": { "type": "string" }, "description": "Default: every field the purpose may use" } } },
                "Answer": { "type": "object", "required": ["subject_id", "purpose", "allowed"], "properties": {
                    "subject_id": { "$ref": "#/components/schemas/Uuid" }, "purpose": { "type": "string" }, "allowed": { "type": "boolean" },
                    "legal_basis": { "enum": ["consent", "contract", "legal_duty", "vital_interest", "legitimate_interest"] },
                    "consent_id": { "$ref": "#/components/schemas/Uuid" }, "confirmation_due": { "type": "boolean" },
                    "fields": { "type": "array", "items": { "type": "string" } },
                    "reasons": { "type": "array", "items": { "type": "object", "required": ["code", "message"], "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } } } },
                "Uuid": { "type": "string", "format": "uuid" },
                "Sha256": { "type": "string", "pattern": "^[0-9a-f]{64}$" },
                "Relation": { "enum": ["parent", "guardian", "trustee", "other"] },
                "FlagReason": { "enum": ["subject_request", "accuracy_contested", "unlawful_processing", "objection", "authority_order", "other"] },
                "Method": { "oneOf": [
                    { "type": "object", "additionalProperties": false, "required": ["kind"], "properties": { "kind": { "const": "web" } } },
                    { "type": "object", "additionalProperties": false, "required": ["kind", "evidence_sha256"], "properties": { "kind": { "const": "paper" }, "evidence_sha256": { "$ref": "#/components/schemas/Sha256" } } },
                    { "type": "object", "additionalProperties": false, "required": ["kind", "reference"], "properties": { "kind": { "const": "state_service" }, "reference": { "type": "string", "minLength": 1, "maxLength": 500 } } },
                    { "type": "object", "additionalProperties": false, "required": ["kind", "description"], "properties": { "kind": { "const": "other" }, "description": { "type": "string", "minLength": 1, "maxLength": 500 } } }
                ] },
                "ConsentInput": { "type": "object", "additionalProperties": false, "required": ["purpose", "action", "method"], "properties": {
                    "purpose": { "type": "string" }, "action": { "enum": ["give", "renew", "withdraw"] },
                    "representative_id": { "$ref": "#/components/schemas/Uuid" },
                    "method": { "$ref": "#/components/schemas/Method" },
                    "until": { "type": "string", "format": "date", "description": "Last day the consent holds (give, renew); absent: until the purpose is achieved" } } },
                "ConsentEvent": { "type": "object", "required": ["id", "subject_id", "purpose", "action", "given_by", "method", "at"], "properties": {
                    "id": { "$ref": "#/components/schemas/Uuid" }, "subject_id": { "$ref": "#/components/schemas/Uuid" }, "purpose": { "type": "string" },
                    "action": { "enum": ["give", "renew", "withdraw"] },
                    "terms": { "type": "object", "description": "Give and renew: the purpose's Art. 8(4) terms as agreed (declaration version, fields, recipients, third-party and cross-border transfer, publication)" },
                    "terms_hash": { "type": "string" }, "term": { "type": "object" },
                    "given_by": { "type": "object", "required": ["kind"], "properties": { "kind": { "enum": ["subject", "representative"] }, "representative_id": { "$ref": "#/components/schemas/Uuid" }, "relation": { "$ref": "#/components/schemas/Relation" } } },
                    "method": { "$ref": "#/components/schemas/Method" }, "at": { "type": "string", "format": "date-time" } } },
                "ConsentLedger": { "type": "object", "required": ["subject_id", "minor", "purposes", "history"], "properties": {
                    "subject_id": { "$ref": "#/components/schemas/Uuid" }, "minor": { "type": ["boolean", "null"] },
                    "purposes": { "type": "array", "items": { "type": "object", "required": ["purpose", "status"], "properties": {
                        "purpose": { "type": "string" }, "status": { "enum": ["holding", "withdrawn", "expired", "none"] },
                        "consent_id": { "$ref": "#/components/schemas/Uuid" }, "terms_changed": { "type": "boolean" } } } },
                    "history": { "type": "array", "items": { "$ref": "#/components/schemas/ConsentEvent" } } } },
                "Document": { "type": "object", "additionalProperties": false, "required": ["kind", "sha256"], "properties": {
                    "kind": { "enum": ["birth_certificate", "guardianship_decision", "power_of_attorney", "court_decision", "other"] },
                    "sha256": { "$ref": "#/components/schemas/Sha256" } } },
                "LinkInput": { "type": "object", "additionalProperties": false, "required": ["representative_id", "relation", "documents"], "properties": {
                    "representative_id": { "$ref": "#/components/schemas/Uuid" }, "relation": { "$ref": "#/components/schemas/Relation" },
                    "documents": { "type": "array", "minItems": 1, "items": { "$ref": "#/components/schemas/Document" } } } },
                "RepresentativeLink": { "type": "object", "required": ["subject_id", "representative_id", "relation", "documents", "linked_at", "linked_by"], "properties": {
                    "subject_id": { "$ref": "#/components/schemas/Uuid" }, "representative_id": { "$ref": "#/components/schemas/Uuid" },
                    "relation": { "$ref": "#/components/schemas/Relation" }, "documents": { "type": "array", "items": { "$ref": "#/components/schemas/Document" } },
                    "linked_at": { "type": "string", "format": "date-time" }, "linked_by": { "type": "string" } } },
                "Representatives": { "type": "object", "required": ["subject_id", "representatives", "represents"], "properties": {
                    "subject_id": { "$ref": "#/components/schemas/Uuid" },
                    "representatives": { "type": "array", "items": { "$ref": "#/components/schemas/RepresentativeLink" } },
                    "represents": { "type": "array", "items": { "$ref": "#/components/schemas/RepresentativeLink" } } } },
                "FlagInput": { "type": "object", "additionalProperties": false, "required": ["reason"], "properties": {
                    "reason": { "$ref": "#/components/schemas/FlagReason" },
                    "note": { "type": "string", "minLength": 1, "maxLength": 500, "description": "Kept with the flag, never copied into the audit" },
                    "until": { "type": "string", "format": "date", "description": "Last day the flag holds" } } },
                "Flag": { "type": "object", "required": ["reason", "set_by", "set_at"], "properties": {
                    "reason": { "$ref": "#/components/schemas/FlagReason" }, "note": { "type": "string" }, "until": { "type": "string", "format": "date" },
                    "set_by": { "type": "string" }, "set_at": { "type": "string", "format": "date-time" } } },
                "ObligationInput": { "type": "object", "additionalProperties": false, "properties": {
                    "note": { "type": "string", "minLength": 1, "maxLength": 500, "description": "A contract number or the like; kept with the obligation, never copied into the audit" },
                    "until": { "type": "string", "format": "date", "description": "Last day the obligation runs; absent: until marked fulfilled" } } },
                "Obligation": { "type": "object", "required": ["set_by", "set_at"], "properties": {
                    "note": { "type": "string" }, "until": { "type": "string", "format": "date" },
                    "set_by": { "type": "string" }, "set_at": { "type": "string", "format": "date-time" } } },
                "Flags": { "type": "object", "required": ["subject_id", "blocked", "restrictions", "obligations"], "properties": {
                    "subject_id": { "$ref": "#/components/schemas/Uuid" },
                    "blocked": { "oneOf": [ { "type": "null" }, { "$ref": "#/components/schemas/Flag" } ] },
                    "restrictions": { "type": "object", "additionalProperties": { "$ref": "#/components/schemas/Flag" } },
                    "obligations": { "type": "object", "additionalProperties": { "$ref": "#/components/schemas/Obligation" } } } }
    })
}

/// Health, declaration, subjects, lookup, audit and tokens.
#[allow(
    clippy::too_many_lines,
    reason = "the OpenAPI document as one JSON literal, path after path"
)]
fn spine() -> Value {
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "derbes",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Personal data vault governed by the operator's privacy-policy declaration (Law of the Republic of Kazakhstan No. 94-V). Every read names a purpose; every read, write and refusal is recorded in a tamper-evident audit chain. Errors are application/problem+json with a stable `type`."
        },
        "paths": {
            "/api/v1/health": { "get": {
                "summary": "Liveness, storage backend, declaration version and whether the audit chain is intact",
                "responses": {
                    "200": ok("The server is up and its audit chain intact", "Health"),
                    "503": ok("The audit chain is broken: every action that must be recorded is refused", "Health")
                }
            }},
            "/api/v1/openapi.json": { "get": {
                "summary": "This document",
                "responses": { "200": { "description": "OpenAPI 3.1 document", "content": { "application/json": { "schema": { "type": "object" } } } } }
            }},
            "/api/v1/declaration": { "get": {
                "summary": "The declaration in force: operator, subject categories, fields, purposes, recipients, retention, deadlines",
                "responses": { "200": ok("The declaration", "Declaration") }
            }},
            "/policy": { "get": {
                "summary": "The privacy policy in force, as a page (or Markdown)",
                "description": "Public, no token. The version in force is the recorded one with the latest effective date not after today. Language: `lang`, else Accept-Language, else Kazakh. Rendered once per version, language and format.",
                "parameters": [
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } },
                    { "name": "format", "in": "query", "schema": { "enum": ["html", "md"] } }
                ],
                "responses": { "200": { "description": "The policy", "content": { "text/html": { "schema": { "type": "string" } }, "text/markdown": { "schema": { "type": "string" } } } }, "422": problem("Unknown lang or format") }
            }},
            "/policy/versions": { "get": {
                "summary": "Every recorded version of the policy, with its effective date",
                "description": "Public. A page with links, or `format=json`.",
                "parameters": [
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } },
                    { "name": "format", "in": "query", "schema": { "enum": ["html", "json"] } }
                ],
                "responses": { "200": { "description": "The versions", "content": { "text/html": { "schema": { "type": "string" } }, "application/json": { "schema": { "type": "array", "items": { "type": "object" } } } } } }
            }},
            "/policy/changes": { "get": {
                "summary": "What changed between two versions, and which consents it affects",
                "description": "Public. Fields, purposes, legal bases, recipients, cross-border transfers, retention and deadlines added, removed or changed, in words; and the consent-based purposes that need fresh consent: new ones, and those that now use more than a consent to the old terms covers (data, recipients, a transfer abroad, publication), which is what decisions refuse. By default: the version in force against the one recorded before it. How many subjects it touches: /api/v1/policy/consent-impact.",
                "parameters": [
                    { "name": "from", "in": "query", "schema": { "type": "string" } },
                    { "name": "to", "in": "query", "schema": { "type": "string" } },
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } },
                    { "name": "format", "in": "query", "schema": { "enum": ["html", "md"] } }
                ],
                "responses": { "200": { "description": "The report", "content": { "text/html": { "schema": { "type": "string" } }, "text/markdown": { "schema": { "type": "string" } } } }, "404": problem("`from` or `to` is not a recorded version"), "422": problem("Unknown lang or format") }
            }},
            "/policy/versions/{version}": { "get": {
                "summary": "One version of the policy",
                "parameters": [
                    { "name": "version", "in": "path", "required": true, "schema": { "type": "string" } },
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } },
                    { "name": "format", "in": "query", "schema": { "enum": ["html", "md"] } }
                ],
                "responses": { "200": { "description": "The policy of that version", "content": { "text/html": { "schema": { "type": "string" } }, "text/markdown": { "schema": { "type": "string" } } } }, "404": problem("No such version"), "422": problem("Unknown lang or format") }
            }},
            "/policy/documents/{document}": { "get": {
                "summary": "Another document drawn from the declaration: the list of personal data (Art. 25), the consent forms (Art. 8(4)) or the record of processing activities",
                "description": "Public, no token: everything in them is also in the published policy. Of the version in force, or of `version`.",
                "parameters": [
                    { "name": "document", "in": "path", "required": true, "schema": { "enum": ["data-list", "consent-forms", "processing-record"] } },
                    { "name": "version", "in": "query", "schema": { "type": "string" } },
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } },
                    { "name": "format", "in": "query", "schema": { "enum": ["html", "md"] } }
                ],
                "responses": { "200": { "description": "The document", "content": { "text/html": { "schema": { "type": "string" } }, "text/markdown": { "schema": { "type": "string" } } } }, "404": problem("No such document or version"), "422": problem("Unknown lang or format") }
            }},
            "/api/v1/subjects": { "post": authed(json!({
                "summary": "Create a subject with encrypted fields",
                "description": "Every field must be declared for the subject's category and pass its validator. Staff and integration tokens may write only fields used by their purposes.",
                "requestBody": body("SubjectCreate"),
                "responses": { "201": ok("Created", "SubjectCreated") }
            }), &[("400", "Malformed JSON"), ("409", "A subject of this category with the same identifier exists"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Undeclared field or invalid value")]) },
            "/api/v1/subjects/{id}": {
                "get": authed(json!({
                    "summary": "Read a subject for a purpose",
                    "description": "Returns only the fields the purpose may use. Refused (403, type purpose-denied, with every reason) for an undeclared purpose, a field outside the purpose, a purpose the token may not act for, or a purpose whose legal basis does not hold (no consent, consent withdrawn or expired, a consent that does not cover what the purpose does now, re-consent required after coming of age, subject blocked, processing restricted), and for a field whose retention has ended for every purpose that used it (retention_ended). Asked for every field, those are left out of the answer instead.",
                    "parameters": [
                        id_param(),
                        { "name": "purpose", "in": "query", "required": true, "description": "Purpose key", "schema": { "type": "string", "minLength": 1 } },
                        { "name": "fields", "in": "query", "description": "Comma-separated field keys; default: every field of the purpose", "schema": { "type": "string" } }
                    ],
                    "responses": { "200": ok("The allowed fields", "SubjectView") }
                }), &[("400", "Missing purpose or malformed id"), ("404", "No such subject")]),
                "patch": authed(json!({
                    "summary": "Rectify fields",
                    "description": "Each value replaces the stored one; null erases the field. The audit records fingerprints of old and new values, never the values.",
                    "parameters": [ id_param() ],
                    "requestBody": body("Rectify"),
                    "responses": { "200": ok("Rectified", "Rectified") }
                }), &[("400", "Malformed JSON or id"), ("404", "No such subject"), ("409", "Identifier held by another subject, or concurrent change"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Undeclared field or invalid value")])
            },
            "/api/v1/subjects/{id}/audit": { "get": authed(json!({
                "summary": "Audit events about a subject",
                "parameters": [ id_param() ],
                "responses": { "200": ok("Events, oldest first", "AuditEvents") }
            }).as_object().map(|o| { let mut o = o.clone(); if let Some(Value::Array(p)) = o.get_mut("parameters") { if let Value::Array(extra) = page_params() { p.extend(extra); } } Value::Object(o) }).unwrap_or_default(), &[("400", "Malformed id or paging")]) },
            "/api/v1/lookup": { "post": authed(json!({
                "summary": "Find subjects by an identifier (blind index), for a purpose",
                "description": "The field must be declared with lookup = true and used by the purpose. The identifier travels in the body, never in the URL.",
                "requestBody": body("LookupRequest"),
                "responses": { "200": ok("Matching subjects", "LookupResult") }
            }), &[("400", "Malformed JSON"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Field not searchable or invalid value")]) },
            "/api/v1/audit": { "get": authed(json!({
                "summary": "The audit chain",
                "parameters": page_params(),
                "responses": { "200": ok("Events, oldest first", "AuditEvents") }
            }), &[("400", "Malformed paging")]) },
            "/api/v1/audit/status": { "get": authed(json!({
                "summary": "The audit chain's state: verified up to which event, checkpoints and their export, the last whole-chain verification (admin, dpo, auditor)",
                "responses": { "200": ok("The state", "AuditStatus") }
            }), &[]) },
            "/api/v1/tokens": {
                "post": authed(json!({
                    "summary": "Create an API token (admin)",
                    "requestBody": body("TokenCreate"),
                    "responses": { "201": ok("The token, shown once", "TokenCreated") }
                }), &[("400", "Malformed JSON"), ("413", "Body too large"), ("415", "Not JSON"), ("422", "Unknown role or purpose, or a life out of bounds")]),
                "get": authed(json!({
                    "summary": "Every token, revoked and expired ones included: name, role, purposes, created, expires, last used (admin)",
                    "responses": { "200": ok("The tokens, oldest first", "Tokens") }
                }), &[])
            },
            "/api/v1/policy/consent-impact": { "get": authed(json!({
                "summary": "The purposes a change between two recorded versions needs fresh consent for, each with the subjects whose consent holds now and those of them the new terms leave uncovered (admin, dpo, auditor)",
                "parameters": [
                    { "name": "from", "in": "query", "schema": { "type": "string" } },
                    { "name": "to", "in": "query", "schema": { "type": "string" } },
                    { "name": "lang", "in": "query", "schema": { "enum": ["kk", "ru", "en"] } }
                ],
                "responses": { "200": ok("The purposes and counts", "ConsentImpact") }
            }), &[("400", "Malformed query"), ("404", "`from` or `to` is not a recorded version"), ("422", "Unknown lang")]) },
            "/api/v1/jobs": { "get": authed(json!({
                "summary": "The periodic jobs (webhook delivery, package sweep, audit checkpoints and verification, outbox sweep, token use, key reload), each with what it does and its last run (admin)",
                "responses": { "200": ok("Every job derbes knows, run or not", "Jobs") }
            }), &[]) },
            "/api/v1/tokens/{id}": { "delete": authed(json!({
                "summary": "Revoke a token, at once in every derbes process (admin); a token cannot revoke itself",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string", "format": "uuid" } }],
                "responses": { "200": ok("The token as it is now", "Token") }
            }), &[("400", "Malformed id"), ("404", "No such token"), ("409", "The token asking is the one to revoke")]) }
        },
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "schemas": {
                "Problem": { "type": "object", "required": ["type", "title", "status", "detail"], "properties": {
                    "type": { "type": "string", "description": "Stable identifier, urn:derbes:problem:<kind>" },
                    "title": { "type": "string" }, "status": { "type": "integer" }, "detail": { "type": "string" },
                    "errors": { "type": "array", "items": { "type": "object", "properties": { "field": { "type": "string" }, "message": { "type": "string" } } } },
                    "reasons": { "type": "array", "items": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } },
                    "problems": { "type": "array", "description": "Why a consent action was refused", "items": { "type": "object", "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } },
                    "existing_subject_id": { "type": "string", "format": "uuid" }
                }},
                "Health": { "type": "object", "required": ["status", "backend", "declaration_version", "audit_chain"], "properties": {
                    "status": { "enum": ["ok", "audit_chain_broken"] }, "backend": { "enum": ["sqlite", "postgres"] }, "declaration_version": { "type": "string" },
                    "audit_chain": { "enum": ["intact", "broken", "unverified"] } } },
                "ConsentImpact": { "type": "object", "required": ["from", "to", "purposes"], "properties": {
                    "from": { "type": "string" }, "to": { "type": "string" },
                    "purposes": { "type": "array", "items": { "type": "object", "required": ["purpose", "label", "reasons", "items", "holding", "to_ask_again"], "properties": {
                        "purpose": { "type": "string" }, "label": { "type": "string" },
                        "reasons": { "type": "array", "items": { "type": "string" } },
                        "items": { "type": "array", "items": { "type": "string" }, "description": "What a consent to the old terms does not cover, as decisions name it: field:<key>, recipient:<key>, cross_border_transfer, publication" },
                        "holding": { "type": "integer", "minimum": 0, "description": "Subjects whose consent holds now" },
                        "to_ask_again": { "type": "integer", "minimum": 0, "description": "Of those, the subjects whose consent does not cover the new terms" } } } } } },
                "AuditStatus": { "type": "object", "required": ["chain"], "properties": {
                    "chain": { "enum": ["intact", "broken", "unverified"] },
                    "problem": { "type": "string", "description": "What does not verify, when broken" },
                    "verified_through": { "type": "integer", "description": "The event the writer verified and appends after" },
                    "last_checkpoint": { "type": "integer" },
                    "checkpoint_file": { "type": "string" },
                    "last_exported_checkpoint": { "type": "object", "required": ["n", "seq", "at"], "properties": {
                        "n": { "type": "integer" }, "seq": { "type": "integer" }, "at": { "type": "string", "format": "date-time" } } },
                    "export_problem": { "type": "string" },
                    "last_verification": { "type": "object", "required": ["at", "result"], "properties": {
                        "at": { "type": "string", "format": "date-time" }, "result": { "enum": ["intact", "broken"] },
                        "events": { "type": "integer" }, "problem": { "type": "string" } } } } },
                "Declaration": { "type": "object", "required": ["version", "effective_from", "storage_country", "operator", "subject_categories", "fields", "purposes"] },
                "FieldValues": { "type": "object", "description": "Field key → value. Values are strings (dates as YYYY-MM-DD).", "additionalProperties": { "type": "string" } },
                "SubjectCreate": { "type": "object", "additionalProperties": false, "required": ["category", "fields"], "properties": {
                    "category": { "type": "string" },
                    "fields": { "type": "object", "minProperties": 1, "additionalProperties": { "type": "string" }, "description": "Field key → value (at least one). Values are strings (dates as YYYY-MM-DD)." } } },
                "SubjectCreated": { "type": "object", "required": ["id", "category", "fields", "created_at"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "category": { "type": "string" },
                    "fields": { "type": "array", "items": { "type": "string" } }, "created_at": { "type": "string", "format": "date-time" } } },
                "SubjectView": { "type": "object", "required": ["id", "category", "purpose", "legal_basis", "fields"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "category": { "type": "string" }, "purpose": { "type": "string" },
                    "legal_basis": { "enum": ["consent", "contract", "legal_duty", "vital_interest", "legitimate_interest"] },
                    "consent_id": { "$ref": "#/components/schemas/Uuid", "description": "The consent the read rests on (consent-based purposes)" },
                    "confirmation_due": { "type": "boolean", "description": "The consent was given by a representative and the subject has come of age: ask the subject to confirm it" },
                    "fields": { "$ref": "#/components/schemas/FieldValues" } } },
                "Rectify": { "type": "object", "additionalProperties": false, "required": ["fields"], "properties": {
                    "fields": { "type": "object", "minProperties": 1, "additionalProperties": { "type": ["string", "null"] } } } },
                "Rectified": { "type": "object", "required": ["id", "version", "changed"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "version": { "type": "integer" },
                    "changed": { "type": "array", "items": { "type": "string" } } } },
                "LookupRequest": { "type": "object", "additionalProperties": false, "required": ["field", "value", "purpose"], "properties": {
                    "field": { "type": "string" }, "value": { "type": "string" }, "purpose": { "type": "string" } } },
                "LookupResult": { "type": "object", "required": ["subjects"], "properties": {
                    "subjects": { "type": "array", "items": { "type": "object", "required": ["id", "category"], "properties": {
                        "id": { "type": "string", "format": "uuid" }, "category": { "type": "string" } } } } } },
                "AuditEvent": { "type": "object", "required": ["seq", "at", "actor", "action", "fields", "outcome", "hash"], "properties": {
                    "seq": { "type": "integer" }, "at": { "type": "string", "format": "date-time" }, "actor": { "type": "string" },
                    "action": { "type": "string" }, "subject_id": { "type": ["string", "null"] }, "purpose": { "type": ["string", "null"] },
                    "fields": { "type": "array", "items": { "type": "string" } }, "outcome": { "enum": ["ok", "allowed", "denied"] },
                    "reason": { "type": ["string", "null"] }, "details": { "type": ["string", "null"], "description": "JSON with non-personal facts" },
                    "hash": { "type": "string", "pattern": "^[0-9a-f]{64}$", "description": "HMAC-SHA256, under a key of the key file, over the event and the hash of the event before it" } } },
                "AuditEvents": { "type": "object", "required": ["events"], "properties": {
                    "events": { "type": "array", "items": { "$ref": "#/components/schemas/AuditEvent" } } } },
                "TokenCreate": { "type": "object", "additionalProperties": false, "required": ["name", "role"], "properties": {
                    "name": { "type": "string", "minLength": 1, "maxLength": 100 },
                    "role": { "enum": ["admin", "dpo", "staff", "auditor", "integration"] },
                    "purposes": { "type": "array", "items": { "type": "string" }, "description": "Required for staff and integration, forbidden otherwise" },
                    "expires_in_days": { "type": ["integer", "null"], "minimum": 1, "maximum": 3660, "description": "Days the token lives; null: it does not expire; left out: 365 for integration tokens, none for the others (configurable)" } } },
                "Token": { "type": "object", "required": ["id", "name", "role", "purposes", "created_at", "status"], "properties": {
                    "id": { "type": "string", "format": "uuid" }, "name": { "type": "string" }, "role": { "type": "string" },
                    "purposes": { "type": "array", "items": { "type": "string" } },
                    "created_at": { "type": "string", "format": "date-time" },
                    "status": { "enum": ["active", "expired", "revoked"] },
                    "expires_at": { "type": "string", "format": "date-time" },
                    "revoked_at": { "type": "string", "format": "date-time" },
                    "last_used_at": { "type": "string", "format": "date-time", "description": "To the minute" } } },
                "Jobs": { "type": "object", "required": ["jobs"], "properties": {
                    "jobs": { "type": "array", "items": { "type": "object", "required": ["name", "does"], "properties": {
                        "name": { "type": "string" }, "does": { "type": "string" },
                        "last_run": { "$ref": "#/components/schemas/JobRun" } } } } } },
                "JobRun": { "type": "object", "required": ["name", "every_seconds", "started_at", "finished_at", "outcome", "detail", "next_run_at", "runs", "failures"], "properties": {
                    "name": { "type": "string" },
                    "every_seconds": { "type": "integer", "minimum": 1 },
                    "started_at": { "type": "string", "format": "date-time" },
                    "finished_at": { "type": "string", "format": "date-time" },
                    "outcome": { "enum": ["done", "idle", "skipped", "failed"] },
                    "detail": { "type": "string", "description": "What the run did, or why it failed or was skipped; empty when idle" },
                    "next_run_at": { "type": "string", "format": "date-time" },
                    "runs": { "type": "integer", "minimum": 1 },
                    "failures": { "type": "integer", "minimum": 0 } } },
                "Tokens": { "type": "object", "required": ["tokens"], "properties": {
                    "tokens": { "type": "array", "items": { "$ref": "#/components/schemas/Token" } } } },
                "TokenCreated": { "type": "object", "required": ["token", "id", "name", "role", "purposes", "created_at", "status"], "properties": {
                    "token": { "type": "string", "description": "Shown once; derbes keeps only its digest" },
                    "id": { "type": "string", "format": "uuid" }, "name": { "type": "string" }, "role": { "type": "string" },
                    "purposes": { "type": "array", "items": { "type": "string" } },
                    "created_at": { "type": "string", "format": "date-time" },
                    "status": { "enum": ["active"] },
                    "expires_at": { "type": "string", "format": "date-time" },
                    "note": { "type": "string" } } }
            }
        }
    })
}

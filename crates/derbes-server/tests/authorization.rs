//! Who may do what, route by route: every route of the API × every role × a subject in the
//! purpose-bound tokens' reach (a student, for staff and an integration acting for `education`
//! and `extracurricular`) and one outside it (a job candidate) → the status the caller gets.
//! The table is the test: a route without an entry fails it.
#![allow(clippy::unwrap_used)]

use derbes_core::identifiers::{Iin, Sex};
use derbes_server::ROUTES;
use derbes_service::Role;
use derbes_store::testing::{run_suite, Case, TestDb};
use serde_json::{json, Value};
use std::process::ExitCode;
use std::sync::Arc;

mod common;
use common::*;

/// admin, dpo, staff, auditor, integration.
const ROLES: [Role; 5] = [
    Role::Admin,
    Role::Dpo,
    Role::Staff,
    Role::Auditor,
    Role::Integration,
];

/// What a call gets, by role (admin, dpo, staff, auditor, integration).
#[derive(Clone, Copy)]
enum Expect {
    /// A public route: the same answer for everyone, token or not, and never a refusal.
    Public,
    Status([u16; 5]),
}
use Expect::{Public, Status};

/// The table: (method, route), then the statuses for the subject in reach, and for the one
/// outside it.
const TABLE: &[(&str, &str, Expect, Expect)] = &[
    ("get", "/api/v1/health", Public, Public),
    ("get", "/api/v1/openapi.json", Public, Public),
    ("get", "/api/v1/declaration", Public, Public),
    ("get", "/policy", Public, Public),
    ("get", "/policy/versions", Public, Public),
    ("get", "/policy/changes", Public, Public),
    ("get", "/policy/versions/{version}", Public, Public),
    ("get", "/policy/documents/{document}", Public, Public),
    (
        "get",
        "/.well-known/derbes-receipt-keys.json",
        Public,
        Public,
    ),
    ("post", "/api/v1/webhooks/jobs/{id}", Public, Public),
    (
        "post",
        "/api/v1/subjects",
        Status([201, 201, 201, 403, 201]),
        Status([201, 201, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "patch",
        "/api/v1/subjects/{id}",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}/audit",
        Status([200, 200, 403, 200, 403]),
        Status([200, 200, 403, 200, 403]),
    ),
    (
        "post",
        "/api/v1/lookup",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 200, 403, 200]),
    ),
    (
        "get",
        "/api/v1/audit",
        Status([200, 200, 403, 200, 403]),
        Status([200, 200, 403, 200, 403]),
    ),
    (
        "get",
        "/api/v1/audit/status",
        Status([200, 200, 403, 200, 403]),
        Status([200, 200, 403, 200, 403]),
    ),
    (
        "get",
        "/api/v1/policy/consent-impact",
        Status([200, 200, 403, 200, 403]),
        Status([200, 200, 403, 200, 403]),
    ),
    (
        "post",
        "/api/v1/tokens",
        Status([201, 403, 403, 403, 403]),
        Status([201, 403, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/tokens",
        Status([200, 403, 403, 403, 403]),
        Status([200, 403, 403, 403, 403]),
    ),
    (
        "delete",
        "/api/v1/tokens/{id}",
        Status([200, 403, 403, 403, 403]),
        Status([200, 403, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/jobs",
        Status([200, 403, 403, 403, 403]),
        Status([200, 403, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/retention",
        Status([200, 200, 403, 200, 403]),
        Status([200, 200, 403, 200, 403]),
    ),
    (
        "get",
        "/api/v1/retention/holds",
        Status([200, 200, 403, 403, 403]),
        Status([200, 200, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/retention/batches",
        Status([200, 200, 403, 200, 403]),
        Status([200, 200, 403, 200, 403]),
    ),
    // Nothing has expired: refused for the rule, by those who may propose.
    (
        "post",
        "/api/v1/retention/batches",
        Status([422, 422, 403, 403, 403]),
        Status([422, 422, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/retention/batches/{id}",
        Status([404, 404, 403, 404, 403]),
        Status([404, 404, 403, 404, 403]),
    ),
    (
        "post",
        "/api/v1/retention/batches/{id}/approve",
        Status([404, 404, 403, 403, 403]),
        Status([404, 404, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/retention/batches/{id}/act",
        Status([404, 404, 403, 404, 403]),
        Status([404, 404, 403, 404, 403]),
    ),
    (
        "get",
        "/api/v1/retention/acts",
        Status([200, 200, 403, 200, 403]),
        Status([200, 200, 403, 200, 403]),
    ),
    (
        "get",
        "/api/v1/retention/depersonalized/{rule}",
        Status([200, 200, 403, 403, 403]),
        Status([200, 200, 403, 403, 403]),
    ),
    (
        "post",
        "/api/v1/decisions",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 200, 403, 200]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}/consents",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "post",
        "/api/v1/subjects/{id}/consents",
        Status([201, 201, 201, 403, 201]),
        Status([201, 201, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}/representatives",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "post",
        "/api/v1/subjects/{id}/representatives",
        Status([201, 201, 201, 403, 201]),
        Status([201, 201, 404, 403, 404]),
    ),
    (
        "delete",
        "/api/v1/subjects/{id}/representatives/{representative_id}",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}/flags",
        Status([200, 200, 200, 403, 403]),
        Status([200, 200, 404, 403, 403]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}/lifecycle",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "post",
        "/api/v1/subjects/{id}/lifecycle",
        Status([201, 201, 201, 403, 201]),
        Status([201, 201, 404, 403, 404]),
    ),
    (
        "put",
        "/api/v1/subjects/{id}/block",
        Status([200, 200, 200, 403, 403]),
        Status([200, 200, 404, 403, 403]),
    ),
    // A block (set for a verification, say) is lifted by those who answer for the data.
    (
        "delete",
        "/api/v1/subjects/{id}/block",
        Status([200, 200, 403, 403, 403]),
        Status([200, 200, 403, 403, 403]),
    ),
    // Out of reach, the restriction is of `recruitment`, a purpose the staff token does not act for.
    (
        "put",
        "/api/v1/subjects/{id}/restrictions/{purpose}",
        Status([200, 200, 200, 403, 403]),
        Status([200, 200, 403, 403, 403]),
    ),
    (
        "delete",
        "/api/v1/subjects/{id}/restrictions/{purpose}",
        Status([200, 200, 200, 403, 403]),
        Status([200, 200, 403, 403, 403]),
    ),
    // `extracurricular` does not process candidates: nothing of it can be held for one.
    (
        "put",
        "/api/v1/subjects/{id}/obligations/{purpose}",
        Status([200, 200, 200, 403, 403]),
        Status([422, 422, 404, 403, 403]),
    ),
    (
        "delete",
        "/api/v1/subjects/{id}/obligations/{purpose}",
        Status([200, 200, 200, 403, 403]),
        Status([422, 422, 404, 403, 403]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}/consents/{consent_id}/receipt",
        Status([200, 200, 200, 403, 200]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "post",
        "/api/v1/requests",
        Status([201, 201, 201, 403, 201]),
        Status([201, 201, 404, 403, 404]),
    ),
    (
        "get",
        "/api/v1/requests",
        Status([200, 200, 200, 200, 403]),
        Status([200, 200, 200, 200, 403]),
    ),
    // An integration reaches only the requests it filed itself.
    (
        "get",
        "/api/v1/requests/{id}",
        Status([200, 200, 200, 200, 404]),
        Status([200, 200, 404, 200, 404]),
    ),
    (
        "post",
        "/api/v1/requests/{id}/steps",
        Status([200, 200, 200, 403, 404]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "post",
        "/api/v1/requests/{id}/verification/code",
        Status([200, 200, 200, 403, 404]),
        Status([200, 200, 404, 403, 404]),
    ),
    (
        "post",
        "/api/v1/requests/{id}/verification/code/check",
        Status([409, 409, 409, 403, 404]),
        Status([409, 409, 404, 403, 404]),
    ),
    (
        "post",
        "/api/v1/requests/{id}/verification/document",
        Status([200, 200, 200, 403, 403]),
        Status([200, 200, 404, 403, 403]),
    ),
    // Not built yet (the request is not approved): gone for those who may have it.
    (
        "get",
        "/api/v1/requests/{id}/package",
        Status([410, 410, 403, 403, 404]),
        Status([410, 410, 403, 403, 404]),
    ),
    (
        "get",
        "/api/v1/requests/{id}/answer",
        Status([200, 200, 403, 403, 403]),
        Status([200, 200, 403, 403, 403]),
    ),
    (
        "get",
        "/api/v1/subjects/{id}/destruction",
        Status([404, 404, 403, 404, 403]),
        Status([404, 404, 403, 404, 403]),
    ),
];

/// A new adult's IIN (born in 2000) at each call.
fn adult_iin() -> String {
    static NEXT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);
    let birth = time::Date::from_calendar_date(2000, time::Month::March, 3).unwrap();
    loop {
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(iin) = Iin::compose(birth, Sex::Female, serial) {
            return iin.as_str().to_owned();
        }
    }
}

/// What a case acts on, made by the admin before the call.
struct Fixture {
    subject: String,
    iin: String,
    category: &'static str,
    /// A purpose that processes the subject's category and rests on consent.
    consent_purpose: &'static str,
    /// A purpose that processes the subject's category.
    read_purpose: &'static str,
    parent: String,
    consent: String,
    request: String,
}

async fn fixture(s: &Server, in_reach: bool, n: u32) -> Fixture {
    let (category, consent_purpose, read_purpose) = if in_reach {
        ("student", "extracurricular", "education")
    } else {
        ("candidate", "recruitment", "recruitment")
    };
    let iin = adult_iin();
    let r = s
        .post(
            "/api/v1/subjects",
            &s.admin,
            json!({ "category": category, "fields": { "surname": "Мұқанова", "iin": iin, "email": format!("s{n}@mail.kz") } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let subject = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            "/api/v1/subjects",
            &s.admin,
            json!({ "category": "legal_representative", "fields": { "surname": "Мұқанов" } }),
        )
        .await;
    let parent = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            &format!("/api/v1/subjects/{subject}/representatives"),
            &s.admin,
            link(&parent),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = s
        .post(
            &format!("/api/v1/subjects/{subject}/consents"),
            &s.admin,
            json!({ "purpose": consent_purpose, "action": "give", "method": { "kind": "web" } }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let consent = r.body["id"].as_str().unwrap().to_owned();
    let r = s
        .post(
            "/api/v1/requests",
            &s.admin,
            json!({ "kind": "access_export", "subject_id": subject, "channel": "paper", "language": "ru" }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let request = r.body["id"].as_str().unwrap().to_owned();
    Fixture {
        subject,
        iin,
        category,
        consent_purpose,
        read_purpose,
        parent,
        consent,
        request,
    }
}

fn link(parent: &str) -> Value {
    json!({ "representative_id": parent, "relation": "parent",
            "documents": [{ "kind": "birth_certificate", "sha256": "b1".repeat(32) }] })
}

/// The call a route gets in a case: (method, path, body), after what the admin sets up for it.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per route of the authorization matrix"
)]
async fn call_for(
    s: &Server,
    method: &str,
    route: &str,
    f: &Fixture,
) -> (String, String, Option<Value>) {
    let id = &f.subject;
    let rq = &f.request;
    let restricted = if f.category == "student" {
        "education"
    } else {
        "recruitment"
    };
    let (path, body): (String, Option<Value>) = match (method, route) {
        ("get", "/policy/versions/{version}") => ("/policy/versions/2025.1".into(), None),
        ("get", "/policy/documents/{document}") => ("/policy/documents/data-list".into(), None),
        ("get", "/policy/changes") => ("/policy/changes?from=2025.1&to=2025.1".into(), None),
        ("post", "/api/v1/webhooks/jobs/{id}") => (
            format!("/api/v1/webhooks/jobs/{rq}"),
            Some(json!({ "job_id": rq, "status": "done" })),
        ),
        ("post", "/api/v1/subjects") => (
            route.into(),
            Some(json!({ "category": f.category, "fields": { "surname": "Жаңа" } })),
        ),
        ("get", "/api/v1/subjects/{id}") => (
            format!("/api/v1/subjects/{id}?purpose={}", f.read_purpose),
            None,
        ),
        ("patch", "/api/v1/subjects/{id}") => (
            format!("/api/v1/subjects/{id}"),
            Some(json!({ "fields": { "surname": "Жаңаева" } })),
        ),
        ("post", "/api/v1/lookup") => (
            route.into(),
            Some(json!({ "field": "iin", "value": f.iin, "purpose": "education" })),
        ),
        ("post", "/api/v1/tokens") => (
            route.into(),
            Some(json!({ "name": "an auditor", "role": "auditor" })),
        ),
        ("delete", "/api/v1/tokens/{id}") => {
            let r = s
                .post(
                    "/api/v1/tokens",
                    &s.admin,
                    json!({ "name": "to revoke", "role": "auditor" }),
                )
                .await;
            (
                format!("/api/v1/tokens/{}", r.body["id"].as_str().unwrap()),
                None,
            )
        }
        ("post", "/api/v1/decisions") => (
            route.into(),
            Some(json!({ "subject_id": id, "purpose": f.read_purpose })),
        ),
        ("post", "/api/v1/subjects/{id}/consents") => (
            format!("/api/v1/subjects/{id}/consents"),
            Some(
                json!({ "purpose": f.consent_purpose, "action": "renew", "method": { "kind": "web" } }),
            ),
        ),
        ("post", "/api/v1/subjects/{id}/representatives") => {
            let r = s
                .post("/api/v1/subjects", &s.admin, json!({ "category": "legal_representative", "fields": { "surname": "Екінші" } }))
                .await;
            (
                format!("/api/v1/subjects/{id}/representatives"),
                Some(link(r.body["id"].as_str().unwrap())),
            )
        }
        ("delete", "/api/v1/subjects/{id}/representatives/{representative_id}") => (
            format!("/api/v1/subjects/{id}/representatives/{}", f.parent),
            None,
        ),
        ("put", "/api/v1/subjects/{id}/block") => (
            format!("/api/v1/subjects/{id}/block"),
            Some(json!({ "reason": "accuracy_contested" })),
        ),
        ("delete", "/api/v1/subjects/{id}/block") => {
            s.put(
                &format!("/api/v1/subjects/{id}/block"),
                &s.admin,
                json!({ "reason": "accuracy_contested" }),
            )
            .await;
            (
                format!("/api/v1/subjects/{id}/block?reason=subject_request"),
                None,
            )
        }
        ("put", "/api/v1/subjects/{id}/restrictions/{purpose}") => (
            format!("/api/v1/subjects/{id}/restrictions/{restricted}"),
            Some(json!({ "reason": "objection" })),
        ),
        ("delete", "/api/v1/subjects/{id}/restrictions/{purpose}") => {
            let path = format!("/api/v1/subjects/{id}/restrictions/{restricted}");
            s.put(&path, &s.admin, json!({ "reason": "objection" }))
                .await;
            (format!("{path}?reason=subject_request"), None)
        }
        ("put", "/api/v1/subjects/{id}/obligations/{purpose}") => (
            format!("/api/v1/subjects/{id}/obligations/extracurricular"),
            Some(json!({ "note": "экскурсия" })),
        ),
        ("delete", "/api/v1/subjects/{id}/obligations/{purpose}") => {
            let path = format!("/api/v1/subjects/{id}/obligations/extracurricular");
            s.put(&path, &s.admin, json!({})).await;
            (path, None)
        }
        ("post", "/api/v1/subjects/{id}/lifecycle") => (
            format!("/api/v1/subjects/{id}/lifecycle"),
            Some(
                json!({ "kind": "relationship_ended", "reason": "окончил школу",
                "on": s.state.app.vault.today().to_string() }),
            ),
        ),
        ("get", "/api/v1/subjects/{id}/consents/{consent_id}/receipt") => (
            format!("/api/v1/subjects/{id}/consents/{}/receipt", f.consent),
            None,
        ),
        ("post", "/api/v1/retention/batches") => {
            (route.into(), Some(json!({ "rule": "student_records" })))
        }
        ("post", "/api/v1/requests") => (
            route.into(),
            Some(
                json!({ "kind": "information", "subject_id": id, "channel": "paper", "language": "kk" }),
            ),
        ),
        ("post", "/api/v1/requests/{id}/steps") => (
            format!("/api/v1/requests/{rq}/steps"),
            Some(json!({ "step": "withdraw" })),
        ),
        ("post", "/api/v1/requests/{id}/verification/code/check") => (
            format!("/api/v1/requests/{rq}/verification/code/check"),
            Some(json!({ "code": "123456" })),
        ),
        ("post", "/api/v1/requests/{id}/verification/document") => (
            format!("/api/v1/requests/{rq}/verification/document"),
            Some(json!({ "document": "id_card" })),
        ),
        ("post", "/api/v1/requests/{id}/verification/code") => (
            format!("/api/v1/requests/{rq}/verification/code"),
            Some(json!({})),
        ),
        (_, r) if r.starts_with("/api/v1/requests/{id}") => (r.replace("{id}", rq), None),
        (_, r) => (
            r.replace("{id}", id).replace("{rule}", "analytics_data"),
            None,
        ),
    };
    (method.to_uppercase(), path, body)
}

/// A token of each role, in the order of `ROLES`; staff and the integration act for
/// `education` and `extracurricular`.
async fn tokens_of_every_role(s: &Server) -> Vec<String> {
    let purposes = ["education", "extracurricular"];
    let mut tokens = Vec::new();
    for role in ROLES {
        tokens.push(match role {
            Role::Admin => s.admin.clone(),
            Role::Staff | Role::Integration => s.token(role, &purposes).await,
            other => s.token(other, &[]).await,
        });
    }
    tokens
}

/// Every route × every role × in and out of reach, as the table says.
fn every_route_answers_every_role_as_the_table_says(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let tokens = tokens_of_every_role(&s).await;
        let mut n = 0;
        let mut wrong = Vec::new();
        for (method, route) in ROUTES.iter() {
            let Some(&(_, _, inside, outside)) =
                TABLE.iter().find(|(m, r, _, _)| m == method && r == route)
            else {
                panic!("route {method} {route} has no entry in the authorization table");
            };
            for (in_reach, expect) in [(true, inside), (false, outside)] {
                let mut public: Option<u16> = None;
                for (i, role) in ROLES.iter().enumerate() {
                    n += 1;
                    let f = fixture(&s, in_reach, n).await;
                    let (m, path, body) = call_for(&s, method, route, &f).await;
                    let token = match expect {
                        // Public routes: asked without a token.
                        Public => None,
                        Status(_) => Some(tokens[i].as_str()),
                    };
                    let r = s.call(&m, &path, token, body.map(Body::Json)).await;
                    let ok = match expect {
                        Public => {
                            let same = *public.get_or_insert(r.status) == r.status;
                            same && r.status < 500 && r.status != 403
                        }
                        Status(codes) => r.status == codes[i],
                    };
                    if !ok {
                        wrong.push(format!(
                            "{m} {route} as {role} ({}): got {} {}",
                            if in_reach { "in reach" } else { "out of reach" },
                            r.status,
                            r.body
                        ));
                    }
                    // A decision about a subject out of reach reads as about no subject.
                    if *method == "post" && *route == "/api/v1/decisions" && r.status == 200 {
                        let code = r.body["reasons"][0]["code"].as_str().unwrap_or("");
                        let hidden = !in_reach && matches!(role, Role::Staff | Role::Integration);
                        if hidden != (code == "subject_not_found") {
                            wrong.push(format!(
                                "decision as {role} (in reach: {in_reach}): {}",
                                r.body
                            ));
                        }
                    }
                }
            }
        }
        for (m, r, _, _) in TABLE {
            assert!(
                ROUTES.iter().any(|(rm, rr)| rm == m && rr == r),
                "the table has an entry for {m} {r}, which is not a route"
            );
        }
        assert!(
            wrong.is_empty(),
            "{} of {n} calls were answered otherwise:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
    })
}

/// An integration (the subject portal) filing for a requester reads its own request, words
/// included; staff see the register's facts; the words are never in another integration's
/// reach.
fn an_integration_reaches_the_requests_it_filed(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let portal = s.token(Role::Integration, &["education"]).await;
        let other = s.token(Role::Integration, &["education"]).await;
        let staff = s.token(Role::Staff, &["education"]).await;
        let f = fixture(&s, true, 900).await;
        let r = s
            .post(
                "/api/v1/requests",
                &portal,
                json!({ "kind": "complaint", "subject_id": f.subject, "channel": "online", "language": "kk", "details": "Менің деректерім дұрыс емес" }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/requests/{id}");
        assert_eq!(
            s.get(&path, &portal).await.body["details"],
            "Менің деректерім дұрыс емес"
        );
        assert_eq!(s.get(&path, &other).await.status, 404);
        let r = s.get(&path, &staff).await;
        assert_eq!(r.status, 200);
        assert!(r.body["details"].is_null(), "{}", r.body);
        assert_eq!(
            s.get(&path, &s.admin).await.body["details"],
            "Менің деректерім дұрыс емес"
        );
    })
}

/// Staff page through the requests about subjects their purposes reach: a page is full even
/// when requests out of reach come first, and the next one follows on.
fn staff_page_through_the_requests_they_reach(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let staff = s.token(Role::Staff, &["education"]).await;
        let mut reached = Vec::new();
        for (n, in_reach) in [
            (960, false),
            (961, false),
            (962, true),
            (963, false),
            (964, true),
        ] {
            let f = fixture(&s, in_reach, n).await;
            if in_reach {
                reached.push(f.request);
            }
        }
        let mut seen = Vec::new();
        let mut next = String::new();
        loop {
            let r = s
                .get(&format!("/api/v1/requests?limit=1{next}"), &staff)
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            let Some(first) = r.body.as_array().unwrap().first() else {
                break;
            };
            let id = first["id"].as_str().unwrap().to_owned();
            next = format!("&after={id}");
            seen.push(id);
        }
        assert_eq!(seen, reached);
    })
}

/// A link reaches only subjects in the actor's scope: a representative outside it is answered
/// as if there were none, and the attempt is audited; a link made by another stays.
fn a_link_reaches_no_representative_out_of_scope(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        // Recruitment processes candidates, not legal representatives.
        let hr = s.token(Role::Staff, &["recruitment"]).await;
        let f = fixture(&s, false, 950).await;
        let r = s
            .post(
                "/api/v1/subjects",
                &s.admin,
                json!({ "category": "legal_representative", "fields": { "surname": "Омаров" } }),
            )
            .await;
        let other = r.body["id"].as_str().unwrap().to_owned();
        let links = format!("/api/v1/subjects/{}/representatives", f.subject);
        let r = s.post(&links, &hr, link(&other)).await;
        assert_problem(&r, 422, "validation");
        assert_eq!(
            r.body["errors"][0]["field"], "representative_id",
            "{}",
            r.body
        );
        let r = s.delete(&format!("{links}/{}", f.parent), &hr).await;
        assert_eq!(r.status, 404, "{}", r.body);
        let r = s.get(&links, &s.admin).await;
        assert_eq!(
            each(&r.body["representatives"], "representative_id"),
            [f.parent.as_str()]
        );
        for id in [&other, &f.parent] {
            let r = s
                .get(&format!("/api/v1/subjects/{id}/audit"), &s.admin)
                .await;
            let refused = count_where(&r.body["events"], "reason", "outside_actor_scope");
            assert_eq!(refused, 1, "{}", r.body);
        }
    })
}

/// A token past its expiry is refused, and the refusal says so.
fn an_expired_token_is_refused(db: TestDb) -> Fut {
    Box::pin(async move {
        let offset = Arc::new(std::sync::atomic::AtomicI64::new(0));
        let clock_offset = Arc::clone(&offset);
        let s = Server::start_with_clock(
            &db,
            Arc::new(move || {
                time::OffsetDateTime::now_utc()
                    + time::Duration::days(clock_offset.load(std::sync::atomic::Ordering::Relaxed))
            }),
        )
        .await;
        let r = s
            .post(
                "/api/v1/tokens",
                &s.admin,
                json!({ "name": "portal", "role": "integration", "purposes": ["education"] }),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
        assert!(
            r.body["expires_at"].is_string(),
            "integration tokens expire by default: {}",
            r.body
        );
        let r = s
            .post("/api/v1/tokens", &s.admin, json!({ "name": "week", "role": "staff", "purposes": ["education"], "expires_in_days": 7 }))
            .await;
        let token = r.body["token"].as_str().unwrap().to_owned();
        let ask = || {
            s.post("/api/v1/decisions", &token, json!({ "subject_id": "00000000-0000-7000-8000-000000000000", "purpose": "education" }))
        };
        assert_eq!(ask().await.status, 200);
        offset.store(8, std::sync::atomic::Ordering::Relaxed);
        let r = ask().await;
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(
            r.body["detail"].as_str().unwrap().contains("expired"),
            "{}",
            r.body
        );
        let r = s
            .post("/api/v1/tokens", &s.admin, json!({ "name": "bad", "role": "staff", "purposes": ["education"], "expires_in_days": 0 }))
            .await;
        assert_eq!(r.status, 422, "{}", r.body);
        let listed = s.get("/api/v1/tokens", &s.admin).await;
        let statuses: Vec<&str> = listed.body["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["status"].as_str().unwrap())
            .collect();
        assert!(statuses.contains(&"expired"), "{statuses:?}");
        assert!(!listed.text.contains(&token), "a list never shows a token");
    })
}

/// A token revoked through one derbes process is refused by another on the same database, that
/// had just accepted (and may have cached) it: on SQLite at once, on PostgreSQL as soon as its
/// announcement arrives.
fn a_revocation_holds_in_every_process(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let store = derbes_store::open(&db.url, s.state.app.vault.keys() as derbes_store::Keys)
            .await
            .unwrap();
        let other =
            derbes_service::Vault::new(Arc::new(declaration()), s.state.app.vault.keys(), store);
        let other = derbes_service::App::new(other, derbes_service::Settings::default()).tokens;
        let journal = |name: &'static str| {
            other.create_token("test", name, Role::Staff, vec!["education".into()], None)
        };
        let created = journal("journal").await.unwrap();
        assert!(other.authenticate(&created.token).await.is_ok());
        assert!(other.authenticate(&created.token).await.is_ok());
        let r = s
            .delete(&format!("/api/v1/tokens/{}", created.view.id), &s.admin)
            .await;
        assert_eq!(
            (r.status, r.body["status"].as_str()),
            (200, Some("revoked")),
            "{}",
            r.body
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match other.authenticate(&created.token).await {
                Err(derbes_service::Unauthenticated::Invalid) => break,
                Ok(_) if db.backend == "postgres" && std::time::Instant::now() < deadline => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await
                }
                other => panic!("a revoked token was answered with {other:?}"),
            }
        }
        if db.backend == "sqlite" {
            // Without the revocation marker nothing is trusted from a cache: even a revocation
            // written into the database by hand (in the form derbes writes times) holds at once.
            let created = journal("journal 2").await.unwrap();
            assert!(other.authenticate(&created.token).await.is_ok());
            std::fs::remove_file(format!("{}-revocations", db.url)).unwrap();
            db.execute(&format!(
                "UPDATE tokens SET revoked_at = '2026-01-01T00:00:00.000000Z' WHERE id = '{}'",
                created.view.id
            ))
            .await;
            assert!(matches!(
                other.authenticate(&created.token).await,
                Err(derbes_service::Unauthenticated::Invalid)
            ));
        }
        // Revoking again answers with the token as it is.
        let r = s
            .delete(&format!("/api/v1/tokens/{}", created.view.id), &s.admin)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let r = s
            .delete(
                "/api/v1/tokens/00000000-0000-7000-8000-000000000000",
                &s.admin,
            )
            .await;
        assert_eq!(r.status, 404, "{}", r.body);
        // A token cannot revoke itself (its holder would be locked out).
        let listed = s.get("/api/v1/tokens", &s.admin).await;
        let own = listed.body["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "admin")
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let r = s.delete(&format!("/api/v1/tokens/{own}"), &s.admin).await;
        assert_eq!(r.status, 409, "{}", r.body);
        assert_eq!(s.get("/api/v1/tokens", &s.admin).await.status, 200);
    })
}

/// The service as a front end without HTTP (the console, the command line) calls it: every
/// protected route's operation, called directly with the same actor and input, is allowed or
/// refused exactly as the API answers it (the refusal mapped to its status by the API's own
/// mapping).
fn the_service_answers_every_actor_as_the_api_does(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let app = &s.state.app;
        let mut actors = Vec::new();
        for token in tokens_of_every_role(&s).await {
            actors.push(app.tokens.authenticate(&token).await.unwrap());
        }
        let (mut n, mut wrong) = (10_000, Vec::new());
        for (method, route, inside, outside) in TABLE {
            for (in_reach, expect) in [(true, inside), (false, outside)] {
                let Status(codes) = expect else { continue };
                for (i, actor) in actors.iter().enumerate() {
                    n += 1;
                    let f = fixture(&s, in_reach, n).await;
                    let (_, path, body) = call_for(&s, method, route, &f).await;
                    let got = match through_the_service(app, actor, route, &f, &path, body).await {
                        Ok(()) => None,
                        Err(e) => Some(derbes_server::ApiError::from(e).status.as_u16()),
                    };
                    let agrees = match got {
                        None => codes[i] < 300,
                        Some(status) => status == codes[i],
                    };
                    if !agrees {
                        wrong.push(format!(
                            "{method} {route} as {} (in reach: {in_reach}): the service answered {got:?}, the API {}",
                            actor.role, codes[i]
                        ));
                    }
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    })
}

/// The one service call behind `route`, with the input the API call of `call_for` carries.
#[allow(
    clippy::too_many_lines,
    reason = "one arm per protected route, as the authorization matrix lists them"
)]
async fn through_the_service(
    app: &derbes_service::App,
    actor: &derbes_service::Actor,
    route: &str,
    f: &Fixture,
    path: &str,
    body: Option<Value>,
) -> Result<(), derbes_service::VaultError> {
    use derbes_service::{FlagChange, RequestFilter};
    let id: uuid::Uuid = f.subject.parse().unwrap();
    let rq: uuid::Uuid = f.request.parse().unwrap();
    // The path's segments, without the query: "", "api", "v1", ...
    let seg = |i: usize| {
        path.split('?')
            .next()
            .unwrap()
            .split('/')
            .nth(i)
            .unwrap()
            .to_owned()
    };
    fn input<T: serde::de::DeserializeOwned>(b: Option<Value>) -> T {
        serde_json::from_value(b.unwrap()).unwrap()
    }
    let fields = |b: &Value| -> Vec<(String, Option<String>)> {
        b["fields"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
            .collect()
    };
    let v = &app.vault;
    match route {
        "/api/v1/subjects" if path == route => {
            let b = body.unwrap();
            let category = b["category"].as_str().unwrap();
            app.subjects
                .create_subject(actor, category, fields(&b), vec![])
                .await
                .map(drop)
        }
        "/api/v1/subjects/{id}" if body.is_none() => app
            .subjects
            .read_subject(actor, id, f.read_purpose, None)
            .await
            .map(drop),
        "/api/v1/subjects/{id}" => app
            .subjects
            .rectify(actor, id, fields(&body.unwrap()), vec![])
            .await
            .map(drop),
        "/api/v1/subjects/{id}/audit" => v.subject_history(actor, id, 0, 100).await.map(drop),
        "/api/v1/lookup" => app
            .subjects
            .lookup(actor, "iin", &f.iin, "education")
            .await
            .map(drop),
        "/api/v1/audit" => v.audit_events(actor, 0, 100).await.map(drop),
        "/api/v1/audit/status" => v.audit_status_for(actor).map(drop),
        "/api/v1/tokens" if body.is_some() => app
            .tokens
            .issue_token(actor, "an auditor", Role::Auditor, vec![], None)
            .await
            .map(drop),
        "/api/v1/tokens" => app.tokens.list_tokens(actor).await.map(drop),
        "/api/v1/tokens/{id}" => app
            .tokens
            .revoke_token(actor, seg(4).parse().unwrap())
            .await
            .map(drop),
        "/api/v1/jobs" => app.job_board(actor).await.map(drop),
        "/api/v1/retention" => app.retention.scan(actor, 30).await.map(drop),
        "/api/v1/retention/holds" => app.retention.legal_holds(actor).await.map(drop),
        "/api/v1/retention/batches" if body.is_some() => app
            .retention
            .propose_batch(actor, "student_records")
            .await
            .map(drop),
        "/api/v1/retention/batches" => app.retention.batches(actor).await.map(drop),
        "/api/v1/retention/batches/{id}" => app.retention.batch(actor, id).await.map(drop),
        "/api/v1/retention/batches/{id}/act" => app.retention.act(actor, id).await.map(drop),
        "/api/v1/retention/acts" => app.retention.acts(actor).await.map(drop),
        "/api/v1/retention/depersonalized/{rule}" => {
            app.retention.release(actor, &seg(5)).await.map(drop)
        }
        "/api/v1/retention/batches/{id}/approve" => {
            app.retention.approve_batch(actor, id).await.map(drop)
        }
        "/api/v1/policy/consent-impact" => app
            .policy
            .consent_impact(actor, None, None, derbes_core::text::Lang::En)
            .await
            .map(drop),
        "/api/v1/decisions" => app
            .decisions
            .decide_questions(actor, vec![input(body)])
            .await
            .map(drop),
        "/api/v1/subjects/{id}/consents" if body.is_some() => app
            .consents
            .record_consent(actor, id, input(body))
            .await
            .map(drop),
        "/api/v1/subjects/{id}/consents" => app.consents.consent_ledger(actor, id).await.map(drop),
        "/api/v1/subjects/{id}/representatives" if body.is_some() => app
            .consents
            .link_representative(actor, id, input(body))
            .await
            .map(drop),
        "/api/v1/subjects/{id}/representatives" => {
            app.consents.representatives(actor, id).await.map(drop)
        }
        "/api/v1/subjects/{id}/representatives/{representative_id}" => app
            .consents
            .unlink_representative(actor, id, f.parent.parse().unwrap())
            .await
            .map(drop),
        "/api/v1/subjects/{id}/flags" => app.consents.flags(actor, id).await.map(drop),
        "/api/v1/subjects/{id}/lifecycle" if body.is_some() => app
            .retention
            .record_lifecycle(actor, id, input(body))
            .await
            .map(drop),
        "/api/v1/subjects/{id}/lifecycle" => app.retention.lifecycle(actor, id).await.map(drop),
        "/api/v1/subjects/{id}/block" if body.is_some() => app
            .consents
            .set_flag(actor, id, None, FlagChange::Set(input(body)))
            .await
            .map(drop),
        "/api/v1/subjects/{id}/block" => app
            .consents
            .set_flag(
                actor,
                id,
                None,
                FlagChange::Lift(derbes_core::flags::FlagReason::SubjectRequest),
            )
            .await
            .map(drop),
        "/api/v1/subjects/{id}/restrictions/{purpose}" if body.is_some() => app
            .consents
            .set_flag(actor, id, Some(&seg(6)), FlagChange::Set(input(body)))
            .await
            .map(drop),
        "/api/v1/subjects/{id}/restrictions/{purpose}" => app
            .consents
            .set_flag(
                actor,
                id,
                Some(&seg(6)),
                FlagChange::Lift(derbes_core::flags::FlagReason::SubjectRequest),
            )
            .await
            .map(drop),
        "/api/v1/subjects/{id}/obligations/{purpose}" if body.is_some() => app
            .consents
            .set_obligation(actor, id, &seg(6), Some(input(body)))
            .await
            .map(drop),
        "/api/v1/subjects/{id}/obligations/{purpose}" => app
            .consents
            .set_obligation(actor, id, &seg(6), None)
            .await
            .map(drop),
        "/api/v1/subjects/{id}/consents/{consent_id}/receipt" => app
            .receipts
            .consent_receipt(actor, id, f.consent.parse().unwrap())
            .await
            .map(drop),
        // No record: the API answers 404, as for a subject never destroyed.
        "/api/v1/subjects/{id}/destruction" => app
            .destructions
            .destruction(actor, id)
            .await?
            .map(drop)
            .ok_or(derbes_service::VaultError::NotFound),
        "/api/v1/requests" if body.is_some() => app
            .requests
            .file_request(actor, input(body))
            .await
            .map(drop),
        "/api/v1/requests" => app
            .requests
            .requests(actor, RequestFilter::default())
            .await
            .map(drop),
        "/api/v1/requests/{id}" => app.requests.request(actor, rq).await.map(drop),
        "/api/v1/requests/{id}/steps" => app
            .requests
            .request_step(actor, rq, input(body))
            .await
            .map(drop),
        "/api/v1/requests/{id}/package" => app.requests.request_package(actor, rq).await.map(drop),
        "/api/v1/requests/{id}/answer" => app.requests.answer_preview(actor, rq).await.map(drop),
        "/api/v1/requests/{id}/verification/code" => {
            app.requests.send_request_code(actor, rq).await.map(drop)
        }
        "/api/v1/requests/{id}/verification/code/check" => app
            .requests
            .check_request_code(actor, rq, "123456")
            .await
            .map(drop),
        "/api/v1/requests/{id}/verification/document" => {
            let b = body.unwrap();
            let document = serde_json::from_value(b["document"].clone()).unwrap();
            app.requests
                .verify_request_by_document(actor, rq, document, None)
                .await
                .map(drop)
        }
        other => panic!("no service call for the protected route {other}; add it here"),
    }
}

/// The person accounts of the console (no API route: the console and the command line reach
/// them through the service): only administrators create, list, disable and reset them, as the
/// access table says; every other role is refused before anything is read or written.
fn account_actions_are_for_administrators(db: TestDb) -> Fut {
    Box::pin(async move {
        let s = Server::start(&db).await;
        let accounts = &s.state.app.accounts;
        for (role, token) in ROLES.iter().zip(tokens_of_every_role(&s).await) {
            let actor = s.state.app.tokens.authenticate(&token).await.unwrap();
            let login = format!("person-of-{role}");
            let spec = derbes_service::AccountSpec {
                login: login.clone(),
                display_name: "Әлия Серікова".into(),
                role: Role::Auditor,
                purposes: Vec::new(),
                lang: None,
                second_factor: None,
            };
            let status = |r: Result<(), derbes_service::VaultError>| match r {
                Ok(()) => 200,
                Err(e) => derbes_server::ApiError::from(e).status.as_u16(),
            };
            let answers = [
                status(accounts.create(&actor, spec).await.map(drop)),
                status(accounts.list(&actor).await.map(drop)),
                status(
                    accounts
                        .set_disabled(&actor, "person-of-admin", true)
                        .await
                        .map(drop),
                ),
                status(
                    accounts
                        .reset(&actor, "person-of-admin", false)
                        .await
                        .map(drop),
                ),
            ];
            let expected = if *role == Role::Admin { 200 } else { 403 };
            assert_eq!(answers, [expected; 4], "{role}");
        }
        let listed = accounts
            .list(&derbes_service::Actor::command_line("users"))
            .await
            .unwrap();
        assert_eq!(listed.len(), 1, "only the administrator's account was made");
    })
}

fn main() -> ExitCode {
    let cases: &[(&str, Case)] = &[
        (
            "every_route_answers_every_role_as_the_table_says",
            every_route_answers_every_role_as_the_table_says,
        ),
        (
            "the_service_answers_every_actor_as_the_api_does",
            the_service_answers_every_actor_as_the_api_does,
        ),
        (
            "an_integration_reaches_the_requests_it_filed",
            an_integration_reaches_the_requests_it_filed,
        ),
        (
            "a_link_reaches_no_representative_out_of_scope",
            a_link_reaches_no_representative_out_of_scope,
        ),
        (
            "staff_page_through_the_requests_they_reach",
            staff_page_through_the_requests_they_reach,
        ),
        ("an_expired_token_is_refused", an_expired_token_is_refused),
        (
            "a_revocation_holds_in_every_process",
            a_revocation_holds_in_every_process,
        ),
        (
            "account_actions_are_for_administrators",
            account_actions_are_for_administrators,
        ),
    ];
    run_suite("authorization", cases)
}

//! The webhook connectors: a request completes only once they confirm.

use super::*;

/// A message as the receiver got it: headers and body.
type Received = (axum::http::HeaderMap, Vec<u8>);

/// The operator's system behind a webhook: records what it receives and answers as told
/// (0: accepted, confirms later; 1: fails with 500; 2: done at once).
struct Receiver {
    url: String,
    got: Arc<std::sync::Mutex<Vec<Received>>>,
    mode: Arc<std::sync::atomic::AtomicU8>,
}

impl Receiver {
    async fn start() -> Self {
        use std::sync::atomic::Ordering;
        let got: Arc<std::sync::Mutex<Vec<Received>>> = Arc::default();
        let mode = Arc::new(std::sync::atomic::AtomicU8::new(0));
        let (g, m) = (Arc::clone(&got), Arc::clone(&mode));
        let app = axum::Router::new().route(
            "/derbes",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (g, m) = (Arc::clone(&g), Arc::clone(&m));
                    async move {
                        g.lock().unwrap().push((headers, body.to_vec()));
                        match m.load(Ordering::SeqCst) {
                            0 => (axum::http::StatusCode::ACCEPTED, "{}".to_owned()),
                            1 => (
                                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                                "down".to_owned(),
                            ),
                            _ => (
                                axum::http::StatusCode::OK,
                                r#"{"status":"done"}"#.to_owned(),
                            ),
                        }
                    }
                },
            ),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/derbes", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, got, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, std::sync::atomic::Ordering::SeqCst);
    }

    /// The messages received so far: (Idempotency-Key, signature, body as JSON, body).
    fn messages(&self) -> Vec<(String, String, Value, Vec<u8>)> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .map(|(h, b)| {
                let header = |n: &str| {
                    h.get(n)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned()
                };
                (
                    header("idempotency-key"),
                    header("x-derbes-signature"),
                    serde_json::from_slice(b).unwrap(),
                    b.clone(),
                )
            })
            .collect()
    }
}

/// A destruction and access requests with a webhook connector: the message is signed and sent
/// again with the same idempotency key until accepted, the request waits for the system's
/// signed confirmation, a refusal fails the action until it is sent again, and a system that
/// never answers is given up with the error shown.
#[allow(
    clippy::too_many_lines,
    reason = "a scenario read top to bottom; to be cut into short cases sharing fixtures"
)]
pub(super) fn webhooks_confirm_before_a_request_completes(db: TestDb) -> Fut {
    Box::pin(async move {
        use std::sync::atomic::{AtomicI64, Ordering};
        let (offset, clock) = shifted_clock();
        let now = |o: &AtomicI64| {
            time::OffsetDateTime::now_utc().unix_timestamp() + o.load(Ordering::SeqCst)
        };
        let receiver = Receiver::start().await;
        let secret_text = "lms-shared-secret-0123456789abcdef0123456789";
        let secret = derbes_crypto::WebhookSecret::from_text(secret_text).unwrap();
        let hook = derbes_service::Webhook {
            name: "lms".into(),
            url: receiver.url.clone(),
            secret: secret.clone(),
            events: vec![
                derbes_service::WebhookEvent::Access,
                derbes_service::WebhookEvent::Destruction,
            ],
            identify_by: vec!["iin".into()],
        };
        let s = Server::start_with(&db, clock, vec![hook]).await;
        let (admin, dpo) = (s.admin.clone(), s.token(Role::Dpo, &[]).await);
        let staff = s.token(Role::Staff, &["education"]).await;
        let iins: Vec<String> = (0..4u32)
            .map(|n| {
                iin_born(
                    time::Date::from_calendar_date(2001, time::Month::May, 4 + n as u8).unwrap(),
                    Sex::Male,
                )
            })
            .collect();
        let mut students = Vec::new();
        for iin in &iins {
            students.push(
                s.create_student_id(&admin, json!({ "surname": "Ахметов", "iin": iin }))
                    .await,
            );
        }
        let requests = &s.state.app.requests;

        // A destruction derbes refuses (an obligation is open) is announced to nobody.
        let obligation = format!(
            "/api/v1/subjects/{}/obligations/extracurricular",
            students[0]
        );
        assert_eq!(s.put(&obligation, &admin, json!({})).await.status, 200);
        let (destroy, r) = s
            .approved_request(&staff, &dpo, json!({ "kind": "destruction", "subject_id": students[0], "channel": "paper", "language": "kk" }))
            .await;
        assert_eq!(r.body["actions"][0]["status"], "failed", "{}", r.body);
        assert!(
            r.body["actions"][0]["note"]
                .as_str()
                .unwrap()
                .contains("obligation"),
            "{}",
            r.body
        );
        assert!(
            r.body["actions"][1]["note"]
                .as_str()
                .unwrap()
                .contains("obligation"),
            "{}",
            r.body
        );
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        assert_eq!(s.delete(&obligation, &admin).await.status, 200);

        // Destruction: the webhook is told, in a write of its own, before derbes shreds its copy.
        let r = s
            .post(
                &format!("/api/v1/requests/{destroy}/steps"),
                &dpo,
                json!({ "step": "run_actions" }),
            )
            .await;
        let kinds: Vec<&str> = each(&r.body["actions"], "kind");
        assert_eq!(kinds, ["webhook", "destroy", "answer"]);
        assert_eq!(r.body["actions"][0]["status"], "waiting", "{}", r.body);
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);
        let job = r.body["actions"][0]["job"].as_str().unwrap().to_owned();

        // The system is down: tried, then again after 30 s, with the same idempotency key.
        receiver.set(1);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        offset.store(31, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let got = receiver.messages();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].0.as_str(), got[1].0.as_str()),
            (job.as_str(), job.as_str())
        );
        let (_, signature, message, body) = &got[1];
        assert_eq!(message["event"], "destruction");
        assert_eq!(message["request_id"], destroy.as_str());
        // The identifiers were kept, sealed, from before the destruction.
        assert_eq!(message["subject"], json!({ "iin": iins[0] }));
        assert_eq!(message["confirm"], format!("/api/v1/webhooks/jobs/{job}"));
        assert!(
            secret.verify(signature, body, now(&offset), 300).is_ok(),
            "{signature}"
        );

        // Accepted: the request waits for the confirmation.
        receiver.set(0);
        offset.store(31 + 61, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let steps = format!("/api/v1/requests/{destroy}/steps");
        s.post(
            &steps,
            &dpo,
            json!({ "step": "record_answer", "reference": "№ 9" }),
        )
        .await;
        let r = s.post(&steps, &dpo, json!({ "step": "complete" })).await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "actions_pending");

        // The confirmation must be signed, and recent.
        let confirm = format!("/api/v1/webhooks/jobs/{job}");
        let done = format!(r#"{{"job":"{job}","status":"done"}}"#).into_bytes();
        let post = |header: Option<String>, body: Vec<u8>| {
            s.call_with(
                "POST",
                &confirm,
                None,
                Some(Body::Raw("application/json", body)),
                header.map(|h| ("X-Derbes-Signature", h)),
            )
        };
        assert_problem(&post(None, done.clone()).await, 401, "webhook-signature");
        let wrong =
            derbes_crypto::WebhookSecret::from_text("another-secret-0123456789abcdef0123456789")
                .unwrap();
        assert_problem(
            &post(Some(wrong.sign(now(&offset), &done)), done.clone()).await,
            401,
            "webhook-signature",
        );
        assert_problem(
            &post(Some(secret.sign(now(&offset) - 3600, &done)), done.clone()).await,
            401,
            "webhook-signature",
        );
        let r = post(
            Some(secret.sign(now(&offset), b"{\"status\":\"maybe\"}")),
            b"{\"status\":\"maybe\"}".to_vec(),
        )
        .await;
        assert_problem(&r, 422, "validation");
        // A confirmation signed for another job does not confirm this one.
        let other = format!(r#"{{"job":"{}","status":"done"}}"#, uuid::Uuid::now_v7()).into_bytes();
        let r = post(Some(secret.sign(now(&offset), &other)), other.clone()).await;
        assert_problem(&r, 422, "validation");
        let r = post(Some(secret.sign(now(&offset), &done)), done.clone()).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (r.body["status"].clone(), r.body["attempts"].clone()),
            (json!("confirmed"), json!(3))
        );
        // Said twice, it is the same.
        let r = post(Some(secret.sign(now(&offset), &done)), done.clone()).await;
        assert_eq!(r.body["status"], "confirmed", "{}", r.body);
        let r = s.get(&format!("/api/v1/requests/{destroy}"), &dpo).await;
        assert_eq!(r.body["actions"][0]["status"], "done", "{}", r.body);
        assert_eq!(r.body["actions"][0]["note"], "confirmed by `lms`");
        let r = s.post(&steps, &dpo, json!({ "step": "complete" })).await;
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        // The identifiers kept for the job are gone with its confirmation.
        let stored = s
            .store
            .webhook_job(uuid::Uuid::parse_str(&job).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.payload, None);
        let r = s
            .post(
                &format!("/api/v1/webhooks/jobs/{}", uuid::Uuid::now_v7()),
                &admin,
                json!({}),
            )
            .await;
        assert_problem(&r, 404, "not-found");

        // Access, answered "done" at once.
        receiver.set(2);
        let (access, _) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": students[1], "channel": "online", "language": "ru" }))
            .await;
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let r = s.get(&format!("/api/v1/requests/{access}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["kind"], "webhook");
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);
        assert_eq!(receiver.messages().last().unwrap().2["event"], "access");

        // The system refuses: the action fails with its words; sent again, it is done.
        receiver.set(0);
        let (refused, r) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": students[2], "channel": "online", "language": "en" }))
            .await;
        let job = r.body["actions"][1]["job"].as_str().unwrap().to_owned();
        requests.deliver_webhooks().await.unwrap();
        let failed =
            format!(r#"{{"job":"{job}","status":"failed","detail":"no such user in the LMS"}}"#)
                .into_bytes();
        let r = s
            .call_with(
                "POST",
                &format!("/api/v1/webhooks/jobs/{job}"),
                None,
                Some(Body::Raw("application/json", failed.clone())),
                Some(("X-Derbes-Signature", secret.sign(now(&offset), &failed))),
            )
            .await;
        assert_eq!(r.body["status"], "failed", "{}", r.body);
        let r = s.get(&format!("/api/v1/requests/{refused}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "failed");
        assert_eq!(
            r.body["actions"][1]["note"],
            "`lms` did not carry it out: no such user in the LMS"
        );
        receiver.set(2);
        let r = s
            .post(
                &format!("/api/v1/requests/{refused}/steps"),
                &dpo,
                json!({ "step": "run_actions" }),
            )
            .await;
        assert_eq!(r.body["actions"][1]["status"], "waiting", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["job"],
            job.as_str(),
            "sent again under the same key"
        );
        requests.deliver_webhooks().await.unwrap();
        let r = s.get(&format!("/api/v1/requests/{refused}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);

        // Accepted but never confirmed: given up after a day; the DPO settles it by hand.
        receiver.set(0);
        let fifth = s
            .create_student_id(&admin, json!({ "surname": "Бекова", "iin": iin_born(time::Date::from_calendar_date(2001, time::Month::June, 1).unwrap(), Sex::Female) }))
            .await;
        let (quiet, _) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": fifth, "channel": "online", "language": "en" }))
            .await;
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        offset.fetch_add(23 * 3600, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        offset.fetch_add(2 * 3600, Ordering::SeqCst);
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
        let quiet_steps = format!("/api/v1/requests/{quiet}/steps");
        let r = s.get(&format!("/api/v1/requests/{quiet}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "failed", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["note"],
            "`lms` did not carry it out: accepted, but not confirmed within 24 hours"
        );
        let r = s
            .post(
                &quiet_steps,
                &dpo,
                json!({ "step": "settle_connector", "connector": "crm", "note": "x" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = s
            .post(&quiet_steps, &dpo, json!({ "step": "settle_connector", "connector": "lms", "note": "LMS admin confirmed by phone, ref. 17" }))
            .await;
        assert_eq!(r.body["actions"][1]["status"], "done", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["note"],
            "settled by hand: LMS admin confirmed by phone, ref. 17"
        );
        // Staff's words are sealed in the database, and lists (which carry no key) leave them
        // out.
        let stored = s
            .store
            .request(quiet.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(stored.body.contains("settled by hand"), "{}", stored.body);
        assert!(!stored.body.contains("LMS admin"), "{}", stored.body);
        let listed = s
            .get(
                &format!(
                    "/api/v1/requests?open=false&subject_id={}",
                    r.body["subject_id"].as_str().unwrap()
                ),
                &dpo,
            )
            .await;
        let listed = listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == quiet.as_str())
            .unwrap()
            .clone();
        assert_eq!(listed["actions"][1]["note"], "settled by hand", "{listed}");

        // A system that never answers is given up after the last attempt, with the error shown.
        receiver.set(1);
        let (silent, _) = s
            .approved_request(&staff, &dpo, json!({ "kind": "access_export", "subject_id": students[3], "channel": "online", "language": "en" }))
            .await;
        for _ in 0..derbes_core::webhook::MAX_ATTEMPTS {
            assert_eq!(requests.deliver_webhooks().await.unwrap(), 1);
            offset.fetch_add(2 * 3600, Ordering::SeqCst);
        }
        assert_eq!(requests.deliver_webhooks().await.unwrap(), 0);
        let r = s.get(&format!("/api/v1/requests/{silent}"), &dpo).await;
        assert_eq!(r.body["actions"][1]["status"], "failed", "{}", r.body);
        assert_eq!(
            r.body["actions"][1]["note"],
            "`lms` did not carry it out: no confirmation after 12 attempts; last: HTTP 500"
        );
        let audit = s
            .get(&format!("/api/v1/subjects/{}/audit", students[3]), &admin)
            .await;
        assert!(audit.text.contains("request.connector.confirm"));
        assert!(!audit.text.contains(&iins[3]));
    })
}

//! The webhook connectors: a request completes only once they confirm.

use super::*;
use std::sync::atomic::{AtomicI64, Ordering};

/// A message as the receiver got it: headers and body.
type Received = (axum::http::HeaderMap, Vec<u8>);

/// How the receiver answers: accepted (it confirms later), down (HTTP 500), or done at once.
const ACCEPTS: u8 = 0;
const DOWN: u8 = 1;
const DONE: u8 = 2;

/// The operator's system behind a webhook: records what it receives and answers as told.
struct Receiver {
    url: String,
    got: Arc<std::sync::Mutex<Vec<Received>>>,
    mode: Arc<std::sync::atomic::AtomicU8>,
}

impl Receiver {
    async fn start() -> Self {
        let got: Arc<std::sync::Mutex<Vec<Received>>> = Arc::default();
        let mode = Arc::new(std::sync::atomic::AtomicU8::new(ACCEPTS));
        let (g, m) = (Arc::clone(&got), Arc::clone(&mode));
        let app = axum::Router::new().route(
            "/derbes",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let (g, m) = (Arc::clone(&g), Arc::clone(&m));
                    async move {
                        g.lock().unwrap().push((headers, body.to_vec()));
                        match m.load(Ordering::SeqCst) {
                            ACCEPTS => (axum::http::StatusCode::ACCEPTED, "{}".to_owned()),
                            DOWN => (
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
        self.mode.store(mode, Ordering::SeqCst);
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

const SECRET: &str = "lms-shared-secret-0123456789abcdef0123456789";

/// A server with the `lms` webhook (access and destruction) in front of a receiver, the desk
/// that answers requests, and a clock that can be moved on.
struct Hooked {
    s: Server,
    receiver: Receiver,
    secret: derbes_crypto::WebhookSecret,
    offset: Arc<AtomicI64>,
    admin: String,
    dpo: String,
    staff: String,
}

impl Hooked {
    async fn start(db: &TestDb) -> Hooked {
        let (offset, clock) = shifted_clock();
        let receiver = Receiver::start().await;
        let secret = derbes_crypto::WebhookSecret::from_text(SECRET).unwrap();
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
        let s = Server::start_with(db, clock, vec![hook]).await;
        let (admin, dpo) = (s.admin.clone(), s.token(Role::Dpo, &[]).await);
        let staff = s.token(Role::Staff, &["education"]).await;
        Hooked {
            s,
            receiver,
            secret,
            offset,
            admin,
            dpo,
            staff,
        }
    }

    /// A student (the `lms` knows students by IIN): (id, IIN).
    async fn a_student(&self) -> (String, String) {
        let iin = iin_born(
            time::Date::from_calendar_date(2001, time::Month::May, 4).unwrap(),
            Sex::Male,
        );
        let id = self
            .s
            .create_student_id(&self.admin, json!({ "surname": "Ахметов", "iin": iin }))
            .await;
        (id, iin)
    }

    /// A request of `kind` for `subject`, verified and approved, its actions run: (id, reply).
    async fn approved(&self, kind: &str, subject: &str) -> (String, Reply) {
        self.s
            .approved_request(
                &self.staff,
                &self.dpo,
                json!({ "kind": kind, "subject_id": subject, "channel": "online", "language": "en" }),
            )
            .await
    }

    /// Sends the jobs that are due: how many were sent.
    async fn deliver(&self) -> usize {
        self.s.state.app.requests.deliver_webhooks().await.unwrap()
    }

    /// Moves the server's clock on.
    fn later(&self, seconds: i64) {
        self.offset.fetch_add(seconds, Ordering::SeqCst);
    }

    /// The server's time, as a signature carries it.
    fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + self.offset.load(Ordering::SeqCst)
    }

    /// Posts `body` as a confirmation of `job`, with `signature` (`None`: unsigned).
    async fn confirm_raw(&self, job: &str, body: &[u8], signature: Option<String>) -> Reply {
        self.s
            .call_with(
                "POST",
                &format!("/api/v1/webhooks/jobs/{job}"),
                None,
                Some(Body::Raw("application/json", body.to_vec())),
                signature.map(|h| ("X-Derbes-Signature", h)),
            )
            .await
    }

    /// The system's confirmation of `job` (`status`, with its `detail`), signed now.
    async fn confirm(&self, job: &str, status: &str, detail: Option<&str>) -> Reply {
        let mut message = json!({ "job": job, "status": status });
        if let Some(d) = detail {
            message["detail"] = json!(d);
        }
        let body = message.to_string().into_bytes();
        let signature = self.secret.sign(self.now(), &body);
        self.confirm_raw(job, &body, Some(signature)).await
    }

    /// The request as the DPO sees it.
    async fn request(&self, id: &str) -> Reply {
        self.s
            .get(&format!("/api/v1/requests/{id}"), &self.dpo)
            .await
    }

    /// The DPO takes a step on a request.
    async fn step(&self, id: &str, step: Value) -> Reply {
        self.s
            .post(&format!("/api/v1/requests/{id}/steps"), &self.dpo, step)
            .await
    }
}

/// Action `n` of a request: (status, note).
fn action(r: &Reply, n: usize) -> (&str, &str) {
    let a = &r.body["actions"][n];
    (
        a["status"].as_str().unwrap_or_default(),
        a["note"].as_str().unwrap_or_default(),
    )
}

/// The webhook job of a request's action `n`.
fn job_of(r: &Reply, n: usize) -> String {
    r.body["actions"][n]["job"].as_str().unwrap().to_owned()
}

/// A destruction derbes refuses (an obligation is open) is announced to nobody.
pub(super) fn a_refused_destruction_is_announced_to_nobody(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { s, admin, receiver });
        let (student, _) = h.a_student().await;
        let obligation = format!("/api/v1/subjects/{student}/obligations/extracurricular");
        assert_eq!(s.put(&obligation, admin, json!({})).await.status, 200);
        let (_, r) = h.approved("destruction", &student).await;
        assert_eq!(action(&r, 0).0, "failed", "{}", r.body);
        for n in [0, 1] {
            assert!(action(&r, n).1.contains("obligation"), "{}", r.body);
        }
        assert_eq!(h.deliver().await, 0);
        assert!(receiver.messages().is_empty());
    })
}

/// Destruction: the system is told, in a write of its own, before derbes shreds its copy;
/// while the system is down the message is sent again after 30 s under the same idempotency
/// key, signed, with the identifiers kept sealed from before the destruction.
pub(super) fn a_destruction_is_sent_again_until_the_system_takes_it(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { receiver, secret });
        let (student, iin) = h.a_student().await;
        receiver.set(DOWN);
        let (destroy, r) = h.approved("destruction", &student).await;
        assert_eq!(
            each(&r.body["actions"], "kind"),
            ["webhook", "destroy", "answer"]
        );
        assert_eq!((action(&r, 0).0, action(&r, 1).0), ("waiting", "done"));
        let job = job_of(&r, 0);
        assert_eq!(h.deliver().await, 1);
        assert_eq!(h.deliver().await, 0);
        h.later(31);
        assert_eq!(h.deliver().await, 1);
        let got = receiver.messages();
        assert_eq!(got.len(), 2);
        assert_eq!(
            (got[0].0.as_str(), got[1].0.as_str()),
            (job.as_str(), job.as_str())
        );
        let (_, signature, message, body) = &got[1];
        assert_eq!(message["event"], "destruction");
        assert_eq!(message["request_id"], destroy.as_str());
        assert_eq!(message["subject"], json!({ "iin": iin }));
        assert_eq!(message["confirm"], format!("/api/v1/webhooks/jobs/{job}"));
        assert!(
            secret.verify(signature, body, h.now(), 300).is_ok(),
            "{signature}"
        );
    })
}

/// Accepted, a request waits for the system's confirmation, which must be signed with the
/// webhook's secret, recent, about this job and well formed; once confirmed (and said again,
/// the same) the request completes and the identifiers kept for the job are gone.
pub(super) fn a_request_completes_on_a_signed_confirmation(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { s, admin, secret });
        let (student, _) = h.a_student().await;
        let (destroy, r) = h.approved("destruction", &student).await;
        let job = job_of(&r, 0);
        assert_eq!(h.deliver().await, 1);
        h.step(
            &destroy,
            json!({ "step": "record_answer", "reference": "№ 9" }),
        )
        .await;
        let r = h.step(&destroy, json!({ "step": "complete" })).await;
        assert_problem(&r, 409, "request-step");
        assert_eq!(r.body["problem"]["code"], "actions_pending");

        let done = json!({ "job": job, "status": "done" })
            .to_string()
            .into_bytes();
        let refused = |r: Reply| assert_problem(&r, 401, "webhook-signature");
        refused(h.confirm_raw(&job, &done, None).await);
        let wrong =
            derbes_crypto::WebhookSecret::from_text("another-secret-0123456789abcdef0123456789")
                .unwrap();
        refused(
            h.confirm_raw(&job, &done, Some(wrong.sign(h.now(), &done)))
                .await,
        );
        let an_hour_ago = secret.sign(h.now() - 3600, &done);
        refused(h.confirm_raw(&job, &done, Some(an_hour_ago)).await);
        let r = h.confirm(&job, "maybe", None).await;
        assert_problem(&r, 422, "validation");
        // A confirmation signed for another job does not confirm this one.
        let other = json!({ "job": uuid::Uuid::now_v7(), "status": "done" })
            .to_string()
            .into_bytes();
        let r = h
            .confirm_raw(&job, &other, Some(secret.sign(h.now(), &other)))
            .await;
        assert_problem(&r, 422, "validation");

        for _ in 0..2 {
            let r = h.confirm(&job, "done", None).await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(
                (r.body["status"].clone(), r.body["attempts"].clone()),
                (json!("confirmed"), json!(1))
            );
        }
        let r = h.request(&destroy).await;
        assert_eq!(action(&r, 0), ("done", "confirmed by `lms`"));
        let r = h.step(&destroy, json!({ "step": "complete" })).await;
        assert_eq!(r.body["status"], "completed", "{}", r.body);
        let stored = s
            .store
            .webhook_job(uuid::Uuid::parse_str(&job).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(stored.payload, None);
        let unknown = format!("/api/v1/webhooks/jobs/{}", uuid::Uuid::now_v7());
        assert_problem(&s.post(&unknown, admin, json!({})).await, 404, "not-found");
    })
}

/// A system that answers "done" at once completes its action when it is sent.
pub(super) fn an_access_done_at_once_is_done(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { receiver });
        let (student, _) = h.a_student().await;
        receiver.set(DONE);
        let (access, _) = h.approved("access_export", &student).await;
        assert_eq!(h.deliver().await, 1);
        let r = h.request(&access).await;
        assert_eq!(r.body["actions"][1]["kind"], "webhook");
        assert_eq!(action(&r, 1).0, "done", "{}", r.body);
        assert_eq!(receiver.messages().last().unwrap().2["event"], "access");
    })
}

/// The system refuses: the action fails with its words; run again, the message goes under the
/// same key, and the action is done.
pub(super) fn a_refusal_fails_the_action_until_it_is_sent_again(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { receiver });
        let (student, _) = h.a_student().await;
        let (refused, r) = h.approved("access_export", &student).await;
        let job = job_of(&r, 1);
        h.deliver().await;
        let r = h
            .confirm(&job, "failed", Some("no such user in the LMS"))
            .await;
        assert_eq!(r.body["status"], "failed", "{}", r.body);
        let r = h.request(&refused).await;
        assert_eq!(
            action(&r, 1),
            (
                "failed",
                "`lms` did not carry it out: no such user in the LMS"
            )
        );
        receiver.set(DONE);
        let r = h.step(&refused, json!({ "step": "run_actions" })).await;
        assert_eq!(action(&r, 1).0, "waiting", "{}", r.body);
        assert_eq!(job_of(&r, 1), job, "sent again under the same key");
        h.deliver().await;
        assert_eq!(action(&h.request(&refused).await, 1).0, "done");
    })
}

/// Accepted but never confirmed: given up after a day; the DPO settles it by hand, and her
/// words are sealed in the database and left out of lists.
pub(super) fn an_unconfirmed_job_is_given_up_and_settled_by_hand(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { s, dpo });
        let (student, _) = h.a_student().await;
        let (quiet, _) = h.approved("access_export", &student).await;
        assert_eq!(h.deliver().await, 1);
        h.later(23 * 3600);
        assert_eq!(h.deliver().await, 0);
        h.later(2 * 3600);
        assert_eq!(h.deliver().await, 1);
        let r = h.request(&quiet).await;
        assert_eq!(
            action(&r, 1),
            (
                "failed",
                "`lms` did not carry it out: accepted, but not confirmed within 24 hours"
            )
        );
        let r = h
            .step(
                &quiet,
                json!({ "step": "settle_connector", "connector": "crm", "note": "x" }),
            )
            .await;
        assert_problem(&r, 422, "validation");
        let r = h
            .step(&quiet, json!({ "step": "settle_connector", "connector": "lms", "note": "LMS admin confirmed by phone, ref. 17" }))
            .await;
        assert_eq!(
            action(&r, 1),
            (
                "done",
                "settled by hand: LMS admin confirmed by phone, ref. 17"
            )
        );
        let stored = s
            .store
            .request(quiet.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_has(&stored.body, "settled by hand");
        assert!(!stored.body.contains("LMS admin"), "{}", stored.body);
        let listed = s
            .get(
                &format!("/api/v1/requests?open=false&subject_id={student}"),
                dpo,
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
    })
}

/// A system that never answers is given up after the last attempt, with the error shown; the
/// audit records it without the identifiers sent.
pub(super) fn a_silent_system_is_given_up_after_the_last_attempt(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { s, admin, receiver });
        let (student, iin) = h.a_student().await;
        receiver.set(DOWN);
        let (silent, _) = h.approved("access_export", &student).await;
        for _ in 0..derbes_core::webhook::MAX_ATTEMPTS {
            assert_eq!(h.deliver().await, 1);
            h.later(2 * 3600);
        }
        assert_eq!(h.deliver().await, 0);
        let r = h.request(&silent).await;
        assert_eq!(
            action(&r, 1),
            (
                "failed",
                "`lms` did not carry it out: no confirmation after 12 attempts; last: HTTP 500"
            )
        );
        let audit = s
            .get(&format!("/api/v1/subjects/{student}/audit"), admin)
            .await;
        assert!(audit.text.contains("request.connector.confirm"));
        assert!(!audit.text.contains(&iin));
    })
}

/// A retention batch tells the webhook of each destruction before derbes destroys its copy:
/// the signed message names the batch and the fields, and identifies the student by her IIN.
/// While the system is down the item waits with her grades kept, and the batch's next run
/// sends the same message again; the act names the webhook.
pub(super) fn a_retention_batch_tells_the_webhook_before_destroying(db: TestDb) -> Fut {
    Box::pin(async move {
        fixture!(h = Hooked::start(&db).await => Hooked { receiver, secret });
        let born = time::Date::from_calendar_date(2008, time::Month::March, 1).unwrap();
        let iin = iin_born(born, Sex::Female);
        let student =
            h.s.create_student_id(
                &h.admin,
                json!({ "surname": "Әлиева", "grades": "5", "iin": iin }),
            )
            .await;
        let today = h.s.state.app.vault.today().to_string();
        let left = json!({ "kind": "relationship_ended", "reason": "окончила школу", "on": today });
        let path = format!("/api/v1/subjects/{student}/lifecycle");
        let r = h.s.post(&path, &h.admin, left).await;
        assert_eq!(r.status, 201, "{}", r.body);
        h.later(1100 * 86_400);
        let batch = super::batches::approved_batch(&h.s, &h.dpo).await;
        let run = derbes_service::Actor::job("retention-run");
        receiver.set(DOWN);
        let r = h.s.state.app.retention.run_batches(&run).await;
        assert!(
            matches!(r, Err(derbes_service::VaultError::Unavailable(_))),
            "{r:?}"
        );
        let kept = h.s.store.subject(student.parse().unwrap()).await.unwrap();
        assert!(kept.unwrap().fields.iter().any(|(k, _)| k == "grades"));
        receiver.set(DONE);
        let ran = h.s.state.app.retention.run_batches(&run).await.unwrap();
        assert_eq!(ran[0].batch.outcome.as_ref().unwrap().fields, 1);
        let got = receiver.messages();
        assert_eq!(got.len(), 2, "sent again by the next run");
        assert_eq!(got[0].0, got[1].0, "with the same idempotency key");
        let (_, signature, message, body) = &got[1];
        assert_eq!(message["event"], "destruction");
        assert_eq!(message["batch_id"], batch.as_str());
        assert_eq!(message["fields"], json!(["grades"]));
        assert_eq!(message["subject"], json!({ "iin": iin }));
        assert!(message.get("request_id").is_none() && message.get("confirm").is_none());
        assert!(
            secret.verify(signature, body, h.now(), 300).is_ok(),
            "{signature}"
        );
        let kept = h.s.store.subject(student.parse().unwrap()).await.unwrap();
        assert!(!kept.unwrap().fields.iter().any(|(k, _)| k == "grades"));
        let act = format!("/api/v1/retention/batches/{batch}/act");
        let r = h.s.get(&act, &h.dpo).await;
        assert_eq!(r.body["act"]["webhooks"], json!(["lms"]), "{}", r.body);
    })
}

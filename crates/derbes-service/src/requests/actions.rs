//! What a request sets in motion once approved: its actions (the access package, rectification,
//! destruction, the webhook connectors), run and recorded.

use super::*;

impl Requests {
    /// Settles the webhook action of `connector` by hand, ending its job if one is open.
    pub(super) async fn settle_connector(
        &self,
        actor: &Actor,
        id: Uuid,
        connector: String,
        note: String,
    ) -> Result<RequestView, VaultError> {
        let note = required_text("note", &note, 500, "why the action is settled by hand")?;
        let (r, body, status) = self.request_parts(id).await?;
        if status != Status::InProgress {
            return Err(not_now(status, "settle_connector", Status::InProgress));
        }
        let Some(action) = body.actions.iter().find(|a| {
            a.kind == ActionKind::Webhook
                && a.connector.as_deref() == Some(connector.as_str())
                && a.status != ActionStatus::Done
        }) else {
            return Err(VaultError::InvalidField {
                field: "connector",
                detail: format!("names no open webhook action of this request (`{connector}`)"),
            });
        };
        let mut jobs = Vec::new();
        if let Some(job) = match action.job {
            Some(j) => self.vault.store().webhook_job(j).await?,
            None => None,
        } {
            if matches!(
                job.status,
                WebhookStatus::Pending | WebhookStatus::Delivered
            ) {
                jobs.push(derbes_store::JobWrite {
                    expect: Some(job.status),
                    job: derbes_store::WebhookJob {
                        status: WebhookStatus::Failed,
                        payload: None,
                        last_error: Some("settled by hand".into()),
                        updated_at: self.vault.now(),
                        ..job
                    },
                });
            }
        }
        let now = self.vault.now();
        let who = actor.audit_name();
        let key = self.request_key(&r)?;
        let (record, _) = self
            .update_request_with_jobs(r.id, jobs, |rec, body, _| {
                let Some((i, a)) = body.actions.iter_mut().enumerate().find(|(_, a)| {
                    a.kind == ActionKind::Webhook
                        && a.connector.as_deref() == Some(connector.as_str())
                        && a.status != ActionStatus::Done
                }) else {
                    return Err(VaultError::Conflict(
                        "the action was settled meanwhile".into(),
                    ));
                };
                a.status = ActionStatus::Done;
                a.at = Some(now);
                Self::note_with_words(&key, &rec.id, i, a, "settled by hand", &note)?;
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.connector.settle",
                    Outcome::Ok,
                    serde_json::json!({ "connector": connector }),
                )])
            })
            .await?;
        self.full_view(&record)
    }

    /// Carries out a rectification request: applies the corrected values (validated as any
    /// rectification, the audit keeping fingerprints only) and records the evidence, sealed.
    pub(super) async fn rectify_for_request(
        &self,
        actor: &Actor,
        id: Uuid,
        fields: indexmap::IndexMap<String, Option<String>>,
        evidence: String,
    ) -> Result<RequestView, VaultError> {
        let evidence = required_text(
            "evidence",
            &evidence,
            1000,
            "the document the corrected values were checked against",
        )?;
        let (r, body, status) = self.request_parts(id).await?;
        if status != Status::InProgress {
            return Err(not_now(status, "rectify", Status::InProgress));
        }
        if !body
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Rectify && a.status != ActionStatus::Done)
        {
            return Err(VaultError::Conflict(
                "this request has no rectification left to carry out".into(),
            ));
        }
        let done = self
            .subjects
            .rectify(
                actor,
                r.subject_id,
                fields.into_iter().collect(),
                Vec::new(),
            )
            .await?;
        let now = self.vault.now();
        let who = actor.audit_name();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                if *status != Status::InProgress {
                    return Err(not_now(*status, "rectify", Status::InProgress));
                }
                let dk = self.request_key(rec)?;
                body.evidence = Some(Self::seal_text(&dk, &rec.id, "evidence", &evidence)?);
                let Some(a) = body.actions.iter_mut().find(|a| a.kind == ActionKind::Rectify) else {
                    return Err(VaultError::Conflict("this request has no rectification".into()));
                };
                a.status = ActionStatus::Done;
                a.at = Some(now);
                a.fields.clone_from(&done.changed);
                a.note = Some(if done.changed.is_empty() {
                    "the values held were already the corrected ones".into()
                } else {
                    format!("rectified: {}", done.changed.join(", "))
                });
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.action",
                    Outcome::Ok,
                    serde_json::json!({ "action": ActionKind::Rectify, "status": ActionStatus::Done }),
                )
                .fields(&done.changed)])
            })
            .await?;
        self.full_view(&record)
    }

    /// Carries out the pending and failed actions derbes performs itself, and records each
    /// outcome; a failure leaves the request in progress with the error shown.
    ///
    /// Webhook connectors are told first, in a write of their own: for a destruction, their
    /// messages must hold the subject's identifiers before derbes destroys its copy, and the
    /// destruction waits until every one of them is queued.
    pub(super) async fn run_actions(
        &self,
        actor: &Actor,
        id: Uuid,
    ) -> Result<RequestView, VaultError> {
        let (r, body, status) = self.request_parts(id).await?;
        if status != Status::InProgress {
            return Err(not_now(status, "run_actions", Status::InProgress));
        }
        let kind = r.kind;
        let open = |a: &Action| !matches!(a.status, ActionStatus::Done | ActionStatus::Waiting);
        let mut outcomes = Vec::new();
        let mut jobs = Vec::new();
        // A destruction derbes would refuse is not announced to anyone.
        let hooks_to_tell = body
            .actions
            .iter()
            .any(|a| a.kind == ActionKind::Webhook && open(a));
        let refused = if kind == RequestKind::Destruction && hooks_to_tell {
            self.destructions.destruction_refusal(r.subject_id).await?
        } else {
            None
        };
        for (i, a) in body.actions.iter().enumerate() {
            if a.kind != ActionKind::Webhook || !open(a) {
                continue;
            }
            let queued = match &refused {
                Some(why) => Err(why.clone()),
                None => self.queue_webhook(&r, a).await,
            };
            outcomes.push((
                i,
                queued.map(|w| {
                    let note = format!("sent to `{}`, waiting for its confirmation", w.job.webhook);
                    let job = w.job.id;
                    jobs.push(w);
                    (ActionStatus::Waiting, note, Some(job))
                }),
            ));
        }
        let every_hook_told = outcomes.iter().all(|(_, o)| o.is_ok());
        if !outcomes.is_empty() {
            self.record_outcomes(actor, id, jobs, &outcomes).await?;
        }
        let mut outcomes = Vec::new();
        for (i, a) in body.actions.iter().enumerate() {
            if a.kind == ActionKind::Webhook || !open(a) {
                continue;
            }
            let result = if a.kind == ActionKind::Destroy && !every_hook_told {
                Some(Err(refused.clone().unwrap_or_else(|| {
                    "waits until every webhook connector has been told; see the webhook actions"
                        .to_owned()
                })))
            } else {
                self.run_action(actor, &r, &body, a.kind).await
            };
            if let Some(result) = result {
                outcomes.push((i, result.map(|note| (ActionStatus::Done, note, None))));
            }
        }
        // Nothing ran (an information request, or nothing left open): nothing to write.
        let record = if outcomes.is_empty() {
            self.request_record(id).await?
        } else {
            self.record_outcomes(actor, id, Vec::new(), &outcomes)
                .await?
        };
        self.full_view(&record)
    }

    /// Records the outcomes of actions (by index) with the jobs they queued. An action recorded
    /// done, or handed to a connector, by a concurrent run stays as it is.
    pub(super) async fn record_outcomes(
        &self,
        actor: &Actor,
        id: Uuid,
        jobs: Vec<derbes_store::JobWrite>,
        outcomes: &[(usize, ActionOutcome)],
    ) -> Result<RequestRecord, VaultError> {
        let now = self.vault.now();
        let (record, _) = self
            .update_request_with_jobs(id, jobs, |rec, body, _| {
                let mut audit = Vec::new();
                for (i, result) in outcomes {
                    let Some(a) = body
                        .actions
                        .get_mut(*i)
                        .filter(|a| !matches!(a.status, ActionStatus::Done | ActionStatus::Waiting))
                    else {
                        continue;
                    };
                    a.at = Some(now);
                    let (status, note, outcome) = match result {
                        Ok((status, note, job)) => {
                            if job.is_some() {
                                a.job = *job;
                            }
                            (*status, note.clone(), Outcome::Ok)
                        }
                        Err(e) => (ActionStatus::Failed, e.clone(), Outcome::Denied),
                    };
                    a.status = status;
                    a.note = Some(note);
                    audit.push(request_audit(
                        &actor.audit_name(),
                        rec,
                        "request.action",
                        outcome,
                        serde_json::json!({ "action": a.kind, "status": status, "connector": a.connector }),
                    ));
                }
                Ok(audit)
            })
            .await?;
        Ok(record)
    }

    /// Runs one action; `None` when derbes does not carry it out by itself (it waits for a
    /// later step: the answer, the export, the destruction).
    pub(super) async fn run_action(
        &self,
        actor: &Actor,
        r: &RequestRecord,
        body: &Body,
        kind: ActionKind,
    ) -> Option<Result<String, String>> {
        let purpose = body.purpose.as_deref();
        let result = match kind {
            ActionKind::Block => {
                let input = FlagInput {
                    reason: FlagReason::SubjectRequest,
                    note: Some(format!("request {}", r.id)),
                    until: body.block_until,
                };
                self.consents.set_flag(actor, r.subject_id, None, FlagChange::Set(input))
                    .await
                    .map(|_| "blocked".to_owned())
            }
            ActionKind::Unblock => self.consents
                .set_flag(
                    actor,
                    r.subject_id,
                    None,
                    FlagChange::Lift(FlagReason::SubjectRequest),
                )
                .await
                .map(|_| "block lifted".to_owned())
                .or_else(|e| match e {
                    // Lifted already (by an earlier run whose outcome was not recorded, by
                    // staff, or by its end date): what the subject asked for holds.
                    VaultError::NothingToLift(_) => Ok("no block was in force".to_owned()),
                    e => Err(e),
                }),
            ActionKind::Restrict => {
                let reason = if r.kind == RequestKind::Objection {
                    FlagReason::Objection
                } else {
                    FlagReason::SubjectRequest
                };
                let input = FlagInput {
                    reason,
                    note: Some(format!("request {}", r.id)),
                    until: None,
                };
                self.consents.set_flag(actor, r.subject_id, purpose, FlagChange::Set(input))
                    .await
                    .map(|_| "processing restricted".to_owned())
            }
            ActionKind::WithdrawConsent => {
                let input = ConsentInput {
                    purpose: purpose.unwrap_or_default().to_owned(),
                    action: ConsentStep::Withdraw,
                    representative_id: match body.requester {
                        Requester::Representative { id } => Some(id),
                        Requester::Subject { .. } => None,
                    },
                    method: Method::Other {
                        description: format!("data-subject request {}", r.id),
                    },
                    until: None,
                };
                self.consents.record_consent(actor, r.subject_id, input)
                    .await
                    .map(|_| "consent withdrawn".to_owned())
                    .or_else(|e| match e {
                        // Withdrawn already, or never given: what the subject asked for holds.
                        VaultError::ConsentRefused(p)
                            if !p.is_empty()
                                && p.iter()
                                .all(|p| matches!(p, ConsentProblem::NothingToWithdraw { .. })) =>
                        {
                            Ok("no consent to the purpose was in force".to_owned())
                        }
                        e => Err(e),
                    })
            }
            ActionKind::Export => self
                .build_package(actor, r, body.language)
                .await
                .map(|(s, expires_at)| {
                    format!(
                        "access package built: {} fields, {} consents, {} audit events, {} bytes; available until {}",
                        s.fields,
                        s.consents,
                        s.access_events,
                        s.bytes,
                        format_timestamp(expires_at)
                    )
                }),
            ActionKind::Destroy => self.destructions
                .destroy_subject(actor, r.subject_id, Some(r.id))
                .await
                .map(|d| {
                    format!(
                        "destroyed by crypto-shredding: data key and {} fields, {} blind-index entries, {} consent events, {} links, {} flags, {} packages, {} lifecycle events",
                        d.fields.len(),
                        d.removed.index_entries,
                        d.removed.consent_events,
                        d.removed.representative_links,
                        d.removed.flags + d.removed.obligations,
                        d.removed.packages,
                        d.removed.lifecycle_events
                    )
                }),
            // The corrected values come with the `rectify` step, the answer with its own, and
            // webhooks are queued by `run_actions`.
            ActionKind::Rectify | ActionKind::Answer | ActionKind::Webhook => return None,
        };
        Some(result.map_err(|e| e.to_string()))
    }
}

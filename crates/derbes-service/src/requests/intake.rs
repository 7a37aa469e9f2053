//! Intake and the register: filing a request, sealing its words under its own key, who sees
//! which request and how much of it, and every update with its audit event.

use super::*;

impl Requests {
    pub(crate) fn request_key(&self, r: &RequestRecord) -> Result<DataKey, VaultError> {
        self.vault.unwrap_key(
            &WrappedKey {
                kek_version: r.kek_version,
                bytes: r.dek.clone(),
            },
            &r.id,
            REQUEST_KEY_GENERATION,
        )
    }

    pub(super) fn seal_text(
        dk: &DataKey,
        id: &Uuid,
        slot: &str,
        text: &str,
    ) -> Result<String, VaultError> {
        Ok(B64.encode(dk.seal(id, REQUEST_KEY_GENERATION, slot, text.as_bytes())?))
    }

    /// Sets the note of action `i` with staff's `words`, sealed.
    pub(super) fn note_with_words(
        dk: &DataKey,
        id: &Uuid,
        i: usize,
        a: &mut Action,
        note: &str,
        words: &str,
    ) -> Result<(), VaultError> {
        a.note = Some(note.to_owned());
        a.staff_words = Some(Self::seal_text(dk, id, &action_slot(i), words)?);
        Ok(())
    }

    pub(super) fn open_text(
        dk: &DataKey,
        id: &Uuid,
        slot: &str,
        sealed: &str,
    ) -> Result<String, VaultError> {
        let bytes = B64.decode(sealed).map_err(corrupt)?;
        let plain = dk.open(id, REQUEST_KEY_GENERATION, slot, &bytes)?;
        String::from_utf8(plain.to_vec()).map_err(corrupt)
    }

    /// Files a request: checks who asks, fixes the due date and records it.
    #[allow(
        clippy::too_many_lines,
        reason = "intake: validate, find the subject, decide the deadline, seal, write with its audit"
    )]
    pub async fn file_request(
        &self,
        actor: &Actor,
        input: RequestInput,
    ) -> Result<RequestView, VaultError> {
        self.vault.authorize(actor, access::Action::RequestFile)?;
        let now = self.vault.now();
        let received_at = input.received_at.unwrap_or(now);
        if received_at > now + Duration::minutes(5) {
            return Err(VaultError::InvalidField {
                field: "received_at",
                detail: "is in the future; give the time the request was received".into(),
            });
        }
        if received_at < now - MAX_BACKDATE {
            return Err(VaultError::InvalidField {
                field: "received_at",
                detail: "is more than a year ago; file the request with the date it was received, within the last year".into(),
            });
        }
        if let Some(d) = &input.details {
            if d.chars().count() > MAX_DETAILS {
                return Err(VaultError::InvalidField {
                    field: "details",
                    detail: format!("is longer than {MAX_DETAILS} characters; attach long texts as evidence instead"),
                });
            }
        }
        match (&input.purpose, input.kind.needs_purpose()) {
            (None, true) => {
                return Err(VaultError::InvalidField {
                    field: "purpose",
                    detail: format!(
                        "is required for a `{}` request; name the declared purpose it is about",
                        input.kind
                    ),
                })
            }
            (Some(_), false) => {
                return Err(VaultError::InvalidField {
                    field: "purpose",
                    detail: format!("does not apply to a `{}` request; leave it out", input.kind),
                })
            }
            (Some(p), true) => {
                self.vault.declared_purpose(p)?;
            }
            (None, false) => {}
        }
        let (subject, state) = self
            .vault
            .subject_for(actor, access::Action::RequestFile, input.subject_id, None)
            .await?;
        let requester = match input.representative_id {
            None => Requester::Subject {
                id: input.subject_id,
            },
            Some(rep) => {
                if !state
                    .representatives
                    .iter()
                    .any(|l| l.representative_id == rep)
                {
                    return Err(VaultError::NotLinked);
                }
                Requester::Representative { id: rep }
            }
        };
        let (rule, source) = rule_for(
            &self.vault.declaration().deadlines,
            input.kind.deadline_kind(),
        );
        let due = due(self.vault.calendar(), received_at, rule, source);
        // Without allow_duplicate the store refuses a duplicate inside the write; with it, the
        // request records which one it repeats.
        let duplicate_of = if !input.allow_duplicate {
            None
        } else {
            self.vault
                .store()
                .requests(RequestQuery {
                    open_only: true,
                    kind: Some(input.kind),
                    subject_id: Some(input.subject_id),
                    limit: 1,
                    ..Default::default()
                })
                .await?
                .first()
                .map(|r| r.id)
        };
        let id = Uuid::now_v7();
        let dk = DataKey::generate()?;
        let wrapped = self.vault.keys().wrap(&dk, &id, REQUEST_KEY_GENERATION)?;
        let details = input
            .details
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(|d| Self::seal_text(&dk, &id, "details", d))
            .transpose()?;
        let body = Body {
            filed_with: actor.token,
            requester,
            channel: input.channel,
            language: input.language,
            purpose: input.purpose,
            details,
            due: due.clone(),
            duplicate_of,
            verification: None,
            verification_note: None,
            challenge: None,
            codes_sent: 0,
            submitted_by: None,
            rejection: None,
            evidence: None,
            reply_to: None,
            answer: None,
            answer_sending: None,
            block_until: None,
            actions: actions_for(input.kind, &self.webhooks_for(input.kind)),
            history: vec![HistoryEntry {
                at: now,
                actor: actor.audit_name(),
                step: "file".into(),
                status: Status::Received,
            }],
        };
        let record = RequestRecord {
            id,
            subject_id: input.subject_id,
            kind: input.kind,
            status: Status::Received,
            open: true,
            received_at,
            due_at: due.due_at,
            dek: wrapped.bytes,
            kek_version: wrapped.kek_version,
            version: 1,
            updated_at: now,
            body: serde_json::to_string(&body).map_err(corrupt)?,
            category: subject.category,
        };
        let audit = AuditDraft::new(&actor.audit_name(), "request.file", Outcome::Ok)
            .subject(input.subject_id)
            .details(&serde_json::json!({
                "request_id": id,
                "kind": input.kind,
                "requester": match requester { Requester::Subject { .. } => "subject", Requester::Representative { .. } => "representative" },
                "channel": input.channel,
                "due_on": due.due_on.to_string(),
                "duplicate_of": duplicate_of,
            }));
        self.vault
            .store()
            .write(WriteOp::FileRequest {
                record: record.clone(),
                refuse_duplicate: !input.allow_duplicate,
                audit,
            })
            .await?;
        // Staff see the register's facts; whoever else may file sees what they filed.
        let key = (actor.role != Role::Staff).then_some(&dk);
        self.request_view(&record, key)
    }

    /// What `actor` sees of request `r` for `action`, its reach checked: the subject in reach
    /// for staff, a request it filed for an integration.
    pub(super) async fn sight(
        &self,
        actor: &Actor,
        action: access::Action,
        r: &RequestRecord,
        body: &Body,
    ) -> Result<RequestSight, VaultError> {
        let category = self.vault.category_of(r.subject_id).await?;
        self.vault
            .authorize_request(
                actor,
                action,
                r.subject_id,
                category.as_deref(),
                body.filed_with,
            )
            .await
    }

    /// A request, if `actor` may take `action` on it and reaches it; with what it sees of it.
    pub(crate) async fn reach_request(
        &self,
        actor: &Actor,
        action: access::Action,
        id: Uuid,
    ) -> Result<(RequestRecord, RequestSight), VaultError> {
        self.vault.authorize(actor, action)?;
        let (r, body, _) = self.request_parts(id).await?;
        let sight = self.sight(actor, action, &r, &body).await?;
        Ok((r, sight))
    }

    /// The request as `sight` allows.
    pub(super) fn view_as(
        &self,
        sight: RequestSight,
        r: &RequestRecord,
    ) -> Result<RequestView, VaultError> {
        match sight {
            RequestSight::Full => self.full_view(r),
            RequestSight::Facts => self.request_view(r, None),
        }
    }

    pub(super) fn request_view(
        &self,
        r: &RequestRecord,
        key: Option<&DataKey>,
    ) -> Result<RequestView, VaultError> {
        let body: Body = serde_json::from_str(&r.body).map_err(corrupt)?;
        let status = r.status;
        let kind = r.kind;
        let open = |slot: &str, sealed: &Option<String>| -> Result<Option<String>, VaultError> {
            match (key, sealed) {
                (Some(dk), Some(s)) => Self::open_text(dk, &r.id, slot, s).map(Some),
                _ => Ok(None),
            }
        };
        let now = self.vault.now();
        Ok(RequestView {
            id: r.id,
            subject_id: r.subject_id,
            kind,
            status,
            requester: body.requester,
            channel: body.channel,
            language: body.language,
            purpose: body.purpose.clone(),
            received_at: r.received_at,
            overdue: status.is_open() && now > body.due.due_at,
            due: body.due.clone().into(),
            details: open("details", &body.details)?,
            duplicate_of: body.duplicate_of,
            verification: body.verification.clone(),
            verification_note: open("verification_note", &body.verification_note)?,
            rejection: body.rejection,
            evidence: open("evidence", &body.evidence)?,
            answer: open("answer", &body.answer)?,
            actions: body
                .actions
                .iter()
                .enumerate()
                .map(|(i, a)| {
                    let mut a = a.clone();
                    if let Some(words) = open(&action_slot(i), &a.staff_words.take())? {
                        a.note = Some(match a.note {
                            Some(note) => format!("{note}: {words}"),
                            None => words,
                        });
                    }
                    Ok(a)
                })
                .collect::<Result<_, VaultError>>()?,
            history: body.history.clone(),
            version: r.version,
        })
    }

    pub(super) async fn request_record(&self, id: Uuid) -> Result<RequestRecord, VaultError> {
        self.vault
            .store()
            .request(id)
            .await?
            .ok_or(VaultError::RequestNotFound)
    }

    /// A request with its body and status read.
    pub(super) async fn request_parts(
        &self,
        id: Uuid,
    ) -> Result<(RequestRecord, Body, Status), VaultError> {
        let r = self.request_record(id).await?;
        let body: Body = serde_json::from_str(&r.body).map_err(corrupt)?;
        let status = r.status;
        Ok((r, body, status))
    }

    /// Hands `mail` to the configured channel; the cause of a failure goes to the server's log,
    /// the caller gets `what` could not be delivered.
    pub(super) async fn deliver(
        mailer: std::sync::Arc<dyn crate::outbound::mail::Mailer>,
        mail: Mail,
        what: &str,
    ) -> Result<String, VaultError> {
        tokio::task::spawn_blocking(move || mailer.send(&mail))
            .await
            .map_err(|_| VaultError::Unavailable("the delivery task failed".into()))?
            .map_err(|e| {
                // The cause names the channel's host or directory: for the administrator's log,
                // not for the API client.
                eprintln!("derbes: {e}");
                VaultError::Unavailable(format!(
                    "{what} could not be delivered; the cause is in the server's log"
                ))
            })
    }

    /// One request, with the requester's words for the roles that handle requests.
    pub async fn request(&self, actor: &Actor, id: Uuid) -> Result<RequestView, VaultError> {
        self.vault.authorize(actor, access::Action::RequestRead)?;
        let (r, body, _) = self.request_parts(id).await?;
        let sight = self
            .sight(actor, access::Action::RequestRead, &r, &body)
            .await?;
        let view = self.view_as(sight, &r)?;
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), "request.read", Outcome::Ok)
                    .subject(r.subject_id)
                    .details(&serde_json::json!({ "request_id": id })),
            )
            .await?;
        Ok(view)
    }

    /// Requests by due time: open ones by default, those due soon, or overdue ones.
    pub async fn requests(
        &self,
        actor: &Actor,
        filter: RequestFilter,
    ) -> Result<Vec<RequestView>, VaultError> {
        self.vault.authorize(actor, access::Action::RequestList)?;
        let now = self.vault.now();
        let limit = filter.limit.unwrap_or(100);
        if !(1..=1000).contains(&limit) {
            return Err(VaultError::InvalidField {
                field: "limit",
                detail: "must be from 1 to 1000".into(),
            });
        }
        if filter
            .due_within_days
            .is_some_and(|d| d > MAX_DUE_WITHIN_DAYS)
        {
            return Err(VaultError::InvalidField {
                field: "due_within_days",
                detail: format!("must be at most {MAX_DUE_WITHIN_DAYS}"),
            });
        }
        let due_by = if filter.overdue {
            Some(now)
        } else {
            filter.due_within_days.map(|d| {
                // The end of that local day.
                let local = self.vault.today() + Duration::days(d.into());
                local
                    .with_hms(23, 59, 59)
                    .unwrap_or(local.midnight())
                    .assume_offset(self.vault.calendar().offset())
            })
        };
        let after = match filter.after {
            Some(id) => {
                let r = self.request_record(id).await?;
                Some((r.due_at, r.id))
            }
            None => None,
        };
        // A status still being handled is asked of open requests only: the same answer, and
        // the store can search its index of open requests by status.
        let open_only = filter.open.unwrap_or(filter.status.is_none())
            || due_by.is_some()
            || filter.status.is_some_and(Status::is_open);
        // Staff list the requests about subjects their purposes reach: the store selects them,
        // so that every page is full and the next one follows on.
        let categories = (actor.role == Role::Staff).then(|| {
            let declaration = self.vault.declaration();
            declaration
                .subject_categories
                .keys()
                .filter(|c| self.vault.reaches(actor, c))
                .cloned()
                .collect()
        });
        let records = self
            .vault
            .store()
            .requests(RequestQuery {
                open_only,
                status: filter.status,
                kind: filter.kind,
                subject_id: filter.subject_id,
                due_by,
                due_after: filter.in_time.then_some(now),
                after,
                categories,
                limit,
            })
            .await?;
        records.iter().map(|r| self.request_view(r, None)).collect()
    }

    /// Applies `change` to the request's body and status, with retries on concurrent changes.
    pub(super) async fn update_request<F>(
        &self,
        id: Uuid,
        change: F,
    ) -> Result<(RequestRecord, Body), VaultError>
    where
        F: FnMut(&RequestRecord, &mut Body, &mut Status) -> Result<Vec<AuditDraft>, VaultError>,
    {
        self.update_request_with_jobs(id, Vec::new(), change).await
    }

    /// As `update_request`, storing webhook `jobs` in the same transaction.
    pub(crate) async fn update_request_with_jobs<F>(
        &self,
        id: Uuid,
        jobs: Vec<derbes_store::JobWrite>,
        mut change: F,
    ) -> Result<(RequestRecord, Body), VaultError>
    where
        F: FnMut(&RequestRecord, &mut Body, &mut Status) -> Result<Vec<AuditDraft>, VaultError>,
    {
        for _ in 0..UPDATE_ATTEMPTS {
            let (r, mut body, mut status) = self.request_parts(id).await?;
            let audit = change(&r, &mut body, &mut status)?;
            let mut next = r.clone();
            next.status = status;
            next.open = status.is_open();
            next.version = r.version + 1;
            next.updated_at = self.vault.now();
            next.body = serde_json::to_string(&body).map_err(corrupt)?;
            match self
                .vault
                .store()
                .write(WriteOp::UpdateRequest {
                    record: next.clone(),
                    audit,
                    jobs: jobs.clone(),
                })
                .await
            {
                Ok(_) => return Ok((next, body)),
                Err(StoreError::VersionConflict) => continue,
                // A job that moved on does not move back: no retry.
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    pub(super) fn step_audit(
        actor: &Actor,
        r: &RequestRecord,
        step: &str,
        to: Status,
    ) -> AuditDraft {
        request_audit(
            &actor.audit_name(),
            r,
            &format!("request.{step}"),
            Outcome::Ok,
            serde_json::json!({ "kind": r.kind, "status": to }),
        )
    }

    /// The request with its sealed texts opened.
    pub(super) fn full_view(&self, r: &RequestRecord) -> Result<RequestView, VaultError> {
        let key = self.request_key(r)?;
        self.request_view(r, Some(&key))
    }
}

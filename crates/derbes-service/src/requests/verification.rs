//! Who is asking: one-time codes to the contact on file, and identity checked on a document.

use super::*;

impl Requests {
    /// Sends a one-time code to the requester's e-mail address on file.
    pub async fn send_request_code(&self, actor: &Actor, id: Uuid) -> Result<CodeSent, VaultError> {
        self.vault
            .authorize(actor, access::Action::RequestCodeSend)?;
        let (r, body, _) = self.request_parts(id).await?;
        self.sight(actor, access::Action::RequestCodeSend, &r, &body)
            .await?;
        let Some(mailer) = self.vault.mailer() else {
            return Err(VaultError::Unavailable(
                "no delivery channel for one-time codes is configured; set [mail] in derbes.toml or verify by a document check".into(),
            ));
        };
        let (_, body, status) = self.request_parts(id).await?;
        if status != Status::Received {
            return Err(not_now(status, "verify_identity", Status::Received));
        }
        if body.codes_sent >= CODE_SENDS {
            return Err(VaultError::Conflict(format!(
                "{CODE_SENDS} codes were sent for this request already; verify the requester by a document check"
            )));
        }
        let (field, address) = self.contact_on_file(body.requester.id()).await?;
        let code = derbes_crypto::one_time_code()?;
        let mac = self.vault.keys().one_time_code_mac(&id.to_string(), &code);
        let expires_at = self.vault.now() + CODE_VALIDITY;
        let (subject, text) = code_mail(body.language, &code, CODE_VALIDITY.whole_minutes());
        let mail = Mail {
            to: address.clone(),
            subject,
            body: text,
        };
        // Sent before it is recorded: a code that was never delivered must not count, and one
        // that was delivered but not recorded only fails to verify.
        let delivery = Self::deliver(mailer, mail, "the code").await?;
        let who = actor.audit_name();
        let (_, body) = self
            .update_request(id, |rec, body, status| {
                if *status != Status::Received {
                    return Err(VaultError::Conflict(
                        "the request changed; ask for a new code".into(),
                    ));
                }
                body.codes_sent += 1;
                body.challenge = Some(Challenge {
                    mac: mac.clone(),
                    field: field.clone(),
                    expires_at,
                    attempts_left: CODE_ATTEMPTS,
                });
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.code.send",
                    Outcome::Ok,
                    serde_json::json!({ "delivery": delivery }),
                )
                .fields(&[field.as_str()])])
            })
            .await?;
        Ok(CodeSent {
            sent_to: mask_email(&address),
            expires_at,
            sends_left: CODE_SENDS.saturating_sub(body.codes_sent),
        })
    }

    /// The first e-mail field on file of `person` (a subject), opened.
    pub(super) async fn contact_on_file(
        &self,
        person: Uuid,
    ) -> Result<(String, String), VaultError> {
        self.email_on_file(person).await?.ok_or_else(|| {
            VaultError::Conflict(
                "the requester has no e-mail address on file; verify them by a document check"
                    .into(),
            )
        })
    }

    /// The person's e-mail field and address; `None` when they have none, or are gone. A store
    /// or key failure is an error, not "no address".
    pub(super) async fn email_on_file(
        &self,
        person: Uuid,
    ) -> Result<Option<(String, String)>, VaultError> {
        let Some(record) = self.vault.store().subject(person).await? else {
            return Ok(None);
        };
        let dk = self.vault.open_key(&record)?;
        for (key, sealed) in &record.fields {
            let is_email = self
                .vault
                .declaration()
                .field(key)
                .is_some_and(|f| f.validator == Validator::Email);
            if is_email {
                return Ok(Some((
                    key.clone(),
                    self.vault.open_field(&dk, &record, key, sealed)?,
                )));
            }
        }
        Ok(None)
    }

    /// Where the written answer goes: the address kept when the request was decided, else the
    /// requester's e-mail on file now; `None` when there is neither.
    pub(super) async fn answer_address(
        &self,
        key: &derbes_crypto::DataKey,
        id: Uuid,
        body: &Body,
    ) -> Result<Option<String>, VaultError> {
        match &body.reply_to {
            Some(sealed) => Ok(Some(Self::open_text(key, &id, "reply_to", sealed)?)),
            None => Ok(self
                .email_on_file(body.requester.id())
                .await?
                .map(|(_, address)| address)),
        }
    }

    /// Checks a one-time code; a match verifies the requester's identity.
    pub async fn check_request_code(
        &self,
        actor: &Actor,
        id: Uuid,
        code: &str,
    ) -> Result<RequestView, VaultError> {
        self.vault
            .authorize(actor, access::Action::RequestCodeCheck)?;
        let sight = {
            let (r, body, _) = self.request_parts(id).await?;
            self.sight(actor, access::Action::RequestCodeCheck, &r, &body)
                .await?
        };
        let now = self.vault.now();
        let keys = self.vault.keys();
        let who = actor.audit_name();
        let code = code.trim();
        let mut failed: Option<VaultError> = None;
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                failed = None;
                let Some(ch) = body.challenge.as_mut() else {
                    return Err(VaultError::Conflict(
                        "no code was sent for this request; send one first".into(),
                    ));
                };
                if now > ch.expires_at || ch.attempts_left == 0 {
                    body.challenge = None;
                    failed = Some(VaultError::CodeRejected {
                        detail: "the code has expired or has been tried too often; send a new one"
                            .into(),
                        attempts_left: 0,
                    });
                } else if keys.verify_one_time_code(&rec.id.to_string(), code, &ch.mac) {
                    let verification = Verification::OneTimeCode {
                        field: ch.field.clone(),
                        at: now,
                    };
                    let to = body.verified(status, verification, &who, now)?;
                    return Ok(vec![Self::step_audit(actor, rec, "verify_identity", to)]);
                } else {
                    ch.attempts_left -= 1;
                    failed = Some(VaultError::CodeRejected {
                        detail: "the code does not match".into(),
                        attempts_left: ch.attempts_left,
                    });
                }
                Ok(vec![request_audit(
                    &who,
                    rec,
                    "request.code.check",
                    Outcome::Denied,
                    serde_json::json!({}),
                )])
            })
            .await?;
        if let Some(e) = failed {
            return Err(e);
        }
        self.view_as(sight, &record)
    }

    /// Records that staff checked the requester's identity document.
    pub async fn verify_request_by_document(
        &self,
        actor: &Actor,
        id: Uuid,
        document: DocumentKind,
        note: Option<String>,
    ) -> Result<RequestView, VaultError> {
        self.vault
            .authorize(actor, access::Action::RequestVerifyDocument)?;
        let sight = {
            let (r, body, _) = self.request_parts(id).await?;
            self.sight(actor, access::Action::RequestVerifyDocument, &r, &body)
                .await?
        };
        if note.as_ref().is_some_and(|n| n.chars().count() > 1000) {
            return Err(VaultError::InvalidField {
                field: "note",
                detail: "is longer than 1000 characters".into(),
            });
        }
        let now = self.vault.now();
        let who = actor.audit_name();
        let (record, _) = self
            .update_request(id, |rec, body, status| {
                if matches!(body.requester, Requester::Representative { .. })
                    && !matches!(
                        document,
                        DocumentKind::BirthCertificate | DocumentKind::PowerOfAttorney | DocumentKind::CourtDecision
                    )
                {
                    return Err(VaultError::InvalidField {
                        field: "document",
                        detail: "a representative's authority rests on a birth certificate, a power of attorney or a court decision; check that document".into(),
                    });
                }
                let verification = Verification::Document {
                    document,
                    checked_by: who.clone(),
                    at: now,
                };
                let to = body.verified(status, verification, &who, now)?;
                let dk = self.request_key(rec)?;
                body.verification_note = note
                    .as_deref()
                    .filter(|n| !n.trim().is_empty())
                    .map(|n| Self::seal_text(&dk, &rec.id, "verification_note", n))
                    .transpose()?;
                Ok(vec![Self::step_audit(actor, rec, "verify_identity", to)])
            })
            .await?;
        self.view_as(sight, &record)
    }
}

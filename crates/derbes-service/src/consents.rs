//! What the vault records about a subject beside its fields: consents (given, renewed and
//! withdrawn, by the subject or a linked legal representative), representative links, and the
//! block and restrictions of processing. Core decides whether each change may be made; the store
//! writes it together with its audit event.

use crate::access::Action;
use crate::actor::Actor;
use crate::vault::{Vault, VaultError, UPDATE_ATTEMPTS};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::consent::{
    check_consent_event, consent_state, reconfirmation_month, ConsentAction, ConsentEvent,
    ConsentProblem, ConsentState, Document, GivenBy, Grant, Method, PurposeTerms, Relation,
    RepresentativeLink, Term,
};
use derbes_core::decision::ActorScope;
use derbes_core::declaration::{representative_categories, LegalBasis};
use derbes_core::flags::{Flag, FlagReason, Obligation};
use derbes_core::validate::{FieldProblem, ValueError};
use derbes_store::{
    Applied, DueReconfirmations, FlagWrite, ReconfirmationsDue, StoreError, SubjectRecord, WriteOp,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use time::Date;
use uuid::Uuid;

/// Longest free text accepted in a method, reference or note.
const MAX_TEXT: usize = 500;

/// A consent action as asked through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStep {
    Give,
    Renew,
    Withdraw,
}

/// A consent action to record. The relation of a representative comes from their link.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentInput {
    pub purpose: String,
    pub action: ConsentStep,
    /// The representative who acts; absent when the subject acts in their own name.
    pub representative_id: Option<Uuid>,
    pub method: Method,
    /// The last day the consent holds (give and renew); absent: until the purpose is achieved.
    #[serde(default, with = "derbes_core::iso_date::option")]
    pub until: Option<Date>,
}

/// A representative link as asked through the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkInput {
    pub representative_id: Uuid,
    pub relation: Relation,
    pub documents: Vec<Document>,
}

/// A block or restriction as asked through the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagInput {
    pub reason: FlagReason,
    pub note: Option<String>,
    #[serde(default, with = "derbes_core::iso_date::option")]
    pub until: Option<Date>,
}

/// An obligation as recorded through the API.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObligationInput {
    pub note: Option<String>,
    /// The last day the obligation runs; absent: until it is marked fulfilled.
    #[serde(default, with = "derbes_core::iso_date::option")]
    pub until: Option<Date>,
}

/// Setting a block or restriction, or lifting it with the reason for lifting.
#[derive(Debug, Clone)]
pub enum FlagChange {
    Set(FlagInput),
    Lift(FlagReason),
}

/// The status of a subject's consent to one purpose.
#[derive(Debug, Clone, Serialize)]
pub struct PurposeConsent {
    pub purpose: String,
    /// `holding`, `withdrawn`, `expired` or `none`.
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<Uuid>,
    /// The consent's terms differ from the purpose as declared now.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub terms_changed: bool,
}

/// A subject's consent ledger and what it amounts to now.
#[derive(Debug, Clone, Serialize)]
pub struct ConsentLedger {
    pub subject_id: Uuid,
    /// Whether the subject is a minor today (`null` when no birth date is known).
    pub minor: Option<bool>,
    pub purposes: Vec<PurposeConsent>,
    pub history: Vec<ConsentEvent>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Representatives {
    pub subject_id: Uuid,
    /// Who represents this subject.
    pub representatives: Vec<RepresentativeLink>,
    /// Whom this subject represents.
    pub represents: Vec<RepresentativeLink>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Flags {
    pub subject_id: Uuid,
    pub blocked: Option<Flag>,
    pub restrictions: indexmap::IndexMap<String, Flag>,
    /// Open obligations that keep consent to their purpose from being withdrawn.
    pub obligations: indexmap::IndexMap<String, Obligation>,
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn problem(field: &str, message: impl Into<String>) -> FieldProblem {
    FieldProblem {
        field: field.into(),
        message: message.into(),
        reason: None,
    }
}

/// A problem with a value, and why, for the message in a person's language.
fn refused(field: &str, message: impl Into<String>, reason: ValueError) -> FieldProblem {
    FieldProblem {
        reason: Some(reason),
        ..problem(field, message)
    }
}

fn check_text(field: &str, text: &str, problems: &mut Vec<FieldProblem>) {
    let length = text.chars().count();
    let too_long = || format!("must be at most {MAX_TEXT} characters, with no control characters");
    if text.trim().is_empty() {
        problems.push(refused(field, "must not be empty", ValueError::Empty));
    } else if length > MAX_TEXT {
        let why = ValueError::TooLong {
            max: MAX_TEXT,
            got: length,
        };
        problems.push(refused(field, too_long(), why));
    } else if text.chars().any(char::is_control) {
        problems.push(refused(field, too_long(), ValueError::Control));
    }
}

fn check_method(method: &Method, problems: &mut Vec<FieldProblem>) {
    match method {
        Method::Web => {}
        Method::Paper { evidence_sha256 } => {
            if !is_sha256(evidence_sha256) {
                problems.push(refused(
                    "method.evidence_sha256",
                    "must be the SHA-256 of the signed form's scan: 64 lower-case hex digits (`sha256sum scan.pdf`)",
                    ValueError::NotSha256,
                ));
            }
        }
        Method::StateService { reference } => check_text("method.reference", reference, problems),
        Method::Other { description } => check_text("method.description", description, problems),
    }
}

fn check_until(until: Option<Date>, today: Date, problems: &mut Vec<FieldProblem>) {
    if let Some(d) = until.filter(|d| *d < today) {
        problems.push(refused(
            "until",
            format!("{d} has passed; give today or a later date, or leave it out"),
            ValueError::DatePassed,
        ));
    }
}

/// The optional note and last day of a block, restriction or obligation.
fn check_note_and_until(
    note: Option<&str>,
    until: Option<Date>,
    today: Date,
) -> Result<(), VaultError> {
    let mut problems = Vec::new();
    if let Some(note) = note {
        check_text("note", note, &mut problems);
    }
    check_until(until, today, &mut problems);
    invalid(problems)
}

fn invalid(problems: Vec<FieldProblem>) -> Result<(), VaultError> {
    if problems.is_empty() {
        Ok(())
    } else {
        Err(VaultError::Validation(problems))
    }
}

/// The consent ledger, legal representatives, blocks, restrictions and obligations of subjects.
#[derive(Clone)]
pub struct Consents {
    vault: Arc<Vault>,
}

impl Consents {
    pub(crate) fn new(vault: Arc<Vault>) -> Self {
        Consents { vault }
    }

    /// Records a consent action after core has checked it against the subject's ledger, age and
    /// representatives. A refusal is audited and returned with every problem.
    #[allow(
        clippy::too_many_lines,
        reason = "decide, then build the event and its audit, then write with retry: one transaction of thought"
    )]
    pub async fn record_consent(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        input: ConsentInput,
    ) -> Result<ConsentEvent, VaultError> {
        self.vault.authorize(actor, Action::ConsentRecord)?;
        crate::vault::check_names(&input.purpose, &[])?;
        let now = self.vault.now();
        let mut problems = Vec::new();
        check_method(&input.method, &mut problems);
        if input.action == ConsentStep::Withdraw && input.until.is_some() {
            problems.push(problem(
                "until",
                "a withdrawal has no term; leave `until` out",
            ));
        }
        check_until(input.until, now.date(), &mut problems);
        invalid(problems)?;
        let action_name = format!(
            "consent.{}",
            match input.action {
                ConsentStep::Give => "give",
                ConsentStep::Renew => "renew",
                ConsentStep::Withdraw => "withdraw",
            }
        );
        if !actor.scope.allows(&input.purpose) {
            self.vault
                .audit(
                    AuditDraft::new(&actor.audit_name(), &action_name, Outcome::Denied)
                        .subject(subject_id)
                        .purpose(&input.purpose)
                        .reason("actor_not_allowed_purpose"),
                )
                .await?;
            return Err(VaultError::Forbidden(format!(
                "this {} may not record consents for purpose `{}`",
                if actor.account.is_some() {
                    "account"
                } else {
                    "token"
                },
                input.purpose
            )));
        }
        for _ in 0..UPDATE_ATTEMPTS {
            let (record, state) = self
                .vault
                .subject_for(
                    actor,
                    Action::ConsentRecord,
                    subject_id,
                    Some(&input.purpose),
                )
                .await?;
            if self
                .vault
                .declaration()
                .purpose(&input.purpose)
                .is_some_and(|p| !p.covers_category(&record.category))
            {
                return Err(VaultError::Validation(vec![problem(
                    "purpose",
                    format!(
                        "purpose `{}` does not process subjects of category `{}`: there is no consent to it to record for this subject",
                        input.purpose, record.category
                    ),
                )]));
            }
            let seen = state.consents.len();
            let representatives: Vec<Uuid> = state
                .representatives
                .iter()
                .map(|l| l.representative_id)
                .collect();
            let given_by = match input.representative_id {
                None => GivenBy::Subject,
                Some(rid) => GivenBy::Representative {
                    representative_id: rid,
                    // An unlinked representative is refused below; the relation is then moot.
                    relation: state
                        .representatives
                        .iter()
                        .find(|l| l.representative_id == rid)
                        .map_or(Relation::Other, |l| l.relation),
                },
            };
            let action = match input.action {
                ConsentStep::Withdraw => ConsentAction::Withdraw,
                step => {
                    let Some(terms) = PurposeTerms::of(self.vault.declaration(), &input.purpose)
                    else {
                        return self
                            .refuse_consent(
                                actor,
                                subject_id,
                                &input.purpose,
                                &action_name,
                                vec![ConsentProblem::UndeclaredPurpose {
                                    purpose: input.purpose.clone(),
                                }],
                            )
                            .await;
                    };
                    let term = input
                        .until
                        .map_or(Term::PurposeAchieved, |date| Term::Until { date });
                    let grant = Grant::new(terms, term);
                    if step == ConsentStep::Give {
                        ConsentAction::Give(grant)
                    } else {
                        ConsentAction::Renew(grant)
                    }
                }
            };
            let event = ConsentEvent {
                id: Uuid::now_v7(),
                subject_id,
                purpose: input.purpose.clone(),
                action,
                given_by,
                method: input.method.clone(),
                at: now,
            };
            // The birth date matters to every consent action: a minor cannot act alone.
            let facts = self.vault.facts(&record, state, now, None)?;
            if let Err(problems) = check_consent_event(
                self.vault.declaration(),
                &facts.as_subject_facts(),
                &representatives,
                &event,
            ) {
                return self
                    .refuse_consent(actor, subject_id, &input.purpose, &action_name, problems)
                    .await;
            }
            let mut details = json!({
                "consent_id": event.id,
                "method": event.method.kind(),
            });
            if let GivenBy::Representative {
                representative_id,
                relation,
            } = &event.given_by
            {
                details["representative_id"] = json!(representative_id);
                details["relation"] = json!(relation);
            }
            if let ConsentAction::Give(g) | ConsentAction::Renew(g) = &event.action {
                details["terms_hash"] = json!(g.terms_hash);
                details["declaration_version"] = json!(g.terms.declaration_version);
                details["term"] = json!(g.term);
            }
            let audit = AuditDraft::new(&actor.audit_name(), &action_name, Outcome::Ok)
                .subject(subject_id)
                .purpose(&input.purpose)
                .details(&details);
            match self
                .vault
                .store()
                .write(WriteOp::RecordConsent {
                    reconfirm_in: reconfirmation_month(
                        self.vault.declaration(),
                        facts.birth_date,
                        &event,
                        &facts.state.consents,
                    ),
                    event: event.clone(),
                    seen,
                    version: record.version,
                    audit,
                })
                .await
            {
                Ok(_) => return Ok(event),
                // The ledger changed since it was read: decide again on the new one.
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    async fn refuse_consent<T>(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        purpose: &str,
        action_name: &str,
        problems: Vec<ConsentProblem>,
    ) -> Result<T, VaultError> {
        let codes: Vec<&str> = problems.iter().map(ConsentProblem::code).collect();
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), action_name, Outcome::Denied)
                    .subject(subject_id)
                    .purpose(purpose)
                    .reason(codes.join(",")),
            )
            .await?;
        Err(VaultError::ConsentRefused(problems))
    }

    /// The subject a person names by id or by an identifier (IIN) in `column` of a form, among
    /// subjects of `categories` (any when empty). The resolution by identifier is audited; the
    /// value never is.
    pub async fn resolve_subject(
        &self,
        actor: &Actor,
        column: &str,
        name: &str,
        categories: &[String],
    ) -> Result<Uuid, VaultError> {
        if let Ok(id) = Uuid::parse_str(name.trim()) {
            return Ok(id);
        }
        let d = self.vault.declaration();
        let mut found = Vec::new();
        let mut tried = Vec::new();
        for (key, field) in d
            .fields
            .iter()
            .filter(|(_, f)| f.lookup && f.validator == derbes_core::declaration::Validator::Iin)
        {
            let Ok(normalized) = derbes_core::validate::normalize(field, name) else {
                continue;
            };
            tried.push(key.clone());
            for (id, category) in self
                .vault
                .store()
                .lookup(key, &self.vault.keys().blind_index(key, &normalized))
                .await?
            {
                if (categories.is_empty() || categories.contains(&category)) && !found.contains(&id)
                {
                    found.push(id);
                }
            }
        }
        if tried.is_empty() {
            let why = ValueError::NotSubjectOrIin;
            return Err(VaultError::Validation(vec![refused(
                column,
                why.to_string(),
                why,
            )]));
        }
        let outcome = if found.len() == 1 {
            Outcome::Allowed
        } else {
            Outcome::Denied
        };
        let mut draft =
            AuditDraft::new(&actor.audit_name(), "subject.resolve", outcome).fields(&tried);
        if let [id] = found[..] {
            draft = draft.subject(id);
        } else {
            draft = draft.reason(if found.is_empty() {
                "not_found"
            } else {
                "ambiguous"
            });
        }
        self.vault.audit(draft).await?;
        match found[..] {
            [id] => Ok(id),
            [] => {
                let why = ValueError::NoSuchSubject;
                Err(VaultError::Validation(vec![refused(
                    column,
                    why.to_string(),
                    why,
                )]))
            }
            _ => {
                let why = ValueError::SeveralSubjects;
                Err(VaultError::Validation(vec![refused(
                    column,
                    why.to_string(),
                    why,
                )]))
            }
        }
    }

    /// The consents representatives gave that their subjects are to confirm in their own name,
    /// due next month or earlier (the earliest first, at most `limit` from the `offset`-th), of
    /// the purposes the actor acts for, with how many are due in all. Next month's are listed a month ahead so
    /// that the subjects can be told before the consent given for them stops being enough.
    pub async fn reconfirmations_due(
        &self,
        actor: &Actor,
        offset: u32,
        limit: u32,
    ) -> Result<ReconfirmationsDue, VaultError> {
        self.vault.authorize(actor, Action::ReconfirmationList)?;
        let purposes = match &actor.scope {
            ActorScope::AnyPurpose => Vec::new(),
            ActorScope::Purposes(p) if p.is_empty() => return Ok(ReconfirmationsDue::default()),
            ActorScope::Purposes(p) => p.clone(),
        };
        Ok(self
            .vault
            .store()
            .reconfirmations_due(DueReconfirmations {
                through: next_month(self.vault.today()),
                purposes,
                offset,
                limit,
            })
            .await?)
    }

    /// Works out again the months of majority of the subjects the store lists as unsettled
    /// (those with consents recorded before derbes kept the months, and those corrected since):
    /// each purpose's latest consent event and the sealed birth date say whether the subject
    /// is to confirm a representative's consent, and when. How many subjects were settled; one
    /// that changed meanwhile is left for the next run, and one that cannot be worked out (its
    /// key missing, say) does not keep the others waiting: the first such error is returned
    /// once every other subject listed is settled.
    pub async fn settle_reconfirmations(&self) -> Result<usize, VaultError> {
        let (mut settled, mut failed, mut after) = (0, None, None);
        loop {
            let listed = self
                .vault
                .store()
                .unsettled_reconfirmations(derbes_store::Page::after(after, 500))
                .await?;
            let Some(&last) = listed.last() else {
                return failed.map_or(Ok(settled), Err);
            };
            after = Some(last);
            for id in listed {
                match self.settle_reconfirmations_of(id).await {
                    Ok(()) => settled += 1,
                    Err(VaultError::Store(StoreError::VersionConflict)) => {}
                    Err(e) => {
                        failed.get_or_insert(e);
                    }
                }
            }
        }
    }

    async fn settle_reconfirmations_of(&self, id: Uuid) -> Result<(), VaultError> {
        let (record, state) = self.vault.subject_and_state(id, None).await?;
        let birth = self.vault.birth_date_of(&record)?;
        let d = self.vault.declaration();
        // The ledger is in the order recorded: the last event of a purpose is its latest.
        let mut latest = std::collections::BTreeMap::new();
        for e in &state.consents {
            latest.insert(e.purpose.as_str(), e);
        }
        let due = latest
            .into_iter()
            .filter_map(|(p, e)| {
                reconfirmation_month(d, birth, e, &state.consents).map(|m| (p.to_owned(), m))
            })
            .collect();
        self.vault
            .store()
            .write(WriteOp::SettleReconfirmations {
                subject_id: id,
                version: record.version,
                consents: state.consents.len(),
                due,
                audit: AuditDraft::new(
                    "system:reconfirmations",
                    "consent.reconfirmations.settle",
                    Outcome::Ok,
                )
                .subject(id),
            })
            .await?;
        Ok(())
    }

    /// The subject's consent ledger, with the status of each consent-based purpose today.
    pub async fn consent_ledger(
        &self,
        actor: &Actor,
        subject_id: Uuid,
    ) -> Result<ConsentLedger, VaultError> {
        let (record, mut state) = self
            .vault
            .subject_for(actor, Action::ConsentList, subject_id, None)
            .await?;
        // Staff and integrations see the consents of their own purposes.
        state.consents.retain(|e| actor.scope.allows(&e.purpose));
        let now = self.vault.now();
        let facts = self.vault.facts(&record, state, now, None)?;
        let birth = facts.birth_date;
        let d = self.vault.declaration();
        let subject_facts = facts.as_subject_facts();
        let purposes = d
            .purposes
            .iter()
            .filter(|(key, p)| {
                p.legal_basis == LegalBasis::Consent
                    && p.covers_category(&record.category)
                    && actor.scope.allows(key)
            })
            .map(|(key, _)| {
                let (status, consent_id, terms_changed) =
                    match consent_state(d, &subject_facts, key, now) {
                        ConsentState::None => ("none", None, false),
                        ConsentState::Withdrawn { .. } => ("withdrawn", None, false),
                        ConsentState::Expired { .. } => ("expired", None, false),
                        ConsentState::Holding(e, g) => (
                            "holding",
                            Some(e.id),
                            PurposeTerms::of(d, key).is_some_and(|t| t.hash() != g.terms_hash),
                        ),
                    };
                PurposeConsent {
                    purpose: key.clone(),
                    status,
                    consent_id,
                    terms_changed,
                }
            })
            .collect();
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), "consents.read", Outcome::Allowed)
                    .subject(subject_id),
            )
            .await?;
        Ok(ConsentLedger {
            subject_id,
            minor: birth.map(|b| derbes_core::consent::is_minor(d, b, now.date())),
            purposes,
            history: facts.state.consents,
        })
    }

    /// Links the legal representative a person names by id or IIN (`representative`, among
    /// the declared representative categories) to a subject, as the console asks it: the role
    /// is checked before anything is looked up.
    pub async fn link_named_representative(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        representative: &str,
        relation: Relation,
        documents: Vec<Document>,
    ) -> Result<(RepresentativeLink, bool), VaultError> {
        self.vault.authorize(actor, Action::RepresentativeLink)?;
        let categories = representative_categories(self.vault.declaration());
        let representative_id = self
            .resolve_subject(actor, "representative", representative, &categories)
            .await?;
        let input = LinkInput {
            representative_id,
            relation,
            documents,
        };
        self.link_representative(actor, subject_id, input).await
    }

    /// Links a legal representative (a subject of a representative category) to a subject.
    pub async fn link_representative(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        input: LinkInput,
    ) -> Result<(RepresentativeLink, bool), VaultError> {
        let mut problems = Vec::new();
        if input.documents.is_empty() {
            problems.push(problem(
                "documents",
                "give at least one document that proves the representation (kind and the SHA-256 of its scan)",
            ));
        }
        for (i, d) in input.documents.iter().enumerate() {
            if !is_sha256(&d.sha256) {
                problems.push(refused(
                    &format!("documents[{i}].sha256"),
                    "must be 64 lower-case hex digits (`sha256sum scan.pdf`)",
                    ValueError::NotSha256,
                ));
            }
        }
        if input.representative_id == subject_id {
            let why = ValueError::OwnRepresentative;
            problems.push(refused("representative_id", why.to_string(), why));
        }
        invalid(problems)?;
        let (subject, _) = self
            .vault
            .subject_for(actor, Action::RepresentativeLink, subject_id, None)
            .await?;
        let rep = self
            .representative_in_reach(
                actor,
                Action::RepresentativeLink,
                &subject,
                input.representative_id,
            )
            .await?
            .ok_or_else(|| {
                VaultError::Validation(vec![refused(
                    "representative_id",
                    "no subject has this id; create the representative as a subject first",
                    ValueError::NoSuchSubject,
                )])
            })?;
        let allowed = representative_categories(self.vault.declaration());
        if !allowed.contains(&rep.category) {
            return Err(VaultError::Validation(vec![refused(
                "representative_id",
                format!(
                    "this subject is of category `{}`; legal representatives must be of category {}",
                    rep.category,
                    allowed
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
                ValueError::NotARepresentative,
            )]));
        }
        let link = RepresentativeLink {
            subject_id,
            representative_id: input.representative_id,
            relation: input.relation,
            documents: input.documents,
            linked_at: self.vault.now(),
            linked_by: actor.audit_name(),
        };
        let kinds: Vec<_> = link.documents.iter().map(|d| d.kind).collect();
        let audit = AuditDraft::new(&actor.audit_name(), "representative.link", Outcome::Ok)
            .subject(subject_id)
            .details(&json!({
                "representative_id": link.representative_id,
                "relation": link.relation,
                "documents": kinds,
            }));
        let applied = self
            .vault
            .store()
            .write(WriteOp::LinkRepresentative {
                link: link.clone(),
                audit,
            })
            .await?;
        Ok((link, applied == Applied::Linked { new: true }))
    }

    /// The representative `id` of `subject`, when the actor reaches it: a subject that is not
    /// held, or that the actor does not reach, is `None` (the attempt audited); a link that no
    /// single purpose of the actor covers, both the subject and its representative, is refused.
    async fn representative_in_reach(
        &self,
        actor: &Actor,
        action: Action,
        subject: &SubjectRecord,
        id: Uuid,
    ) -> Result<Option<SubjectRecord>, VaultError> {
        let Some(rep) = self.vault.store().subject(id).await? else {
            return Ok(None);
        };
        if !self.vault.reaches(actor, &rep.category) {
            self.vault.refuse_reach(actor, action, id).await?;
            return Ok(None);
        }
        if !derbes_core::decision::covers_both(
            self.vault.declaration(),
            &actor.scope,
            &subject.category,
            &rep.category,
        ) {
            self.vault.refuse_reach(actor, action, subject.id).await?;
            return Err(VaultError::Forbidden(format!(
                "none of this token's purposes processes both a `{}` and a `{}`: a link between them needs one that does",
                subject.category, rep.category
            )));
        }
        Ok(Some(rep))
    }

    /// Removes a legal representative's link to the subject; answers the links that remain.
    pub async fn unlink_representative(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        representative_id: Uuid,
    ) -> Result<Representatives, VaultError> {
        let (subject, _) = self
            .vault
            .subject_for(actor, Action::RepresentativeUnlink, subject_id, None)
            .await?;
        // A representative out of reach is answered as one never linked.
        if self
            .vault
            .store()
            .subject(representative_id)
            .await?
            .is_some()
            && self
                .representative_in_reach(
                    actor,
                    Action::RepresentativeUnlink,
                    &subject,
                    representative_id,
                )
                .await?
                .is_none()
        {
            return Err(VaultError::NotLinked);
        }
        let audit = AuditDraft::new(&actor.audit_name(), "representative.unlink", Outcome::Ok)
            .subject(subject_id)
            .details(&json!({ "representative_id": representative_id }));
        match self
            .vault
            .store()
            .write(WriteOp::UnlinkRepresentative {
                subject_id,
                representative_id,
                audit,
            })
            .await
        {
            Ok(_) => {}
            Err(StoreError::NotFound) => return Err(VaultError::NotLinked),
            Err(e) => return Err(e.into()),
        }
        self.representatives(actor, subject_id).await
    }

    pub async fn representatives(
        &self,
        actor: &Actor,
        subject_id: Uuid,
    ) -> Result<Representatives, VaultError> {
        let (_, state) = self
            .vault
            .subject_for(actor, Action::RepresentativeList, subject_id, None)
            .await?;
        Ok(Representatives {
            subject_id,
            representatives: state.representatives,
            represents: self.vault.store().represented_by(subject_id).await?,
        })
    }

    /// Sets or lifts the block of the subject (`purpose: None`) or the restriction of one
    /// purpose.
    pub async fn set_flag(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        purpose: Option<&str>,
        change: FlagChange,
    ) -> Result<Flags, VaultError> {
        let now = self.vault.now();
        let action = match (purpose, &change) {
            (None, FlagChange::Set(_)) => Action::BlockSet,
            (None, FlagChange::Lift(_)) => Action::BlockLift,
            (Some(_), FlagChange::Set(_)) => Action::RestrictionSet,
            (Some(_), FlagChange::Lift(_)) => Action::RestrictionLift,
        };
        self.vault.authorize(actor, action)?;
        if let Some(p) = purpose {
            self.vault.declared_purpose(p)?;
            if !actor.scope.allows(p) {
                return Err(VaultError::Forbidden(format!(
                    "this token may not restrict or lift restrictions of purpose `{p}`; it acts for other purposes"
                )));
            }
        }
        if let FlagChange::Set(input) = &change {
            check_note_and_until(input.note.as_deref(), input.until, now.date())?;
        }
        let (record, state) = self
            .vault
            .subject_for(actor, action, subject_id, None)
            .await?;
        if let Some(p) = purpose {
            self.purpose_of_category(p, &record.category)?;
        }
        let slot = flag_slot(purpose.unwrap_or(""));
        let current = match purpose {
            None => state.blocked.as_ref(),
            Some(p) => state
                .restrictions
                .iter()
                .find(|(k, _)| k == p)
                .map(|(_, f)| f),
        };
        let what = if purpose.is_some() {
            "restriction"
        } else {
            "block"
        };
        let (flag, action, reason) = match change {
            FlagChange::Set(input) => (
                Some(Flag {
                    reason: input.reason,
                    note: None,
                    sealed_note: self
                        .vault
                        .seal_note(&record, &slot, input.note.as_deref())?,
                    until: input.until,
                    set_by: actor.audit_name(),
                    set_at: now,
                }),
                format!("subject.{what}"),
                input.reason,
            ),
            FlagChange::Lift(reason) => {
                if current.is_none_or(|f| !f.holds(now)) {
                    return Err(VaultError::NothingToLift(what));
                }
                (None, format!("subject.{what}.lift"), reason)
            }
        };
        let mut draft = AuditDraft::new(&actor.audit_name(), &action, Outcome::Ok)
            .subject(subject_id)
            .reason(reason.code());
        if let Some(p) = purpose {
            draft = draft.purpose(p);
        }
        if let Some(until) = flag.as_ref().and_then(|f| f.until) {
            draft = draft.details(&json!({ "until": until.to_string() }));
        }
        let flag = match purpose {
            None => FlagWrite::Block(flag),
            Some(p) => FlagWrite::Restriction {
                purpose: p.to_owned(),
                flag,
            },
        };
        self.vault
            .store()
            .write(WriteOp::SetFlag {
                subject_id,
                flag,
                audit: draft,
            })
            .await?;
        self.flags_of(subject_id).await
    }

    /// Records (`Some`) an open obligation of the subject under `purpose`, which keeps their
    /// consent to it from being withdrawn, or marks it fulfilled (`None`). The purpose must
    /// declare `withdrawal_obligation`: a limit on withdrawal the policy does not state binds
    /// no one.
    pub async fn set_obligation(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        purpose: &str,
        input: Option<ObligationInput>,
    ) -> Result<Flags, VaultError> {
        let now = self.vault.now();
        let action = if input.is_some() {
            Action::ObligationSet
        } else {
            Action::ObligationFulfil
        };
        self.vault.authorize(actor, action)?;
        if !actor.scope.allows(purpose) {
            crate::vault::check_names(purpose, &[])?;
            return Err(VaultError::Forbidden(format!(
                "this token may not record obligations under purpose `{purpose}`; it acts for other purposes"
            )));
        }
        if self
            .vault
            .declared_purpose(purpose)?
            .withdrawal_obligation
            .is_none()
        {
            return Err(VaultError::Validation(vec![problem(
                "purpose",
                format!(
                    "purpose `{purpose}` declares no withdrawal_obligation, so no obligation can keep its consent from being withdrawn; declare one first"
                ),
            )]));
        }
        if let Some(i) = &input {
            check_note_and_until(i.note.as_deref(), i.until, now.date())?;
        }
        let (record, state) = self
            .vault
            .subject_for(actor, action, subject_id, None)
            .await?;
        self.purpose_of_category(purpose, &record.category)?;
        let slot = obligation_slot(purpose);
        let open = state
            .obligations
            .iter()
            .any(|(p, o)| p == purpose && o.holds(now));
        let (obligation, action) = match input {
            Some(i) => (
                Some(Obligation {
                    note: None,
                    sealed_note: self.vault.seal_note(&record, &slot, i.note.as_deref())?,
                    until: i.until,
                    set_by: actor.audit_name(),
                    set_at: now,
                }),
                "obligation.record",
            ),
            None if !open => return Err(VaultError::NothingToLift("obligation")),
            None => (None, "obligation.fulfil"),
        };
        let mut draft = AuditDraft::new(&actor.audit_name(), action, Outcome::Ok)
            .subject(subject_id)
            .purpose(purpose);
        if let Some(until) = obligation.as_ref().and_then(|o| o.until) {
            draft = draft.details(&json!({ "until": until.to_string() }));
        }
        self.vault
            .store()
            .write(WriteOp::SetFlag {
                subject_id,
                flag: FlagWrite::Obligation {
                    purpose: purpose.to_owned(),
                    obligation,
                },
                audit: draft,
            })
            .await?;
        self.flags_of(subject_id).await
    }

    /// Refuses a purpose that does not process subjects of `category`: nothing of it can be
    /// restricted or held for such a subject.
    fn purpose_of_category(&self, purpose: &str, category: &str) -> Result<(), VaultError> {
        if self
            .vault
            .declaration()
            .purpose(purpose)
            .is_some_and(|p| !p.covers_category(category))
        {
            return Err(VaultError::Validation(vec![problem(
                "purpose",
                format!("purpose `{purpose}` does not process subjects of category `{category}`"),
            )]));
        }
        Ok(())
    }

    pub async fn flags(&self, actor: &Actor, subject_id: Uuid) -> Result<Flags, VaultError> {
        self.vault
            .subject_for(actor, Action::FlagsRead, subject_id, None)
            .await?;
        self.flags_of(subject_id).await
    }

    /// The subject's flags, for an actor already authorized.
    async fn flags_of(&self, subject_id: Uuid) -> Result<Flags, VaultError> {
        let (record, state) = self.vault.subject_and_state(subject_id, None).await?;
        let flag = |key: &str, mut f: Flag| -> Result<Flag, VaultError> {
            if let Some(sealed) = f.sealed_note.take() {
                f.note = Some(self.vault.open_note(&record, &flag_slot(key), &sealed)?);
            }
            Ok(f)
        };
        Ok(Flags {
            subject_id,
            blocked: state.blocked.map(|f| flag("", f)).transpose()?,
            restrictions: state
                .restrictions
                .into_iter()
                .map(|(p, f)| Ok((p.clone(), flag(&p, f)?)))
                .collect::<Result<_, VaultError>>()?,
            obligations: state
                .obligations
                .into_iter()
                .map(|(p, mut o)| {
                    if let Some(sealed) = o.sealed_note.take() {
                        o.note = Some(self.vault.open_note(
                            &record,
                            &obligation_slot(&p),
                            &sealed,
                        )?);
                    }
                    Ok((p, o))
                })
                .collect::<Result<_, VaultError>>()?,
        })
    }

    /// Seals the notes of blocks, restrictions and obligations that a derbes from before notes
    /// were sealed kept in clear, so that they go with the subject's data when it is destroyed.
    /// `serve` runs it at start, before it takes requests. Returns how many were sealed.
    pub async fn seal_clear_notes(&self) -> Result<usize, VaultError> {
        let mut sealed = 0;
        let found = self.vault.store().subjects_with_clear_notes().await?;
        let mut failed = None;
        for &id in &found {
            match self.seal_notes_of(id).await {
                Ok(n) => sealed += n,
                // One subject's failure does not keep the others' notes in clear.
                Err(e) => failed = Some(e),
            }
        }
        // Rewritten whenever clear notes were found, so that a start that sealed them but
        // stopped before the rewrite is completed by the next.
        if !found.is_empty() {
            self.vault.store().rewrite_flag_tables().await?;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(sealed),
        }
    }

    /// Seals the clear notes of one subject; how many.
    async fn seal_notes_of(&self, id: Uuid) -> Result<usize, VaultError> {
        let (record, state) = match self.vault.subject_and_state(id, None).await {
            Ok(found) => found,
            Err(VaultError::NotFound | VaultError::Destroyed(_)) => return Ok(0),
            Err(e) => return Err(e),
        };
        let clear =
            |note: &Option<String>, sealed: &Option<String>| note.is_some() && sealed.is_none();
        let flag = |key: &str, f: Flag| -> Result<Option<Flag>, VaultError> {
            Ok(Some(Flag {
                sealed_note: self
                    .vault
                    .seal_note(&record, &flag_slot(key), f.note.as_deref())?,
                note: None,
                ..f
            }))
        };
        let mut writes = Vec::new();
        if let Some(f) = state.blocked.filter(|f| clear(&f.note, &f.sealed_note)) {
            writes.push(FlagWrite::Block(flag("", f)?));
        }
        for (purpose, f) in state.restrictions {
            if clear(&f.note, &f.sealed_note) {
                let f = flag(&purpose, f)?;
                writes.push(FlagWrite::Restriction { purpose, flag: f });
            }
        }
        for (purpose, o) in state.obligations {
            if clear(&o.note, &o.sealed_note) {
                let obligation = Some(Obligation {
                    sealed_note: self.vault.seal_note(
                        &record,
                        &obligation_slot(&purpose),
                        o.note.as_deref(),
                    )?,
                    note: None,
                    ..o
                });
                writes.push(FlagWrite::Obligation {
                    purpose,
                    obligation,
                });
            }
        }
        let sealed = writes.len();
        for flag in writes {
            let audit = AuditDraft::new("system", "subject.note.sealed", Outcome::Ok).subject(id);
            self.vault
                .store()
                .write(WriteOp::SetFlag {
                    subject_id: id,
                    flag,
                    audit,
                })
                .await?;
        }
        Ok(sealed)
    }
}

/// The slot a block's (key "") or a restriction's note is sealed for.
fn flag_slot(key: &str) -> String {
    format!("note:flag:{key}")
}

/// The slot an obligation's note is sealed for.
fn obligation_slot(purpose: &str) -> String {
    format!("note:obligation:{purpose}")
}

/// The first day of the month after `day`'s.
fn next_month(day: time::Date) -> time::Date {
    let first = day.replace_day(1).unwrap_or(day);
    let length = first.month().length(first.year());
    first + time::Duration::days(i64::from(length))
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    #[test]
    fn next_month_rolls_over_the_year_and_short_months() {
        assert_eq!(
            super::next_month(date!(2026 - 12 - 31)),
            date!(2027 - 01 - 01)
        );
        assert_eq!(
            super::next_month(date!(2028 - 02 - 29)),
            date!(2028 - 03 - 01)
        );
        assert_eq!(
            super::next_month(date!(2027 - 01 - 31)),
            date!(2027 - 02 - 01)
        );
    }
}

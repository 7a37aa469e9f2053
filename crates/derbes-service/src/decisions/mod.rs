//! "May purpose P use fields F of subject S now?", asked by the operator's platform: one
//! question or a batch, each answered by core from the subject's state, and the answers recorded
//! in the audit chain (one event per request) before they leave derbes.

mod facts_cache;

/// How many subjects' decision facts are kept in memory.
const FACTS_CACHED: usize = 100_000;

use crate::actor::Actor;
use crate::vault::InForce;
use crate::vault::{check_names, Vault, VaultError};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::consent::ConsentProblem;
use derbes_core::decision::DenyReason;
use derbes_core::decision::{decide, ReadQuery};
use derbes_core::declaration::LegalBasis;
use derbes_core::retention::RetentionFacts;
use facts_cache::{Cached, FactsCache};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// A reason with its stable code, as the API shows it (refusals, decisions).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reason {
    pub code: &'static str,
    pub message: String,
}

impl From<&DenyReason> for Reason {
    fn from(r: &DenyReason) -> Self {
        Reason {
            code: r.code(),
            message: r.message(),
        }
    }
}

impl From<&ConsentProblem> for Reason {
    fn from(p: &ConsentProblem) -> Self {
        Reason {
            code: p.code(),
            message: p.message(),
        }
    }
}

/// The most questions one request may ask.
pub const MAX_BATCH: usize = 1000;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub subject_id: Uuid,
    pub purpose: String,
    /// `None`: every field the purpose may use for the subject's category.
    pub fields: Option<Vec<String>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    pub subject_id: Uuid,
    pub purpose: String,
    pub allowed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_basis: Option<LegalBasis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<Uuid>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub confirmation_due: bool,
    /// The fields the purpose may use (allowed answers).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Every reason (refusals).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Reason>,
}

impl Answer {
    fn refused(q: &Question, reasons: Vec<Reason>) -> Self {
        Answer {
            subject_id: q.subject_id,
            purpose: q.purpose.clone(),
            allowed: false,
            legal_basis: None,
            consent_id: None,
            confirmation_due: false,
            fields: Vec::new(),
            reasons,
        }
    }

    /// How the answer appears in the audit: `allowed`, or the reason codes.
    fn outcome(&self) -> String {
        if self.allowed {
            "allowed".into()
        } else {
            self.reasons
                .iter()
                .map(|r| r.code)
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

/// Decisions on whether a purpose may read a subject's fields, with the subjects' decision facts kept in memory.
pub struct Decisions {
    vault: Arc<Vault>,
    facts_cache: FactsCache,
}

impl Decisions {
    pub(crate) fn new(vault: Arc<Vault>) -> Self {
        Decisions {
            vault,
            facts_cache: FactsCache::new(FACTS_CACHED),
        }
    }

    /// The decision facts of each question's subject (`None`: no such subject), from memory
    /// where they are current, else read from the store and kept.
    async fn decision_facts(
        &self,
        questions: &[Question],
    ) -> Result<Vec<Option<Arc<Cached>>>, VaultError> {
        let cache = &self.facts_cache;
        let read_at = cache.sync(self.vault.store().as_ref()).await?;
        let mut found: Vec<Option<Arc<Cached>>> =
            questions.iter().map(|q| cache.get(&q.subject_id)).collect();
        let mut missing: Vec<Uuid> = questions
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(q, _)| q.subject_id)
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        missing.sort_unstable();
        missing.dedup();
        let read = self
            .vault
            .store()
            .subjects_with_state(missing.iter().map(|id| (*id, None)).collect())
            .await?;
        let mut fresh = std::collections::HashMap::with_capacity(missing.len());
        for (id, subject) in missing.into_iter().zip(read) {
            let Some((record, state)) = subject else {
                continue;
            };
            let facts = self.vault.facts(&record, state, self.vault.now(), None)?;
            let cached = Arc::new(Cached {
                ends: facts.field_ends(self.vault.declaration(), &record.category),
                birth_date: facts.birth_date,
                category: record.category,
                state: facts.state,
            });
            cache.fill(id, Arc::clone(&cached), read_at);
            fresh.insert(id, cached);
        }
        for (q, f) in questions.iter().zip(found.iter_mut()) {
            if f.is_none() {
                *f = fresh.get(&q.subject_id).cloned();
            }
        }
        Ok(found)
    }

    /// Answers each question from the subject's state now. The answers are audited together.
    pub async fn decide_questions(
        &self,
        actor: &Actor,
        questions: Vec<Question>,
    ) -> Result<Vec<Answer>, VaultError> {
        self.vault.authorize(actor, crate::access::Action::Decide)?;
        if questions.is_empty() || questions.len() > MAX_BATCH {
            return Err(VaultError::Invalid(format!(
                "ask between 1 and {MAX_BATCH} questions in one request"
            )));
        }
        for (i, q) in questions.iter().enumerate() {
            check_names(&q.purpose, q.fields.as_deref().unwrap_or(&[])).map_err(|e| match e {
                VaultError::Invalid(m) => VaultError::Invalid(format!("decisions[{i}]: {m}")),
                other => other,
            })?;
        }
        let now = self.vault.now();
        let today = self.vault.day_of(now);
        let subjects = self.decision_facts(&questions).await?;
        let d = self.vault.declaration();
        let mut answers = Vec::with_capacity(questions.len());
        for (q, subject) in questions.iter().zip(subjects) {
            // A subject outside the actor's purposes is answered as if there were none.
            let Some(cached) = subject.filter(|c| self.vault.reaches(actor, &c.category)) else {
                answers.push(Answer::refused(
                    q,
                    vec![Reason {
                        code: "subject_not_found",
                        message: "no subject has this id".into(),
                    }],
                ));
                continue;
            };
            let in_force = InForce::at(&cached.state, now);
            let facts = in_force.facts(
                cached.birth_date,
                &cached.state,
                Some(RetentionFacts {
                    ends: &cached.ends,
                    today,
                }),
            );
            let decision = decide(
                d,
                &ReadQuery {
                    category: Some(&cached.category),
                    purpose: &q.purpose,
                    fields: q.fields.as_deref(),
                    actor: &actor.scope,
                },
                Some((&facts, now)),
            );
            answers.push(match decision {
                Ok(a) => Answer {
                    subject_id: q.subject_id,
                    purpose: q.purpose.clone(),
                    allowed: true,
                    legal_basis: Some(a.basis),
                    consent_id: a.consent_id,
                    confirmation_due: a.confirmation_due,
                    fields: a.fields,
                    reasons: Vec::new(),
                },
                Err(reasons) => Answer::refused(q, reasons.iter().map(Reason::from).collect()),
            });
        }
        self.vault
            .audit(decision_event(actor, &questions, &answers))
            .await?;
        Ok(answers)
    }
}

/// One audit event for the request. A single question is recorded like a read (subject,
/// purpose, fields, reasons); a batch lists each answer as [subject, purpose, outcome].
fn decision_event(actor: &Actor, questions: &[Question], answers: &[Answer]) -> AuditDraft {
    let all_allowed = answers.iter().all(|a| a.allowed);
    let outcome = if all_allowed {
        Outcome::Allowed
    } else {
        Outcome::Denied
    };
    if let ([q], [a]) = (questions, answers) {
        let mut draft = AuditDraft::new(&actor.audit_name(), "decision", outcome)
            .subject(q.subject_id)
            .purpose(&q.purpose)
            .fields(q.fields.as_deref().unwrap_or(&[]));
        if !a.allowed {
            draft = draft.reason(a.outcome());
        } else if let Some(c) = a.consent_id {
            draft = draft.details(&json!({ "consent_id": c }));
        }
        return draft;
    }
    /// One answer as the audit lists it: [subject, purpose, outcome].
    #[derive(Serialize)]
    struct Listed<'a>(Uuid, &'a str, String);
    #[derive(Serialize)]
    struct Details<'a> {
        count: usize,
        refused: usize,
        answers: Vec<Listed<'a>>,
    }
    let details = Details {
        count: answers.len(),
        refused: answers.iter().filter(|a| !a.allowed).count(),
        answers: answers
            .iter()
            .map(|a| Listed(a.subject_id, &a.purpose, a.outcome()))
            .collect(),
    };
    AuditDraft::new(&actor.audit_name(), "decisions", outcome).details(&details)
}

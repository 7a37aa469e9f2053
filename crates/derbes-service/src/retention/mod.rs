//! Retention, as a capability: the lifecycle events that start retention periods (the
//! relationship ended, a purpose achieved, an event retracted), recorded for a subject and
//! read back with what they add up to. What expires when is core's (`derbes_core::retention`).

use crate::access::Action;
use crate::actor::Actor;
use crate::vault::{Vault, VaultError};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::consent::SubjectFacts;
use derbes_core::expiry::{ExpiryReport, ExpiryScan, HeldBy};
use derbes_core::lifecycle::{check, LifecycleEvent, LifecycleKind, LifecycleProblem};
use derbes_core::retention::{holds, kept_until, last_days, Hold, Until};
use derbes_core::validate::FieldProblem;
use derbes_store::WriteOp;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use time::Date;
use uuid::Uuid;

mod acts;
mod batches;
mod release;
pub use acts::{act_html, act_page, ActPage, SignedAct};
pub use batches::{batch_summary, BatchView, RetentionOverview, RetentionSettings};
pub use release::DepersonalizedRelease;

/// What kind of lifecycle event is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleStep {
    RelationshipEnded,
    PurposeAchieved,
    Retracted,
    LegalHold,
}

/// A lifecycle event as asked through the API: `reason` for an ended relationship, `purpose`
/// for a purpose achieved, `event` (its id) for a retraction, `reason` and `until` for a legal
/// hold (`on` is the day it starts).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleInput {
    pub kind: LifecycleStep,
    #[serde(with = "derbes_core::iso_date")]
    pub on: Date,
    pub reason: Option<String>,
    pub purpose: Option<String>,
    pub event: Option<Uuid>,
    #[serde(default, with = "derbes_core::iso_date::option")]
    pub until: Option<Date>,
}

impl LifecycleInput {
    fn kind(&self) -> Result<LifecycleKind, VaultError> {
        let missing = |p: LifecycleProblem| VaultError::Validation(vec![problem(p)]);
        Ok(match self.kind {
            LifecycleStep::RelationshipEnded => LifecycleKind::RelationshipEnded {
                reason: Some(
                    self.reason
                        .clone()
                        .ok_or_else(|| missing(LifecycleProblem::Reason))?,
                ),
                sealed_reason: None,
            },
            LifecycleStep::PurposeAchieved => LifecycleKind::PurposeAchieved {
                purpose: self
                    .purpose
                    .clone()
                    .ok_or_else(|| missing(LifecycleProblem::NoPurpose))?,
            },
            LifecycleStep::Retracted => LifecycleKind::Retracted {
                event: self
                    .event
                    .ok_or_else(|| missing(LifecycleProblem::NothingToRetract))?,
            },
            LifecycleStep::LegalHold => LifecycleKind::LegalHold {
                until: self
                    .until
                    .ok_or_else(|| missing(LifecycleProblem::HoldUntil))?,
                reason: Some(
                    self.reason
                        .clone()
                        .ok_or_else(|| missing(LifecycleProblem::HoldReason))?,
                ),
                sealed_reason: None,
            },
        })
    }
}

/// A refused event's problem, by the field of the request it is about.
fn problem(p: LifecycleProblem) -> FieldProblem {
    FieldProblem {
        field: p.field().into(),
        message: p.message(),
        reason: Some(derbes_core::validate::ValueError::Lifecycle(p)),
    }
}

/// A subject's lifecycle: its events in the order recorded, what they add up to, and how long
/// each field is kept.
#[derive(Debug, Clone, Serialize)]
pub struct LifecycleView {
    /// The subject's category.
    pub category: String,
    pub events: Vec<LifecycleEvent>,
    /// The day the relationship ended (`YYYY-MM-DD`), unless it has not.
    pub relationship_ended: Option<String>,
    /// The purposes achieved for the subject, with the day.
    pub purposes_achieved: BTreeMap<String, String>,
    /// The last day of the legal holds in force, if one is: nothing of the subject is
    /// destroyed or depersonalized until the day after.
    #[serde(with = "derbes_core::iso_date::option")]
    pub held_until: Option<Date>,
    /// Each field the subject has a value for, in the declaration's order.
    pub fields: Vec<FieldRetention>,
}

/// How long one field of a subject is kept, and by which purposes.
#[derive(Debug, Clone, Serialize)]
pub struct FieldRetention {
    pub field: String,
    /// The day its value was collected.
    #[serde(with = "derbes_core::iso_date")]
    pub collected: Date,
    /// The last day of the latest hold; `None` when no purpose keeps it.
    pub kept_until: Option<Until>,
    /// Its retention has ended: it may no longer be read for any purpose.
    pub ended: bool,
    /// Each purpose that keeps it, under which rule, until when.
    pub holds: Vec<Hold>,
}

/// Retention of subjects' data.
#[derive(Clone)]
pub struct Retention {
    vault: Arc<Vault>,
    settings: RetentionSettings,
    /// Whole subjects go the way every destruction goes (connectors, the log).
    destructions: Arc<crate::destruction::Destructions>,
}

impl Retention {
    pub(crate) fn new(
        vault: Arc<Vault>,
        settings: RetentionSettings,
        destructions: Arc<crate::destruction::Destructions>,
    ) -> Self {
        Retention {
            vault,
            settings,
            destructions,
        }
    }

    /// Records a lifecycle event of a subject, checked against the declaration, the day the
    /// subject's data were collected, and the events recorded before. A legal hold, and the
    /// retraction that lifts one, are for those who answer for the data.
    pub async fn record_lifecycle(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        input: LifecycleInput,
    ) -> Result<LifecycleEvent, VaultError> {
        let action = match input.kind {
            LifecycleStep::LegalHold => Action::RetentionHold,
            _ => Action::LifecycleRecord,
        };
        let (record, state) = self
            .vault
            .subject_for(actor, action, subject_id, None)
            .await?;
        let kind = input.kind()?;
        let ledger = state.lifecycle;
        if let LifecycleKind::Retracted { event } = &kind {
            let lifts_a_hold = ledger
                .iter()
                .any(|e| e.id == *event && matches!(e.kind, LifecycleKind::LegalHold { .. }));
            if lifts_a_hold {
                self.vault.authorize(actor, Action::RetentionHold)?;
            }
        }
        let event = LifecycleEvent {
            id: Uuid::now_v7(),
            subject_id,
            kind,
            on: input.on,
            recorded_at: self.vault.now(),
            recorded_by: actor.audit_name(),
        };
        let collected = self.vault.day_of(record.created_at);
        if let Err(problems) = check(
            self.vault.declaration(),
            &record.category,
            collected,
            self.vault.today(),
            &ledger,
            &event,
        ) {
            return Err(VaultError::Validation(
                problems.into_iter().map(problem).collect(),
            ));
        }
        let mut details = json!({
            "event_id": event.id,
            "on": event.on.to_string(),
            "kind": event.kind.name(),
        });
        let mut audit = AuditDraft::new(&actor.audit_name(), "subject.lifecycle", Outcome::Ok)
            .subject(subject_id);
        match &event.kind {
            LifecycleKind::RelationshipEnded { .. } => {}
            LifecycleKind::PurposeAchieved { purpose } => audit = audit.purpose(purpose),
            LifecycleKind::Retracted { event } => details["retracted"] = json!(event),
            LifecycleKind::LegalHold { until, .. } => details["until"] = json!(until.to_string()),
        }
        // A reason is stored only sealed, under the subject's data key.
        let mut stored = event.clone();
        if let Some((reason, sealed_reason)) = stored.kind.reason_mut() {
            *sealed_reason =
                self.vault
                    .seal_note(&record, &reason_slot(event.id), reason.take().as_deref())?;
        }
        self.vault
            .store()
            .write(WriteOp::RecordLifecycle {
                event: stored,
                seen: ledger.len(),
                audit: audit.details(&details),
            })
            .await?;
        Ok(event)
    }

    /// A subject's lifecycle events and what they add up to.
    pub async fn lifecycle(
        &self,
        actor: &Actor,
        subject_id: Uuid,
    ) -> Result<LifecycleView, VaultError> {
        let (record, state) = self
            .vault
            .subject_for(actor, Action::LifecycleRead, subject_id, None)
            .await?;
        let facts = self.vault.facts(&record, state, self.vault.now(), None)?;
        let events = self.opened(&record, facts.state.lifecycle.clone())?;
        let life = &facts.lifecycle;
        let declaration = self.vault.declaration();
        let consents = facts.as_subject_facts();
        let fields = declaration
            .fields
            .iter()
            .filter(|(key, _)| record.fields.iter().any(|(k, _)| k == *key))
            .map(|(key, _)| {
                let holds = holds(
                    declaration,
                    &record.category,
                    key,
                    life,
                    &consents,
                    facts.today,
                );
                let until = kept_until(&holds);
                FieldRetention {
                    field: key.clone(),
                    collected: life.collected(key),
                    // As decisions see it: a last day that has passed.
                    ended: matches!(until, Some(Until::Day(last)) if last < facts.today),
                    kept_until: until,
                    holds,
                }
            })
            .collect();
        Ok(LifecycleView {
            held_until: life.held_until(facts.today),
            relationship_ended: life.relationship_ended.map(|d| d.to_string()),
            purposes_achieved: life
                .purposes_achieved
                .iter()
                .map(|(p, d)| (p.clone(), d.to_string()))
                .collect(),
            fields,
            events,
            category: record.category,
        })
    }
}

impl Retention {
    /// `events` with their reasons opened.
    fn opened(
        &self,
        record: &derbes_store::SubjectRecord,
        mut events: Vec<LifecycleEvent>,
    ) -> Result<Vec<LifecycleEvent>, VaultError> {
        for e in &mut events {
            if let Some((reason, sealed_reason)) = e.kind.reason_mut() {
                if let Some(sealed) = sealed_reason.take() {
                    *reason = Some(self.vault.open_note(record, &reason_slot(e.id), &sealed)?);
                }
            }
        }
        Ok(events)
    }
}

/// A legal hold in force (or set to end later), as the register lists it.
#[derive(Debug, Clone, Serialize)]
pub struct LegalHoldView {
    pub subject_id: Uuid,
    pub category: String,
    /// The lifecycle event that set it (retract it to lift the hold).
    pub event: Uuid,
    #[serde(with = "derbes_core::iso_date")]
    pub from: Date,
    #[serde(with = "derbes_core::iso_date")]
    pub until: Date,
    pub reason: Option<String>,
    pub set_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: time::OffsetDateTime,
}

impl Retention {
    /// The register of legal holds: every hold not lifted whose last day is today or later,
    /// those ending first at the top, with their reasons.
    pub async fn legal_holds(&self, actor: &Actor) -> Result<Vec<LegalHoldView>, VaultError> {
        self.vault.authorize(actor, Action::RetentionHold)?;
        let today = self.vault.today();
        let store = self.vault.store();
        let mut holds = Vec::new();
        for id in store.subjects_with_legal_holds().await? {
            let Some((record, state)) = store.subject_with_state(id, None).await? else {
                continue;
            };
            let lifted: Vec<Uuid> = derbes_core::lifecycle::retracted(&state.lifecycle).collect();
            for e in self.opened(&record, state.lifecycle)? {
                let LifecycleKind::LegalHold { until, reason, .. } = e.kind else {
                    continue;
                };
                if until < today || lifted.contains(&e.id) {
                    continue;
                }
                holds.push(LegalHoldView {
                    subject_id: id,
                    category: record.category.clone(),
                    event: e.id,
                    from: e.on,
                    until,
                    reason,
                    set_by: e.recorded_by,
                    set_at: e.recorded_at,
                });
            }
        }
        holds.sort_by_key(|h| (h.until, h.subject_id));
        Ok(holds)
    }
}

/// Subjects read at a time by the retention scan.
const SCAN_PAGE: u32 = 2000;
/// The longest look ahead of a scan, in days.
pub const MAX_SCAN_DAYS: u32 = 366;

impl Retention {
    /// What has expired over every subject (apart from what a legal hold keeps: an open
    /// request) and what expires within `days` days, grouped by the retention rule whose
    /// period ran out, with counts, categories, fields and a few subject ids. Read a page of
    /// subjects at a time, so memory stays flat however many there are; no value is opened.
    pub async fn scan(&self, actor: &Actor, days: u32) -> Result<ExpiryReport, VaultError> {
        self.vault.authorize(actor, Action::RetentionScan)?;
        if days > MAX_SCAN_DAYS {
            return Err(VaultError::Validation(vec![FieldProblem {
                field: "days".into(),
                message: format!("is more than {MAX_SCAN_DAYS}; look at most a year ahead"),
                reason: None,
            }]));
        }
        let declaration = self.vault.declaration();
        let mut scan = ExpiryScan::new(declaration, self.vault.today(), days);
        self.walk(|id, category, lasts, held| scan.add(id, category, lasts, held))
            .await?;
        Ok(scan.finish())
    }

    /// Visits every subject, a page at a time, with its fields' last days today and the legal
    /// holds that keep it. No value is opened.
    async fn walk(
        &self,
        mut visit: impl FnMut(Uuid, &str, &[derbes_core::retention::FieldLast<'_>], HeldBy),
    ) -> Result<(), VaultError> {
        let today = self.vault.today();
        let store = self.vault.store();
        let asked: std::collections::HashMap<Uuid, bool> = store
            .subjects_with_open_requests()
            .await?
            .into_iter()
            .collect();
        let declaration = self.vault.declaration();
        let mut after = None;
        loop {
            let page = store
                .retention_page(derbes_store::Page::after(after, SCAN_PAGE))
                .await?;
            for s in &page {
                let life =
                    self.vault
                        .lifecycle_from(s.created_at, &s.field_collected, &s.lifecycle);
                let consents = SubjectFacts::of_ledger(&s.consents);
                let keys = s.field_keys.iter().map(String::as_str);
                let lasts = last_days(declaration, &s.category, keys, &life, &consents, today);
                let held = HeldBy {
                    request: asked.contains_key(&s.id),
                    complaint: asked.get(&s.id).copied().unwrap_or(false),
                    legal_hold: life.held_until(today).is_some(),
                };
                visit(s.id, &s.category, &lasts, held);
            }
            match page.last() {
                Some(last) if page.len() == SCAN_PAGE as usize => after = Some(last.id),
                _ => return Ok(()),
            }
        }
    }
}

/// How far ahead the kept scan looks (Today's warning).
pub const KEPT_SCAN_DAYS: u32 = 30;

/// The last scan the daily job kept.
#[derive(Debug, Clone, Serialize)]
pub struct LatestScan {
    #[serde(with = "time::serde::rfc3339")]
    pub made_at: time::OffsetDateTime,
    pub report: ExpiryReport,
}

impl Retention {
    /// Scans every subject, looking [`KEPT_SCAN_DAYS`] ahead, and keeps the report for Today
    /// (the daily `retention-scan` job).
    pub async fn keep_scan(&self, actor: &Actor) -> Result<ExpiryReport, VaultError> {
        let report = self.scan(actor, KEPT_SCAN_DAYS).await?;
        let kept = derbes_store::KeptScan {
            made_at: self.vault.now(),
            report: serde_json::to_string(&report)
                .map_err(|e| VaultError::Invalid(format!("the scan cannot be kept: {e}")))?,
        };
        self.vault
            .store()
            .write(WriteOp::KeepRetentionScan(kept))
            .await?;
        Ok(report)
    }

    /// The last scan kept, for those who may scan; `None` before the first.
    pub async fn latest_scan(&self, actor: &Actor) -> Result<Option<LatestScan>, VaultError> {
        self.vault.authorize(actor, Action::RetentionScan)?;
        let Some(kept) = self.vault.store().latest_retention_scan().await? else {
            return Ok(None);
        };
        // A scan kept by another version of derbes that this one cannot read is as good as
        // none: the next run of the job replaces it.
        Ok(serde_json::from_str(&kept.report)
            .ok()
            .map(|report| LatestScan {
                made_at: kept.made_at,
                report,
            }))
    }
}

/// A scan in a sentence, for the job board: counts only.
pub fn scan_summary(r: &ExpiryReport) -> String {
    let fields = |groups: &[derbes_core::expiry::ExpiryGroup]| {
        groups.iter().map(|g| g.tally.fields).sum::<u64>()
    };
    let (ef, hf, uf) = (fields(&r.expired), fields(&r.held), fields(&r.upcoming));
    let (es, hs, us) = (r.expired_subjects, r.held_subjects, r.upcoming_subjects);
    format!(
        "scanned {} subject(s): {ef} field(s) of {es} expired, {hf} field(s) of {hs} held, {uf} field(s) of {us} ending within {} days",
        r.scanned, r.days
    )
}

/// What reading the platforms' lifecycles did, in counts (never an identifier or a reason).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LifecycleSync {
    /// Rows the connectors gave.
    pub read: usize,
    /// Events recorded.
    pub recorded: usize,
    /// Rows whose events derbes had already.
    pub unchanged: usize,
    /// Rows whose identifier names no subject (or several).
    pub unknown: usize,
    /// Events refused, by the problem's code (a day in the future, before collection, ...).
    pub refused: BTreeMap<String, usize>,
}

impl LifecycleSync {
    /// The counts in a sentence, for the job board and the terminal.
    pub fn summary(&self) -> String {
        let refused: Vec<String> = self
            .refused
            .iter()
            .map(|(code, n)| format!("{n} {code}"))
            .collect();
        format!(
            "read {} platform row(s): recorded {} event(s), {} unchanged, {} naming no single subject{}",
            self.read,
            self.recorded,
            self.unchanged,
            self.unknown,
            if refused.is_empty() {
                String::new()
            } else {
                format!(", refused: {}", refused.join(", "))
            }
        )
    }
}

impl Retention {
    /// Records what the operator's platforms say of their users' lifecycles (each SQL
    /// connector's `[lifecycle]` map): the end of the relationship and purposes achieved that
    /// derbes does not have yet, or has on another day, as new events with the same checks and
    /// audit as any other. Idempotent: a second run records nothing new.
    pub async fn sync_lifecycle(&self, actor: &Actor) -> Result<LifecycleSync, VaultError> {
        self.vault.authorize(actor, Action::LifecycleRecord)?;
        let mut sync = LifecycleSync::default();
        for connector in self.vault.connectors() {
            let rows = connector
                .lifecycle()
                .await
                .map_err(|e| VaultError::Unavailable(e.to_string()))?;
            let field = &connector.map().identity.field;
            for row in rows {
                sync.read += 1;
                let Some(subject_id) = self.subject_by(field, &row.identifier).await? else {
                    sync.unknown += 1;
                    continue;
                };
                let (record, state) = self
                    .vault
                    .subject_for(actor, Action::LifecycleRecord, subject_id, None)
                    .await?;
                let now = self.vault.lifecycle_of(&record, &state.lifecycle);
                let mut wanted = Vec::new();
                if let Some(day) = &row.relationship_ended {
                    wanted.push((
                        LifecycleStep::RelationshipEnded,
                        None,
                        day,
                        now.relationship_ended,
                    ));
                }
                for (purpose, day) in &row.purposes_achieved {
                    let had = now.purposes_achieved.get(purpose).copied();
                    wanted.push((LifecycleStep::PurposeAchieved, Some(purpose), day, had));
                }
                for (kind, purpose, day, had) in wanted {
                    let Some(on) = derbes_core::declaration::parse_date(day) else {
                        *sync.refused.entry("not_a_date".into()).or_default() += 1;
                        continue;
                    };
                    if had == Some(on) {
                        sync.unchanged += 1;
                        continue;
                    }
                    let input = LifecycleInput {
                        kind,
                        on,
                        // A reason is at most 500 characters: a longer one is cut, not refused.
                        reason: (kind == LifecycleStep::RelationshipEnded).then(|| {
                            row.reason
                                .as_deref()
                                .map(|r| r.trim().chars().take(500).collect::<String>())
                                .filter(|r| !r.is_empty())
                                .unwrap_or_else(|| {
                                    format!("recorded by the platform `{}`", connector.name())
                                })
                        }),
                        purpose: purpose.cloned(),
                        event: None,
                        until: None,
                    };
                    match self.record_lifecycle(actor, subject_id, input).await {
                        Ok(_) => sync.recorded += 1,
                        Err(VaultError::Validation(problems)) => {
                            for p in problems {
                                let code = match p.reason {
                                    Some(derbes_core::validate::ValueError::Lifecycle(l)) => {
                                        l.code()
                                    }
                                    _ => "invalid",
                                };
                                *sync.refused.entry(code.into()).or_default() += 1;
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            }
        }
        Ok(sync)
    }

    /// The one subject whose `field` holds `value` (by its blind index), if exactly one does.
    async fn subject_by(&self, field: &str, value: &str) -> Result<Option<Uuid>, VaultError> {
        let Some(declared) = self.vault.declaration().field(field) else {
            return Ok(None);
        };
        let Ok(normalized) = derbes_core::validate::normalize(declared, value) else {
            return Ok(None);
        };
        let digest = self.vault.keys().blind_index(field, &normalized);
        let found = self.vault.store().lookup(field, &digest).await?;
        Ok(match found.as_slice() {
            [(id, _)] => Some(*id),
            _ => None,
        })
    }
}

/// The slot an ended relationship's reason is sealed for.
fn reason_slot(event: Uuid) -> String {
    format!("note:lifecycle:{event}")
}

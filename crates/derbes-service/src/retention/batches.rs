//! Retention batches: what one retention rule destroys or depersonalizes, worked out over
//! every subject not under a legal hold, proposed to the DPO and approved (by two people with
//! four eyes). An approval on a proposal that no longer matches what has expired is refused,
//! and the proposal is worked out again with what changed, for the DPO to review.

use super::Retention;
use crate::access::Action;
use crate::actor::Actor;
use crate::destruction::FieldsDestroyed;
use crate::vault::VaultError;
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::declaration::RetentionAction;
use derbes_core::depersonalize::record_of;
use derbes_core::destruction::ConnectorDone;
use derbes_core::retention::last_days;
use derbes_core::retention_batch::{
    item_of, to_execute, Batch, BatchDiff, BatchItem, BatchOutcome, BatchProblem, BatchStatus,
    BatchSummary, ItemMark,
};
use derbes_core::validate::FieldProblem;
use derbes_crypto::DataKey;
use derbes_store::{
    Applied, BatchItemRecord, BatchRecord, Depersonalized, Page, PseudonymKey, StoreError, WriteOp,
};
use serde::Serialize;
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// Items read at a time.
const ITEM_PAGE: u32 = 5000;
/// Batches a list shows.
pub const BATCH_LIST: u32 = 100;

/// A batch as shown: the batch and its version.
#[derive(Debug, Clone, Serialize)]
pub struct BatchView {
    #[serde(flatten)]
    pub batch: Batch,
    pub version: i64,
}

impl From<BatchRecord> for BatchView {
    fn from(r: BatchRecord) -> Self {
        BatchView {
            batch: r.batch,
            version: r.version,
        }
    }
}

/// How the operator configured retention.
#[derive(Debug, Clone, Copy, Default)]
pub struct RetentionSettings {
    /// A batch needs the approvals of two different people.
    pub four_eyes: bool,
}

impl Retention {
    /// What `rule` destroys or depersonalizes today, subject by subject, over every subject
    /// not under a legal hold, in subject order.
    async fn items_of(&self, rule: &str) -> Result<Vec<BatchItem>, VaultError> {
        let today = self.vault.today();
        let declaration = self.vault.declaration();
        let mut items = Vec::new();
        self.walk(|id, category, lasts, held| {
            if held.any() {
                return;
            }
            if let Some(item) = item_of(declaration, id, category, lasts, rule, today) {
                items.push(item);
            }
        })
        .await?;
        Ok(items)
    }

    /// Proposes a batch of what `rule` destroys or depersonalizes today.
    pub async fn propose_batch(&self, actor: &Actor, rule: &str) -> Result<BatchView, VaultError> {
        self.vault.authorize(actor, Action::RetentionApprove)?;
        let refuse = |message: &str| {
            VaultError::Validation(vec![FieldProblem {
                field: "rule".into(),
                message: message.to_owned(),
                reason: None,
            }])
        };
        let Some(declared) = self.vault.declaration().retention.get(rule) else {
            return Err(refuse("names no retention rule of the declaration"));
        };
        let action = declared.action;
        let items = self.items_of(rule).await?;
        if items.is_empty() {
            return Err(refuse(
                "has nothing expired to destroy or depersonalize today (apart from what a legal hold keeps)",
            ));
        }
        let batch = Batch {
            id: Uuid::now_v7(),
            rule: rule.to_owned(),
            action,
            status: BatchStatus::Proposed,
            computed_on: self.vault.today(),
            proposed_at: self.vault.now(),
            proposed_by: actor.audit_name(),
            summary: BatchSummary::of(&items),
            changed: None,
            approvals: Vec::new(),
            approvals_needed: if self.settings.four_eyes { 2 } else { 1 },
            outcome: None,
            act: None,
        };
        let audit = self.batch_audit(actor, "retention.batch.propose", &batch, None);
        let version = self.put(batch.clone(), None, Some(items), audit).await?;
        Ok(BatchView { batch, version })
    }

    /// Approves a proposed batch. Refused when the actor approved it already, when it is no
    /// longer proposed, or when what has expired changed since it was worked out: then the
    /// proposal is worked out again (the approvals given fall) and the refusal says what
    /// changed.
    pub async fn approve_batch(&self, actor: &Actor, id: Uuid) -> Result<BatchView, VaultError> {
        self.vault.authorize(actor, Action::RetentionApprove)?;
        let record = self.batch_record(id).await?;
        let by = actor.audit_name();
        let batch = record.batch;
        let items = self.items_of(&batch.rule).await?;
        let now = BatchSummary::of(&items);
        match batch.check_approval(&by, &now) {
            Ok(()) => {}
            Err(BatchProblem::Stale(_)) => {
                let before: Vec<BatchItem> = self
                    .batch_items(id)
                    .await?
                    .into_iter()
                    .map(|i| i.item)
                    .collect();
                let diff = BatchDiff::between(&before, &items);
                let again = Batch {
                    summary: now,
                    computed_on: self.vault.today(),
                    changed: Some(diff),
                    approvals: Vec::new(),
                    ..batch
                };
                let audit =
                    self.batch_audit(actor, "retention.batch.recompute", &again, Some(&diff));
                self.put(again, Some(record.version), Some(items), audit)
                    .await?;
                return Err(VaultError::Batch(BatchProblem::Stale(diff)));
            }
            Err(problem) => return Err(VaultError::Batch(problem)),
        }
        let approved = batch.approved(&by, self.vault.now());
        let audit = self.batch_audit(actor, "retention.batch.approve", &approved, None);
        let version = self
            .put(approved.clone(), Some(record.version), None, audit)
            .await?;
        Ok(BatchView {
            batch: approved,
            version,
        })
    }

    /// A batch, for those who may scan.
    pub async fn batch(&self, actor: &Actor, id: Uuid) -> Result<BatchView, VaultError> {
        self.vault.authorize(actor, Action::RetentionScan)?;
        Ok(self.batch_record(id).await?.into())
    }

    /// The latest batches, newest first.
    pub async fn batches(&self, actor: &Actor) -> Result<Vec<BatchView>, VaultError> {
        self.vault.authorize(actor, Action::RetentionScan)?;
        Ok(self
            .vault
            .store()
            .retention_batches(BATCH_LIST)
            .await?
            .into_iter()
            .map(BatchView::from)
            .collect())
    }

    async fn batch_record(&self, id: Uuid) -> Result<BatchRecord, VaultError> {
        self.vault
            .store()
            .retention_batch(id)
            .await?
            .ok_or(VaultError::BatchNotFound)
    }

    /// Every item of a batch with its mark, in subject order.
    async fn batch_items(&self, id: Uuid) -> Result<Vec<BatchItemRecord>, VaultError> {
        let mut items = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .vault
                .store()
                .retention_batch_items(id, Page::after(after, ITEM_PAGE), false)
                .await?;
            let full = page.len() == ITEM_PAGE as usize;
            after = page.last().map(|i| i.item.subject_id);
            items.extend(page);
            if !full {
                return Ok(items);
            }
        }
    }

    async fn put(
        &self,
        batch: Batch,
        seen: Option<i64>,
        items: Option<Vec<BatchItem>>,
        audit: AuditDraft,
    ) -> Result<i64, VaultError> {
        match self
            .vault
            .store()
            .write(WriteOp::PutRetentionBatch {
                batch: Box::new(batch),
                seen,
                items,
                audit,
            })
            .await?
        {
            Applied::BatchPut { version } => Ok(version),
            other => Err(VaultError::Invalid(format!(
                "a batch was answered with {other:?}"
            ))),
        }
    }

    /// A batch's audit event: counts, never a subject.
    fn batch_audit(
        &self,
        actor: &Actor,
        action: &str,
        batch: &Batch,
        changed: Option<&BatchDiff>,
    ) -> AuditDraft {
        let s = &batch.summary;
        AuditDraft::new(&actor.audit_name(), action, Outcome::Ok).details(&json!({
            "batch_id": batch.id,
            "rule": batch.rule,
            "status": batch.status.as_str(),
            "subjects": s.tally.subjects,
            "whole_subjects": s.tally.whole_subjects,
            "fields": s.tally.fields,
            "digest": s.digest,
            "changed": changed,
            "outcome": batch.outcome,
            // The act issued, by number and the SHA-256 of its canonical JSON: the audit
            // chain holds what was signed, so an act changed in the database shows.
            "act": batch.act.as_ref().map(|a| json!({
                "number": a.number,
                "sha256": derbes_core::destruction_act::digest(a),
            })),
        }))
    }
}

/// A batch in a sentence, for the job board and the terminal: counts only.
pub fn batch_summary(b: &BatchView) -> String {
    let s = &b.batch.summary.tally;
    let mut line = format!(
        "{} ({}, {}): {} subject(s), {} field(s)",
        b.batch.id,
        b.batch.rule,
        b.batch.status.as_str(),
        s.subjects,
        s.fields
    );
    if let Some(o) = &b.batch.outcome {
        let skipped: Vec<String> = o.skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
        line.push_str(&format!(
            "; destroyed {} field(s) of {} subject(s), {} whole{}",
            o.fields,
            o.subjects,
            o.whole_subjects,
            if skipped.is_empty() {
                String::new()
            } else {
                format!(", skipped: {}", skipped.join(", "))
            }
        ));
    }
    line
}

/// What executing one item destroyed.
enum Executed {
    Nothing,
    Subject(derbes_core::destruction::Destruction),
    Fields(FieldsDestroyed),
}

/// What a page of items destroyed, for the destruction log.
#[derive(Default)]
struct Logged {
    subjects: Vec<derbes_core::destruction::Destruction>,
    fields: Vec<FieldsDestroyed>,
}

impl Logged {
    /// Adds what a finished task destroyed; its error stops the run.
    fn add(
        &mut self,
        done: Option<Result<Result<Executed, VaultError>, tokio::task::JoinError>>,
    ) -> Result<(), VaultError> {
        match done {
            None | Some(Ok(Ok(Executed::Nothing))) => Ok(()),
            Some(Ok(Ok(Executed::Subject(d)))) => {
                self.subjects.push(d);
                Ok(())
            }
            Some(Ok(Ok(Executed::Fields(f)))) => {
                self.fields.push(f);
                Ok(())
            }
            Some(Ok(Err(e))) => Err(e),
            Some(Err(_)) => Err(VaultError::Unavailable(
                "an item of the batch could not be executed".into(),
            )),
        }
    }
}

/// Items executed at once: the store's group commit writes their transactions together.
const AT_ONCE: usize = 64;

impl Retention {
    /// Executes every approved batch, item by item (the job `retention-run`, and `derbes
    /// retention run`). Each item is executed and marked in one transaction, so a run stopped
    /// midway loses nothing and repeats nothing: the next run takes the items still pending.
    /// An item is executed only as far as it was approved and is still expired today; a
    /// subject under a legal hold, kept again by a purpose, or destroyed meanwhile is skipped
    /// and counted.
    pub async fn run_batches(&self, actor: &Actor) -> Result<Vec<BatchView>, VaultError> {
        self.vault.authorize(actor, Action::RetentionApprove)?;
        let mut ran = Vec::new();
        for r in self.approved().await? {
            ran.push(self.run_batch(actor, r).await?);
        }
        Ok(ran)
    }

    /// The batches a run would execute now (`derbes retention run --dry-run`), for those who
    /// may scan.
    pub async fn batches_to_run(&self, actor: &Actor) -> Result<Vec<BatchView>, VaultError> {
        self.vault.authorize(actor, Action::RetentionScan)?;
        Ok(self
            .approved()
            .await?
            .into_iter()
            .map(BatchView::from)
            .collect())
    }

    /// The approved batches, newest first.
    async fn approved(&self) -> Result<Vec<BatchRecord>, VaultError> {
        let mut all = self.vault.store().retention_batches(BATCH_LIST).await?;
        all.retain(|r| r.batch.status == BatchStatus::Approved);
        Ok(all)
    }

    async fn run_batch(&self, actor: &Actor, record: BatchRecord) -> Result<BatchView, VaultError> {
        let batch = std::sync::Arc::new(record.batch);
        let pseudonym = match batch.action {
            RetentionAction::Depersonalize => Some(Arc::new(self.pseudonym_key(batch.id).await?)),
            RetentionAction::Destroy => None,
        };
        loop {
            let page = self
                .vault
                .store()
                .retention_batch_items(batch.id, Page::first(ITEM_PAGE), true)
                .await?;
            if page.is_empty() {
                break;
            }
            let mut running = tokio::task::JoinSet::new();
            let mut logged = Logged::default();
            let mut failed = Ok(());
            for item in page {
                if running.len() >= AT_ONCE {
                    failed = failed.and(logged.add(running.join_next().await));
                    if failed.is_err() {
                        break;
                    }
                }
                let (this, actor, batch) = (self.clone(), actor.clone(), batch.clone());
                let pseudonym = pseudonym.clone();
                running.spawn(async move {
                    this.execute_item(&actor, &batch, pseudonym.as_deref(), item.item)
                        .await
                });
            }
            while let Some(done) = running.join_next().await {
                failed = failed.and(logged.add(Some(done)));
            }
            // One sync of the destruction log for the page, with what was destroyed before
            // an item failed.
            self.destructions
                .log_batch(logged.subjects, logged.fields)
                .await;
            failed?;
        }
        let outcome = self.outcome_of(batch.id).await?;
        // The keys' storage rewritten once for the batch, before it is reported done; and the
        // subjects' records, when some only lost fields (their older versions, under a key
        // still live, go with it).
        if outcome.whole_subjects > 0 {
            self.vault
                .store()
                .write(WriteOp::RewriteDestroyedKeys)
                .await?;
        }
        if outcome.subjects > outcome.whole_subjects {
            self.vault.store().rewrite_subjects().await?;
        }
        let mut seen = record.version;
        for _ in 0..crate::vault::UPDATE_ATTEMPTS {
            let mut done = Batch {
                status: BatchStatus::Done,
                outcome: Some(outcome.clone()),
                ..(*batch).clone()
            };
            done.act = self.issue_act(&done, self.vault.today()).await?;
            let audit = self.batch_audit(actor, "retention.batch.done", &done, None);
            // Stored done, the batch loses its pseudonym key in the same transaction.
            match self.put(done.clone(), Some(seen), None, audit).await {
                Ok(version) => {
                    if done.action == RetentionAction::Depersonalize {
                        self.vault.store().rewrite_depersonalized().await?;
                    }
                    return Ok(BatchView {
                        batch: done,
                        version,
                    });
                }
                // Another run (the job and the command line at once) finished it first, or
                // finished another batch whose act took the number: read it again.
                Err(VaultError::Store(StoreError::VersionConflict)) => {
                    let now = self.batch_record(batch.id).await?;
                    if now.batch.status == BatchStatus::Done {
                        return Ok(now.into());
                    }
                    seen = now.version;
                }
                Err(e) => return Err(e),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    /// Executes one approved item, as far as it is still expired today; what it destroyed,
    /// for the destruction log.
    async fn execute_item(
        &self,
        actor: &Actor,
        batch: &Batch,
        pseudonym: Option<&DataKey>,
        approved: BatchItem,
    ) -> Result<Executed, VaultError> {
        let id = approved.subject_id;
        let store = self.vault.store();
        // The operator's databases told once per set of fields, though the write may be tried
        // again: each connector's destruction can be repeated, but need not be.
        let mut told: Option<(Vec<String>, Vec<ConnectorDone>)> = None;
        for attempt in 0..crate::vault::UPDATE_ATTEMPTS {
            let Some((record, state)) = store.subject_with_state(id, None).await? else {
                return self.skip(actor, batch, id, "gone", told.as_ref()).await;
            };
            // The store refuses the write while the subject has an open request: looked for
            // first only when connectors are to be told (they must not be told of what derbes
            // then keeps), else when a write was refused, not for every item.
            let asked = if attempt == 0 && !self.destructions.tells_others() {
                Vec::new()
            } else {
                store
                    .requests(derbes_store::RequestQuery {
                        subject_id: Some(id),
                        open_only: true,
                        limit: 1,
                        ..Default::default()
                    })
                    .await?
            };
            let lifecycle_events = state.lifecycle.len();
            let today = self.vault.today();
            let life = self.vault.lifecycle_of(&record, &state.lifecycle);
            let held = !asked.is_empty() || life.held_until(today).is_some();
            // As in the scan: the ledger alone, no birth date opened.
            let consents = derbes_core::consent::SubjectFacts::of_ledger(&state.consents);
            let lasts = last_days(
                self.vault.declaration(),
                &record.category,
                record.fields.iter().map(|(k, _)| k.as_str()),
                &life,
                &consents,
                today,
            );
            let now = item_of(
                self.vault.declaration(),
                id,
                &record.category,
                &lasts,
                &batch.rule,
                today,
            );
            let item = match to_execute(&approved, now.as_ref(), held) {
                Ok(item) => item,
                Err(reason) => return self.skip(actor, batch, id, reason, told.as_ref()).await,
            };
            let keeps = pseudonym
                .map(|key| self.depersonalized(batch, &record, &item.fields, key))
                .transpose()?;
            if item.whole {
                match self
                    .destructions
                    .destroy_for_batch(actor, (record, state), (batch.id, keeps))
                    .await
                {
                    Ok(d) if d.batch_id == Some(batch.id) => return Ok(Executed::Subject(d)),
                    // Destroyed before, another way: nothing of this batch to log.
                    Ok(_) => return self.skip(actor, batch, id, "gone", told.as_ref()).await,
                    Err(VaultError::DestructionRefused(p)) => {
                        return self.skip(actor, batch, id, p.code(), told.as_ref()).await
                    }
                    Err(VaultError::Store(StoreError::VersionConflict)) => continue,
                    Err(e) => return Err(e),
                }
            }
            // The operator's databases first, while derbes still holds the identifier they
            // find the subject by; one that fails stops here, with derbes' copy intact.
            let connectors = match told.take() {
                Some((fields, done)) if fields == item.fields => done,
                _ => {
                    self.destructions
                        .destroy_in_connectors(&record, Some(&item.fields), Some(batch.id))
                        .await?
                }
            };
            let kept: Vec<(String, Vec<u8>)> = record
                .fields
                .iter()
                .filter(|(k, _)| !item.fields.contains(k))
                .cloned()
                .collect();
            let mut collected = record.field_collected.clone();
            collected.retain(|k, _| !item.fields.contains(k));
            let audit = AuditDraft::new(&actor.audit_name(), "subject.destroy_fields", Outcome::Ok)
                .subject(id)
                .fields(&item.fields)
                .details(&json!({
                    "batch_id": batch.id,
                    "rule": batch.rule,
                    // What stays is in no event: only that a record was kept.
                    "method": if keeps.is_some() { "depersonalization" } else { "deletion" },
                    "connectors": connectors,
                }));
            told = Some((item.fields.clone(), connectors));
            let written = store
                .write(WriteOp::DestroyFields {
                    subject_id: id,
                    expected_version: record.version,
                    kept: (kept, collected),
                    destroyed: item.fields.clone(),
                    checked: Some((lifecycle_events, batch.id)),
                    depersonalized: keeps,
                    audit,
                })
                .await;
            match written {
                Ok(_) => {
                    return Ok(Executed::Fields(FieldsDestroyed {
                        fields_of: id,
                        fields: item.fields,
                        batch_id: batch.id,
                        destroyed_at: self.vault.now(),
                    }))
                }
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    /// What a batch that depersonalizes keeps of `fields` of the subject: each as its rule
    /// says, pseudonyms under the batch's key.
    fn depersonalized(
        &self,
        batch: &Batch,
        record: &derbes_store::SubjectRecord,
        fields: &[String],
        pseudonym: &DataKey,
    ) -> Result<Depersonalized, VaultError> {
        let dk = self.vault.open_key(record)?;
        let mut opened = Vec::with_capacity(fields.len());
        for (field, sealed) in record.fields.iter().filter(|(k, _)| fields.contains(k)) {
            let value = self.vault.open_field(&dk, record, field, sealed)?;
            opened.push((field.as_str(), zeroize::Zeroizing::new(value)));
        }
        let none = Default::default();
        let kept = self
            .vault
            .declaration()
            .retention
            .get(&batch.rule)
            .map_or(&none, |r| &r.depersonalize);
        Ok(Depersonalized {
            rule: batch.rule.clone(),
            record: record_of(
                kept,
                &record.category,
                opened.iter().map(|(f, v)| (*f, v.as_str())),
                |f, v| pseudonym.pseudonym(f, v),
            ),
        })
    }

    /// The pseudonym key of a batch that depersonalizes: the one it holds (a run stopped
    /// midway), or a new one. Wrapped by the KEK while the batch runs; deleted when it is done.
    async fn pseudonym_key(&self, batch: Uuid) -> Result<DataKey, VaultError> {
        let store = self.vault.store();
        let held = match store.pseudonym_key(batch).await? {
            Some(key) => key,
            None => {
                let wrapped = self.vault.keys().wrap(&DataKey::generate()?, &batch, 1)?;
                let key = PseudonymKey {
                    dek: wrapped.bytes,
                    kek_version: wrapped.kek_version,
                };
                match store.write(WriteOp::PutPseudonymKey { batch, key }).await? {
                    Applied::PseudonymKey(key) => key,
                    other => {
                        return Err(VaultError::Invalid(format!(
                            "a pseudonym key was answered with {other:?}"
                        )))
                    }
                }
            }
        };
        let wrapped = derbes_crypto::WrappedKey {
            kek_version: held.kek_version,
            bytes: held.dek,
        };
        self.vault.unwrap_key(&wrapped, &batch, 1)
    }

    /// Marks an item skipped, unless it was marked meanwhile. When the connectors were told
    /// of its fields already (`told`: a hold or a request came between telling them and
    /// derbes' own write), what they did is audited: the operator's databases lost those
    /// fields, derbes keeps them, and the DPO must know.
    async fn skip(
        &self,
        actor: &Actor,
        batch: &Batch,
        subject_id: Uuid,
        reason: &str,
        told: Option<&(Vec<String>, Vec<ConnectorDone>)>,
    ) -> Result<Executed, VaultError> {
        if let Some((fields, connectors)) = told {
            self.vault
                .audit(
                    AuditDraft::new(
                        &actor.audit_name(),
                        "subject.destroy_fields",
                        Outcome::Denied,
                    )
                    .subject(subject_id)
                    .fields(fields)
                    .reason(reason)
                    .details(&json!({
                        "batch_id": batch.id,
                        "rule": batch.rule,
                        "connectors": connectors,
                        "kept_by_derbes": true,
                    })),
                )
                .await?;
        }
        match self
            .vault
            .store()
            .write(WriteOp::MarkBatchItem {
                batch: batch.id,
                subject_id,
                outcome: ItemMark::Skipped(reason.to_owned()),
            })
            .await
        {
            Ok(_) | Err(StoreError::VersionConflict) => Ok(Executed::Nothing),
            Err(e) => Err(e.into()),
        }
    }

    /// What the batch's items came to, from their marks.
    async fn outcome_of(&self, id: Uuid) -> Result<BatchOutcome, VaultError> {
        let items = self.batch_items(id).await?;
        Ok(BatchOutcome::of(
            items.iter().map(|i| i.outcome.as_ref()),
            self.vault.now(),
        ))
    }
}

/// The console's retention page: the last scan, the latest batches, the register of legal
/// holds for those who may see it, and whether the actor may propose and approve.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionOverview {
    pub latest: Option<super::LatestScan>,
    pub batches: Vec<BatchView>,
    /// `None` for those who may not see the holds' reasons.
    pub holds: Option<Vec<super::LegalHoldView>>,
    pub may_approve: bool,
    /// Whether the actor may release depersonalized records for statistics.
    pub may_release: bool,
}

impl Retention {
    /// The retention page as `actor` may see it.
    pub async fn overview(&self, actor: &Actor) -> Result<RetentionOverview, VaultError> {
        let latest = self.latest_scan(actor).await?;
        let batches = self.batches(actor).await?;
        let holds = match self.legal_holds(actor).await {
            Ok(h) => Some(h),
            Err(VaultError::Forbidden(_)) => None,
            Err(e) => return Err(e),
        };
        Ok(RetentionOverview {
            latest,
            batches,
            holds,
            may_approve: self
                .vault
                .authorize(actor, Action::RetentionApprove)
                .is_ok(),
            may_release: self
                .vault
                .authorize(actor, Action::RetentionRelease)
                .is_ok(),
        })
    }
}

//! Destruction of a subject's data by crypto-shredding, and the destruction log.
//!
//! The store deletes the subject's wrapped data key with its sealed fields, blind-index entries,
//! ledger, links, flags and packages, and keeps a non-personal [`Destruction`] record. The same
//! record is appended to the destruction log, a file kept apart from the database and its
//! backups: when a database is restored from a backup taken before a destruction, the subject
//! comes back, and [`Vault::reconcile_destructions`] (run when the server starts, and by
//! `derbes destructions reapply`) destroys it again. Each line of the log carries a MAC under
//! the installation's keys, so a line added by hand destroys nothing.

use crate::actor::Actor;
use crate::vault::{Vault, VaultError, UPDATE_ATTEMPTS};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::destruction::{check, ConnectorDone, Destruction, DestructionProblem};
use derbes_core::retention_batch::{BatchStatus, ItemMark};
use derbes_crypto::KeyRing;
use derbes_store::{Applied, Page, StoreError, WriteOp};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use uuid::Uuid;

/// The actor a restore's re-applied destructions are recorded under.
pub const RESTORE_ACTOR: &str = "system:destruction-log";

/// One line of the log: the record and its MAC over the record's JSON text.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    record: String,
    mac: String,
}

/// Fields of a subject destroyed when their retention ended (an item of a retention batch),
/// as the log keeps them: a restore that brings the fields back has them destroyed again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldsDestroyed {
    /// The subject (a key of its own, so that the record never reads as a [`Destruction`]).
    pub fields_of: Uuid,
    pub fields: Vec<String>,
    pub batch_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub destroyed_at: time::OffsetDateTime,
}

/// Log lines for `records`, each with its MAC.
fn lines<T: Serialize>(keys: &KeyRing, records: &[T]) -> std::io::Result<String> {
    let mut text = String::new();
    for d in records {
        let record = serde_json::to_string(d)?;
        let mac = keys.destruction_log_mac(&record);
        text.push_str(&serde_json::to_string(&Line { record, mac })?);
        text.push('\n');
    }
    Ok(text)
}

/// A line of the log that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectedLine {
    pub line: usize,
    pub problem: &'static str,
}

/// The append-only file of destructions.
#[derive(Debug)]
pub struct DestructionLog {
    path: PathBuf,
    append_lock: Mutex<()>,
}

impl DestructionLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        DestructionLog {
            path: path.into(),
            append_lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends records and makes them durable before returning.
    pub fn append(&self, keys: &KeyRing, records: &[Destruction]) -> std::io::Result<()> {
        self.append_batch(keys, records, &[])
    }

    /// Appends records of subjects and of fields destroyed, durably, with one sync.
    pub fn append_batch(
        &self,
        keys: &KeyRing,
        subjects: &[Destruction],
        fields: &[FieldsDestroyed],
    ) -> std::io::Result<()> {
        let mut text = lines(keys, subjects)?;
        text.push_str(&lines(keys, fields)?);
        self.append_text(&text)
    }

    fn append_text(&self, text: &str) -> std::io::Result<()> {
        let _held = self
            .append_lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut file = crate::files::append_private(&self.path)?;
        file.write_all(text.as_bytes())?;
        file.sync_data()
    }

    /// The destructions whose MAC verifies, and the lines that were refused. A missing file
    /// is an empty log.
    pub fn read(&self, keys: &KeyRing) -> std::io::Result<(Vec<Destruction>, Vec<RejectedLine>)> {
        let (records, _, rejected) = self.read_all(keys)?;
        Ok((records, rejected))
    }

    /// The destructions of subjects and of fields whose MAC verifies, and the lines that were
    /// refused.
    #[allow(
        clippy::type_complexity,
        reason = "the three parts of a log, read once"
    )]
    pub fn read_all(
        &self,
        keys: &KeyRing,
    ) -> std::io::Result<(Vec<Destruction>, Vec<FieldsDestroyed>, Vec<RejectedLine>)> {
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok((Vec::new(), Vec::new(), Vec::new()))
            }
            Err(e) => return Err(e),
        };
        let mut records = Vec::new();
        let mut fields = Vec::new();
        let mut rejected = Vec::new();
        for (n, text) in std::io::BufReader::new(file).lines().enumerate() {
            let text = text?;
            if text.trim().is_empty() {
                continue;
            }
            let line = n + 1;
            let Ok(l) = serde_json::from_str::<Line>(&text) else {
                rejected.push(RejectedLine {
                    line,
                    problem: "not a destruction-log line",
                });
                continue;
            };
            if !keys.verify_destruction_log(&l.record, &l.mac) {
                rejected.push(RejectedLine {
                    line,
                    problem: "its MAC does not verify under this installation's keys",
                });
                continue;
            }
            if let Ok(d) = serde_json::from_str::<Destruction>(&l.record) {
                records.push(d);
            } else if let Ok(f) = serde_json::from_str::<FieldsDestroyed>(&l.record) {
                fields.push(f);
            } else {
                rejected.push(RejectedLine {
                    line,
                    problem: "the record is not a destruction",
                });
            }
        }
        Ok((records, fields, rejected))
    }
}

/// What reconciling the log with the database did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Reconciled {
    /// Records in the log.
    pub logged: usize,
    /// Subjects found again in the database (restored from a backup) and destroyed again.
    pub reapplied: Vec<Uuid>,
    /// Records of the database that were missing from the log and were added to it.
    pub appended: usize,
    /// Subjects whose destroyed fields a restore had brought back, destroyed again.
    pub reapplied_fields: usize,
    pub rejected: Vec<RejectedLine>,
}

/// How many destruction records one page of the database reads.
const PAGE: u32 = 1000;

/// Destruction by crypto-shredding, the log that outlives a restore from backup, and the
/// record of every destroyed subject.
pub struct Destructions {
    vault: std::sync::Arc<Vault>,
    log: Option<std::sync::Arc<DestructionLog>>,
    /// The webhooks told of destructions: of a retention batch's here, before derbes destroys
    /// its copy (a request's go through the request's actions).
    webhooks: Vec<crate::outbound::webhook::Webhook>,
}

impl Destructions {
    pub(crate) fn new(
        vault: std::sync::Arc<Vault>,
        log: Option<DestructionLog>,
        webhooks: &[crate::outbound::webhook::Webhook],
    ) -> Self {
        let told = crate::outbound::webhook::WebhookEvent::Destruction;
        Destructions {
            vault,
            log: log.map(std::sync::Arc::new),
            webhooks: webhooks
                .iter()
                .filter(|w| w.events.contains(&told))
                .cloned()
                .collect(),
        }
    }

    /// The webhooks told of a retention batch's destructions, by name.
    pub(crate) fn webhook_names(&self) -> Vec<String> {
        self.webhooks.iter().map(|w| w.name.clone()).collect()
    }

    /// Whether a retention batch's destruction tells anyone outside derbes (a connector or a
    /// webhook): then what could refuse it is read before they are told.
    pub(crate) fn tells_others(&self) -> bool {
        !self.vault.connectors.is_empty() || !self.webhooks.is_empty()
    }
}

impl Destructions {
    /// Uses `log` as the destruction log.
    /// Destroys the subject's data by crypto-shredding, for `request_id` if a request asked. A
    /// subject destroyed before is answered with its record. Refused while an obligation of the
    /// subject is open or while the subject represents others.
    pub async fn destroy_subject(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        request_id: Option<Uuid>,
    ) -> Result<Destruction, VaultError> {
        self.destroy_read(actor, subject_id, request_id, None, None)
            .await
    }

    /// Destroys a subject whose every field's retention ended, for the pending item of an
    /// approved retention batch: the item is marked in the same transaction, and the store
    /// refuses it when the subject has an open request or a new lifecycle event since. The
    /// caller logs the destruction ([`Destructions::log_batch`]). A batch that depersonalizes
    /// gives what it keeps of the subject, written in the same transaction.
    pub(crate) async fn destroy_for_batch(
        &self,
        actor: &Actor,
        read: (derbes_store::SubjectRecord, derbes_store::SubjectState),
        (batch, keeps): (Uuid, Option<derbes_store::Depersonalized>),
    ) -> Result<Destruction, VaultError> {
        let subject_id = read.0.id;
        self.destroy_read(actor, subject_id, None, Some((batch, keeps)), Some(read))
            .await
    }

    /// A destruction, for a request or a batch's item, deciding first on `read` (the subject
    /// as the caller just read it) when given, then on what the store holds.
    async fn destroy_read(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        request_id: Option<Uuid>,
        batch: Option<(Uuid, Option<derbes_store::Depersonalized>)>,
        mut read: Option<(derbes_store::SubjectRecord, derbes_store::SubjectState)>,
    ) -> Result<Destruction, VaultError> {
        let batch_id = batch.as_ref().map(|(id, _)| *id);
        let keeps = batch.and_then(|(_, keeps)| keeps);
        self.vault
            .authorize(actor, crate::access::Action::SubjectDestroy)?;
        // The connectors' destructions, once: each can be repeated, but need not be.
        let mut connectors: Option<Vec<ConnectorDone>> = None;
        for attempt in 0..UPDATE_ATTEMPTS {
            let held = match read.take() {
                Some(r) => Some(r),
                None => {
                    self.vault
                        .store()
                        .subject_with_state(subject_id, None)
                        .await?
                }
            };
            let Some((record, state)) = held else {
                return self
                    .vault
                    .store()
                    .destruction(subject_id)
                    .await?
                    .ok_or(VaultError::NotFound);
            };
            let now = self.vault.now();
            // Whether the subject represents others, the store checks as it writes: read first
            // only when connectors are to be told (they must not be told of a destruction
            // derbes then refuses), else when a write was refused, to say why.
            let links = attempt > 0 || self.tells_others();
            if let Some(problem) = self.destruction_problem(&record, &state, links).await? {
                self.vault
                    .audit(
                        AuditDraft::new(&actor.audit_name(), "subject.destroy", Outcome::Denied)
                            .subject(subject_id)
                            .reason(problem.code()),
                    )
                    .await?;
                return Err(VaultError::DestructionRefused(problem));
            }
            // The operator's own databases first: they find the subject's rows by an identifier
            // that only derbes' copy still holds. Each connector's destruction is one
            // transaction and can be repeated; one that fails stops the destruction here, with
            // derbes' copy intact.
            let done = match &connectors {
                Some(done) => done.clone(),
                None => connectors
                    .insert(self.destroy_in_connectors(&record, None, batch_id).await?)
                    .clone(),
            };
            let fields: Vec<String> = record.fields.iter().map(|(k, _)| k.clone()).collect();
            let asked = Destruction {
                subject_id,
                category: record.category.clone(),
                destroyed_at: now,
                actor: actor.audit_name(),
                request_id,
                batch_id,
                fields: fields.clone(),
                removed: Default::default(),
                connectors: done,
            };
            let audit = AuditDraft::new(&actor.audit_name(), "subject.destroy", Outcome::Ok)
                .subject(subject_id)
                .fields(&fields)
                .details(&serde_json::json!({
                    "request_id": request_id,
                    "batch_id": batch_id,
                    "method": "crypto_shredding",
                    // What stays is in no event: only that a record was kept.
                    "depersonalized": keeps.is_some(),
                    "connectors": asked.connectors,
                }));
            // Refused by the store when an obligation or a representation appeared since the
            // check above: decided again on what the store holds now.
            let written = self
                .vault
                .store()
                .write(WriteOp::DestroySubject {
                    batch: batch_id,
                    depersonalized: keeps.clone(),
                    destruction: asked,
                    audit,
                    checked: Some(derbes_store::DestructionChecked {
                        lifecycle_events: state.lifecycle.len(),
                        obligations: state.obligations,
                    }),
                })
                .await;
            let (destruction, new) = match written {
                Ok(Applied::Destroyed {
                    destruction,
                    already,
                }) => (destruction, !already),
                Ok(other) => {
                    return Err(VaultError::Store(StoreError::Backend(format!(
                        "a destruction was answered with {other:?}"
                    ))))
                }
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            };
            // A batch logs its destructions a page at a time (one sync of the file for many).
            if new && batch_id.is_none() {
                self.log_destructions(vec![destruction.clone()]).await;
            }
            return Ok(destruction);
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    /// Destroys the subject in every connector's database: its rows, or with `fields` only the
    /// columns holding those fields (a retention batch's item that keeps the subject). A
    /// connector whose identifier field the subject has no value for finds nothing and reports
    /// no tables. For retention batch `batch`, the webhooks are told too.
    pub(crate) async fn destroy_in_connectors(
        &self,
        record: &derbes_store::SubjectRecord,
        fields: Option<&[String]>,
        batch: Option<Uuid>,
    ) -> Result<Vec<ConnectorDone>, VaultError> {
        let mut done = Vec::with_capacity(self.vault.connectors.len());
        for c in &self.vault.connectors {
            let tables = match self.vault.field_value(record, &c.map().identity.field)? {
                Some(identifier) => match fields {
                    None => c.destroy(&identifier).await,
                    Some(fields) => c.destroy_fields(&identifier, fields).await,
                }
                .map_err(|e| VaultError::Unavailable(e.to_string()))?
                .into_iter()
                .map(|o| (o.table, o.action, o.rows))
                .collect(),
                None => Vec::new(),
            };
            done.push(ConnectorDone {
                connector: c.name().to_owned(),
                tables,
                answer: None,
            });
        }
        if let Some(batch) = batch {
            for hook in &self.webhooks {
                done.extend(self.tell_webhook(hook, record, fields, batch).await?);
            }
        }
        Ok(done)
    }

    /// Tells `hook` that retention batch `batch` destroys the subject's data (or `fields` of
    /// them), with the identifiers the system knows the subject by, and waits for its answer:
    /// taken (done, or accepted to be done later), or refused, which stops the destruction
    /// here with derbes' copy intact (the batch's next run tells it again, with the same
    /// idempotency key). A subject with none of those identifiers is not told of.
    async fn tell_webhook(
        &self,
        hook: &crate::outbound::webhook::Webhook,
        record: &derbes_store::SubjectRecord,
        fields: Option<&[String]>,
        batch: Uuid,
    ) -> Result<Option<ConnectorDone>, VaultError> {
        use crate::outbound::webhook::{Sent, WebhookEvent, WebhookMessage};
        let mut subject = serde_json::Map::new();
        for field in &hook.identify_by {
            if let Some(v) = self.vault.field_value(record, field)? {
                subject.insert(field.clone(), v.into());
            }
        }
        if subject.is_empty() {
            return Ok(None);
        }
        let now = self.vault.now();
        // The same on every run of the batch.
        let id = crate::outbound::webhook::idempotency_key(&[
            batch.as_bytes(),
            record.id.as_bytes(),
            hook.name.as_bytes(),
        ]);
        let message = WebhookMessage {
            id,
            event: WebhookEvent::Destruction,
            request_id: None,
            batch_id: Some(batch),
            fields: fields.map(<[String]>::to_vec),
            subject,
            confirm: None,
            sent_at: derbes_core::audit::format_timestamp(now),
        };
        let answer = match hook.deliver(&message, now).await? {
            Sent::Done => "done",
            Sent::Accepted => "accepted",
            Sent::Refused(cause) => {
                return Err(VaultError::Unavailable(format!(
                    "webhook `{}` did not take the destruction's message ({cause}); the batch's next run sends it again",
                    hook.name
                )))
            }
        };
        Ok(Some(ConnectorDone {
            connector: hook.name.clone(),
            tables: Vec::new(),
            answer: Some(answer.into()),
        }))
    }

    /// Why the subject's data cannot be destroyed now, if they cannot (`None` also when they
    /// are no longer held).
    pub(crate) async fn destruction_refusal(
        &self,
        subject_id: Uuid,
    ) -> Result<Option<String>, VaultError> {
        let Some((record, state)) = self
            .vault
            .store()
            .subject_with_state(subject_id, None)
            .await?
        else {
            return Ok(None);
        };
        Ok(self
            .destruction_problem(&record, &state, true)
            .await?
            .map(|p| p.to_string()))
    }

    /// Why a subject in `state` may not be destroyed now, if so.
    async fn destruction_problem(
        &self,
        record: &derbes_store::SubjectRecord,
        state: &derbes_store::SubjectState,
        links: bool,
    ) -> Result<Option<DestructionProblem>, VaultError> {
        let represents = if links {
            self.vault.store().represented_by(record.id).await?.len()
        } else {
            0
        };
        let held_until = self
            .vault
            .lifecycle_of(record, &state.lifecycle)
            .held_until(self.vault.today());
        Ok(check(&state.obligations, represents, held_until, self.vault.now()).err())
    }

    /// Appends to the destruction log, if one is configured. A failure is reported in the
    /// server's log and mended at the next reconciliation, which copies the database's records
    /// that the file lacks.
    async fn log_destructions(&self, records: Vec<Destruction>) {
        self.log_with(move |log, keys| log.append(keys, &records))
            .await;
    }

    /// Appends to the destruction log what a retention batch destroyed (whole subjects and
    /// fields of others), with one sync of the file, so that a restore from an older backup
    /// has them destroyed again.
    pub(crate) async fn log_batch(&self, subjects: Vec<Destruction>, fields: Vec<FieldsDestroyed>) {
        if subjects.is_empty() && fields.is_empty() {
            return;
        }
        self.log_with(move |log, keys| log.append_batch(keys, &subjects, &fields))
            .await;
    }

    async fn log_with(
        &self,
        append: impl FnOnce(&DestructionLog, &KeyRing) -> std::io::Result<()> + Send + 'static,
    ) {
        let Some(log) = self.log.clone() else {
            return;
        };
        let keys = self.vault.keys();
        // The append syncs the file: off the async threads.
        let appended = {
            let log = log.clone();
            tokio::task::spawn_blocking(move || append(&log, &keys)).await
        };
        let problem = match appended {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the writing task failed".to_owned(),
        };
        eprintln!(
            "derbes: cannot append to the destruction log {}: {problem}; it is mended when the server starts or by `derbes destructions reapply`",
            log.path().display()
        );
    }

    /// Destroys again the logged fields of a subject that the database holds again; `true`
    /// when it held some.
    async fn reapply_fields(&self, f: &FieldsDestroyed) -> Result<bool, VaultError> {
        let store = self.vault.store();
        for _ in 0..UPDATE_ATTEMPTS {
            let Some(record) = store.subject(f.fields_of).await? else {
                return Ok(false);
            };
            let back: Vec<String> = record
                .fields
                .iter()
                .map(|(k, _)| k.clone())
                .filter(|k| f.fields.contains(k))
                .collect();
            if back.is_empty() {
                return Ok(false);
            }
            let kept: Vec<(String, Vec<u8>)> = record
                .fields
                .iter()
                .filter(|(k, _)| !back.contains(k))
                .cloned()
                .collect();
            let mut collected = record.field_collected.clone();
            collected.retain(|k, _| !back.contains(k));
            let audit = AuditDraft::new(RESTORE_ACTOR, "subject.destroy_fields", Outcome::Ok)
                .subject(f.fields_of)
                .fields(&back)
                .details(&serde_json::json!({
                    "batch_id": f.batch_id,
                    "method": "deletion",
                    "reapplied_from_log": true,
                    "first_destroyed_at": derbes_core::audit::format_timestamp(f.destroyed_at),
                }));
            match store
                .write(WriteOp::DestroyFields {
                    subject_id: f.fields_of,
                    expected_version: record.version,
                    kept: (kept, collected),
                    destroyed: back,
                    // Destroyed before: the restore does not get to decide again.
                    checked: None,
                    depersonalized: None,
                    audit,
                })
                .await
            {
                Ok(_) => return Ok(true),
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    /// The fields destroyed by retention batches, as their items' marks name them, that the
    /// log lacks (`in_log`: subject and batch): its append failed, or derbes stopped before it.
    /// Each is dated when its batch finished (or now, for a batch still executing).
    async fn fields_missing_from(
        &self,
        in_log: &HashSet<(Uuid, Uuid)>,
    ) -> Result<Vec<FieldsDestroyed>, VaultError> {
        let store = self.vault.store();
        let mut missing = Vec::new();
        for b in store.retention_batches(u32::MAX).await? {
            let batch = b.batch;
            // Only batches still executing, or done with items that kept their subject: a done
            // batch that destroyed only whole subjects has no field record to mend.
            let fields_only =
                |o: &derbes_core::retention_batch::BatchOutcome| o.subjects > o.whole_subjects;
            let may_lack = match batch.status {
                BatchStatus::Approved => true,
                BatchStatus::Done => batch.outcome.as_ref().is_some_and(fields_only),
                BatchStatus::Proposed => false,
            };
            if !may_lack {
                continue;
            }
            let destroyed_at = batch
                .outcome
                .as_ref()
                .map_or_else(|| self.vault.now(), |o| o.finished_at);
            let mut after = None;
            loop {
                let page = store
                    .retention_batch_items(batch.id, Page::after(after, PAGE), false)
                    .await?;
                let Some(last) = page.last() else { break };
                after = Some(last.item.subject_id);
                missing.extend(page.into_iter().filter_map(|i| match i.outcome {
                    Some(ItemMark::Fields(fields))
                        if !in_log.contains(&(i.item.subject_id, batch.id)) =>
                    {
                        Some(FieldsDestroyed {
                            fields_of: i.item.subject_id,
                            fields,
                            batch_id: batch.id,
                            destroyed_at,
                        })
                    }
                    _ => None,
                }));
            }
        }
        Ok(missing)
    }

    /// The record of a destroyed subject.
    pub async fn destruction(
        &self,
        actor: &Actor,
        subject_id: Uuid,
    ) -> Result<Option<Destruction>, VaultError> {
        self.vault
            .authorize(actor, crate::access::Action::DestructionRead)?;
        Ok(self.vault.store().destruction(subject_id).await?)
    }

    /// The records of destroyed subjects, by subject id, after `after`, at most `limit`.
    pub async fn destructions(
        &self,
        actor: &Actor,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Destruction>, VaultError> {
        self.vault
            .authorize(actor, crate::access::Action::DestructionRead)?;
        Ok(self
            .vault
            .store()
            .destructions(Page::after(after, limit))
            .await?)
    }

    /// Destroys again every subject of the log that the database holds (after a restore from an
    /// older backup), and appends to the log the database's records it lacks.
    pub async fn reconcile_destructions(&self) -> Result<Reconciled, VaultError> {
        let Some(log) = self.log.clone() else {
            return Err(VaultError::Unavailable(
                "no destruction log is configured; set `destruction_log` in derbes.toml".into(),
            ));
        };
        let keys = self.vault.keys();
        let read = {
            let log = log.clone();
            let keys = keys.clone();
            tokio::task::spawn_blocking(move || log.read_all(&keys))
                .await
                .map_err(|_| VaultError::Unavailable("reading the destruction log failed".into()))?
        };
        let (records, fields, rejected) = read.map_err(|e| {
            VaultError::Unavailable(format!(
                "cannot read the destruction log {}: {e}",
                log.path().display()
            ))
        })?;
        let mut done = Reconciled {
            logged: records.len(),
            rejected,
            ..Default::default()
        };
        let in_log: HashSet<Uuid> = records.iter().map(|d| d.subject_id).collect();
        let fields_in_log: HashSet<(Uuid, Uuid)> =
            fields.iter().map(|f| (f.fields_of, f.batch_id)).collect();
        for f in fields {
            if !in_log.contains(&f.fields_of) && self.reapply_fields(&f).await? {
                done.reapplied_fields += 1;
            }
        }
        // Normally none: only a restore from an older backup brings destroyed subjects back.
        let held = self
            .vault
            .store()
            .held(records.iter().map(|d| d.subject_id).collect())
            .await?;
        for d in records {
            if !held.contains(&d.subject_id) {
                continue;
            }
            let audit = AuditDraft::new(RESTORE_ACTOR, "subject.destroy", Outcome::Ok)
                .subject(d.subject_id)
                .fields(&d.fields)
                .details(&serde_json::json!({
                    "request_id": d.request_id,
                    "method": "crypto_shredding",
                    "reapplied_from_log": true,
                    "first_destroyed_at": derbes_core::audit::format_timestamp(d.destroyed_at),
                }));
            let id = d.subject_id;
            self.vault
                .store()
                .write(WriteOp::DestroySubject {
                    batch: None,
                    depersonalized: None,
                    destruction: d,
                    audit,
                    // Destroyed before: the restore does not get to decide again.
                    checked: None,
                })
                .await?;
            done.reapplied.push(id);
        }
        let mut missing = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .vault
                .store()
                .destructions(Page::after(after, PAGE))
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.subject_id);
            missing.extend(page.into_iter().filter(|d| !in_log.contains(&d.subject_id)));
        }
        let missing_fields = self.fields_missing_from(&fields_in_log).await?;
        if !missing.is_empty() || !missing_fields.is_empty() {
            let log = log.clone();
            let count = missing.len() + missing_fields.len();
            tokio::task::spawn_blocking(move || log.append_batch(&keys, &missing, &missing_fields))
                .await
                .map_err(|_| VaultError::Unavailable("writing the destruction log failed".into()))?
                .map_err(|e| {
                    VaultError::Unavailable(format!("cannot append to the destruction log: {e}"))
                })?;
            done.appended = count;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record(n: u128) -> Destruction {
        Destruction {
            subject_id: Uuid::from_u128(n),
            category: "student".into(),
            destroyed_at: datetime!(2026-11-21 10:00 UTC),
            actor: "token:dpo".into(),
            request_id: None,
            batch_id: None,
            fields: vec!["iin".into()],
            removed: Default::default(),
            connectors: Vec::new(),
        }
    }

    #[test]
    fn the_log_reads_back_what_it_appended_and_refuses_forged_lines() {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyRing::generate().unwrap();
        let log = DestructionLog::new(dir.path().join("destructions.log"));
        assert_eq!(log.read(&keys).unwrap(), (vec![], vec![]));
        log.append(&keys, &[record(1), record(2)]).unwrap();
        log.append(&keys, &[record(3)]).unwrap();
        // Someone adds a line of their own, and a line that is not JSON.
        let forged = serde_json::to_string(&Line {
            record: serde_json::to_string(&record(4)).unwrap(),
            mac: "AAAA".into(),
        })
        .unwrap();
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap();
        writeln!(f, "{forged}\nnot json").unwrap();
        let (records, rejected) = log.read(&keys).unwrap();
        assert_eq!(records, vec![record(1), record(2), record(3)]);
        assert_eq!(
            rejected.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![4, 5]
        );
        // Another installation's keys verify none of it.
        let (none, all) = log.read(&KeyRing::generate().unwrap()).unwrap();
        assert!(none.is_empty());
        assert_eq!(all.len(), 5);
    }
}

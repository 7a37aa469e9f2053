//! The vault: subjects with sealed fields, purpose-bound reads, rectification and lookup, each
//! decided by core and recorded in the audit chain together with the change it describes.

use crate::access::Action;
use crate::actor::Actor;
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::decision::{decide, decide_read, may_write_field, DenyReason, ReadQuery};
use derbes_core::declaration::LegalBasis;
use derbes_core::validate::{check_values, FieldProblem};
use derbes_core::Declaration;
use derbes_crypto::{CryptoError, DataKey, KeyRing, WrappedKey};
use derbes_store::{
    Applied, IndexEntry, KeyOwner, KeyRecord, Store, StoreError, SubjectRecord, WriteOp,
};
use serde_json::json;
use std::sync::{Arc, RwLock};
use thiserror::Error;
use uuid::Uuid;

#[derive(Debug, Error)]
pub enum VaultError {
    #[error("some values are not valid")]
    Validation(Vec<FieldProblem>),
    #[error("subject category `{0}` is not declared")]
    UnknownCategory(String),
    #[error("refused")]
    Denied(Vec<DenyReason>),
    #[error("{0}")]
    Forbidden(String),
    #[error("subject not found")]
    NotFound,
    #[error("a subject of category `{category}` with the same `{field}` already exists")]
    Duplicate {
        field: String,
        category: String,
        existing: Uuid,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("cannot reload the key file: {0}")]
    Keys(String),
    #[error("the consent action cannot be recorded")]
    ConsentRefused(Vec<derbes_core::consent::ConsentProblem>),
    #[error("this person is not linked to the subject as a legal representative")]
    NotLinked,
    #[error("there is no {0} in force to lift")]
    NothingToLift(&'static str),
    #[error("the subject's consent ledger has no event with this id")]
    ConsentNotFound,
    #[error("`{field}` {detail}")]
    InvalidField { field: &'static str, detail: String },
    #[error("the subject already has an open request of this kind")]
    DuplicateRequest { existing: Uuid },
    #[error("there is no data-subject request with this id")]
    RequestNotFound,
    #[error(transparent)]
    Step(derbes_core::request::StepProblem),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{detail}")]
    CodeRejected { detail: String, attempts_left: u8 },
    #[error(transparent)]
    DestructionRefused(derbes_core::destruction::DestructionProblem),
    /// The subject's data were destroyed.
    #[error("the subject's data were destroyed")]
    Destroyed(Box<derbes_core::destruction::Destruction>),
    /// The access package expired and was deleted, or was never built.
    #[error("{0}")]
    Gone(String),
    #[error("there is no webhook job with this id")]
    JobNotFound,
    #[error("there is no token with this id")]
    TokenNotFound,
    #[error(transparent)]
    BadSignature(derbes_crypto::WebhookSignatureError),
}

impl From<StoreError> for VaultError {
    /// The store's refusals that a caller can act on become vault errors of their own.
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Duplicate {
                field,
                category,
                existing,
            } => VaultError::Duplicate {
                field,
                category,
                existing,
            },
            StoreError::NotFound => VaultError::NotFound,
            StoreError::DuplicateRequest { existing } => VaultError::DuplicateRequest { existing },
            other => VaultError::Store(other),
        }
    }
}

/// A new subject, validated, sealed and indexed, ready to be written.
#[derive(Debug, Clone)]
pub struct PreparedSubject {
    pub record: SubjectRecord,
    pub index: Vec<IndexEntry>,
    pub audit: AuditDraft,
}

impl From<PreparedSubject> for WriteOp {
    fn from(p: PreparedSubject) -> Self {
        WriteOp::CreateSubject {
            record: p.record,
            index: p.index,
            audit: p.audit,
        }
    }
}

/// A subject as returned by a read: only the fields the purpose allows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubjectView {
    pub id: Uuid,
    pub category: String,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    /// The consent the read rests on, for a consent-based purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<Uuid>,
    /// The consent was given by a representative and the subject has since come of age: ask
    /// the subject to confirm it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub confirmation_due: bool,
    pub fields: indexmap::IndexMap<String, String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    pub id: Uuid,
    pub category: String,
    pub fields: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Rectified {
    pub id: Uuid,
    pub version: i64,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Match {
    pub id: Uuid,
    pub category: String,
}

/// The time decisions are taken at: the system clock, or a test's.
pub type Clock = Arc<dyn Fn() -> time::OffsetDateTime + Send + Sync>;

/// Reads the key file again (after `derbes keys rotate` added a key version).
pub type KeyLoader = Arc<dyn Fn() -> Result<KeyRing, String> + Send + Sync>;

pub struct Vault {
    declaration: Arc<Declaration>,
    keys: RwLock<Arc<KeyRing>>,
    key_loader: Option<KeyLoader>,
    store: Arc<dyn Store>,
    clock: Clock,
    pub(crate) facts_cache: crate::facts_cache::FactsCache,
    calendar: Arc<derbes_core::calendar::Calendar>,
    mailer: Option<Arc<dyn crate::mail::Mailer>>,
    pub(crate) connectors: Vec<Arc<derbes_connect::SqlConnector>>,
    /// Recorded declaration versions, parsed once.
    recorded: std::sync::Mutex<std::collections::HashMap<String, Arc<Declaration>>>,
    pub(crate) checkpoint_file: Option<crate::audit_chain::CheckpointFile>,
    pub(crate) audit_watch: std::sync::Mutex<crate::audit_chain::AuditWatch>,
}

/// How many subjects' decision facts the vault keeps in memory.
const FACTS_CACHED: usize = 100_000;

const DEK_GENERATION: u32 = 1;
/// The generation of a data-subject request's own data key, bound into what it seals.
pub(crate) const REQUEST_KEY_GENERATION: u32 = 1;
pub(crate) const UPDATE_ATTEMPTS: usize = 5;

impl Vault {
    pub fn new(declaration: Arc<Declaration>, keys: Arc<KeyRing>, store: Arc<dyn Store>) -> Self {
        Self {
            declaration,
            keys: RwLock::new(keys),
            key_loader: None,
            store,
            clock: Arc::new(time::OffsetDateTime::now_utc),
            facts_cache: crate::facts_cache::FactsCache::new(FACTS_CACHED),
            calendar: Arc::new(derbes_core::calendar::Calendar::kazakhstan()),
            mailer: None,
            connectors: Vec::new(),
            recorded: Default::default(),
            checkpoint_file: None,
            audit_watch: Default::default(),
        }
    }

    /// Counts deadlines with `calendar` instead of the shipped Kazakhstan calendar.
    pub fn with_calendar(mut self, calendar: derbes_core::calendar::Calendar) -> Self {
        self.calendar = Arc::new(calendar);
        self
    }

    /// Delivers one-time codes and answers through `mailer`.
    pub fn with_mailer(mut self, mailer: Arc<dyn crate::mail::Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Reaches into the operator's own databases through `connectors` for access and
    /// destruction requests.
    pub fn with_connectors(mut self, connectors: Vec<derbes_connect::SqlConnector>) -> Self {
        self.connectors = connectors.into_iter().map(Arc::new).collect();
        self
    }

    /// The connectors to the operator's own databases.
    pub fn connectors(&self) -> &[Arc<derbes_connect::SqlConnector>] {
        &self.connectors
    }

    /// Writes a subject prepared by [`Vault::prepare_subject`], with its audit event (the bulk
    /// import's path: many prepared in parallel, written as they come).
    pub async fn write_prepared(&self, prepared: PreparedSubject) -> Result<Applied, StoreError> {
        self.store.write(prepared.into()).await
    }

    /// Whether a subject of `category` already has this blind-index entry (a bulk import refuses
    /// the row before writing anything).
    pub async fn category_holds(
        &self,
        category: &str,
        entry: &IndexEntry,
    ) -> Result<bool, StoreError> {
        Ok(self
            .store
            .lookup(&entry.field, &entry.digest)
            .await?
            .iter()
            .any(|(_, c)| c == category))
    }

    /// How many subjects the store holds.
    pub async fn count_subjects(&self) -> Result<u64, StoreError> {
        self.store.count_subjects().await
    }

    /// How many data keys each key-encryption key version wraps.
    pub async fn key_versions(&self) -> Result<std::collections::BTreeMap<u32, u64>, StoreError> {
        self.store.key_versions().await
    }

    /// Records the declaration in force (its text, under its version), once; a version already
    /// recorded with the same content is left as it is. `StoreError::DeclarationChanged` when the
    /// version is on record with other content.
    pub async fn record_declaration(&self, text: String) -> Result<Applied, StoreError> {
        let d = &self.declaration;
        self.store
            .write(WriteOp::RecordDeclaration {
                version: d.version.clone(),
                content_hash: Declaration::content_hash(&text),
                content: text,
                audit: AuditDraft::new("system", "declaration.record", Outcome::Ok)
                    .details(&json!({ "version": d.version })),
            })
            .await
    }

    /// The storage backend's name (`sqlite`, `postgres`), for the health answer.
    pub fn backend(&self) -> &'static str {
        self.store.backend()
    }

    /// The working-day calendar deadlines are counted with.
    pub fn calendar(&self) -> &derbes_core::calendar::Calendar {
        &self.calendar
    }

    /// Removes the messages the mail channel keeps (an outbox's files) older than `older_than`;
    /// returns how many.
    pub fn sweep_outbox(&self, older_than: std::time::Duration) -> usize {
        self.mailer.as_ref().map_or(0, |m| m.sweep(older_than))
    }

    pub(crate) fn mailer(&self) -> Option<Arc<dyn crate::mail::Mailer>> {
        self.mailer.clone()
    }

    /// Takes decisions at the times `clock` gives (tests walk a subject through years).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Now, by the vault's clock.
    /// A recorded declaration, parsed once; `NotFound` when no version has that name.
    pub(crate) async fn recorded(
        &self,
        version: &str,
    ) -> Result<std::sync::Arc<Declaration>, VaultError> {
        if let Some(d) = self
            .recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(version)
        {
            return Ok(d.clone());
        }
        let d = if version == self.declaration().version {
            self.declaration_arc()
        } else {
            let (_, text) = self
                .store()
                .declaration(version)
                .await?
                .ok_or(VaultError::NotFound)?;
            // Checked when it was recorded; today's stricter rules do not unpublish it.
            Declaration::load_recorded(&text)
                .map_err(|why| {
                    VaultError::Store(derbes_store::StoreError::Corrupt(format!(
                        "recorded declaration `{version}` is not a declaration: {why}"
                    )))
                })?
                .into()
        };
        self.recorded
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(version.to_owned(), d.clone());
        Ok(d)
    }

    pub fn now(&self) -> time::OffsetDateTime {
        (self.clock)()
    }

    /// Lets the vault pick up key versions added while it runs (`derbes keys rotate`).
    pub fn with_key_loader(mut self, loader: KeyLoader) -> Self {
        self.key_loader = Some(loader);
        self
    }

    /// The key ring in use.
    pub fn keys(&self) -> Arc<KeyRing> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Reads the key file again; takes the new ring when it has other key versions and the same
    /// index key (a key file of another installation is refused). Returns whether it changed.
    pub fn reload_keys(&self) -> Result<bool, VaultError> {
        let Some(loader) = &self.key_loader else {
            return Ok(false);
        };
        let fresh = loader().map_err(VaultError::Keys)?;
        // Compared and swapped under one lock, so two reloads at once cannot put back an older
        // ring.
        let mut slot = match self.keys.write() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        let current = Arc::clone(&slot);
        if fresh.versions() == current.versions()
            && fresh.current_version() == current.current_version()
        {
            return Ok(false);
        }
        let probe = "derbes/key-file-probe";
        if fresh.blind_index(probe, probe) != current.blind_index(probe, probe) {
            return Err(VaultError::Keys(
                "the key file now holds another installation's index key; keeping the keys in use"
                    .into(),
            ));
        }
        let kept = fresh.versions();
        if let Some(missing) = current
            .versions()
            .into_iter()
            .find(|v| !kept.contains(v) && !fresh.retired().contains(v))
        {
            return Err(VaultError::Keys(format!(
                "the key file no longer holds key version {missing}, which data keys may still be wrapped with; keeping the keys in use"
            )));
        }
        *slot = Arc::new(fresh);
        Ok(true)
    }

    pub fn declaration(&self) -> &Declaration {
        &self.declaration
    }

    /// The declaration in force, shared.
    pub(crate) fn declaration_arc(&self) -> Arc<Declaration> {
        self.declaration.clone()
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) async fn audit(&self, draft: AuditDraft) -> Result<(), VaultError> {
        self.store.write(WriteOp::Audit(vec![draft])).await?;
        Ok(())
    }

    fn index_entries(&self, values: &[(String, String)]) -> Vec<IndexEntry> {
        let keys = self.keys();
        values
            .iter()
            .filter(|(k, _)| self.declaration.field(k).is_some_and(|f| f.lookup))
            .map(|(k, v)| IndexEntry {
                field: k.clone(),
                digest: keys.blind_index(k, v),
            })
            .collect()
    }

    /// Fields among `keys` the actor may not write for a subject of `category`.
    fn unwritable(
        &self,
        actor: &Actor,
        category: &str,
        keys: impl Iterator<Item = String>,
    ) -> Vec<String> {
        keys.filter(|k| {
            self.declaration.field(k).is_some()
                && !may_write_field(&self.declaration, &actor.scope, category, k)
        })
        .collect()
    }

    /// Prepares a new subject (validated, sealed, indexed) without storing it: the same path for
    /// the API and for bulk import.
    pub fn prepare_subject(
        &self,
        actor_name: &str,
        category: &str,
        values: Vec<(String, Option<String>)>,
    ) -> Result<PreparedSubject, VaultError> {
        if !self.declaration.subject_categories.contains_key(category) {
            return Err(VaultError::UnknownCategory(category.to_owned()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut problems: Vec<FieldProblem> = values
            .iter()
            .filter(|(k, _)| !seen.insert(k.clone()))
            .map(|(k, _)| FieldProblem {
                field: k.clone(),
                message: format!("field `{k}` is given twice"),
            })
            .collect();
        problems.extend(
            values
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| FieldProblem {
                    field: k.clone(),
                    message: format!("`{k}` is null; leave the field out instead"),
                }),
        );
        if !problems.is_empty() {
            return Err(VaultError::Validation(problems));
        }
        let normalized: Vec<(String, String)> =
            check_values(&self.declaration, category, values, self.now().date())
                .map_err(VaultError::Validation)?
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| (k, v)))
                .collect();
        if normalized.is_empty() {
            return Err(VaultError::Invalid(
                "a subject needs at least one field".into(),
            ));
        }
        let id = Uuid::now_v7();
        let dk = DataKey::generate()?;
        let wrapped = self.keys().wrap(&dk, &id, DEK_GENERATION)?;
        let fields = normalized
            .iter()
            .map(|(k, v)| Ok((k.clone(), dk.seal(&id, DEK_GENERATION, k, v.as_bytes())?)))
            .collect::<Result<Vec<_>, CryptoError>>()?;
        let names: Vec<&str> = normalized.iter().map(|(k, _)| k.as_str()).collect();
        let now = derbes_core::audit::format_timestamp(time::OffsetDateTime::now_utc());
        Ok(PreparedSubject {
            index: self.index_entries(&normalized),
            audit: AuditDraft::new(actor_name, "subject.create", Outcome::Ok)
                .subject(id)
                .fields(&names),
            record: SubjectRecord {
                id,
                category: category.to_owned(),
                dek: wrapped.bytes,
                kek_version: wrapped.kek_version,
                dek_generation: DEK_GENERATION,
                fields,
                version: 1,
                created_at: now.clone(),
                updated_at: now,
            },
        })
    }

    /// Creates a subject. `shape` holds the problems found before values could be read (a value
    /// of the wrong JSON type): they are reported with the values' own problems, once the actor
    /// is known to be allowed to ask.
    pub async fn create_subject(
        &self,
        actor: &Actor,
        category: &str,
        values: Vec<(String, Option<String>)>,
        mut shape: Vec<FieldProblem>,
    ) -> Result<Created, VaultError> {
        self.authorize(actor, Action::SubjectCreate)?;
        if !shape.is_empty() {
            if let Err(more) = check_values(&self.declaration, category, values, self.now().date())
            {
                shape.extend(more);
            }
            return Err(VaultError::Validation(shape));
        }
        if self.declaration.subject_categories.contains_key(category)
            && !self.reaches(actor, category)
        {
            self.audit(
                AuditDraft::new(&actor.audit_name(), "subject.create", Outcome::Denied)
                    .reason("outside_actor_scope"),
            )
            .await?;
            return Err(VaultError::Forbidden(format!(
                "no purpose this token acts for covers subjects of category `{category}`"
            )));
        }
        let refused = self.unwritable(actor, category, values.iter().map(|(k, _)| k.clone()));
        if !refused.is_empty() {
            self.audit(
                AuditDraft::new(&actor.audit_name(), "subject.create", Outcome::Denied)
                    .fields(&refused)
                    .reason("field_outside_actor_purposes"),
            )
            .await?;
            return Err(VaultError::Forbidden(format!(
                "this token may not write {} of a `{category}`: no purpose it acts for uses {} for that category",
                list(&refused),
                if refused.len() == 1 { "it" } else { "them" }
            )));
        }
        let prepared = self.prepare_subject(&actor.audit_name(), category, values)?;
        let record = &prepared.record;
        let created = Created {
            id: record.id,
            category: record.category.clone(),
            fields: record.fields.iter().map(|(k, _)| k.clone()).collect(),
            created_at: record.created_at.clone(),
        };
        self.store.write(prepared.into()).await?;
        Ok(created)
    }

    pub(crate) fn open_key(&self, r: &SubjectRecord) -> Result<DataKey, VaultError> {
        let wrapped = WrappedKey {
            kek_version: r.kek_version,
            bytes: r.dek.clone(),
        };
        self.unwrap_key(&wrapped, &r.id, r.dek_generation)
    }

    /// Unwraps the data key of a subject or a request.
    pub(crate) fn unwrap_key(
        &self,
        wrapped: &WrappedKey,
        id: &Uuid,
        generation: u32,
    ) -> Result<DataKey, VaultError> {
        match self.keys().unwrap(wrapped, id, generation) {
            // A key version added by a rotation since this process started: read the key file.
            // An older unknown version cannot come from a rotation; reading the file again for
            // it on every read would not help.
            Err(CryptoError::UnknownKeyVersion(v))
                if v > self.keys().current_version() && self.reload_keys()? =>
            {
                Ok(self.keys().unwrap(wrapped, id, generation)?)
            }
            other => Ok(other?),
        }
    }

    /// The value of `field` on file for the subject, opened; `None` when it has none.
    pub(crate) fn field_value(
        &self,
        record: &SubjectRecord,
        field: &str,
    ) -> Result<Option<String>, VaultError> {
        match record.fields.iter().find(|(k, _)| k == field) {
            Some((_, sealed)) => {
                let dk = self.open_key(record)?;
                self.open_field(&dk, record, field, sealed).map(Some)
            }
            None => Ok(None),
        }
    }

    pub(crate) fn open_field(
        &self,
        dk: &DataKey,
        r: &SubjectRecord,
        field: &str,
        sealed: &[u8],
    ) -> Result<String, VaultError> {
        let plain = dk.open(&r.id, r.dek_generation, field, sealed)?;
        String::from_utf8(plain.to_vec()).map_err(|_| VaultError::Crypto(CryptoError::Open))
    }

    /// Reads a subject for a purpose: the decision first, then only the allowed fields.
    pub async fn read_subject(
        &self,
        actor: &Actor,
        id: Uuid,
        purpose: &str,
        fields: Option<Vec<String>>,
    ) -> Result<SubjectView, VaultError> {
        self.authorize(actor, Action::SubjectRead)?;
        check_names(purpose, fields.as_deref().unwrap_or(&[]))?;
        let Some((record, state)) = self
            .store
            .subject_with_state(id, Some(purpose.to_owned()))
            .await?
        else {
            let destroyed = self
                .store
                .destruction(id)
                .await?
                .filter(|d| self.reaches(actor, &d.category));
            self.audit(
                AuditDraft::new(&actor.audit_name(), "subject.read", Outcome::Denied)
                    .subject(id)
                    .purpose(purpose)
                    .reason(if destroyed.is_some() {
                        "destroyed"
                    } else {
                        "not_found"
                    }),
            )
            .await?;
            return Err(match destroyed {
                Some(d) => VaultError::Destroyed(Box::new(d)),
                None => VaultError::NotFound,
            });
        };
        if !self.reaches(actor, &record.category) {
            self.refuse_reach(actor, Action::SubjectRead, id).await?;
            return Err(VaultError::NotFound);
        }
        let now = self.now();
        let facts = self.facts(&record, state, now, Some(purpose))?;
        let decision = decide(
            &self.declaration,
            &ReadQuery {
                category: Some(&record.category),
                purpose,
                fields: fields.as_deref(),
                actor: &actor.scope,
            },
            Some((&facts.as_subject_facts(), now)),
        );
        let allowed = match decision {
            Ok(a) => a,
            Err(reasons) => {
                let codes: Vec<&str> = reasons.iter().map(DenyReason::code).collect();
                self.audit(
                    AuditDraft::new(&actor.audit_name(), "subject.read", Outcome::Denied)
                        .subject(id)
                        .purpose(purpose)
                        .fields(fields.as_deref().unwrap_or(&[]))
                        .reason(codes.join(",")),
                )
                .await?;
                return Err(VaultError::Denied(reasons));
            }
        };
        let dk = self.open_key(&record)?;
        let mut out = indexmap::IndexMap::new();
        for f in &allowed.fields {
            if let Some((_, sealed)) = record.fields.iter().find(|(k, _)| k == f) {
                out.insert(f.clone(), self.open_field(&dk, &record, f, sealed)?);
            }
        }
        let returned: Vec<&String> = out.keys().collect();
        // The read is recorded before any value leaves derbes.
        self.audit(
            AuditDraft::new(&actor.audit_name(), "subject.read", Outcome::Allowed)
                .subject(id)
                .purpose(purpose)
                .fields(&returned)
                .details(&match allowed.consent_id {
                    Some(c) => json!({ "basis": allowed.basis.name(), "consent_id": c }),
                    None => json!({ "basis": allowed.basis.name() }),
                }),
        )
        .await?;
        Ok(SubjectView {
            id,
            category: record.category,
            purpose: purpose.to_owned(),
            legal_basis: allowed.basis,
            consent_id: allowed.consent_id,
            confirmation_due: allowed.confirmation_due,
            fields: out,
        })
    }

    /// Rectifies fields (a `None` value erases the field). The audit records keyed fingerprints
    /// of the old and new values, never the values.
    pub async fn rectify(
        &self,
        actor: &Actor,
        id: Uuid,
        changes: Vec<(String, Option<String>)>,
        shape: Vec<FieldProblem>,
    ) -> Result<Rectified, VaultError> {
        self.authorize(actor, Action::SubjectRectify)?;
        if !shape.is_empty() {
            return Err(VaultError::Validation(shape));
        }
        if changes.is_empty() {
            return Err(VaultError::Invalid(
                "no fields to change: send {\"fields\": {\"key\": \"new value\"}}".into(),
            ));
        }
        let category = self
            .store
            .subject(id)
            .await?
            .ok_or(VaultError::NotFound)?
            .category;
        self.authorize_subject(actor, Action::SubjectRectify, id, &category)
            .await?;
        let refused = self.unwritable(actor, &category, changes.iter().map(|(k, _)| k.clone()));
        if !refused.is_empty() {
            self.audit(
                AuditDraft::new(&actor.audit_name(), "subject.rectify", Outcome::Denied)
                    .subject(id)
                    .fields(&refused)
                    .reason("field_outside_actor_purposes"),
            )
            .await?;
            return Err(VaultError::Forbidden(format!(
                "this token may not write {}",
                list(&refused)
            )));
        }
        for _ in 0..UPDATE_ATTEMPTS {
            let record = self.store.subject(id).await?.ok_or(VaultError::NotFound)?;
            let normalized = check_values(
                &self.declaration,
                &record.category,
                changes.clone(),
                self.now().date(),
            )
            .map_err(VaultError::Validation)?;
            let dk = self.open_key(&record)?;
            let mut fields = record.fields.clone();
            let mut report = serde_json::Map::new();
            let mut changed = Vec::new();
            for (key, value) in &normalized {
                let pos = fields.iter().position(|(k, _)| k == key);
                let old = match pos {
                    Some(p) => Some(self.open_field(&dk, &record, key, &fields[p].1)?),
                    None => None,
                };
                if old == *value {
                    continue;
                }
                report.insert(
                    key.clone(),
                    json!({
                        "old": old.as_ref().map(|v| dk.fingerprint(key, v)),
                        "new": value.as_ref().map(|v| dk.fingerprint(key, v)),
                    }),
                );
                changed.push(key.clone());
                match (pos, value) {
                    (Some(p), Some(v)) => {
                        fields[p].1 = dk.seal(&id, record.dek_generation, key, v.as_bytes())?
                    }
                    (Some(p), None) => {
                        fields.remove(p);
                    }
                    (None, Some(v)) => fields.push((
                        key.clone(),
                        dk.seal(&id, record.dek_generation, key, v.as_bytes())?,
                    )),
                    (None, None) => {}
                }
            }
            if changed.is_empty() {
                return Ok(Rectified {
                    id,
                    version: record.version,
                    changed,
                });
            }
            // Recompute the blind index from the resulting values.
            let mut indexed = Vec::new();
            for (k, sealed) in &fields {
                if self.declaration.field(k).is_some_and(|f| f.lookup) {
                    indexed.push((k.clone(), self.open_field(&dk, &record, k, sealed)?));
                }
            }
            let op = WriteOp::UpdateSubject {
                id,
                expected_version: record.version,
                index: self.index_entries(&indexed),
                fields,
                audit: AuditDraft::new(&actor.audit_name(), "subject.rectify", Outcome::Ok)
                    .subject(id)
                    .fields(&changed)
                    .details(&json!({ "changes": report })),
            };
            match self.store.write(op).await {
                Ok(Applied::Updated { version }) => {
                    return Ok(Rectified {
                        id,
                        version,
                        changed,
                    })
                }
                Ok(other) => {
                    return Err(VaultError::Store(StoreError::Backend(format!(
                        "an update was answered with {other:?}"
                    ))))
                }
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    /// Finds subjects by an identifier through its blind index, for a purpose that uses the field.
    pub async fn lookup(
        &self,
        actor: &Actor,
        field: &str,
        value: &str,
        purpose: &str,
    ) -> Result<Vec<Match>, VaultError> {
        self.authorize(actor, Action::SubjectLookup)?;
        check_names(purpose, &[])?;
        let Some(fd) = self.declaration.field(field) else {
            return Err(VaultError::Validation(vec![FieldProblem {
                field: field.to_owned(),
                message: format!("field `{field}` is not declared"),
            }]));
        };
        if !fd.lookup {
            return Err(VaultError::Validation(vec![FieldProblem {
                field: field.to_owned(),
                message: format!("field `{field}` is not declared with lookup = true"),
            }]));
        }
        let normalized = derbes_core::validate::normalize(fd, value).map_err(|e| {
            VaultError::Validation(vec![FieldProblem {
                field: field.to_owned(),
                message: format!("`{field}` {e}"),
            }])
        })?;
        let asked = [field.to_owned()];
        // The purpose must be declared, one the actor may use, use this field, and have a basis.
        let decision = decide_read(
            &self.declaration,
            &ReadQuery {
                category: None,
                purpose,
                fields: Some(&asked),
                actor: &actor.scope,
            },
        );
        let (Some(p), Ok(_)) = (self.declaration.purpose(purpose), &decision) else {
            let reasons = decision.err().unwrap_or_default();
            let codes: Vec<&str> = reasons.iter().map(DenyReason::code).collect();
            self.audit(
                AuditDraft::new(&actor.audit_name(), "subject.lookup", Outcome::Denied)
                    .purpose(purpose)
                    .fields(&asked)
                    .reason(codes.join(",")),
            )
            .await?;
            return Err(VaultError::Denied(reasons));
        };
        let matches: Vec<Match> = self
            .store
            .lookup(field, &self.keys().blind_index(field, &normalized))
            .await?
            .into_iter()
            .filter(|(_, cat)| p.covers_category(cat))
            .map(|(id, category)| Match { id, category })
            .collect();
        let base = AuditDraft::new(&actor.audit_name(), "subject.lookup", Outcome::Allowed)
            .purpose(purpose)
            .fields(&asked);
        let drafts = if matches.is_empty() {
            vec![base.details(&json!({ "matches": 0 }))]
        } else {
            matches.iter().map(|m| base.clone().subject(m.id)).collect()
        };
        self.store.write(WriteOp::Audit(drafts)).await?;
        Ok(matches)
    }

    /// Creates an API token; returns the token, which is shown once and stored only as a digest.
    /// The audit events about one subject, oldest first, after `after`.
    pub async fn subject_history(
        &self,
        actor: &Actor,
        id: Uuid,
        after: i64,
        limit: u32,
    ) -> Result<Vec<derbes_core::audit::AuditEvent>, VaultError> {
        self.authorize(actor, Action::SubjectHistory)?;
        Ok(self.store.subject_audit(id, after, limit).await?)
    }

    /// The audit chain, oldest first, after `after`.
    pub async fn audit_events(
        &self,
        actor: &Actor,
        after: i64,
        limit: u32,
    ) -> Result<Vec<derbes_core::audit::AuditEvent>, VaultError> {
        self.authorize(actor, Action::AuditRead)?;
        Ok(self.store.audit_page(after, limit).await?)
    }

    /// The audit chain's state, for those who read the audit.
    pub fn audit_status_for(
        &self,
        actor: &Actor,
    ) -> Result<crate::audit_chain::AuditStatus, VaultError> {
        self.authorize(actor, Action::AuditStatus)?;
        Ok(self.audit_status())
    }

    /// Rewraps the data key of every subject after `after` (in id order; all when `None`), then
    /// of every data-subject request, under the key ring's current KEK. Returns how many were
    /// rewrapped. `progress` is called with the running count.
    pub async fn rewrap_all(
        &self,
        after: Option<Uuid>,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, VaultError> {
        let mut total = 0u64;
        for (owner, start) in [(KeyOwner::Subject, after), (KeyOwner::Request, None)] {
            total = self
                .rewrap_owner(owner, start, total, &mut progress)
                .await?;
        }
        Ok(total)
    }

    async fn rewrap_owner(
        &self,
        owner: KeyOwner,
        mut after: Option<Uuid>,
        mut total: u64,
        progress: &mut impl FnMut(u64),
    ) -> Result<u64, VaultError> {
        let keys = self.keys();
        let current = keys.current_version();
        loop {
            let page = self.store.keys_page(owner, after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let mut batch: Vec<(KeyRecord, Vec<u8>, u32)> = Vec::with_capacity(page.len());
            for k in page.into_iter().filter(|k| k.kek_version != current) {
                let dk = keys.unwrap(
                    &WrappedKey {
                        kek_version: k.kek_version,
                        bytes: k.dek.clone(),
                    },
                    &k.id,
                    k.dek_generation,
                )?;
                let w = keys.wrap(&dk, &k.id, k.dek_generation)?;
                batch.push((k, w.bytes, w.kek_version));
            }
            if !batch.is_empty() {
                if let Applied::Rewrapped { count } = self
                    .store
                    .write(WriteOp::Rewrap {
                        keys: batch,
                        audit: None,
                    })
                    .await?
                {
                    total += count;
                }
            }
            progress(total);
        }
        Ok(total)
    }

    /// Records key versions retired from the key file.
    pub async fn record_retirement(
        &self,
        actor_name: &str,
        retired: &[u32],
        rewrapped: u64,
    ) -> Result<(), VaultError> {
        self.store
            .write(WriteOp::Audit(vec![AuditDraft::new(
                actor_name,
                "keys.retire",
                Outcome::Ok,
            )
            .details(&json!({
                "retired": retired,
                "current": self.keys().current_version(),
                "rewrapped": rewrapped
            }))]))
            .await?;
        Ok(())
    }

    /// Records a finished key rotation: the current key version and how many data keys were
    /// rewrapped under it.
    pub async fn record_rotation(
        &self,
        actor_name: &str,
        rewrapped: u64,
    ) -> Result<(), VaultError> {
        let kek_version = self.keys().current_version();
        self.store
            .write(WriteOp::Audit(vec![AuditDraft::new(
                actor_name,
                "keys.rotate",
                Outcome::Ok,
            )
            .details(
                &json!({ "kek_version": kek_version, "rewrapped": rewrapped }),
            )]))
            .await?;
        Ok(())
    }
}

fn list(keys: &[String]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The purpose and field names of a request go into the audit trail, declared or not, so they
/// must at least be shaped like declaration codes: anything else (control characters, a NUL that
/// PostgreSQL text refuses, megabytes of text) is refused before it is recorded.
pub(crate) fn check_names(purpose: &str, fields: &[String]) -> Result<(), VaultError> {
    const MAX: usize = 64;
    let bad = |name: &str| name.len() > MAX || !derbes_core::declaration::is_code(name);
    if bad(purpose) {
        return Err(VaultError::Invalid(format!(
            "`purpose` must be a declared purpose's code: lower-case letters, digits and `_`, starting with a letter, at most {MAX} characters"
        )));
    }
    if fields.iter().any(|f| bad(f)) {
        return Err(VaultError::Invalid(format!(
            "every name in `fields` must be a declared field's code: lower-case letters, digits and `_`, starting with a letter, at most {MAX} characters"
        )));
    }
    Ok(())
}

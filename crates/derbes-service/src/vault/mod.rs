//! The vault: subjects with sealed fields, purpose-bound reads, rectification and lookup, each
//! decided by core and recorded in the audit chain together with the change it describes.

mod facts;

pub(crate) use facts::InForce;

use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::decision::DenyReason;
use derbes_core::validate::FieldProblem;
use derbes_core::Declaration;
use derbes_crypto::{CryptoError, DataKey, KeyRing, WrappedKey};
use derbes_store::{Applied, IndexEntry, Store, StoreError, SubjectRecord, WriteOp};
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
    /// A value that must be unique (an account's login) is already another's.
    #[error("`{0}` is taken by another account; choose another")]
    Taken(&'static str),
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
    #[error(transparent)]
    Batch(derbes_core::retention_batch::BatchProblem),
    #[error("there is no retention batch with this id")]
    BatchNotFound,
    #[error(
        "the retention batch is not executed yet; its act (of destruction or depersonalization) is issued when it is"
    )]
    ActNotIssued,
    #[error("there is no token with this id")]
    TokenNotFound,
    #[error("there is no account with this login")]
    AccountNotFound,
    #[error(transparent)]
    SignIn(SignInProblem),
    #[error(transparent)]
    BadSignature(derbes_crypto::WebhookSignatureError),
}

/// Why a sign-in step was refused. The messages are the console's to word, in the person's
/// language; none says whether a login exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignInProblem {
    /// The login or password is wrong, or the account is paused or disabled.
    #[error("the login or the password is wrong, or sign-in is paused after failed attempts")]
    Refused,
    /// The code is wrong, too old, or was used already.
    #[error("the code is wrong or was used already; type the code the app shows now")]
    WrongCode,
    /// The session ended (signed out, timed out, or replaced by a later step).
    #[error("the session has ended; sign in again")]
    SessionEnded,
    #[error("the two new passwords differ")]
    PasswordsDiffer,
    #[error("the new password must differ from the one set by the administrator")]
    SamePassword,
    #[error("the new password {0}")]
    WeakPassword(derbes_crypto::WeakPassword),
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
    calendar: Arc<derbes_core::calendar::Calendar>,
    mailer: Option<Arc<dyn crate::outbound::mail::Mailer>>,
    pub(crate) connectors: Vec<Arc<derbes_connect::SqlConnector>>,
    /// Recorded declaration versions, parsed once.
    recorded: std::sync::Mutex<std::collections::HashMap<String, Arc<Declaration>>>,
    pub(crate) checkpoint_file: Option<crate::audit_chain::CheckpointFile>,
    pub(crate) audit_watch: std::sync::Mutex<crate::audit_chain::AuditWatch>,
}

pub(crate) const DEK_GENERATION: u32 = 1;
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
    pub fn with_mailer(mut self, mailer: Arc<dyn crate::outbound::mail::Mailer>) -> Self {
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

    pub(crate) fn mailer(&self) -> Option<Arc<dyn crate::outbound::mail::Mailer>> {
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

    /// Today's date where the operator is (the calendar's time zone).
    pub fn today(&self) -> time::Date {
        self.day_of(self.now())
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

    pub(crate) fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) async fn audit(&self, draft: AuditDraft) -> Result<(), VaultError> {
        self.store.write(WriteOp::Audit(vec![draft])).await?;
        Ok(())
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

    /// A staff note (or any text a person typed about the subject) sealed under the subject's
    /// data key for `slot` (base64), so that it is destroyed with the subject; `None` for none.
    pub(crate) fn seal_note(
        &self,
        record: &SubjectRecord,
        slot: &str,
        note: Option<&str>,
    ) -> Result<Option<String>, VaultError> {
        use base64::Engine;
        let Some(note) = note.filter(|n| !n.trim().is_empty()) else {
            return Ok(None);
        };
        let dk = self.open_key(record)?;
        let sealed = dk.seal(&record.id, record.dek_generation, slot, note.as_bytes())?;
        Ok(Some(
            base64::engine::general_purpose::STANDARD.encode(sealed),
        ))
    }

    /// A note sealed by [`Vault::seal_note`], opened.
    pub(crate) fn open_note(
        &self,
        record: &SubjectRecord,
        slot: &str,
        sealed: &str,
    ) -> Result<String, VaultError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| VaultError::Crypto(derbes_crypto::CryptoError::Open))?;
        let dk = self.open_key(record)?;
        self.open_field(&dk, record, slot, &bytes)
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
}

pub(crate) fn list(keys: &[String]) -> String {
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

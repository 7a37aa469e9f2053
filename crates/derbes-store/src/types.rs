//! What the store reads and writes.

use derbes_core::audit::AuditDraft;
use derbes_core::consent::{ConsentEvent, RepresentativeLink};
use derbes_core::destruction::Destruction;
use derbes_core::flags::{Flag, Obligation};
use uuid::Uuid;

/// A subject as stored: sealed fields and a wrapped data key, never plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectRecord {
    pub id: Uuid,
    pub category: String,
    pub dek: Vec<u8>,
    pub kek_version: u32,
    pub dek_generation: u32,
    /// Field key → sealed value.
    pub fields: Vec<(String, Vec<u8>)>,
    /// Incremented by every update; used to detect concurrent changes.
    pub version: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A blind-index entry of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub field: String,
    pub digest: [u8; 32],
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// What it is listed and revoked by.
    pub id: Uuid,
    /// What it is checked by: the SHA-256 of the token; the token itself is never stored.
    pub digest: String,
    pub name: String,
    pub role: String,
    pub purposes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
    /// After this the token is refused; `None`: it does not expire.
    pub expires_at: Option<String>,
    /// When it was last used, to the minute (recorded in batches).
    pub last_used_at: Option<String>,
}

/// Whose data key a [`KeyRecord`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyOwner {
    Subject,
    /// A data-subject request: its details and answer are sealed under a key of its own, so they
    /// outlive the destruction of the subject's data for as long as the request is kept.
    Request,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub owner: KeyOwner,
    /// The subject's or the request's id.
    pub id: Uuid,
    pub dek_generation: u32,
    pub dek: Vec<u8>,
    pub kek_version: u32,
}

/// The chain's last event as the writer signed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: derbes_core::audit::Hash,
    pub mac: Vec<u8>,
}

/// A data-subject request as stored. The store keeps the columns it filters and sorts on; the
/// server's JSON `body` holds the rest (history, verification, actions, sealed details).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub kind: String,
    pub status: String,
    /// Still being handled (listed among open requests and checked for duplicates).
    pub open: bool,
    pub received_at: String,
    pub due_at: String,
    /// The request's data key, wrapped.
    pub dek: Vec<u8>,
    pub kek_version: u32,
    /// Incremented by every update; used to detect concurrent changes.
    pub version: i64,
    pub updated_at: String,
    pub body: String,
}

/// The access package of a request: a zip sealed under the request's data key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageRecord {
    pub request_id: Uuid,
    pub subject_id: Uuid,
    pub created_at: String,
    pub expires_at: String,
    pub sealed: Vec<u8>,
}

/// A webhook connector's job: telling the operator's system about a request, until it confirms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookJob {
    /// Also the idempotency key the receiver sees on every attempt.
    pub id: Uuid,
    pub request_id: Uuid,
    pub subject_id: Uuid,
    pub webhook: String,
    pub event: String,
    /// `pending` (to be sent), `delivered` (awaiting the confirmation, until
    /// `next_attempt_at`), `confirmed` or `failed`.
    pub status: String,
    pub attempts: u32,
    pub next_attempt_at: String,
    /// The subject's identifiers, sealed under the request's key; `None` once confirmed.
    pub payload: Option<Vec<u8>>,
    /// What went wrong last: a status code or a cause, never personal data.
    pub last_error: Option<String>,
    pub updated_at: String,
}

/// A webhook job written with a request update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobWrite {
    pub job: WebhookJob,
    /// The job's row before: none (a new job), or in this status.
    pub expect: Option<String>,
}

/// Which requests to list, ordered by due time (then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestQuery {
    /// Only requests still being handled.
    pub open_only: bool,
    pub status: Option<String>,
    pub kind: Option<String>,
    pub subject_id: Option<Uuid>,
    /// Only requests due at or before this time.
    pub due_by: Option<String>,
    /// Continue after this (due_at, id).
    pub after: Option<(String, Uuid)>,
    pub limit: u32,
}

/// What decisions need to know about a subject beside its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubjectState {
    /// The consent ledger in the order recorded: whole, or one purpose's events when read so.
    pub consents: Vec<ConsentEvent>,
    /// The legal representatives linked to the subject.
    pub representatives: Vec<RepresentativeLink>,
    /// The block of all processing but storage, if one is set.
    pub blocked: Option<Flag>,
    /// Restrictions, by purpose.
    pub restrictions: Vec<(String, Flag)>,
    /// Obligations that keep consent from being withdrawn, by purpose.
    pub obligations: Vec<(String, Obligation)>,
}

/// One row of the state statement both backends run, in any order: (0, n, "", consent event),
/// (1, 0, "", link), (2, 0, purpose or "" for the block, flag) or (3, 0, purpose, obligation);
/// the bodies are JSON.
pub(crate) type StateRow = (i64, i64, String, String);

/// The state statement's text, apart from its parameters: consents (all, or of one purpose),
/// links and flags of one subject. Unordered: sorting here in Rust is cheaper than in SQL.
macro_rules! state_sql {
    ($id:literal, $purpose:literal) => {
        concat!(
            "SELECT 0, n, '', event FROM consent_events WHERE subject_id = ",
            $id,
            " AND (",
            $purpose,
            " IS NULL OR purpose = ",
            $purpose,
            ")",
            " UNION ALL SELECT 1, 0, '', link FROM representatives WHERE subject_id = ",
            $id,
            " UNION ALL SELECT 2, 0, purpose, flag FROM subject_flags WHERE subject_id = ",
            $id,
            " UNION ALL SELECT 3, 0, purpose, obligation FROM obligations WHERE subject_id = ",
            $id
        )
    };
}
pub(crate) use state_sql;

impl SubjectState {
    /// Assembles the state from the rows of the state statement: consents in the order
    /// recorded, links by when they were made, restrictions by purpose.
    pub(crate) fn from_rows(rows: Vec<StateRow>) -> Result<Self, crate::StoreError> {
        let mut consents = Vec::new();
        let mut state = SubjectState::default();
        for (kind, n, key, body) in rows {
            match kind {
                0 => consents.push((n, crate::from_json::<ConsentEvent>(&body)?)),
                1 => state.representatives.push(crate::from_json(&body)?),
                3 => state.obligations.push((key, crate::from_json(&body)?)),
                _ => {
                    let flag: Flag = crate::from_json(&body)?;
                    if key.is_empty() {
                        state.blocked = Some(flag);
                    } else {
                        state.restrictions.push((key, flag));
                    }
                }
            }
        }
        consents.sort_by_key(|(n, _)| *n);
        state.consents = consents.into_iter().map(|(_, e)| e).collect();
        state.representatives.sort_by_key(|l| l.linked_at);
        state.restrictions.sort_by(|a, b| a.0.cmp(&b.0));
        state.obligations.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(state)
    }
}

/// A block, restriction or obligation to set (`Some`) or lift (`None`).
#[derive(Debug, Clone)]
pub enum FlagWrite {
    Block(Option<Flag>),
    Restriction {
        purpose: String,
        flag: Option<Flag>,
    },
    Obligation {
        purpose: String,
        obligation: Option<Obligation>,
    },
}

/// Which table a [`FlagWrite`] goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagTable {
    /// `subject_flags`: the block (key "") and restrictions.
    Flags,
    Obligations,
}

impl FlagWrite {
    /// The row it writes: table, key (purpose, or "" for the block) and JSON body (`None`
    /// deletes the row).
    pub(crate) fn row(&self) -> Result<(FlagTable, &str, Option<String>), crate::StoreError> {
        fn body<T: serde::Serialize>(v: &Option<T>) -> Result<Option<String>, crate::StoreError> {
            v.as_ref().map(crate::to_json).transpose()
        }
        Ok(match self {
            FlagWrite::Block(f) => (FlagTable::Flags, "", body(f)?),
            FlagWrite::Restriction { purpose, flag } => (FlagTable::Flags, purpose, body(flag)?),
            FlagWrite::Obligation {
                purpose,
                obligation,
            } => (FlagTable::Obligations, purpose, body(obligation)?),
        })
    }
}

/// One atomic write. Each carries the audit events that record it.
#[derive(Debug, Clone)]
pub enum WriteOp {
    CreateSubject {
        record: SubjectRecord,
        index: Vec<IndexEntry>,
        audit: AuditDraft,
    },
    /// Replaces the subject's fields and blind-index entries, if its version is still
    /// `expected_version`.
    UpdateSubject {
        id: Uuid,
        expected_version: i64,
        fields: Vec<(String, Vec<u8>)>,
        index: Vec<IndexEntry>,
        audit: AuditDraft,
    },
    /// Files a data-subject request. With `refuse_duplicate`, refuses it with
    /// `DuplicateRequest` when the subject has an open request of the same kind.
    FileRequest {
        record: RequestRecord,
        refuse_duplicate: bool,
        audit: AuditDraft,
    },
    /// Replaces a request's status, body and due time, if its version is still
    /// `record.version - 1`; otherwise `VersionConflict` (`NotFound` when there is none).
    /// `jobs` are stored with it, in the same transaction, each only if its row is as expected
    /// (otherwise `JobChanged` and nothing is written).
    UpdateRequest {
        record: RequestRecord,
        audit: Vec<AuditDraft>,
        jobs: Vec<JobWrite>,
    },
    /// Replaces a webhook job if its status is still `expected_status`; otherwise
    /// `VersionConflict` (`NotFound` when there is none).
    UpdateWebhookJob {
        job: WebhookJob,
        expected_status: String,
        audit: Vec<AuditDraft>,
    },
    /// Replaces wrapped data keys (KEK rotation), each only if its KEK version is still the one
    /// read.
    Rewrap {
        keys: Vec<(KeyRecord, Vec<u8>, u32)>,
        audit: Option<AuditDraft>,
    },
    CreateToken {
        token: TokenRecord,
        audit: AuditDraft,
    },
    /// Revokes a token at once, in every process (`NotFound` when there is none); a token
    /// revoked before is answered with its record and nothing is written.
    RevokeToken {
        id: Uuid,
        at: String,
        audit: AuditDraft,
    },
    /// When tokens (by digest) were last used: bookkeeping of the tokens themselves, no action
    /// on personal data, so it carries no audit event. Times only move forward.
    TokensUsed { used: Vec<(String, String)> },
    /// The last run of a periodic job, replacing the one before and counted: bookkeeping of
    /// derbes itself, no action on personal data, so it carries no audit event.
    RecordJobRun(crate::JobRun),
    /// Records a declaration version; refuses the same version with different content.
    RecordDeclaration {
        version: String,
        content_hash: String,
        content: String,
        audit: AuditDraft,
    },
    /// Appends a consent event, if the subject's ledger still holds exactly `seen` events of the
    /// event's purpose (the ones the decision to record it was made on); otherwise
    /// `VersionConflict`.
    RecordConsent {
        event: ConsentEvent,
        seen: usize,
        audit: AuditDraft,
    },
    /// Links a legal representative to a subject, or replaces the link's relation and documents.
    LinkRepresentative {
        link: RepresentativeLink,
        audit: AuditDraft,
    },
    /// Removes a link; `NotFound` when there is none.
    UnlinkRepresentative {
        subject_id: Uuid,
        representative_id: Uuid,
        audit: AuditDraft,
    },
    /// Sets or lifts a block, restriction or obligation of a subject.
    SetFlag {
        subject_id: Uuid,
        flag: FlagWrite,
        audit: AuditDraft,
    },
    /// Crypto-shreds a subject: deletes its wrapped data key and sealed fields, blind-index
    /// entries, consent ledger, links to its representatives, flags, obligations and access
    /// packages, and keeps `destruction` (with what was removed counted) in `destructions`.
    /// A subject already destroyed is answered with its record and nothing is written, so a
    /// destruction can be repeated safely; `NotFound` when there was never such a subject.
    DestroySubject {
        destruction: Destruction,
        audit: AuditDraft,
        /// For a destruction decided now: the subject's obligations as the decision read them.
        /// The write refuses with `VersionConflict` when they changed, or when the subject has
        /// become another subject's legal representative, since; the caller decides again.
        /// `None` re-applies a logged destruction as it was.
        checked: Option<Vec<(String, Obligation)>>,
    },
    /// Stores a request's access package, replacing an earlier one.
    StorePackage {
        package: PackageRecord,
        audit: AuditDraft,
    },
    /// Deletes a request's access package; `NotFound` when there is none.
    DeletePackage { request_id: Uuid, audit: AuditDraft },
    /// Audit events alone (reads, refusals, lookups).
    Audit(Vec<AuditDraft>),
    /// Signs a checkpoint of the chain as it stands after this commit group (answered with the
    /// last checkpoint when it already covers the chain's last event).
    Checkpoint,
    /// Records a segment of the oldest events, written to its archive file, and removes its
    /// events from the database; refused (`ArchiveRefused`) unless the segment continues the
    /// last one and ends on an event the database holds, with its hash, before the last
    /// checkpoint.
    ArchiveAudit {
        segment: derbes_core::audit::Segment,
        audit: AuditDraft,
    },
}

impl WriteOp {
    /// The subject whose decision facts (fields, consents, representatives, flags) this write
    /// changes: the store lists it in the feed of state changes.
    pub(crate) fn changed_subject(&self) -> Option<Uuid> {
        match self {
            WriteOp::UpdateSubject { id, .. } => Some(*id),
            WriteOp::RecordConsent { event, .. } => Some(event.subject_id),
            WriteOp::LinkRepresentative { link, .. } => Some(link.subject_id),
            WriteOp::UnlinkRepresentative { subject_id, .. }
            | WriteOp::SetFlag { subject_id, .. } => Some(*subject_id),
            WriteOp::DestroySubject { destruction, .. } => Some(destruction.subject_id),
            WriteOp::CreateSubject { .. }
            | WriteOp::Rewrap { .. }
            | WriteOp::CreateToken { .. }
            | WriteOp::RevokeToken { .. }
            | WriteOp::TokensUsed { .. }
            | WriteOp::RecordJobRun(_)
            | WriteOp::RecordDeclaration { .. }
            | WriteOp::FileRequest { .. }
            | WriteOp::UpdateRequest { .. }
            | WriteOp::StorePackage { .. }
            | WriteOp::DeletePackage { .. }
            | WriteOp::UpdateWebhookJob { .. }
            | WriteOp::Checkpoint
            | WriteOp::ArchiveAudit { .. }
            | WriteOp::Audit(_) => None,
        }
    }
}

/// The feed of state changes after a point (see [`crate::Store::state_changes`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateChanges {
    /// (seq, subject), oldest first.
    pub changes: Vec<(i64, Uuid)>,
    /// Changes at or below this are pruned from the feed.
    pub floor: i64,
    /// The newest change recorded (or the floor when there is none).
    pub latest: i64,
}

/// How many changes the feed keeps; older ones are pruned.
pub const STATE_CHANGES_KEPT: i64 = 100_000;

/// What a write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created,
    Updated {
        version: i64,
    },
    Rewrapped {
        count: u64,
    },
    TokenCreated,
    /// The token as it is now; `already` when it had been revoked before.
    TokenRevoked {
        token: Box<TokenRecord>,
        already: bool,
    },
    TokensUsed,
    JobRunRecorded,
    /// `true` when the version was new.
    DeclarationRecorded {
        new: bool,
    },
    Audited,
    ConsentRecorded,
    /// `true` when the link is new, `false` when an existing one was replaced.
    Linked {
        new: bool,
    },
    Unlinked,
    FlagSet,
    RequestFiled,
    RequestUpdated,
    /// `already` when the subject had been destroyed before and nothing was written.
    Destroyed {
        destruction: Destruction,
        already: bool,
    },
    PackageStored,
    PackageDeleted,
    WebhookJobUpdated,
    Checkpointed(derbes_core::audit::Checkpoint),
}

impl Applied {
    /// The write found its work done already and changed nothing (a repeated destruction).
    pub(crate) fn changed_nothing(&self) -> bool {
        matches!(self, Applied::Destroyed { already: true, .. })
    }
}

/// A parameter of a statement built at run time, converted by each backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Param {
    Text(String),
    Id(Uuid),
    Int(i64),
}

/// The columns of `requests`, in the order both backends read them.
pub(crate) const REQUEST_COLUMNS: &str = "id, subject_id, kind, status, open, received_at, due_at, dek, kek_version, version, updated_at, body";

impl RequestQuery {
    /// The listing statement and its parameters; `placeholder(n)` writes the n-th (from 1).
    /// Only the filters asked for appear, so that the planner can use the partial index of open
    /// requests.
    pub(crate) fn sql(&self, placeholder: fn(usize) -> String, open: &str) -> (String, Vec<Param>) {
        let mut sql = format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE 1 = 1");
        let mut params = Vec::new();
        let mut bind = |p: Param| {
            params.push(p);
            placeholder(params.len())
        };
        if self.open_only {
            sql.push_str(&format!(" AND open = {open}"));
        }
        if let Some(s) = &self.status {
            sql.push_str(&format!(" AND status = {}", bind(Param::Text(s.clone()))));
        }
        if let Some(k) = &self.kind {
            sql.push_str(&format!(" AND kind = {}", bind(Param::Text(k.clone()))));
        }
        if let Some(id) = self.subject_id {
            sql.push_str(&format!(" AND subject_id = {}", bind(Param::Id(id))));
        }
        if let Some(d) = &self.due_by {
            sql.push_str(&format!(" AND due_at <= {}", bind(Param::Text(d.clone()))));
        }
        if let Some((due, id)) = &self.after {
            let d = bind(Param::Text(due.clone()));
            let i = bind(Param::Id(*id));
            sql.push_str(&format!(
                " AND (due_at > {d} OR (due_at = {d} AND id > {i}))"
            ));
        }
        let l = bind(Param::Int(i64::from(self.limit)));
        sql.push_str(&format!(" ORDER BY due_at, id LIMIT {l}"));
        (sql, params)
    }
}

/// Whether what a destruction was decided on still holds in the write's transaction: the same
/// obligations (`now`: purpose and stored text, in any order) and no one represented.
pub(crate) fn destruction_check_holds(
    checked: &[(String, Obligation)],
    now: Vec<(String, String)>,
    represents: bool,
) -> Result<bool, crate::StoreError> {
    if represents || now.len() != checked.len() {
        return Ok(false);
    }
    let mut now = now
        .into_iter()
        .map(|(purpose, text)| Ok((purpose, crate::from_json::<Obligation>(&text)?)))
        .collect::<Result<Vec<_>, crate::StoreError>>()?;
    now.sort_by(|a, b| a.0.cmp(&b.0));
    let mut checked = checked.to_vec();
    checked.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(now == checked)
}

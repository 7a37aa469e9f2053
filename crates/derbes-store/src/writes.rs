//! What the store writes: one operation, atomic with its audit events, and what it did.

use crate::{
    FlagWrite, IndexEntry, JobWrite, KeyRecord, PackageRecord, RequestRecord, SubjectRecord,
    TokenRecord, WebhookJob,
};
use derbes_core::audit::AuditDraft;
use derbes_core::consent::{ConsentEvent, RepresentativeLink};
use derbes_core::destruction::Destruction;
use uuid::Uuid;

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
        /// The record's `field_collected` after the update.
        field_collected: std::collections::BTreeMap<String, time::Date>,
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
        expected_status: crate::WebhookStatus,
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
        at: time::OffsetDateTime,
        audit: AuditDraft,
    },
    /// When tokens (by digest) were last used: bookkeeping of the tokens themselves, no action
    /// on personal data, so it carries no audit event. Times only move forward.
    TokensUsed {
        used: Vec<(String, time::OffsetDateTime)>,
    },
    /// A change to person accounts and their sessions (see [`crate::AccountWrite`]).
    Account(Box<crate::AccountWrite>),
    /// When sessions (by digest) were last seen: bookkeeping of the sessions themselves, no
    /// action on personal data, so it carries no audit event. Times only move forward.
    SessionsSeen {
        seen: Vec<(String, time::OffsetDateTime)>,
    },
    /// The last run of a periodic job, replacing the one before and counted: bookkeeping of
    /// derbes itself, no action on personal data, so it carries no audit event.
    RecordJobRun(crate::JobRun),
    /// Keeps the last retention scan (bookkeeping, no audit event).
    KeepRetentionScan(crate::KeptScan),
    /// Stores a retention batch: a new one (`seen` none), or a change to the one at version
    /// `seen` (refused with `VersionConflict` otherwise); `items`, when given, replace its
    /// items. A batch stored done loses its pseudonym key in the same transaction.
    PutRetentionBatch {
        batch: Box<derbes_core::retention_batch::Batch>,
        seen: Option<i64>,
        items: Option<Vec<derbes_core::retention_batch::BatchItem>>,
        audit: AuditDraft,
    },
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
    ///
    /// `reconfirm_in`: the month (its first day) in which the subject must confirm the consent
    /// in their own name (see `derbes_core::consent::reconfirmation_month`), worked out from the
    /// subject at `version` (`VersionConflict` if a correction landed since); `None` ends any
    /// such duty for the event's purpose.
    RecordConsent {
        event: ConsentEvent,
        seen: usize,
        version: i64,
        reconfirm_in: Option<time::Date>,
        audit: AuditDraft,
    },
    /// Appends a lifecycle event to its subject's ledger, if the ledger still holds exactly
    /// `seen` events (the ones the checks were made on) and the subject exists; otherwise
    /// `VersionConflict` (`NotFound` for no subject).
    RecordLifecycle {
        event: derbes_core::lifecycle::LifecycleEvent,
        seen: usize,
        audit: AuditDraft,
    },
    /// Replaces the months of majority of a subject listed as unsettled with `due` (purpose,
    /// first day of the month), worked out from the subject at `version` with `consents`
    /// consent events (`VersionConflict` if either has moved on since), and takes it off the
    /// list.
    SettleReconfirmations {
        subject_id: Uuid,
        version: i64,
        consents: usize,
        due: Vec<(String, time::Date)>,
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
        /// For a destruction decided now: what it was decided on. The write refuses with
        /// `VersionConflict` when the obligations or the lifecycle events changed, or when the
        /// subject has become another subject's legal representative, since; the caller
        /// decides again. `None` re-applies a logged destruction as it was.
        checked: Option<crate::DestructionChecked>,
        /// The retention batch whose pending item this destruction executes: the item is
        /// marked `whole:<fields>` in the same transaction, and the write is refused with
        /// `VersionConflict` when it is no longer pending or the subject has an open request.
        batch: Option<Uuid>,
        /// What a batch that depersonalizes keeps of the subject, written in the same
        /// transaction.
        depersonalized: Option<crate::Depersonalized>,
    },
    /// Executes one item of a retention batch on some of a subject's fields: the record keeps
    /// `kept` (its fields and their collection days) if its version is still
    /// `expected_version`, the `destroyed` fields' blind-index entries go, and the item is
    /// marked `fields:<count>`. Refused with `VersionConflict` when the record changed, when the subject
    /// no longer has `lifecycle_events` events (a legal hold recorded since) or has an open
    /// request, or when the item is no longer pending.
    DestroyFields {
        subject_id: Uuid,
        expected_version: i64,
        kept: crate::Rewritten,
        destroyed: Vec<String>,
        /// The lifecycle events the decision read and the batch whose item it executes;
        /// `None` re-applies a logged destruction of fields after a restore, as it was.
        checked: Option<(usize, Uuid)>,
        /// What a batch that depersonalizes keeps of the fields, written in the same
        /// transaction.
        depersonalized: Option<crate::Depersonalized>,
        audit: AuditDraft,
    },
    /// Stores a depersonalizing batch's pseudonym key unless it has one: answered with the
    /// key the batch holds (another runner's, when two started at once). The key is deleted
    /// when the batch is stored done.
    PutPseudonymKey {
        batch: Uuid,
        key: crate::PseudonymKey,
    },
    /// Marks a pending item of a retention batch with `outcome` (skipped, with its reason):
    /// bookkeeping of the batch, counted in its outcome and audit event, no event of its own.
    MarkBatchItem {
        batch: Uuid,
        subject_id: Uuid,
        outcome: derbes_core::retention_batch::ItemMark,
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
    /// Rewrites the storage that held the keys a retention batch destroyed, once the batch is
    /// executed, so that no dead copy of them stays in the database's files. A batch's
    /// destructions leave it to this, instead of each rewriting its key's storage at once as a
    /// single destruction does. PostgreSQL rewrites every partition of the key table after
    /// the commit (covering also a batch stopped midway and run again); SQLite zeroes deleted
    /// content as it deletes (`secure_delete`), and has nothing left to do.
    RewriteDestroyedKeys,
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
            // Retention counts from them, and decisions will.
            WriteOp::RecordLifecycle { event, .. } => Some(event.subject_id),
            WriteOp::LinkRepresentative { link, .. } => Some(link.subject_id),
            WriteOp::UnlinkRepresentative { subject_id, .. }
            | WriteOp::SetFlag { subject_id, .. } => Some(*subject_id),
            WriteOp::DestroySubject { destruction, .. } => Some(destruction.subject_id),
            WriteOp::DestroyFields { subject_id, .. } => Some(*subject_id),
            WriteOp::CreateSubject { .. }
            | WriteOp::Rewrap { .. }
            | WriteOp::CreateToken { .. }
            | WriteOp::RevokeToken { .. }
            | WriteOp::TokensUsed { .. }
            | WriteOp::Account(_)
            | WriteOp::SessionsSeen { .. }
            | WriteOp::RecordJobRun(_)
            | WriteOp::KeepRetentionScan(_)
            | WriteOp::PutRetentionBatch { .. }
            | WriteOp::MarkBatchItem { .. }
            | WriteOp::PutPseudonymKey { .. }
            | WriteOp::RecordDeclaration { .. }
            | WriteOp::FileRequest { .. }
            | WriteOp::UpdateRequest { .. }
            | WriteOp::StorePackage { .. }
            | WriteOp::DeletePackage { .. }
            | WriteOp::UpdateWebhookJob { .. }
            | WriteOp::Checkpoint
            | WriteOp::RewriteDestroyedKeys
            | WriteOp::SettleReconfirmations { .. }
            | WriteOp::ArchiveAudit { .. }
            | WriteOp::Audit(_) => None,
        }
    }
}

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
    AccountWritten,
    SessionsSeen,
    JobRunRecorded,
    RetentionScanKept,
    /// A retention batch stored, at this version.
    BatchPut {
        version: i64,
    },
    /// An item's fields destroyed, or the item marked.
    BatchItemDone,
    /// The pseudonym key the batch holds.
    PseudonymKey(crate::PseudonymKey),
    /// The storage of destroyed keys rewritten.
    KeysRewritten,
    /// `true` when the version was new.
    DeclarationRecorded {
        new: bool,
    },
    Audited,
    ConsentRecorded,
    LifecycleRecorded,
    ReconfirmationsSettled,
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

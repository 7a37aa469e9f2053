//! What the store reads and writes.

use derbes_core::audit::AuditDraft;
use derbes_core::consent::{ConsentEvent, RepresentativeLink};
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
    pub digest: String,
    pub name: String,
    pub role: String,
    pub purposes: Vec<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    pub subject_id: Uuid,
    pub dek_generation: u32,
    pub dek: Vec<u8>,
    pub kek_version: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditHead {
    pub seq: i64,
    pub hash: String,
    pub mac: String,
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
    /// Audit events alone (reads, refusals, lookups).
    Audit(Vec<AuditDraft>),
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
            WriteOp::CreateSubject { .. }
            | WriteOp::Rewrap { .. }
            | WriteOp::CreateToken { .. }
            | WriteOp::RecordDeclaration { .. }
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
}

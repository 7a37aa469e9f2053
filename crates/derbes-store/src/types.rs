//! What the store reads and writes.

use derbes_core::audit::AuditDraft;
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
    /// Audit events alone (reads, refusals, lookups).
    Audit(Vec<AuditDraft>),
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
    /// `true` when the version was new.
    DeclarationRecorded {
        new: bool,
    },
    Audited,
}

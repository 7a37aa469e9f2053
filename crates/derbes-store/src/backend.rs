//! What the modules of both backends share: the store's records and writes, the helpers that
//! read and write them the same way in either, and the core types they hold.

pub(crate) use crate::chain::{Anchor, Chain, ChainPolicy, ChainState, Continuation};
pub(crate) use crate::fields_blob::{decode_field_keys, decode_fields, encode_fields};
pub(crate) use crate::subject_state::{gather, RetentionSubject};
pub(crate) use crate::subjects::{collected_column, collected_from_column, Rewritten};
pub(crate) use crate::times::At;
pub(crate) use crate::{
    drain, from_json, now, to_json, Applied, AuditHead, FlagTable, IndexEntry, Job, KeyOwner,
    KeyRecord, Keys, PackageRecord, Param, RawEvent, RequestQuery, RequestRecord, StateChanges,
    Store, StoreError, SubjectRecord, SubjectState, TokenRecord, WebhookJob, WriteOp,
    CHECKPOINT_COLUMNS, EVENT_COLUMNS, MAX_GROUP, PRUNE_EVERY, REQUEST_COLUMNS, SEGMENT_COLUMNS,
    STATE_CHANGES_KEPT, TOKEN_COLUMNS,
};
pub(crate) use crate::{
    purposes_text, AccountChange, AccountRecord, AccountWrite, EndSessions, SessionRecord,
    SessionStage, ACCOUNT_COLUMNS, SESSION_COLUMNS,
};
pub(crate) use async_trait::async_trait;
pub(crate) use derbes_core::audit::{AuditDraft, AuditEvent, ChainKeys, Checkpoint, Hash, Segment};
pub(crate) use derbes_core::consent::RepresentativeLink;
pub(crate) use derbes_core::destruction::{Destruction, Removed};
pub(crate) use std::sync::Arc;
pub(crate) use time::OffsetDateTime;
pub(crate) use tokio::sync::mpsc;
pub(crate) use uuid::Uuid;

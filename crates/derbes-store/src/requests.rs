//! Data-subject requests.

use crate::{Param, StoreError};
use derbes_core::request::{RequestKind, Status};
use time::OffsetDateTime;
use uuid::Uuid;

/// A data-subject request as stored. The store keeps the columns it filters and sorts on; the
/// server's JSON `body` holds the rest (history, verification, actions, sealed details).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub kind: RequestKind,
    pub status: Status,
    /// Still being handled (listed among open requests and checked for duplicates).
    pub open: bool,
    pub received_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
    /// The request's data key, wrapped.
    pub dek: Vec<u8>,
    pub kek_version: u32,
    /// Incremented by every update; used to detect concurrent changes.
    pub version: i64,
    pub updated_at: OffsetDateTime,
    pub body: String,
    /// The subject's category, kept so that a listing can select the requests about subjects
    /// an actor's purposes reach.
    pub category: String,
}

/// Which requests to list, ordered by due time (then id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestQuery {
    /// Only requests still being handled.
    pub open_only: bool,
    pub status: Option<Status>,
    pub kind: Option<RequestKind>,
    pub subject_id: Option<Uuid>,
    /// Only requests due at or before this time.
    pub due_by: Option<OffsetDateTime>,
    /// Only requests due after this time (not yet overdue, when it is now).
    pub due_after: Option<OffsetDateTime>,
    /// Continue after this (due_at, id).
    pub after: Option<(OffsetDateTime, Uuid)>,
    /// Only requests about subjects of these categories (none: of no category).
    pub categories: Option<Vec<String>>,
    pub limit: u32,
}

/// The columns of `requests`, in the order both backends read them.
pub(crate) const REQUEST_COLUMNS: &str = "id, subject_id, kind, status, open, received_at, due_at, dek, kek_version, version, updated_at, body, category";

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
            sql.push_str(&format!(
                " AND status = {}",
                bind(Param::Text(s.code().into()))
            ));
        }
        if let Some(k) = &self.kind {
            sql.push_str(&format!(
                " AND kind = {}",
                bind(Param::Text(k.code().into()))
            ));
        }
        if let Some(id) = self.subject_id {
            sql.push_str(&format!(" AND subject_id = {}", bind(Param::Id(id))));
        }
        if let Some(d) = &self.due_by {
            sql.push_str(&format!(
                " AND due_at <= {}",
                bind(Param::Text(crate::times::text(*d)))
            ));
        }
        if let Some(d) = &self.due_after {
            sql.push_str(&format!(
                " AND due_at > {}",
                bind(Param::Text(crate::times::text(*d)))
            ));
        }
        if let Some(categories) = &self.categories {
            let listed: Vec<String> = categories
                .iter()
                .map(|c| bind(Param::Text(c.clone())))
                .collect();
            if listed.is_empty() {
                sql.push_str(" AND 1 = 0");
            } else {
                sql.push_str(&format!(" AND category IN ({})", listed.join(", ")));
            }
        }
        if let Some((due, id)) = &self.after {
            let d = bind(Param::Text(crate::times::text(*due)));
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

/// Data-subject requests.
#[async_trait::async_trait]
pub trait RequestStore: Send + Sync {
    async fn request(&self, id: Uuid) -> Result<Option<RequestRecord>, StoreError>;
    /// Requests matching `query`, by due time, then id.
    async fn requests(&self, query: RequestQuery) -> Result<Vec<RequestRecord>, StoreError>;
}

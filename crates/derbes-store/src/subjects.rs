//! Subjects: their sealed records and blind-index entries.

use crate::StoreError;
use std::collections::BTreeMap;
use time::{Date, OffsetDateTime};
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
    pub created_at: OffsetDateTime,
    pub updated_at: OffsetDateTime,
    /// The day (in the operator's calendar) each field whose value was collected after the
    /// subject was: retention counted from collection starts there. Others date from
    /// `created_at`.
    pub field_collected: BTreeMap<String, Date>,
}

/// A subject's sealed fields after an update, and the days fields were collected later.
pub type Rewritten = (Vec<(String, Vec<u8>)>, BTreeMap<String, Date>);

/// A day as stored in the `field_collected` column.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Day(#[serde(with = "derbes_core::iso_date")] Date);

/// `field_collected` as stored: a JSON object of `YYYY-MM-DD` days, or NULL when empty.
pub(crate) fn collected_column(
    collected: &BTreeMap<String, Date>,
) -> Result<Option<String>, StoreError> {
    if collected.is_empty() {
        return Ok(None);
    }
    let days: BTreeMap<&str, Day> = collected
        .iter()
        .map(|(k, d)| (k.as_str(), Day(*d)))
        .collect();
    crate::to_json(&days).map(Some)
}

/// `field_collected` from its column.
pub(crate) fn collected_from_column(
    column: Option<&str>,
) -> Result<BTreeMap<String, Date>, StoreError> {
    let Some(text) = column else {
        return Ok(BTreeMap::new());
    };
    let days: BTreeMap<String, Day> = crate::from_json(text)?;
    Ok(days.into_iter().map(|(k, d)| (k, d.0)).collect())
}

/// A blind-index entry of a subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    pub field: String,
    pub digest: [u8; 32],
}

impl IndexEntry {
    /// Refuses the entry for subject `id` of `category` when `holder`, the subject that holds
    /// it now, is another one.
    pub(crate) fn free_for(
        &self,
        id: &Uuid,
        category: &str,
        holder: Option<Uuid>,
    ) -> Result<(), StoreError> {
        match holder {
            Some(existing) if existing != *id => Err(StoreError::Duplicate {
                field: self.field.clone(),
                category: category.to_owned(),
                existing,
            }),
            _ => Ok(()),
        }
    }
}

/// Subjects: their sealed records and blind-index entries.
#[async_trait::async_trait]
pub trait SubjectStore: Send + Sync {
    async fn subject(&self, id: Uuid) -> Result<Option<SubjectRecord>, StoreError>;
    /// Which of `ids` are held as subjects, in one read per batch of ids (500 on SQLite, 5,000
    /// on PostgreSQL) rather than one per id.
    async fn held(&self, ids: Vec<Uuid>) -> Result<std::collections::HashSet<Uuid>, StoreError>;
    /// Subjects whose `field` has this blind-index digest: (id, category).
    async fn lookup(
        &self,
        field: &str,
        digest: &[u8; 32],
    ) -> Result<Vec<(Uuid, String)>, StoreError>;
    async fn count_subjects(&self) -> Result<u64, StoreError>;
    /// Subjects with a block, restriction or obligation whose note is kept in clear (written
    /// by a derbes from before notes were sealed).
    async fn subjects_with_clear_notes(&self) -> Result<Vec<Uuid>, StoreError>;
    /// Rewrites the tables of blocks, restrictions and obligations so that no row replaced in
    /// them is left readable in the live database files (SQLite: the WAL emptied, replaced cells
    /// being zeroed already; PostgreSQL: `VACUUM (FULL)`). For after notes have been sealed.
    async fn rewrite_flag_tables(&self) -> Result<(), StoreError>;
}

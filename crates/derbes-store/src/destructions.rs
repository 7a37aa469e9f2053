//! The records of destroyed subjects.

use crate::{Page, StoreError};
use derbes_core::destruction::Destruction;
use derbes_core::flags::Obligation;
use uuid::Uuid;

/// What a destruction decided now was decided on: the write refuses with `VersionConflict`
/// when it no longer holds, and the caller decides again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestructionChecked {
    /// The subject's obligations as the decision read them.
    pub obligations: Vec<(String, Obligation)>,
    /// How many lifecycle events the subject had (a legal hold recorded since is one more).
    pub lifecycle_events: usize,
}

/// Whether what a destruction was decided on still holds in the write's transaction: the same
/// obligations (`now`: purpose and stored text, in any order), as many lifecycle events
/// (`events`) and no one represented.
pub(crate) fn destruction_check_holds(
    checked: &DestructionChecked,
    now: Vec<(String, String)>,
    events: i64,
    represents: bool,
) -> Result<bool, crate::StoreError> {
    if represents
        || now.len() != checked.obligations.len()
        || usize::try_from(events).ok() != Some(checked.lifecycle_events)
    {
        return Ok(false);
    }
    let mut now = now
        .into_iter()
        .map(|(purpose, text)| Ok((purpose, crate::from_json::<Obligation>(&text)?)))
        .collect::<Result<Vec<_>, crate::StoreError>>()?;
    now.sort_by(|a, b| a.0.cmp(&b.0));
    let mut checked = checked.obligations.clone();
    checked.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(now == checked)
}

/// The records of destroyed subjects.
#[async_trait::async_trait]
pub trait DestructionStore: Send + Sync {
    /// The record of a destroyed subject.
    async fn destruction(&self, subject_id: Uuid) -> Result<Option<Destruction>, StoreError>;
    /// Destruction records by subject id, after `after`.
    async fn destructions(&self, page: Page) -> Result<Vec<Destruction>, StoreError>;
    /// Rewrites the storage of subjects' records, so that no older version of a record that
    /// lost fields (a retention batch's) stays in the database's files, sealed under a key
    /// that is still live. SQLite zeroes what it deletes and empties its WAL after each such
    /// write: nothing to do. PostgreSQL: `VACUUM (FULL)`, which holds the table's lock while
    /// it copies the table.
    async fn rewrite_subjects(&self) -> Result<(), StoreError>;
}

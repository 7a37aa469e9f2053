//! The records of destroyed subjects.

use crate::StoreError;
use derbes_core::destruction::Destruction;
use derbes_core::flags::Obligation;
use uuid::Uuid;

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

/// The records of destroyed subjects.
#[async_trait::async_trait]
pub trait DestructionStore: Send + Sync {
    /// The record of a destroyed subject.
    async fn destruction(&self, subject_id: Uuid) -> Result<Option<Destruction>, StoreError>;
    /// Destruction records by subject id, after `after`.
    async fn destructions(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Destruction>, StoreError>;
}

//! What decisions need beside a subject's fields: its consent ledger, representatives, block, restrictions and obligations, and the feed of their changes.

use crate::{Page, StoreError, SubjectRecord};
use derbes_core::consent::{ConsentEvent, RepresentativeLink};
use derbes_core::flags::{Flag, Obligation};
use uuid::Uuid;

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
    /// The lifecycle events (which start retention periods), in the order recorded.
    pub lifecycle: Vec<derbes_core::lifecycle::LifecycleEvent>,
}

/// One row of the state statement both backends run, in any order: (0, n, "", consent event),
/// (1, 0, "", link), (2, 0, purpose or "" for the block, flag), (3, 0, purpose, obligation) or
/// (4, n, "", lifecycle event); the bodies are JSON.
pub(crate) type StateRow = (i64, i64, String, String);

/// The state statement's text, apart from its parameters: consents (all, or of one purpose),
/// links, flags and lifecycle events of one subject. Unordered: sorting here in Rust is cheaper than in SQL.
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
            $id,
            " UNION ALL SELECT 4, n, '', event FROM lifecycle_events WHERE subject_id = ",
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
        let mut lifecycle = Vec::new();
        let mut state = SubjectState::default();
        for (kind, n, key, body) in rows {
            match kind {
                0 => consents.push((n, crate::from_json::<ConsentEvent>(&body)?)),
                1 => state.representatives.push(crate::from_json(&body)?),
                3 => state.obligations.push((key, crate::from_json(&body)?)),
                4 => lifecycle.push((n, crate::from_json(&body)?)),
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
        lifecycle.sort_by_key(|(n, _)| *n);
        state.lifecycle = lifecycle.into_iter().map(|(_, e)| e).collect();
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

/// A consent a legal representative gave, which the subject is to confirm in their own name in
/// the month they come of age.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconfirmation {
    pub subject_id: Uuid,
    pub purpose: String,
    /// The first day of the month of majority.
    #[serde(with = "derbes_core::iso_date")]
    pub month: time::Date,
}

/// Which reconfirmations to list: those due in the month of `through` or before, of
/// `purposes` (every purpose when empty), at most `limit` from the `offset`-th.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueReconfirmations {
    pub through: time::Date,
    pub purposes: Vec<String>,
    pub offset: u32,
    pub limit: u32,
}

impl DueReconfirmations {
    /// The last month asked for, as the store keeps months.
    pub(crate) fn month(&self) -> String {
        crate::times::month_text(self.through)
    }
}

/// Some of the reconfirmations due, and how many there are in all.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReconfirmationsDue {
    pub due: Vec<Reconfirmation>,
    pub total: u64,
}

/// What the retention scan needs of one subject: which fields it has (never a value), when
/// they were collected, its consent ledger and its lifecycle events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionSubject {
    pub id: Uuid,
    pub category: String,
    pub created_at: time::OffsetDateTime,
    pub field_keys: Vec<String>,
    pub field_collected: std::collections::BTreeMap<String, time::Date>,
    /// In the order recorded.
    pub consents: Vec<ConsentEvent>,
    /// In the order recorded.
    pub lifecycle: Vec<derbes_core::lifecycle::LifecycleEvent>,
}

/// Gathers the events read for a page of subjects (rows of subject, n, JSON in any order)
/// into each subject's ledger, in the order recorded.
pub(crate) fn gather<T: serde::de::DeserializeOwned>(
    page: &mut [RetentionSubject],
    mut rows: Vec<(Uuid, i64, String)>,
    put: impl Fn(&mut RetentionSubject, T),
) -> Result<(), crate::StoreError> {
    rows.sort_unstable_by_key(|r| (r.0, r.1));
    let mut at = 0;
    for (id, _, body) in rows {
        while page.get(at).is_some_and(|s| s.id < id) {
            at += 1;
        }
        if let Some(s) = page.get_mut(at).filter(|s| s.id == id) {
            put(s, crate::from_json(&body)?);
        }
    }
    Ok(())
}

/// How many changes the feed keeps; older ones are pruned.
pub const STATE_CHANGES_KEPT: i64 = 100_000;

/// What decisions need beside a subject's fields: its consent ledger, representatives, block, restrictions and obligations, and the feed of their changes.
#[async_trait::async_trait]
pub trait SubjectStateStore: Send + Sync {
    /// A subject and its state (consents, representatives, block and restrictions), read
    /// together. With `purpose`, only the consent events of that purpose are read: a decision
    /// needs no others, and a long ledger costs a parse per event.
    async fn subject_with_state(
        &self,
        id: Uuid,
        purpose: Option<String>,
    ) -> Result<Option<(SubjectRecord, SubjectState)>, StoreError>;
    /// Several subjects with their states (as [`Store::subject_with_state`]), in the order asked
    /// (`None` for an unknown id).
    async fn subjects_with_state(
        &self,
        asked: Vec<(Uuid, Option<String>)>,
    ) -> Result<Vec<Option<(SubjectRecord, SubjectState)>>, StoreError>;
    /// The links in which `representative_id` represents someone.
    async fn represented_by(
        &self,
        representative_id: Uuid,
    ) -> Result<Vec<derbes_core::consent::RepresentativeLink>, StoreError>;
    /// The feed of subjects whose decision facts changed after `after` (the audit sequence
    /// number of the change), oldest first, at most `limit`. A reader that has seen a change has
    /// seen every earlier one.
    async fn state_changes(&self, after: i64, limit: u32) -> Result<StateChanges, StoreError>;
    /// Subjects in id order after `after` (from the first when `None`), at most `limit`, with
    /// what the retention scan needs of each.
    async fn retention_page(&self, page: Page) -> Result<Vec<RetentionSubject>, StoreError>;
    /// The subjects with an open data-subject request, a legal hold on their data, and
    /// whether a complaint is among those requests.
    async fn subjects_with_open_requests(&self) -> Result<Vec<(Uuid, bool)>, StoreError>;
    /// The subjects on whom a legal hold was ever recorded (in force, ended or lifted: their
    /// ledgers say which), by id.
    async fn subjects_with_legal_holds(&self) -> Result<Vec<Uuid>, StoreError>;
    /// A subject's lifecycle events, in the order recorded.
    async fn lifecycle_events(
        &self,
        subject_id: Uuid,
    ) -> Result<Vec<derbes_core::lifecycle::LifecycleEvent>, StoreError>;
    /// The subjects with consent events for `purpose` in their ledger, in id order, after
    /// `after` (from the first when `None`), at most `limit`: whether each consent still holds is
    /// core's to decide, on the subject's state.
    async fn consenting_subjects(&self, purpose: &str, page: Page)
        -> Result<Vec<Uuid>, StoreError>;
    /// The reconfirmations `asked` for, the earliest month first, with the count of all (0 when
    /// the page is past the end).
    async fn reconfirmations_due(
        &self,
        asked: DueReconfirmations,
    ) -> Result<ReconfirmationsDue, StoreError>;
    /// Subjects whose months of majority are to be worked out again (see
    /// [`crate::WriteOp::SettleReconfirmations`]), in id order after `after`, at most `limit`.
    async fn unsettled_reconfirmations(&self, page: Page) -> Result<Vec<Uuid>, StoreError>;
}

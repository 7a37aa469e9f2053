//! Destruction of a subject's data by crypto-shredding (Law 94-V Art. 13, 24): the subject's data
//! key and sealed fields are deleted, with the blind-index entries, consent ledger, links and
//! flags; what remains is the audit chain (ids, field names, actions: no values) and the
//! [`Destruction`] record below, which holds only non-personal facts. The record is also written
//! to a log kept apart from the database, so that a restore from an older backup re-applies it.

use crate::flags::Obligation;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use uuid::Uuid;

/// What one destruction removed: counts and field names, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub index_entries: u64,
    pub consent_events: u64,
    pub representative_links: u64,
    pub flags: u64,
    pub obligations: u64,
    /// Access packages built for the subject and not yet expired.
    pub packages: u64,
    /// Lifecycle events (the relationship ended, purposes achieved).
    #[serde(default)]
    pub lifecycle_events: u64,
}

/// The record of a destroyed subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destruction {
    pub subject_id: Uuid,
    pub category: String,
    #[serde(with = "time::serde::rfc3339")]
    pub destroyed_at: OffsetDateTime,
    /// Who destroyed it (the audit name of the token).
    pub actor: String,
    /// The data-subject request that asked for it, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Uuid>,
    /// The retention batch that executed it, if one did (its retention had ended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<Uuid>,
    /// The keys of the fields that were held.
    pub fields: Vec<String>,
    /// Filled in by the store as it deletes.
    #[serde(default)]
    pub removed: Removed,
    /// What each connector did in the operator's own databases before derbes destroyed its
    /// copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub connectors: Vec<ConnectorDone>,
}

/// What one connector's destruction did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectorDone {
    pub connector: String,
    /// Per table: its name, `deleted` or `masked`, and how many rows.
    pub tables: Vec<(String, String, u64)>,
    /// A webhook's answer to a retention batch's message: `done`, or `accepted` when the
    /// system does it later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

/// Why a subject's data cannot be destroyed now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestructionProblem {
    /// The DPO set a legal hold on the subject's data (a claim, an inspection, an
    /// investigation): nothing of them is destroyed while it is in force.
    #[error("a legal hold keeps the subject's data through {until}; destroy them once it ends or once the DPO lifts it")]
    LegalHold { until: time::Date },
    /// An obligation of the subject under a purpose is still open (a contract being performed).
    #[error("an obligation under purpose `{purpose}` is open{}; destroy the data once it is fulfilled, or mark it fulfilled first", until.map(|d| format!(" until {d}")).unwrap_or_default())]
    ObligationOpen {
        purpose: String,
        until: Option<time::Date>,
    },
    /// The subject is the legal representative of others: their consents and links name them.
    #[error("the subject is the legal representative of {count} other subject(s); unlink them first, so that nobody is left without a representative unnoticed")]
    Represents { count: usize },
}

impl DestructionProblem {
    /// The reason code the audit records.
    pub fn code(&self) -> &'static str {
        match self {
            DestructionProblem::LegalHold { .. } => "legal_hold",
            DestructionProblem::ObligationOpen { .. } => "obligation_open",
            DestructionProblem::Represents { .. } => "represents_others",
        }
    }
}

/// May the data of a subject with these open obligations, who represents `represents` others,
/// held by a legal hold through `held_until` (see `Lifecycle::held_until`), be destroyed at
/// `now`?
pub fn check(
    obligations: &[(String, Obligation)],
    represents: usize,
    held_until: Option<time::Date>,
    now: OffsetDateTime,
) -> Result<(), DestructionProblem> {
    if let Some(until) = held_until {
        return Err(DestructionProblem::LegalHold { until });
    }
    if let Some((purpose, o)) = obligations.iter().find(|(_, o)| o.holds(now)) {
        return Err(DestructionProblem::ObligationOpen {
            purpose: purpose.clone(),
            until: o.until,
        });
    }
    if represents > 0 {
        return Err(DestructionProblem::Represents { count: represents });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    fn obligation(until: Option<time::Date>) -> Obligation {
        Obligation {
            note: None,
            sealed_note: None,
            until,
            set_by: "token:dpo".into(),
            set_at: datetime!(2026-01-10 09:00 UTC),
        }
    }

    #[test]
    fn an_open_obligation_or_a_represented_subject_stops_destruction() {
        let now = datetime!(2026-11-21 10:00 UTC);
        assert_eq!(check(&[], 0, None, now), Ok(()));
        let open = vec![(
            "courses".to_owned(),
            obligation(Some(date!(2026 - 12 - 31))),
        )];
        assert_eq!(
            check(&open, 0, None, now),
            Err(DestructionProblem::ObligationOpen {
                purpose: "courses".into(),
                until: Some(date!(2026 - 12 - 31))
            })
        );
        let ended = vec![(
            "courses".to_owned(),
            obligation(Some(date!(2026 - 11 - 20))),
        )];
        assert_eq!(check(&ended, 0, None, now), Ok(()));
        assert_eq!(
            check(&ended, 2, None, now),
            Err(DestructionProblem::Represents { count: 2 })
        );
        let held = Some(date!(2027 - 06 - 30));
        assert_eq!(
            check(&ended, 0, held, now),
            Err(DestructionProblem::LegalHold {
                until: date!(2027 - 06 - 30)
            }),
            "a legal hold in force keeps the data"
        );
    }

    #[test]
    fn the_record_reads_back_and_refuses_unknown_keys() {
        let d = Destruction {
            subject_id: Uuid::nil(),
            category: "student".into(),
            destroyed_at: datetime!(2026-11-21 10:00 UTC),
            actor: "token:dpo".into(),
            request_id: None,
            batch_id: None,
            fields: vec!["full_name".into()],
            removed: Removed {
                index_entries: 1,
                ..Default::default()
            },
            connectors: vec![ConnectorDone {
                connector: "platform".into(),
                tables: vec![("users".into(), "masked".into(), 1)],
                answer: None,
            }],
        };
        let text = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Destruction>(&text).unwrap(), d);
        let extra = text.replacen('{', r#"{"full_name":"x","#, 1);
        assert!(serde_json::from_str::<Destruction>(&extra).is_err());
    }
}

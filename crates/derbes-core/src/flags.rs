//! Blocking and restriction of a subject's data (Law 94-V Art. 22, 24): while blocked, all
//! processing but storage stops; a restriction stops one purpose. Each is set with a reason code
//! and may end on a date (a verification period). An obligation, recorded per purpose, keeps a
//! consent from being withdrawn while it is unfulfilled (Art. 8(2)).

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

crate::coded_enum! {
    /// Why processing was blocked or restricted. A code, not free text: the audit chain records it
    /// and must never hold personal data; details go into the flag's note.
    pub enum FlagReason ("flag reason") {
        /// The subject (or their representative) asked for it.
        SubjectRequest = "subject_request",
        /// The data are said to be inaccurate: blocked while that is verified.
        AccuracyContested = "accuracy_contested",
        /// The processing is said to be unlawful.
        UnlawfulProcessing = "unlawful_processing",
        /// The subject objected to the processing.
        Objection = "objection",
        /// An authorized body or a court ordered it.
        AuthorityOrder = "authority_order",
        Other = "other",
    }
}

/// A block (of the whole subject) or a restriction (of one purpose).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Flag {
    pub reason: FlagReason,
    /// Staff's note (may name documents or a request number), as shown to those who may read
    /// it; never copied into the audit. Stored sealed (`sealed_note`), not in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The note sealed under the subject's data key (base64): destroyed with the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_note: Option<String>,
    /// The last day the flag holds (inclusive); `None` until it is lifted.
    #[serde(
        default,
        with = "crate::iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Date>,
    pub set_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: OffsetDateTime,
}

impl Flag {
    /// Does the flag hold at `now`?
    pub fn holds(&self, now: OffsetDateTime) -> bool {
        in_force(self.set_at, self.until, now)
    }
}

/// From `set_at` through the day `until` (inclusive), or for good without one.
fn in_force(set_at: OffsetDateTime, until: Option<Date>, now: OffsetDateTime) -> bool {
    set_at <= now && until.is_none_or(|d| now.date() <= d)
}

/// An unfulfilled obligation of the subject under a consent-based purpose whose declaration
/// names one (`withdrawal_obligation`): a contract being performed, a course being completed.
/// While it holds, consent to the purpose cannot be withdrawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obligation {
    /// Staff's note (a contract number), as shown to those who may read it; never copied into
    /// the audit. Stored sealed (`sealed_note`), not in clear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The note sealed under the subject's data key (base64): destroyed with the subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_note: Option<String>,
    /// The last day the obligation runs (inclusive); `None` until it is marked fulfilled.
    #[serde(
        default,
        with = "crate::iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Date>,
    pub set_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: OffsetDateTime,
}

impl Obligation {
    /// Is the obligation open at `now`?
    pub fn holds(&self, now: OffsetDateTime) -> bool {
        in_force(self.set_at, self.until, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn a_flag_holds_from_when_it_is_set_through_its_last_day() {
        let f = Flag {
            reason: FlagReason::AccuracyContested,
            note: None,
            sealed_note: None,
            until: Some(date!(2026 - 12 - 01)),
            set_by: "token:dpo".into(),
            set_at: datetime!(2026-11-21 10:00 UTC),
        };
        assert!(!f.holds(datetime!(2026-11-21 09:59 UTC)));
        assert!(f.holds(datetime!(2026-11-21 10:00 UTC)));
        assert!(f.holds(datetime!(2026-12-01 23:59 UTC)));
        assert!(!f.holds(datetime!(2026-12-02 00:00 UTC)));
        let open = Flag { until: None, ..f };
        assert!(open.holds(datetime!(2030-01-01 00:00 UTC)));
    }

    #[test]
    fn reason_codes_match_their_serialized_names() {
        for r in FlagReason::ALL {
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
    }
}

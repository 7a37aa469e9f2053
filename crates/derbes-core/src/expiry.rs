//! What has expired and what expires soon, over many subjects, grouped by the retention rule
//! whose period ran out: what the daily retention scan proposes to the DPO (expired, apart
//! from what a legal hold keeps) and what the operator is warned of ahead (upcoming).

use crate::declaration::{Declaration, RetentionAction};
use crate::retention::{FieldLast, Until};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use time::{Date, Duration};
use uuid::Uuid;

/// How many subject ids a group shows.
pub const SAMPLE: usize = 10;

/// Subjects and their fields counted: what a group of the scan or a retention batch concerns.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// Subjects with at least one such field.
    pub subjects: u64,
    /// Of those, the subjects none of whose fields is kept any longer: the whole subject goes.
    pub whole_subjects: u64,
    /// Fields in all (a field of two subjects counts twice).
    pub fields: u64,
    pub categories: BTreeSet<String>,
    /// The field keys concerned.
    pub field_keys: BTreeSet<String>,
    /// The first [`SAMPLE`] subjects counted.
    pub sample: Vec<Uuid>,
}

impl Tally {
    /// Counts a subject of `category` (`whole`: none of its fields is kept).
    pub fn subject(&mut self, subject: Uuid, category: &str, whole: bool) {
        self.subjects += 1;
        self.whole_subjects += u64::from(whole);
        if !self.categories.contains(category) {
            self.categories.insert(category.to_owned());
        }
        if self.sample.len() < SAMPLE {
            self.sample.push(subject);
        }
    }

    /// Counts one field of a subject.
    pub fn field(&mut self, key: &str) {
        self.fields += 1;
        if !self.field_keys.contains(key) {
            self.field_keys.insert(key.to_owned());
        }
    }
}

/// The fields of one retention rule that expired (or expire soon), over the subjects scanned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryGroup {
    pub rule: String,
    /// What the rule does when its period ends.
    pub action: RetentionAction,
    #[serde(flatten)]
    pub tally: Tally,
    /// The earliest and latest last day of those fields.
    #[serde(with = "crate::iso_date")]
    pub first_day: Date,
    #[serde(with = "crate::iso_date")]
    pub last_day: Date,
}

/// The scan of many subjects on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryReport {
    #[serde(with = "crate::iso_date")]
    pub today: Date,
    /// Upcoming counts fields whose last day is today or within the next `days` days.
    pub days: u32,
    pub scanned: u64,
    /// Distinct subjects with a field expired, held, or ending soon (a subject under two
    /// rules counts once here, once in each rule's group).
    pub expired_subjects: u64,
    pub held_subjects: u64,
    pub upcoming_subjects: u64,
    /// Expired and free to be destroyed or depersonalized, by rule.
    pub expired: Vec<ExpiryGroup>,
    /// Of the held subjects, how many each kind of hold keeps (a subject under two counts
    /// under both).
    #[serde(default)]
    pub held_for: HeldCounts,
    /// Expired, but the subject is under a legal hold (an open request, a complaint, a hold
    /// the DPO set): kept for now.
    pub held: Vec<ExpiryGroup>,
    /// Still kept, ending within `days` days.
    pub upcoming: Vec<ExpiryGroup>,
}

/// What keeps a subject's expired data for now: a legal hold of one kind or more.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeldBy {
    /// An open data-subject request about the subject.
    pub request: bool,
    /// An open complaint (a request too).
    pub complaint: bool,
    /// A hold the DPO set, in force.
    pub legal_hold: bool,
}

impl HeldBy {
    pub fn any(self) -> bool {
        self.request || self.complaint || self.legal_hold
    }
}

/// How many held subjects each kind of hold keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCounts {
    pub requests: u64,
    pub complaints: u64,
    pub legal_holds: u64,
}

/// Gathers an [`ExpiryReport`] subject by subject, in constant memory per rule.
#[derive(Debug)]
pub struct ExpiryScan<'d> {
    declaration: &'d Declaration,
    today: Date,
    days: u32,
    scanned: u64,
    /// Distinct subjects: expired, held, upcoming.
    counted: [u64; 3],
    held_for: HeldCounts,
    expired: BTreeMap<&'d str, ExpiryGroup>,
    held: BTreeMap<&'d str, ExpiryGroup>,
    upcoming: BTreeMap<&'d str, ExpiryGroup>,
}

impl<'d> ExpiryScan<'d> {
    pub fn new(declaration: &'d Declaration, today: Date, days: u32) -> Self {
        ExpiryScan {
            declaration,
            today,
            days,
            scanned: 0,
            counted: [0; 3],
            held_for: HeldCounts::default(),
            expired: BTreeMap::new(),
            held: BTreeMap::new(),
            upcoming: BTreeMap::new(),
        }
    }

    /// Counts one subject of `category`, with the last days of the fields it has (from
    /// [`crate::retention::last_days`]) and the legal holds that keep it.
    pub fn add(&mut self, subject: Uuid, category: &str, lasts: &[FieldLast<'_>], by: HeldBy) {
        let held = by.any();
        self.scanned += 1;
        let horizon = self.today + Duration::days(i64::from(self.days));
        let (mut ended, mut soon) = (Vec::new(), Vec::new());
        for l in lasts {
            let (Some(Until::Day(last)), Some(rule)) = (l.until, l.rule) else {
                continue;
            };
            if last < self.today {
                ended.push((rule, l.field, last));
            } else if last <= horizon {
                soon.push((rule, l.field, last));
            }
        }
        // Nothing is kept any longer: every field has ended, or no purpose keeps it at all.
        let whole = !ended.is_empty()
            && lasts.iter().all(|l| match l.until {
                Some(Until::Day(last)) => last < self.today,
                Some(Until::Open) => false,
                None => true,
            });
        if !ended.is_empty() {
            self.counted[usize::from(held)] += 1;
            let c = &mut self.held_for;
            c.requests += u64::from(by.request);
            c.complaints += u64::from(by.complaint);
            c.legal_holds += u64::from(by.legal_hold);
        }
        if !soon.is_empty() {
            self.counted[2] += 1;
        }
        let target = if held {
            &mut self.held
        } else {
            &mut self.expired
        };
        Self::count(self.declaration, target, subject, category, &ended, whole);
        Self::count(
            self.declaration,
            &mut self.upcoming,
            subject,
            category,
            &soon,
            false,
        );
    }

    fn count(
        declaration: &'d Declaration,
        groups: &mut BTreeMap<&'d str, ExpiryGroup>,
        subject: Uuid,
        category: &str,
        fields: &[(&str, &str, Date)],
        whole: bool,
    ) {
        let mut seen: Vec<&str> = Vec::new();
        for (rule, field, last) in fields {
            let Some((rule, declared)) = declaration.retention.get_key_value(*rule) else {
                continue;
            };
            let rule = rule.as_str();
            let g = groups.entry(rule).or_insert_with(|| ExpiryGroup {
                rule: rule.to_owned(),
                action: declared.action,
                tally: Tally::default(),
                first_day: *last,
                last_day: *last,
            });
            g.first_day = g.first_day.min(*last);
            g.last_day = g.last_day.max(*last);
            g.tally.field(field);
            if !seen.contains(&rule) {
                seen.push(rule);
                g.tally.subject(subject, category, whole);
            }
        }
    }

    pub fn finish(self) -> ExpiryReport {
        ExpiryReport {
            today: self.today,
            days: self.days,
            scanned: self.scanned,
            expired_subjects: self.counted[0],
            held_subjects: self.counted[1],
            upcoming_subjects: self.counted[2],
            held_for: self.held_for,
            expired: self.expired.into_values().collect(),
            held: self.held.into_values().collect(),
            upcoming: self.upcoming.into_values().collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention::tests::{decl, facts as of_adult};
    use crate::retention::{last_days, Lifecycle};
    use time::macros::date;

    /// Three students who left on different days, one of them held by an open request: on the
    /// day after the file's three years, the one who left first has expired fields grouped
    /// under the rule of the file, the held one is apart, and the third is upcoming.
    #[test]
    fn expired_fields_are_grouped_by_rule_and_held_ones_apart() {
        let d = decl();
        let fields = ["surname", "grades", "attendance"];
        let today = date!(2029 - 06 - 01);
        let mut scan = ExpiryScan::new(&d, today, 30);
        let free = HeldBy::default();
        let asked = HeldBy {
            request: true,
            complaint: true,
            legal_hold: false,
        };
        for (n, left, held) in [
            (1u128, date!(2026 - 05 - 31), free),
            (2, date!(2026 - 05 - 30), asked),
            (3, date!(2026 - 06 - 20), free),
        ] {
            let mut life = Lifecycle::collected_on(date!(2020 - 09 - 01));
            life.relationship_ended = Some(left);
            let lasts = last_days(
                &d,
                "student",
                fields.into_iter(),
                &life,
                &of_adult(&[]),
                today,
            );
            scan.add(Uuid::from_u128(n), "student", &lasts, held);
        }
        let r = scan.finish();
        assert_eq!(r.scanned, 3);
        assert_eq!(
            (r.expired_subjects, r.held_subjects, r.upcoming_subjects),
            (1, 1, 1)
        );
        let [expired] = &r.expired[..] else {
            panic!("{r:?}")
        };
        assert_eq!(expired.rule, "student_records");
        assert_eq!(expired.action, RetentionAction::Destroy);
        assert_eq!(
            (
                expired.tally.subjects,
                expired.tally.fields,
                expired.tally.whole_subjects
            ),
            (1, 2, 0)
        );
        assert_eq!(
            expired.tally.field_keys.iter().collect::<Vec<_>>(),
            ["attendance", "grades"]
        );
        assert_eq!(expired.tally.sample, [Uuid::from_u128(1)]);
        assert_eq!(expired.last_day, date!(2029 - 05 - 31));
        assert_eq!(r.held[0].tally.sample, [Uuid::from_u128(2)]);
        let counts = (
            r.held_for.requests,
            r.held_for.complaints,
            r.held_for.legal_holds,
        );
        assert_eq!(counts, (1, 1, 0), "the held subject's holds, by kind");
        let [upcoming] = &r.upcoming[..] else {
            panic!("{r:?}")
        };
        assert_eq!(upcoming.tally.sample, [Uuid::from_u128(3)]);
        assert_eq!(upcoming.first_day, date!(2029 - 06 - 20));
    }

    /// A subject none of whose fields is kept any longer goes whole.
    #[test]
    fn a_subject_with_nothing_left_goes_whole() {
        let d = decl();
        let mut life = Lifecycle::collected_on(date!(2020 - 09 - 01));
        life.relationship_ended = Some(date!(2020 - 10 - 01));
        let today = date!(2030 - 01 - 01);
        let lasts = last_days(
            &d,
            "student",
            ["grades"].into_iter(),
            &life,
            &of_adult(&[]),
            today,
        );
        let mut scan = ExpiryScan::new(&d, today, 30);
        scan.add(Uuid::from_u128(1), "student", &lasts, HeldBy::default());
        assert_eq!(scan.finish().expired[0].tally.whole_subjects, 1);
    }
}

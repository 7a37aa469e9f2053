//! Retention: how long each of a subject's fields may be kept.
//!
//! A field lives while at least one purpose that uses it, for the subject's category, keeps
//! it: a purpose on consent keeps it once a consent was given, while the consent holds and then
//! for its retention period; any other purpose keeps it until its retention period, counted
//! from the declared start (collection, the end of the relationship, the purpose achieved, the
//! last activity), has run out. A period whose start has not happened yet keeps the field with
//! no end in sight; the end of the relationship achieves every purpose not achieved before. Pure: the caller brings the subject's lifecycle and consent ledger.

use crate::consent::{consent_state, ConsentState, SubjectFacts, Term};
use crate::declaration::{Declaration, LegalBasis, RetentionRule, RetentionStart};
use serde::Serialize;
use std::collections::BTreeMap;
use time::{Date, Duration, Month};

/// What happened in a subject's life that starts a retention period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lifecycle {
    /// When the subject's fields were collected, unless `field_collected` says otherwise.
    pub collected: Date,
    /// Fields collected later than the subject, by key.
    pub field_collected: BTreeMap<String, Date>,
    /// The day the relationship with the operator ended (a student left, a contract ended).
    pub relationship_ended: Option<Date>,
    /// Purposes achieved for this subject (a candidate not hired, an excursion over), by key.
    pub purposes_achieved: BTreeMap<String, Date>,
    /// The subject's last activity, where the operator records it.
    pub last_activity: Option<Date>,
}

impl Lifecycle {
    /// A subject collected on `collected` of whom nothing else has happened yet.
    pub fn collected_on(collected: Date) -> Self {
        Lifecycle {
            collected,
            field_collected: BTreeMap::new(),
            relationship_ended: None,
            purposes_achieved: BTreeMap::new(),
            last_activity: None,
        }
    }

    /// The day `purpose` was achieved for the subject: as recorded, or else with the end of
    /// the relationship, which achieves every purpose that served it.
    pub fn achieved(&self, purpose: &str) -> Option<Date> {
        self.purposes_achieved
            .get(purpose)
            .copied()
            .or(self.relationship_ended)
    }

    fn collected(&self, field: &str) -> Date {
        self.field_collected
            .get(field)
            .copied()
            .unwrap_or(self.collected)
    }
}

/// The last day a purpose keeps a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "day", rename_all = "snake_case")]
pub enum Until {
    /// Through this day (inclusive).
    #[serde(with = "crate::iso_date")]
    Day(Date),
    /// No end yet: the period's start has not happened.
    Open,
}

/// One purpose keeping a field, under a retention rule, until a day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hold {
    pub purpose: String,
    pub rule: String,
    pub until: Until,
}

/// `start` plus the rule's period: years and months on the calendar (the 29th of February
/// becomes the 28th in a common year), then days.
pub fn period_end(start: Date, rule: &RetentionRule) -> Option<Date> {
    let months = i64::from(rule.years) * 12 + i64::from(rule.months);
    let index = i64::from(start.year()) * 12 + i64::from(u8::from(start.month())) - 1 + months;
    let year = i32::try_from(index.div_euclid(12)).ok()?;
    let month = Month::try_from(u8::try_from(index.rem_euclid(12) + 1).ok()?).ok()?;
    let day = start.day().min(month.length(year));
    Date::from_calendar_date(year, month, day)
        .ok()?
        .checked_add(Duration::days(i64::from(rule.days)))
}

/// Each purpose that keeps `field` of a subject of `category` as of `today`, and until when.
/// A purpose on consent to which no consent was ever given keeps nothing.
pub fn holds(
    declaration: &Declaration,
    category: &str,
    field: &str,
    lifecycle: &Lifecycle,
    facts: &SubjectFacts<'_>,
    today: Date,
) -> Vec<Hold> {
    let now = today.midnight().assume_utc() + Duration::days(1) - Duration::nanoseconds(1);
    declaration
        .purposes
        .iter()
        .filter(|(_, p)| p.covers_category(category) && p.uses_field(field))
        .filter_map(|(key, p)| {
            let rule = declaration.retention.get(&p.retention)?;
            let start = if p.legal_basis == LegalBasis::Consent {
                // Kept while the consent holds, then for the period.
                match consent_state(declaration, facts, key, now) {
                    ConsentState::None => return None,
                    ConsentState::Holding(_, grant) => match &grant.term {
                        Term::Until { date } => Some(*date),
                        Term::PurposeAchieved => lifecycle.achieved(key),
                    },
                    ConsentState::Withdrawn { at } => Some(at.date()),
                    ConsentState::Expired { on } => Some(on),
                }
            } else {
                match rule.starts {
                    RetentionStart::Collection => Some(lifecycle.collected(field)),
                    RetentionStart::RelationshipEnd => lifecycle.relationship_ended,
                    RetentionStart::PurposeAchieved => lifecycle.achieved(key),
                    RetentionStart::LastActivity => lifecycle.last_activity,
                    // Only a consent can be withdrawn: on any other basis nothing starts it.
                    RetentionStart::ConsentWithdrawn => None,
                }
            };
            let until = match start {
                Some(day) => period_end(day, rule).map_or(Until::Open, Until::Day),
                None => Until::Open,
            };
            Some(Hold {
                purpose: key.clone(),
                rule: p.retention.clone(),
                until,
            })
        })
        .collect()
}

/// The last day `field` may be kept: the latest of its holds. `None` when no purpose keeps
/// it, so it may not be kept at all.
pub fn kept_until(holds: &[Hold]) -> Option<Until> {
    holds.iter().map(|h| h.until).max()
}

/// Has the field's retention ended on `day`?
pub fn ended(holds: &[Hold], day: Date) -> bool {
    match kept_until(holds) {
        None => true,
        Some(Until::Open) => false,
        Some(Until::Day(last)) => day > last,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{ConsentAction, ConsentEvent, GivenBy, Grant, Method, PurposeTerms};
    use proptest::prelude::*;
    use time::macros::date;
    use uuid::Uuid;

    fn decl() -> Declaration {
        Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
            .unwrap()
            .declaration
    }

    fn facts(consents: &[ConsentEvent]) -> SubjectFacts<'_> {
        SubjectFacts {
            birth_date: Some(date!(2000 - 01 - 01)),
            blocked: false,
            restricted: &[],
            obligations: &[],
            consents,
        }
    }

    fn consent(d: &Declaration, n: u128, purpose: &str, on: Date, give: bool) -> ConsentEvent {
        let action = if give {
            let terms = PurposeTerms::of(d, purpose).unwrap();
            ConsentAction::Give(Grant::new(terms, Term::PurposeAchieved))
        } else {
            ConsentAction::Withdraw
        };
        ConsentEvent {
            id: Uuid::from_u128(n),
            subject_id: Uuid::from_u128(1),
            purpose: purpose.into(),
            action,
            given_by: GivenBy::Subject,
            method: Method::Web,
            at: on.midnight().assume_utc() + Duration::hours(9),
        }
    }

    fn until_of(h: &[Hold], purpose: &str) -> Until {
        h.iter().find(|h| h.purpose == purpose).unwrap().until
    }

    #[test]
    fn a_field_is_kept_for_the_longest_period_of_the_purposes_using_it() {
        let d = decl();
        let mut life = Lifecycle::collected_on(date!(2020 - 09 - 01));
        let today = date!(2026 - 12 - 07);
        let ledger = [
            consent(&d, 1, "extracurricular", date!(2021 - 09 - 01), true),
            consent(&d, 2, "extracurricular", date!(2025 - 05 - 20), false),
        ];
        let h = holds(&d, "student", "health_info", &life, &facts(&ledger), today);
        // Extracurricular (consent) keeps it a year from the withdrawal; statutory functions
        // keep it while she studies.
        assert_eq!(
            until_of(&h, "extracurricular"),
            Until::Day(date!(2026 - 05 - 20))
        );
        assert_eq!(kept_until(&h), Some(Until::Open));
        // The surname: statutory functions keep it with no end while she studies.
        let h = holds(&d, "student", "surname", &life, &facts(&ledger), today);
        assert_eq!(until_of(&h, "statutory_functions"), Until::Open);
        assert!(!ended(&h, today));
        life.relationship_ended = Some(date!(2026 - 05 - 31));
        // She left: her file three years (statutory functions), contracts five.
        let h = holds(&d, "student", "surname", &life, &facts(&ledger), today);
        let file = Until::Day(date!(2029 - 05 - 31));
        assert_eq!(until_of(&h, "statutory_functions"), file);
        assert_eq!(kept_until(&h), Some(Until::Day(date!(2031 - 05 - 31))));
        assert!(!ended(&h, date!(2031 - 05 - 31)));
        assert!(ended(&h, date!(2031 - 06 - 01)));
        // Her health notes only ever served the file and the excursions.
        let h = holds(&d, "student", "health_info", &life, &facts(&ledger), today);
        assert_eq!(kept_until(&h), Some(file));
    }

    #[test]
    fn a_candidate_not_hired_is_kept_six_months() {
        let d = decl();
        let mut life = Lifecycle::collected_on(date!(2026 - 01 - 10));
        let ledger = [consent(&d, 1, "recruitment", date!(2026 - 01 - 10), true)];
        let today = date!(2026 - 12 - 07);
        let h = holds(&d, "candidate", "iin", &life, &facts(&ledger), today);
        assert_eq!(
            kept_until(&h),
            Some(Until::Open),
            "until the hiring is decided"
        );
        life.purposes_achieved
            .insert("recruitment".into(), date!(2026 - 03 - 01));
        let h = holds(&d, "candidate", "iin", &life, &facts(&ledger), today);
        assert_eq!(kept_until(&h), Some(Until::Day(date!(2026 - 09 - 01))));
        assert!(ended(&h, today));
    }

    #[test]
    fn a_purpose_on_consent_never_given_keeps_nothing() {
        let d = decl();
        let life = Lifecycle::collected_on(date!(2026 - 01 - 10));
        let h = holds(
            &d,
            "candidate",
            "surname",
            &life,
            &facts(&[]),
            date!(2026 - 12 - 07),
        );
        assert!(h.iter().all(|h| h.purpose != "recruitment"), "{h:?}");
    }

    #[test]
    fn periods_count_on_the_calendar() {
        let d = decl();
        let rule = |key: &str| d.retention.get(key).unwrap().clone();
        assert_eq!(
            period_end(date!(2024 - 02 - 29), &rule("student_records")),
            Some(date!(2027 - 02 - 28))
        );
        assert_eq!(
            period_end(date!(2026 - 08 - 31), &rule("candidate_records")),
            Some(date!(2027 - 02 - 28))
        );
        assert_eq!(
            period_end(date!(2026 - 12 - 20), &rule("cctv_footage")),
            Some(date!(2027 - 01 - 19))
        );
    }

    /// Random lifecycles and ledgers over the demo declaration.
    fn scenario() -> impl Strategy<Value = (Lifecycle, Vec<(u16, bool)>, u16, Option<u16>)> {
        (
            0u16..4000,
            proptest::option::of(0u16..4000),
            proptest::collection::vec((0u16..4000, any::<bool>()), 0..4),
            0u16..6000,
            proptest::option::of(0u16..4000),
        )
            .prop_map(|(collected, ended, ledger, today, achieved)| {
                let day = |n: u16| date!(2015 - 01 - 01) + Duration::days(i64::from(n));
                let mut life = Lifecycle::collected_on(day(collected));
                life.relationship_ended = ended.map(day);
                (life, ledger, today, achieved)
            })
    }

    fn ledger_of(d: &Declaration, steps: &[(u16, bool)], purpose: &str) -> Vec<ConsentEvent> {
        let mut days: Vec<_> = steps.to_vec();
        days.sort_unstable();
        days.iter()
            .enumerate()
            .map(|(i, (n, give))| {
                let on = date!(2015 - 01 - 01) + Duration::days(i64::from(*n));
                consent(d, i as u128 + 10, purpose, on, *give)
            })
            .collect()
    }

    proptest! {
        /// No field outlives every purpose: it is kept exactly through the latest hold.
        #[test]
        fn no_field_outlives_every_purpose((life, steps, today, _) in scenario(), field in prop::sample::select(vec!["surname", "birth_date", "id_document_number", "phone", "iin"])) {
            let d = decl();
            let ledger = ledger_of(&d, &steps, "extracurricular");
            let today = date!(2015 - 01 - 01) + Duration::days(i64::from(today));
            let h = holds(&d, "student", field, &life, &facts(&ledger), today);
            match kept_until(&h) {
                None => prop_assert!(h.is_empty() && ended(&h, today)),
                Some(Until::Open) => prop_assert!(!ended(&h, today)),
                Some(Until::Day(last)) => {
                    prop_assert!(h.iter().all(|x| x.until <= Until::Day(last)));
                    prop_assert!(!ended(&h, last));
                    prop_assert!(ended(&h, last.next_day().unwrap()));
                }
            }
        }

        /// A consent given keeps a field at least as long as before; a withdrawal never
        /// shortens what a purpose on another basis (a legal duty) keeps.
        #[test]
        fn consents_extend_and_withdrawals_never_shorten_a_duty((mut life, steps, today, achieved) in scenario()) {
            let d = decl();
            life.purposes_achieved = achieved
                .map(|n| ("extracurricular".to_owned(), date!(2015 - 01 - 01) + Duration::days(i64::from(n))))
                .into_iter()
                .collect();
            let today = date!(2015 - 01 - 01) + Duration::days(i64::from(today));
            let none = holds(&d, "student", "surname", &life, &facts(&[]), today);
            let ledger = ledger_of(&d, &steps, "extracurricular");
            let some = holds(&d, "student", "surname", &life, &facts(&ledger), today);
            prop_assert!(kept_until(&some) >= kept_until(&none));
            prop_assert_eq!(until_of(&some, "statutory_functions"), until_of(&none, "statutory_functions"));
            prop_assert!(kept_until(&some) >= Some(until_of(&none, "statutory_functions")));
        }
    }
}

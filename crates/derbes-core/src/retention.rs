//! Retention: how long each of a subject's fields may be kept.
//!
//! A field lives while at least one purpose that uses it, for the subject's category, keeps
//! it: a purpose on consent keeps it once a consent was given, while the consent holds and then
//! for its retention period; any other purpose keeps it until its retention period, counted
//! from the declared start (collection, the end of the relationship, the purpose achieved, the
//! last activity), has run out. A period whose start has not happened yet keeps the field with
//! no end in sight; the end of the relationship achieves every purpose not achieved before. Pure: the caller brings the subject's lifecycle and consent ledger.

use crate::consent::{consent_state, ConsentState, SubjectFacts, Term};
use crate::declaration::{Declaration, LegalBasis, Purpose, RetentionRule, RetentionStart};
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
    /// The operator's offset from UTC: a moment (a withdrawal) counts by its local day.
    pub offset: time::UtcOffset,
    /// Legal holds the DPO set on the subject, each from its first to its last day: while one
    /// is in force, nothing of the subject is destroyed or depersonalized.
    pub legal_holds: Vec<(Date, Date)>,
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
            offset: time::UtcOffset::UTC,
            legal_holds: Vec::new(),
        }
    }

    /// The last day of the legal holds in force on `today`, if one is.
    pub fn held_until(&self, today: Date) -> Option<Date> {
        self.legal_holds
            .iter()
            .filter(|(from, until)| *from <= today && today <= *until)
            .map(|(_, until)| *until)
            .max()
    }

    /// The day `purpose` was achieved for the subject: as recorded, or else with the end of
    /// the relationship, which achieves every purpose that served it.
    pub fn achieved(&self, purpose: &str) -> Option<Date> {
        self.purposes_achieved
            .get(purpose)
            .copied()
            .or(self.relationship_ended)
    }

    /// The day `field`'s value was collected.
    pub fn collected(&self, field: &str) -> Date {
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
    purpose_holds(declaration, category, lifecycle, facts, today)
        .filter(|h| h.purpose.uses_field(field))
        .filter_map(|h| {
            Some(Hold {
                purpose: h.key.to_owned(),
                rule: h.purpose.retention.clone(),
                until: h.until(field, lifecycle)?,
            })
        })
        .collect()
}

/// How long one purpose keeps the fields it uses of one subject.
struct PurposeHold<'d> {
    key: &'d str,
    purpose: &'d Purpose,
    keeps: Keeps<'d>,
}

enum Keeps<'d> {
    /// A purpose on consent to which no consent was given.
    Nothing,
    /// Every field until one day (or with no end yet).
    Every(Until),
    /// Each field its rule's period from the day the field was collected.
    FromCollection(&'d RetentionRule),
}

impl PurposeHold<'_> {
    fn until(&self, field: &str, lifecycle: &Lifecycle) -> Option<Until> {
        match self.keeps {
            Keeps::Nothing => None,
            Keeps::Every(until) => Some(until),
            Keeps::FromCollection(rule) => Some(until_from(Some(lifecycle.collected(field)), rule)),
        }
    }
}

/// What each purpose processing subjects of `category` keeps of one subject as of `today`
/// (a purpose with no declared rule keeps every field with no end). The consent ledger is
/// read once per purpose, not per field.
fn purpose_holds<'d>(
    declaration: &'d Declaration,
    category: &str,
    lifecycle: &Lifecycle,
    facts: &SubjectFacts<'_>,
    today: Date,
) -> impl Iterator<Item = PurposeHold<'d>> {
    let now = today.midnight().assume_utc() + Duration::days(1) - Duration::nanoseconds(1);
    let achieved = |key: &str| lifecycle.achieved(key);
    let mut out = Vec::new();
    for (key, p) in declaration
        .purposes
        .iter()
        .filter(|(_, p)| p.covers_category(category))
    {
        let Some(rule) = declaration.retention.get(&p.retention) else {
            out.push(PurposeHold {
                key,
                purpose: p,
                keeps: Keeps::Every(Until::Open),
            });
            continue;
        };
        let start = if p.legal_basis == LegalBasis::Consent {
            // Kept while the consent holds, then for the period.
            match consent_state(declaration, facts, key, now) {
                ConsentState::None => None,
                ConsentState::Holding(_, grant) => Some(match &grant.term {
                    Term::Until { date } => Some(*date),
                    Term::PurposeAchieved => achieved(key),
                }),
                ConsentState::Withdrawn { at } => Some(Some(at.to_offset(lifecycle.offset).date())),
                ConsentState::Expired { on } => Some(Some(on)),
            }
        } else {
            match rule.starts {
                RetentionStart::Collection => {
                    out.push(PurposeHold {
                        key,
                        purpose: p,
                        keeps: Keeps::FromCollection(rule),
                    });
                    continue;
                }
                RetentionStart::RelationshipEnd => Some(lifecycle.relationship_ended),
                RetentionStart::PurposeAchieved => Some(achieved(key)),
                RetentionStart::LastActivity => Some(lifecycle.last_activity),
                // Only a consent can be withdrawn: on any other basis nothing starts it.
                RetentionStart::ConsentWithdrawn => Some(None),
            }
        };
        let keeps = match start {
            None => Keeps::Nothing,
            Some(start) => Keeps::Every(until_from(start, rule)),
        };
        out.push(PurposeHold {
            key,
            purpose: p,
            keeps,
        });
    }
    out.into_iter()
}

/// The last day of `rule`'s period from `start`; open while it has not started.
fn until_from(start: Option<Date>, rule: &RetentionRule) -> Until {
    match start {
        Some(day) => period_end(day, rule).map_or(Until::Open, Until::Day),
        None => Until::Open,
    }
}

/// The last day of each of a subject's fields that has one, earliest first: worked out once
/// per subject (from its lifecycle and consents), then checked by every decision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldEnds {
    ends: Vec<(String, Date)>,
}

impl FieldEnds {
    /// The fields of a subject of `category` that a purpose keeps until a day, as of `today`.
    /// A field no purpose keeps (a purpose on consent never given) is not listed: the consent
    /// decides its reads.
    pub fn of(
        declaration: &Declaration,
        category: &str,
        lifecycle: &Lifecycle,
        facts: &SubjectFacts<'_>,
        today: Date,
    ) -> Self {
        let declared = declaration
            .fields
            .iter()
            .filter(|(_, f)| f.categories.iter().any(|c| c == category))
            .map(|(key, _)| key.as_str());
        let mut ends: Vec<(String, Date)> =
            last_days(declaration, category, declared, lifecycle, facts, today)
                .into_iter()
                .filter_map(|l| match l.until {
                    Some(Until::Day(day)) => Some((l.field.to_owned(), day)),
                    _ => None,
                })
                .collect();
        ends.sort_by(|a, b| a.1.cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
        FieldEnds { ends }
    }

    /// Does no field have a last day yet?
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The fields whose retention has ended by `today`, each with its last day.
    pub fn ended_by(&self, today: Date) -> &[(String, Date)] {
        let n = self.ends.partition_point(|(_, last)| *last < today);
        &self.ends[..n]
    }
}

/// How long one field of a subject is kept, and under which rule its last hold runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldLast<'a> {
    pub field: &'a str,
    /// The latest hold's last day; `None` when no purpose keeps the field.
    pub until: Option<Until>,
    /// The rule of that latest hold: what happens to the field when it ends.
    pub rule: Option<&'a str>,
}

/// The last day of each of `fields` of a subject of `category` as of `today`, with the rule
/// of the hold that lasts longest (of two ending the same day, the first purpose declared).
pub fn last_days<'a>(
    declaration: &'a Declaration,
    category: &str,
    fields: impl Iterator<Item = &'a str>,
    lifecycle: &Lifecycle,
    facts: &SubjectFacts<'_>,
    today: Date,
) -> Vec<FieldLast<'a>> {
    let holds: Vec<PurposeHold<'a>> =
        purpose_holds(declaration, category, lifecycle, facts, today).collect();
    fields
        .map(|field| {
            let mut last: Option<(Until, &'a str)> = None;
            for h in holds.iter().filter(|h| h.purpose.uses_field(field)) {
                if let Some(until) = h.until(field, lifecycle) {
                    if last.is_none_or(|(u, _)| until > u) {
                        last = Some((until, h.purpose.retention.as_str()));
                    }
                }
            }
            FieldLast {
                field,
                until: last.map(|(u, _)| u),
                rule: last.map(|(_, r)| r),
            }
        })
        .collect()
}

/// What a decision needs to know of a subject's retention: the last days of its fields and
/// the operator's local day.
#[derive(Debug, Clone, Copy)]
pub struct RetentionFacts<'a> {
    pub ends: &'a FieldEnds,
    pub today: Date,
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
pub(crate) mod tests {
    use super::*;
    use crate::consent::{ConsentAction, ConsentEvent, GivenBy, Grant, Method, PurposeTerms};
    use proptest::prelude::*;
    use time::macros::date;
    use uuid::Uuid;

    /// The demo school's declaration.
    pub(crate) fn decl() -> Declaration {
        Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
            .unwrap()
            .declaration
    }

    /// An adult's facts with `consents`, nothing else.
    pub(crate) fn facts(consents: &[ConsentEvent]) -> SubjectFacts<'_> {
        SubjectFacts {
            birth_date: Some(date!(2000 - 01 - 01)),
            ..SubjectFacts::of_ledger(consents)
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

    fn read(
        d: &Declaration,
        purpose: &str,
        fields: Option<&[String]>,
        ends: &FieldEnds,
        today: Date,
    ) -> Result<crate::decision::Allowed, Vec<crate::decision::DenyReason>> {
        use crate::decision::{decide, ActorScope, ReadQuery};
        let f = SubjectFacts {
            retention: Some(RetentionFacts { ends, today }),
            ..facts(&[])
        };
        let q = ReadQuery {
            category: Some("student"),
            purpose,
            fields,
            actor: &ActorScope::AnyPurpose,
        };
        decide(d, &q, Some((&f, today.midnight().assume_utc())))
    }

    #[test]
    fn a_field_past_every_period_is_read_for_no_purpose() {
        let d = decl();
        let mut life = Lifecycle::collected_on(date!(2020 - 09 - 01));
        life.relationship_ended = Some(date!(2026 - 05 - 31));
        let ends = FieldEnds::of(&d, "student", &life, &facts(&[]), date!(2026 - 12 - 07));
        let asked = ["surname".to_owned(), "grades".to_owned()];
        // The day her file's three years end, everything is still read.
        let last = date!(2029 - 05 - 31);
        assert!(ends.ended_by(last).is_empty());
        let every = read(&d, "education", None, &ends, last).unwrap().fields;
        assert!(every.contains(&"grades".to_owned()));
        // The next day her grades are gone for every purpose; her name is kept for contracts.
        let after = date!(2029 - 06 - 01);
        let refused = read(&d, "education", Some(&asked), &ends, after).unwrap_err();
        assert_eq!(
            refused,
            [crate::decision::DenyReason::RetentionEnded {
                field: "grades".into(),
                kept_until: last
            }]
        );
        let all = read(&d, "education", None, &ends, after).unwrap();
        assert!(!all.fields.contains(&"grades".to_owned()));
        assert!(all.fields.contains(&"surname".to_owned()));
        // Five years on, nothing the education purpose uses is left.
        let refused = read(&d, "education", None, &ends, date!(2031 - 06 - 01)).unwrap_err();
        assert!(refused.iter().all(|r| r.code() == "retention_ended"));
        assert_eq!(refused.len(), every.len());
        let said = refused[0].explain(crate::text::Lang::Kk, &d);
        assert!(said.contains("2031 жылғы 31 мамыр"), "{said}");
    }

    #[test]
    fn a_value_collected_later_counts_from_its_own_day() {
        let d = Declaration::load(include_str!("../../../examples/birge-oqy.toml"))
            .unwrap()
            .declaration;
        let (category, field) = d
            .purposes
            .values()
            .filter(|p| {
                d.retention
                    .get(&p.retention)
                    .is_some_and(|r| r.starts == RetentionStart::Collection)
            })
            .find_map(|p| Some((p.categories.first()?.clone(), p.fields.first()?.clone())))
            .unwrap();
        let mut life = Lifecycle::collected_on(date!(2024 - 01 - 10));
        let today = date!(2026 - 12 - 07);
        let before = FieldEnds::of(&d, &category, &life, &facts(&[]), today);
        life.field_collected
            .insert(field.clone(), date!(2026 - 12 - 01));
        let after = FieldEnds::of(&d, &category, &life, &facts(&[]), today);
        let ended = |e: &FieldEnds| e.ended_by(today).iter().any(|(f, _)| *f == field);
        assert!(ended(&before) && !ended(&after), "{field} of {category}");
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

        /// Decisions see a field as ended exactly when its holds say so.
        #[test]
        fn field_ends_agree_with_the_holds((life, steps, today, _) in scenario()) {
            let d = decl();
            let ledger = ledger_of(&d, &steps, "extracurricular");
            let today = date!(2015 - 01 - 01) + Duration::days(i64::from(today));
            let f = facts(&ledger);
            let ends = FieldEnds::of(&d, "student", &life, &f, today);
            let later = [today, today + Duration::days(400), today + Duration::days(2000)];
            for (key, field) in &d.fields {
                if !field.categories.iter().any(|c| c == "student") {
                    continue;
                }
                let h = holds(&d, "student", key, &life, &f, today);
                for day in later {
                    let by_holds = matches!(kept_until(&h), Some(Until::Day(_))) && ended(&h, day);
                    let by_ends = ends.ended_by(day).iter().any(|(k, _)| k == key);
                    prop_assert_eq!(by_holds, by_ends, "{} on {}", key, day);
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

//! Due dates of data-subject requests: the declaration's deadline counted on the working-day
//! calendar from the day after receipt, with the count explained.

use crate::calendar::{Calendar, CalendarRef, Day};
use crate::declaration::{CalendarKind, Deadline, DeadlineKind, Deadlines};
use crate::text::{format_date, tr, Lang};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime, Time};

/// A due date fixed at intake, with what it was counted from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueDate {
    /// The local date the request was received.
    #[serde(with = "crate::iso_date")]
    pub received_on: Date,
    /// The last day of the term, inclusive.
    #[serde(with = "crate::iso_date")]
    pub due_on: Date,
    /// The end of `due_on`, local time, in UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    pub rule: Deadline,
    /// Where the rule comes from: `declaration` (the `deadlines` table) or `law` (the default).
    pub rule_source: RuleSource,
    pub calendar: CalendarRef,
    /// Days in the term that were not counted, with why.
    pub skipped: Vec<SkippedDay>,
    /// How many of them are weekdays off (holidays, moved and transferred days off).
    pub weekdays_off: u32,
    /// A term in calendar days that ended on a day off and was carried to the next working day.
    pub carried_from: Option<String>,
    /// The term runs into a year the calendar does not list completely: a movable holiday or a
    /// transfer may be missing from the count.
    pub beyond_calendar: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleSource {
    Declaration,
    Law,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedDay {
    #[serde(with = "crate::iso_date")]
    pub date: Date,
    /// `weekend`, `holiday`, `moved_holiday` or `transferred_day_off`.
    pub why: String,
    /// The holiday's name or the transfer's basis, in English.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub note: String,
}

fn skipped(date: Date, day: &Day) -> SkippedDay {
    let (why, note) = match day {
        Day::Weekend => ("weekend", String::new()),
        Day::Holiday { name } => ("holiday", name.get(Lang::En).to_owned()),
        Day::MovedHoliday { name, from } => {
            ("moved_holiday", format!("{} ({from})", name.get(Lang::En)))
        }
        Day::TransferredDayOff { basis, .. } => ("transferred_day_off", basis.clone()),
        Day::Working | Day::TransferredWorkingDay { .. } => ("working", String::new()),
    };
    SkippedDay {
        date,
        why: why.to_owned(),
        note,
    }
}

/// The due date of a request received at `received_at` under `rule`.
///
/// A term starts the day after receipt. In working days, the due date is the `days`-th working
/// day after it (zero days: the day of receipt, or the next working day). In calendar days, it
/// is `days` days after receipt, carried to the next working day when that is a day off.
pub fn due(
    calendar: &Calendar,
    received_at: OffsetDateTime,
    rule: Deadline,
    rule_source: RuleSource,
) -> DueDate {
    let received_on = received_at.to_offset(calendar.offset()).date();
    let mut skipped_days = Vec::new();
    // The first working day from `date` on, noting the days passed over; the last
    // representable date when none is left.
    let mut first_working = |mut date: Date| loop {
        let day = calendar.day(date);
        let following = next(date);
        if day.is_working() || following == date {
            return date;
        }
        skipped_days.push(skipped(date, &day));
        date = following;
    };
    let (due_on, carried_from) = match rule.calendar {
        CalendarKind::Working if rule.days == 0 => (first_working(received_on), None),
        CalendarKind::Working => {
            let mut date = received_on;
            for _ in 0..rule.days {
                date = first_working(next(date));
            }
            (date, None)
        }
        CalendarKind::Calendar => {
            // The last representable date rather than a panic, whatever the count.
            let end = received_on
                .checked_add(time::Duration::days(rule.days.into()))
                .unwrap_or(Date::MAX);
            let date = first_working(end);
            (date, (date != end).then(|| end.to_string()))
        }
    };
    let end_of_day = due_on
        .with_time(Time::from_hms(23, 59, 59).unwrap_or(Time::MIDNIGHT))
        .assume_offset(calendar.offset())
        .to_offset(time::UtcOffset::UTC);
    let weekdays_off = skipped_days
        .iter()
        .filter(|s| !calendar.is_weekend(s.date))
        .count() as u32;
    let beyond_calendar = !calendar.covers(received_on.year()) || !calendar.covers(due_on.year());
    DueDate {
        received_on,
        due_on,
        due_at: end_of_day,
        rule,
        rule_source,
        calendar: calendar.reference(),
        skipped: skipped_days,
        weekdays_off,
        carried_from,
        beyond_calendar,
    }
}

/// The deadline that applies to `kind`: the declaration's, or the law's default.
pub fn rule_for(deadlines: &Deadlines, kind: DeadlineKind) -> (Deadline, RuleSource) {
    match deadlines.declared_for(kind) {
        Some(d) => (d, RuleSource::Declaration),
        None => (kind.default_deadline(), RuleSource::Law),
    }
}

fn next(d: Date) -> Date {
    d.next_day().unwrap_or(d)
}

impl DueDate {
    /// The count in words, for the DPO and for letters.
    pub fn explain(&self, lang: Lang) -> String {
        let n = self.rule.days;
        let received = format_date(self.received_on, lang);
        let due = format_date(self.due_on, lang);
        let source = match self.rule_source {
            RuleSource::Declaration => tr(
                lang,
                "оператордың саясатында белгіленген",
                "установленный политикой оператора",
                "set by the operator's policy",
            ),
            RuleSource::Law => tr(
                lang,
                "заңда белгіленген",
                "установленный законом",
                "set by law",
            ),
        };
        let working = self.rule.calendar == CalendarKind::Working;
        let term = term_words(n, working, lang);
        let off = self.weekdays_off;
        let mut text = match lang {
            Lang::Kk => format!(
                "Өтініштің алынған күні: {received}. Мерзімі — {term} ({source}), келесі күннен бастап есептеледі; мерзімнің соңғы күні: {due}."
            ),
            Lang::Ru => format!(
                "Запрос получен {received}. Срок — {term} ({source}), исчисляется со следующего дня; последний день срока — {due}."
            ),
            Lang::En => format!(
                "The request was received on {received}. The term is {term} ({source}), counted from the next day; the last day is {due}."
            ),
        };
        if off > 0 {
            let label = tr(
                lang,
                "Мереке және ауыстырылған демалыс күндері есептелмеді",
                "Не учтены праздничные и перенесённые выходные дни",
                "Holidays and transferred days off not counted",
            );
            text.push_str(&format!(" {label}: {off}."));
        }
        let mut note = |cond: bool, kk: &str, ru: &str, en: &str| {
            if cond {
                text.push(' ');
                text.push_str(tr(lang, kk, ru, en));
            }
        };
        note(
            self.carried_from.is_some(),
            "Мерзімнің соңғы күні демалыс күніне түскендіктен, ол келесі жұмыс күніне ауыстырылды.",
            "Последний день срока пришёлся на нерабочий день и перенесён на следующий рабочий день.",
            "The term ended on a day off and was carried to the next working day.",
        );
        note(
            self.beyond_calendar,
            "Назар аударыңыз: жұмыс күндерінің күнтізбесі бұл жылды толық қамтымайды, мерзімді тексеріңіз.",
            "Внимание: календарь рабочих дней не охватывает этот год полностью; проверьте срок.",
            "Note: the working-day calendar does not list this year completely; check the date.",
        );
        text
    }
}

/// A term of `n` working or calendar days, in words.
pub fn term_words(n: u32, working: bool, lang: Lang) -> String {
    match lang {
        Lang::Kk => format!(
            "{n} {}",
            if working {
                "жұмыс күні"
            } else {
                "күнтізбелік күн"
            }
        ),
        Lang::Ru if working => format!(
            "{n} {}",
            ru_plural(n, "рабочий день", "рабочих дня", "рабочих дней")
        ),
        Lang::Ru => format!(
            "{n} {}",
            ru_plural(n, "календарный день", "календарных дня", "календарных дней")
        ),
        Lang::En => format!(
            "{n} {} day{}",
            if working { "working" } else { "calendar" },
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// The Russian plural form for `n`: one, few, many.
pub fn ru_plural<'a>(n: u32, one: &'a str, few: &'a str, many: &'a str) -> &'a str {
    let (m10, m100) = (n % 10, n % 100);
    if m10 == 1 && m100 != 11 {
        one
    } else if (2..=4).contains(&m10) && !(12..=14).contains(&m100) {
        few
    } else {
        many
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn working(days: u32) -> Deadline {
        Deadline {
            days,
            calendar: CalendarKind::Working,
        }
    }

    fn calendar_days(days: u32) -> Deadline {
        Deadline {
            days,
            calendar: CalendarKind::Calendar,
        }
    }

    fn due_on(at: OffsetDateTime, rule: Deadline) -> Date {
        due(&Calendar::kazakhstan(), at, rule, RuleSource::Law).due_on
    }

    #[test]
    fn three_working_days_skip_nauryz() {
        // Friday 20 March 2026: 21-25 March are off; the 26th, 27th and 30th are counted.
        let d = due(
            &Calendar::kazakhstan(),
            datetime!(2026-03-20 10:00 +05:00),
            working(3),
            RuleSource::Law,
        );
        assert_eq!(d.due_on, date!(2026 - 03 - 30));
        assert_eq!(d.due_at, datetime!(2026-03-30 18:59:59 UTC));
        let why: Vec<&str> = d.skipped.iter().map(|s| s.why.as_str()).collect();
        assert_eq!(
            why,
            [
                "holiday",
                "holiday",
                "holiday",
                "moved_holiday",
                "moved_holiday",
                "weekend",
                "weekend"
            ]
        );
        assert!(!d.beyond_calendar);
        assert!(d.explain(Lang::Ru).contains("3 рабочих дня"));
        assert!(
            !d.explain(Lang::Ru).contains(".."),
            "{}",
            d.explain(Lang::Ru)
        );
        assert!(d.explain(Lang::Kk).contains("2026 жылғы 30 наурыз"));
        assert!(d
            .explain(Lang::En)
            .contains("Holidays and transferred days off not counted: 3."));
    }

    #[test]
    fn local_dates_decide_the_day_of_receipt() {
        // 20:30 UTC on Thursday is already Friday in Kazakhstan.
        let d = due_on(datetime!(2026-11-19 20:30 UTC), working(1));
        assert_eq!(d, date!(2026 - 11 - 23));
        assert_eq!(
            due_on(datetime!(2026-11-19 18:30 UTC), working(1)),
            date!(2026 - 11 - 20)
        );
    }

    #[test]
    fn one_working_day_across_the_year_end() {
        // Wednesday 31 December 2025: 1-2 January are holidays, then a weekend.
        assert_eq!(
            due_on(datetime!(2025-12-31 12:00 +05:00), working(1)),
            date!(2026 - 01 - 05)
        );
        // Thursday 31 December 2026: 1 January is a holiday, 2 January a Saturday holiday that
        // moves to Monday the 4th.
        assert_eq!(
            due_on(datetime!(2026-12-31 12:00 +05:00), working(1)),
            date!(2027 - 01 - 05)
        );
        // A transfer: Sunday 5 January 2025 was worked, Friday 3 January was not.
        assert_eq!(
            due_on(datetime!(2025-01-02 12:00 +05:00), working(1)),
            date!(2025 - 01 - 05)
        );
    }

    #[test]
    fn calendar_days_end_on_the_next_working_day() {
        // 30 calendar days from 26 September 2026 end on Monday 26 October, the day off for
        // Republic Day (a Sunday): carried to Tuesday.
        let d = due(
            &Calendar::kazakhstan(),
            datetime!(2026-09-26 09:00 +05:00),
            calendar_days(30),
            RuleSource::Declaration,
        );
        assert_eq!(d.due_on, date!(2026 - 10 - 27));
        assert_eq!(d.carried_from.as_deref(), Some("2026-10-26"));
        assert!(d
            .explain(Lang::En)
            .contains("carried to the next working day"));
        assert!(d.explain(Lang::Kk).contains("оператордың саясатында"));
    }

    #[test]
    fn zero_days_means_the_day_itself_or_the_next_working_day() {
        assert_eq!(
            due_on(datetime!(2026-11-20 12:00 +05:00), working(0)),
            date!(2026 - 11 - 20)
        );
        assert_eq!(
            due_on(datetime!(2026-11-21 12:00 +05:00), working(0)),
            date!(2026 - 11 - 23)
        );
    }

    #[test]
    fn counts_beyond_the_calendar_are_flagged() {
        let d = due(
            &Calendar::kazakhstan(),
            datetime!(2027-12-30 12:00 +05:00),
            working(3),
            RuleSource::Law,
        );
        assert!(d.beyond_calendar);
        assert!(d.explain(Lang::Ru).contains("не охватывает"));
    }

    #[test]
    fn russian_plurals() {
        let f = |n| ru_plural(n, "день", "дня", "дней");
        assert_eq!(
            [f(1), f(2), f(5), f(11), f(12), f(21), f(22), f(25), f(111)],
            [
                "день", "дня", "дней", "дней", "дней", "день", "дня", "дней", "дней"
            ]
        );
    }

    proptest! {
        #[test]
        fn working_day_terms_end_on_a_working_day_with_exactly_n_counted(
            day in 0i32..(3 * 365), hour in 0u8..24, days in 1u32..40,
        ) {
            let c = Calendar::kazakhstan();
            let at = date!(2025 - 01 - 01).midnight().assume_utc()
                + time::Duration::days(day.into())
                + time::Duration::hours(hour.into());
            let d = due(&c, at, working(days), RuleSource::Law);
            prop_assert!(c.day(d.due_on).is_working());
            let mut counted = 0;
            let mut x = d.received_on;
            while x < d.due_on {
                x = next(x);
                if c.day(x).is_working() { counted += 1; }
            }
            prop_assert_eq!(counted, days);
            prop_assert_eq!(d.skipped.len() as i64 + i64::from(days), (d.due_on - d.received_on).whole_days());
        }

        #[test]
        fn calendar_terms_never_end_early_or_on_a_day_off(
            day in 0i32..(3 * 365), days in 1u32..60,
        ) {
            let c = Calendar::kazakhstan();
            let at = date!(2025 - 01 - 01).midnight().assume_offset(c.offset()) + time::Duration::days(day.into());
            let d = due(&c, at, calendar_days(days), RuleSource::Law);
            prop_assert!(c.day(d.due_on).is_working());
            prop_assert!((d.due_on - d.received_on).whole_days() >= i64::from(days));
            // Carried only over days off.
            let mut x = d.received_on + time::Duration::days(days.into());
            while x < d.due_on {
                prop_assert!(!c.day(x).is_working());
                x = next(x);
            }
        }

        #[test]
        fn a_later_receipt_is_never_due_earlier(a in 0i32..1000, b in 0i32..1000, days in 0u32..10) {
            let c = Calendar::kazakhstan();
            let start = date!(2025 - 01 - 01).midnight().assume_offset(c.offset());
            let (a, b) = (a.min(b), a.max(b));
            let da = due(&c, start + time::Duration::days(a.into()), working(days), RuleSource::Law);
            let db = due(&c, start + time::Duration::days(b.into()), working(days), RuleSource::Law);
            prop_assert!(da.due_on <= db.due_on);
        }
    }
}

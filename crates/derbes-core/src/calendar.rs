//! The working-day calendar deadlines are counted with: weekends, public holidays, the days off
//! that holidays on a weekend move to, and the transfers a government decree makes. Shipped as
//! data (`calendars/kz.toml`) and replaceable by the operator's own file.

use crate::declaration::parse_date;
use crate::text::Text;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use thiserror::Error;
use time::{Date, Month, UtcOffset, Weekday};

/// The calendar shipped with derbes: Kazakhstan, 2025-2027.
pub const KZ_CALENDAR: &str = include_str!("../calendars/kz.toml");

#[derive(Debug, Error, PartialEq, Eq)]
#[error("{place}: {problem}; {fix}")]
pub struct CalendarError {
    /// Where in the file: `holidays[3].date`, `utc_offset`, ….
    pub place: String,
    pub problem: String,
    pub fix: String,
}

fn error(place: impl Into<String>, problem: impl Into<String>, fix: &str) -> CalendarError {
    CalendarError {
        place: place.into(),
        problem: problem.into(),
        fix: fix.to_owned(),
    }
}

/// How the law treats a holiday that falls on a weekend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidayKind {
    /// National and state holidays move their day off to the next working day.
    National,
    State,
    /// Religious holidays do not move.
    Religious,
}

impl HolidayKind {
    fn moves(self) -> bool {
        !matches!(self, HolidayKind::Religious)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    utc_offset: String,
    weekend: Vec<String>,
    covers: Covers,
    #[serde(default)]
    holidays: Vec<HolidayEntry>,
    #[serde(default)]
    transfers: Vec<TransferEntry>,
}

/// The years whose movable holidays and transfers are all in the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Covers {
    pub from: i32,
    pub to: i32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HolidayEntry {
    date: String,
    kind: HolidayKind,
    name: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferEntry {
    day_off: String,
    working_day: String,
    basis: String,
}

/// When a holiday comes round: every year, or on one date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    Yearly(Month, u8),
    Once(Date),
}

#[derive(Debug, Clone)]
struct Holiday {
    when: When,
    kind: HolidayKind,
    name: Text,
}

#[derive(Debug, Clone)]
struct Transfer {
    day_off: Date,
    working_day: Date,
    basis: String,
}

/// Why a day is or is not worked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Day {
    Working,
    Weekend,
    Holiday {
        name: Text,
    },
    /// The day off of a holiday that fell on a weekend.
    MovedHoliday {
        name: Text,
        #[serde(with = "crate::iso_date")]
        from: Date,
    },
    /// A day off by a transfer; the weekend day `worked_on` is worked instead.
    TransferredDayOff {
        basis: String,
        #[serde(with = "crate::iso_date")]
        worked_on: Date,
    },
    /// A weekend day worked by a transfer.
    TransferredWorkingDay {
        basis: String,
        #[serde(with = "crate::iso_date")]
        day_off: Date,
    },
}

impl Day {
    pub fn is_working(&self) -> bool {
        matches!(self, Day::Working | Day::TransferredWorkingDay { .. })
    }
}

/// A working-day calendar, parsed and checked.
#[derive(Debug, Clone)]
pub struct Calendar {
    name: String,
    offset: UtcOffset,
    weekend: Vec<Weekday>,
    covers: Covers,
    holidays: Vec<Holiday>,
    transfers: Vec<Transfer>,
    hash: String,
}

/// Which calendar a count used: enough to find it again and to tell it was not edited since.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarRef {
    pub name: String,
    /// `sha256:` and the hex digest of the calendar file.
    pub hash: String,
    pub covers: Covers,
}

impl Calendar {
    /// The calendar derbes ships.
    pub fn kazakhstan() -> Self {
        match Self::parse(KZ_CALENDAR) {
            Ok(c) => c,
            // The shipped file is checked by a unit test; it cannot fail to parse.
            Err(e) => unreachable!("the shipped calendar is invalid: {e}"),
        }
    }

    /// Parses and checks a calendar file.
    pub fn parse(source: &str) -> Result<Self, CalendarError> {
        let file: File = toml_edit::de::from_str(source).map_err(|e| {
            error(
                "calendar",
                e.message().to_owned(),
                "compare the file with the one derbes ships (calendars/kz.toml)",
            )
        })?;
        if file.name.trim().is_empty() {
            return Err(error("name", "is empty", "name the calendar, e.g. \"KZ\""));
        }
        let offset = parse_offset(&file.utc_offset)?;
        let mut weekend = Vec::new();
        for (i, d) in file.weekend.iter().enumerate() {
            let day = parse_weekday(d).ok_or_else(|| {
                error(
                    format!("weekend[{i}]"),
                    format!("`{d}` is not a day of the week"),
                    "write days in English, e.g. \"saturday\"",
                )
            })?;
            if !weekend.contains(&day) {
                weekend.push(day);
            }
        }
        if weekend.len() >= 7 {
            return Err(error(
                "weekend",
                "leaves no working day",
                "list at most six days",
            ));
        }
        if file.covers.from > file.covers.to {
            return Err(error(
                "covers",
                format!(
                    "`from` {} is after `to` {}",
                    file.covers.from, file.covers.to
                ),
                "give the first and the last year the file lists completely",
            ));
        }
        let mut holidays = Vec::new();
        for (i, h) in file.holidays.into_iter().enumerate() {
            let place = format!("holidays[{i}]");
            let when = parse_when(&h.date).ok_or_else(|| {
                error(
                    format!("{place}.date"),
                    format!("`{}` is not a date", h.date),
                    "write \"MM-DD\" for a holiday every year or \"YYYY-MM-DD\" for one year",
                )
            })?;
            if let Some(lang) = h.name.missing().first() {
                return Err(error(
                    format!("{place}.name.{lang}"),
                    "is missing",
                    "name the holiday in kk, ru and en",
                ));
            }
            holidays.push(Holiday {
                when,
                kind: h.kind,
                name: h.name,
            });
        }
        let mut transfers = Vec::new();
        for (i, t) in file.transfers.into_iter().enumerate() {
            let place = format!("transfers[{i}]");
            let day_off = parse_date(&t.day_off).ok_or_else(|| {
                error(
                    format!("{place}.day_off"),
                    format!("`{}` is not a date", t.day_off),
                    "write \"YYYY-MM-DD\"",
                )
            })?;
            let working_day = parse_date(&t.working_day).ok_or_else(|| {
                error(
                    format!("{place}.working_day"),
                    format!("`{}` is not a date", t.working_day),
                    "write \"YYYY-MM-DD\"",
                )
            })?;
            if weekend.contains(&day_off.weekday()) {
                return Err(error(
                    format!("{place}.day_off"),
                    format!("{day_off} is already a weekend day"),
                    "a transfer makes a weekday a day off",
                ));
            }
            if !weekend.contains(&working_day.weekday()) {
                return Err(error(
                    format!("{place}.working_day"),
                    format!("{working_day} is already a weekday"),
                    "a transfer makes a weekend day a working day",
                ));
            }
            if t.basis.trim().is_empty() {
                return Err(error(
                    format!("{place}.basis"),
                    "is empty",
                    "cite the decree or order that made the transfer",
                ));
            }
            transfers.push(Transfer {
                day_off,
                working_day,
                basis: t.basis,
            });
        }
        Ok(Self {
            name: file.name,
            offset,
            weekend,
            covers: file.covers,
            holidays,
            transfers,
            hash: format!("sha256:{:x}", Sha256::digest(source.as_bytes())),
        })
    }

    pub fn reference(&self) -> CalendarRef {
        CalendarRef {
            name: self.name.clone(),
            hash: self.hash.clone(),
            covers: self.covers,
        }
    }

    /// The offset from UTC local dates are counted in.
    pub fn offset(&self) -> UtcOffset {
        self.offset
    }

    /// Whether the calendar lists every movable holiday and transfer of `year`.
    pub fn covers(&self, year: i32) -> bool {
        (self.covers.from..=self.covers.to).contains(&year)
    }

    /// The days of `year` that are not plain weekdays or plain weekend days, with why.
    pub fn year(&self, year: i32) -> BTreeMap<Date, Day> {
        // A holiday early in January may move its day off from the year before into this one.
        let mut days = BTreeMap::new();
        for y in [year - 1, year] {
            for (date, day) in self.special_days(y) {
                if date.year() == year {
                    days.insert(date, day);
                }
            }
        }
        days
    }

    /// What kind of day `date` is.
    pub fn day(&self, date: Date) -> Day {
        self.year(date.year())
            .remove(&date)
            .unwrap_or_else(|| self.plain(date))
    }

    /// Whether `date` falls on a weekend day of the week (worked or not).
    pub fn is_weekend(&self, date: Date) -> bool {
        self.weekend.contains(&date.weekday())
    }

    fn plain(&self, date: Date) -> Day {
        if self.is_weekend(date) {
            Day::Weekend
        } else {
            Day::Working
        }
    }

    fn holidays_of(&self, year: i32) -> Vec<(Date, &Holiday)> {
        let mut out: Vec<(Date, &Holiday)> = self
            .holidays
            .iter()
            .filter_map(|h| {
                let date = match h.when {
                    When::Yearly(m, d) => Date::from_calendar_date(year, m, d).ok()?,
                    When::Once(d) if d.year() == year => d,
                    When::Once(_) => return None,
                };
                Some((date, h))
            })
            .collect();
        out.sort_by_key(|(d, _)| *d);
        out
    }

    /// The special days that `year`'s holidays and transfers make (moved days off may land in
    /// the next year).
    fn special_days(&self, year: i32) -> BTreeMap<Date, Day> {
        let holidays = self.holidays_of(year);
        let mut days: BTreeMap<Date, Day> = BTreeMap::new();
        for (date, h) in &holidays {
            days.entry(*date).or_insert_with(|| Day::Holiday {
                name: h.name.clone(),
            });
        }
        // Early-January holidays of the next year are not working days a day off can move to.
        let next: Vec<Date> = self
            .holidays_of(year + 1)
            .into_iter()
            .map(|(d, _)| d)
            .collect();
        for (date, h) in &holidays {
            if !h.kind.moves() || !self.is_weekend(*date) {
                continue;
            }
            let mut target = date.next_day();
            while let Some(t) = target {
                let taken = days.contains_key(&t) || next.contains(&t);
                if !taken && !self.is_weekend(t) {
                    break;
                }
                target = t.next_day();
            }
            if let Some(t) = target {
                days.insert(
                    t,
                    Day::MovedHoliday {
                        name: h.name.clone(),
                        from: *date,
                    },
                );
            }
        }
        for t in self.transfers.iter().filter(|t| t.day_off.year() == year) {
            days.insert(
                t.day_off,
                Day::TransferredDayOff {
                    basis: t.basis.clone(),
                    worked_on: t.working_day,
                },
            );
        }
        for t in self
            .transfers
            .iter()
            .filter(|t| t.working_day.year() == year)
        {
            days.insert(
                t.working_day,
                Day::TransferredWorkingDay {
                    basis: t.basis.clone(),
                    day_off: t.day_off,
                },
            );
        }
        days
    }
}

fn parse_offset(s: &str) -> Result<UtcOffset, CalendarError> {
    let bad = || {
        error(
            "utc_offset",
            format!("`{s}` is not an offset from UTC"),
            "write it as \"+05:00\"",
        )
    };
    let (sign, rest) = match s.as_bytes().first() {
        Some(b'+') => (1i8, &s[1..]),
        Some(b'-') => (-1i8, &s[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i8, i8) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    UtcOffset::from_hms(sign * h, sign * m, 0).map_err(|_| bad())
}

fn parse_weekday(s: &str) -> Option<Weekday> {
    Some(match s.to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn parse_when(s: &str) -> Option<When> {
    if let Some(d) = parse_date(s) {
        return Some(When::Once(d));
    }
    let (m, d) = s.split_once('-')?;
    if m.len() != 2 || d.len() != 2 {
        return None;
    }
    let month = Month::try_from(m.parse::<u8>().ok()?).ok()?;
    let day: u8 = d.parse().ok()?;
    // Checked against a leap year, so 29 February is accepted.
    Date::from_calendar_date(2024, month, day).ok()?;
    Some(When::Yearly(month, day))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn kz() -> Calendar {
        Calendar::kazakhstan()
    }

    fn off(days: &BTreeMap<Date, Day>) -> Vec<Date> {
        days.iter()
            .filter(|(_, d)| !d.is_working())
            .map(|(d, _)| *d)
            .collect()
    }

    #[test]
    fn the_shipped_calendar_parses_and_covers_2025_to_2027() {
        let c = kz();
        assert!(c.covers(2025) && c.covers(2027) && !c.covers(2028));
        assert_eq!(c.offset(), UtcOffset::from_hms(5, 0, 0).unwrap());
        assert!(c.reference().hash.starts_with("sha256:"));
    }

    #[test]
    fn holidays_on_a_weekend_move_to_the_next_free_working_day() {
        let c = kz();
        // 2026: Nauryz on Saturday and Sunday moves past Monday's own Nauryz day.
        assert_eq!(
            c.day(date!(2026 - 03 - 24)),
            Day::MovedHoliday {
                name: Text::new("Наурыз мейрамы", "Наурыз мейрамы", "Nauryz"),
                from: date!(2026 - 03 - 21),
            }
        );
        assert!(!c.day(date!(2026 - 03 - 25)).is_working());
        assert!(c.day(date!(2026 - 03 - 26)).is_working());
        // Republic Day 2025 fell on a Saturday: Monday 27 October was off (LAW.md).
        assert!(!c.day(date!(2025 - 10 - 27)).is_working());
        assert!(c.day(date!(2025 - 10 - 28)).is_working());
        // 2026 days off as published by the Ministry of Labour.
        let off_2026 = off(&c.year(2026));
        for d in [
            date!(2026 - 01 - 01),
            date!(2026 - 01 - 02),
            date!(2026 - 01 - 07),
            date!(2026 - 03 - 09),
            date!(2026 - 03 - 23),
            date!(2026 - 03 - 24),
            date!(2026 - 03 - 25),
            date!(2026 - 05 - 01),
            date!(2026 - 05 - 07),
            date!(2026 - 05 - 11),
            date!(2026 - 05 - 27),
            date!(2026 - 07 - 06),
            date!(2026 - 08 - 31),
            date!(2026 - 10 - 26),
            date!(2026 - 12 - 16),
        ] {
            assert!(off_2026.contains(&d), "{d} should be a day off");
        }
    }

    #[test]
    fn religious_holidays_do_not_move() {
        let c = kz();
        // Kurban Ait 2027 is expected on a Sunday; Monday stays a working day.
        assert!(matches!(c.day(date!(2027 - 05 - 16)), Day::Holiday { .. }));
        assert_eq!(c.day(date!(2027 - 05 - 17)), Day::Working);
    }

    #[test]
    fn transfers_swap_a_weekday_and_a_weekend_day() {
        let c = kz();
        assert!(matches!(
            c.day(date!(2025 - 01 - 03)),
            Day::TransferredDayOff { worked_on, .. } if worked_on == date!(2025 - 01 - 05)
        ));
        assert!(c.day(date!(2025 - 01 - 05)).is_working());
        assert_eq!(c.day(date!(2025 - 01 - 04)), Day::Weekend);
    }

    #[test]
    fn a_new_year_on_a_weekend_moves_past_the_second_of_january() {
        let c = kz();
        // 2 January 2027 is a Saturday: Monday 4 January is off.
        assert!(
            matches!(c.day(date!(2027 - 01 - 04)), Day::MovedHoliday { from, .. } if from == date!(2027 - 01 - 02))
        );
        // Beyond the years covered the fixed holidays still count: 1 January 2028 is a
        // Saturday, 2 January a Sunday, so the 3rd and 4th are off.
        assert!(!c.day(date!(2028 - 01 - 03)).is_working());
        assert!(!c.day(date!(2028 - 01 - 04)).is_working());
        assert!(c.day(date!(2028 - 01 - 05)).is_working());
    }

    #[test]
    fn a_holiday_of_december_can_move_into_january() {
        let src = KZ_CALENDAR.replace("date = \"12-16\"", "date = \"12-31\"");
        let c = Calendar::parse(&src).unwrap();
        // 31 December 2028 is a Sunday; 1 and 2 January 2029 are holidays: off on the 3rd.
        assert!(
            matches!(c.day(date!(2029 - 01 - 03)), Day::MovedHoliday { from, .. } if from == date!(2028 - 12 - 31))
        );
    }

    #[test]
    fn bad_files_say_where_and_how_to_fix() {
        let e = Calendar::parse(&KZ_CALENDAR.replace("\"+05:00\"", "\"UTC+5\"")).unwrap_err();
        assert_eq!(e.place, "utc_offset");
        let e = Calendar::parse(&KZ_CALENDAR.replace("date = \"05-07\"", "date = \"05-32\""))
            .unwrap_err();
        assert_eq!(e.place, "holidays[8].date");
        let e = Calendar::parse(&KZ_CALENDAR.replace(
            "working_day = \"2025-01-05\"",
            "working_day = \"2025-01-06\"",
        ))
        .unwrap_err();
        assert_eq!(e.place, "transfers[0].working_day");
        let e =
            Calendar::parse(&KZ_CALENDAR.replace("en = \"Capital Day\"", "en = \"\"")).unwrap_err();
        assert_eq!(e.place, "holidays[10].name.en");
        let e = Calendar::parse("name = 1").unwrap_err();
        assert_eq!(e.place, "calendar");
    }
}

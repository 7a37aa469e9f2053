//! Texts in the three languages of derbes: Kazakh, Russian and English.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A language derbes speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Kk,
    Ru,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Kk, Lang::Ru, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Kk => "kk",
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }
}

impl Lang {
    /// The language a visitor prefers among kk, ru and en, from an `Accept-Language` header:
    /// the highest `q` wins, and among equals the one listed first.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut best: Option<(Lang, u32)> = None;
        for item in header.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim();
            let primary = tag.split('-').next().unwrap_or("");
            let Ok(lang) = primary.parse::<Lang>() else {
                continue;
            };
            // q in thousandths, so that weights compare exactly.
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |v| {
                    v.trim()
                        .parse::<f32>()
                        .ok()
                        .filter(|q| (0.0..=1.0).contains(q))
                        .map(|q| (q * 1000.0).round() as u32)
                })
                .unwrap_or(0);
            if q > 0 && best.is_none_or(|(_, b)| q > b) {
                best = Some((lang, q));
            }
        }
        best.map(|(l, _)| l)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "kk" | "kz" | "kaz" => Ok(Lang::Kk),
            "ru" | "rus" => Ok(Lang::Ru),
            "en" | "eng" => Ok(Lang::En),
            other => Err(format!("unknown language `{other}`; use kk, ru or en")),
        }
    }
}

/// A text given in Kazakh, Russian and English. The declaration check refuses a text that lacks a
/// language, so a checked declaration has all three.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ru: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub en: Option<String>,
}

impl Text {
    pub fn new(kk: &str, ru: &str, en: &str) -> Self {
        Self {
            kk: Some(kk.to_owned()),
            ru: Some(ru.to_owned()),
            en: Some(en.to_owned()),
        }
    }

    fn slot(&self, lang: Lang) -> Option<&str> {
        match lang {
            Lang::Kk => self.kk.as_deref(),
            Lang::Ru => self.ru.as_deref(),
            Lang::En => self.en.as_deref(),
        }
        .filter(|s| !s.trim().is_empty())
    }

    /// The text in `lang`, or in the first language present (kk, ru, en) when it is missing.
    pub fn get(&self, lang: Lang) -> &str {
        self.slot(lang)
            .or_else(|| Lang::ALL.iter().find_map(|l| self.slot(*l)))
            .unwrap_or("")
    }

    /// The languages this text lacks (absent or blank).
    pub fn missing(&self) -> Vec<Lang> {
        Lang::ALL
            .into_iter()
            .filter(|l| self.slot(*l).is_none())
            .collect()
    }
}

/// Picks the phrase for `lang` from (kk, ru, en).
pub fn tr<'a>(lang: Lang, kk: &'a str, ru: &'a str, en: &'a str) -> &'a str {
    match lang {
        Lang::Kk => kk,
        Lang::Ru => ru,
        Lang::En => en,
    }
}

/// The names of the months in Kazakh (as dates and months alike write them).
const KK_MONTHS: [&str; 12] = [
    "қаңтар",
    "ақпан",
    "наурыз",
    "сәуір",
    "мамыр",
    "маусым",
    "шілде",
    "тамыз",
    "қыркүйек",
    "қазан",
    "қараша",
    "желтоқсан",
];

/// A month (given by any of its days) as each language names it alone: `2030 жылғы наурыз`,
/// `март 2030 года`, `March 2030`.
pub fn format_month(date: time::Date, lang: Lang) -> String {
    const RU: [&str; 12] = [
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ];
    let m = usize::from(u8::from(date.month())) - 1;
    let y = date.year();
    match lang {
        Lang::Kk => format!("{y} жылғы {}", KK_MONTHS[m]),
        Lang::Ru => format!("{} {y} года", RU[m]),
        Lang::En => format!("{} {y}", date.month()),
    }
}

/// A date as each language writes it in documents: `2026 жылғы 21 қараша`,
/// `21 ноября 2026 года`, `21 November 2026` (Russian spells the year out, so a date ends no
/// sentence with a doubled full stop).
pub fn format_date(date: time::Date, lang: Lang) -> String {
    // Russian dates put the month in the genitive.
    const RU: [&str; 12] = [
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ];
    let m = usize::from(u8::from(date.month())) - 1;
    let (y, d) = (date.year(), date.day());
    match lang {
        Lang::Kk => format!("{y} жылғы {d} {}", KK_MONTHS[m]),
        Lang::Ru => format!("{d} {} {y} года", RU[m]),
        Lang::En => format!("{d} {} {y}", date.month()),
    }
}

/// A moment in UTC as each language writes it: the date, then `HH:MM UTC`.
pub fn format_moment(at: time::OffsetDateTime, lang: Lang) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{}, {:02}:{:02} UTC",
        format_date(at.date(), lang),
        at.hour(),
        at.minute()
    )
}

/// The first characters that make a spreadsheet run a cell as a formula.
const FORMULA: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Whether `value`, past any apostrophes it starts with, starts as a formula.
fn formula_like(value: &str) -> bool {
    value.trim_start_matches('\'').starts_with(FORMULA)
}

/// A cell of a CSV file derbes writes, safe to open in a spreadsheet: a value that a spreadsheet
/// would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab or a carriage return) gets
/// an apostrophe in front, which spreadsheets show as text. (A value that already starts with
/// apostrophes before such a character gets one more, so that reading takes off exactly one.)
pub fn spreadsheet_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if formula_like(value) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// A cell read from a CSV file, with the apostrophe [`spreadsheet_cell`] adds taken off.
pub fn from_spreadsheet_cell(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if formula_like(rest) => rest,
        _ => cell,
    }
}

/// A label as it stands inside a sentence or a list after a colon: its first letter in lower
/// case ("Данные: фамилия; имя"), unless its first word is an abbreviation (ИИН, IP-адрес),
/// which keeps its capitals. Labels of people and places (recipients, countries, the operator)
/// are names and are never passed here.
pub fn in_running_text(label: &str) -> String {
    let mut chars = label.chars();
    let (Some(first), Some(second)) = (chars.next(), chars.next()) else {
        return label.to_owned();
    };
    if !first.is_uppercase() || !second.is_lowercase() {
        return label.to_owned();
    }
    first
        .to_lowercase()
        .chain(label[first.len_utf8()..].chars())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// No cell starts as a formula, and a cell read back is the value written.
        #[test]
        fn cells_are_never_formulas_and_read_back_whole(value in "[=+@\\-\t'a-z0-9 ]{0,8}") {
            let cell = spreadsheet_cell(&value);
            proptest::prop_assert!(!cell.starts_with(['=', '+', '-', '@', '\t', '\r']));
            proptest::prop_assert_eq!(from_spreadsheet_cell(&cell), value.as_str());
        }
    }

    #[test]
    fn labels_inside_a_sentence_start_in_lower_case_but_abbreviations_keep_theirs() {
        for (label, inside) in [
            ("Фамилия", "фамилия"),
            ("Үлгерім", "үлгерім"),
            ("Әкесінің аты", "әкесінің аты"),
            ("Given name", "given name"),
            ("ИИН", "ИИН"),
            ("IP-адрес", "IP-адрес"),
            (
                "Индивидуальный идентификационный номер (ИИН)",
                "индивидуальный идентификационный номер (ИИН)",
            ),
            ("уже строчная", "уже строчная"),
            ("Я", "Я"),
            ("", ""),
        ] {
            assert_eq!(in_running_text(label), inside, "{label}");
        }
    }

    #[test]
    fn dates_are_written_as_each_language_writes_them() {
        let d = time::macros::date!(2026 - 11 - 21);
        assert_eq!(format_date(d, Lang::Kk), "2026 жылғы 21 қараша");
        assert_eq!(format_date(d, Lang::Ru), "21 ноября 2026 года");
        assert_eq!(format_date(d, Lang::En), "21 November 2026");
        assert_eq!(format_month(d, Lang::Kk), "2026 жылғы қараша");
        assert_eq!(format_month(d, Lang::Ru), "ноябрь 2026 года");
        assert_eq!(format_month(d, Lang::En), "November 2026");
        let at = time::macros::datetime!(2027-01-05 14:07 +06:00);
        assert_eq!(format_moment(at, Lang::Ru), "5 января 2027 года, 08:07 UTC");
    }

    #[test]
    fn falls_back_and_reports_missing() {
        let t = Text {
            kk: None,
            ru: Some("Ученик".into()),
            en: Some("  ".into()),
        };
        assert_eq!(t.get(Lang::Ru), "Ученик");
        assert_eq!(t.get(Lang::Kk), "Ученик");
        assert_eq!(t.missing(), vec![Lang::Kk, Lang::En]);
        assert!(Text::new("Оқушы", "Ученик", "Student").missing().is_empty());
    }

    #[test]
    fn accept_language_picks_the_preferred_known_language() {
        let pick = Lang::from_accept_language;
        assert_eq!(pick("ru-RU,ru;q=0.9,en-US;q=0.8"), Some(Lang::Ru));
        assert_eq!(pick("de-DE, en;q=0.5, kk;q=0.7"), Some(Lang::Kk));
        assert_eq!(pick("kk;q=0, en"), Some(Lang::En));
        assert_eq!(pick("en;q=0.8, ru;q=0.8"), Some(Lang::En));
        assert_eq!(pick("de, fr;q=nonsense, *"), None);
        assert_eq!(pick(""), None);
    }

    #[test]
    fn parses_language_codes() {
        assert_eq!("KK".parse::<Lang>(), Ok(Lang::Kk));
        assert!("de".parse::<Lang>().is_err());
    }
}

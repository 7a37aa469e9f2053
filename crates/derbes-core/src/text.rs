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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn parses_language_codes() {
        assert_eq!("KK".parse::<Lang>(), Ok(Lang::Kk));
        assert!("de".parse::<Lang>().is_err());
    }
}

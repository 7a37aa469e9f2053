//! Depersonalization (иесіздендіру, обезличивание): what of an expired field stays when its
//! retention rule depersonalizes, and the k-anonymity check a release of depersonalized
//! records must pass. Pure: a pseudonym's key is the caller's, which destroys it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The smallest group a release shows when the rule does not say.
pub const DEFAULT_K: u32 = 5;

/// What stays of a field when its record is depersonalized.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kept {
    /// Nothing: the field goes (what a field not named keeps).
    Drop,
    /// The year of a date (`2009-03-14` → `2009`).
    Year,
    /// The region of an address in Kazakhstan, as a code (`almaty`, `karaganda_region`).
    Region,
    /// The value as it is: for a field that identifies no one (a grade, a browser).
    Keep,
    /// A keyed pseudonym (HMAC-SHA-256 under a key of the batch, destroyed with it): the
    /// same value gives the same pseudonym within one batch, and none can be reversed.
    Pseudonym,
}

impl Kept {
    pub fn code(self) -> &'static str {
        match self {
            Kept::Drop => "drop",
            Kept::Year => "year",
            Kept::Region => "region",
            Kept::Keep => "keep",
            Kept::Pseudonym => "pseudonym",
        }
    }
}

/// What stays of `value` under `kept`: `None` when nothing does (dropped, or a date or
/// address whose year or region cannot be told). `pseudonym` is the batch's keyed function.
pub fn transform(value: &str, kept: Kept, pseudonym: impl Fn(&str) -> String) -> Option<String> {
    match kept {
        Kept::Drop => None,
        Kept::Year => year_of(value),
        Kept::Region => region_of(value).map(str::to_owned),
        Kept::Keep => Some(value.to_owned()),
        Kept::Pseudonym => Some(pseudonym(value)),
    }
}

/// The year of a date written `YYYY-MM-DD` (or a timestamp starting so) or `DD.MM.YYYY`.
pub fn year_of(value: &str) -> Option<String> {
    let v = value.trim();
    let digits = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit());
    let year = match v.as_bytes().get(4) {
        Some(b'-') => v.get(..4)?,
        _ => match v.split('.').collect::<Vec<_>>()[..] {
            [d, m, y]
                if [d, m].iter().all(|p| {
                    (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
                }) =>
            {
                y
            }
            _ => return None,
        },
    };
    digits(year).then(|| year.to_owned())
}

/// The regions of Kazakhstan and its cities of republican significance: a code and the
/// words an address names it by, in Kazakh, Russian and English, lower-case and with Kazakh
/// letters folded to their Russian look-alikes (see [`fold`]), so that an address typed
/// without Kazakh letters matches too. A region is looked for before a city of the same name
/// (Алматы облысы before Алматы).
const REGIONS: &[(&str, &[&str])] = &[
    (
        "abai_region",
        &[
            "абай обл",
            "абайская обл",
            "abai region",
            "abay region",
            "abai oblast",
        ],
    ),
    (
        "akmola_region",
        &[
            "акмола обл",
            "акмолинская обл",
            "akmola region",
            "akmola oblast",
        ],
    ),
    (
        "aktobe_region",
        &[
            "актобе обл",
            "актюбинская обл",
            "aktobe region",
            "aktobe oblast",
        ],
    ),
    (
        "almaty_region",
        &[
            "алматы обл",
            "алматинская обл",
            "almaty region",
            "almaty oblast",
        ],
    ),
    (
        "atyrau_region",
        &[
            "атырау обл",
            "атырауская обл",
            "atyrau region",
            "atyrau oblast",
        ],
    ),
    (
        "west_kazakhstan_region",
        &[
            "батыс казакстан обл",
            "западно-казахстанская обл",
            "west kazakhstan region",
            "west kazakhstan oblast",
        ],
    ),
    (
        "zhambyl_region",
        &[
            "жамбыл обл",
            "жамбылская обл",
            "zhambyl region",
            "zhambyl oblast",
        ],
    ),
    (
        "zhetysu_region",
        &[
            "жетису обл",
            "жетысуская обл",
            "zhetysu region",
            "zhetysu oblast",
        ],
    ),
    (
        "karaganda_region",
        &[
            "караганды обл",
            "карагандинская обл",
            "karaganda region",
            "karaganda oblast",
        ],
    ),
    (
        "kostanay_region",
        &[
            "костанай обл",
            "костанайская обл",
            "kostanay region",
            "kostanay oblast",
        ],
    ),
    (
        "kyzylorda_region",
        &[
            "кызылорда обл",
            "кызылординская обл",
            "kyzylorda region",
            "kyzylorda oblast",
        ],
    ),
    (
        "mangystau_region",
        &[
            "мангыстау обл",
            "мангистауская обл",
            "mangystau region",
            "mangystau oblast",
        ],
    ),
    (
        "pavlodar_region",
        &[
            "павлодар обл",
            "павлодарская обл",
            "pavlodar region",
            "pavlodar oblast",
        ],
    ),
    (
        "north_kazakhstan_region",
        &[
            "солтустик казакстан обл",
            "северо-казахстанская обл",
            "north kazakhstan region",
            "north kazakhstan oblast",
        ],
    ),
    (
        "turkistan_region",
        &[
            "туркистан обл",
            "туркестанская обл",
            "turkistan region",
            "turkistan oblast",
        ],
    ),
    (
        "ulytau_region",
        &[
            "улытау обл",
            "улытауская обл",
            "ulytau region",
            "ulytau oblast",
        ],
    ),
    (
        "east_kazakhstan_region",
        &[
            "шыгыс казакстан обл",
            "восточно-казахстанская обл",
            "east kazakhstan region",
            "east kazakhstan oblast",
        ],
    ),
    (
        "astana",
        &["астана", "нур-султан", "нурсултан", "astana", "nur-sultan"],
    ),
    ("almaty", &["алматы", "almaty"]),
    ("shymkent", &["шымкент", "shymkent"]),
];

/// Lower case, with each Kazakh letter folded to the Russian letter it is typed as without a
/// Kazakh keyboard (ә → а, қ → к, ү → у, і → и, …).
fn fold(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| match c {
            'ә' => 'а',
            'ғ' => 'г',
            'қ' => 'к',
            'ң' => 'н',
            'ө' => 'о',
            'ұ' | 'ү' => 'у',
            'һ' => 'х',
            'і' => 'и',
            other => other,
        })
        .collect()
}

/// The region an address in Kazakhstan names, as a code; `None` when it names none of them
/// (a town alone: its region cannot be told from the text, and the field is dropped).
pub fn region_of(address: &str) -> Option<&'static str> {
    let folded = fold(address);
    REGIONS
        .iter()
        .find(|(_, names)| names.iter().any(|n| folded.contains(n)))
        .map(|(code, _)| *code)
}

/// A depersonalized record: the subject's category and the values that stay, by field. It
/// names no subject, and nothing in it or beside it links it to one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Record {
    pub category: String,
    pub values: BTreeMap<String, String>,
}

/// What stays of a subject of `category` whose `fields` (key, opened value) a rule that keeps
/// `kept` depersonalizes: each field as the rule says (a field it does not name goes).
/// `pseudonym` is the batch's keyed function of a field and its value.
pub fn record_of<'a>(
    kept: &BTreeMap<String, Kept>,
    category: &str,
    fields: impl IntoIterator<Item = (&'a str, &'a str)>,
    pseudonym: impl Fn(&str, &str) -> String,
) -> Record {
    let values = fields
        .into_iter()
        .filter_map(|(field, value)| {
            let how = kept.get(field).copied().unwrap_or(Kept::Drop);
            transform(value, how, |v| pseudonym(field, v)).map(|v| (field.to_owned(), v))
        })
        .collect();
    Record {
        category: category.to_owned(),
        values,
    }
}

/// What may be released of depersonalized records: the records whose group (same values of
/// every quasi-identifier) holds at least `k` of them, and what was held back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub records: Vec<Record>,
    pub k: usize,
    /// Groups released, and groups held back as smaller than `k` with their records.
    pub groups: usize,
    pub suppressed_groups: usize,
    pub suppressed_records: usize,
}

/// The k-anonymity check: groups the records by their category and their values of `quasi`
/// (a missing value is a value of its own) and releases only the groups of at least `k`
/// records, in group order.
pub fn k_anonymous(records: Vec<Record>, quasi: &[String], k: usize) -> Release {
    type Group = (String, Vec<Option<String>>);
    let mut groups: BTreeMap<Group, Vec<Record>> = BTreeMap::new();
    for r in records {
        let key = quasi.iter().map(|q| r.values.get(q).cloned()).collect();
        groups.entry((r.category.clone(), key)).or_default().push(r);
    }
    let mut out = Release {
        records: Vec::new(),
        k,
        groups: 0,
        suppressed_groups: 0,
        suppressed_records: 0,
    };
    for (_, mut group) in groups {
        if group.len() >= k {
            out.groups += 1;
            group.sort();
            out.records.extend(group);
        } else {
            out.suppressed_groups += 1;
            out.suppressed_records += group.len();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_date_keeps_its_year_and_an_address_its_region() {
        assert_eq!(year_of("2009-03-14").as_deref(), Some("2009"));
        assert_eq!(year_of("2009-03-14T08:00:00Z").as_deref(), Some("2009"));
        assert_eq!(year_of("14.03.2009").as_deref(), Some("2009"));
        assert_eq!(year_of("March 2009"), None);
        assert_eq!(
            region_of("Қазақстан Республикасы, 050000, Алматы қ., Бостандық ауданы"),
            Some("almaty")
        );
        assert_eq!(
            region_of("Алматинская область, г. Қонаев, ул. Абая, 5"),
            Some("almaty_region")
        );
        assert_eq!(
            region_of("Қарағанды облысы, Теміртау қ."),
            Some("karaganda_region")
        );
        assert_eq!(region_of("Теміртау, Металлургтер даңғылы, 2"), None);
        assert_eq!(region_of("Алматы обл., Қонаев қ."), Some("almaty_region"));
        assert_eq!(
            region_of("Караганды облысы, Темиртау"),
            Some("karaganda_region")
        );
        assert_eq!(
            region_of("г. Нур-Султан, пр. Республики, 1"),
            Some("astana")
        );
        assert_eq!(year_of("..2009"), None);
        let p = |v: &str| format!("p:{}", v.len());
        assert_eq!(transform("5", Kept::Keep, p).as_deref(), Some("5"));
        assert_eq!(transform("5", Kept::Drop, p), None);
        assert_eq!(
            transform("061211600012", Kept::Pseudonym, p).as_deref(),
            Some("p:12")
        );
    }

    #[test]
    fn small_groups_are_held_back() {
        let rec = |category: &str, year: &str, region: &str| Record {
            category: category.to_owned(),
            values: [("birth_date", year), ("address", region), ("grades", "5")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        };
        let mut records = vec![rec("student", "2009", "almaty"); 5];
        records.extend(vec![rec("student", "2010", "almaty"); 4]);
        records.push(rec("student", "2009", "shymkent"));
        records.push(rec("employee", "2009", "almaty"));
        let quasi = ["birth_date".to_owned(), "address".to_owned()];
        let r = k_anonymous(records, &quasi, 5);
        assert_eq!((r.groups, r.records.len()), (1, 5));
        assert_eq!((r.suppressed_groups, r.suppressed_records), (3, 6));
    }

    #[test]
    fn a_record_keeps_only_what_the_rule_says() {
        let kept: BTreeMap<String, Kept> = [
            ("access_time", Kept::Year),
            ("browser", Kept::Keep),
            ("iin", Kept::Pseudonym),
        ]
        .into_iter()
        .map(|(f, k)| (f.to_owned(), k))
        .collect();
        let fields = [
            ("access_time", "2025-11-02T08:00:00Z"),
            ("browser", "Firefox"),
            ("cookie_data", "_ga=GA1.2.3"),
            ("iin", "090314600012"),
        ];
        let r = record_of(&kept, "site_visitor", fields, |f, v| {
            format!("{f}:{}", v.len())
        });
        assert_eq!(r.category, "site_visitor");
        let values: Vec<(&str, &str)> = r
            .values
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            values,
            [
                ("access_time", "2025"),
                ("browser", "Firefox"),
                ("iin", "iin:12")
            ]
        );
    }

    proptest! {
        #[test]
        fn every_released_group_holds_at_least_k_and_nothing_is_lost(
            values in prop::collection::vec((0u8..4, 0u8..3, 0u8..9), 0..80),
            k in 1usize..8,
        ) {
            let records: Vec<Record> = values
                .iter()
                .map(|(a, b, c)| Record {
                    category: "student".to_owned(),
                    values: [("a", a), ("b", b), ("c", c)]
                        .into_iter()
                        .map(|(k, v)| (k.to_owned(), v.to_string()))
                        .collect(),
                })
                .collect();
            let quasi = ["a".to_owned(), "b".to_owned()];
            let r = k_anonymous(records.clone(), &quasi, k);
            prop_assert_eq!(r.records.len() + r.suppressed_records, records.len());
            let mut sizes: BTreeMap<(String, String), usize> = BTreeMap::new();
            for rec in &r.records {
                *sizes.entry((rec.values["a"].clone(), rec.values["b"].clone())).or_default() += 1;
                prop_assert!(records.contains(rec));
            }
            prop_assert_eq!(sizes.len(), r.groups);
            prop_assert!(sizes.values().all(|n| *n >= k));
        }

        #[test]
        fn a_year_is_four_digits_of_the_date(y in 1900u32..2100, m in 1u32..13, d in 1u32..29) {
            let iso = format!("{y:04}-{m:02}-{d:02}");
            let dotted = format!("{d:02}.{m:02}.{y:04}");
            prop_assert_eq!(year_of(&iso), Some(y.to_string()));
            prop_assert_eq!(year_of(&dotted), Some(y.to_string()));
        }
    }
}

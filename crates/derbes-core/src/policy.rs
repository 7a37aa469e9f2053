//! The privacy policy's content, drawn from the declaration in one language: every label,
//! period and date already in that language, so that the policy templates only lay it out.

use crate::deadline::{ru_plural, term_words};
use crate::declaration::{
    CrossBorderBasis, DataCategory, DeadlineKind, Declaration, OnMajority, RetentionAction,
    RetentionRule, RetentionStart, Sensitivity, Source, SpecialKind,
};
use crate::text::{format_date, tr, Lang};
use serde::Serialize;

/// Everything a policy template can use.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyContext {
    pub language: Lang,
    pub version: String,
    pub effective_from: String,
    pub operator: OperatorPart,
    pub storage_country: String,
    /// Where the databases are, as a phrase: "на территории Республики Казахстан".
    pub storage_territory: String,
    pub categories: Vec<CategoryPart>,
    pub purposes: Vec<PurposePart>,
    pub recipients: Vec<RecipientPart>,
    /// Recipients abroad, the transfers that cross the border.
    pub cross_border: Vec<RecipientPart>,
    pub retention: Vec<RetentionPart>,
    pub deadlines: Vec<DeadlinePart>,
    /// The term of the written answer to a complaint (pre-trial claim), in words.
    pub complaint_term: String,
    /// The term for telling the authorized body of a breach, in words.
    pub breach_term: String,
    pub minors: MinorsPart,
    pub cookies: Vec<CookieCategoryPart>,
    /// Fields collected automatically (browser, IP address, times of access).
    pub automatic: Vec<String>,
    /// The authorized body for personal data protection, by its name (nominative).
    pub authority: String,
    /// Any purpose rests on consent.
    pub any_consent: bool,
    /// A line to fill in by hand on a printed form, as Markdown.
    pub blank: &'static str,
    /// The services the policy covers; empty when it covers all of the operator's processing.
    pub services: Vec<ServicePart>,
    /// Decisions by automated processing alone and profiling; absent when not declared.
    pub automated: Option<AutomatedPart>,
    /// The court named for disputes, in the nominative case.
    pub court: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ServicePart {
    pub label: String,
    pub address: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct AutomatedPart {
    pub decisions: bool,
    pub profiling: bool,
    pub decisions_description: Option<String>,
    pub profiling_description: Option<String>,
}

/// A line to fill in by hand: escaped underscores, which Markdown shows as they are.
const BLANK: &str = r"\_\_\_\_\_\_\_\_\_\_\_\_\_\_\_\_\_\_\_\_";

#[derive(Debug, Clone, Serialize)]
pub struct OperatorPart {
    pub name: String,
    pub bin: String,
    pub address: String,
    pub email: String,
    pub phone: String,
    pub website: Option<String>,
    pub responsible_name: String,
    /// The job title, where one is declared.
    pub responsible_position: Option<String>,
    pub responsible_email: String,
    pub responsible_phone: Option<String>,
    pub approval: Option<ApprovalPart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApprovalPart {
    pub by: String,
    pub act: Option<String>,
    /// The date in words.
    pub date: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct CategoryPart {
    pub key: String,
    pub label: String,
    pub may_be_minor: bool,
    pub fields: Vec<FieldPart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FieldPart {
    pub key: String,
    pub label: String,
    pub kind: &'static str,
    /// `special` (health, biometric), `identifier` or `financial`; empty for ordinary data.
    pub sensitivity: &'static str,
    pub note: Option<&'static str>,
    pub source: &'static str,
    /// The purposes that process this field for subjects of this category, in words.
    pub purposes: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PurposePart {
    pub key: String,
    pub label: String,
    pub description: String,
    pub basis: &'static str,
    pub consent: bool,
    pub legal_reference: Option<String>,
    pub categories: String,
    pub fields: String,
    pub recipients: String,
    pub retention: String,
    pub publication: bool,
    pub withdrawal_obligation: Option<String>,
    /// The kinds of data (identity, contact, …) the purpose processes, in words.
    pub data_kinds: String,
    /// The purpose's data one by one, as a consent form lists them.
    pub field_list: Vec<String>,
    /// Its recipients with their countries, in words.
    pub recipients_with_countries: String,
    /// The countries its data go to across the border, in words; empty when none.
    pub cross_border_countries: String,
    /// Any of its subjects may be a minor, whose representative then gives consent.
    pub may_be_minor: bool,
    /// For consent: the SHA-256 of its Art. 8(4) terms, as consents given on this form record
    /// them.
    pub terms_hash: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecipientPart {
    pub label: String,
    pub kind: &'static str,
    pub country: String,
    pub cross_border: bool,
    pub basis: Option<&'static str>,
    pub description: Option<String>,
    pub purposes: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RetentionPart {
    pub label: String,
    /// The period and when it starts, in words.
    pub period: String,
    pub action: &'static str,
    pub basis: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeadlinePart {
    pub what: &'static str,
    pub term: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct MinorsPart {
    pub age_of_majority: u32,
    pub age_words: String,
    /// The age after «не достигшего» in Russian ("18 лет", "21 года"); as `age_words` in the
    /// other languages.
    pub age_genitive: String,
    pub representatives: String,
    pub reconsent: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct CookieCategoryPart {
    pub label: String,
    pub description: String,
    pub required: bool,
    pub services: Vec<CookieServicePart>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CookieServicePart {
    pub label: String,
    pub provider: String,
    pub country: String,
    pub lifetime: String,
    pub purpose: String,
}

/// Common countries by ISO code, in words: Kazakh, Russian, the Russian genitive
/// («на территории Республики Казахстан»), English.
const COUNTRIES: &[(&str, [&str; 4])] = &[
    (
        "KZ",
        [
            "Қазақстан Республикасы",
            "Республика Казахстан",
            "Республики Казахстан",
            "the Republic of Kazakhstan",
        ],
    ),
    (
        "RU",
        [
            "Ресей Федерациясы",
            "Российская Федерация",
            "Российской Федерации",
            "the Russian Federation",
        ],
    ),
    (
        "US",
        [
            "Америка Құрама Штаттары",
            "Соединённые Штаты Америки",
            "Соединённых Штатов Америки",
            "the United States",
        ],
    ),
    (
        "GB",
        [
            "Ұлыбритания",
            "Великобритания",
            "Великобритании",
            "the United Kingdom",
        ],
    ),
    ("CA", ["Канада", "Канада", "Канады", "Canada"]),
    ("DE", ["Германия", "Германия", "Германии", "Germany"]),
    ("IE", ["Ирландия", "Ирландия", "Ирландии", "Ireland"]),
    (
        "NL",
        ["Нидерланды", "Нидерланды", "Нидерландов", "the Netherlands"],
    ),
    ("FI", ["Финляндия", "Финляндия", "Финляндии", "Finland"]),
];

fn country(code: &str) -> Option<&'static [&'static str; 4]> {
    COUNTRIES.iter().find(|(c, _)| *c == code).map(|(_, n)| n)
}

/// A country by its ISO code, in words where it is a common one.
pub fn country_name(code: &str, lang: Lang) -> String {
    match country(code) {
        Some([kk, ru, _, en]) => tr(lang, kk, ru, en).to_owned(),
        None => code.to_owned(),
    }
}

/// "In that country" as a phrase; Russian puts the country's name in the genitive.
pub fn territory(code: &str, lang: Lang) -> String {
    match (lang, country(code)) {
        (Lang::Kk, _) => format!("{} аумағында", country_name(code, lang)),
        (Lang::En, _) => format!("in {}", country_name(code, lang)),
        (Lang::Ru, Some([_, _, genitive, _])) => format!("на территории {genitive}"),
        (Lang::Ru, None) => format!("на территории государства {code}"),
    }
}

/// `n` years, months or days in words: Kazakh has no plural after a number, Russian three forms.
pub fn count_words(n: u32, unit: Unit, lang: Lang) -> String {
    match (lang, unit) {
        (Lang::Kk, Unit::Year) => format!("{n} жыл"),
        (Lang::Kk, Unit::Month) => format!("{n} ай"),
        (Lang::Kk, Unit::Day) => format!("{n} күн"),
        (Lang::Ru, Unit::Year) => format!("{n} {}", ru_plural(n, "год", "года", "лет")),
        (Lang::Ru, Unit::Month) => format!("{n} {}", ru_plural(n, "месяц", "месяца", "месяцев")),
        (Lang::Ru, Unit::Day) => format!("{n} {}", ru_plural(n, "день", "дня", "дней")),
        (Lang::En, u) => {
            let word = match u {
                Unit::Year => "year",
                Unit::Month => "month",
                Unit::Day => "day",
            };
            format!("{n} {word}{}", if n == 1 { "" } else { "s" })
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Year,
    Month,
    Day,
}

pub(crate) fn period(r: &RetentionRule, lang: Lang) -> String {
    let mut parts = Vec::new();
    for (n, unit) in [
        (r.years, Unit::Year),
        (r.months, Unit::Month),
        (r.days, Unit::Day),
    ] {
        if n > 0 {
            parts.push(count_words(n, unit, lang));
        }
    }
    let span = if parts.is_empty() {
        tr(
            lang,
            "өңдеу мақсатына қол жеткізілгенге дейін",
            "до достижения цели",
            "until the purpose is achieved",
        )
        .to_owned()
    } else {
        parts.join(" ")
    };
    let start = match r.starts {
        RetentionStart::Collection => tr(
            lang,
            "деректер жиналған күннен бастап",
            "со дня сбора данных",
            "from collection",
        ),
        RetentionStart::PurposeAchieved => tr(
            lang,
            "өңдеу мақсатына қол жеткізілген күннен бастап",
            "со дня достижения цели обработки",
            "from when the purpose is achieved",
        ),
        RetentionStart::RelationshipEnd => tr(
            lang,
            "оператормен қатынастар тоқтатылған күннен бастап",
            "со дня прекращения отношений с оператором",
            "from the end of the relationship with the operator",
        ),
        RetentionStart::ConsentWithdrawn => tr(
            lang,
            "келісім кері қайтарып алынған күннен бастап",
            "со дня отзыва согласия",
            "from the withdrawal of consent",
        ),
        RetentionStart::LastActivity => tr(
            lang,
            "соңғы белсенділік күнінен бастап",
            "со дня последней активности",
            "from the last activity",
        ),
    };
    match lang {
        Lang::Kk => format!("{start} {span}"),
        _ => format!("{span} {start}"),
    }
}

fn data_kind(c: DataCategory, lang: Lang) -> &'static str {
    match c {
        DataCategory::Identity => tr(
            lang,
            "сәйкестендіру деректері",
            "идентификационные данные",
            "identity data",
        ),
        DataCategory::Contact => tr(
            lang,
            "байланыс деректері",
            "контактные данные",
            "contact data",
        ),
        DataCategory::Demographic => tr(
            lang,
            "демографиялық деректер",
            "демографические данные",
            "demographic data",
        ),
        DataCategory::Family => tr(
            lang,
            "отбасы туралы мәліметтер",
            "сведения о семье",
            "family data",
        ),
        DataCategory::Education => tr(
            lang,
            "білім туралы мәліметтер",
            "сведения об образовании",
            "education data",
        ),
        DataCategory::Employment => tr(
            lang,
            "еңбек қызметі туралы мәліметтер",
            "сведения о трудовой деятельности",
            "employment data",
        ),
        DataCategory::Health => tr(
            lang,
            "денсаулық туралы мәліметтер",
            "сведения о здоровье",
            "health data",
        ),
        DataCategory::Biometric => tr(
            lang,
            "биометриялық деректер",
            "биометрические данные",
            "biometric data",
        ),
        DataCategory::Financial => tr(
            lang,
            "қаржылық деректер",
            "финансовые данные",
            "financial data",
        ),
        DataCategory::Image => tr(
            lang,
            "бейне (фото, бейнежазба)",
            "изображение (фото, видео)",
            "images (photo, video)",
        ),
        DataCategory::Technical => tr(
            lang,
            "техникалық деректер",
            "технические данные",
            "technical data",
        ),
        DataCategory::Other => tr(lang, "өзге деректер", "иные данные", "other data"),
    }
}

/// What the field's sensitivity adds to its kind of data (`category`), if anything: a health
/// field of the health kind is "a special category", not "health data; special category: health".
fn sensitivity(
    s: Sensitivity,
    special: Option<SpecialKind>,
    category: DataCategory,
    lang: Lang,
) -> Option<&'static str> {
    Some(match (s, special) {
        (_, Some(SpecialKind::Health)) if category == DataCategory::Health => {
            tr(lang, "ерекше санат", "особая категория", "special category")
        }
        (_, Some(SpecialKind::Biometric)) if category == DataCategory::Biometric => {
            tr(lang, "ерекше санат", "особая категория", "special category")
        }
        (Sensitivity::Financial, None) if category == DataCategory::Financial => return None,
        (_, Some(SpecialKind::Health)) => tr(
            lang,
            "ерекше санат: денсаулық туралы мәліметтер",
            "особая категория: сведения о здоровье",
            "special category: health",
        ),
        (_, Some(SpecialKind::Biometric)) => tr(
            lang,
            "ерекше санат: биометриялық деректер",
            "особая категория: биометрические данные",
            "special category: biometric",
        ),
        (Sensitivity::Special, None) => {
            tr(lang, "ерекше санат", "особая категория", "special category")
        }
        (Sensitivity::Identifier, None) => {
            tr(lang, "сәйкестендіргіш", "идентификатор", "identifier")
        }
        (Sensitivity::Financial, None) => tr(
            lang,
            "қаржылық мәліметтер",
            "финансовые сведения",
            "financial",
        ),
        (Sensitivity::Ordinary, None) => return None,
    })
}

pub fn cross_border_basis(b: CrossBorderBasis, lang: Lang) -> &'static str {
    match b {
        CrossBorderBasis::AdequateProtection => tr(
            lang,
            "алушы мемлекет дербес деректерді қорғауды қамтамасыз етеді",
            "государство получателя обеспечивает защиту персональных данных",
            "the recipient's country protects personal data",
        ),
        CrossBorderBasis::Consent => tr(
            lang,
            "субъектінің келісімі",
            "согласие субъекта",
            "the subject's consent",
        ),
        CrossBorderBasis::InternationalTreaty => tr(
            lang,
            "халықаралық шарт",
            "международный договор",
            "an international treaty",
        ),
        CrossBorderBasis::Law => tr(
            lang,
            "Қазақстан Республикасының заңдары",
            "законы Республики Казахстан",
            "the law of the Republic of Kazakhstan",
        ),
        CrossBorderBasis::ContractPerformance => tr(
            lang,
            "субъект тарап болып табылатын шартты орындау",
            "исполнение договора, стороной которого является субъект",
            "performance of a contract with the subject",
        ),
        CrossBorderBasis::VitalInterest => tr(
            lang,
            "субъектінің өмірлік маңызды мүдделерін қорғау",
            "защита жизненно важных интересов субъекта",
            "the subject's vital interests",
        ),
    }
}

/// What a deadline is for, in words.
pub fn deadline_label(k: DeadlineKind, lang: Lang) -> &'static str {
    match k {
        DeadlineKind::Information => tr(
            lang,
            "дербес деректерді өңдеу туралы ақпарат беру",
            "предоставление сведений об обработке персональных данных",
            "information about processing",
        ),
        DeadlineKind::AccessExport => tr(
            lang,
            "дербес деректерге қол жеткізу және көшірмесін беру",
            "предоставление доступа к персональным данным и их копии",
            "access to the data and a copy",
        ),
        DeadlineKind::Rectification => tr(
            lang,
            "дербес деректерді түзету",
            "исправление персональных данных",
            "rectification",
        ),
        DeadlineKind::Blocking => tr(
            lang,
            "дербес деректерді бұғаттау",
            "блокирование персональных данных",
            "blocking",
        ),
        DeadlineKind::Unblocking => tr(
            lang,
            "бұғаттауды алып тастау",
            "снятие блокирования",
            "lifting a block",
        ),
        DeadlineKind::Destruction => tr(
            lang,
            "дербес деректерді жою",
            "уничтожение персональных данных",
            "destruction",
        ),
        DeadlineKind::Restriction => tr(
            lang,
            "өңдеуді шектеу",
            "ограничение обработки",
            "restriction of processing",
        ),
        DeadlineKind::ConsentWithdrawal => tr(
            lang,
            "келісімді кері қайтарып алу",
            "отзыв согласия",
            "withdrawal of consent",
        ),
        DeadlineKind::Objection => tr(
            lang,
            "өңдеуге қарсылық",
            "возражение против обработки",
            "objection to processing",
        ),
        DeadlineKind::Complaint => tr(
            lang,
            "шағымға (сотқа дейінгі талапқа) жазбаша жауап",
            "письменный ответ на жалобу (досудебную претензию)",
            "written answer to a complaint (pre-trial claim)",
        ),
        DeadlineKind::UnlawfulPublicationRemoval => tr(
            lang,
            "заңсыз жарияланған деректерді алып тастау",
            "удаление незаконно опубликованных данных",
            "removal of unlawfully published data",
        ),
        DeadlineKind::BreachNotification => tr(
            lang,
            "уәкілетті органды рұқсатсыз қол жеткізу туралы хабардар ету",
            "уведомление уполномоченного органа о несанкционированном доступе",
            "notifying the authorized body of a breach",
        ),
    }
}

/// The policy's content in `lang`.
#[allow(
    clippy::too_many_lines,
    reason = "the policy context, one section of the rendered policy after another"
)]
pub fn context(d: &Declaration, lang: Lang) -> PolicyContext {
    let t = |x: &crate::text::Text| x.get(lang).to_owned();
    // A label inside a sentence or after a colon.
    let inside = |x: &crate::text::Text| crate::text::in_running_text(x.get(lang));
    // Labels may hold commas themselves ("Parent (mother, father)"): a list of them is split
    // by semicolons.
    let join = |items: Vec<String>| items.join("; ");
    // Text the templates end the sentence after, without its own final full stop.
    let sentence_part =
        |x: &crate::text::Text| x.get(lang).trim_end().trim_end_matches('.').to_owned();
    let o = &d.operator;
    let categories = d
        .subject_categories
        .iter()
        .map(|(key, c)| CategoryPart {
            key: key.clone(),
            label: t(&c.label),
            may_be_minor: c.may_be_minor,
            fields: d
                .fields_of_category(key)
                .map(|(k, f)| FieldPart {
                    key: k.clone(),
                    label: t(&f.label),
                    kind: data_kind(f.data_category, lang),
                    sensitivity: match (f.sensitivity, f.special) {
                        (_, Some(_)) | (Sensitivity::Special, _) => "special",
                        (Sensitivity::Identifier, _) => "identifier",
                        (Sensitivity::Financial, _) => "financial",
                        (Sensitivity::Ordinary, _) => "",
                    },
                    note: sensitivity(f.sensitivity, f.special, f.data_category, lang),
                    source: f.source.label(lang),
                    purposes: join(
                        d.purposes
                            .values()
                            .filter(|p| p.uses_field(k) && p.covers_category(key))
                            .map(|p| inside(&p.label))
                            .collect(),
                    ),
                })
                .collect(),
        })
        .collect();
    let retention_of = |key: &str| {
        d.retention
            .get(key)
            .map(|r| format!("{} — {}", inside(&r.label), period(r, lang)))
            .unwrap_or_else(|| key.to_owned())
    };
    let purposes = d
        .purposes
        .iter()
        .map(|(key, p)| PurposePart {
            key: key.clone(),
            label: t(&p.label),
            description: t(&p.description),
            basis: p.legal_basis.label(lang),
            consent: p.legal_basis == crate::declaration::LegalBasis::Consent,
            legal_reference: p.legal_reference.as_ref().map(t),
            categories: join(
                p.categories
                    .iter()
                    .filter_map(|c| d.subject_categories.get(c).map(|c| inside(&c.label)))
                    .collect(),
            ),
            fields: join(
                p.fields
                    .iter()
                    .filter_map(|f| d.fields.get(f).map(|f| inside(&f.label)))
                    .collect(),
            ),
            recipients: join(
                p.recipients
                    .iter()
                    .filter_map(|r| d.recipients.get(r).map(|r| t(&r.label)))
                    .collect(),
            ),
            retention: retention_of(&p.retention),
            publication: p.publication,
            withdrawal_obligation: p.withdrawal_obligation.as_ref().map(t),
            data_kinds: {
                let mut kinds: Vec<String> = Vec::new();
                for f in p.fields.iter().filter_map(|f| d.fields.get(f)) {
                    let kind = data_kind(f.data_category, lang).to_owned();
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
                join(kinds)
            },
            field_list: p
                .fields
                .iter()
                .filter_map(|f| d.fields.get(f).map(|f| inside(&f.label)))
                .collect(),
            recipients_with_countries: join(
                p.recipients
                    .iter()
                    .filter_map(|r| d.recipients.get(r))
                    .map(|r| format!("{} ({})", t(&r.label), country_name(&r.country, lang)))
                    .collect(),
            ),
            cross_border_countries: {
                let mut countries: Vec<String> = Vec::new();
                for r in p.recipients.iter().filter_map(|r| d.recipients.get(r)) {
                    let name = country_name(&r.country, lang);
                    if d.crosses_border(r) && !countries.contains(&name) {
                        countries.push(name);
                    }
                }
                join(countries)
            },
            may_be_minor: p
                .categories
                .iter()
                .filter_map(|c| d.subject_categories.get(c))
                .any(|c| c.may_be_minor),
            terms_hash: if p.legal_basis == crate::declaration::LegalBasis::Consent {
                crate::consent::PurposeTerms::of(d, key).map(|t| t.hash())
            } else {
                None
            },
        })
        .collect();
    let recipients: Vec<RecipientPart> = d
        .recipients
        .iter()
        .map(|(key, r)| RecipientPart {
            label: t(&r.label),
            kind: r.kind.label(lang),
            country: country_name(&r.country, lang),
            cross_border: d.crosses_border(r),
            basis: r.cross_border_basis.map(|b| cross_border_basis(b, lang)),
            description: r.description.as_ref().map(&sentence_part),
            purposes: join(
                d.purposes
                    .values()
                    .filter(|p| p.recipients.iter().any(|x| x == key))
                    .map(|p| inside(&p.label))
                    .collect(),
            ),
        })
        .collect();
    let cross_border = recipients
        .iter()
        .filter(|r| r.cross_border)
        .cloned()
        .collect();
    let retention = d
        .retention
        .values()
        .map(|r| RetentionPart {
            label: t(&r.label),
            period: period(r, lang),
            action: match r.action {
                RetentionAction::Destroy => tr(lang, "жою", "уничтожение", "destruction"),
                RetentionAction::Depersonalize => {
                    tr(lang, "иесіздендіру", "обезличивание", "depersonalization")
                }
            },
            basis: r.basis.as_ref().map(t),
        })
        .collect();
    let term = |k: DeadlineKind| {
        let dl = d.deadlines.get(k);
        term_words(
            dl.days,
            dl.calendar == crate::declaration::CalendarKind::Working,
            lang,
        )
    };
    // Every answer a subject can ask for; the breach notice is the operator's own duty, told
    // in the security section.
    let deadlines = DeadlineKind::ALL
        .into_iter()
        .filter(|k| *k != DeadlineKind::BreachNotification)
        .map(|k| DeadlinePart {
            what: deadline_label(k, lang),
            term: term(k),
        })
        .collect();
    let reps = crate::declaration::representative_categories(d)
        .iter()
        .filter_map(|c| d.subject_categories.get(c).map(|c| t(&c.label)))
        .collect();
    let cookies = d
        .cookies
        .categories
        .iter()
        .map(|(key, c)| CookieCategoryPart {
            label: t(&c.label),
            description: t(&c.description),
            required: c.required,
            services: d
                .cookies
                .services
                .values()
                .filter(|s| &s.category == key)
                .map(|s| CookieServicePart {
                    label: t(&s.label),
                    provider: s.provider.clone(),
                    country: country_name(&s.country, lang),
                    lifetime: count_words(s.lifetime_days, Unit::Day, lang),
                    purpose: t(&s.purpose),
                })
                .collect(),
        })
        .collect();
    PolicyContext {
        language: lang,
        version: d.version.clone(),
        effective_from: d
            .effective_date()
            .map(|x| format_date(x, lang))
            .unwrap_or_else(|| d.effective_from.clone()),
        operator: OperatorPart {
            name: t(&o.name),
            bin: o.bin.clone(),
            address: t(&o.address),
            email: o.email.clone(),
            phone: o.phone.clone(),
            website: o.website.clone(),
            responsible_name: t(&o.responsible_person.name),
            responsible_position: o.responsible_person.position_in(lang),
            responsible_email: o.responsible_person.email.clone(),
            responsible_phone: o.responsible_person.phone.clone(),
            approval: o.approval.as_ref().map(|a| ApprovalPart {
                by: t(&a.by),
                act: a.act.as_ref().map(t),
                date: crate::declaration::parse_date(&a.date)
                    .map(|x| format_date(x, lang))
                    .unwrap_or_else(|| a.date.clone()),
            }),
        },
        storage_country: country_name(&d.storage_country, lang),
        storage_territory: territory(&d.storage_country, lang),
        categories,
        purposes,
        recipients,
        cross_border,
        retention,
        deadlines,
        complaint_term: term(DeadlineKind::Complaint),
        breach_term: term(DeadlineKind::BreachNotification),
        minors: MinorsPart {
            age_of_majority: d.minors.age_of_majority,
            age_words: count_words(d.minors.age_of_majority, Unit::Year, lang),
            age_genitive: match lang {
                Lang::Ru => {
                    let n = d.minors.age_of_majority;
                    format!("{n} {}", ru_plural(n, "года", "лет", "лет"))
                }
                _ => count_words(d.minors.age_of_majority, Unit::Year, lang),
            },
            representatives: join(reps),
            reconsent: d.minors.on_majority == OnMajority::RequireReconsent,
        },
        cookies,
        automatic: d
            .fields
            .values()
            .filter(|f| f.source == Source::Automatic)
            .map(|f| inside(&f.label))
            .collect(),
        authority: d.authorized_body.describe(lang),
        any_consent: d
            .purposes
            .values()
            .any(|p| p.legal_basis == crate::declaration::LegalBasis::Consent),
        blank: BLANK,
        services: d
            .services
            .values()
            .map(|s| ServicePart {
                label: t(&s.label),
                address: s.address.clone(),
            })
            .collect(),
        // The templates end the sentence themselves.
        automated: d.automated_processing.as_ref().map(|a| AutomatedPart {
            decisions: a.decisions,
            profiling: a.profiling,
            decisions_description: a.decisions_description.as_ref().map(&sentence_part),
            profiling_description: a.profiling_description.as_ref().map(&sentence_part),
        }),
        court: d.disputes.court.as_ref().map(&sentence_part),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_each_language_s_form() {
        assert_eq!(count_words(1, Unit::Year, Lang::Ru), "1 год");
        assert_eq!(count_words(3, Unit::Year, Lang::Ru), "3 года");
        assert_eq!(count_words(5, Unit::Year, Lang::Ru), "5 лет");
        assert_eq!(count_words(21, Unit::Day, Lang::Ru), "21 день");
        assert_eq!(count_words(5, Unit::Year, Lang::Kk), "5 жыл");
        assert_eq!(count_words(1, Unit::Month, Lang::En), "1 month");
        assert_eq!(count_words(18, Unit::Year, Lang::En), "18 years");
        assert_eq!(term_words(3, true, Lang::Kk), "3 жұмыс күні");
        assert_eq!(term_words(30, false, Lang::Kk), "30 күнтізбелік күн");
        assert_eq!(term_words(1, true, Lang::Ru), "1 рабочий день");
    }
}

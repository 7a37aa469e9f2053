//! Checking and normalizing the values of declared fields.

use crate::declaration::{Declaration, Field, Validator};
use crate::identifiers::{
    parse_email, parse_iban_kz, parse_phone_kz, Bin, IdentifierError, Iin, PhoneKind,
};
use crate::text::{tr, Lang};
use serde::Serialize;
use thiserror::Error;
use time::Date;

/// Why a value was refused. Never contains the value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("{0}")]
    Identifier(#[from] IdentifierError),
    #[error("is empty; leave the field out instead (or send null to erase it)")]
    Empty,
    #[error("is longer than {max} characters ({got})")]
    TooLong { max: usize, got: usize },
    #[error("contains control characters")]
    Control,
    #[error("is not a date: write it as YYYY-MM-DD")]
    Date,
    #[error("is not one of the allowed values: {}", allowed.join(", "))]
    NotInList { allowed: Vec<String> },
    #[error("contains invisible or direction-changing characters (zero-width or bidirectional controls), which can make a name look like another; type it again without them")]
    Invisible,
    #[error("gives a birth date {0}")]
    BirthDate(&'static str),
    #[error("must be the SHA-256 of the file: 64 lower-case hexadecimal digits")]
    NotSha256,
    #[error("has passed; give today or a later date, or leave it out")]
    DatePassed,
    #[error("is neither a subject id (UUID) nor a valid IIN")]
    NotSubjectOrIin,
    #[error("no subject has this IIN; create the subject first")]
    NoSuchSubject,
    #[error("several subjects have this IIN; give the subject id instead")]
    SeveralSubjects,
    #[error("a subject cannot be their own legal representative")]
    OwnRepresentative,
    #[error("names a subject of a category that is not one of legal representatives")]
    NotARepresentative,
    /// A lifecycle event that cannot be recorded.
    #[error("{}", .0.message())]
    Lifecycle(crate::lifecycle::LifecycleProblem),
}

impl ValueError {
    /// Why the value was refused, for the person who typed it, in `lang` (never the value).
    pub fn explain(&self, lang: Lang) -> String {
        match self {
            ValueError::Identifier(e) => e.explain(lang),
            ValueError::Empty => tr(lang, "Мән енгізілмеген.", "Значение не указано.", "No value is given.").into(),
            ValueError::TooLong { max, got } => match lang {
                Lang::Kk => format!("{max} таңбадан аспауы тиіс ({got} таңба енгізілді)."),
                Lang::Ru => format!("Не более {max} символов (введено {got})."),
                Lang::En => format!("At most {max} characters ({got} given)."),
            },
            ValueError::Control => tr(
                lang,
                "Басқару таңбалары болмауы тиіс.",
                "Не должно содержать управляющих символов.",
                "It must not contain control characters.",
            )
            .into(),
            ValueError::Date => tr(
                lang,
                "Күн емес: ЖЖЖЖ-АА-КК түрінде жазыңыз.",
                "Это не дата: запишите её как ГГГГ-ММ-ДД.",
                "Not a date: write it as YYYY-MM-DD.",
            )
            .into(),
            ValueError::NotInList { allowed } => match lang {
                Lang::Kk => format!("Рұқсат етілген мәндердің бірі болуы тиіс: {}.", allowed.join(", ")),
                Lang::Ru => format!("Должно быть одним из допустимых значений: {}.", allowed.join(", ")),
                Lang::En => format!("Must be one of the allowed values: {}.", allowed.join(", ")),
            },
            ValueError::Invisible => tr(
                lang,
                "Көрінбейтін немесе мәтін бағытын өзгертетін таңбалар бар: олар атауды басқа атауға ұқсатып көрсетуі мүмкін. Оларсыз қайта теріңіз.",
                "Содержит невидимые символы или символы смены направления текста: из-за них имя может выглядеть как другое. Наберите его заново без них.",
                "It contains invisible or direction-changing characters, which can make a name look like another. Type it again without them.",
            )
            .into(),
            ValueError::NotSha256 => tr(
                lang,
                "Файлдың SHA-256 хэші болуы тиіс: 64 он алтылық таңба (мысалы, sha256sum scan.pdf командасы береді).",
                "Должно быть значением SHA-256 файла: 64 шестнадцатеричных символа (их выдаёт, например, команда sha256sum scan.pdf).",
                "Must be the file's SHA-256: 64 hexadecimal digits (as sha256sum scan.pdf prints, for example).",
            )
            .into(),
            ValueError::DatePassed => tr(
                lang,
                "Бұл күн өтіп кетті: бүгінгі немесе одан кейінгі күнді көрсетіңіз не бос қалдырыңыз.",
                "Эта дата уже прошла: укажите сегодняшнюю или более позднюю дату либо оставьте поле пустым.",
                "This date has passed: give today or a later date, or leave it empty.",
            )
            .into(),
            ValueError::NotSubjectOrIin => tr(
                lang,
                "Субъектінің идентификаторы (UUID) да, дұрыс ЖСН де емес.",
                "Это не идентификатор субъекта (UUID) и не правильный ИИН.",
                "Neither a subject's id (UUID) nor a valid IIN.",
            )
            .into(),
            ValueError::NoSuchSubject => tr(
                lang,
                "Мұндай ЖСН-і немесе идентификаторы бар субъект жоқ: алдымен субъектіні қосыңыз.",
                "Субъекта с таким ИИН или идентификатором нет: сначала добавьте субъекта.",
                "No subject has this IIN or id: add the subject first.",
            )
            .into(),
            ValueError::SeveralSubjects => tr(
                lang,
                "Бұл ЖСН бірнеше субъектіде бар: оның орнына субъектінің идентификаторын көрсетіңіз.",
                "Этот ИИН есть у нескольких субъектов: укажите вместо него идентификатор субъекта.",
                "Several subjects have this IIN: give the subject's id instead.",
            )
            .into(),
            ValueError::OwnRepresentative => tr(
                lang,
                "Субъект өзінің заңды өкілі бола алмайды.",
                "Субъект не может быть своим собственным законным представителем.",
                "A subject cannot be their own legal representative.",
            )
            .into(),
            ValueError::NotARepresentative => tr(
                lang,
                "Бұл субъект заңды өкілдер санатына жатпайды: алдымен өкілді осы санатта қосыңыз.",
                "Этот субъект не относится к категории законных представителей: сначала добавьте представителя в этой категории.",
                "This subject is not of a legal representatives' category: add the representative in that category first.",
            )
            .into(),
            ValueError::Lifecycle(p) => p.explain(lang),
            ValueError::BirthDate(when) => if *when == "in the future" {
                tr(
                    lang,
                    "Туған күн болашақта болуы мүмкін емес.",
                    "Дата рождения не может быть в будущем.",
                    "A birth date cannot be in the future.",
                )
            } else {
                tr(
                    lang,
                    "Туған күн 1900 жылдан ерте болуы мүмкін емес.",
                    "Дата рождения не может быть раньше 1900 года.",
                    "A birth date cannot be before 1900.",
                )
            }
            .into(),
        }
    }
}

/// Characters that show nothing, or turn the direction of the text: a name holding them can look
/// like another name.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{061C}'
            | '\u{FEFF}'
    )
}

/// The earliest birth date derbes takes: no one born before it is alive.
pub const EARLIEST_BIRTH_YEAR: i32 = 1900;

/// Refuses a birth date in the future or before 1900, whether given as `birth_date` or encoded
/// in an IIN.
fn check_birth(key: &str, field: &Field, value: &str, today: Date) -> Result<(), ValueError> {
    let birth = match field.validator {
        Validator::Date if key == "birth_date" => crate::declaration::parse_date(value),
        Validator::Iin => Iin::parse(value).ok().map(|i| i.birth_date()),
        _ => None,
    };
    match birth {
        Some(b) if b > today => Err(ValueError::BirthDate("in the future")),
        Some(b) if b.year() < EARLIEST_BIRTH_YEAR => Err(ValueError::BirthDate("before 1900")),
        _ => Ok(()),
    }
}

/// Checks `raw` against the field's validator and returns the value derbes stores.
pub fn normalize(field: &Field, raw: &str) -> Result<String, ValueError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(ValueError::Empty);
    }
    Ok(match field.validator {
        Validator::Iin => Iin::parse(trimmed)?.as_str().to_owned(),
        Validator::Bin => Bin::parse(trimmed)?.as_str().to_owned(),
        Validator::PhoneKz => parse_phone_kz(trimmed, PhoneKind::Mobile)?,
        Validator::Email => parse_email(trimmed)?,
        Validator::IbanKz => parse_iban_kz(trimmed)?,
        Validator::Date => {
            let d = crate::declaration::parse_date(trimmed).ok_or(ValueError::Date)?;
            crate::audit::format_date(d)
        }
        Validator::Enum => {
            if field.values.iter().any(|v| v == trimmed) {
                trimmed.to_owned()
            } else {
                return Err(ValueError::NotInList {
                    allowed: field.values.clone(),
                });
            }
        }
        Validator::Text => {
            if trimmed
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t')
            {
                return Err(ValueError::Control);
            }
            if trimmed.chars().any(is_invisible) {
                return Err(ValueError::Invisible);
            }
            let got = trimmed.chars().count();
            if got > field.max_length() {
                return Err(ValueError::TooLong {
                    max: field.max_length(),
                    got,
                });
            }
            trimmed.to_owned()
        }
    })
}

/// A problem with one field of a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldProblem {
    pub field: String,
    pub message: String,
    /// Why the value was refused, when it was its value (for the message in a person's
    /// language: [`ValueError::explain`]).
    #[serde(skip)]
    pub reason: Option<ValueError>,
}

/// Checks that every field is declared for `category` and every value passes its validator
/// (birth dates against `today`). Returns the normalized values, or every problem found. `None`
/// values (erasures) pass through.
pub fn check_values(
    declaration: &Declaration,
    category: &str,
    values: Vec<(String, Option<String>)>,
    today: Date,
) -> Result<Vec<(String, Option<String>)>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(values.len());
    for (key, value) in values {
        let Some(field) = declaration.field(&key) else {
            problems.push(FieldProblem {
                message: format!("field `{key}` is not declared; the declaration lists the fields derbes may store"),
                field: key,
                            reason: None,
            });
            continue;
        };
        if !field.categories.iter().any(|c| c == category) {
            problems.push(FieldProblem {
                message: format!(
                    "field `{key}` is not declared for subjects of category `{category}` (it is for: {})",
                    field.categories.join(", ")
                ),
                field: key,
                            reason: None,
            });
            continue;
        }
        let checked = value
            .as_deref()
            .map(|v| {
                let n = normalize(field, v)?;
                check_birth(&key, field, &n, today)?;
                Ok::<_, ValueError>(n)
            })
            .transpose();
        match checked {
            Ok(v) => out.push((key, v)),
            Err(e) => problems.push(FieldProblem {
                message: format!("`{key}` ({}) {e}", field.validator.name()),
                field: key,
                reason: Some(e),
            }),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every refusal of a value is explained in each language, in that language's words, and a
    /// refused IIN keeps its reason for the page that shows it.
    #[test]
    fn refusals_are_explained_in_every_language() {
        use IdentifierError as I;
        let all = [
            ValueError::Empty,
            ValueError::TooLong { max: 100, got: 120 },
            ValueError::Control,
            ValueError::Date,
            ValueError::NotInList {
                allowed: vec!["a".into()],
            },
            ValueError::Invisible,
            ValueError::BirthDate("in the future"),
            ValueError::BirthDate("before 1900"),
            ValueError::NotSha256,
            ValueError::DatePassed,
            ValueError::NotSubjectOrIin,
            ValueError::NoSuchSubject,
            ValueError::SeveralSubjects,
            ValueError::OwnRepresentative,
            ValueError::NotARepresentative,
        ]
        .into_iter()
        .chain(
            [
                I::Length12(11),
                I::NotDigits,
                I::CheckDigit,
                I::CenturySex,
                I::BirthDate,
                I::RegistrationMonth,
                I::BinType,
                I::BinUnit,
                I::PhoneFormat,
                I::PhoneNotMobile,
                I::Email,
                I::IbanFormat,
                I::IbanChecksum,
            ]
            .map(ValueError::Identifier),
        );
        for e in all {
            let [kk, ru, en] = Lang::ALL.map(|l| e.explain(l));
            assert!(
                kk != en && ru != en && kk != ru,
                "{e:?}: {kk} / {ru} / {en}"
            );
            assert!(
                kk.chars().any(|c| "әғқңөұүһі".contains(c)) || kk.contains("ЖСН"),
                "{e:?}: {kk}"
            );
        }
        let d = load();
        let refused = check_values(
            &d,
            "student",
            vec![("iin".into(), Some("061211600013".into()))],
            time::macros::date!(2026 - 12 - 07),
        );
        let problem = &refused.unwrap_err()[0];
        assert_eq!(problem.reason, Some(ValueError::Identifier(I::CheckDigit)));
        assert!(problem
            .reason
            .as_ref()
            .unwrap()
            .explain(Lang::Ru)
            .contains("Контрольная цифра"));
    }

    fn load() -> Declaration {
        Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
            .unwrap()
            .declaration
    }

    fn check(key: &str, value: &str) -> Result<(), String> {
        let today = time::macros::date!(2026 - 12 - 03);
        check_values(
            &load(),
            "student",
            vec![(key.into(), Some(value.into()))],
            today,
        )
        .map(|_| ())
        .map_err(|p| p[0].message.clone())
    }

    #[test]
    fn names_refuse_invisible_and_direction_changing_characters() {
        assert_eq!(check("surname", "Нұрланова"), Ok(()));
        for sneaky in [
            "Нұр\u{200B}ланова",
            "Нұрланова\u{202E}",
            "\u{2066}Әли",
            "Әли\u{FEFF}",
        ] {
            let e = check("surname", sneaky).unwrap_err();
            assert!(e.contains("invisible or direction-changing"), "{e}");
            assert!(!e.contains("Нұр"), "a message never holds the value: {e}");
        }
    }

    #[test]
    fn birth_dates_are_neither_in_the_future_nor_before_1900() {
        assert_eq!(check("birth_date", "2006-12-11"), Ok(()));
        assert!(check("birth_date", "2027-01-01")
            .unwrap_err()
            .contains("in the future"));
        assert!(check("birth_date", "1899-12-31")
            .unwrap_err()
            .contains("before 1900"));
        // 061211600012: born 11 December 2006; an IIN of a birth yet to come is refused.
        assert_eq!(check("iin", "061211600012"), Ok(()));
        let future = crate::identifiers::Iin::compose(
            time::macros::date!(2027 - 05 - 01),
            crate::identifiers::Sex::Female,
            1,
        )
        .or_else(|| {
            crate::identifiers::Iin::compose(
                time::macros::date!(2027 - 05 - 01),
                crate::identifiers::Sex::Female,
                2,
            )
        })
        .unwrap();
        assert!(check("iin", future.as_str())
            .unwrap_err()
            .contains("in the future"));
    }
}

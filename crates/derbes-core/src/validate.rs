//! Checking and normalizing the values of declared fields.

use crate::declaration::{Declaration, Field, Validator};
use crate::identifiers::{
    parse_email, parse_iban_kz, parse_phone_kz, Bin, IdentifierError, Iin, PhoneKind,
};
use serde::Serialize;
use thiserror::Error;

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
}

/// Checks that every field is declared for `category` and every value passes its validator.
/// Returns the normalized values, or every problem found. `None` values (erasures) pass through.
pub fn check_values(
    declaration: &Declaration,
    category: &str,
    values: Vec<(String, Option<String>)>,
) -> Result<Vec<(String, Option<String>)>, Vec<FieldProblem>> {
    let mut problems = Vec::new();
    let mut out = Vec::with_capacity(values.len());
    for (key, value) in values {
        let Some(field) = declaration.field(&key) else {
            problems.push(FieldProblem {
                message: format!("field `{key}` is not declared; the declaration lists the fields derbes may store"),
                field: key,
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
            });
            continue;
        }
        match value.as_deref().map(|v| normalize(field, v)).transpose() {
            Ok(v) => out.push((key, v)),
            Err(e) => problems.push(FieldProblem {
                message: format!("`{key}` ({}) {e}", field.validator.name()),
                field: key,
            }),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

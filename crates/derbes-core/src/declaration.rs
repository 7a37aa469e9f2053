//! The declaration: the operator's privacy policy as a TOML file, and its check.
//!
//! [`Declaration::load`] parses a file and runs every rule of `docs/declaration.md`; problems carry
//! the line and column they point at, what is wrong and how to fix it.

mod check;
mod labels;
mod location;
mod model;

pub use check::{representative_categories, Problem, Severity};
pub use model::*;

use sha2::{Digest, Sha256};

/// A declaration that passed the check, with the warnings the check raised.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub declaration: Declaration,
    pub warnings: Vec<Problem>,
}

impl Declaration {
    /// Parses and checks a declaration. `Err` holds every problem found (errors and warnings);
    /// `Ok` holds the declaration and its warnings.
    pub fn load(source: &str) -> Result<Loaded, Vec<Problem>> {
        check::load(source)
    }

    /// A declaration recorded earlier, as it was: parsed without today's rules, which may have
    /// grown stricter since it was checked and recorded. `Err` says where the text is not a
    /// declaration at all.
    pub fn load_recorded(source: &str) -> Result<Declaration, String> {
        toml_edit::de::from_str(source).map_err(|e| e.message().to_owned())
    }

    /// SHA-256 of the source text, hex: identifies a declaration's exact content.
    pub fn content_hash(source: &str) -> String {
        hex(&Sha256::digest(source.as_bytes()))
    }
}

/// Is `s` shaped like a declaration code (the key of a field, purpose, category, …): lower-case
/// ASCII letters, digits and `_`, starting with a letter?
pub fn is_code(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(test)]
pub(crate) mod check_fixture {
    pub(crate) use super::check::tests::MINIMAL;
}

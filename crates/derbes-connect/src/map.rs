//! The dataset map: where a subject's data live in one of the operator's databases and what a
//! destruction does to each column.
//!
//! ```toml
//! name = "platform"
//! database = "postgres://derbes@db.school.kz/platform"
//!
//! [identity]            # the table whose rows are the subject
//! table = "users"
//! key = "id"            # the column other tables reference
//! column = "iin"        # holds the subject's identifier ...
//! field = "iin"         # ... which is this declared field's value in derbes
//!
//! [[tables]]
//! table = "users"
//! columns.iin = { field = "iin", masking = "hash" }
//! columns.full_name = { field = "surname", masking = "redact" }
//! columns.created_at = {}                 # listed for access, kept on destruction
//!
//! [[tables]]
//! table = "enrolments"
//! reference = "user_id"                   # holds users.id
//! masking = "delete_row"
//! columns.course = {}
//! ```
//!
//! Tables other than the identity table reach the subject through `reference`, a column holding
//! the identity table's `key`. Names are plain SQL identifiers (letters, digits, `_`, optionally
//! `schema.table`), so they are quoted, never interpolated from input.

use indexmap::IndexMap;
use serde::Deserialize;

/// What a destruction does to a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Masking {
    /// Set to NULL.
    Null,
    /// Replaced by the SHA-256 of the value with a random salt of this destruction: unique
    /// values stay unique (a unique e-mail column), and none can be recovered or linked.
    Hash,
    /// Replaced by the text `[redacted]`; for text columns.
    Redact,
}

impl Masking {
    pub fn code(self) -> &'static str {
        match self {
            Masking::Null => "null",
            Masking::Hash => "hash",
            Masking::Redact => "redact",
        }
    }
}

/// What a destruction does to a whole table's rows of the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableMasking {
    DeleteRow,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub table: String,
    pub key: String,
    pub column: String,
    pub field: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnMap {
    /// The declared field the column holds, if it holds one.
    pub field: Option<String>,
    /// What a destruction does to it; kept when absent.
    pub masking: Option<Masking>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableMap {
    pub table: String,
    /// The column holding the identity table's key; absent for the identity table itself.
    pub reference: Option<String>,
    pub masking: Option<TableMasking>,
    #[serde(default)]
    pub columns: IndexMap<String, ColumnMap>,
}

/// Where the platform records its users' lifecycles: columns of the identity table holding a
/// day (a date or a timestamp), empty while nothing has happened.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LifecycleMap {
    /// The day the relationship ended (e.g. `left_at`).
    pub relationship_ended: Option<String>,
    /// Why it ended, as the platform words it; derbes keeps it sealed.
    pub reason: Option<String>,
    /// The day each declared purpose was achieved for the user, by purpose.
    #[serde(default)]
    pub purposes_achieved: IndexMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetMap {
    pub name: String,
    pub database: String,
    pub identity: Identity,
    pub tables: Vec<TableMap>,
    /// Where the platform records lifecycles, if it does.
    pub lifecycle: Option<LifecycleMap>,
}

/// A problem with a dataset map: where, what, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{place}: {problem}; {fix}")]
pub struct MapProblem {
    pub place: String,
    pub problem: String,
    pub fix: String,
}

fn problem(place: impl Into<String>, problem: impl Into<String>, fix: &str) -> MapProblem {
    MapProblem {
        place: place.into(),
        problem: problem.into(),
        fix: fix.to_owned(),
    }
}

/// A plain SQL identifier: `name` or `schema.name`, each part letters, digits and `_`, not
/// starting with a digit, at most 63 characters.
pub fn is_identifier(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && p.len() <= 63
            && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !p.starts_with(|c: char| c.is_ascii_digit())
    };
    match s.split_once('.') {
        Some((schema, name)) => part(schema) && part(name),
        None => part(s),
    }
}

impl DatasetMap {
    /// Reads and checks a map; `declared` tells whether a field key is declared, `purpose`
    /// whether a purpose key is.
    pub fn parse(
        text: &str,
        declared: impl Fn(&str) -> bool,
        purpose: impl Fn(&str) -> bool,
    ) -> Result<Self, Vec<MapProblem>> {
        let map: DatasetMap = toml_edit::de::from_str(text).map_err(|e| {
            vec![problem(
                "the map",
                e.message().trim().to_owned(),
                "see docs/connectors.md for the map's keys",
            )]
        })?;
        let mut problems = map.check(declared);
        if let Some(life) = &map.lifecycle {
            problems.extend(life.check(purpose));
        }
        if problems.is_empty() {
            Ok(map)
        } else {
            Err(problems)
        }
    }

    fn check(&self, declared: impl Fn(&str) -> bool) -> Vec<MapProblem> {
        let mut out = Vec::new();
        let ident = |out: &mut Vec<MapProblem>, place: String, s: &str| {
            if !is_identifier(s) {
                out.push(problem(
                    place,
                    format!("`{s}` is not a plain SQL identifier"),
                    "use letters, digits and _ (schema.table for another schema)",
                ));
            }
        };
        if self.name.is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            out.push(problem(
                "name",
                format!("`{}` is not a connector name", self.name),
                "use letters, digits, - and _",
            ));
        }
        if crate::Backend::of(&self.database).is_none() {
            out.push(problem(
                "database",
                "is not a postgres://, mysql:// or sqlite: address",
                "write postgres://user@host/db, mysql://user@host:3306/db or sqlite:/path/file.db",
            ));
        }
        let id = &self.identity;
        ident(&mut out, "identity.table".into(), &id.table);
        ident(&mut out, "identity.key".into(), &id.key);
        ident(&mut out, "identity.column".into(), &id.column);
        if !declared(&id.field) {
            out.push(problem(
                "identity.field",
                format!("`{}` is not a declared field", id.field),
                "name the declared field whose value the identity column holds",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        let mut identity_listed = false;
        for (i, t) in self.tables.iter().enumerate() {
            let place = format!("tables[{i}] ({})", t.table);
            ident(&mut out, format!("{place}.table"), &t.table);
            if !seen.insert(t.table.as_str()) {
                out.push(problem(
                    &place,
                    "the table is listed twice",
                    "list each table once",
                ));
            }
            let is_identity = t.table == id.table;
            identity_listed |= is_identity;
            match (&t.reference, is_identity) {
                (None, false) => out.push(problem(
                    &place,
                    "has no `reference`",
                    &format!(
                        "name the column that holds {}.{} for the subject's rows",
                        id.table, id.key
                    ),
                )),
                (Some(_), true) => out.push(problem(
                    &place,
                    "the identity table takes no `reference`",
                    "leave it out: its rows are found by the identity column",
                )),
                (Some(r), false) => ident(&mut out, format!("{place}.reference"), r),
                (None, true) => {}
            }
            if t.columns.is_empty() && t.masking.is_none() {
                out.push(problem(
                    &place,
                    "lists no columns and no masking",
                    "list the columns that hold personal data, or set masking = \"delete_row\"",
                ));
            }
            for (c, m) in &t.columns {
                let cplace = format!("{place}.columns.{c}");
                ident(&mut out, cplace.clone(), c);
                if t.masking.is_some() && m.masking.is_some() {
                    out.push(problem(
                        &cplace,
                        "has a masking of its own in a table whose rows are deleted",
                        "leave the column's masking out",
                    ));
                }
                if let Some(f) = &m.field {
                    if !declared(f) {
                        out.push(problem(
                            &cplace,
                            format!("`{f}` is not a declared field"),
                            "name a field of the declaration, or leave `field` out",
                        ));
                    }
                }
            }
        }
        if !identity_listed {
            out.push(problem(
                "tables",
                format!("the identity table `{}` is not listed", id.table),
                "add a [[tables]] entry for it with the columns that hold personal data",
            ));
        }
        out
    }
}

impl LifecycleMap {
    fn check(&self, declared: impl Fn(&str) -> bool) -> Vec<MapProblem> {
        let mut out = Vec::new();
        let columns = self
            .relationship_ended
            .iter()
            .map(|c| ("lifecycle.relationship_ended".to_owned(), c))
            .chain(
                self.reason
                    .iter()
                    .map(|c| ("lifecycle.reason".to_owned(), c)),
            )
            .chain(
                self.purposes_achieved
                    .iter()
                    .map(|(p, c)| (format!("lifecycle.purposes_achieved.{p}"), c)),
            );
        for (place, c) in columns {
            if !is_identifier(c) {
                out.push(problem(
                    place,
                    format!("`{c}` is not a plain SQL identifier"),
                    "name a column of the identity table: letters, digits and _",
                ));
            }
        }
        if self.relationship_ended.is_none() && self.purposes_achieved.is_empty() {
            out.push(problem(
                "lifecycle",
                "maps no column",
                "set relationship_ended = \"<column>\" or purposes_achieved.<purpose> = \"<column>\"",
            ));
        }
        if self.reason.is_some() && self.relationship_ended.is_none() {
            out.push(problem(
                "lifecycle.reason",
                "is a reason for no end of the relationship",
                "set relationship_ended too, or leave reason out",
            ));
        }
        for p in self.purposes_achieved.keys() {
            if !declared(p) {
                out.push(problem(
                    format!("lifecycle.purposes_achieved.{p}"),
                    format!("`{p}` is not a declared purpose"),
                    "name a purpose of the declaration",
                ));
            }
        }
        out
    }
}

impl DatasetMap {
    /// The tables in the order a destruction handles them: the identity table last, since the
    /// others find their rows through it.
    pub fn destruction_order(&self) -> impl Iterator<Item = &TableMap> {
        self.tables
            .iter()
            .filter(|t| t.table != self.identity.table)
            .chain(
                self.tables
                    .iter()
                    .filter(|t| t.table == self.identity.table),
            )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"
name = "platform"
database = "postgres://derbes@127.0.0.1/test"

[identity]
table = "users"
key = "id"
column = "iin"
field = "iin"

[[tables]]
table = "enrolments"
reference = "user_id"
masking = "delete_row"
columns.course = {}

[[tables]]
table = "users"
columns.iin = { field = "iin", masking = "hash" }
columns.full_name = { field = "surname", masking = "redact" }
columns.created_at = {}
"#;

    fn declared(f: &str) -> bool {
        matches!(f, "iin" | "surname" | "email")
    }

    #[test]
    fn a_good_map_reads_and_orders_the_identity_table_last() {
        let m = DatasetMap::parse(SAMPLE, declared, |_| true).unwrap();
        let order: Vec<&str> = m.destruction_order().map(|t| t.table.as_str()).collect();
        assert_eq!(order, ["enrolments", "users"]);
        assert_eq!(m.tables[1].columns["iin"].masking, Some(Masking::Hash));
    }

    #[test]
    fn every_problem_is_named_with_its_place_and_fix() {
        let bad = SAMPLE
            .replace("reference = \"user_id\"", "")
            .replace("field = \"surname\"", "field = \"nickname\"")
            .replace(
                "columns.created_at = {}",
                "columns.\"created at; DROP\" = {}",
            );
        let problems = DatasetMap::parse(&bad, declared, |_| true).unwrap_err();
        let places: Vec<&str> = problems.iter().map(|p| p.place.as_str()).collect();
        assert!(places.contains(&"tables[0] (enrolments)"), "{problems:?}");
        assert!(
            places.contains(&"tables[1] (users).columns.full_name"),
            "{problems:?}"
        );
        assert!(
            places.contains(&"tables[1] (users).columns.created at; DROP"),
            "{problems:?}"
        );
        let unknown = DatasetMap::parse(
            &SAMPLE.replace("masking = \"hash\"", "masking = \"shred\""),
            declared,
            |_| true,
        )
        .unwrap_err();
        assert!(unknown[0].problem.contains("shred"), "{unknown:?}");
        let no_identity = DatasetMap::parse(
            &SAMPLE.replace("table = \"users\"\ncolumns", "table = \"people\"\ncolumns"),
            declared,
            |_| true,
        )
        .unwrap_err();
        assert!(
            no_identity
                .iter()
                .any(|p| p.problem.contains("identity table `users` is not listed")),
            "{no_identity:?}"
        );
    }

    #[test]
    fn identifiers_are_plain() {
        for ok in ["users", "lms.users", "_x1", "User_Data"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "1users",
            "us ers",
            "a.b.c",
            "a;b",
            "\"users\"",
            "a.",
            "ü",
        ] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }
}

//! The rules a declaration must satisfy (see `docs/declaration.md`).

use super::location::{line_column, locate, Path};
use super::model::*;
use super::Loaded;
use crate::identifiers::{parse_email, parse_phone_kz, Bin, Iin, PhoneKind};
use crate::text::Text;
use serde::Serialize;
use std::collections::HashSet;
use std::fmt;
use toml_edit::Document;

/// The longest answer deadline a declaration may set; beyond it a due date means nothing.
const MAX_DEADLINE_DAYS: u32 = 365;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One finding of the check: where, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// Dotted path, e.g. `purposes.education.fields[2]`; empty for the whole file.
    pub path: String,
    /// 1-based; 0 when the problem has no position.
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}:{}: {sev}", self.line, self.column)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)?;
        if !self.hint.is_empty() {
            write!(f, "\n    fix: {}", self.hint)?;
        }
        Ok(())
    }
}

struct Checker<'a> {
    source: &'a str,
    doc: Document<&'a str>,
    problems: Vec<Problem>,
}

impl Checker<'_> {
    fn report(&mut self, severity: Severity, path: &Path, message: String, hint: &str) {
        let (line, column) = locate(&self.doc, path)
            .map(|s| line_column(self.source, s.start))
            .unwrap_or((1, 1));
        self.problems.push(Problem {
            severity,
            path: path.to_string(),
            line,
            column,
            message,
            hint: hint.to_owned(),
        });
    }
    fn error(&mut self, path: &Path, message: impl Into<String>, hint: &str) {
        self.report(Severity::Error, path, message.into(), hint);
    }
    fn warning(&mut self, path: &Path, message: impl Into<String>, hint: &str) {
        self.report(Severity::Warning, path, message.into(), hint);
    }

    fn text(&mut self, path: &Path, text: &Text) {
        let missing = text.missing();
        if !missing.is_empty() {
            let langs: Vec<&str> = missing.iter().map(|l| l.code()).collect();
            self.error(
                path,
                format!("missing translation: {}", langs.join(", ")),
                "give the text in all three languages: { kk = \"…\", ru = \"…\", en = \"…\" }",
            );
        }
    }

    fn code(&mut self, path: &Path, key: &str) {
        if !super::is_code(key) {
            self.error(
                path,
                format!("`{key}` is not a valid code"),
                "use lower-case ASCII letters, digits and `_`, starting with a letter (e.g. `parent_phone`)",
            );
        }
    }

    fn country(&mut self, path: &Path, code: &str) {
        if code.len() != 2 || !code.chars().all(|c| c.is_ascii_uppercase()) {
            self.error(
                path,
                format!("`{code}` is not an ISO 3166-1 alpha-2 country code"),
                "use two capital letters, e.g. \"KZ\", \"DE\", \"US\"",
            );
        }
    }

    fn web_address(&mut self, path: &Path, address: &str) {
        let rest = address
            .strip_prefix("https://")
            .or_else(|| address.strip_prefix("http://"));
        if rest.is_none_or(|r| r.is_empty() || r.chars().any(char::is_whitespace)) {
            self.error(
                path,
                "is not a web address",
                "write the whole address, starting with https://, e.g. \"https://school.kz/\"",
            );
        }
    }

    /// Each entry of `list` must be a key of `known`, listed once.
    fn references(
        &mut self,
        path: &Path,
        list: &[String],
        known: impl Fn(&str) -> bool,
        what: &str,
        table: &str,
    ) {
        let mut seen = HashSet::new();
        for (i, item) in list.iter().enumerate() {
            let p = path.index(i);
            if !seen.insert(item.as_str()) {
                self.error(
                    &p,
                    format!("{what} `{item}` is listed twice"),
                    "remove the duplicate",
                );
            } else if !known(item) {
                self.error(
                    &p,
                    format!("{what} `{item}` is not declared"),
                    &format!("declare [{table}.{item}] or remove it from this list"),
                );
            }
        }
    }
}

pub(super) fn load(source: &str) -> Result<Loaded, Vec<Problem>> {
    let doc = match Document::parse(source) {
        Ok(doc) => doc,
        Err(e) => return Err(vec![toml_problem(source, e.span(), e.message())]),
    };
    let declaration: Declaration = match toml_edit::de::from_str(source) {
        Ok(d) => d,
        Err(e) => return Err(vec![toml_problem(source, e.span(), e.message())]),
    };
    let mut c = Checker {
        source,
        doc,
        problems: Vec::new(),
    };
    rules(&mut c, &declaration);
    if c.problems.iter().any(|p| p.severity == Severity::Error) {
        Err(c.problems)
    } else {
        Ok(Loaded {
            declaration,
            warnings: c.problems,
        })
    }
}

fn toml_problem(source: &str, span: Option<std::ops::Range<usize>>, message: &str) -> Problem {
    let (line, column) = span.map_or((1, 1), |s| line_column(source, s.start));
    let message = message.trim().to_owned();
    let hint = if message.contains("missing field") {
        "add the missing key; docs/declaration.md lists every key"
    } else if message.contains("unknown field") {
        "remove or rename the key; the expected keys are listed in the message"
    } else if message.contains("unknown variant") {
        "use one of the values listed in the message"
    } else if message.contains("duplicate key") {
        "each key may appear once; merge or rename the duplicates"
    } else {
        "fix the TOML at this position"
    };
    Problem {
        severity: Severity::Error,
        path: String::new(),
        line,
        column,
        message,
        hint: hint.to_owned(),
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one check per declared rule, in the order the declaration lists them"
)]
fn rules(c: &mut Checker<'_>, d: &Declaration) {
    let root = Path::root();
    if d.version.trim().is_empty() {
        c.error(
            &root.key("version"),
            "the version is empty",
            "give every declaration a version, e.g. \"2025.1\"",
        );
    }
    if parse_date(&d.effective_from).is_none() {
        c.error(
            &root.key("effective_from"),
            "is not a date",
            "write the date as \"YYYY-MM-DD\", e.g. \"2025-09-01\"",
        );
    }
    let sc = root.key("storage_country");
    c.country(&sc, &d.storage_country);
    if d.storage_country != "KZ" {
        c.warning(
            &sc,
            format!("databases with personal data are kept in `{}`, not in Kazakhstan", d.storage_country),
            "Law 94-V Art. 12(2) requires databases with personal data to be kept in Kazakhstan: set storage_country = \"KZ\"",
        );
    }
    operator(c, &root.key("operator"), &d.operator);

    let sc_path = root.key("subject_categories");
    if d.subject_categories.is_empty() {
        c.error(
            &sc_path,
            "no subject categories are declared",
            "declare at least one [subject_categories.<key>]",
        );
    }
    for (key, cat) in &d.subject_categories {
        let p = sc_path.key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &cat.label);
    }

    for (key, sv) in &d.services {
        let p = root.key("services").key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &sv.label);
        if let Some(a) = &sv.address {
            c.web_address(&p.key("address"), a);
        }
    }
    if let Some(a) = &d.automated_processing {
        automated_processing(c, &root.key("automated_processing"), a);
    }
    if let Some(t) = &d.disputes.court {
        c.text(&root.key("disputes").key("court"), t);
    }
    let body = root.key("authorized_body");
    c.text(&body.key("name"), &d.authorized_body.name);
    if let Some(w) = &d.authorized_body.website {
        c.web_address(&body.key("website"), w);
    }

    fields(c, d);
    purposes(c, d);
    shorter_than_a_duty(c, d);

    for (key, r) in &d.recipients {
        let p = root.key("recipients").key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &r.label);
        if let Some(t) = &r.description {
            c.text(&p.key("description"), t);
        }
        c.country(&p.key("country"), &r.country);
        if d.crosses_border(r) && r.cross_border_basis.is_none() {
            c.error(
                &p.key("country"),
                format!("a recipient in `{}` receives data across the border but has no cross-border basis", r.country),
                "set cross_border_basis (Law 94-V Art. 16): adequate_protection, consent, international_treaty, law, contract_performance or vital_interest",
            );
        }
    }
    for (key, r) in &d.retention {
        let p = root.key("retention").key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &r.label);
        if let Some(t) = &r.basis {
            c.text(&p.key("basis"), t);
        }
        if r.years == 0 && r.months == 0 && r.days == 0 {
            c.error(
                &p,
                "the retention period is zero",
                "set years, months or days to a positive number",
            );
        }
        depersonalization(c, &p, d, r);
    }
    for (key, dl) in d.deadlines.declared() {
        if dl.days == 0 {
            c.error(
                &root.key("deadlines").key(key).key("days"),
                "a deadline of 0 days cannot be met",
                "give a positive number of days (LAW.md lists the statutory ones)",
            );
        } else if dl.days > MAX_DEADLINE_DAYS {
            c.error(
                &root.key("deadlines").key(key).key("days"),
                format!("a deadline of {} days is longer than a year", dl.days),
                "the statutory deadlines are days or weeks (LAW.md lists them); give at most 365 days",
            );
        }
    }
    let minors = root.key("minors");
    if !(1..=21).contains(&d.minors.age_of_majority) {
        c.error(
            &minors.key("age_of_majority"),
            "the age of majority must be between 1 and 21",
            "the Civil Code sets 18",
        );
    }
    if let Some(reps) = &d.minors.representative_categories {
        c.references(
            &minors.key("representative_categories"),
            reps,
            |k| d.subject_categories.contains_key(k),
            "subject category",
            "subject_categories",
        );
    }
    if d.subject_categories.values().any(|s| s.may_be_minor)
        && representative_categories(d).is_empty()
    {
        c.error(
            &minors,
            "some subjects may be minors, but no category of legal representatives is declared",
            "declare [subject_categories.legal_representative] or set minors.representative_categories",
        );
    }
    let cookies = root.key("cookies");
    for (key, cat) in &d.cookies.categories {
        let p = cookies.key("categories").key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &cat.label);
        c.text(&p.key("description"), &cat.description);
    }
    for (key, s) in &d.cookies.services {
        let p = cookies.key("services").key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &s.label);
        c.text(&p.key("purpose"), &s.purpose);
        c.country(&p.key("country"), &s.country);
        if !d.cookies.categories.contains_key(&s.category) {
            c.error(
                &p.key("category"),
                format!("cookie category `{}` is not declared", s.category),
                &format!(
                    "declare [cookies.categories.{}] or use a declared category",
                    s.category
                ),
            );
        }
    }
}

fn automated_processing(c: &mut Checker<'_>, p: &Path, a: &AutomatedProcessing) {
    for (done, key, description, what) in [
        (
            a.decisions,
            "decisions",
            &a.decisions_description,
            "the logic of the decisions and what they mean for the subject",
        ),
        (
            a.profiling,
            "profiling",
            &a.profiling_description,
            "what the profiling evaluates and what it is used for",
        ),
    ] {
        let dp = p.key(&format!("{key}_description"));
        match description {
            Some(t) if done => c.text(&dp, t),
            Some(_) => c.error(
                &dp,
                format!("describes {key}, but {key} = false"),
                &format!("set {key} = true, or remove {key}_description"),
            ),
            None if done => c.error(
                &p.key(key),
                format!("{key} = true, but nothing says how"),
                &format!(
                    "add {key}_description = {{ kk = \"…\", ru = \"…\", en = \"…\" }}: {what}"
                ),
            ),
            None => {}
        }
    }
}

/// What a rule that depersonalizes keeps: declared fields, each kept in a way its values
/// allow; quasi-identifiers among the fields kept; a k that protects.
fn depersonalization(c: &mut Checker<'_>, p: &Path, d: &Declaration, r: &RetentionRule) {
    use crate::depersonalize::Kept;
    let depersonalizes = r.action == RetentionAction::Depersonalize;
    if !depersonalizes
        && (!r.depersonalize.is_empty() || r.quasi_identifiers.is_some() || r.k.is_some())
    {
        c.error(
            p,
            "says what depersonalization keeps, but the rule destroys",
            "set action = \"depersonalize\", or leave out depersonalize, quasi_identifiers and k",
        );
        return;
    }
    for (field, kept) in &r.depersonalize {
        let fp = p.key("depersonalize").key(field);
        let Some(f) = d.fields.get(field) else {
            c.error(
                &fp,
                format!("`{field}` is not a declared field"),
                "name a field of [fields]",
            );
            continue;
        };
        let fits = match kept {
            Kept::Year => matches!(f.validator, Validator::Date | Validator::Text),
            Kept::Region => f.validator == Validator::Text,
            Kept::Drop | Kept::Keep | Kept::Pseudonym => true,
        };
        if !fits {
            c.error(
                &fp,
                format!(
                    "`{}` does not fit a field checked as {:?}",
                    kept.code(),
                    f.validator
                ),
                "keep a year of a date, a region of an address (text); or keep, pseudonym, drop",
            );
        }
        if *kept == Kept::Keep && (f.lookup || f.validator.supports_lookup()) {
            c.warning(
                &fp,
                "keeps a value that identifies a person (it is looked up by)",
                "keep a pseudonym instead, or drop it",
            );
        }
    }
    if let Some(quasi) = &r.quasi_identifiers {
        for (i, q) in quasi.iter().enumerate() {
            let problem = match r.depersonalize.get(q) {
                None | Some(Kept::Drop) => "is not among the fields depersonalization keeps",
                // Each pseudonym is its own group: every record would be held back.
                Some(Kept::Pseudonym) => {
                    "is a pseudonym, which puts every record in a group of its own"
                }
                Some(_) => continue,
            };
            c.error(
                &p.key("quasi_identifiers").index(i),
                format!("`{q}` {problem}"),
                "name fields of `depersonalize` kept as a year, a region or as they are",
            );
        }
    }
    if depersonalizes
        && r.depersonalize.values().any(|k| *k != Kept::Drop)
        && r.quasi_identifiers().is_empty()
    {
        c.warning(
            p,
            "names no quasi-identifier, so a release of its records is not checked for k-anonymity",
            "list in quasi_identifiers the kept fields that together could single a person out",
        );
    }
    if let Some(k) = r.k {
        if !(2..=100).contains(&k) {
            c.error(
                &p.key("k"),
                format!("{k} is not a k between 2 and 100"),
                "leave it out for 5, or give a number from 2 to 100",
            );
        }
    }
    if depersonalizes && r.depersonalize.values().all(|k| *k == Kept::Drop) {
        c.warning(
            p,
            "depersonalizes but keeps no field: its records would be empty",
            "say in `depersonalize` what stays of each field (year, region, keep, pseudonym)",
        );
    }
}

/// The subject categories whose members may act for a minor.
pub fn representative_categories(d: &Declaration) -> Vec<String> {
    match &d.minors.representative_categories {
        Some(list) => list.clone(),
        None if d.subject_categories.contains_key("legal_representative") => {
            vec!["legal_representative".to_owned()]
        }
        None => Vec::new(),
    }
}

fn operator(c: &mut Checker<'_>, p: &Path, o: &Operator) {
    c.text(&p.key("name"), &o.name);
    c.text(&p.key("address"), &o.address);
    if Bin::parse(&o.bin).is_err() && Iin::parse(&o.bin).is_err() {
        let why = Bin::parse(&o.bin)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        c.error(
            &p.key("bin"),
            format!("is not a valid BIN: {why}"),
            "copy the 12-digit BIN from the operator's registration certificate",
        );
    }
    if parse_email(&o.email).is_err() {
        c.error(
            &p.key("email"),
            "is not an e-mail address",
            "write it as name@domain.kz",
        );
    }
    if let Err(e) = parse_phone_kz(&o.phone, PhoneKind::Any) {
        c.error(
            &p.key("phone"),
            format!("phone {e}"),
            "write it as +7 727 123 45 67",
        );
    }
    if let Some(w) = &o.website {
        c.web_address(&p.key("website"), w);
    }
    if let Some(a) = &o.approval {
        let ap = p.key("approval");
        c.text(&ap.key("by"), &a.by);
        if let Some(act) = &a.act {
            c.text(&ap.key("act"), act);
        }
        if parse_date(&a.date).is_none() {
            c.error(
                &ap.key("date"),
                "is not a date",
                "write the date of approval as YYYY-MM-DD",
            );
        }
    }
    let commission = p.key("destruction_commission");
    for (i, m) in o.destruction_commission.iter().enumerate() {
        c.text(&commission.index(i).key("name"), &m.name);
        c.text(&commission.index(i).key("position"), &m.position);
    }
    let rp = p.key("responsible_person");
    c.text(&rp.key("name"), &o.responsible_person.name);
    if let Some(position) = &o.responsible_person.position {
        c.text(&rp.key("position"), position);
        let repeats = crate::text::Lang::ALL.iter().any(|&l| {
            position.get(l).trim().to_lowercase()
                == super::ResponsiblePerson::role(l).to_lowercase()
        });
        if repeats {
            c.warning(
                &rp.key("position"),
                "repeats the role the documents already name (the person responsible for organizing the processing of personal data)",
                "give the person's job title (e.g. deputy director), or leave `position` out",
            );
        }
    }
    if parse_email(&o.responsible_person.email).is_err() {
        c.error(
            &rp.key("email"),
            "is not an e-mail address",
            "write it as name@domain.kz",
        );
    }
    if let Some(phone) = &o.responsible_person.phone {
        if let Err(e) = parse_phone_kz(phone, PhoneKind::Any) {
            c.error(
                &rp.key("phone"),
                format!("phone {e}"),
                "write it as +7 727 123 45 67",
            );
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one check per property of a field, in the order of the format"
)]
fn fields(c: &mut Checker<'_>, d: &Declaration) {
    let root = Path::root().key("fields");
    if d.fields.is_empty() {
        c.error(
            &root,
            "no fields are declared",
            "declare the personal data you process as [fields.<key>]",
        );
    }
    for (key, f) in &d.fields {
        let p = root.key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &f.label);
        if f.categories.is_empty() {
            c.error(
                &p.key("categories"),
                "the field belongs to no subject category",
                "list the subject categories it is stored for",
            );
        }
        c.references(
            &p.key("categories"),
            &f.categories,
            |k| d.subject_categories.contains_key(k),
            "subject category",
            "subject_categories",
        );
        match (f.sensitivity, f.special) {
            (Sensitivity::Special, None) => c.error(
                &p.key("sensitivity"),
                "a special-category field must say which kind it is",
                "add special = \"health\" or special = \"biometric\"",
            ),
            (s, Some(_)) if s != Sensitivity::Special => c.error(
                &p.key("special"),
                "`special` is set but the field's sensitivity is not \"special\"",
                "set sensitivity = \"special\" or remove `special`",
            ),
            _ => {}
        }
        if matches!(
            f.data_category,
            DataCategory::Health | DataCategory::Biometric
        ) && f.sensitivity != Sensitivity::Special
        {
            c.error(
                &p.key("sensitivity"),
                "health and biometric data are special categories of personal data",
                "set sensitivity = \"special\" and special = \"health\" or \"biometric\"",
            );
        }
        if f.validator == Validator::Enum {
            if f.values.is_empty() {
                c.error(
                    &p.key("values"),
                    "an enum field needs its list of values",
                    "add values = [\"…\", \"…\"]",
                );
            }
            let mut seen = HashSet::new();
            for (i, v) in f.values.iter().enumerate() {
                if !seen.insert(v) {
                    c.error(
                        &p.key("values").index(i),
                        format!("value `{v}` is listed twice"),
                        "remove the duplicate",
                    );
                }
            }
        } else if !f.values.is_empty() {
            c.error(
                &p.key("values"),
                "`values` is only for validator = \"enum\"",
                "remove `values` or set validator = \"enum\"",
            );
        }
        if let Some(max) = f.max_length {
            if f.validator != Validator::Text {
                c.error(
                    &p.key("max_length"),
                    "`max_length` is only for validator = \"text\"",
                    "remove it",
                );
            } else if max == 0 {
                c.error(
                    &p.key("max_length"),
                    "`max_length` must be positive",
                    "give the longest accepted length in characters",
                );
            }
        }
        if f.lookup && !f.validator.supports_lookup() {
            c.error(
                &p.key("lookup"),
                format!("lookup is not available for validator `{}`", f.validator.name()),
                "lookup works on iin, bin, phone_kz, email and iban_kz fields; remove lookup = true",
            );
        }
        if f.document_copy {
            c.warning(
                &p.key("document_copy"),
                "the field stores a copy of an identity document",
                "Law 44-VIII (2023) prohibits collecting copies of identity documents: store the document's details (number, issuer, dates) instead",
            );
        }
        if !d.purposes.values().any(|pu| pu.uses_field(key)) {
            c.warning(
                &p,
                "no purpose uses this field",
                "data may be collected only for a declared purpose: add the field to a purpose or remove it",
            );
        } else {
            // Used, but not for every category it is stored for: the list of personal data
            // (Art. 25) would name it for that category with no purpose.
            for (i, category) in f.categories.iter().enumerate() {
                let read = d
                    .purposes
                    .values()
                    .any(|pu| pu.uses_field(key) && pu.covers_category(category));
                if !read && d.subject_categories.contains_key(category) {
                    c.warning(
                        &p.key("categories").index(i),
                        format!("no purpose processes this field for subjects in `{category}`"),
                        "add the field to a purpose of that category, or remove the category from the field's categories",
                    );
                }
            }
        }
    }
}

/// Warns of a purpose whose retention rule ends sooner than that of a legal duty keeping one of
/// the same fields from the same start: the rendered policy would promise the field's end
/// sooner than the law lets it come (the duty keeps the field regardless).
fn shorter_than_a_duty(c: &mut Checker<'_>, d: &Declaration) {
    // Calendar lengths compared roughly: enough to tell 1 year from 3.
    let days =
        |r: &RetentionRule| u64::from(r.years) * 365 + u64::from(r.months) * 30 + u64::from(r.days);
    for (key, pu) in d
        .purposes
        .iter()
        .filter(|(_, p)| p.legal_basis != LegalBasis::LegalDuty)
    {
        let Some(rule) = d.retention.get(&pu.retention) else {
            continue;
        };
        let shorter = d.purposes.iter().find_map(|(duty, l)| {
            let lr = d.retention.get(&l.retention)?;
            let shared = pu.categories.iter().any(|c| l.covers_category(c));
            let field = pu.fields.iter().find(|f| l.uses_field(f))?;
            (l.legal_basis == LegalBasis::LegalDuty
                && shared
                && lr.starts == rule.starts
                && days(rule) < days(lr))
            .then_some((duty, &l.retention, field))
        });
        if let Some((duty, duty_rule, field)) = shorter {
            c.warning(
                &Path::root().key("purposes").key(key).key("retention"),
                format!(
                    "rule `{}` ends sooner than rule `{duty_rule}` of the legal duty `{duty}`, which keeps field `{field}` too: the field is kept for the duty's period anyway",
                    pu.retention
                ),
                "give the purpose a rule at least as long, or drop from it the fields the duty keeps, so that the policy promises no end the law does not allow",
            );
        }
    }
}

#[allow(
    clippy::too_many_lines,
    reason = "one check per property of a purpose, in the order of the format"
)]
fn purposes(c: &mut Checker<'_>, d: &Declaration) {
    let root = Path::root().key("purposes");
    if d.purposes.is_empty() {
        c.error(
            &root,
            "no purposes are declared",
            "declare why you process personal data as [purposes.<key>]",
        );
    }
    for (key, pu) in &d.purposes {
        let p = root.key(key);
        c.code(&p, key);
        c.text(&p.key("label"), &pu.label);
        c.text(&p.key("description"), &pu.description);
        match (&pu.legal_reference, pu.legal_basis) {
            (Some(t), _) => c.text(&p.key("legal_reference"), t),
            (None, LegalBasis::LegalDuty) => c.error(
                &p.key("legal_basis"),
                "a purpose based on a legal duty must name the act that imposes it",
                "add legal_reference = { kk = \"…\", ru = \"…\", en = \"…\" }",
            ),
            (None, _) => {}
        }
        if let Some(t) = &pu.withdrawal_obligation {
            c.text(&p.key("withdrawal_obligation"), t);
            if pu.legal_basis != LegalBasis::Consent {
                c.error(
                    &p.key("withdrawal_obligation"),
                    "only consent can be withdrawn, and this purpose does not rest on consent",
                    "remove withdrawal_obligation, or set legal_basis = \"consent\"",
                );
            }
        }
        if pu.categories.is_empty() {
            c.error(
                &p.key("categories"),
                "the purpose applies to no subject category",
                "list whose data it processes",
            );
        }
        c.references(
            &p.key("categories"),
            &pu.categories,
            |k| d.subject_categories.contains_key(k),
            "subject category",
            "subject_categories",
        );
        if pu.fields.is_empty() {
            c.error(
                &p.key("fields"),
                "the purpose uses no fields",
                "list the fields it may use",
            );
        }
        c.references(
            &p.key("fields"),
            &pu.fields,
            |k| d.fields.contains_key(k),
            "field",
            "fields",
        );
        for (i, fk) in pu.fields.iter().enumerate() {
            let Some(f) = d.fields.get(fk) else { continue };
            let fp = p.key("fields").index(i);
            if !pu.categories.is_empty() && !f.categories.iter().any(|cat| pu.covers_category(cat))
            {
                c.error(
                    &fp,
                    format!(
                        "field `{fk}` is not declared for any of this purpose's subject categories"
                    ),
                    &format!(
                        "add one of [{}] to fields.{fk}.categories, or remove the field",
                        pu.categories.join(", ")
                    ),
                );
            }
            if f.sensitivity == Sensitivity::Special
                && !matches!(pu.legal_basis, LegalBasis::Consent | LegalBasis::LegalDuty)
            {
                c.error(
                    &fp,
                    format!(
                        "special-category field `{fk}` is used under legal basis `{}`",
                        pu.legal_basis.name()
                    ),
                    "health and biometric data may be processed only with consent or under a legal duty: change the basis or move the field to another purpose",
                );
            }
        }
        c.references(
            &p.key("recipients"),
            &pu.recipients,
            |k| d.recipients.contains_key(k),
            "recipient",
            "recipients",
        );
        if pu.legal_basis != LegalBasis::Consent {
            for (i, rk) in pu.recipients.iter().enumerate() {
                let Some(r) = d.recipients.get(rk) else {
                    continue;
                };
                if d.crosses_border(r) && r.cross_border_basis == Some(CrossBorderBasis::Consent) {
                    c.warning(
                        &p.key("recipients").index(i),
                        format!(
                            "data go abroad to `{rk}` on the ground of the subject's consent, but this purpose rests on `{}`, so no consent form asks for that consent",
                            pu.legal_basis.name()
                        ),
                        &format!(
                            "move the transfer to a purpose with legal_basis = \"consent\", or give recipients.{rk}.cross_border_basis the Art. 16 ground that holds without consent"
                        ),
                    );
                }
            }
        }
        if !d.retention.contains_key(&pu.retention) {
            c.error(
                &p.key("retention"),
                format!("retention rule `{}` is not declared", pu.retention),
                &format!(
                    "declare [retention.{}] or use a declared rule",
                    pu.retention
                ),
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;

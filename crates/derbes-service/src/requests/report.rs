//! The access package's report to read (`report.html`): the same content as `data.json`, in
//! the requester's language, from the template `access-report.<lang>.md` through the one path
//! every document takes (MiniJinja, then Markdown made into an HTML page). The words of the
//! report are in the templates, which the operator can replace like the answer and policy
//! templates; what is prepared here are the rows, each value as text, and the names of
//! actions and outcomes in the language.

use super::package::PackageData;
use crate::render::templates::{LangTemplates, OperatorContext, ResponsibleContext, TemplateError};
use crate::vault::VaultError;
use derbes_core::consent::{ConsentAction, GivenBy};
use derbes_core::text::{format_date, format_moment, tr, Lang};
use serde::Serialize;
use std::path::Path;

/// The three report templates in use.
#[derive(Debug, Clone)]
pub struct ReportTemplates(LangTemplates);

impl Default for ReportTemplates {
    fn default() -> Self {
        ReportTemplates(crate::render::templates::shipped!("access-report", "md"))
    }
}

impl ReportTemplates {
    /// The shipped templates, each replaced by `access-report.<lang>.md` in `dir` where that
    /// file exists. Every template is checked by rendering a sample report, with every kind of
    /// row and with none.
    pub fn load(dir: Option<&Path>) -> Result<Self, TemplateError> {
        ReportTemplates::default()
            .0
            .overridden(dir, "access-report", "md", check)
            .map(ReportTemplates)
    }

    /// The report to read, in the package's language.
    pub(crate) fn report_html(&self, d: &PackageData) -> Result<String, VaultError> {
        let lang = d.language;
        render(self.0.source(lang), lang, &context(d)).map_err(|problem| {
            VaultError::Unavailable(format!(
                "the access report template for `{lang}` cannot be rendered: {problem}"
            ))
        })
    }
}

fn render(source: &str, lang: Lang, ctx: &ReportContext<'_>) -> Result<String, String> {
    crate::render::template_page(lang, "access-report.md", source, ctx)
}

/// Renders `source` with a sample report holding one row of every kind, then with none.
fn check(source: &str, lang: Lang) -> Result<(), String> {
    let operator = OperatorContext {
        name: "Үлгі мектеп".into(),
        bin: "940140000385".into(),
        address: "Алматы".into(),
        email: "info@example.kz".into(),
        phone: "+77010000000".into(),
    };
    let responsible = ResponsibleContext {
        name: "Әлиева А.".into(),
        position: Some("DPO".into()),
        title: "DPO".into(),
        email: "dpo@example.kz".into(),
    };
    let mut ctx = ReportContext {
        operator: &operator,
        responsible: &responsible,
        request_id: "0190-sample".into(),
        subject_id: "0190-subject".into(),
        category: "student",
        prepared: "2026-12-06".into(),
        fields: vec![FieldRow {
            label: "surname",
            value: "Әлиева",
            source: "subject",
            purposes: "education".into(),
        }],
        purposes: vec![PurposeRow {
            label: "education",
            description: "teaching",
            basis: "contract",
            legal_reference: Some("Law No. 319-III"),
            recipients: vec![RecipientRow {
                label: "LMS",
                kind: "processor",
                country: "Germany".into(),
                cross_border: true,
            }],
            retention: "5 years",
        }],
        consents: vec![ConsentRow {
            at: "2026-12-06".into(),
            purpose: "excursions".into(),
            action: "given",
            by: "the subject".into(),
            receipt: "receipts/0190.json".into(),
        }],
        flags: vec![
            FlagRow {
                purpose: None,
                since: "2026-12-06".into(),
                until: None,
            },
            FlagRow {
                purpose: Some("excursions".into()),
                since: "2026-12-06".into(),
                until: Some("2026-12-31".into()),
            },
        ],
        history: vec![HistoryRow {
            at: "2026-12-06T10:00:00.000000Z",
            actor: "staff:journal",
            action: "read".into(),
            purpose: "education".into(),
            fields: "surname".into(),
            outcome: "done",
        }],
        systems: vec![SystemTable {
            connector: "platform".into(),
            table: "grades".into(),
            columns: vec!["grade".into()],
            rows: vec![vec!["5".into()]],
        }],
        authorized_body: derbes_core::declaration::AuthorizedBody::default().describe(lang),
    };
    render(source, lang, &ctx)?;
    ctx.fields.clear();
    ctx.purposes.clear();
    ctx.consents.clear();
    ctx.flags.clear();
    ctx.history.clear();
    ctx.systems.clear();
    render(source, lang, &ctx).map(|_| ())
}

/// What the report template can use, every value already text in the report's language.
#[derive(Debug, Serialize)]
struct ReportContext<'a> {
    operator: &'a OperatorContext,
    responsible: &'a ResponsibleContext,
    request_id: String,
    subject_id: String,
    category: &'a str,
    prepared: String,
    fields: Vec<FieldRow<'a>>,
    purposes: Vec<PurposeRow<'a>>,
    consents: Vec<ConsentRow>,
    flags: Vec<FlagRow>,
    history: Vec<HistoryRow<'a>>,
    systems: Vec<SystemTable>,
    authorized_body: String,
}

#[derive(Debug, Serialize)]
struct FieldRow<'a> {
    label: &'a str,
    value: &'a str,
    source: &'a str,
    purposes: String,
}

#[derive(Debug, Serialize)]
struct PurposeRow<'a> {
    label: &'a str,
    description: &'a str,
    basis: &'a str,
    legal_reference: Option<&'a str>,
    recipients: Vec<RecipientRow<'a>>,
    retention: &'a str,
}

#[derive(Debug, Serialize)]
struct RecipientRow<'a> {
    label: &'a str,
    kind: &'a str,
    /// The country's name in the report's language (data.json keeps its code).
    country: String,
    cross_border: bool,
}

#[derive(Debug, Serialize)]
struct ConsentRow {
    at: String,
    purpose: String,
    action: &'static str,
    by: String,
    receipt: String,
}

/// A block of all processing (`purpose` none) or a restriction of one purpose.
#[derive(Debug, Serialize)]
struct FlagRow {
    purpose: Option<String>,
    since: String,
    until: Option<String>,
}

#[derive(Debug, Serialize)]
struct HistoryRow<'a> {
    at: &'a str,
    actor: &'a str,
    action: String,
    purpose: String,
    fields: String,
    outcome: &'a str,
}

/// What one table of an operator's system holds about the subject.
#[derive(Debug, Serialize)]
struct SystemTable {
    connector: String,
    table: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
}

fn context(d: &PackageData) -> ReportContext<'_> {
    let lang = d.language;
    let purpose_label = |key: &str| {
        d.purposes
            .iter()
            .find(|p| p.key == key)
            .map_or_else(|| key.to_owned(), |p| p.label.clone())
    };
    ReportContext {
        operator: &d.operator,
        responsible: &d.responsible,
        request_id: d.request_id.to_string(),
        subject_id: d.subject.id.to_string(),
        category: &d.subject.category_label,
        prepared: format_moment(d.generated_at, lang),
        fields: d
            .fields
            .iter()
            .map(|f| FieldRow {
                label: &f.label,
                value: &f.value,
                source: f.source_label,
                purposes: f
                    .purposes
                    .iter()
                    .map(|p| purpose_label(p))
                    .collect::<Vec<_>>()
                    .join("; "),
            })
            .collect(),
        purposes: d
            .purposes
            .iter()
            .map(|p| PurposeRow {
                label: &p.label,
                description: &p.description,
                basis: p.legal_basis_label,
                legal_reference: p.legal_reference.as_deref(),
                recipients: p
                    .recipients
                    .iter()
                    .map(|r| RecipientRow {
                        label: &r.label,
                        kind: r.kind_label,
                        country: derbes_core::policy::country_name(&r.country, lang),
                        cross_border: r.cross_border,
                    })
                    .collect(),
                retention: &p.retention_label,
            })
            .collect(),
        consents: d
            .consents
            .iter()
            .map(|c| ConsentRow {
                at: format_moment(c.event.at, lang),
                purpose: purpose_label(&c.event.purpose),
                action: consent_action_label(&c.event.action, lang),
                by: given_by_text(&c.event.given_by, lang),
                receipt: format!("receipts/{}.json", c.event.id),
            })
            .collect(),
        flags: d
            .flags
            .iter()
            .map(|f| FlagRow {
                purpose: f.purpose.as_deref().map(purpose_label),
                since: format_moment(f.set_at, lang),
                until: f.until.map(|u| format_date(u, lang)),
            })
            .collect(),
        history: d
            .access_history
            .iter()
            .map(|e| HistoryRow {
                at: &e.at,
                actor: &e.actor,
                action: action_label(&e.action, lang),
                purpose: e.purpose.as_deref().map(purpose_label).unwrap_or_default(),
                fields: e.fields.join(", "),
                outcome: outcome_label(&e.outcome, lang),
            })
            .collect(),
        systems: d
            .connectors
            .iter()
            .flat_map(|c| {
                c.tables
                    .iter()
                    .filter(|t| !t.rows.is_empty())
                    .map(|table| SystemTable {
                        connector: c.connector.clone(),
                        table: table.table.clone(),
                        columns: table
                            .columns
                            .iter()
                            .map(|col| {
                                col.field
                                    .as_ref()
                                    .and_then(|f| d.fields.iter().find(|h| &h.key == f))
                                    .map_or_else(|| col.name.clone(), |h| h.label.clone())
                            })
                            .collect(),
                        rows: table
                            .rows
                            .iter()
                            .map(|r| {
                                r.iter()
                                    .map(|v| v.clone().unwrap_or_else(|| "—".into()))
                                    .collect()
                            })
                            .collect(),
                    })
            })
            .collect(),
        authorized_body: d.authorized_body.clone(),
    }
}

fn action_label(action: &str, lang: Lang) -> String {
    let (kk, ru, en) = match action.split('.').take(2).collect::<Vec<_>>().as_slice() {
        ["subject", "read"] => ("деректер оқылды", "данные прочитаны", "data read"),
        ["subject", "create"] => ("деректер енгізілді", "данные внесены", "data recorded"),
        ["subject", "rectify"] => ("деректер түзетілді", "данные исправлены", "data corrected"),
        ["subject", "lookup" | "resolve"] => (
            "сәйкестендіргіш бойынша ізделді",
            "поиск по идентификатору",
            "looked up by an identifier",
        ),
        ["subject", "destroy"] => ("деректер жойылды", "данные уничтожены", "data destroyed"),
        ["subject", "block" | "restriction"] => (
            "өңдеуді бұғаттау немесе шектеу",
            "блокирование или ограничение обработки",
            "processing blocked or restricted",
        ),
        ["consent", _] | ["consents", _] => (
            "келісіммен жасалған әрекет",
            "действие с согласием",
            "consent action",
        ),
        ["decision" | "decisions", ..] => (
            "қолжетімділік туралы шешім",
            "решение о доступе",
            "access decision",
        ),
        ["representative", _] => (
            "заңды өкілмен байланыс",
            "связь с законным представителем",
            "legal representative link",
        ),
        ["obligation", _] => ("міндеттеме", "обязательство", "obligation"),
        ["request", _] => (
            "өтініш бойынша әрекет",
            "действие по запросу",
            "step of a request",
        ),
        _ => return action.to_owned(),
    };
    format!("{} ({action})", tr(lang, kk, ru, en))
}

fn outcome_label(outcome: &str, lang: Lang) -> &str {
    match outcome {
        "ok" | "allowed" => tr(lang, "орындалды", "выполнено", "done"),
        "denied" => tr(lang, "бас тартылды", "отказано", "refused"),
        other => other,
    }
}

fn given_by_text(by: &GivenBy, lang: Lang) -> String {
    match by {
        GivenBy::Subject => tr(lang, "субъектінің өзі", "сам субъект", "the subject").into(),
        GivenBy::Representative {
            representative_id, ..
        } => format!(
            "{} {representative_id}",
            tr(
                lang,
                "заңды өкіл",
                "законный представитель",
                "legal representative"
            )
        ),
    }
}

fn consent_action_label(a: &ConsentAction, lang: Lang) -> &'static str {
    match a {
        ConsentAction::Give(_) => tr(lang, "келісім берілді", "согласие дано", "consent given"),
        ConsentAction::Renew(_) => tr(
            lang,
            "келісім жаңартылды",
            "согласие продлено",
            "consent renewed",
        ),
        ConsentAction::Withdraw => tr(
            lang,
            "келісім кері қайтарылды",
            "согласие отозвано",
            "consent withdrawn",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_are_named_in_the_language_with_their_code() {
        assert_eq!(
            action_label("subject.read", Lang::Ru),
            "данные прочитаны (subject.read)"
        );
        assert_eq!(
            action_label("consent.give", Lang::Kk),
            "келісіммен жасалған әрекет (consent.give)"
        );
        assert_eq!(action_label("keys.rotate", Lang::En), "keys.rotate");
    }

    #[test]
    fn the_shipped_templates_pass_their_check() {
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            check(ReportTemplates::default().0.source(lang), lang).unwrap();
        }
    }

    #[test]
    fn an_operator_template_replaces_one_language_and_a_broken_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("access-report.ru.md"),
            "# Ваши данные у {{ operator.name | md }}\n\n{% for f in fields %}- {{ f.label | md }}: {{ f.value | md }}\n{% endfor %}",
        )
        .unwrap();
        let t = ReportTemplates::load(Some(dir.path())).unwrap();
        assert!(t.0.source(Lang::Ru).starts_with("# Ваши данные"));
        // Kazakh still comes from the shipped template.
        assert_eq!(
            t.0.source(Lang::Kk),
            ReportTemplates::default().0.source(Lang::Kk)
        );
        for broken in [
            "{% if %}\n",
            "# Есеп\n\n{{ subject.name }}\n",
            "{% for f in fields %}{{ f.colour }}{% endfor %}",
            // Refused although no sample reaches the branch.
            "{% if fields and false %}{{ promise(\"logs.immutable\") }}{% endif %}",
        ] {
            std::fs::write(dir.path().join("access-report.kk.md"), broken).unwrap();
            let e = ReportTemplates::load(Some(dir.path())).unwrap_err();
            assert!(e.file.ends_with("access-report.kk.md"), "{e}");
        }
    }
}

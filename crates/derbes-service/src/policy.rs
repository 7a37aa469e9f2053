//! The privacy policy and the other documents the law asks for, rendered from the declaration:
//! Markdown from templates (one per document and language, replaceable by the operator), and
//! HTML from that Markdown in derbes' page shape, with a print stylesheet.

use crate::render::html::{escape, markdown_page, page_with_nav};
use crate::render::templates::{collapse_blank_lines, render, LangTemplates, TemplateError};
use derbes_core::policy::context;
use derbes_core::text::Lang;
use derbes_core::Declaration;
use std::path::Path;

/// A document rendered from the declaration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Document {
    /// The privacy policy.
    Policy,
    /// The list of personal data the operator approves (Art. 25), per subject category.
    DataList,
    /// The consent form text for each consent-based purpose, with every Art. 8(4) element.
    ConsentForms,
    /// The record of processing activities: purpose, categories, recipients, retention,
    /// storage country.
    ProcessingRecord,
}

impl Document {
    pub const ALL: [Document; 4] = [
        Document::Policy,
        Document::DataList,
        Document::ConsentForms,
        Document::ProcessingRecord,
    ];

    /// Its name in paths, on the command line and in template file names.
    pub fn name(self) -> &'static str {
        match self {
            Document::Policy => "policy",
            Document::DataList => "data-list",
            Document::ConsentForms => "consent-forms",
            Document::ProcessingRecord => "processing-record",
        }
    }

    /// Its title in `lang`, for links.
    pub fn title(self, lang: Lang) -> &'static str {
        let t = |kk, ru, en| derbes_core::text::tr(lang, kk, ru, en);
        match self {
            Document::Policy => t(
                "Құпиялылық саясаты",
                "Политика конфиденциальности",
                "Privacy policy",
            ),
            Document::DataList => t(
                "Дербес деректердің тізбесі",
                "Перечень персональных данных",
                "List of personal data",
            ),
            Document::ConsentForms => t("Келісім нысандары", "Формы согласия", "Consent forms"),
            Document::ProcessingRecord => t(
                "Өңдеу операцияларының тізілімі",
                "Реестр операций по обработке",
                "Record of processing activities",
            ),
        }
    }

    fn builtin(self) -> LangTemplates {
        use crate::render::templates::shipped;
        match self {
            Document::Policy => shipped!("policy", "md"),
            Document::DataList => shipped!("data-list", "md"),
            Document::ConsentForms => shipped!("consent-forms", "md"),
            Document::ProcessingRecord => shipped!("processing-record", "md"),
        }
    }
}

impl std::str::FromStr for Document {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Document::ALL
            .into_iter()
            .find(|d| d.name() == s)
            .ok_or_else(|| {
                format!("`{s}` is not a document: use policy, data-list, consent-forms or processing-record")
            })
    }
}

/// The document templates in use, one per document and language.
#[derive(Debug, Clone)]
pub struct PolicyTemplates([LangTemplates; 4]);

impl Default for PolicyTemplates {
    fn default() -> Self {
        PolicyTemplates(Document::ALL.map(Document::builtin))
    }
}

/// A document that cannot be rendered.
#[derive(Debug, thiserror::Error)]
#[error("the {lang} {} template cannot be rendered: {problem}", document.name())]
pub struct RenderError {
    pub document: Document,
    pub lang: Lang,
    pub problem: String,
}

impl PolicyTemplates {
    /// The shipped templates, each replaced by `<document>.<lang>.md` in `dir` where that file
    /// exists; every one is checked against `declaration`.
    pub fn load(dir: Option<&Path>, declaration: &Declaration) -> Result<Self, TemplateError> {
        // One context per language serves every document's check.
        let contexts = Lang::ALL.map(|lang| context(declaration, lang));
        let mut loaded = PolicyTemplates::default();
        for doc in Document::ALL {
            let name = format!("{}.md", doc.name());
            let slot = &mut loaded.0[doc as usize];
            *slot = slot
                .clone()
                .overridden(dir, doc.name(), "md", |source, lang| {
                    let ctx = contexts
                        .iter()
                        .find(|c| c.language == lang)
                        .ok_or_else(|| format!("no {lang} context"))?;
                    render(&name, source, ctx).map(|_| ())
                })?;
        }
        Ok(loaded)
    }

    fn source(&self, doc: Document, lang: Lang) -> &str {
        // `Document::ALL` is in declaration order, so a document's number is its place there.
        self.0[doc as usize].source(lang)
    }

    /// A document as Markdown.
    pub fn markdown(
        &self,
        doc: Document,
        d: &Declaration,
        lang: Lang,
    ) -> Result<String, RenderError> {
        let name = format!("{}.md", doc.name());
        let text = render(&name, self.source(doc, lang), &context(d, lang)).map_err(|problem| {
            RenderError {
                document: doc,
                lang,
                problem,
            }
        })?;
        Ok(tidy(&text))
    }

    /// A document as a whole HTML page.
    pub fn html(&self, doc: Document, d: &Declaration, lang: Lang) -> Result<String, RenderError> {
        Ok(markdown_page(lang, &self.markdown(doc, d, lang)?))
    }
}

/// A heading's anchor, written `[#id]` in the templates (`{#` opens a template comment), becomes
/// Markdown's `{#id}`; blank lines that template tags leave collapse to one.
fn tidy(text: &str) -> String {
    let anchored: String = text
        .lines()
        .map(
            |line| match line.strip_suffix(']').and_then(|l| l.rsplit_once(" [#")) {
                Some((heading, id)) if line.starts_with('#') => format!("{heading} {{#{id}}}\n"),
                _ => format!("{line}\n"),
            },
        )
        .collect();
    collapse_blank_lines(&anchored)
}

/// A link to `path` in `lang` with `words`, keeping the language.
fn nav_link(lang: Lang, path: &str, words: &str) -> String {
    format!("<a href=\"{path}?lang={lang}\">{}</a>", escape(words))
}

/// The link to the policy in force, in `lang`.
fn policy_link(lang: Lang) -> String {
    nav_link(
        lang,
        "/policy",
        derbes_core::text::tr(
            lang,
            "Қолданыстағы саясат",
            "Действующая политика",
            "The policy in force",
        ),
    )
}

/// The link to the list of versions, in `lang`.
fn versions_link(lang: Lang) -> String {
    nav_link(
        lang,
        "/policy/versions",
        derbes_core::text::tr(lang, "Барлық нұсқалар", "Все версии", "All versions"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn examples() -> Vec<(&'static str, Declaration)> {
        [
            (
                "shoqan-school",
                include_str!("../../../examples/shoqan-school.toml"),
            ),
            (
                "shoqan-school-site",
                include_str!("../../../examples/shoqan-school-site.toml"),
            ),
            (
                "birge-oqy",
                include_str!("../../../examples/birge-oqy.toml"),
            ),
            ("cpm", include_str!("../../../examples/cpm.toml")),
            (
                "smart-ustaz",
                include_str!("../../../examples/smart-ustaz.toml"),
            ),
        ]
        .into_iter()
        .map(|(n, t)| (n, Declaration::load(t).unwrap().declaration))
        .collect()
    }

    /// The section anchors of a rendered policy, in order.
    fn sections(md: &str) -> Vec<String> {
        md.lines()
            .filter(|l| l.starts_with("## "))
            .filter_map(|l| {
                l.rsplit_once("{#")
                    .map(|(_, a)| a.trim_end_matches('}').to_owned())
            })
            .collect()
    }

    #[test]
    fn every_example_renders_every_section_in_every_language() {
        let t = PolicyTemplates::default();
        let required = [
            "operator",
            "terms",
            "general",
            "subject",
            "data",
            "purposes",
            "retention",
            "transfers",
            "rights",
            "minors",
            "security",
            "cookies",
            "obligations",
            "liability",
            "disputes",
            "changes",
            "version",
        ];
        for (name, d) in examples() {
            for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                let md = t.markdown(Document::Policy, &d, lang).unwrap();
                assert_eq!(sections(&md), required, "{name} {lang}");
                assert!(!md.contains("{{") && !md.contains("{%"), "{name} {lang}");
                for p in d.purposes.values() {
                    assert!(
                        md.contains(p.label.get(lang)),
                        "{name} {lang}: {}",
                        p.label.get(lang)
                    );
                }
                assert!(md.contains(&d.operator.bin));
                let html = t.html(Document::Policy, &d, lang).unwrap();
                assert!(html.contains(&format!("<html lang=\"{lang}\">")));
                assert!(html.contains("<h2 id=\"rights\">"), "{name} {lang}");
            }
            let kk = t.markdown(Document::Policy, &d, Lang::Kk).unwrap();
            assert!(kk.contains("Дербес деректер операторы") && kk.contains("құқылы"));
            let ru = t.markdown(Document::Policy, &d, Lang::Ru).unwrap();
            assert!(ru.contains("Оператор персональных данных"));
        }
    }

    #[test]
    fn scope_automated_processing_and_court_are_stated_as_declared() {
        let t = PolicyTemplates::default();
        let school = include_str!("../../../examples/shoqan-school.toml");
        let section = |md: &str, anchor: &str| -> String {
            let start = md.find(&format!("{{#{anchor}}}")).unwrap();
            let end = md[start..].find("\n## ").map_or(md.len(), |e| start + e);
            md[start..end].to_owned()
        };
        // Declared nowhere: the policy covers all processing, says nothing of automated
        // decisions, and leaves the court to the law.
        let plain = Declaration::load(school).unwrap().declaration;
        let md = t.markdown(Document::Policy, &plain, Lang::En).unwrap();
        assert!(!section(&md, "subject").contains("4.1."));
        assert!(!section(&md, "rights").contains("9.5."));
        assert!(section(&md, "disputes").contains(
            "may also turn to a court or to the authorized body for personal data protection: Ministry of Artificial Intelligence"
        ));

        let declared = Declaration::load(&format!(
            "{school}\n[services.journal]\nlabel = {{ kk = \"Электрондық журнал\", ru = \"электронный журнал\", en = \"the electronic journal\" }}\naddress = \"https://journal.school.kz/\"\n\n[services.library]\nlabel = {{ kk = \"Кітапхана жүйесі\", ru = \"библиотечная система\", en = \"the library system\" }}\n\n[automated_processing]\ndecisions = true\ndecisions_description = {{ kk = \"Тест нәтижесі бойынша деңгейге бөлу.\", ru = \"Распределение по уровням по результатам теста.\", en = \"Placement in a level by the test score.\" }}\nprofiling = false\n\n[disputes]\ncourt = {{ kk = \"Алматы қаласының мамандандырылған ауданаралық экономикалық соты\", ru = \"Специализированный межрайонный экономический суд города Алматы\", en = \"the Specialized Inter-District Economic Court of Almaty\" }}\n"
        ))
        .unwrap()
        .declaration;
        for (lang, services, decisions, no_profiling, court) in [
            (
                Lang::Kk,
                "мына сервистеріне қолданылады: Электрондық журнал (https://journal.school.kz/); Кітапхана жүйесі.",
                "автоматтандырылған өңдеу негізінде қабылдайды: Тест нәтижесі бойынша деңгейге бөлу. Субъект мұндай шешімге қарсылық",
                "Оператор субъектілерді профильдемейді.",
                "дауды Алматы қаласының мамандандырылған ауданаралық экономикалық соты шешеді. Субъект сондай-ақ дербес деректерді қорғау саласындағы уәкілетті органға жүгінуге",
            ),
            (
                Lang::Ru,
                "следующим сервисам оператора: электронный журнал (https://journal.school.kz/); библиотечная система.",
                "автоматизированной обработки персональных данных: Распределение по уровням по результатам теста. Субъект вправе возразить",
                "Оператор не осуществляет профилирование субъектов.",
                "разрешает Специализированный межрайонный экономический суд города Алматы. Субъект также вправе обратиться в уполномоченный",
            ),
            (
                Lang::En,
                "these services of the operator: the electronic journal (https://journal.school.kz/); the library system.",
                "automated processing of personal data: Placement in a level by the test score. The subject may object",
                "The operator does not profile subjects.",
                "is decided by the Specialized Inter-District Economic Court of Almaty. The subject may also turn to the authorized body for personal data protection: Ministry of Artificial Intelligence and Digital Development of the Republic of Kazakhstan.",
            ),
        ] {
            let md = t.markdown(Document::Policy, &declared, lang).unwrap();
            let subject = section(&md, "subject");
            assert!(subject.contains(services), "{lang}: {subject}");
            assert!(subject.contains("4.2."), "{lang}: {subject}");
            let rights = section(&md, "rights");
            assert!(rights.contains(decisions), "{lang}: {rights}");
            assert!(rights.contains(no_profiling), "{lang}: {rights}");
            let disputes = section(&md, "disputes");
            assert!(disputes.contains(court), "{lang}: {disputes}");
        }
    }

    #[test]
    fn the_version_in_force_is_the_latest_that_has_taken_effect() {
        let v = |version: &str, d: Option<time::Date>| PolicyVersion {
            version: version.into(),
            content_hash: String::new(),
            recorded_at: String::new(),
            effective_from: d,
        };
        use time::macros::date;
        let list = vec![
            v("2025.1", Some(date!(2025 - 08 - 01))),
            v("2026.1", Some(date!(2026 - 09 - 01))),
            v("2027.1", Some(date!(2027 - 01 - 01))),
        ];
        assert_eq!(
            in_force(&list, date!(2026 - 11 - 21)).unwrap().version,
            "2026.1"
        );
        assert_eq!(
            in_force(&list, date!(2026 - 08 - 31)).unwrap().version,
            "2025.1"
        );
        assert_eq!(
            in_force(&list[2..], date!(2026 - 11 - 21)).unwrap().version,
            "2027.1"
        );
        assert!(in_force(&[], date!(2026 - 11 - 21)).is_none());
        assert_eq!(url_part("2026.1 a/b"), "2026.1%20a%2Fb");
    }

    #[test]
    fn markup_in_the_declaration_is_shown_as_text() {
        let html =
            crate::render::html::markdown_to_html("## A {#a}\n\nx <script>alert(1)</script> y\n");
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        assert!(html.contains("<h2 id=\"a\">A</h2>"), "{html}");
    }

    #[test]
    fn an_operator_template_must_render_with_the_declaration() {
        let (_, d) = examples().remove(0);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("policy.ru.md"),
            "# {{ operator.name }}\n\n## 1. X [#operator]\n",
        )
        .unwrap();
        let t = PolicyTemplates::load(Some(dir.path()), &d).unwrap();
        assert!(t
            .markdown(Document::Policy, &d, Lang::Ru)
            .unwrap()
            .starts_with("# Товарищество"));
        assert!(t
            .markdown(Document::Policy, &d, Lang::Kk)
            .unwrap()
            .contains("## 9."));
        std::fs::write(dir.path().join("policy.en.md"), "{{ operator.nickname }}").unwrap();
        let e = PolicyTemplates::load(Some(dir.path()), &d).unwrap_err();
        assert!(e.file.ends_with("policy.en.md"), "{e}");
        std::fs::remove_file(dir.path().join("policy.en.md")).unwrap();
        std::fs::write(
            dir.path().join("consent-forms.kk.md"),
            "{% for p in purposes %}{{ p.terms }}{% endfor %}",
        )
        .unwrap();
        let e = PolicyTemplates::load(Some(dir.path()), &d).unwrap_err();
        assert!(e.file.ends_with("consent-forms.kk.md"), "{e}");
    }

    /// Every document of every example in every language, as reviewed: a change to a template,
    /// a label or an example shows here line by line. After reviewing the change, write the
    /// snapshots again with `DERBES_UPDATE_SNAPSHOTS=1 cargo test -p derbes-service --lib snapshot`.
    #[test]
    fn every_document_matches_its_reviewed_snapshot() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
        let update = std::env::var_os("DERBES_UPDATE_SNAPSHOTS").is_some();
        let t = PolicyTemplates::default();
        let mut stale = Vec::new();
        for (name, d) in examples() {
            for doc in Document::ALL {
                for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                    let md = t.markdown(doc, &d, lang).unwrap();
                    let path = dir.join(name).join(format!("{}.{lang}.md", doc.name()));
                    if update {
                        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                        std::fs::write(&path, &md).unwrap();
                        continue;
                    }
                    let kept = std::fs::read_to_string(&path).unwrap_or_default();
                    if kept != md {
                        let at = kept
                            .lines()
                            .zip(md.lines())
                            .position(|(a, b)| a != b)
                            .unwrap_or(kept.lines().count().min(md.lines().count()));
                        stale.push(format!(
                            "{}:{}\n  kept:     {}\n  rendered: {}",
                            path.display(),
                            at + 1,
                            kept.lines().nth(at).unwrap_or("(end)"),
                            md.lines().nth(at).unwrap_or("(end)")
                        ));
                    }
                }
            }
        }
        assert!(
            stale.is_empty(),
            "rendered documents differ from their snapshots (review, then write them again with DERBES_UPDATE_SNAPSHOTS=1):\n{}",
            stale.join("\n")
        );
    }

    /// The rows of the Markdown tables under the heading anchored `anchor`, as cells.
    fn table_rows(md: &str, anchor: &str) -> Vec<Vec<String>> {
        let mut rows = Vec::new();
        let mut inside = false;
        for line in md.lines() {
            if line.starts_with('#') {
                inside = line.ends_with(&format!("{{#{anchor}}}"));
            } else if inside && line.starts_with('|') && !line.starts_with("|---") {
                rows.push(
                    line.trim_matches('|')
                        .split(" | ")
                        .map(|c| c.trim().to_owned())
                        .collect(),
                );
            }
        }
        rows
    }

    #[test]
    fn the_data_list_names_every_declared_field_of_each_category() {
        let t = PolicyTemplates::default();
        for (name, d) in examples() {
            for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                let md = t.markdown(Document::DataList, &d, lang).unwrap();
                for (key, c) in &d.subject_categories {
                    let rows = table_rows(&md, key);
                    let fields: Vec<_> = d.fields_of_category(key).collect();
                    // A header row, then one row per field, numbered.
                    assert_eq!(rows.len(), fields.len() + 1, "{name} {lang} {key}");
                    for (i, ((_, f), row)) in fields.iter().zip(&rows[1..]).enumerate() {
                        assert_eq!(row[0], (i + 1).to_string());
                        assert!(row[1].starts_with(f.label.get(lang)), "{name} {lang}");
                        assert_eq!(row.len(), 5, "{name} {lang}: {row:?}");
                    }
                    assert!(md.contains(c.label.get(lang)));
                }
                assert!(md.contains(&d.operator.bin) && md.contains("{#approval}"));
            }
        }
    }

    #[test]
    fn each_consent_form_states_every_element_of_article_8_4() {
        let t = PolicyTemplates::default();
        let mut forms = 0;
        for (name, d) in examples() {
            for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                let md = t.markdown(Document::ConsentForms, &d, lang).unwrap();
                let consent: Vec<_> = d
                    .purposes
                    .iter()
                    .filter(|(_, p)| p.legal_basis == derbes_core::declaration::LegalBasis::Consent)
                    .collect();
                // Forms only for purposes that rest on consent.
                for (key, p) in &d.purposes {
                    let anchor = format!("{{#{key}}}");
                    assert_eq!(
                        md.contains(&anchor),
                        p.legal_basis == derbes_core::declaration::LegalBasis::Consent,
                        "{name} {lang} {key}"
                    );
                }
                for (key, p) in consent {
                    forms += 1;
                    let form = md
                        .split("\n## ")
                        .find(|s| {
                            s.lines()
                                .next()
                                .is_some_and(|h| h.ends_with(&format!("{{#{key}}}")))
                        })
                        .unwrap();
                    let ctx = derbes_core::policy::context(&d, lang);
                    let part = ctx.purposes.iter().find(|x| &x.key == key).unwrap();
                    // The operator's name and BIN, and a place for the subject's full name.
                    assert!(form.contains(&ctx.operator.name) && form.contains(&d.operator.bin));
                    let (name_label, term, third, border, public, list) = match lang {
                        Lang::Kk => (
                            "(тегі, аты, әкесінің аты)",
                            "Келісімнің қолданылу мерзімі",
                            "Үшінші тұлғаларға беру",
                            "Трансшекаралық беру",
                            "Жалпыға қолжетімді дереккөздерде тарату",
                            "Дербес деректер тізбесі",
                        ),
                        Lang::Ru => (
                            "(фамилия, имя, отчество)",
                            "Срок действия согласия",
                            "Передача третьим лицам",
                            "Трансграничная передача",
                            "Распространение в общедоступных источниках",
                            "Перечень персональных данных",
                        ),
                        Lang::En => (
                            "(full name)",
                            "Term of the consent",
                            "Transfer to third parties",
                            "Cross-border transfer",
                            "Publication in public sources",
                            "Personal data:",
                        ),
                    };
                    for element in [name_label, term, third, border, public, list] {
                        assert!(form.contains(element), "{name} {lang} {key}: {element}");
                    }
                    // Every field of the purpose, by name, and the terms' hash as consents record it.
                    for f in &p.fields {
                        let label = derbes_core::text::in_running_text(d.fields[f].label.get(lang));
                        assert!(form.contains(&label), "{name} {lang} {f}");
                    }
                    let hash = derbes_core::consent::PurposeTerms::of(&d, key)
                        .unwrap()
                        .hash();
                    assert!(form.contains(&hash));
                    // What is said about transfers matches the declaration.
                    let (yes, no) = match lang {
                        Lang::Kk => ("көзделген", "көзделмеген"),
                        Lang::Ru => ("предусмотрен", "не предусмотрен"),
                        Lang::En => ("yes", "no"),
                    };
                    let said = |label: &str| {
                        let line = form.lines().find(|l| l.contains(label)).unwrap();
                        let after = line.split(":**").nth(1).unwrap().trim();
                        if after.starts_with(no) {
                            false
                        } else {
                            assert!(after.starts_with(yes), "{line}");
                            true
                        }
                    };
                    assert_eq!(said(third), !p.recipients.is_empty(), "{name} {lang} {key}");
                    assert_eq!(
                        said(border),
                        !part.cross_border_countries.is_empty(),
                        "{name} {lang} {key}"
                    );
                    assert_eq!(said(public), p.publication, "{name} {lang} {key}");
                    assert!(form.contains("☐ "));
                    assert_eq!(
                        form.contains(match lang {
                            Lang::Kk => "заңды өкілі",
                            Lang::Ru => "законный представитель",
                            Lang::En => "legal representative",
                        }),
                        part.may_be_minor,
                        "{name} {lang} {key}"
                    );
                }
            }
        }
        assert!(
            forms >= 10,
            "the examples hold consent-based purposes: {forms}"
        );
    }

    #[test]
    fn the_processing_record_has_a_row_per_purpose_with_its_storage_country() {
        let t = PolicyTemplates::default();
        for (name, d) in examples() {
            for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                let md = t.markdown(Document::ProcessingRecord, &d, lang).unwrap();
                let rows = table_rows(&md, "purposes");
                assert_eq!(rows.len(), d.purposes.len() + 1, "{name} {lang}");
                let country = derbes_core::policy::country_name(&d.storage_country, lang);
                for (p, row) in d.purposes.values().zip(&rows[1..]) {
                    assert_eq!(row.len(), 9, "{name} {lang}: {row:?}");
                    assert_eq!(row[1], p.label.get(lang).replace('|', "\\|"));
                    assert!(row[2].starts_with(p.legal_basis.label(lang)));
                    assert_eq!(row[8], country);
                }
                assert_eq!(table_rows(&md, "retention").len(), d.retention.len() + 1);
                let html = t.html(Document::ProcessingRecord, &d, lang).unwrap();
                // Nine columns: printed as blocks of labelled lines, an A4 sheet is too narrow.
                assert!(
                    html.contains("<div class=\"wide many\">\n<table>"),
                    "{name} {lang}"
                );
            }
        }
    }
}

/// One recorded version of the declaration, as the policy pages list it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyVersion {
    pub version: String,
    pub content_hash: String,
    pub recorded_at: String,
    #[serde(with = "derbes_core::iso_date::option")]
    pub effective_from: Option<time::Date>,
}

/// A rendered page: version, document, language, HTML (or Markdown), and whether the version
/// was in force, which its links say.
type PageKey = (String, Document, Lang, bool, bool);

/// Rendered policy pages by version and language, and the list of versions.
#[derive(Default)]
struct PolicyCache {
    pages: std::sync::Mutex<std::collections::HashMap<PageKey, bytes::Bytes>>,
    /// Change reports by the versions compared, language and format.
    changes:
        std::sync::Mutex<std::collections::HashMap<(String, String, Lang, bool), bytes::Bytes>>,
    versions: std::sync::Mutex<Option<(std::time::Instant, std::sync::Arc<Vec<PolicyVersion>>)>>,
}

/// How long the list of versions is kept before the store is asked again (a version recorded by
/// another server appears within this time).
const VERSIONS_KEPT: std::time::Duration = std::time::Duration::from_secs(10);

fn locked<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The version in force on `today`: the latest effective date not after it (the last recorded
/// on a tie); before any takes effect, the first to.
pub fn in_force(versions: &[PolicyVersion], today: time::Date) -> Option<&PolicyVersion> {
    versions
        .iter()
        .filter(|v| v.effective_from.is_some_and(|d| d <= today))
        .max_by_key(|v| v.effective_from)
        .or_else(|| versions.iter().min_by_key(|v| v.effective_from))
}

/// The rendered policy and the other documents, in every recorded version: what the operator
/// promised, when, and what changed.
pub struct Policy {
    vault: std::sync::Arc<crate::vault::Vault>,
    templates: PolicyTemplates,
    cache: PolicyCache,
}

impl Policy {
    pub(crate) fn new(
        vault: std::sync::Arc<crate::vault::Vault>,
        templates: PolicyTemplates,
    ) -> Self {
        Policy {
            vault,
            templates,
            cache: PolicyCache::default(),
        }
    }

    /// Every recorded version, oldest first.
    pub async fn versions(
        &self,
    ) -> Result<std::sync::Arc<Vec<PolicyVersion>>, crate::vault::VaultError> {
        if let Some((at, list)) = locked(&self.cache.versions).as_ref() {
            if at.elapsed() < VERSIONS_KEPT {
                return Ok(list.clone());
            }
        }
        let mut list = Vec::new();
        for (version, content_hash, recorded_at) in self.vault.store().declarations().await? {
            let effective_from = self.vault.recorded(&version).await?.effective_date();
            list.push(PolicyVersion {
                version,
                content_hash,
                recorded_at,
                effective_from,
            });
        }
        let list = std::sync::Arc::new(list);
        *locked(&self.cache.versions) = Some((std::time::Instant::now(), list.clone()));
        Ok(list)
    }

    /// A document of `version` (the one in force when `None`) in `lang`, as an HTML page with
    /// links to the other languages, documents and versions, or as Markdown. Rendered once per
    /// version, document, language, format and whether the version is in force.
    pub async fn page(
        &self,
        version: Option<&str>,
        doc: Document,
        lang: Lang,
        html: bool,
    ) -> Result<bytes::Bytes, crate::vault::VaultError> {
        let versions = self.versions().await?;
        let today = self.vault.today();
        let current = in_force(&versions, today).map(|v| v.version.clone());
        let version = match version {
            Some(v) if versions.iter().any(|x| x.version == v) => v.to_owned(),
            Some(_) => return Err(crate::vault::VaultError::NotFound),
            None => current
                .clone()
                .unwrap_or_else(|| self.vault.declaration().version.clone()),
        };
        let is_in_force = current.as_deref() == Some(version.as_str());
        // Once a later version takes effect, this one's links say so: a new key.
        let key = (version.clone(), doc, lang, html, is_in_force);
        if let Some(page) = locked(&self.cache.pages).get(&key) {
            return Ok(page.clone());
        }
        let d = self.vault.recorded(&version).await?;
        let t = &self.templates;
        let md = t
            .markdown(doc, &d, lang)
            .map_err(|e| crate::vault::VaultError::Unavailable(e.to_string()))?;
        let text = if html {
            let nav = nav(lang, doc, &version, is_in_force);
            page_with_nav(lang, &nav, &md)
        } else {
            md
        };
        // Bytes: each answer shares the rendered page instead of copying it.
        let page = bytes::Bytes::from(text);
        locked(&self.cache.pages).insert(key, page.clone());
        Ok(page)
    }

    /// The page listing every version, newest first, with links to each in `lang`.
    pub async fn versions_page(&self, lang: Lang) -> Result<String, crate::vault::VaultError> {
        let versions = self.versions().await?;
        let today = self.vault.today();
        let current = in_force(&versions, today).map(|v| v.version.clone());
        let t = |kk: &'static str, ru: &'static str, en: &'static str| {
            derbes_core::text::tr(lang, kk, ru, en)
        };
        let title = t(
            "Құпиялылық саясатының нұсқалары",
            "Версии политики конфиденциальности",
            "Versions of the privacy policy",
        );
        let mut body = format!(
            "<nav>{}</nav>\n<h1>{}</h1>\n<table class=\"list\">\n<tr><th scope=\"col\">{}</th><th scope=\"col\">{}</th><th scope=\"col\"></th><th scope=\"col\"></th></tr>\n",
            policy_link(lang),
            escape(title),
            escape(t("Нұсқа", "Версия", "Version")),
            escape(t("Күшіне ену күні", "Дата вступления в силу", "In force from")),
        );
        for (i, v) in versions.iter().enumerate().rev() {
            let date = v
                .effective_from
                .map(|d| derbes_core::text::format_date(d, lang))
                .unwrap_or_default();
            let mark = if current.as_deref() == Some(v.version.as_str()) {
                t("қолданыста", "действует", "in force")
            } else {
                ""
            };
            let link = format!("/policy/versions/{}?lang={lang}", url_part(&v.version));
            let changes = match i.checked_sub(1).and_then(|p| versions.get(p)) {
                Some(prev) => format!(
                    "<a href=\"{}\">{}</a>",
                    escape(&format!(
                        "/policy/changes?from={}&to={}&lang={lang}",
                        url_part(&prev.version),
                        url_part(&v.version)
                    )),
                    escape(t("өзгерістер", "изменения", "changes"))
                ),
                None => String::new(),
            };
            body.push_str(&format!(
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{changes}</td></tr>\n",
                escape(&link),
                escape(&v.version),
                crate::render::html::keep_together(&escape(&date)),
                escape(mark)
            ));
        }
        body.push_str("</table>\n");
        Ok(crate::render::html::page(lang, title, &body))
    }
}

/// A path segment with everything but unreserved characters percent-encoded.
fn url_part(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The address of a document of a version (the one in force: `None`), without the language.
fn document_path(doc: Document, version: Option<&str>) -> String {
    match (doc, version) {
        (Document::Policy, None) => "/policy".to_owned(),
        (Document::Policy, Some(v)) => format!("/policy/versions/{}", url_part(v)),
        (d, None) => format!("/policy/documents/{}", d.name()),
        (d, Some(v)) => format!("/policy/documents/{}?version={}", d.name(), url_part(v)),
    }
}

/// A link's address with the language added.
fn with_lang(path: &str, lang: Lang) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}lang={lang}")
}

/// The links above a document page: the other languages, the other documents of the same
/// version, and the versions.
fn nav(lang: Lang, doc: Document, version: &str, in_force: bool) -> String {
    let shown = (!in_force).then_some(version);
    let here = document_path(doc, shown);
    let langs: Vec<String> = [
        (Lang::Kk, "Қазақша"),
        (Lang::Ru, "Русский"),
        (Lang::En, "English"),
    ]
    .iter()
    .map(|(l, name)| {
        if *l == lang {
            format!("<strong>{name}</strong>")
        } else {
            format!(
                "<a href=\"{}\" hreflang=\"{l}\" lang=\"{l}\">{name}</a>",
                escape(&with_lang(&here, *l))
            )
        }
    })
    .collect();
    let note = if in_force {
        String::new()
    } else {
        format!(
            " · <em>{}</em>",
            escape(derbes_core::text::tr(
                lang,
                "Бұл — қолданыстағы емес нұсқа",
                "Это не действующая версия",
                "This is not the version in force"
            ))
        )
    };
    let documents: Vec<String> = Document::ALL
        .iter()
        .map(|d| {
            if *d == doc {
                format!("<strong>{}</strong>", escape(d.title(lang)))
            } else {
                format!(
                    "<a href=\"{}\">{}</a>",
                    escape(&with_lang(&document_path(*d, shown), lang)),
                    escape(d.title(lang))
                )
            }
        })
        .collect();
    format!(
        "<nav>{} · {}{note}</nav>\n<nav>{}</nav>\n",
        langs.join(" · "),
        versions_link(lang),
        documents.join(" · ")
    )
}

/// The change report as Markdown.
pub fn changes_markdown(r: &derbes_core::policy_diff::Report, lang: Lang) -> String {
    let t = |kk: &'static str, ru: &'static str, en: &'static str| {
        derbes_core::text::tr(lang, kk, ru, en)
    };
    let mut md = format!(
        "# {}: {} → {}\n\n## {} [#consent]\n\n",
        t(
            "Құпиялылық саясатындағы өзгерістер",
            "Изменения политики конфиденциальности",
            "Changes to the privacy policy"
        ),
        r.from,
        r.to,
        t("Келісімге әсері", "Влияние на согласия", "Consent impact"),
    );
    if r.consent_impact.is_empty() {
        md.push_str(t(
            "Жаңа келісім қажет ететін мақсат жоқ.",
            "Ни одна цель не требует нового согласия.",
            "No purpose needs fresh consent.",
        ));
        md.push('\n');
    } else {
        md.push_str(t(
            "Мына мақсаттар бойынша субъектілерден жаңа келісім алу қажет:",
            "По следующим целям необходимо получить новое согласие субъектов:",
            "These purposes need fresh consent from their subjects:",
        ));
        md.push_str("\n\n");
        for c in &r.consent_impact {
            md.push_str(&format!("- **{}**: {}\n", c.label, c.reasons.join("; ")));
        }
    }
    md.push_str(&format!(
        "\n## {} [#changes]\n\n",
        t("Өзгерістер", "Изменения", "Changes")
    ));
    if r.changes.is_empty() {
        md.push_str(t("Өзгерістер жоқ.", "Изменений нет.", "No changes."));
        md.push('\n');
    }
    for (kind, heading) in [
        ("added", t("Қосылды", "Добавлено", "Added")),
        ("changed", t("Өзгертілді", "Изменено", "Changed")),
        ("removed", t("Алып тасталды", "Исключено", "Removed")),
    ] {
        let of_kind: Vec<_> = r.changes.iter().filter(|c| c.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        md.push_str(&format!("### {heading}\n\n"));
        for c in of_kind {
            md.push_str(&format!("- {}: **{}**", c.what, c.label));
            if !c.details.is_empty() {
                md.push_str(&format!(" — {}", c.details.join("; ")));
            }
            md.push('\n');
        }
        md.push('\n');
    }
    tidy(&md)
}

/// A purpose a policy change touches, with how many subjects' consents hold now and how many
/// of those do not cover the new terms (the subjects to ask again).
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentCount {
    #[serde(flatten)]
    pub impact: derbes_core::policy_diff::ConsentImpact,
    /// Subjects whose consent to the purpose holds now (not withdrawn, not expired, and given
    /// by someone who could give it).
    pub holding: u64,
    /// Of those, the subjects whose consent does not cover the purpose as the new version
    /// states it.
    pub to_ask_again: u64,
}

/// The consent impact of a change between two versions, counted on the ledger.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConsentImpactCounts {
    pub from: String,
    pub to: String,
    pub purposes: Vec<ConsentCount>,
}

/// Subjects read at a time when counting consents.
const COUNT_BATCH: u32 = 500;

/// What the console's Policy page shows: the versions, what changed between two of them and,
/// when asked, how many subjects' consents the change touches.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PolicyOverview {
    /// Newest first.
    pub versions: Vec<PolicyVersion>,
    pub in_force: Option<String>,
    pub from: String,
    pub to: String,
    /// The public change report between `from` and `to`, as HTML.
    pub changes_html: String,
    /// The consents the change touches, counted (asked for, and for those who may see it).
    pub impact: Option<ConsentImpactCounts>,
}

impl Policy {
    /// The Policy page: the versions, the change report between `from` and `to` (by default
    /// the version in force and the one before), and with `count`, the consent impact.
    pub async fn overview(
        &self,
        actor: &crate::actor::Actor,
        from: Option<&str>,
        to: Option<&str>,
        count: bool,
        lang: Lang,
    ) -> Result<PolicyOverview, crate::vault::VaultError> {
        let versions = self.versions().await?;
        if versions.is_empty() {
            // Nothing recorded yet (`derbes serve` records the declaration as it starts).
            let current = self.vault.declaration().version.clone();
            return Ok(PolicyOverview {
                versions: Vec::new(),
                in_force: None,
                from: current.clone(),
                to: current,
                changes_html: String::new(),
                impact: None,
            });
        }
        let in_force = in_force(&versions, self.vault.today()).map(|v| v.version.clone());
        let (from, to) = self.compared(from, to).await?;
        let md = self.changes(Some(&from), Some(&to), lang, false).await?;
        let changes_html = crate::render::html::markdown_to_html(&String::from_utf8_lossy(&md));
        let impact = if count {
            match self
                .consent_impact(actor, Some(&from), Some(&to), lang)
                .await
            {
                Ok(i) => Some(i),
                Err(crate::vault::VaultError::Forbidden(_)) => None,
                Err(e) => return Err(e),
            }
        } else {
            None
        };
        Ok(PolicyOverview {
            versions: versions.iter().rev().cloned().collect(),
            in_force,
            from,
            to,
            changes_html,
            impact,
        })
    }

    /// A document of a recorded version (the one in force when `None`) in `lang`, as HTML to
    /// show inside a page.
    pub async fn document_html(
        &self,
        version: Option<&str>,
        doc: Document,
        lang: Lang,
    ) -> Result<String, crate::vault::VaultError> {
        let md = self.page(version, doc, lang, false).await?;
        Ok(crate::render::html::markdown_to_html(
            &String::from_utf8_lossy(&md),
        ))
    }

    /// The two recorded versions a change report compares: by default the version in force
    /// and the one before it.
    async fn compared(
        &self,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<(String, String), crate::vault::VaultError> {
        let versions = self.versions().await?;
        let today = self.vault.today();
        let known = |v: &str| versions.iter().any(|x| x.version == v);
        let to = match to {
            Some(v) if known(v) => v.to_owned(),
            Some(_) => return Err(crate::vault::VaultError::NotFound),
            None => in_force(&versions, today)
                .map(|v| v.version.clone())
                .unwrap_or_else(|| self.vault.declaration().version.clone()),
        };
        let from = match from {
            Some(v) if known(v) => v.to_owned(),
            Some(_) => return Err(crate::vault::VaultError::NotFound),
            None => {
                let at = versions.iter().position(|v| v.version == to).unwrap_or(0);
                match at.checked_sub(1).and_then(|i| versions.get(i)) {
                    Some(v) => v.version.clone(),
                    None => to.clone(),
                }
            }
        };
        Ok((from, to))
    }

    /// The public change report between two recorded versions (see [`Policy::compared`]):
    /// what changed, and which purposes need fresh consent and why. Rendered once per pair of
    /// versions, language and format; how many subjects it touches is
    /// [`Policy::consent_impact`]'s, for those who answer for the data.
    pub async fn changes(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        lang: Lang,
        html: bool,
    ) -> Result<bytes::Bytes, crate::vault::VaultError> {
        let (from, to) = self.compared(from, to).await?;
        let key = (from, to, lang, html);
        if let Some(page) = locked(&self.cache.changes).get(&key) {
            return Ok(page.clone());
        }
        let (old, new) = (
            self.vault.recorded(&key.0).await?,
            self.vault.recorded(&key.1).await?,
        );
        let report = derbes_core::policy_diff::diff(&old, &new, lang);
        let md = changes_markdown(&report, lang);
        let page = bytes::Bytes::from(if html {
            let nav = format!(
                "<nav>{} · {}</nav>\n",
                policy_link(lang),
                versions_link(lang)
            );
            page_with_nav(lang, &nav, &md)
        } else {
            md
        });
        locked(&self.cache.changes).insert(key, page.clone());
        Ok(page)
    }

    /// Which purposes a change between two recorded versions touches (as [`Policy::changes`]
    /// reports them), each with how many subjects' consents hold now and how many of those the
    /// new terms leave uncovered. Each consent is judged as decisions judge it: its state by
    /// core's ledger fold, its coverage by the comparison decisions make.
    pub async fn consent_impact(
        &self,
        actor: &crate::actor::Actor,
        from: Option<&str>,
        to: Option<&str>,
        lang: Lang,
    ) -> Result<ConsentImpactCounts, crate::vault::VaultError> {
        self.vault
            .authorize(actor, crate::access::Action::ConsentImpact)?;
        let (from, to) = self.compared(from, to).await?;
        let (old, new) = (
            self.vault.recorded(&from).await?,
            self.vault.recorded(&to).await?,
        );
        let report = derbes_core::policy_diff::diff(&old, &new, lang);
        let mut purposes = Vec::new();
        for impact in report.consent_impact {
            let (holding, to_ask_again) = match new.purpose(&impact.purpose) {
                Some(p) => self.count_consents(&new, &impact.purpose, p).await?,
                None => (0, 0),
            };
            purposes.push(ConsentCount {
                impact,
                holding,
                to_ask_again,
            });
        }
        Ok(ConsentImpactCounts { from, to, purposes })
    }

    /// Of the subjects with consent events for `key`, those whose consent holds now, and of
    /// them those whose agreed terms do not cover `purpose` of `new`.
    async fn count_consents(
        &self,
        new: &Declaration,
        key: &str,
        purpose: &derbes_core::declaration::Purpose,
    ) -> Result<(u64, u64), crate::vault::VaultError> {
        use derbes_core::consent::{consent_state, not_covered, ConsentState};
        let (now, current) = (self.vault.now(), self.vault.declaration());
        let (mut holding, mut to_ask) = (0, 0);
        let mut after = None;
        loop {
            let ids = self
                .vault
                .store()
                .consenting_subjects(key, derbes_store::Page::after(after, COUNT_BATCH))
                .await?;
            let Some(last) = ids.last() else { break };
            after = Some(*last);
            let asked = ids.iter().map(|id| (*id, Some(key.to_owned()))).collect();
            for (record, state) in self
                .vault
                .store()
                .subjects_with_state(asked)
                .await?
                .into_iter()
                .flatten()
            {
                let facts = self.vault.facts(&record, state, now, Some(key))?;
                if let ConsentState::Holding(_, grant) =
                    consent_state(current, &facts.as_subject_facts(), key, now)
                {
                    holding += 1;
                    if !not_covered(new, purpose, &grant.terms, &purpose.fields).is_empty() {
                        to_ask += 1;
                    }
                }
            }
        }
        Ok((holding, to_ask))
    }
}

//! Templates the operator can replace, one per language: shipped with derbes, and overridden by
//! a file of the same name in the directory `templates` names in `derbes.toml`
//! (`answer.ru.txt`, `policy.kk.md`, …). Every template is checked when it is loaded, so that a
//! broken one stops the server at start, not at its first use.

use derbes_core::text::Lang;
use derbes_core::Declaration;
use std::path::Path;

/// A template that cannot be used, and why.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {problem}")]
pub struct TemplateError {
    pub file: String,
    pub problem: String,
}

/// The templates derbes ships as `templates/<stem>.<lang>.<ext>`, one per language.
macro_rules! shipped {
    ($stem:literal, $ext:literal) => {
        $crate::render::templates::LangTemplates::new(
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates/",
                $stem,
                ".kk.",
                $ext
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates/",
                $stem,
                ".ru.",
                $ext
            )),
            include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/templates/",
                $stem,
                ".en.",
                $ext
            )),
        )
    };
}
pub(crate) use shipped;

/// One template per language.
#[derive(Debug, Clone)]
pub struct LangTemplates {
    kk: String,
    ru: String,
    en: String,
}

impl LangTemplates {
    pub fn new(kk: &str, ru: &str, en: &str) -> Self {
        LangTemplates {
            kk: kk.into(),
            ru: ru.into(),
            en: en.into(),
        }
    }

    /// These templates, each replaced by `<stem>.<lang>.<ext>` in `dir` where that file exists,
    /// and each checked: every `promise("id")` in it must name a known promise (whether or not
    /// a sample reaches it), and `check` must render it.
    pub fn overridden(
        mut self,
        dir: Option<&Path>,
        stem: &str,
        ext: &str,
        check: impl Fn(&str, Lang) -> Result<(), String>,
    ) -> Result<Self, TemplateError> {
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            let name = format!("{stem}.{}.{ext}", lang.code());
            let file = match dir {
                Some(d) => {
                    let path = d.join(&name);
                    match std::fs::read_to_string(&path) {
                        Ok(text) => *self.slot(lang) = text,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => {
                            return Err(TemplateError {
                                file: path.display().to_string(),
                                problem: format!("cannot be read: {e}"),
                            })
                        }
                    }
                    path.display().to_string()
                }
                None => format!("(shipped) {name}"),
            };
            let source = self.source(lang);
            let unknown = super::promises::marks(source)
                .find(|id| super::promises::promise(id).is_none())
                .map(|id| format!("promise(\"{id}\") names no promise of docs/promises.md"));
            unknown
                .map_or_else(|| check(source, lang), Err)
                .map_err(|problem| TemplateError { file, problem })?;
        }
        Ok(self)
    }

    fn slot(&mut self, lang: Lang) -> &mut String {
        match lang {
            Lang::Kk => &mut self.kk,
            Lang::Ru => &mut self.ru,
            Lang::En => &mut self.en,
        }
    }

    pub fn source(&self, lang: Lang) -> &str {
        match lang {
            Lang::Kk => &self.kk,
            Lang::Ru => &self.ru,
            Lang::En => &self.en,
        }
    }
}

/// Renders a template text with `ctx`; names the template `name` (its extension decides
/// escaping: none for `.txt` and `.md`). Unknown names are errors, and so is a `promise("id")` with an id `promises` does not hold. The filter `cell` makes a
/// value safe inside a Markdown table cell; `md` shows a value as it is, nothing in it read as
/// Markdown; `in_text` starts a label in lower case, as it stands inside a sentence.
pub fn render<T: serde::Serialize>(name: &str, source: &str, ctx: &T) -> Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.add_filter("cell", table_cell);
    env.add_filter("md", markdown_text);
    env.add_filter("in_text", |label: String| {
        derbes_core::text::in_running_text(&label)
    });
    env.add_function("promise", promise_mark);
    env.add_template(name, source).map_err(|e| e.to_string())?;
    env.get_template(name)
        .and_then(|t| t.render(ctx))
        .map_err(|e| e.to_string())
}

/// `promise("id")`: the mark of a sentence that promises a behaviour. It renders as nothing;
/// an id the registry does not hold stops the template, so no document promises what nothing
/// keeps unnoticed.
fn promise_mark(id: &str) -> Result<String, minijinja::Error> {
    match super::promises::promise(id) {
        Some(_) => Ok(String::new()),
        None => Err(minijinja::Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("promise(\"{id}\") names no promise of docs/promises.md"),
        )),
    }
}

/// Rendered text with the runs of blank lines that template tags leave collapsed to one, trailing
/// blanks removed from each line, and no blank lines at either end.
pub(crate) fn collapse_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
            out.push('\n');
        } else {
            blank = 0;
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// A value as the text of one Markdown table cell: a `|` would end the cell and a line break
/// the row.
fn table_cell(value: String) -> String {
    value
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\r', '\n'], " ")
}

/// A value as Markdown text that reads as the value itself, in a table cell or anywhere on a
/// line: every ASCII punctuation character is escaped (so no `*`, `_`, `[`, `<` or `|` in a
/// name or an answer becomes emphasis, a link, markup or a cell's edge) and line breaks are
/// folded into spaces; spaces at either end, which a document does not show, are dropped.
fn markdown_text(value: String) -> String {
    let value = value.trim();
    let mut out = String::with_capacity(value.len() + value.len() / 8);
    for c in value.chars() {
        match c {
            '\r' | '\n' => out.push(' '),
            c if c.is_ascii_punctuation() => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// The operator, as letters, reports and documents name it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OperatorContext {
    pub name: String,
    pub bin: String,
    pub address: String,
    pub email: String,
    pub phone: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct ResponsibleContext {
    pub name: String,
    /// The job title, where one is declared.
    pub position: Option<String>,
    /// What a signature states under the name: the job title, or the role.
    pub title: String,
    pub email: String,
}

/// The operator and its responsible person, as letters and reports name them in `lang`.
pub fn operator_parts(
    declaration: &Declaration,
    lang: Lang,
) -> (OperatorContext, ResponsibleContext) {
    let o = &declaration.operator;
    (
        OperatorContext {
            name: o.name.get(lang).to_owned(),
            bin: o.bin.clone(),
            address: o.address.get(lang).to_owned(),
            email: o.email.clone(),
            phone: o.phone.clone(),
        },
        ResponsibleContext {
            name: o.responsible_person.name.get(lang).to_owned(),
            position: o.responsible_person.position_in(lang),
            title: o.responsible_person.title(lang),
            email: o.responsible_person.email.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_promise_mark_renders_as_nothing_and_an_unknown_one_stops_the_template() {
        let ctx = serde_json::json!({});
        let out = super::render("t.md", "A{{ promise(\"audit.tamper-evident\") }}B", &ctx).unwrap();
        assert_eq!(out, "AB");
        let e = super::render("t.md", "{{ promise(\"logs.immutable\") }}", &ctx).unwrap_err();
        assert!(e.contains("logs.immutable"), "{e}");
    }

    #[test]
    fn a_table_cell_keeps_its_row_whole() {
        let out = super::render(
            "t.md",
            "| {{ v | cell }} |",
            &serde_json::json!({"v": "a|b\nc\\"}),
        )
        .unwrap();
        assert_eq!(out, "| a\\|b c\\\\ |");
        let html = crate::render::html::markdown_to_html(&format!("| h |\n|---|\n{out}\n"));
        assert!(html.contains("<td data-label=\"h\">a|b c\\</td>"), "{html}");
    }

    proptest::proptest! {
        /// Whatever a value holds, `md` makes Markdown that shows exactly it, in a list item
        /// as in a table cell: no markup, emphasis, link or cell edge is made of it.
        #[test]
        fn a_value_reads_as_itself(value in "[a-zA-Zа-яәғқңөұүһі0-9 !-/:-@\\[-`{-~]{0,30}") {
            let md = super::render(
                "t.md",
                "- {{ v | md }}\n\n| h |\n|---|\n| {{ v | md }} |\n",
                &serde_json::json!({ "v": value }),
            )
            .unwrap();
            // A space may show as a non-breaking one (beside a digit), a word with a digit and a
            // hyphen stands in an unbreakable span: it reads the same.
            let html = crate::render::html::markdown_to_html(&md)
                .replace('\u{a0}', " ")
                .replace("<span class=\"nb\">", "")
                .replace("</span>", "")
                .replace("<wbr>", "");
            let shown = value
                .trim()
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;");
            proptest::prop_assert!(html.contains(&format!("<li>{shown}</li>")), "{}", html);
            proptest::prop_assert!(html.contains(&format!("<td data-label=\"h\">{shown}</td>")), "{}", html);
        }
    }
}

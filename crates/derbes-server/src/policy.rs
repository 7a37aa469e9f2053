//! The privacy policy rendered from the declaration: Markdown from the policy templates (one per
//! language, replaceable by the operator), and HTML from that Markdown in derbes' page shape,
//! with a print stylesheet.

use crate::templates::{render, LangTemplates, TemplateError};
use derbes_core::policy::context;
use derbes_core::text::Lang;
use derbes_core::Declaration;
use std::path::Path;

const BUILTIN_KK: &str = include_str!("../templates/policy.kk.md");
const BUILTIN_RU: &str = include_str!("../templates/policy.ru.md");
const BUILTIN_EN: &str = include_str!("../templates/policy.en.md");

/// The policy templates in use.
#[derive(Debug, Clone)]
pub struct PolicyTemplates(LangTemplates);

impl Default for PolicyTemplates {
    fn default() -> Self {
        PolicyTemplates(LangTemplates::new(BUILTIN_KK, BUILTIN_RU, BUILTIN_EN))
    }
}

/// A policy that cannot be rendered.
#[derive(Debug, thiserror::Error)]
#[error("the {lang} policy template cannot be rendered: {problem}")]
pub struct RenderError {
    pub lang: Lang,
    pub problem: String,
}

impl PolicyTemplates {
    /// The shipped templates, each replaced by `policy.<lang>.md` in `dir` where that file
    /// exists; every one is checked against `declaration`.
    pub fn load(dir: Option<&Path>, declaration: &Declaration) -> Result<Self, TemplateError> {
        PolicyTemplates::default()
            .0
            .overridden(dir, "policy", "md", |source, lang| {
                render("policy.md", source, &context(declaration, lang)).map(|_| ())
            })
            .map(PolicyTemplates)
    }

    /// The policy as Markdown.
    pub fn markdown(&self, d: &Declaration, lang: Lang) -> Result<String, RenderError> {
        let text = render("policy.md", self.0.source(lang), &context(d, lang))
            .map_err(|problem| RenderError { lang, problem })?;
        Ok(tidy(&text))
    }

    /// The policy as a whole HTML page.
    pub fn html(&self, d: &Declaration, lang: Lang) -> Result<String, RenderError> {
        let md = self.markdown(d, lang)?;
        let title = md
            .lines()
            .find_map(|l| l.strip_prefix("# "))
            .unwrap_or("")
            .to_owned();
        Ok(crate::html::page(lang, &title, &markdown_to_html(&md)))
    }
}

/// Blank lines that template tags leave collapse to one, and a heading's anchor, written
/// `[#id]` in the templates (`{#` opens a template comment), becomes Markdown's `{#id}`.
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.trim().lines() {
        let anchored;
        let line = match line.strip_suffix(']').and_then(|l| l.rsplit_once(" [#")) {
            Some((heading, id)) if line.starts_with('#') => {
                anchored = format!("{heading} {{#{id}}}");
                anchored.as_str()
            }
            _ => line,
        };
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

/// Markdown to HTML; raw HTML in the text is shown as text, never passed through (values come
/// from the declaration, which is not trusted to be markup).
pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser};
    let parser = Parser::new_ext(md, Options::ENABLE_HEADING_ATTRIBUTES).map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => Event::Text(h),
        other => other,
    });
    let mut out = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, parser);
    out
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
                let md = t.markdown(&d, lang).unwrap();
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
                let html = t.html(&d, lang).unwrap();
                assert!(html.contains(&format!("<html lang=\"{lang}\">")));
                assert!(html.contains("<h2 id=\"rights\">"), "{name} {lang}");
            }
            let kk = t.markdown(&d, Lang::Kk).unwrap();
            assert!(kk.contains("Дербес деректер операторы") && kk.contains("құқылы"));
            let ru = t.markdown(&d, Lang::Ru).unwrap();
            assert!(ru.contains("Оператор персональных данных"));
        }
    }

    #[test]
    fn markup_in_the_declaration_is_shown_as_text() {
        let html = markdown_to_html("## A {#a}\n\nx <script>alert(1)</script> y\n");
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
            .markdown(&d, Lang::Ru)
            .unwrap()
            .starts_with("# Товарищество"));
        assert!(t.markdown(&d, Lang::Kk).unwrap().contains("## 9."));
        std::fs::write(dir.path().join("policy.en.md"), "{{ operator.nickname }}").unwrap();
        let e = PolicyTemplates::load(Some(dir.path()), &d).unwrap_err();
        assert!(e.file.ends_with("policy.en.md"), "{e}");
    }
}

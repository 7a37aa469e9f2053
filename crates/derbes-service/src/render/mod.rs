//! Every document derbes renders goes through here: templates (minijinja) with the
//! operator's context, and Markdown made into one accessible HTML page.

pub(crate) mod html;
pub mod promises;
pub(crate) mod templates;

use derbes_core::text::Lang;

/// A line of a signed document's page (a receipt, an act): its label and value.
#[derive(serde::Serialize)]
pub(crate) struct Line {
    label: String,
    value: String,
}

/// The (label, value) pairs of a document as its page's lines.
pub(crate) fn lines(pairs: Vec<(String, String)>) -> Vec<Line> {
    pairs
        .into_iter()
        .map(|(label, value)| Line { label, value })
        .collect()
}

/// A Markdown template rendered with `ctx` and made into one HTML page in `lang`: the path of
/// every document shown as a page (the access report, a receipt's readable copy).
pub(crate) fn template_page<T: serde::Serialize>(
    lang: Lang,
    name: &str,
    source: &str,
    ctx: &T,
) -> Result<String, String> {
    let md = templates::render(name, source, ctx)?;
    Ok(html::markdown_page(
        lang,
        &templates::collapse_blank_lines(&md),
    ))
}

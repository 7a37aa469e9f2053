//! Every document derbes renders goes through here: templates (minijinja) with the
//! operator's context, and Markdown made into one accessible HTML page.

pub(crate) mod html;
pub mod promises;
pub(crate) mod templates;

use derbes_core::text::Lang;

/// A CSV file: `header`, then `rows`, each cell made safe for a spreadsheet (no formula).
pub(crate) fn csv(header: &[&str], rows: Vec<Vec<String>>) -> Result<Vec<u8>, crate::VaultError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let fail = |e: &dyn std::fmt::Display| {
        crate::VaultError::Store(derbes_store::StoreError::Backend(format!(
            "writing a CSV file: {e}"
        )))
    };
    w.write_record(header).map_err(|e| fail(&e))?;
    for r in rows {
        w.write_record(
            r.iter()
                .map(|c| derbes_core::text::spreadsheet_cell(c).into_owned()),
        )
        .map_err(|e| fail(&e))?;
    }
    w.into_inner().map_err(|e| fail(&e))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_csv_cell_runs_as_a_formula() {
        let text = csv(
            &["field", "value"],
            vec![
                vec!["surname".into(), "=HYPERLINK(\"http://x\")".into()],
                vec!["phone".into(), "+77012345678".into()],
                vec!["note".into(), "@SUM(A1)".into()],
                vec!["plain".into(), "Әлиева".into()],
            ],
        )
        .unwrap();
        let text = String::from_utf8(text).unwrap();
        for line in text.lines().skip(1) {
            let cell = line.split_once(',').unwrap().1.trim_start_matches('"');
            assert!(!cell.starts_with(['=', '+', '-', '@']), "{line}");
        }
        assert!(
            text.contains("'+77012345678") && text.contains("Әлиева"),
            "{text}"
        );
    }
}

//! The one HTML page shape of derbes' printable documents (consent receipts, access reports,
//! the policy and the other documents written in Markdown):
//! plain HTML with its style inline, no scripts, nothing fetched, readable on a phone and on
//! paper.

use derbes_core::text::Lang;

/// Text made safe for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `title` is escaped here, `body` is HTML the caller escaped.
pub(crate) fn page(lang: Lang, title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"{lang}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>\n\
         body {{ font-family: \"Noto Sans\", \"DejaVu Sans\", Arial, sans-serif; max-width: 48rem; margin: 1.5rem auto; padding: 0 1rem; line-height: 1.45; color: #111; }}\n\
         h1 {{ font-size: 1.3rem; }}\n\
         p, li {{ overflow-wrap: break-word; }}\n\
         code {{ word-break: break-all; }}\n\
         h2 {{ font-size: 1.1rem; margin-top: 2rem; }}\n\
         table {{ border-collapse: collapse; width: 100%; }}\n\
         th, td {{ text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid #ccc; overflow-wrap: anywhere; }}\n\
         th {{ width: 35%; font-weight: 600; }}\n\
         table.list th {{ width: auto; }}\n\
         .wide {{ overflow-x: auto; margin: 1rem 0; }}\n\
         .wide th {{ width: auto; border-bottom: 2px solid #888; }}\n\
         .wide td {{ overflow-wrap: normal; }}\n\
         @media (max-width: 36rem) {{ th, td {{ display: block; width: auto; border: 0; padding: .15rem 0; }} tr {{ display: block; border-bottom: 1px solid #ccc; padding: .4rem 0; }} .wide tr {{ display: table-row; }} .wide th, .wide td {{ display: table-cell; padding: .3rem .4rem; border-bottom: 1px solid #ccc; }} }}\n\
         @media print {{ body {{ margin: 0; max-width: none; }} .wide {{ overflow: visible; }} .wide table {{ font-size: .8rem; }} }}\n\
         </style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        title = escape(title)
    )
}

/// A Markdown document as a whole HTML page, titled by its first heading.
pub fn markdown_page(lang: Lang, md: &str) -> String {
    page_with_nav(lang, "", md)
}

/// A Markdown document as a whole HTML page under the links `nav` (HTML), titled by its first
/// heading.
pub(crate) fn page_with_nav(lang: Lang, nav: &str, md: &str) -> String {
    let title = md.lines().find_map(|l| l.strip_prefix("# ")).unwrap_or("");
    page(
        lang,
        &unescaped(title),
        &format!("{nav}{}", markdown_to_html(md)),
    )
}

/// A line of Markdown text with its backslash escapes undone (for a page's title, which is
/// not Markdown).
fn unescaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match chars.peek() {
            Some(&next) if c == '\\' && next.is_ascii_punctuation() => {
                out.push(next);
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out
}

/// Markdown to HTML; raw HTML in the text is shown as text, never passed through (values come
/// from the declaration, which is not trusted to be markup).
pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let options = Options::ENABLE_HEADING_ATTRIBUTES | Options::ENABLE_TABLES;
    // A table sits in a box that scrolls sideways on a narrow screen instead of the page.
    let parser = Parser::new_ext(md, options).flat_map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => vec![Event::Text(h)],
        Event::Start(Tag::Table(a)) => vec![
            Event::Html("<div class=\"wide\">\n".into()),
            Event::Start(Tag::Table(a)),
        ],
        Event::End(TagEnd::Table) => {
            vec![Event::End(TagEnd::Table), Event::Html("</div>\n".into())]
        }
        other => vec![other],
    });
    let mut out = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut out, parser);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_escapes_everything_it_is_given() {
        assert_eq!(
            escape("<a href='x'>\"&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&quot;&amp;&quot;&lt;/a&gt;"
        );
    }

    #[test]
    fn a_title_shows_what_its_heading_shows() {
        let p = markdown_page(Lang::En, "# Receipt \\(No\\. 5\\) \\<b\\>\n\ntext\n");
        assert!(
            p.contains("<title>Receipt (No. 5) &lt;b&gt;</title>"),
            "{p}"
        );
        assert!(p.contains("<h1>Receipt (No. 5) &lt;b&gt;</h1>"), "{p}");
    }

    #[test]
    fn a_page_names_its_language_and_escapes_its_title() {
        let p = page(Lang::Kk, "<Есеп>", "<p>x</p>\n");
        assert!(p.contains("<html lang=\"kk\">"));
        assert!(p.contains("<title>&lt;Есеп&gt;</title>"));
        assert!(p.contains("<body>\n<p>x</p>\n</body>"));
    }
}

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
         h2 {{ font-size: 1.1rem; margin-top: 2rem; }}\n\
         p, li, th, td {{ overflow-wrap: break-word; }}\n\
         code {{ word-break: break-all; }}\n\
         .nb {{ white-space: nowrap; }}\n\
         table {{ border-collapse: collapse; width: 100%; }}\n\
         th, td {{ text-align: left; vertical-align: top; padding: .4rem .5rem; border-bottom: 1px solid #ccc; }}\n\
         th {{ font-weight: 600; }}\n\
         .wide {{ overflow-x: auto; margin: 1rem 0; }}\n\
         .wide th {{ border-bottom: 2px solid #888; }}\n\
         @media (max-width: 36rem) {{ body {{ padding: 0 .75rem; }} ul, ol {{ padding-left: 1rem; }} .wide {{ overflow: visible; }} table, thead, tbody, tr, th, td {{ display: block; width: auto; }} tr {{ border-bottom: 1px solid #ccc; padding: .4rem 0; }} th, td {{ border: 0; padding: .15rem 0; }} .wide thead tr {{ {HIDDEN} }} .wide td[data-label]::before {{ content: attr(data-label) \": \"; font-weight: 600; }} }}\n\
         @page {{ size: A4; margin: 15mm; }}\n\
         @media print {{ body {{ margin: 0; max-width: none; font-size: 11pt; }} .wide {{ overflow: visible; }} .wide table {{ font-size: 9pt; }} .many table, .many thead, .many tbody, .many tr, .many td {{ display: block; width: auto; }} .many tr {{ border-bottom: 1px solid #ccc; padding: .3rem 0; }} .many td {{ border: 0; padding: .1rem 0; }} .many thead tr {{ {HIDDEN} }} .many td[data-label]::before {{ content: attr(data-label) \": \"; font-weight: 600; }} tr, li {{ break-inside: avoid; }} h1, h2, h3 {{ break-after: avoid; }} }}\n\
         </style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        title = escape(title),
        HIDDEN = "position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap;",
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

/// Columns from which a table is printed stacked, a row as a block of labelled lines: wider
/// tables do not fit the width of an A4 page.
const PRINTED_STACKED_FROM: usize = 5;

/// The longest word [`keep_together`] keeps with the number after it.
const SHORT_WORD: usize = 4;

/// `text` with the spaces inside numbers, dates and identifiers made non-breaking, so that a
/// line never splits a phone number ("+7 705 234 56 71"), a date ("1 августа 2025 года",
/// "2025 жылғы 1 тамыз"), a number and its unit ("30 дней") or a label and its number
/// ("№ 319-III", "БИН 940140000385"). A space joins its neighbours when the word before it
/// ends in a digit, or when the word after it starts with one and the word before it is short
/// (a preposition, a sign or an abbreviation: "с", "до", "№", "БИН") or follows a number itself
/// (the month of a date: "1 августа 2025", "2007 жылғы 27 шілдедегі"); another word before a
/// number keeps its break, or the run could outgrow a phone's line.
pub(crate) fn keep_together(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains(' ') || !text.chars().any(|c| c.is_ascii_digit()) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut words = text.split(' ').peekable();
    let mut after_number = false;
    while let Some(word) = words.next() {
        out.push_str(word);
        if let Some(next) = words.peek() {
            let number_follows = next.starts_with(|c: char| c.is_ascii_digit())
                || (next.starts_with('+') && next[1..].starts_with(|c: char| c.is_ascii_digit()));
            let ends_in_number = word.ends_with(|c: char| c.is_ascii_digit());
            let glued = ends_in_number
                || (number_follows && (after_number || word.chars().count() <= SHORT_WORD));
            after_number = ends_in_number;
            out.push(if glued && !word.is_empty() && !next.is_empty() {
                '\u{a0}'
            } else {
                ' '
            });
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Text as events, a word with a digit and a hyphen (a request id, "319-III", "2025-08-01") in
/// a span that is never broken at its hyphens. A path still breaks after its slashes and
/// before a file's extension ("receipts/" "<id>" ".json"). Text stays text: pulldown-cmark
/// escapes it.
fn unbroken(text: &str) -> Vec<pulldown_cmark::Event<'static>> {
    use pulldown_cmark::Event;
    let is_id = |w: &str| w.contains('-') && w.chars().any(|c| c.is_ascii_digit());
    let mut events = Vec::new();
    let mut plain = String::new();
    let flush = |plain: &mut String, events: &mut Vec<Event<'static>>| {
        if !plain.is_empty() {
            events.push(Event::Text(std::mem::take(plain).into()));
        }
    };
    // Each piece with the separator that ends it (a space, a non-breaking space, a slash).
    for piece in text.split_inclusive([' ', '\u{a0}', '/']) {
        let word = piece.trim_end_matches([' ', '\u{a0}', '/']);
        let separator = &piece[word.len()..];
        if is_id(word) {
            let (stem, extension) = match word.rsplit_once('.') {
                Some((stem, ext))
                    if !stem.is_empty()
                        && (1..=5).contains(&ext.len())
                        && ext.chars().all(|c| c.is_ascii_alphabetic()) =>
                {
                    (stem, Some(ext))
                }
                _ => (word, None),
            };
            flush(&mut plain, &mut events);
            events.push(Event::Html("<span class=\"nb\">".into()));
            events.push(Event::Text(stem.to_owned().into()));
            events.push(Event::Html("</span>".into()));
            if let Some(ext) = extension {
                events.push(Event::Html("<wbr>".into()));
                plain.push('.');
                plain.push_str(ext);
            }
        } else {
            plain.push_str(word);
        }
        plain.push_str(separator);
        if separator == "/" {
            flush(&mut plain, &mut events);
            events.push(Event::Html("<wbr>".into()));
        }
    }
    flush(&mut plain, &mut events);
    events
}

/// Markdown to HTML; raw HTML in the text is shown as text, never passed through (values come
/// from the declaration, which is not trusted to be markup). A table sits in a box that
/// scrolls sideways when it is wider than the page; on a phone, and in print when it has many
/// columns, each row stands as a block of lines, each cell after its column's name
/// (`data-label`). Numbers, dates and identifiers are not split between lines
/// ([`keep_together`]).
pub fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
    let options = Options::ENABLE_HEADING_ATTRIBUTES | Options::ENABLE_TABLES;
    // The column names of the table being read, and where the reader is in it.
    let mut columns: Vec<String> = Vec::new();
    let (mut in_head, mut cell) = (false, 0usize);
    // Text in one piece, as the reader sees it ("319\\-III" is one word, not two events).
    let parser = pulldown_cmark::TextMergeStream::new(Parser::new_ext(md, options));
    let parser = parser.flat_map(|e| match e {
        Event::Html(h) | Event::InlineHtml(h) => {
            if let (true, Some(name)) = (in_head, columns.last_mut()) {
                name.push_str(&h);
            }
            vec![Event::Text(h)]
        }
        Event::Start(Tag::Table(a)) => {
            columns.clear();
            let class = if a.len() >= PRINTED_STACKED_FROM {
                "wide many"
            } else {
                "wide"
            };
            vec![
                Event::Html(format!("<div class=\"{class}\">\n").into()),
                Event::Start(Tag::Table(a)),
            ]
        }
        Event::End(TagEnd::Table) => {
            vec![Event::End(TagEnd::Table), Event::Html("</div>\n".into())]
        }
        Event::Start(Tag::TableHead) => {
            in_head = true;
            vec![e]
        }
        Event::End(TagEnd::TableHead) => {
            in_head = false;
            vec![e]
        }
        Event::Start(Tag::TableRow) => {
            cell = 0;
            vec![e]
        }
        Event::Start(Tag::TableCell) if !in_head => {
            let label = columns.get(cell).map_or("", String::as_str);
            cell += 1;
            vec![Event::Html(
                format!("<td data-label=\"{}\">", escape(label)).into(),
            )]
        }
        Event::End(TagEnd::TableCell) if !in_head => vec![Event::Html("</td>\n".into())],
        Event::Start(Tag::TableCell) => {
            columns.push(String::new());
            vec![e]
        }
        Event::Text(t) if in_head => {
            if let Some(name) = columns.last_mut() {
                name.push_str(&t);
            }
            vec![Event::Text(t)]
        }
        Event::Text(t) => unbroken(&keep_together(&t)),
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
        // In the page, "No." and its number stay on one line.
        assert!(p.contains("<h1>Receipt (No.\u{a0}5) &lt;b&gt;</h1>"), "{p}");
    }

    #[test]
    fn numbers_dates_and_identifiers_are_not_split_words_still_are() {
        let nb = |s: &str| s.replace(' ', "\u{a0}");
        for (text, kept) in [
            (
                "тел. +7 705 234 56 71.",
                format!("{}.", nb("тел. +7 705 234 56 71")),
            ),
            (
                "с 1 августа 2025 года",
                // A preposition stays with its number too.
                nb("с 1 августа 2025 года"),
            ),
            ("2025 жылғы 1 тамыз", nb("2025 жылғы 1 тамыз")),
            (
                "БИН 940140000385, адрес",
                format!("{}, адрес", nb("БИН 940140000385")),
            ),
            (
                "№ 319-III «Об образовании»",
                format!("{} «Об образовании»", nb("№ 319-III")),
            ),
            ("срок — 30 дней", format!("срок {}", nb("— 30 дней"))),
        ] {
            assert_eq!(keep_together(text), kept, "{text}");
        }
        assert_eq!(keep_together("без чисел здесь"), "без чисел здесь");
        // In a page: the text, never the markup or code.
        let html = markdown_to_html("Телефон: +7 705 234 56 71\n\n`a 1`\n");
        assert!(html.contains(&nb("+7 705 234 56 71")), "{html}");
        assert!(html.contains("<code>a 1</code>"), "{html}");
        // A word with a digit and a hyphen is never broken at the hyphen.
        let html =
            markdown_to_html("Запрос 01a24d0b-b701-74b8-8252-73012de3a56a, закон № 319-III.\n");
        assert!(
            html.contains("<span class=\"nb\">01a24d0b-b701-74b8-8252-73012de3a56a,</span>"),
            "{html}"
        );
        assert!(
            html.contains("№\u{a0}<span class=\"nb\">319-III.</span>"),
            "{html}"
        );
        assert!(!markdown_to_html("IP-адрес").contains("span"));
        // A path may break after a slash, never inside the id.
        let html = markdown_to_html("receipts/01a24d0b-b701-74b8-8252-73012de3a56a.json\n");
        assert!(
            html.contains(
                "receipts/<wbr><span class=\"nb\">01a24d0b-b701-74b8-8252-73012de3a56a</span><wbr>.json"
            ),
            "{html}"
        );
    }

    #[test]
    fn a_table_row_names_each_cell_by_its_column() {
        let html = markdown_to_html(
            "| № | Поле | Значение |\n|---|---|---|\n| 1 | ИИН | 940140000385 |\n",
        );
        assert!(html.contains("<div class=\"wide\">"), "{html}");
        assert!(html.contains("<th>Поле</th>"), "{html}");
        assert!(
            html.contains("<td data-label=\"Значение\">940140000385</td>"),
            "{html}"
        );
        let wide = markdown_to_html(
            "| a | b | c | d | e |\n|---|---|---|---|---|\n| 1 | 2 | 3 | 4 | 5 |\n",
        );
        assert!(wide.contains("<div class=\"wide many\">"), "{wide}");
        // A column name is text in an attribute, escaped.
        let odd = markdown_to_html("| a \"<b>\" |\n|---|\n| 1 |\n");
        assert!(
            odd.contains("data-label=\"a &quot;&lt;b&gt;&quot;\""),
            "{odd}"
        );
    }

    #[test]
    fn a_page_names_its_language_and_escapes_its_title() {
        let p = page(Lang::Kk, "<Есеп>", "<p>x</p>\n");
        assert!(p.contains("<html lang=\"kk\">"));
        assert!(p.contains("<title>&lt;Есеп&gt;</title>"));
        assert!(p.contains("<body>\n<p>x</p>\n</body>"));
    }
}

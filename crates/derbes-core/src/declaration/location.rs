//! Finding where a path of keys sits in the TOML source, for messages with line and column.

use std::fmt;
use std::ops::Range;
use toml_edit::{Document, Item, Value};

/// One step of a path into the declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path such as `purposes.education.fields[2]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn root() -> Self {
        Self(Vec::new())
    }
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Key(k.to_owned()));
        Self(v)
    }
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Seg::Index(i));
        Self(v)
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

enum Node<'a> {
    Item(&'a Item),
    Value(&'a Value),
}

/// The byte range of the deepest part of `path` present in the document: the value when it
/// exists, else its key, else the closest enclosing table.
pub fn locate(doc: &Document<&str>, path: &Path) -> Option<Range<usize>> {
    let mut node = Node::Item(doc.as_item());
    let mut best: Option<Range<usize>> = None;
    for seg in &path.0 {
        let next: Option<(Option<Range<usize>>, Node<'_>)> = match (seg, &node) {
            (Seg::Key(k), Node::Item(Item::Table(t))) => t
                .get_key_value(k)
                .map(|(key, item)| (key.span(), Node::Item(item))),
            (Seg::Key(k), Node::Item(Item::Value(Value::InlineTable(t))))
            | (Seg::Key(k), Node::Value(Value::InlineTable(t))) => t
                .get_key_value(k)
                .map(|(key, v)| (key.span(), Node::Item(v))),
            (Seg::Index(i), Node::Item(Item::Value(Value::Array(a))))
            | (Seg::Index(i), Node::Value(Value::Array(a))) => {
                a.get(*i).map(|v| (None, Node::Value(v)))
            }
            _ => None,
        };
        match next {
            Some((key_span, n)) => {
                let value_span = match &n {
                    Node::Item(i) => i.span(),
                    Node::Value(v) => v.span(),
                };
                if let Some(s) = value_span.or(key_span) {
                    best = Some(s);
                }
                node = n;
            }
            None => break,
        }
    }
    best
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |p| p + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_values() {
        let src =
            "a = 1\n[purposes.edu]\nfields = [\"x\", \"y\"]\nlabel = { kk = \"Ә\", ru = \"б\" }\n";
        let doc = Document::parse(src).unwrap();
        let p = Path::root()
            .key("purposes")
            .key("edu")
            .key("fields")
            .index(1);
        let span = locate(&doc, &p).unwrap();
        assert_eq!(&src[span.clone()], "\"y\"");
        assert_eq!(line_column(src, span.start), (3, 16));
        let p = Path::root()
            .key("purposes")
            .key("edu")
            .key("label")
            .key("en");
        let span = locate(&doc, &p).unwrap();
        assert!(src[span].starts_with('{'));
        assert_eq!(p.to_string(), "purposes.edu.label.en");
    }

    #[test]
    fn columns_count_characters() {
        assert_eq!(line_column("әә x", 5), (1, 4));
    }
}

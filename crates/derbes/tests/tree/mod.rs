//! What the tests that read the source tree share: where the workspace is, its files, and the
//! shipped templates with the words they say outside their tags.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file under `dir` (at any depth) whose name ends in `.<ext>`, sorted.
pub fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == ext) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The templates derbes ships, as (file name, text), sorted by name.
pub fn templates() -> Vec<(String, String)> {
    let dir = workspace().join("crates/derbes-service/templates");
    let mut out: Vec<(String, String)> = ["md", "txt"]
        .iter()
        .flat_map(|ext| files(&dir, ext))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// A template's text outside its tags (`{{ }}`, `{% %}` and comments `{# #}`), line by line
/// as written; each tag but a comment stands as `0`, so that the marks around it are not
/// joined.
pub fn template_words(template: &str) -> String {
    let mut text = String::new();
    let mut rest = template;
    while let Some(at) = ["{{", "{%", "{#"].iter().filter_map(|o| rest.find(o)).min() {
        text.push_str(&rest[..at]);
        let (close, stands) = match &rest[at..at + 2] {
            "{{" => ("}}", "0"),
            "{%" => ("%}", "0"),
            _ => ("#}", ""),
        };
        match rest[at..].find(close) {
            Some(end) => rest = &rest[at + end + 2..],
            None => return text,
        }
        text.push_str(stands);
    }
    text.push_str(rest);
    text
}

pub fn cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

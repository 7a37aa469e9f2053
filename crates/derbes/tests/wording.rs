//! The mechanical errors of wording a native reading found, kept out for good: doubled
//! punctuation, Latin look-alike letters inside Cyrillic words, and Kazakh "жеке деректер"
//! where Law 94-V says "дербес деректер". Checked over the text of every shipped template and
//! over every document rendered from every example declaration in every language.
#![allow(clippy::unwrap_used)]

use derbes_core::text::Lang;
use derbes_core::Declaration;
use derbes_service::{Document, PolicyTemplates};

mod tree;

use tree::{cyrillic, template_words, workspace};

/// Pairs of marks that never stand side by side (an ellipsis `...` aside); `.,` is left out,
/// since an initial stands before a comma ("А. И., 1 августа").
const DOUBLED: &[&str] = &[
    "..", ",,", ";;", ",.", ";.", ":.", ":;", ";:", ",;", ";,", ".;",
];

/// What is wrong with one line of `lang` text, if anything.
fn problems(line: &str, lang: Lang) -> Vec<String> {
    let mut out = Vec::new();
    let unspaced: String = line.chars().filter(|c| *c != ' ').collect();
    for pair in DOUBLED {
        let mut rest = unspaced.as_str();
        while let Some(at) = rest.find(pair) {
            let ellipsis =
                *pair == ".." && (rest[at + 2..].starts_with('.') || rest[..at].ends_with('.'));
            if !ellipsis {
                out.push(format!("doubled punctuation {pair:?}"));
                break;
            }
            rest = &rest[at + 2..];
        }
    }
    for word in line.split(|c: char| !c.is_alphanumeric()) {
        if word.chars().any(cyrillic) && word.chars().any(|c| c.is_ascii_alphabetic()) {
            out.push(format!("Latin letters inside the Cyrillic word {word:?}"));
        }
    }
    if lang == Lang::Kk && line.to_lowercase().contains("жеке деректер") {
        out.push("\"жеке деректер\" where the Law says \"дербес деректер\"".into());
    }
    out
}

fn lang_of(name: &str) -> Lang {
    match name.split('.').nth(1) {
        Some("kk") => Lang::Kk,
        Some("ru") => Lang::Ru,
        _ => Lang::En,
    }
}

#[test]
fn the_shipped_templates_read_without_mechanical_errors() {
    let mut errors = Vec::new();
    for (name, template) in tree::templates() {
        for (i, line) in template_words(&template).lines().enumerate() {
            for p in problems(line, lang_of(&name)) {
                errors.push(format!("{name}:{}: {p}: {line}", i + 1));
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn every_rendered_document_of_every_example_reads_without_mechanical_errors() {
    let templates = PolicyTemplates::default();
    let mut errors = Vec::new();
    let mut read = 0;
    for entry in std::fs::read_dir(workspace().join("examples")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let d = Declaration::load(&std::fs::read_to_string(&path).unwrap())
            .unwrap()
            .declaration;
        let example = path.file_stem().unwrap().to_string_lossy().into_owned();
        for doc in Document::ALL {
            for lang in Lang::ALL {
                let md = templates.markdown(doc, &d, lang).unwrap();
                read += 1;
                for (i, line) in md.lines().enumerate() {
                    for p in problems(line, lang) {
                        errors.push(format!(
                            "{example} {}.{lang}:{}: {p}: {line}",
                            doc.name(),
                            i + 1
                        ));
                    }
                }
            }
        }
    }
    assert_eq!(
        read,
        5 * Document::ALL.len() * 3,
        "five examples, every document and language"
    );
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn the_checks_catch_what_they_name() {
    assert!(problems("вступает в силу 1 августа 2025 г..", Lang::Ru)[0].contains("doubled"));
    assert!(problems("срок — 30 дней;.", Lang::Ru)[0].contains("doubled"));
    assert!(problems("Подробнее...", Lang::Ru).is_empty());
    assert!(problems("Тасмагамбетова А. И., 1 августа", Lang::Ru).is_empty());
    // "Оператор" with a Latin "О" and "р".
    assert!(problems("OпepaTop", Lang::Ru)[0].contains("Latin"));
    assert!(problems("IP-адрес и cookie", Lang::Ru).is_empty());
    assert!(problems("Жеке деректер субъектілері", Lang::Kk)[0].contains("дербес"));
    assert!(problems("Жеке деректер", Lang::Ru).is_empty());
}

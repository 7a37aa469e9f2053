//! The mechanical errors of wording a native reading found, kept out for good: doubled
//! punctuation, Latin look-alike letters inside Cyrillic words, Kazakh "жеке деректер" where
//! Law 94-V says "дербес деректер", list items keeping their capitals after a colon, and a name
//! inserted after a word that governs a case other than the nominative. Checked over the text of
//! every shipped template and over every document rendered from every example declaration in
//! every language.
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

/// Lists after a colon whose items keep their capital letters: "Субъекты: Обучающийся;
/// Работник". `names` are the declaration's names (operator, recipients, countries, the
/// authorized body), which keep theirs; so do abbreviations (ИИН, IP-адрес) and what stands in
/// parentheses (the titles of laws). A sentence after a label ("**Cookies**: Needed for …;
/// turning them off …") starts with a capital once; a list keeps them on every item.
fn capitals_in_lists(line: &str, names: &[String]) -> Vec<String> {
    let plain = outside_parentheses(line);
    let names: Vec<String> = names.iter().map(|n| outside_parentheses(n)).collect();
    let Some((_, list)) = plain.split_once(": ") else {
        return Vec::new();
    };
    let capitalized: Vec<&str> = list
        .split("; ")
        .map(str::trim)
        .filter(|item| {
            let mut chars = item.chars();
            let named = names
                .iter()
                .any(|n| !n.is_empty() && item.starts_with(n.as_str()));
            matches!((chars.next(), chars.next()), (Some(a), Some(b)) if a.is_uppercase() && b.is_lowercase())
                && !named
        })
        .collect();
    if capitalized.len() < 2 {
        return Vec::new();
    }
    vec![format!(
        "list items keep their capitals after a colon: {:?}",
        capitalized
    )]
}

/// `text` without what stands in parentheses.
fn outside_parentheses(text: &str) -> String {
    let mut plain = String::new();
    let mut depth = 0u32;
    for c in text.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => plain.push(c),
            _ => {}
        }
    }
    plain.trim_end().to_owned()
}

/// Template values that are names (of the operator, a person, a body, a court): in Kazakh and
/// Russian they are given in the nominative case, so a sentence introduces them with a label
/// and a colon, a dash, or a parenthesis, or makes them its subject.
const NAMES: &[&str] = &[
    "operator.name",
    "operator.approval.by",
    "operator.responsible_name",
    "responsible.name",
    "authority",
    "authorized_body",
    "court",
];

/// Where a name may stand after a word: as the subject of that verb (nominative is right).
const SUBJECT_OF: &[&str] = &["разрешает", "дауды", "decided by"];

/// Names inserted in `template` after a word that may govern another case ("даю согласие
/// оператору {{ operator.name }}", "обратившись в {{ authority }}").
fn names_after_governing_words(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in template.lines() {
        let mut rest = line;
        let mut before = String::new();
        while let Some(at) = rest.find("{{") {
            before.push_str(&rest[..at]);
            let Some(end) = rest[at..].find("}}") else {
                break;
            };
            let expr = rest[at + 2..at + end].trim();
            let var = expr.split('|').next().unwrap_or("").trim();
            // What a reader sees before the value: the words outside other tags.
            let seen = template_words(&before);
            let seen = seen
                .trim_end_matches('0')
                .trim_end()
                .trim_start_matches('#')
                .trim();
            let introduced = seen.is_empty()
                || seen.ends_with(':')
                || seen.ends_with('—')
                || seen.ends_with('(')
                || seen.ends_with("**")
                || SUBJECT_OF.iter().any(|w| seen.ends_with(w));
            if NAMES.contains(&var) && !introduced {
                let tail: String = seen
                    .chars()
                    .rev()
                    .take(30)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                out.push(format!("{{{{ {var} }}}} after \"…{tail}\""));
            }
            before.push_str(&rest[at..at + end + 2]);
            rest = &rest[at + end + 2..];
        }
    }
    out
}

/// The names a declaration gives, in `lang`: the operator, recipients, countries, services and
/// the authorized body.
fn names_of(d: &Declaration, lang: Lang) -> Vec<String> {
    let mut names = vec![
        d.operator.name.get(lang).to_owned(),
        d.authorized_body.name.get(lang).to_owned(),
    ];
    names.extend(d.recipients.values().map(|r| r.label.get(lang).to_owned()));
    names.extend(
        d.recipients
            .values()
            .map(|r| derbes_core::policy::country_name(&r.country, lang)),
    );
    names.extend(d.services.values().map(|s| s.label.get(lang).to_owned()));
    names
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
        if lang_of(&name) != Lang::En {
            for p in names_after_governing_words(&template) {
                errors.push(format!(
                    "{name}: a name in the nominative after a governing word: {p}"
                ));
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
                let names = names_of(&d, lang);
                read += 1;
                for (i, line) in md.lines().enumerate() {
                    let problems = problems(line, lang)
                        .into_iter()
                        .chain(capitals_in_lists(line, &names));
                    for p in problems {
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
    let names = ["Республика Казахстан".to_owned()];
    assert!(!capitals_in_lists("- Субъекты: Обучающийся; Работник.", &names).is_empty());
    assert!(capitals_in_lists("- Субъекты: обучающийся; работник.", &names).is_empty());
    assert!(capitals_in_lists("страны: Республика Казахстан; ИИН; IP-адрес", &names).is_empty());
    assert!(capitals_in_lists("Оператор: Товарищество «Школа»", &names).is_empty());
    assert!(capitals_in_lists(
        "- **Cookies** (necessary): Needed to sign in; turning them off",
        &names
    )
    .is_empty());
    assert!(capitals_in_lists(
        "основание: закон (Трудовой кодекс; Налоговый кодекс).",
        &names
    )
    .is_empty());
    assert_eq!(
        names_after_governing_words("даю согласие оператору {{ operator.name }}").len(),
        1
    );
    assert_eq!(
        names_after_governing_words("обратиться в {{ authority }}.").len(),
        1
    );
    assert!(names_after_governing_words(
        "Оператор: {{ operator.name }}, БИН {{ operator.bin }}; орган: {{ authority }}"
    )
    .is_empty());
    assert!(names_after_governing_words("Спор разрешает {{ court }}.").is_empty());
}

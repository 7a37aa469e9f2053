//! Every user-facing string exists in Kazakh, Russian and English, each in its own language:
//! the text given to `tr(lang, kk, ru, en)` (and the closures that wrap it) across the sources,
//! and the templates shipped for each language.
//!
//! A string "lacks a language" when one of its three versions is empty, is another language's
//! text left untranslated (Kazakh letters in Russian, Cyrillic in English, the Russian text
//! repeated as the Kazakh one), or when a template of one language says more or less than its
//! siblings (other values, other sections, other conditions).
#![allow(clippy::unwrap_used)]

mod tree;

use tree::{files, template_words, workspace};

/// The letters Kazakh has and Russian does not.
const KAZAKH_LETTERS: &str = "әғқңөұүһіӘҒҚҢӨҰҮҺІ";

fn cyrillic(s: &str) -> bool {
    s.chars().any(tree::cyrillic)
}

fn kazakh(s: &str) -> bool {
    s.chars().any(|c| KAZAKH_LETTERS.contains(c))
}

/// Words spelled alike in Kazakh and Russian, which a Kazakh string may repeat.
const SHARED_WORDS: &[&str] = &[
    "Оператор",
    "Субъект",
    "Канада",
    "Германия",
    "Ирландия",
    "Нидерланды",
    "Финляндия",
];

/// Words Russian writes on their own and Kazakh does not have.
const RUSSIAN_WORDS: &[&str] = &[
    "и",
    "в",
    "во",
    "на",
    "по",
    "с",
    "со",
    "для",
    "от",
    "что",
    "или",
    "к",
    "из",
    "за",
    "при",
    "о",
    "об",
    "это",
    "этот",
    "этой",
    "этого",
    "этих",
    "который",
    "которые",
    "является",
    "также",
    "если",
    "не",
    "все",
    "только",
    "его",
    "их",
    "как",
    "может",
    "могут",
    "быть",
];

/// Endings of Russian words that Kazakh words do not have.
const RUSSIAN_ENDINGS: &[&str] = &["ся", "ого", "ыми", "ями", "ется", "ются"];

/// Russian text where Kazakh should be: no Kazakh letters, and Russian's own small words or a
/// long run of Cyrillic words (a Kazakh sentence that long has Kazakh letters).
fn looks_russian(text: &str) -> bool {
    if kazakh(text) {
        return false;
    }
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| cyrillic(w))
        .map(str::to_lowercase)
        .collect();
    let small = words
        .iter()
        .filter(|w| {
            RUSSIAN_WORDS.contains(&w.as_str())
                || (w.chars().count() > 4 && RUSSIAN_ENDINGS.iter().any(|e| w.ends_with(e)))
        })
        .count();
    small >= 2 || words.len() >= 10
}

/// The problems of one string in three languages, if any.
fn problems(kk: &str, ru: &str, en: &str) -> Vec<String> {
    let mut out = Vec::new();
    // Kazakh says with a suffix what Russian and English say with a leading preposition.
    let prefix_only = kk.is_empty() && ru.ends_with(' ') && en.ends_with(' ');
    for (lang, text) in [("kk", kk), ("ru", ru), ("en", en)] {
        if text.trim().is_empty() && !(lang == "kk" && prefix_only) {
            out.push(format!("the {lang} text is empty"));
        }
    }
    if cyrillic(en) {
        out.push(format!("the en text has Cyrillic letters: {en:?}"));
    }
    if kazakh(ru) {
        out.push(format!("the ru text has Kazakh letters: {ru:?}"));
    }
    if cyrillic(ru) && !kk.is_empty() && !cyrillic(kk) {
        out.push(format!("the kk text is not in Cyrillic: {kk:?}"));
    }
    if !kk.is_empty() && kk == ru && cyrillic(kk) && !SHARED_WORDS.contains(&kk) {
        out.push(format!("the kk text is the ru one: {kk:?}"));
    } else if looks_russian(kk) {
        out.push(format!("the kk text reads as Russian: {kk:?}"));
    }
    out
}

/// A Rust string literal starting at `s` (after optional whitespace): its value and the rest.
fn literal(s: &str) -> Option<(String, &str)> {
    let s = s.trim_start();
    let (raw, body) = if let Some(b) = s.strip_prefix("r\"") {
        (true, b)
    } else {
        (false, s.strip_prefix('"')?)
    };
    let mut value = String::new();
    let mut chars = body.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &body[i + 1..])),
            '\\' if !raw => match chars.next()?.1 {
                'n' => value.push('\n'),
                '\n' => {
                    // A line continuation: the next line's leading blanks are dropped.
                    while chars.clone().next().is_some_and(|(_, c)| c.is_whitespace()) {
                        chars.next();
                    }
                }
                other => value.push(other),
            },
            c => value.push(c),
        }
    }
    None
}

/// Every call `name(lang, "kk", "ru", "en")` or `name("kk", "ru", "en")` whose three language
/// arguments are string literals, with its line.
fn triples(source: &str, name: &str) -> Vec<(usize, [String; 3])> {
    let mut found = Vec::new();
    let opening = format!("{name}(");
    let mut from = 0;
    while let Some(at) = source[from..].find(&opening) {
        let start = from + at;
        from = start + opening.len();
        // A whole identifier, not the end of a longer one.
        if source[..start]
            .chars()
            .last()
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        let mut rest = source[from..].trim_start();
        if !rest.starts_with('"') && !rest.starts_with("r\"") {
            // `tr(lang, …)`: skip the language argument.
            match rest.find(',') {
                Some(comma) if !rest[..comma].contains(['"', '(', ')']) => {
                    rest = &rest[comma + 1..];
                }
                _ => continue,
            }
        }
        let mut texts = Vec::new();
        for i in 0..3 {
            let Some((text, after)) = literal(rest) else {
                break;
            };
            texts.push(text);
            rest = after.trim_start();
            let sep = if i < 2 { ',' } else { ')' };
            match rest.strip_prefix(sep) {
                Some(r) => rest = r,
                // A trailing comma before the closing parenthesis.
                None if i == 2 && rest.starts_with(',') => rest = rest[1..].trim_start(),
                None => break,
            }
        }
        if let Ok(texts) = <[String; 3]>::try_from(texts) {
            let line = source[..start].lines().count();
            found.push((line, texts));
        }
    }
    found
}

#[test]
fn every_string_in_the_code_has_each_language() {
    let sources = files(&workspace().join("crates"), "rs");
    let mut checked = 0;
    let mut errors = Vec::new();
    for path in &sources {
        if path.ends_with("tests/languages.rs") {
            continue;
        }
        let source = std::fs::read_to_string(path).unwrap();
        for name in ["tr", "t"] {
            for (line, [kk, ru, en]) in triples(&source, name) {
                checked += 1;
                for p in problems(&kk, &ru, &en) {
                    errors.push(format!("{}:{line}: {p}", path.display()));
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
    // The scan finds the strings it is meant to check.
    assert!(checked > 200, "only {checked} strings found");
}

#[test]
fn the_check_catches_a_missing_or_untranslated_language() {
    let found = triples(
        "x(tr(lang, \"жойылады\", \"уничтожаются\", \"destroyed\")); t(\"\", \"да\", \"yes\",)\n\
         tr(\n    lang,\n    \"уничтожаются\",\n    \"уничтожаются\",\n    \"уничтожаются\"\n)",
        "tr",
    );
    assert_eq!(found.len(), 2);
    assert!(problems(&found[0].1[0], &found[0].1[1], &found[0].1[2]).is_empty());
    let p = problems(&found[1].1[0], &found[1].1[1], &found[1].1[2]);
    assert_eq!(p.len(), 2, "{p:?}");
    let t = triples("t(\"\", \"да\", \"yes\",)", "t");
    assert_eq!(problems(&t[0].1[0], &t[0].1[1], &t[0].1[2]).len(), 1);
    assert_eq!(problems("", "по ", "through ").len(), 0);
    assert_eq!(problems("иә", "қажет", "yes").len(), 1);
    assert_eq!(
        problems("Сведения о семье и здоровье", "Сведения о семье", "Family").len(),
        1
    );
    assert!(looks_russian(
        "Согласие может быть отозвано в любой момент по заявлению"
    ));
    assert!(!looks_russian(
        "Келісімді кез келген уақытта кері қайтарып алуға болады"
    ));
}

/// Values that are one value in the grammatical form each language needs: a template may use
/// any of them where its siblings use another.
const FORMS: &[&str] = &["minors.age_of_majority", "minors.age_genitive"];

/// What a template says apart from its words: its values, its conditions and loops, and its
/// section anchors, in order.
fn skeleton(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find(['{', '[']) {
        rest = &rest[at..];
        let close = if rest.starts_with("{{") {
            "}}"
        } else if rest.starts_with("{%") {
            "%}"
        } else if rest.starts_with("[#") {
            "]"
        } else {
            rest = &rest[1..];
            continue;
        };
        match rest.find(close) {
            Some(end) => {
                let mut tag: String = rest[..end + close.len()].split_whitespace().collect();
                for form in FORMS {
                    tag = tag.replace(form, "minors.age_words");
                }
                out.push(tag);
                rest = &rest[end + close.len()..];
            }
            None => break,
        }
    }
    out
}

#[test]
fn every_template_exists_in_each_language_and_says_the_same() {
    let dir = workspace().join("crates/derbes-service/templates");
    let mut stems: Vec<String> = tree::templates()
        .iter()
        .filter_map(|(name, _)| Some(name.split_once('.')?.0.to_owned()))
        .collect();
    stems.sort();
    stems.dedup();
    assert!(stems.len() >= 5, "{stems:?}");
    let mut errors = Vec::new();
    for stem in &stems {
        let read = |lang: &str| {
            ["md", "txt"].iter().find_map(|ext| {
                std::fs::read_to_string(dir.join(format!("{stem}.{lang}.{ext}"))).ok()
            })
        };
        let (Some(kk), Some(ru), Some(en)) = (read("kk"), read("ru"), read("en")) else {
            errors.push(format!("{stem}: not in all of kk, ru and en"));
            continue;
        };
        let (skk, sru, sen) = (skeleton(&kk), skeleton(&ru), skeleton(&en));
        if skk != sru || sru != sen {
            let at = (0..skk.len().max(sru.len()).max(sen.len()))
                .find(|&i| skk.get(i) != sru.get(i) || sru.get(i) != sen.get(i))
                .unwrap_or(0);
            errors.push(format!(
                "{stem}: the languages differ in their values or sections at tag {at}: kk {:?}, ru {:?}, en {:?}",
                skk.get(at),
                sru.get(at),
                sen.get(at)
            ));
        }
        for (lang, text) in [("kk", &kk), ("ru", &ru), ("en", &en)] {
            for (i, line) in template_words(text).lines().enumerate() {
                let bad = match lang {
                    "en" => cyrillic(line),
                    "ru" => kazakh(line),
                    _ => looks_russian(line),
                };
                if bad {
                    errors.push(format!(
                        "{stem}.{lang}: line {} is not in {lang}: {line}",
                        i + 1
                    ));
                }
            }
        }
    }
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

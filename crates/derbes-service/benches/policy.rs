//! Rendering every document of the largest example declaration (the privacy policy, the list
//! of personal data, the consent forms and the record of processing activities) in three
//! languages, as Markdown and HTML.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use derbes_core::text::Lang;
use derbes_core::Declaration;
use derbes_service::{Document, PolicyTemplates};

fn render_all(c: &mut Criterion) {
    let d = Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
        .unwrap()
        .declaration;
    let t = PolicyTemplates::default();
    c.bench_function("policy: kk, ru, en as Markdown and HTML", |b| {
        b.iter(|| {
            for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                std::hint::black_box(t.markdown(Document::Policy, &d, lang).unwrap());
                std::hint::black_box(t.html(Document::Policy, &d, lang).unwrap());
            }
        })
    });
    c.bench_function("all four documents: kk, ru, en as Markdown and HTML", |b| {
        b.iter(|| {
            for doc in Document::ALL {
                for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                    std::hint::black_box(t.markdown(doc, &d, lang).unwrap());
                    std::hint::black_box(t.html(doc, &d, lang).unwrap());
                }
            }
        })
    });
}

criterion_group!(benches, render_all);
criterion_main!(benches);

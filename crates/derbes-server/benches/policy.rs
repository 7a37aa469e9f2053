//! Rendering the privacy policy of the largest example declaration in three languages, as
//! Markdown and HTML.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion};
use derbes_core::text::Lang;
use derbes_core::Declaration;
use derbes_server::PolicyTemplates;

fn render_all(c: &mut Criterion) {
    let d = Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
        .unwrap()
        .declaration;
    let t = PolicyTemplates::default();
    c.bench_function("policy: kk, ru, en as Markdown and HTML", |b| {
        b.iter(|| {
            for lang in [Lang::Kk, Lang::Ru, Lang::En] {
                std::hint::black_box(t.markdown(&d, lang).unwrap());
                std::hint::black_box(t.html(&d, lang).unwrap());
            }
        })
    });
}

criterion_group!(benches, render_all);
criterion_main!(benches);

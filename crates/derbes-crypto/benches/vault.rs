//! Seal + open of a 10-field subject, one blind index, and one sign-in's password check.

use criterion::{criterion_group, criterion_main, Criterion};
use derbes_crypto::{DataKey, KeyRing};
use std::hint::black_box;
use uuid::Uuid;

const FIELDS: [(&str, &str); 10] = [
    ("surname", "Нұрланова"),
    ("given_name", "Әйгерім"),
    ("patronymic", "Серікқызы"),
    ("iin", "061211600012"),
    ("birth_date", "2006-12-11"),
    ("email", "aigerim.nurlanova@mail.kz"),
    ("phone", "+77012345678"),
    ("region", "almaty_city"),
    ("address", "Алматы қ., Абай даңғылы, 10-үй, 25-пәтер"),
    ("school_class", "11А"),
];

fn bench(c: &mut Criterion) {
    let ring = KeyRing::generate().expect("key ring");
    let subject = Uuid::now_v7();
    c.bench_function(
        "seal+open 10-field subject (wrap/unwrap data key included)",
        |b| {
            b.iter(|| {
                let dk = DataKey::generate().expect("data key");
                let wrapped = ring.wrap(&dk, &subject, 1).expect("wrap");
                let sealed: Vec<Vec<u8>> = FIELDS
                    .iter()
                    .map(|(k, v)| dk.seal(&subject, 1, k, v.as_bytes()).expect("seal"))
                    .collect();
                let dk2 = ring.unwrap(&wrapped, &subject, 1).expect("unwrap");
                for ((k, _), ct) in FIELDS.iter().zip(&sealed) {
                    black_box(dk2.open(&subject, 1, k, ct).expect("open"));
                }
            })
        },
    );
    c.bench_function("blind index (iin)", |b| {
        b.iter(|| black_box(ring.blind_index("iin", black_box("061211600012"))))
    });
    // What a sign-in costs: one Argon2id verification (the settings of `PASSWORD_*`).
    let stored = ring.hash_password("Жаз келді, 2026!").expect("hash");
    let mut group = c.benchmark_group("sign-in");
    group.sample_size(20);
    group.bench_function("verify one password (Argon2id)", |b| {
        b.iter(|| black_box(ring.verify_password(black_box("Жаз келді, 2026!"), &stored)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

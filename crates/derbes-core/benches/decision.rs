//! In-process decisions over the demo declaration (11 purposes, 43 fields).
//! Run: `cargo bench -p derbes-core --bench decision`.

use criterion::{criterion_group, criterion_main, Criterion};
use derbes_core::consent::{
    ConsentAction, ConsentEvent, GivenBy, Grant, Method, PurposeTerms, Relation, SubjectFacts, Term,
};
use derbes_core::decision::{decide, ActorScope, ReadQuery};
use derbes_core::Declaration;
use std::hint::black_box;
use time::macros::{date, datetime};
use uuid::Uuid;

fn bench(c: &mut Criterion) {
    let src = include_str!("../../../examples/shoqan-school.toml");
    let d = Declaration::load(src)
        .expect("the demo declaration loads")
        .declaration;
    let parent = GivenBy::Representative {
        representative_id: Uuid::from_u128(2),
        relation: Relation::Parent,
    };
    // A student's ledger: consent to extracurricular given, withdrawn, given again, plus a
    // withdrawn consent to another purpose.
    let mut ledger = Vec::new();
    for (n, (purpose, give, day)) in [
        ("extracurricular", true, 1),
        ("analytics", true, 2),
        ("extracurricular", false, 30),
        ("analytics", false, 40),
        ("extracurricular", true, 60),
    ]
    .into_iter()
    .enumerate()
    {
        ledger.push(ConsentEvent {
            id: Uuid::from_u128(n as u128 + 10),
            subject_id: Uuid::from_u128(1),
            purpose: purpose.into(),
            action: if give {
                ConsentAction::Give(Grant::new(
                    PurposeTerms::of(&d, purpose).expect("declared"),
                    Term::PurposeAchieved,
                ))
            } else {
                ConsentAction::Withdraw
            },
            given_by: parent.clone(),
            method: Method::Web,
            at: datetime!(2026-09-01 08:00 UTC) + time::Duration::days(day),
        });
    }
    let facts = SubjectFacts {
        birth_date: Some(date!(2012 - 03 - 15)),
        blocked: false,
        restricted: &[],
        consents: &ledger,
    };
    let now = datetime!(2026-11-21 10:00 UTC);
    let scope = ActorScope::Purposes(vec!["education".into(), "extracurricular".into()]);
    for purpose in ["extracurricular", "education"] {
        let q = ReadQuery {
            category: Some("student"),
            purpose,
            fields: None,
            actor: &scope,
        };
        assert!(decide(&d, &q, Some((&facts, now))).is_ok());
        c.bench_function(&format!("decide {purpose}, 5-event ledger"), |b| {
            b.iter(|| decide(black_box(&d), black_box(&q), Some((&facts, now))))
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);

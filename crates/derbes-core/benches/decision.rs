//! In-process decisions over the demo declaration (11 purposes, 43 fields), and over the demo
//! widened to 20 purposes and 50 fields (the issue's size).
//! Run: `cargo bench -p derbes-core --bench decision`.

use criterion::{criterion_group, criterion_main, Criterion};
use derbes_core::consent::{
    ConsentAction, ConsentEvent, GivenBy, Grant, Method, PurposeTerms, Relation, SubjectFacts, Term,
};
use derbes_core::decision::{decide, ActorScope, ReadQuery};
use derbes_core::retention::{FieldEnds, Lifecycle, RetentionFacts};
use derbes_core::Declaration;
use std::hint::black_box;
use time::macros::{date, datetime};
use uuid::Uuid;

/// The demo declaration with 7 more student fields and 9 more consent-based purposes, each of
/// those using 24 fields: 20 purposes and 50 fields.
fn widened(demo: &str) -> String {
    let mut out = demo.to_owned();
    let label = |what: &str, n: usize| {
        format!(r#"{{ kk = "{what} {n}", ru = "{what} {n}", en = "{what} {n}" }}"#)
    };
    for n in 1..=7 {
        out.push_str(&format!(
            "\n[fields.bench_f{n}]\nlabel = {}\ncategories = [\"student\"]\ndata_category = \"education\"\nsensitivity = \"ordinary\"\nvalidator = \"text\"\nsource = \"operator\"\n",
            label("field", n)
        ));
    }
    let mut fields: Vec<String> = [
        "surname",
        "given_name",
        "patronymic",
        "birth_date",
        "phone",
        "email",
        "grades",
        "attendance",
        "achievements",
        "event_media",
        "address",
        "iin",
        "birth_place",
        "id_document_type",
        "id_document_number",
        "health_info",
        "family_status",
    ]
    .iter()
    .map(|f| format!("\"{f}\""))
    .collect();
    fields.extend((1..=7).map(|n| format!("\"bench_f{n}\"")));
    for n in 1..=9 {
        out.push_str(&format!(
            "\n[purposes.bench_p{n}]\nlabel = {}\ndescription = {}\nlegal_basis = \"consent\"\ncategories = [\"student\"]\nfields = [{}]\nrecipients = [\"it_support\"]\nretention = \"event_records\"\n",
            label("purpose", n),
            label("description", n),
            fields.join(", ")
        ));
    }
    out
}

fn bench(c: &mut Criterion) {
    let src = include_str!("../../../examples/shoqan-school.toml");
    let d = Declaration::load(src)
        .expect("the demo declaration loads")
        .declaration;
    demo_purposes(c, &d);
    let wide = Declaration::load(&widened(src))
        .expect("the widened declaration loads")
        .declaration;
    assert_eq!((wide.purposes.len(), wide.fields.len()), (20, 50));
    wide_purposes(c, &wide);
}

/// A 20-event ledger over all nine extra purposes: each given; three withdrawn; one given again.
fn wide_purposes(c: &mut Criterion, d: &Declaration) {
    let mut ledger = Vec::new();
    let mut push = |purpose: String, give: bool, day: i64| {
        ledger.push(ConsentEvent {
            id: Uuid::from_u128(ledger.len() as u128 + 100),
            subject_id: Uuid::from_u128(1),
            action: if give {
                ConsentAction::Give(Grant::new(
                    PurposeTerms::of(d, &purpose).expect("declared"),
                    Term::PurposeAchieved,
                ))
            } else {
                ConsentAction::Withdraw
            },
            purpose,
            given_by: GivenBy::Subject,
            method: Method::Web,
            at: datetime!(2026-09-01 08:00 UTC) + time::Duration::days(day),
        });
    };
    for n in 1..=9 {
        push(format!("bench_p{n}"), true, n);
    }
    for n in 1..=3 {
        push(format!("bench_p{n}"), false, 20 + n);
    }
    for n in 4..=9 {
        push(format!("bench_p{n}"), true, 30 + n);
    }
    push("bench_p1".into(), true, 50);
    push("bench_p9".into(), false, 51);
    let facts = SubjectFacts {
        birth_date: Some(date!(2000 - 03 - 15)),
        ..SubjectFacts::of_ledger(&ledger)
    };
    let now = datetime!(2026-11-21 10:00 UTC);
    let scope = ActorScope::AnyPurpose;
    let asked: Vec<String> = ["surname", "grades", "bench_f3"].map(String::from).to_vec();
    for (purpose, fields) in [("bench_p5", None), ("bench_p5", Some(&asked[..]))] {
        let q = ReadQuery {
            category: Some("student"),
            purpose,
            fields,
            actor: &scope,
        };
        let what = if fields.is_some() {
            "3 fields"
        } else {
            "all 24 fields"
        };
        let ends = FieldEnds::of(d, "student", &left(), &facts, TODAY);
        for (facts, retention) in with_and_without_retention(&facts, &ends) {
            assert!(decide(d, &q, Some((&facts, now))).is_ok());
            c.bench_function(
                &format!("decide, 20 purposes / 50 fields, 20-event ledger, {what}{retention}"),
                |b| b.iter(|| decide(black_box(d), black_box(&q), Some((&facts, now)))),
            );
        }
    }
}

fn demo_purposes(c: &mut Criterion, d: &Declaration) {
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
                    PurposeTerms::of(d, purpose).expect("declared"),
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
        ..SubjectFacts::of_ledger(&ledger)
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
        let ends = FieldEnds::of(d, "student", &left(), &facts, TODAY);
        for (facts, retention) in with_and_without_retention(&facts, &ends) {
            assert!(decide(d, &q, Some((&facts, now))).is_ok());
            c.bench_function(
                &format!("decide {purpose}, 5-event ledger{retention}"),
                |b| b.iter(|| decide(black_box(d), black_box(&q), Some((&facts, now)))),
            );
        }
    }
}

const TODAY: time::Date = date!(2026 - 11 - 21);

/// A student who left in May, whose phone number was collected after the rest: every field
/// has a last day, none of them past, so the check looks at them all and refuses nothing.
fn left() -> Lifecycle {
    let mut life = Lifecycle::collected_on(date!(2020 - 09 - 01));
    life.relationship_ended = Some(date!(2026 - 05 - 31));
    life.field_collected
        .insert("phone".into(), date!(2025 - 01 - 10));
    life
}

/// The facts without the retention check (as before it existed), and with it.
fn with_and_without_retention<'a>(
    facts: &SubjectFacts<'a>,
    ends: &'a FieldEnds,
) -> [(SubjectFacts<'a>, &'static str); 2] {
    assert!(!ends.is_empty(), "a student who left has last days");
    let retention = RetentionFacts { ends, today: TODAY };
    [
        (*facts, ""),
        (
            SubjectFacts {
                retention: Some(retention),
                ..*facts
            },
            ", with retention",
        ),
    ]
}

criterion_group!(benches, bench);
criterion_main!(benches);

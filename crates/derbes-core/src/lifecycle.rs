//! A subject's lifecycle events: what happened that starts a retention period. Recorded in
//! order and never edited: a correction is a new event (a later date, or the retraction of an
//! event recorded in error), and [`fold`] reads the ledger into the [`Lifecycle`] retention
//! counts from.

use crate::declaration::Declaration;
use crate::retention::Lifecycle;
use crate::text::{tr, Lang};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LifecycleKind {
    /// The relationship with the operator ended (a student left, a contract ended), and why:
    /// `reason` as typed and as shown to those who may read it, stored only sealed under the
    /// subject's data key (`sealed_reason`, base64), never in clear.
    RelationshipEnded {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed_reason: Option<String>,
    },
    /// A purpose was achieved for this subject (a candidate not hired, an excursion over).
    PurposeAchieved { purpose: String },
    /// An earlier event was recorded in error, or a legal hold is lifted: it no longer counts.
    Retracted { event: Uuid },
    /// A legal hold: the DPO suspends the destruction and depersonalization of the subject's
    /// data from the event's day through `until` (a claim, an inspection, an investigation),
    /// for `reason`, kept sealed as an ended relationship's is.
    LegalHold {
        #[serde(with = "crate::iso_date")]
        until: Date,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sealed_reason: Option<String>,
    },
}

impl LifecycleKind {
    /// The kind's name, as the API and the audit trail give it.
    pub fn name(&self) -> &'static str {
        match self {
            LifecycleKind::RelationshipEnded { .. } => "relationship_ended",
            LifecycleKind::PurposeAchieved { .. } => "purpose_achieved",
            LifecycleKind::Retracted { .. } => "retracted",
            LifecycleKind::LegalHold { .. } => "legal_hold",
        }
    }

    /// The reason as typed and its sealed form, for the kinds that carry one.
    pub fn reason_mut(&mut self) -> Option<(&mut Option<String>, &mut Option<String>)> {
        match self {
            LifecycleKind::RelationshipEnded {
                reason,
                sealed_reason,
            }
            | LifecycleKind::LegalHold {
                reason,
                sealed_reason,
                ..
            } => Some((reason, sealed_reason)),
            LifecycleKind::PurposeAchieved { .. } | LifecycleKind::Retracted { .. } => None,
        }
    }
}

/// One lifecycle event as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    pub id: Uuid,
    pub subject_id: Uuid,
    #[serde(flatten)]
    pub kind: LifecycleKind,
    /// The day it happened (for a retraction, the day it was retracted).
    #[serde(with = "crate::iso_date")]
    pub on: Date,
    #[serde(with = "time::serde::rfc3339")]
    pub recorded_at: OffsetDateTime,
    /// Who recorded it (an audit name).
    pub recorded_by: String,
}

/// Why a lifecycle event cannot be recorded. `code()` is stable; `message()` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum LifecycleProblem {
    /// Dated after today.
    InTheFuture,
    /// Dated before the subject's data were collected.
    BeforeCollection,
    UndeclaredPurpose {
        purpose: String,
    },
    /// The purpose does not process the subject's category.
    PurposeNotForCategory {
        purpose: String,
    },
    /// A reason is required, and at most 500 characters.
    Reason,
    /// A purpose achieved names no purpose.
    NoPurpose,
    /// A retraction names no event of this subject, or one already retracted, or a retraction.
    NothingToRetract,
    /// A legal hold's reason is required, and at most 500 characters.
    HoldReason,
    /// A legal hold's last day is required: today or later, at most ten years ahead.
    HoldUntil,
}

/// How far ahead a legal hold may last, in years: a longer one is a typing error, or a hold
/// to review and set again.
pub const HOLD_YEARS: i32 = 10;

impl LifecycleProblem {
    pub fn code(&self) -> &'static str {
        match self {
            LifecycleProblem::InTheFuture => "in_the_future",
            LifecycleProblem::BeforeCollection => "before_collection",
            LifecycleProblem::UndeclaredPurpose { .. } => "undeclared_purpose",
            LifecycleProblem::PurposeNotForCategory { .. } => "purpose_not_for_category",
            LifecycleProblem::Reason => "reason",
            LifecycleProblem::NoPurpose => "no_purpose",
            LifecycleProblem::NothingToRetract => "nothing_to_retract",
            LifecycleProblem::HoldReason => "hold_reason",
            LifecycleProblem::HoldUntil => "hold_until",
        }
    }

    /// The field of the request the problem is about.
    pub fn field(&self) -> &'static str {
        match self {
            LifecycleProblem::InTheFuture | LifecycleProblem::BeforeCollection => "on",
            LifecycleProblem::UndeclaredPurpose { .. }
            | LifecycleProblem::PurposeNotForCategory { .. }
            | LifecycleProblem::NoPurpose => "purpose",
            LifecycleProblem::Reason | LifecycleProblem::HoldReason => "reason",
            LifecycleProblem::NothingToRetract => "event",
            LifecycleProblem::HoldUntil => "until",
        }
    }

    pub fn message(&self) -> String {
        match self {
            LifecycleProblem::InTheFuture => {
                "is after today; record what has happened, on the day it happened".into()
            }
            LifecycleProblem::BeforeCollection => {
                "is before the subject's data were collected; give the day it happened".into()
            }
            LifecycleProblem::UndeclaredPurpose { purpose } => {
                format!("purpose `{purpose}` is not declared")
            }
            LifecycleProblem::PurposeNotForCategory { purpose } => format!(
                "purpose `{purpose}` does not process subjects of this category, so it cannot be achieved for this one"
            ),
            LifecycleProblem::Reason => {
                "give why the relationship ended, in at most 500 characters".into()
            }
            LifecycleProblem::NoPurpose => {
                "is required for a purpose achieved: name the declared purpose".into()
            }
            LifecycleProblem::NothingToRetract => {
                "names no event of this subject that still counts; give the id of the event recorded in error".into()
            }
            LifecycleProblem::HoldReason => {
                "give why destruction is suspended (a claim, an inspection, an investigation), in at most 500 characters".into()
            }
            LifecycleProblem::HoldUntil => format!(
                "give the hold's last day (YYYY-MM-DD): today or later, at most {HOLD_YEARS} years ahead"
            ),
        }
    }

    /// Why the event is refused, for the person who typed it, in `lang`.
    pub fn explain(&self, lang: Lang) -> String {
        let say = |kk: &str, ru: &str, en: &str| tr(lang, kk, ru, en).to_owned();
        match self {
            LifecycleProblem::InTheFuture => say(
                "Бұл күн бүгінгі күннен кейін: болған оқиғаны ол болған күнмен тіркеңіз.",
                "Эта дата позже сегодняшней: регистрируйте то, что уже произошло, датой, когда это произошло.",
                "This day is after today: record what has happened, on the day it happened.",
            ),
            LifecycleProblem::BeforeCollection => say(
                "Бұл күн субъектінің дербес деректері жиналған күннен бұрын: оқиға болған күнді көрсетіңіз.",
                "Эта дата раньше сбора персональных данных субъекта: укажите день, когда это произошло.",
                "This day is before the subject's personal data were collected: give the day it happened.",
            ),
            LifecycleProblem::UndeclaredPurpose { purpose } => say(
                "«{p}» мақсаты жарияланбаған.",
                "Цель «{p}» не объявлена.",
                "The purpose “{p}” is not declared.",
            )
            .replace("{p}", purpose),
            LifecycleProblem::PurposeNotForCategory { purpose } => say(
                "«{p}» мақсаты осы санаттағы субъектілердің деректерін өңдемейді, сондықтан бұл субъект үшін оған қол жеткізілді деп белгілеуге болмайды.",
                "Цель «{p}» не предусматривает обработку данных субъектов этой категории, поэтому её нельзя отметить достигнутой для этого субъекта.",
                "The purpose “{p}” does not process subjects of this category, so it cannot be marked achieved for this one.",
            )
            .replace("{p}", purpose),
            LifecycleProblem::Reason => say(
                "Қатынастың неліктен тоқтатылғанын 500 таңбадан аспайтын етіп көрсетіңіз.",
                "Укажите причину прекращения отношений — не более 500 символов.",
                "Give why the relationship ended, in at most 500 characters.",
            ),
            LifecycleProblem::NoPurpose => say(
                "Қол жеткізілген мақсатты таңдаңыз.",
                "Выберите достигнутую цель.",
                "Choose the purpose achieved.",
            ),
            LifecycleProblem::NothingToRetract => say(
                "Бұл субъектінің мұндай күшіндегі оқиғасы жоқ: қате тіркелген оқиғаны таңдаңыз.",
                "У этого субъекта нет такого действующего события: выберите событие, зарегистрированное по ошибке.",
                "This subject has no such event that still counts: choose the event recorded in error.",
            ),
            LifecycleProblem::HoldReason => say(
                "Жоюдың не үшін тоқтатыла тұратынын (талап-арыз, тексеру, тергеп-тексеру) 500 таңбадан аспайтын етіп көрсетіңіз.",
                "Укажите основание приостановления уничтожения (иск, проверка, расследование) — не более 500 символов.",
                "Give why destruction is suspended (a claim, an inspection, an investigation), in at most 500 characters.",
            ),
            LifecycleProblem::HoldUntil => say(
                "Тоқтата тұрудың соңғы күнін көрсетіңіз: бүгін немесе одан кейінгі, он жылдан аспайтын күн.",
                "Укажите последний день приостановления: сегодня или позже, не далее чем через десять лет.",
                "Give the last day of the hold: today or later, at most ten years ahead.",
            ),
        }
    }
}

/// Checks that `event` may be recorded `today` (the operator's local day) for a subject of
/// `category` collected on `collected`, with `ledger` recorded before it.
pub fn check(
    declaration: &Declaration,
    category: &str,
    collected: Date,
    today: Date,
    ledger: &[LifecycleEvent],
    event: &LifecycleEvent,
) -> Result<(), Vec<LifecycleProblem>> {
    let mut problems = Vec::new();
    if event.on > today {
        problems.push(LifecycleProblem::InTheFuture);
    }
    match &event.kind {
        LifecycleKind::RelationshipEnded { reason, .. } => {
            if !reason_given(reason) {
                problems.push(LifecycleProblem::Reason);
            }
        }
        LifecycleKind::PurposeAchieved { purpose } => match declaration.purposes.get(purpose) {
            None => problems.push(LifecycleProblem::UndeclaredPurpose {
                purpose: purpose.clone(),
            }),
            Some(p) if !p.covers_category(category) => {
                problems.push(LifecycleProblem::PurposeNotForCategory {
                    purpose: purpose.clone(),
                });
            }
            Some(_) => {}
        },
        LifecycleKind::Retracted { event: target } => {
            let counts = ledger
                .iter()
                .any(|e| e.id == *target && !matches!(e.kind, LifecycleKind::Retracted { .. }))
                && !retracted(ledger).any(|r| r == *target);
            if !counts {
                problems.push(LifecycleProblem::NothingToRetract);
            }
        }
        LifecycleKind::LegalHold { until, reason, .. } => {
            if !reason_given(reason) {
                problems.push(LifecycleProblem::HoldReason);
            }
            // The same day ten years on (the 28th for a 29 February).
            let year = today.year() + HOLD_YEARS;
            let furthest = today
                .replace_year(year)
                .or_else(|_| today.replace_day(28).and_then(|d| d.replace_year(year)))
                .unwrap_or(today);
            if *until < today || *until > furthest {
                problems.push(LifecycleProblem::HoldUntil);
            }
        }
    }
    if !matches!(event.kind, LifecycleKind::Retracted { .. }) && event.on < collected {
        problems.push(LifecycleProblem::BeforeCollection);
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// A reason is given, in at most 500 characters.
fn reason_given(reason: &Option<String>) -> bool {
    let reason = reason.as_deref().unwrap_or_default().trim();
    !reason.is_empty() && reason.chars().count() <= 500
}

/// The ids of the events of `ledger` that a later event retracted (or, for a hold, lifted).
pub fn retracted(ledger: &[LifecycleEvent]) -> impl Iterator<Item = Uuid> + '_ {
    ledger.iter().filter_map(|e| match e.kind {
        LifecycleKind::Retracted { event } => Some(event),
        _ => None,
    })
}

/// The lifecycle retention counts from: of each kind (each purpose), the event recorded last
/// that was not retracted.
pub fn fold(collected: Date, ledger: &[LifecycleEvent]) -> Lifecycle {
    let gone: Vec<Uuid> = retracted(ledger).collect();
    let mut life = Lifecycle::collected_on(collected);
    for e in ledger.iter().filter(|e| !gone.contains(&e.id)) {
        match &e.kind {
            LifecycleKind::RelationshipEnded { .. } => life.relationship_ended = Some(e.on),
            LifecycleKind::PurposeAchieved { purpose } => {
                life.purposes_achieved.insert(purpose.clone(), e.on);
            }
            LifecycleKind::LegalHold { until, .. } => life.legal_holds.push((e.on, *until)),
            LifecycleKind::Retracted { .. } => {}
        }
    }
    life
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    const TODAY: Date = date!(2026 - 12 - 07);

    fn decl() -> Declaration {
        Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
            .unwrap()
            .declaration
    }

    fn event(n: u128, kind: LifecycleKind, on: Date) -> LifecycleEvent {
        LifecycleEvent {
            id: Uuid::from_u128(n),
            subject_id: Uuid::from_u128(1),
            kind,
            on,
            recorded_at: datetime!(2026-12-07 10:00 UTC),
            recorded_by: "test".into(),
        }
    }

    fn left(n: u128, on: Date) -> LifecycleEvent {
        let reason = Some("переведена в другую школу".into());
        let sealed_reason = None;
        event(
            n,
            LifecycleKind::RelationshipEnded {
                reason,
                sealed_reason,
            },
            on,
        )
    }

    #[test]
    fn the_last_event_that_counts_decides_and_a_retraction_undoes_one() {
        let collected = date!(2020 - 09 - 01);
        let mut ledger = vec![left(1, date!(2026 - 05 - 31))];
        assert_eq!(
            fold(collected, &ledger).relationship_ended,
            Some(date!(2026 - 05 - 31))
        );
        // She came back: the departure was recorded in error.
        let undo = event(
            2,
            LifecycleKind::Retracted {
                event: ledger[0].id,
            },
            date!(2026 - 09 - 01),
        );
        assert_eq!(
            check(&decl(), "student", collected, TODAY, &ledger, &undo),
            Ok(())
        );
        ledger.push(undo.clone());
        assert_eq!(fold(collected, &ledger).relationship_ended, None);
        assert_eq!(
            check(&decl(), "student", collected, TODAY, &ledger, &undo),
            Err(vec![LifecycleProblem::NothingToRetract]),
            "a retraction counts once"
        );
        ledger.push(left(3, date!(2026 - 11 - 30)));
        assert_eq!(
            fold(collected, &ledger).relationship_ended,
            Some(date!(2026 - 11 - 30))
        );
    }

    fn hold(n: u128, on: Date, until: Date, reason: &str) -> LifecycleEvent {
        let reason = Some(reason.into());
        let sealed_reason = None;
        event(
            n,
            LifecycleKind::LegalHold {
                until,
                reason,
                sealed_reason,
            },
            on,
        )
    }

    #[test]
    fn a_legal_hold_is_in_force_from_its_day_through_its_last_until_lifted() {
        let d = decl();
        let collected = date!(2020 - 09 - 01);
        let claim = hold(
            1,
            TODAY,
            date!(2027 - 06 - 30),
            "иск родителей, дело № 2-118/2026",
        );
        assert_eq!(check(&d, "student", collected, TODAY, &[], &claim), Ok(()));
        let mut ledger = vec![claim];
        let life = fold(collected, &ledger);
        assert_eq!(life.held_until(TODAY), Some(date!(2027 - 06 - 30)));
        assert_eq!(
            life.held_until(date!(2027 - 06 - 30)),
            Some(date!(2027 - 06 - 30))
        );
        assert_eq!(life.held_until(date!(2027 - 07 - 01)), None, "it ends");
        assert_eq!(life.held_until(date!(2026 - 12 - 06)), None, "it starts");
        // A second, longer hold: the latest last day counts.
        ledger.push(hold(
            2,
            TODAY,
            date!(2028 - 01 - 31),
            "проверка уполномоченного органа",
        ));
        assert_eq!(
            fold(collected, &ledger).held_until(TODAY),
            Some(date!(2028 - 01 - 31))
        );
        // Lifted: a retraction.
        let lift = event(
            2_000,
            LifecycleKind::Retracted {
                event: ledger[1].id,
            },
            TODAY,
        );
        assert_eq!(
            check(&d, "student", collected, TODAY, &ledger, &lift),
            Ok(())
        );
        ledger.push(lift);
        assert_eq!(
            fold(collected, &ledger).held_until(TODAY),
            Some(date!(2027 - 06 - 30))
        );
    }

    #[test]
    fn a_hold_without_reason_or_with_a_last_day_out_of_reach_is_refused() {
        let d = decl();
        let collected = date!(2020 - 09 - 01);
        let refused = |until: Date, reason: &str| {
            check(
                &d,
                "student",
                collected,
                TODAY,
                &[],
                &hold(1, TODAY, until, reason),
            )
            .err()
            .unwrap_or_default()
        };
        assert_eq!(
            refused(date!(2026 - 12 - 06), "иск"),
            vec![LifecycleProblem::HoldUntil]
        );
        assert_eq!(refused(date!(2036 - 12 - 07), "иск"), vec![]);
        assert_eq!(
            refused(date!(2036 - 12 - 08), "иск"),
            vec![LifecycleProblem::HoldUntil]
        );
        assert_eq!(refused(TODAY, " "), vec![LifecycleProblem::HoldReason]);
        let problem = LifecycleProblem::HoldUntil;
        assert_eq!((problem.code(), problem.field()), ("hold_until", "until"));
        // A leap day's tenth anniversary is the 28th.
        let leap = date!(2028 - 02 - 29);
        let ok = hold(1, leap, date!(2038 - 02 - 28), "иск");
        assert_eq!(check(&d, "student", collected, leap, &[], &ok), Ok(()));
    }

    #[test]
    fn bad_events_are_refused_with_every_reason() {
        let d = decl();
        let collected = date!(2020 - 09 - 01);
        let future = left(1, date!(2026 - 12 - 08));
        assert_eq!(
            check(&d, "student", collected, TODAY, &[], &future),
            Err(vec![LifecycleProblem::InTheFuture])
        );
        let early = event(
            2,
            LifecycleKind::RelationshipEnded {
                reason: Some(" ".into()),
                sealed_reason: None,
            },
            date!(2019 - 01 - 01),
        );
        assert_eq!(
            check(&d, "student", collected, TODAY, &[], &early),
            Err(vec![
                LifecycleProblem::Reason,
                LifecycleProblem::BeforeCollection
            ])
        );
        let achieved = |purpose: &str| {
            event(
                3,
                LifecycleKind::PurposeAchieved {
                    purpose: purpose.into(),
                },
                date!(2026 - 06 - 01),
            )
        };
        let first_problem = |purpose: &str| {
            check(&d, "student", collected, TODAY, &[], &achieved(purpose))
                .map_err(|p| p[0].clone())
        };
        assert_eq!(
            first_problem("space_travel").unwrap_err().code(),
            "undeclared_purpose"
        );
        assert_eq!(first_problem("recruitment").unwrap_err().field(), "purpose");
        assert!(first_problem("extracurricular").is_ok());
    }
}

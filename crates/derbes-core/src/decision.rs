//! Purpose-bound decisions: may this actor read these fields of this subject for this purpose?
//!
//! Deny by default: a purpose must be declared, cover the subject's category, include every
//! field asked for, be one the actor may act for, and have a legal basis that holds now.

use crate::consent::{consent_covers, ConsentGap, SubjectFacts};
use crate::declaration::{Declaration, LegalBasis};
use crate::text::Lang;
use serde::Serialize;
use time::OffsetDateTime;
use uuid::Uuid;

/// The purposes an actor may act for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorScope {
    /// Admin and DPO tokens: any declared purpose.
    AnyPurpose,
    /// Staff and integrations: only these.
    Purposes(Vec<String>),
}

impl ActorScope {
    pub fn allows(&self, purpose: &str) -> bool {
        match self {
            ActorScope::AnyPurpose => true,
            ActorScope::Purposes(list) => list.iter().any(|p| p == purpose),
        }
    }
}

/// What is asked.
#[derive(Debug, Clone)]
pub struct ReadQuery<'a> {
    /// The subject's category; `None` for a lookup, before any subject is known.
    pub category: Option<&'a str>,
    pub purpose: &'a str,
    /// `None`: every field the purpose may use.
    pub fields: Option<&'a [String]>,
    pub actor: &'a ActorScope,
}

/// Why a read was refused. `code()` is stable; `message()` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum DenyReason {
    UndeclaredPurpose {
        purpose: String,
    },
    PurposeNotForCategory {
        purpose: String,
        category: String,
    },
    UndeclaredField {
        field: String,
    },
    FieldOutsidePurpose {
        field: String,
        purpose: String,
    },
    ActorNotAllowedPurpose {
        purpose: String,
    },
    NoConsent {
        purpose: String,
    },
    ConsentWithdrawn {
        purpose: String,
    },
    ConsentExpired {
        purpose: String,
    },
    /// `item`: `field:<key>`, `recipient:<key>`, `cross_border_transfer` or `publication`.
    ConsentDoesNotCover {
        purpose: String,
        item: String,
    },
    ReconsentRequired {
        purpose: String,
    },
    SubjectBlocked,
    ProcessingRestricted {
        purpose: String,
    },
    /// The retention of the field ran out for every purpose: `kept_until` was its last day.
    RetentionEnded {
        field: String,
        #[serde(with = "crate::iso_date")]
        kept_until: time::Date,
    },
}

impl DenyReason {
    pub fn code(&self) -> &'static str {
        match self {
            DenyReason::UndeclaredPurpose { .. } => "undeclared_purpose",
            DenyReason::PurposeNotForCategory { .. } => "purpose_not_for_category",
            DenyReason::UndeclaredField { .. } => "undeclared_field",
            DenyReason::FieldOutsidePurpose { .. } => "field_outside_purpose",
            DenyReason::ActorNotAllowedPurpose { .. } => "actor_not_allowed_purpose",
            DenyReason::NoConsent { .. } => "no_consent",
            DenyReason::ConsentWithdrawn { .. } => "consent_withdrawn",
            DenyReason::ConsentExpired { .. } => "consent_expired",
            DenyReason::ConsentDoesNotCover { .. } => "consent_does_not_cover",
            DenyReason::ReconsentRequired { .. } => "reconsent_required",
            DenyReason::SubjectBlocked => "subject_blocked",
            DenyReason::ProcessingRestricted { .. } => "processing_restricted",
            DenyReason::RetentionEnded { .. } => "retention_ended",
        }
    }

    pub fn message(&self) -> String {
        match self {
            DenyReason::UndeclaredPurpose { purpose } => {
                format!("purpose `{purpose}` is not declared")
            }
            DenyReason::PurposeNotForCategory { purpose, category } => {
                format!("purpose `{purpose}` does not process data of subjects of category `{category}`")
            }
            DenyReason::UndeclaredField { field } => format!("field `{field}` is not declared"),
            DenyReason::FieldOutsidePurpose { field, purpose } => {
                format!("field `{field}` is not among the fields purpose `{purpose}` may use")
            }
            DenyReason::ActorNotAllowedPurpose { purpose } => {
                format!("this token may not act for purpose `{purpose}`")
            }
            DenyReason::NoConsent { purpose } => {
                format!("no consent: purpose `{purpose}` is based on consent and the subject has given none")
            }
            DenyReason::ConsentWithdrawn { purpose } => {
                format!("consent to purpose `{purpose}` was withdrawn")
            }
            DenyReason::ConsentExpired { purpose } => {
                format!("the term of the consent to purpose `{purpose}` has ended")
            }
            DenyReason::ConsentDoesNotCover { purpose, item } => format!(
                "the consent to purpose `{purpose}` was given for narrower terms than the purpose has now: it does not cover {item}; ask the subject to consent again"
            ),
            DenyReason::ReconsentRequired { purpose } => format!(
                "the subject has come of age: the consent to purpose `{purpose}` their representative gave must be given again by the subject"
            ),
            DenyReason::SubjectBlocked => {
                "the subject's data are blocked: only storage is allowed".to_owned()
            }
            DenyReason::ProcessingRestricted { purpose } => {
                format!("processing for purpose `{purpose}` is restricted for this subject")
            }
            DenyReason::RetentionEnded { field, kept_until } => format!(
                "the retention period of field `{field}` has ended for every purpose that used it (its last day was {kept_until}): it may no longer be read"
            ),
        }
    }
}

impl DenyReason {
    /// Why the read was refused, for the person at the console, in `lang`: purposes, fields
    /// and recipients by their declared labels in that language (their keys where undeclared).
    pub fn explain(&self, lang: Lang, declaration: &Declaration) -> String {
        let purpose = |key: &str| named(lang, declaration.purposes.get(key).map(|p| &p.label), key);
        let field = |key: &str| named(lang, declaration.fields.get(key).map(|f| &f.label), key);
        let say = |[kk, ru, en]: [&'static str; 3]| crate::text::tr(lang, kk, ru, en);
        // A sentence naming the purpose `p` as `{p}`.
        let of = |p: &str, sentence: [&'static str; 3]| say(sentence).replace("{p}", &purpose(p));
        match self {
            DenyReason::UndeclaredPurpose { purpose: p } => of(p, [
                "{p} мақсаты жарияланбаған.",
                "Цель {p} не объявлена.",
                "The purpose {p} is not declared.",
            ]),
            DenyReason::PurposeNotForCategory { purpose: p, category } => of(p, [
                "{p} мақсаты {c} санатындағы субъектілердің деректерін өңдемейді.",
                "Цель {p} не предусматривает обработку данных субъектов категории {c}.",
                "The purpose {p} does not process data of subjects of the category {c}.",
            ])
            .replace(
                "{c}",
                &named(lang, declaration.subject_categories.get(category).map(|c| &c.label), category),
            ),
            DenyReason::UndeclaredField { field: f } => say([
                "{f} өрісі жарияланбаған.",
                "Поле {f} не объявлено.",
                "The field {f} is not declared.",
            ])
            .replace("{f}", &field(f)),
            DenyReason::FieldOutsidePurpose { field: f, purpose: p } => of(p, [
                "{f} өрісі {p} мақсаты пайдалана алатын өрістердің қатарына кірмейді.",
                "Поле {f} не входит в число полей, которые может использовать цель {p}.",
                "The field {f} is not among the fields the purpose {p} may use.",
            ])
            .replace("{f}", &field(f)),
            DenyReason::ActorNotAllowedPurpose { purpose: p } => of(p, [
                "Сізге {p} мақсаты үшін әрекет етуге рұқсат берілмеген.",
                "Вам не разрешено действовать для цели {p}.",
                "You may not act for the purpose {p}.",
            ]),
            DenyReason::NoConsent { purpose: p } => of(p, [
                "{p} мақсаты келісімге негізделген, ал субъект келісім бермеген.",
                "Цель {p} основана на согласии, а субъект его не давал.",
                "The purpose {p} rests on consent, and the subject has given none.",
            ]),
            DenyReason::ConsentWithdrawn { purpose: p } => of(p, [
                "{p} мақсаты үшін берілген келісім кері қайтарып алынды.",
                "Согласие для цели {p} отозвано.",
                "The consent to the purpose {p} was withdrawn.",
            ]),
            DenyReason::ConsentExpired { purpose: p } => of(p, [
                "{p} мақсаты үшін берілген келісімнің мерзімі өтті.",
                "Срок согласия для цели {p} истёк.",
                "The term of the consent to the purpose {p} has ended.",
            ]),
            DenyReason::ConsentDoesNotCover { purpose: p, item } => of(p, [
                "{p} мақсаты үшін келісім мақсаттың қазіргі шарттарынан тарырақ шарттармен берілген: ол {i} қамтымайды. Субъектіден келісімді қайта беруін сұраңыз.",
                "Согласие для цели {p} дано на более узких условиях, чем у цели сейчас: оно не охватывает {i}. Попросите субъекта дать согласие заново.",
                "The consent to the purpose {p} was given on narrower terms than the purpose has now: it does not cover {i}. Ask the subject to consent again.",
            ])
            .replace("{i}", &covered_item(lang, declaration, item)),
            DenyReason::ReconsentRequired { purpose: p } => of(p, [
                "Субъект кәмелетке толды: {p} мақсаты үшін заңды өкілі берген келісімді субъектінің өзі қайта беруі тиіс.",
                "Субъект достиг совершеннолетия: согласие для цели {p}, данное его законным представителем, субъект должен дать сам.",
                "The subject has come of age: the consent to the purpose {p} their representative gave must be given again by the subject.",
            ]),
            DenyReason::SubjectBlocked => say([
                "Субъектінің дербес деректері бұғатталған: тек оларды сақтауға рұқсат етіледі.",
                "Персональные данные субъекта заблокированы: допускается только их хранение.",
                "The subject's personal data are blocked: only their storage is allowed.",
            ])
            .to_owned(),
            DenyReason::ProcessingRestricted { purpose: p } => of(p, [
                "Осы субъект үшін {p} мақсатында өңдеу шектелген.",
                "Обработка для цели {p} ограничена для этого субъекта.",
                "Processing for the purpose {p} is restricted for this subject.",
            ]),
            DenyReason::RetentionEnded { field: f, kept_until } => say([
                "{f} өрісін сақтау мерзімі оны пайдаланған барлық мақсаттар үшін аяқталды (соңғы күні — {d}): оны енді оқуға болмайды.",
                "Срок хранения поля {f} истёк для всех целей, которые его использовали (последний день — {d}): поле больше нельзя читать.",
                "The retention period of the field {f} has ended for every purpose that used it (its last day was {d}): the field may no longer be read.",
            ])
            .replace("{f}", &field(f))
            .replace("{d}", &crate::text::format_date(*kept_until, lang)),
        }
    }
}

/// A declared name in `lang`, quoted as that language quotes: «…» in Kazakh and Russian,
/// “…” in English; the key where nothing is declared under it.
pub(crate) fn named(lang: Lang, label: Option<&crate::text::Text>, key: &str) -> String {
    let name = label.map_or(key, |t| t.get(lang));
    match lang {
        Lang::Kk | Lang::Ru => format!("«{name}»"),
        Lang::En => format!("“{name}”"),
    }
}

/// What a consent does not cover, in `lang` and in the accusative its sentence needs.
fn covered_item(lang: Lang, declaration: &Declaration, item: &str) -> String {
    let say = |kk: &str, ru: &str, en: &str| crate::text::tr(lang, kk, ru, en).to_owned();
    if let Some(key) = item.strip_prefix("field:") {
        let f = named(lang, declaration.fields.get(key).map(|f| &f.label), key);
        return say("{f} өрісін", "поле {f}", "the field {f}").replace("{f}", &f);
    }
    if let Some(key) = item.strip_prefix("recipient:") {
        let r = named(lang, declaration.recipients.get(key).map(|r| &r.label), key);
        return say(
            "{r} алушысына беруді",
            "передачу получателю {r}",
            "transfer to the recipient {r}",
        )
        .replace("{r}", &r);
    }
    if item == "publication" {
        say(
            "жалпыға қолжетімді дереккөздерде жариялауды",
            "публикацию в общедоступных источниках",
            "publication in publicly available sources",
        )
    } else {
        say(
            "трансшекаралық беруді",
            "трансграничную передачу",
            "cross-border transfer",
        )
    }
}

/// An allowed read: the legal basis that holds and the fields that may be returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Allowed {
    pub basis: LegalBasis,
    pub fields: Vec<String>,
    /// The consent the decision rests on, for a consent-based purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<Uuid>,
    /// The consent was given by a representative and the subject has since come of age.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub confirmation_due: bool,
}

/// Decides a read when no subject is known yet (a lookup): a consent-based purpose has no
/// consent to rest on. Returns every reason when it denies.
pub fn decide_read(
    declaration: &Declaration,
    q: &ReadQuery<'_>,
) -> Result<Allowed, Vec<DenyReason>> {
    decide(declaration, q, None)
}

/// Decides a read of a known subject at `now`, from the facts about them: blocking,
/// restrictions and consents. With `subject: None` nothing is known and a consent-based purpose
/// is denied. Returns every reason when it denies.
pub fn decide(
    declaration: &Declaration,
    q: &ReadQuery<'_>,
    subject: Option<(&SubjectFacts<'_>, OffsetDateTime)>,
) -> Result<Allowed, Vec<DenyReason>> {
    let Some(purpose) = declaration.purpose(q.purpose) else {
        return Err(vec![DenyReason::UndeclaredPurpose {
            purpose: q.purpose.to_owned(),
        }]);
    };
    let mut reasons = Vec::new();
    if !q.actor.allows(q.purpose) {
        reasons.push(DenyReason::ActorNotAllowedPurpose {
            purpose: q.purpose.to_owned(),
        });
    }
    if let Some(category) = q.category.filter(|c| !purpose.covers_category(c)) {
        reasons.push(DenyReason::PurposeNotForCategory {
            purpose: q.purpose.to_owned(),
            category: category.to_owned(),
        });
    }
    let mut fields: Vec<String> = match q.fields {
        Some(asked) => {
            for f in asked {
                if declaration.field(f).is_none() {
                    reasons.push(DenyReason::UndeclaredField { field: f.clone() });
                } else if !purpose.uses_field(f) {
                    reasons.push(DenyReason::FieldOutsidePurpose {
                        field: f.clone(),
                        purpose: q.purpose.to_owned(),
                    });
                }
            }
            asked.to_vec()
        }
        None => purpose
            .fields
            .iter()
            .filter(|f| {
                declaration.field(f).is_some_and(|fd| match q.category {
                    Some(category) => fd.categories.iter().any(|c| c == category),
                    None => true,
                })
            })
            .cloned()
            .collect(),
    };
    let mut consent_id = None;
    let mut confirmation_due = false;

    let name = || q.purpose.to_owned();
    if let Some((facts, _)) = subject {
        if facts.blocked {
            reasons.push(DenyReason::SubjectBlocked);
        }
        if facts.restricted.iter().any(|p| p == q.purpose) {
            reasons.push(DenyReason::ProcessingRestricted { purpose: name() });
        }
    }
    if purpose.legal_basis == LegalBasis::Consent {
        match subject {
            None => reasons.push(DenyReason::NoConsent { purpose: name() }),
            Some((facts, now)) => {
                match consent_covers(declaration, facts, q.purpose, &fields, now) {
                    Ok(holding) => {
                        consent_id = Some(holding.consent_id);
                        confirmation_due = holding.confirmation_due;
                    }
                    Err(gaps) => reasons.extend(gaps.into_iter().map(|g| match g {
                        ConsentGap::None => DenyReason::NoConsent { purpose: name() },
                        ConsentGap::Withdrawn => DenyReason::ConsentWithdrawn { purpose: name() },
                        ConsentGap::Expired => DenyReason::ConsentExpired { purpose: name() },
                        ConsentGap::NotCovered(item) => DenyReason::ConsentDoesNotCover {
                            purpose: name(),
                            item,
                        },
                        ConsentGap::ReconsentRequired => {
                            DenyReason::ReconsentRequired { purpose: name() }
                        }
                    })),
                }
            }
        }
    }
    // Retention: a field whose every period has run out may no longer be read for any purpose.
    // Asked by name, it is refused; among "every field", it is left out, unless none is left.
    if let Some(retention) = subject.and_then(|(facts, _)| facts.retention) {
        let ended = retention.ends.ended_by(retention.today);
        if !ended.is_empty() {
            let gone = |f: &String| ended.iter().find(|(e, _)| e == f).map(|(_, last)| *last);
            let refused: Vec<DenyReason> = fields
                .iter()
                .filter_map(|f| {
                    Some(DenyReason::RetentionEnded {
                        field: f.clone(),
                        kept_until: gone(f)?,
                    })
                })
                .collect();
            if q.fields.is_some() || refused.len() == fields.len() {
                reasons.extend(refused);
            } else {
                fields.retain(|f| gone(f).is_none());
            }
        }
    }
    if reasons.is_empty() {
        Ok(Allowed {
            basis: purpose.legal_basis,
            fields,
            consent_id,
            confirmation_due,
        })
    } else {
        Err(reasons)
    }
}

/// Does one of the actor's purposes process subjects of `category`? Admin and DPO reach every
/// category; staff and integrations only those their purposes cover. An actor reaches nothing
/// else of a subject outside them: not its fields, consents, representatives, flags or requests.
pub fn covers_category(declaration: &Declaration, scope: &ActorScope, category: &str) -> bool {
    through_a_purpose(declaration, scope, |p| p.covers_category(category))
}

/// Whether one purpose of the actor's does what `may` asks (every purpose, for an actor that
/// acts for any).
fn through_a_purpose(
    declaration: &Declaration,
    scope: &ActorScope,
    may: impl Fn(&crate::declaration::Purpose) -> bool,
) -> bool {
    match scope {
        ActorScope::AnyPurpose => true,
        ActorScope::Purposes(list) => list.iter().filter_map(|p| declaration.purpose(p)).any(may),
    }
}

/// May an actor with `scope` link a representative of category `representative` to a subject of
/// category `subject`, or unlink one? One of its purposes must process both: a purpose for the
/// children alone does not reach their parents through a link, nor one for the parents alone
/// the children.
pub fn covers_both(
    declaration: &Declaration,
    scope: &ActorScope,
    subject: &str,
    representative: &str,
) -> bool {
    through_a_purpose(declaration, scope, |p| {
        p.covers_category(subject) && p.covers_category(representative)
    })
}

/// May an actor with `scope` write `field` of a subject of `category`? Admin and DPO may write
/// any declared field; staff and integrations only the fields one of their purposes uses for
/// subjects of that category.
pub fn may_write_field(
    declaration: &Declaration,
    scope: &ActorScope,
    category: &str,
    field: &str,
) -> bool {
    through_a_purpose(declaration, scope, |p| {
        p.covers_category(category) && p.uses_field(field)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::declaration::check_fixture::MINIMAL;

    fn decl() -> Declaration {
        Declaration::load(MINIMAL).unwrap().declaration
    }

    #[test]
    fn statutory_purpose_allows_its_fields() {
        let d = decl();
        let a = decide_read(
            &d,
            &ReadQuery {
                category: Some("student"),
                purpose: "education",
                fields: None,
                actor: &ActorScope::AnyPurpose,
            },
        )
        .unwrap();
        assert_eq!(a.basis, LegalBasis::Contract);
        assert_eq!(a.fields, vec!["iin".to_string()]);
    }

    #[test]
    fn every_reason_is_given() {
        // Education for students only, so that asking it of a representative is refused.
        let d = Declaration::load(&MINIMAL.replace(
            "categories = [\"student\", \"legal_representative\"]\nfields = [\"iin\"]",
            "categories = [\"student\"]\nfields = [\"iin\"]",
        ))
        .unwrap()
        .declaration;
        let asked = vec!["allergy".to_string(), "shoe_size".to_string()];
        let scope = ActorScope::Purposes(vec!["medical".into()]);
        let reasons = decide_read(
            &d,
            &ReadQuery {
                category: Some("legal_representative"),
                purpose: "education",
                fields: Some(&asked),
                actor: &scope,
            },
        )
        .unwrap_err();
        let codes: Vec<&str> = reasons.iter().map(DenyReason::code).collect();
        assert_eq!(
            codes,
            [
                "actor_not_allowed_purpose",
                "purpose_not_for_category",
                "field_outside_purpose",
                "undeclared_field"
            ]
        );
    }

    #[test]
    fn every_reason_is_explained_in_every_language_by_declared_names() {
        let d = decl();
        let p = || "medical".to_owned();
        let all = [
            DenyReason::UndeclaredPurpose {
                purpose: "sport".into(),
            },
            DenyReason::PurposeNotForCategory {
                purpose: p(),
                category: "student".into(),
            },
            DenyReason::UndeclaredField {
                field: "shoe_size".into(),
            },
            DenyReason::FieldOutsidePurpose {
                field: "iin".into(),
                purpose: p(),
            },
            DenyReason::ActorNotAllowedPurpose { purpose: p() },
            DenyReason::NoConsent { purpose: p() },
            DenyReason::ConsentWithdrawn { purpose: p() },
            DenyReason::ConsentExpired { purpose: p() },
            DenyReason::ConsentDoesNotCover {
                purpose: p(),
                item: "field:iin".into(),
            },
            DenyReason::ConsentDoesNotCover {
                purpose: p(),
                item: "cross_border_transfer".into(),
            },
            DenyReason::ConsentDoesNotCover {
                purpose: p(),
                item: "publication".into(),
            },
            DenyReason::ReconsentRequired { purpose: p() },
            DenyReason::SubjectBlocked,
            DenyReason::ProcessingRestricted { purpose: p() },
        ];
        for lang in Lang::ALL {
            let label = d.purposes["medical"].label.get(lang);
            let mut seen = std::collections::HashSet::new();
            for r in &all {
                let text = r.explain(lang, &d);
                assert!(text.ends_with('.'), "{lang:?} {r:?}: {text}");
                assert!(!text.contains('`'), "{lang:?} {r:?}: {text}");
                let names_medical = !matches!(
                    r,
                    DenyReason::UndeclaredPurpose { .. }
                        | DenyReason::UndeclaredField { .. }
                        | DenyReason::SubjectBlocked
                );
                if names_medical {
                    assert!(
                        text.contains(label),
                        "{lang:?} {r:?} names no label: {text}"
                    );
                }
                assert!(seen.insert(text), "{lang:?} {r:?} says what another says");
            }
        }
        // An undeclared name is shown by its key.
        let undeclared = DenyReason::UndeclaredPurpose {
            purpose: "sport".into(),
        };
        assert_eq!(
            undeclared.explain(Lang::Ru, &d),
            "Цель «sport» не объявлена."
        );
        assert_eq!(
            undeclared.explain(Lang::En, &d),
            "The purpose “sport” is not declared."
        );
    }

    #[test]
    fn consent_purposes_are_denied_without_consent() {
        let d = decl();
        let reasons = decide_read(
            &d,
            &ReadQuery {
                category: Some("student"),
                purpose: "medical",
                fields: None,
                actor: &ActorScope::AnyPurpose,
            },
        )
        .unwrap_err();
        assert_eq!(
            reasons,
            vec![DenyReason::NoConsent {
                purpose: "medical".into()
            }]
        );
        assert!(reasons[0].message().starts_with("no consent"));
        let r = decide_read(
            &d,
            &ReadQuery {
                category: Some("student"),
                purpose: "marketing",
                fields: None,
                actor: &ActorScope::AnyPurpose,
            },
        );
        assert_eq!(r.unwrap_err()[0].code(), "undeclared_purpose");
    }

    #[test]
    fn staff_write_only_their_purposes_fields() {
        let d = decl();
        let scope = ActorScope::Purposes(vec!["education".into()]);
        assert!(may_write_field(&d, &scope, "student", "iin"));
        assert!(!may_write_field(&d, &scope, "student", "allergy"));
        assert!(may_write_field(
            &d,
            &ActorScope::AnyPurpose,
            "student",
            "allergy"
        ));
    }

    proptest::proptest! {
        /// A purpose-bound actor writes a field, or reaches a category, only through one of its
        /// purposes that covers that category (and uses that field); an actor for any purpose
        /// reaches everything.
        #[test]
        fn writes_and_reach_go_through_a_covering_purpose(
            picked in proptest::collection::vec(proptest::sample::select(vec!["education", "personnel", "website", "extracurricular", "safety", "nonexistent"]), 0..4),
            category in proptest::sample::select(vec!["student", "employee", "site_visitor", "legal_representative", "cctv_subject"]),
            field in proptest::sample::select(vec!["surname", "iin", "salary", "ip_address", "health_info", "cctv_image"]),
            other in proptest::sample::select(vec!["student", "employee", "legal_representative", "candidate"]),
        ) {
            let d = Declaration::load(include_str!("../../../examples/shoqan-school.toml")).unwrap().declaration;
            let scope = ActorScope::Purposes(picked.iter().map(|s| s.to_string()).collect());
            let via: Vec<_> = picked.iter().filter_map(|p| d.purpose(p)).filter(|p| p.covers_category(category)).collect();
            proptest::prop_assert_eq!(covers_category(&d, &scope, category), !via.is_empty());
            proptest::prop_assert_eq!(may_write_field(&d, &scope, category, field), via.iter().any(|p| p.uses_field(field)));
            proptest::prop_assert!(covers_category(&d, &ActorScope::AnyPurpose, category));
            proptest::prop_assert!(may_write_field(&d, &ActorScope::AnyPurpose, category, field));
            // A link between two subjects needs one purpose that covers both of them.
            let both = covers_both(&d, &scope, category, other);
            proptest::prop_assert_eq!(both, via.iter().any(|p| p.covers_category(other)));
            proptest::prop_assert!(!both || (covers_category(&d, &scope, category) && covers_category(&d, &scope, other)));
            proptest::prop_assert!(covers_both(&d, &ActorScope::AnyPurpose, category, other));
        }
    }

    #[test]
    fn a_shared_field_is_not_writable_through_a_purpose_of_another_category() {
        let d = Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
            .unwrap()
            .declaration;
        let teacher = ActorScope::Purposes(vec!["education".into()]);
        // `iin` is used by education (students) and by personnel (employees).
        assert!(may_write_field(&d, &teacher, "student", "iin"));
        assert!(!may_write_field(&d, &teacher, "employee", "iin"));
        assert!(covers_category(&d, &teacher, "legal_representative"));
        assert!(!covers_category(&d, &teacher, "employee"));
    }
}

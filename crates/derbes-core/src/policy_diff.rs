//! What changed between two versions of the declaration, in words, and which consents the
//! change affects: a consent-based purpose that now uses more than a consent to the old terms
//! covers (data, recipients, a transfer abroad, publication: the comparison decisions make), or
//! that is new, or that rests on consent only now, needs fresh consent. Removing something
//! never does: a consent to more covers less.

use crate::consent::{not_covered, ConsentGap, PurposeTerms};
use crate::declaration::{DeadlineKind, Declaration, LegalBasis};
use crate::policy::{context, PolicyContext};
use crate::text::{tr, Lang};
use serde::Serialize;
use std::collections::BTreeSet;

/// A change of one element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// `added`, `removed` or `changed`.
    pub kind: &'static str,
    /// What kind of element, in words.
    pub what: &'static str,
    pub label: String,
    /// For `changed`: each difference, in words.
    pub details: Vec<String>,
}

/// A purpose that needs fresh consent after the change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsentImpact {
    pub purpose: String,
    pub label: String,
    pub reasons: Vec<String>,
    /// What a consent given under the old terms does not cover, as decisions name it
    /// (`field:<key>`, `recipient:<key>`, `cross_border_transfer`, `publication`); empty for a
    /// purpose no consent could be given to before.
    pub items: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub from: String,
    pub to: String,
    pub changes: Vec<Change>,
    pub consent_impact: Vec<ConsentImpact>,
}

fn list_diff(old: &[String], new: &[String]) -> (Vec<String>, Vec<String>) {
    let (o, n): (BTreeSet<&String>, BTreeSet<&String>) =
        (old.iter().collect(), new.iter().collect());
    (
        n.difference(&o).map(|s| (*s).clone()).collect(),
        o.difference(&n).map(|s| (*s).clone()).collect(),
    )
}

struct Words {
    lang: Lang,
}

impl Words {
    fn t(&self, kk: &'static str, ru: &'static str, en: &'static str) -> &'static str {
        tr(self.lang, kk, ru, en)
    }
    fn was(&self, what: &str, old: &str, new: &str) -> String {
        match self.lang {
            Lang::Kk => format!("{what}: «{old}» орнына «{new}»"),
            Lang::Ru => format!("{what}: «{new}» вместо «{old}»"),
            Lang::En => format!("{what}: “{new}” instead of “{old}”"),
        }
    }
    fn added(&self, what: &str, items: &[String]) -> Option<String> {
        (!items.is_empty()).then(|| {
            format!(
                "{what} {}: {}",
                self.t("қосылды", "добавлены", "added"),
                items.join(", ")
            )
        })
    }
    fn removed(&self, what: &str, items: &[String]) -> Option<String> {
        (!items.is_empty()).then(|| {
            format!(
                "{what} {}: {}",
                self.t("алып тасталды", "исключены", "removed"),
                items.join(", ")
            )
        })
    }
}

/// Labels of `keys` as `d` names them (the key itself for an undeclared one).
fn labels(
    keys: &[String],
    d: &Declaration,
    of: impl Fn(&Declaration, &str) -> Option<String>,
) -> Vec<String> {
    keys.iter()
        .map(|k| of(d, k).unwrap_or_else(|| k.clone()))
        .collect()
}

/// The report of what changed from `old` to `new`, in `lang`.
#[allow(
    clippy::too_many_lines,
    reason = "one comparison per section of the declaration, in the order of the policy"
)]
pub fn diff(old: &Declaration, new: &Declaration, lang: Lang) -> Report {
    let w = Words { lang };
    let (oc, nc): (PolicyContext, PolicyContext) = (context(old, lang), context(new, lang));
    let mut changes = Vec::new();
    let field_label =
        |d: &Declaration, k: &str| d.fields.get(k).map(|f| f.label.get(lang).to_owned());
    let recipient_label =
        |d: &Declaration, k: &str| d.recipients.get(k).map(|r| r.label.get(lang).to_owned());

    // Fields.
    let what = w.t("дерек", "данные", "data item");
    for (k, f) in &new.fields {
        match old.fields.get(k) {
            None => changes.push(Change {
                kind: "added",
                what,
                label: f.label.get(lang).into(),
                details: vec![],
            }),
            Some(of) => {
                let mut details = Vec::new();
                if of.label.get(lang) != f.label.get(lang) {
                    details.push(w.was(
                        w.t("атауы", "название", "name"),
                        of.label.get(lang),
                        f.label.get(lang),
                    ));
                }
                let (add, rem) = list_diff(&of.categories, &f.categories);
                let cat = |d: &Declaration, k: &str| {
                    d.subject_categories
                        .get(k)
                        .map(|c| c.label.get(lang).to_owned())
                };
                details.extend(w.added(
                    w.t(
                        "субъект санаттары",
                        "категории субъектов",
                        "subject categories",
                    ),
                    &labels(&add, new, cat),
                ));
                details.extend(w.removed(
                    w.t(
                        "субъект санаттары",
                        "категории субъектов",
                        "subject categories",
                    ),
                    &labels(&rem, old, cat),
                ));
                if of.sensitivity != f.sensitivity || of.special != f.special {
                    details.push(
                        w.t(
                            "деректің ерекше санатқа жатуы өзгерді",
                            "изменилась отнесённость данных к особой категории",
                            "whether the data are of a special category changed",
                        )
                        .into(),
                    );
                }
                if !details.is_empty() {
                    changes.push(Change {
                        kind: "changed",
                        what,
                        label: f.label.get(lang).into(),
                        details,
                    });
                }
            }
        }
    }
    for (k, f) in &old.fields {
        if !new.fields.contains_key(k) {
            changes.push(Change {
                kind: "removed",
                what,
                label: f.label.get(lang).into(),
                details: vec![],
            });
        }
    }

    // Purposes.
    let what = w.t("өңдеу мақсаты", "цель обработки", "purpose");
    for (i, (k, p)) in new.purposes.iter().enumerate() {
        let Some(op) = old.purposes.get(k) else {
            changes.push(Change {
                kind: "added",
                what,
                label: p.label.get(lang).into(),
                details: vec![],
            });
            continue;
        };
        let mut details = Vec::new();
        if op.legal_basis != p.legal_basis {
            details.push(w.was(
                w.t("құқықтық негіз", "правовое основание", "legal basis"),
                op.legal_basis.label(lang),
                p.legal_basis.label(lang),
            ));
        }
        let (add, rem) = list_diff(&op.fields, &p.fields);
        let data = w.t("деректер", "данные", "data");
        details.extend(w.added(data, &labels(&add, new, field_label)));
        details.extend(w.removed(data, &labels(&rem, old, field_label)));
        let (add, rem) = list_diff(&op.recipients, &p.recipients);
        let rec = w.t("алушылар", "получатели", "recipients");
        details.extend(w.added(rec, &labels(&add, new, recipient_label)));
        details.extend(w.removed(rec, &labels(&rem, old, recipient_label)));
        let (ocb, ncb) = (
            old.purpose_crosses_border(op),
            new.purpose_crosses_border(p),
        );
        if ocb != ncb {
            details.push(if ncb {
                w.t(
                    "трансшекаралық беру басталады",
                    "начинается трансграничная передача",
                    "cross-border transfer begins",
                )
                .into()
            } else {
                w.t(
                    "трансшекаралық беру тоқтатылады",
                    "трансграничная передача прекращается",
                    "cross-border transfer ends",
                )
                .into()
            });
        }
        let (oret, nret) = (
            oc.purposes
                .iter()
                .find(|x| &x.key == k)
                .map(|x| x.retention.clone())
                .unwrap_or_default(),
            nc.purposes
                .get(i)
                .map(|x| x.retention.clone())
                .unwrap_or_default(),
        );
        if oret != nret {
            details.push(w.was(
                w.t("сақтау мерзімі", "срок хранения", "retention"),
                &oret,
                &nret,
            ));
        }
        if op.publication != p.publication {
            details.push(
                w.t(
                    "жариялау тәртібі өзгерді",
                    "изменился порядок опубликования",
                    "publication changed",
                )
                .into(),
            );
        }
        if op.description.get(lang) != p.description.get(lang) {
            details.push(
                w.t(
                    "сипаттамасы өзгерді",
                    "изменено описание",
                    "the description changed",
                )
                .into(),
            );
        }
        if !details.is_empty() {
            changes.push(Change {
                kind: "changed",
                what,
                label: p.label.get(lang).into(),
                details,
            });
        }
    }
    for (k, p) in &old.purposes {
        if !new.purposes.contains_key(k) {
            changes.push(Change {
                kind: "removed",
                what,
                label: p.label.get(lang).into(),
                details: vec![],
            });
        }
    }

    // Recipients.
    let what = w.t("алушы", "получатель", "recipient");
    for (k, r) in &new.recipients {
        match old.recipients.get(k) {
            None => changes.push(Change {
                kind: "added",
                what,
                label: r.label.get(lang).into(),
                details: vec![],
            }),
            Some(or) => {
                let mut details = Vec::new();
                if or.country != r.country || or.kind != r.kind {
                    details.push(w.was(
                        w.t("елі мен түрі", "страна и вид", "country and kind"),
                        &format!(
                            "{}, {}",
                            crate::policy::country_name(&or.country, lang),
                            or.kind.label(lang)
                        ),
                        &format!(
                            "{}, {}",
                            crate::policy::country_name(&r.country, lang),
                            r.kind.label(lang)
                        ),
                    ));
                }
                let basis = |d: &Declaration, r: &crate::declaration::Recipient| match (
                    d.crosses_border(r),
                    r.cross_border_basis,
                ) {
                    (true, Some(b)) => crate::policy::cross_border_basis(b, lang).to_owned(),
                    (true, None) => "—".to_owned(),
                    (false, _) => w
                        .t(
                            "трансшекаралық беру жоқ",
                            "трансграничной передачи нет",
                            "no cross-border transfer",
                        )
                        .to_owned(),
                };
                let (ob, nb) = (basis(old, or), basis(new, r));
                if ob != nb {
                    details.push(w.was(
                        w.t(
                            "трансшекаралық берудің негізі",
                            "основание трансграничной передачи",
                            "ground of cross-border transfer",
                        ),
                        &ob,
                        &nb,
                    ));
                }
                if !details.is_empty() {
                    changes.push(Change {
                        kind: "changed",
                        what,
                        label: r.label.get(lang).into(),
                        details,
                    });
                }
            }
        }
    }
    for (k, r) in &old.recipients {
        if !new.recipients.contains_key(k) {
            changes.push(Change {
                kind: "removed",
                what,
                label: r.label.get(lang).into(),
                details: vec![],
            });
        }
    }

    // Services the policy covers.
    let what = w.t(
        "Саясат қолданылатын сервис",
        "сервис, на который распространяется политика",
        "service covered by the policy",
    );
    let service_words = |s: &crate::declaration::Service| match &s.address {
        Some(a) => format!("{} ({a})", s.label.get(lang)),
        None => s.label.get(lang).to_owned(),
    };
    for (k, s) in &new.services {
        match old.services.get(k) {
            None => changes.push(Change {
                kind: "added",
                what,
                label: service_words(s),
                details: vec![],
            }),
            Some(os) if os != s => changes.push(Change {
                kind: "changed",
                what,
                label: s.label.get(lang).into(),
                details: vec![w.was(
                    w.t(
                        "атауы мен мекенжайы",
                        "название и адрес",
                        "name and address",
                    ),
                    &service_words(os),
                    &service_words(s),
                )],
            }),
            Some(_) => {}
        }
    }
    for (k, s) in &old.services {
        if !new.services.contains_key(k) {
            changes.push(Change {
                kind: "removed",
                what,
                label: service_words(s),
                details: vec![],
            });
        }
    }

    // Automated decisions and profiling.
    if old.automated_processing != new.automated_processing {
        let what = w.t(
            "автоматтандырылған шешімдер мен профильдеу",
            "автоматизированные решения и профилирование",
            "automated decisions and profiling",
        );
        let yes_no = |b: bool| -> String {
            if b {
                w.t("иә", "да", "yes")
            } else {
                w.t("жоқ", "нет", "no")
            }
            .to_owned()
        };
        let text = |t: &Option<crate::text::Text>| {
            t.as_ref()
                .map_or_else(|| "—".to_owned(), |t| t.get(lang).to_owned())
        };
        let decisions_words = w.t(
            "тек автоматтандырылған өңдеу негізіндегі шешімдер",
            "решения исключительно на основе автоматизированной обработки",
            "decisions by automated processing alone",
        );
        let profiling_words = w.t("профильдеу", "профилирование", "profiling");
        let summary = |a: &crate::declaration::AutomatedProcessing| {
            format!(
                "{decisions_words}: {}; {profiling_words}: {}",
                yes_no(a.decisions),
                yes_no(a.profiling)
            )
        };
        let (kind, details) = match (&old.automated_processing, &new.automated_processing) {
            (Some(a), Some(b)) => {
                let mut details = Vec::new();
                for (words, flags, description_words, descriptions) in [
                    (
                        decisions_words,
                        (a.decisions, b.decisions),
                        w.t(
                            "шешімдердің сипаттамасы",
                            "описание решений",
                            "description of the decisions",
                        ),
                        (&a.decisions_description, &b.decisions_description),
                    ),
                    (
                        profiling_words,
                        (a.profiling, b.profiling),
                        w.t(
                            "профильдеудің сипаттамасы",
                            "описание профилирования",
                            "description of the profiling",
                        ),
                        (&a.profiling_description, &b.profiling_description),
                    ),
                ] {
                    if flags.0 != flags.1 {
                        details.push(w.was(words, &yes_no(flags.0), &yes_no(flags.1)));
                    }
                    if descriptions.0 != descriptions.1 {
                        details.push(w.was(
                            description_words,
                            &text(descriptions.0),
                            &text(descriptions.1),
                        ));
                    }
                }
                ("changed", details)
            }
            (None, Some(_)) => ("added", vec![]),
            _ => ("removed", vec![]),
        };
        let label = new
            .automated_processing
            .as_ref()
            .or(old.automated_processing.as_ref())
            .map(summary)
            .unwrap_or_default();
        changes.push(Change {
            kind,
            what,
            label,
            details,
        });
    }

    // The court named for disputes.
    if old.disputes.court != new.disputes.court {
        let what = w.t(
            "дауларды шешетін сот",
            "суд для разрешения споров",
            "court for disputes",
        );
        let court = |d: &Declaration| {
            d.disputes
                .court
                .as_ref()
                .map(|t| t.get(lang).to_owned())
                .unwrap_or_else(|| {
                    w.t("заң бойынша", "по закону", "as the law provides")
                        .to_owned()
                })
        };
        let before = match lang {
            Lang::Kk => format!("бұрын: «{}»", court(old)),
            Lang::Ru => format!("прежде: «{}»", court(old)),
            Lang::En => format!("previously: “{}”", court(old)),
        };
        changes.push(Change {
            kind: "changed",
            what,
            label: court(new),
            details: vec![before],
        });
    }

    // Deadlines.
    let what = w.t("жауап беру мерзімі", "срок ответа", "response deadline");
    for k in DeadlineKind::ALL {
        let (a, b) = (old.deadlines.get(k), new.deadlines.get(k));
        if a != b {
            let term = |d: crate::declaration::Deadline| {
                crate::deadline::term_words(
                    d.days,
                    d.calendar == crate::declaration::CalendarKind::Working,
                    lang,
                )
            };
            changes.push(Change {
                kind: "changed",
                what,
                label: crate::policy::deadline_label(k, lang).into(),
                details: vec![w.was(w.t("мерзім", "срок", "term"), &term(a), &term(b))],
            });
        }
    }

    // Consent impact: the comparison enforcement makes (`consent::not_covered`), with every field
    // of the new purpose asked.
    let mut consent_impact = Vec::new();
    for (k, p) in &new.purposes {
        if p.legal_basis != LegalBasis::Consent {
            continue;
        }
        let (reasons, items) = match old.purposes.get(k) {
            None => (
                vec![w.t("жаңа мақсат", "новая цель", "a new purpose").to_owned()],
                vec![],
            ),
            Some(op) if op.legal_basis != LegalBasis::Consent => (
                vec![w
                    .t(
                        "мақсат енді келісімге негізделеді",
                        "цель теперь основана на согласии",
                        "the purpose now rests on consent",
                    )
                    .to_owned()],
                vec![],
            ),
            Some(_) => {
                let Some(agreed) = PurposeTerms::of(old, k) else {
                    continue;
                };
                let items: Vec<String> = not_covered(new, p, &agreed, &p.fields)
                    .into_iter()
                    .filter_map(|g| match g {
                        ConsentGap::NotCovered(item) => Some(item),
                        _ => None,
                    })
                    .collect();
                let keys = |prefix: &str| -> Vec<String> {
                    items
                        .iter()
                        .filter_map(|i| i.strip_prefix(prefix).map(str::to_owned))
                        .collect()
                };
                let mut reasons = Vec::new();
                reasons.extend(w.added(
                    w.t("деректер", "данные", "data"),
                    &labels(&keys("field:"), new, field_label),
                ));
                reasons.extend(w.added(
                    w.t("алушылар", "получатели", "recipients"),
                    &labels(&keys("recipient:"), new, recipient_label),
                ));
                if items.iter().any(|i| i == "cross_border_transfer") {
                    reasons.push(
                        w.t(
                            "деректер шетелге беріледі",
                            "данные будут передаваться за границу",
                            "the data will be transferred abroad",
                        )
                        .to_owned(),
                    );
                }
                if items.iter().any(|i| i == "publication") {
                    reasons.push(
                        w.t(
                            "деректер жарияланады",
                            "данные будут опубликованы",
                            "the data will be published",
                        )
                        .to_owned(),
                    );
                }
                (reasons, items)
            }
        };
        if !reasons.is_empty() {
            consent_impact.push(ConsentImpact {
                purpose: k.clone(),
                label: p.label.get(lang).into(),
                reasons,
                items,
            });
        }
    }
    Report {
        from: old.version.clone(),
        to: new.version.clone(),
        changes,
        consent_impact,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = include_str!("../../../examples/shoqan-school.toml");

    fn load(text: &str) -> Declaration {
        Declaration::load(text).unwrap().declaration
    }

    #[test]
    fn the_same_declaration_changes_nothing() {
        let d = load(DEMO);
        let r = diff(&d, &d, Lang::Ru);
        assert!(r.changes.is_empty() && r.consent_impact.is_empty(), "{r:?}");
    }

    #[test]
    fn changes_are_named_and_only_what_a_consent_does_not_cover_needs_fresh_consent() {
        let old = load(DEMO);
        let new = load(
            &DEMO
                .replacen("version = \"2025.1\"", "version = \"2026.1\"", 1)
                .replacen(
                    "recipients = [\"transport_company\", \"medical_institution\"]",
                    "recipients = [\"transport_company\"]",
                    1,
                )
                .replacen(
                    "rectification = { days = 1, calendar = \"working\" }",
                    "rectification = { days = 2, calendar = \"working\" }",
                    1,
                ),
        );
        let r = diff(&old, &new, Lang::Ru);
        assert_eq!((r.from.as_str(), r.to.as_str()), ("2025.1", "2026.1"));
        let purpose = r
            .changes
            .iter()
            .find(|c| c.what == "цель обработки")
            .unwrap();
        assert_eq!(purpose.kind, "changed");
        assert!(purpose.label.starts_with("Дополнительное образование"));
        assert!(
            purpose
                .details
                .iter()
                .any(|d| d.starts_with("получатели исключены: ")),
            "{:?}",
            purpose.details
        );
        let deadline = r.changes.iter().find(|c| c.what == "срок ответа").unwrap();
        assert_eq!(
            deadline.details,
            ["срок: «2 рабочих дня» вместо «1 рабочий день»"]
        );
        // A recipient removed: the old consent covers less than it agreed to, and still holds.
        assert!(r.consent_impact.is_empty(), "{:?}", r.consent_impact);

        // A recipient and a field added: each is named, in every language.
        let wider = load(&DEMO.replacen(
            "fields = [\"surname\", \"given_name\", \"patronymic\", \"birth_date\", \"id_document_type\", \"id_document_number\", \"phone\", \"health_info\", \"event_media\"]\nrecipients = [\"transport_company\", \"medical_institution\"]",
            "fields = [\"surname\", \"given_name\", \"patronymic\", \"birth_date\", \"id_document_type\", \"id_document_number\", \"phone\", \"email\", \"health_info\", \"event_media\"]\nrecipients = [\"transport_company\", \"medical_institution\", \"it_support\"]",
            1,
        ));
        let r = diff(&old, &wider, Lang::Ru);
        assert_eq!(r.consent_impact.len(), 1, "{:?}", r.consent_impact);
        assert_eq!(r.consent_impact[0].purpose, "extracurricular");
        assert_eq!(
            r.consent_impact[0].items,
            ["field:email", "recipient:it_support"]
        );
        assert_eq!(
            r.consent_impact[0].reasons,
            [
                "данные добавлены: Адрес электронной почты",
                "получатели добавлены: Организация IT-поддержки"
            ]
        );
        for lang in [Lang::Kk, Lang::En] {
            let other = diff(&old, &wider, lang);
            assert_eq!(other.changes.len(), r.changes.len());
            assert_eq!(other.consent_impact[0].reasons.len(), 2);
        }
        // A consent purpose that is new needs consent too; one removed is listed as removed.
        let removed = diff(
            &new,
            &load(&DEMO.replacen(
                "[purposes.extracurricular]",
                "[purposes.extracurricular_v2]",
                1,
            )),
            Lang::En,
        );
        assert!(removed
            .changes
            .iter()
            .any(|c| c.kind == "removed" && c.what == "purpose"));
        assert!(removed
            .consent_impact
            .iter()
            .any(|c| c.purpose == "extracurricular_v2" && c.reasons == ["a new purpose"]));
    }

    /// One change to the terms of the example's consent purpose.
    #[derive(Debug, Clone)]
    enum Edit {
        DropField(usize),
        AddField(usize),
        DropRecipient(usize),
        AddRecipient(usize),
        RecipientAbroad(usize),
        Publication(bool),
    }

    fn edit(d: &mut Declaration, e: &Edit) {
        let all_fields: Vec<String> = d.fields.keys().cloned().collect();
        let all_recipients: Vec<String> = d.recipients.keys().cloned().collect();
        let Some(p) = d.purposes.get_mut("extracurricular") else {
            return;
        };
        match *e {
            Edit::DropField(i) if !p.fields.is_empty() => {
                p.fields.remove(i % p.fields.len());
            }
            Edit::AddField(i) => {
                let f = &all_fields[i % all_fields.len()];
                if !p.uses_field(f) {
                    p.fields.push(f.clone());
                }
            }
            Edit::DropRecipient(i) if !p.recipients.is_empty() => {
                p.recipients.remove(i % p.recipients.len());
            }
            Edit::AddRecipient(i) => {
                let r = &all_recipients[i % all_recipients.len()];
                if !p.recipients.contains(r) {
                    p.recipients.push(r.clone());
                }
            }
            Edit::RecipientAbroad(i) => {
                let r = &all_recipients[i % all_recipients.len()];
                if let Some(r) = d.recipients.get_mut(r) {
                    r.country = "DE".into();
                }
            }
            Edit::Publication(on) => p.publication = on,
            _ => {}
        }
    }

    fn an_edit() -> impl proptest::strategy::Strategy<Value = Edit> {
        use proptest::prelude::*;
        prop_oneof![
            (0..20usize).prop_map(Edit::DropField),
            (0..60usize).prop_map(Edit::AddField),
            (0..5usize).prop_map(Edit::DropRecipient),
            (0..10usize).prop_map(Edit::AddRecipient),
            (0..10usize).prop_map(Edit::RecipientAbroad),
            proptest::bool::ANY.prop_map(Edit::Publication),
        ]
    }

    proptest::proptest! {
        /// The report and enforcement agree: a purpose is reported as needing fresh consent
        /// exactly when a consent to its old terms no longer lets its data be read, and both
        /// name the same items.
        #[test]
        fn the_report_and_enforcement_agree(
            before in proptest::collection::vec(an_edit(), 0..3),
            after in proptest::collection::vec(an_edit(), 0..4),
        ) {
            use crate::consent::{consent_covers, ConsentAction, ConsentEvent, GivenBy, Grant, Method, SubjectFacts, Term};
            let mut old = load(DEMO);
            for e in &before {
                edit(&mut old, e);
            }
            let mut new = old.clone();
            new.version = "next".into();
            for e in &after {
                edit(&mut new, e);
            }
            let now = time::macros::datetime!(2026-11-21 10:00 UTC);
            let given = ConsentEvent {
                id: uuid::Uuid::from_u128(1),
                subject_id: uuid::Uuid::from_u128(2),
                purpose: "extracurricular".into(),
                action: ConsentAction::Give(Grant::new(
                    PurposeTerms::of(&old, "extracurricular").unwrap(),
                    Term::PurposeAchieved,
                )),
                given_by: GivenBy::Subject,
                method: Method::Web,
                at: time::macros::datetime!(2026-09-01 08:00 UTC),
            };
            let ledger = [given];
            let adult = SubjectFacts::of_ledger(&ledger);
            let every_field = &new.purposes["extracurricular"].fields;
            let refused: Vec<String> =
                match consent_covers(&new, &adult, "extracurricular", every_field, now) {
                    Ok(_) => vec![],
                    Err(gaps) => gaps
                        .into_iter()
                        .map(|g| match g {
                            ConsentGap::NotCovered(item) => item,
                            other => format!("{other:?}"),
                        })
                        .collect(),
                };
            let report = diff(&old, &new, Lang::En);
            let reported: Vec<String> = report
                .consent_impact
                .iter()
                .filter(|c| c.purpose == "extracurricular")
                .flat_map(|c| c.items.clone())
                .collect();
            proptest::prop_assert_eq!(&reported, &refused);
            proptest::prop_assert_eq!(report.consent_impact.is_empty(), refused.is_empty());
        }
    }

    #[test]
    fn scope_automated_processing_court_and_transfer_grounds_are_reported() {
        let old = load(DEMO);
        let new_text = format!(
            "{}\n[services.journal]\nlabel = {{ kk = \"Электрондық журнал\", ru = \"Электронный журнал\", en = \"Electronic journal\" }}\naddress = \"https://journal.school.kz/\"\n\n[automated_processing]\ndecisions = false\nprofiling = true\nprofiling_description = {{ kk = \"Үлгерім бойынша ұсыныстар\", ru = \"Рекомендации по успеваемости\", en = \"Recommendations by progress\" }}\n\n[disputes]\ncourt = {{ kk = \"Алматы қаласының соты\", ru = \"суд города Алматы\", en = \"the court of Almaty\" }}\n",
            it_support_abroad(DEMO)
        );
        let new = load(&new_text);
        let r = diff(&old, &new, Lang::En);
        let of =
            |what: &str| -> Vec<&Change> { r.changes.iter().filter(|c| c.what == what).collect() };
        let service = of("service covered by the policy");
        assert_eq!(service.len(), 1, "{:?}", r.changes);
        assert_eq!(service[0].kind, "added");
        assert_eq!(
            service[0].label,
            "Electronic journal (https://journal.school.kz/)"
        );
        let automated = of("automated decisions and profiling");
        assert_eq!(automated.len(), 1);
        assert_eq!(automated[0].kind, "added");
        assert_eq!(
            automated[0].label,
            "decisions by automated processing alone: no; profiling: yes"
        );
        let court = of("court for disputes");
        assert_eq!(court.len(), 1);
        assert_eq!(court[0].label, "the court of Almaty");
        assert_eq!(court[0].details, ["previously: “as the law provides”"]);
        let recipient = of("recipient");
        assert_eq!(recipient.len(), 1, "{recipient:?}");
        assert_eq!(
            recipient[0].details,
            [
                "country and kind: “Germany, third party processing on the operator's instructions” instead of “the Republic of Kazakhstan, third party processing on the operator's instructions”",
                "ground of cross-border transfer: “performance of a contract with the subject” instead of “no cross-border transfer”"
            ]
        );
        // Profiling stopped: the flag and its description are each named.
        let stopped = load(&new_text.replace(
            "profiling = true\nprofiling_description = { kk = \"Үлгерім бойынша ұсыныстар\", ru = \"Рекомендации по успеваемости\", en = \"Recommendations by progress\" }",
            "profiling = false",
        ));
        let r2 = diff(&new, &stopped, Lang::En);
        assert_eq!(r2.changes.len(), 1, "{:?}", r2.changes);
        assert_eq!(r2.changes[0].kind, "changed");
        assert_eq!(
            r2.changes[0].details,
            [
                "profiling: “no” instead of “yes”",
                "description of the profiling: “—” instead of “Recommendations by progress”"
            ]
        );
        // Back again: each is reported the other way.
        let back = diff(&new, &old, Lang::Ru);
        assert!(back.changes.iter().any(
            |c| c.kind == "removed" && c.what == "сервис, на который распространяется политика"
        ));
        assert!(back.changes.iter().any(
            |c| c.kind == "removed" && c.what == "автоматизированные решения и профилирование"
        ));
        assert!(back
            .changes
            .iter()
            .any(|c| c.what == "суд для разрешения споров" && c.label == "по закону"));
    }

    /// The demo with its IT support moved to Germany under a contract.
    fn it_support_abroad(demo: &str) -> String {
        let start = demo.find("[recipients.it_support]").unwrap();
        let (head, tail) = demo.split_at(start);
        let tail = tail.replacen(
            "country = \"KZ\"",
            "country = \"DE\"\ncross_border_basis = \"contract_performance\"",
            1,
        );
        format!("{head}{tail}")
    }
}

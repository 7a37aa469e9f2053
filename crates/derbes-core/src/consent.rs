//! Consents (Law 94-V Art. 8): what a subject, or their legal representative, agreed to, and
//! whether that agreement holds at a given moment.
//!
//! The ledger is append-only: giving, renewing and withdrawing are each a new event, and the
//! state of a consent is folded from the events. A consent records the terms of the purpose as
//! the declaration stated them when it was given (fields, recipients, cross-border transfer,
//! publication) together with their hash, so a later declaration that widens the purpose does not
//! stretch an old consent: the decision compares the purpose as it is now with what was agreed.

use crate::declaration::{Declaration, LegalBasis, OnMajority, Purpose};
use crate::identifiers::age_on;
use crate::text::Lang;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// Who a legal representative is to the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Relation {
    Parent,
    Guardian,
    Trustee,
    Other,
}

/// A document that proves a legal representative's authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    BirthCertificate,
    GuardianshipDecision,
    PowerOfAttorney,
    CourtDecision,
    Other,
}

/// A proof document, identified by the SHA-256 of its scan: derbes keeps the hash, not the scan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub kind: DocumentKind,
    pub sha256: String,
}

/// A legal representative linked to a subject: both are subjects of the vault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepresentativeLink {
    pub subject_id: Uuid,
    pub representative_id: Uuid,
    pub relation: Relation,
    pub documents: Vec<Document>,
    #[serde(with = "time::serde::rfc3339")]
    pub linked_at: OffsetDateTime,
    /// The actor that recorded the link.
    pub linked_by: String,
}

/// Who performed a consent action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GivenBy {
    /// The subject in their own name.
    Subject,
    /// A legal representative, who is a subject of the vault too.
    Representative {
        representative_id: Uuid,
        relation: Relation,
    },
}

/// How a consent action was made (Art. 8: in writing, through a consent service, or any other
/// way that allows confirming it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Method {
    Web,
    /// A signed paper form; the SHA-256 of its scan is the evidence.
    Paper {
        evidence_sha256: String,
    },
    /// The state consent service (eGov), with its reference.
    StateService {
        reference: String,
    },
    Other {
        description: String,
    },
}

/// How long a consent lasts. With no end date it lasts until the purpose is achieved (Art. 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Term {
    /// Through this date, inclusive.
    Until {
        #[serde(with = "crate::iso_date")]
        date: Date,
    },
    PurposeAchieved,
}

/// The contents Art. 8(4) requires a consent to state, as the declaration defined the purpose
/// when the consent was given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurposeTerms {
    pub purpose: String,
    pub declaration_version: String,
    /// The list of data, in declaration order.
    pub fields: Vec<String>,
    /// Recipients the data may be transferred to.
    pub recipients: Vec<String>,
    pub third_party_transfer: bool,
    pub cross_border_transfer: bool,
    pub publication: bool,
}

impl PurposeTerms {
    /// The terms of `purpose` as `declaration` states them now; `None` for an undeclared purpose.
    pub fn of(declaration: &Declaration, purpose: &str) -> Option<Self> {
        let p = declaration.purpose(purpose)?;
        Some(Self::of_purpose(declaration, purpose, p))
    }

    fn of_purpose(declaration: &Declaration, key: &str, p: &Purpose) -> Self {
        Self {
            purpose: key.to_owned(),
            declaration_version: declaration.version.clone(),
            fields: p.fields.clone(),
            recipients: p.recipients.clone(),
            third_party_transfer: !p.recipients.is_empty(),
            cross_border_transfer: declaration.purpose_crosses_border(p),
            publication: p.publication,
        }
    }

    /// SHA-256 (hex) of the terms: each part length-prefixed, lists in their declared order.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        let mut put = |s: &str| {
            h.update((s.len() as u64).to_be_bytes());
            h.update(s.as_bytes());
        };
        put("derbes consent terms v1");
        put(&self.purpose);
        put(&self.declaration_version);
        for list in [&self.fields, &self.recipients] {
            put(&list.len().to_string());
            for item in list {
                put(item);
            }
        }
        for flag in [
            self.third_party_transfer,
            self.cross_border_transfer,
            self.publication,
        ] {
            put(if flag { "1" } else { "0" });
        }
        crate::declaration::hex(&h.finalize())
    }
}

/// What was agreed: the terms and how long they last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    pub terms: PurposeTerms,
    pub terms_hash: String,
    pub term: Term,
}

impl Grant {
    pub fn new(terms: PurposeTerms, term: Term) -> Self {
        Self {
            terms_hash: terms.hash(),
            terms,
            term,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ConsentAction {
    Give(Grant),
    /// A new term for a consent that holds or has expired, under the purpose's current terms.
    Renew(Grant),
    Withdraw,
}

impl Method {
    /// Its code, as its serialized `kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Method::Web => "web",
            Method::Paper { .. } => "paper",
            Method::StateService { .. } => "state_service",
            Method::Other { .. } => "other",
        }
    }
}

impl ConsentAction {
    pub fn name(&self) -> &'static str {
        match self {
            ConsentAction::Give(_) => "give",
            ConsentAction::Renew(_) => "renew",
            ConsentAction::Withdraw => "withdraw",
        }
    }
}

/// One entry of the consent ledger. Never changed once recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    pub id: Uuid,
    pub subject_id: Uuid,
    pub purpose: String,
    #[serde(flatten)]
    pub action: ConsentAction,
    pub given_by: GivenBy,
    pub method: Method,
    /// Server time, UTC.
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
}

/// Is a person born on `birth` a minor on `on` under `declaration`?
pub fn is_minor(declaration: &Declaration, birth: Date, on: Date) -> bool {
    age_on(birth, on) < declaration.minors.age_of_majority
}

/// The month (its first day) in which the subject must confirm, in their own name, a consent
/// a legal representative gave or renewed: the month they come of age. `None` when the subject
/// gave it, for a withdrawal, when the birth date is unknown, and when no representative acted
/// for the purpose while the subject was a minor (a guardian acting only for an adult: nothing
/// changes with age); `ledger` holds the subject's earlier events. The duty ends with the
/// subject's next consent event for the purpose (or any withdrawal), which has no such month.
///
/// derbes keeps this month in the clear beside the sealed birth date, so that the duties due
/// can be listed without opening anyone's data: it tells no more than the year and month.
pub fn reconfirmation_month(
    declaration: &Declaration,
    birth: Option<Date>,
    event: &ConsentEvent,
    ledger: &[ConsentEvent],
) -> Option<Date> {
    let birth = birth?;
    if !given_by_a_representative(event) || !acted_for_a_minor(declaration, birth, event, ledger) {
        return None;
    }
    let year = birth
        .year()
        .checked_add(i32::try_from(declaration.minors.age_of_majority).ok()?)?;
    // Born on 29 February: of age on 1 March of a common year.
    let of_age = Date::from_calendar_date(year, birth.month(), birth.day())
        .or_else(|_| Date::from_calendar_date(year, time::Month::March, 1))
        .ok()?;
    of_age.replace_day(1).ok()
}

/// A give or renew by a legal representative.
fn given_by_a_representative(e: &ConsentEvent) -> bool {
    matches!(e.given_by, GivenBy::Representative { .. })
        && matches!(e.action, ConsentAction::Give(_) | ConsentAction::Renew(_))
}

/// Did a representative give or renew consent to `event`'s purpose while the subject was a
/// minor, with `event` or an earlier event of `ledger`? A consent a parent gave for a child and
/// renewed after majority is still the child's to confirm; one a guardian gives only for an
/// adult stays as it was.
fn acted_for_a_minor(
    declaration: &Declaration,
    birth: Date,
    event: &ConsentEvent,
    ledger: &[ConsentEvent],
) -> bool {
    let for_a_minor = |e: &ConsentEvent| {
        e.purpose == event.purpose
            && given_by_a_representative(e)
            && is_minor(declaration, birth, e.at.date())
    };
    for_a_minor(event) || ledger.iter().any(|e| e.at <= event.at && for_a_minor(e))
}

/// The subject's birth date from its values: a date field keyed `birth_date`, else the first IIN
/// field that parses. `value` gives a field's stored (normalized) value.
pub fn birth_date(
    declaration: &Declaration,
    category: &str,
    mut value: impl FnMut(&str) -> Option<String>,
) -> Option<Date> {
    use crate::declaration::Validator;
    let fields = || {
        declaration
            .fields
            .iter()
            .filter(|(_, f)| f.categories.iter().any(|c| c == category))
    };
    let dated = fields()
        .filter(|(k, f)| k.as_str() == "birth_date" && f.validator == Validator::Date)
        .find_map(|(k, _)| value(k).and_then(|v| crate::declaration::parse_date(&v)));
    dated.or_else(|| {
        fields()
            .filter(|(_, f)| f.validator == Validator::Iin)
            .find_map(|(k, _)| value(k).and_then(|v| crate::identifiers::Iin::parse(&v).ok()))
            .map(|iin| iin.birth_date())
    })
}

/// What the decision engine needs to know about the subject.
#[derive(Debug, Clone, Copy)]
pub struct SubjectFacts<'a> {
    /// From the IIN or a birth-date field; `None` when unknown (then treated as an adult).
    pub birth_date: Option<Date>,
    /// All processing but storage stops while blocked.
    pub blocked: bool,
    /// Purposes whose processing is restricted for this subject.
    pub restricted: &'a [String],
    /// Purposes under which the subject has an open obligation: consent cannot be withdrawn.
    pub obligations: &'a [String],
    /// The subject's consent events, in the order they were recorded.
    pub consents: &'a [ConsentEvent],
    /// The last days of the subject's fields, for deciding reads; `None` where only consents
    /// are worked out.
    pub retention: Option<crate::retention::RetentionFacts<'a>>,
}

impl<'a> SubjectFacts<'a> {
    /// The facts retention needs of a subject's consent ledger alone, without opening its
    /// birth date: a minor's own consent is never recorded, so every event of the ledger counts
    /// as it would with it.
    pub fn of_ledger(consents: &'a [ConsentEvent]) -> Self {
        SubjectFacts {
            birth_date: None,
            blocked: false,
            restricted: &[],
            obligations: &[],
            consents,
            retention: None,
        }
    }
}

impl SubjectFacts<'_> {
    fn minor_on(&self, declaration: &Declaration, on: Date) -> bool {
        self.birth_date
            .is_some_and(|b| is_minor(declaration, b, on))
    }

    /// Does this event count? A minor can neither give nor withdraw consent alone.
    fn counts(&self, declaration: &Declaration, e: &ConsentEvent) -> bool {
        !(e.given_by == GivenBy::Subject && self.minor_on(declaration, e.at.date()))
    }
}

/// The state of a subject's consent to one purpose at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentState<'a> {
    None,
    Holding(&'a ConsentEvent, &'a Grant),
    Withdrawn { at: OffsetDateTime },
    Expired { on: Date },
}

/// Folds the subject's events for `purpose` as of `now`: the latest event that counts decides.
/// Events recorded after `now` are not seen.
pub fn consent_state<'a>(
    declaration: &Declaration,
    facts: &SubjectFacts<'a>,
    purpose: &str,
    now: OffsetDateTime,
) -> ConsentState<'a> {
    let last = facts
        .consents
        .iter()
        .filter(|e| e.purpose == purpose && e.at <= now && facts.counts(declaration, e))
        .max_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
    match last {
        None => ConsentState::None,
        Some(e) => match &e.action {
            ConsentAction::Withdraw => ConsentState::Withdrawn { at: e.at },
            ConsentAction::Give(g) | ConsentAction::Renew(g) => match g.term {
                Term::Until { date } if date < now.date() => ConsentState::Expired { on: date },
                _ => ConsentState::Holding(e, g),
            },
        },
    }
}

/// Why a consent is not enough for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsentGap {
    None,
    Withdrawn,
    Expired,
    /// The purpose now uses or does more than the consent covered: `item` is `field:<key>`,
    /// `recipient:<key>`, `cross_border_transfer` or `publication`.
    NotCovered(String),
    /// The subject came of age and the declaration requires their own consent.
    ReconsentRequired,
}

/// A consent that holds for a decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HoldingConsent {
    pub consent_id: Uuid,
    /// Given by a representative and the subject is now of age: ask the subject to confirm.
    pub confirmation_due: bool,
}

/// What `agreed` terms do not cover of `current` (a purpose as `declaration` states it) when
/// `fields` of it are used: each field not agreed, each recipient added, a transfer abroad and
/// publication where the consent had none. Removals never count: a consent to more covers less.
/// The one comparison behind decisions ([`consent_covers`]) and the change report
/// ([`crate::policy_diff::diff`]), so the report names exactly what enforcement refuses.
pub fn not_covered(
    declaration: &Declaration,
    current: &Purpose,
    agreed: &PurposeTerms,
    fields: &[String],
) -> Vec<ConsentGap> {
    let mut gaps = Vec::new();
    // Both lists are usually in declaration order: walk them together, and search only when a
    // field is not where the walk expects it.
    let mut next = 0;
    for f in fields {
        if agreed.fields.get(next) == Some(f) {
            next += 1;
        } else if let Some(i) = agreed.fields.iter().position(|a| a == f) {
            next = i + 1;
        } else {
            gaps.push(ConsentGap::NotCovered(format!("field:{f}")));
        }
    }
    // Compared without copying the purpose's terms: this runs per decision.
    for r in current
        .recipients
        .iter()
        .filter(|r| !agreed.recipients.contains(r))
    {
        gaps.push(ConsentGap::NotCovered(format!("recipient:{r}")));
    }
    if !agreed.cross_border_transfer && declaration.purpose_crosses_border(current) {
        gaps.push(ConsentGap::NotCovered("cross_border_transfer".into()));
    }
    if current.publication && !agreed.publication {
        gaps.push(ConsentGap::NotCovered("publication".into()));
    }
    gaps
}

/// Does the subject's consent cover `fields` of `purpose` (as the declaration states it now)?
pub fn consent_covers(
    declaration: &Declaration,
    facts: &SubjectFacts<'_>,
    purpose: &str,
    fields: &[String],
    now: OffsetDateTime,
) -> Result<HoldingConsent, Vec<ConsentGap>> {
    let (event, grant) = match consent_state(declaration, facts, purpose, now) {
        ConsentState::None => return Err(vec![ConsentGap::None]),
        ConsentState::Withdrawn { .. } => return Err(vec![ConsentGap::Withdrawn]),
        ConsentState::Expired { .. } => return Err(vec![ConsentGap::Expired]),
        ConsentState::Holding(e, g) => (e, g),
    };
    let mut gaps = match declaration.purpose(purpose) {
        Some(current) => not_covered(declaration, current, &grant.terms, fields),
        // An undeclared purpose is refused before any consent is looked at.
        None => Vec::new(),
    };
    // A representative's consent for a subject who was a minor when a representative acted
    // and has since come of age; one given only for an adult (a guardian's) stays as it was.
    let came_of_age = !facts.minor_on(declaration, now.date())
        && facts.birth_date.is_some_and(|birth| {
            given_by_a_representative(event)
                && acted_for_a_minor(declaration, birth, event, facts.consents)
        });
    if came_of_age && declaration.minors.on_majority == OnMajority::RequireReconsent {
        gaps.push(ConsentGap::ReconsentRequired);
    }
    if gaps.is_empty() {
        Ok(HoldingConsent {
            consent_id: event.id,
            confirmation_due: came_of_age,
        })
    } else {
        Err(gaps)
    }
}

/// Why a consent action cannot be recorded. `code()` is stable; `message()` is for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum ConsentProblem {
    UndeclaredPurpose {
        purpose: String,
    },
    NotConsentBased {
        purpose: String,
        basis: LegalBasis,
    },
    MinorCannotActAlone {
        age: u32,
        age_of_majority: u32,
    },
    RepresentativeNotLinked,
    TermInPast {
        #[serde(with = "crate::iso_date")]
        date: Date,
    },
    NothingToWithdraw {
        purpose: String,
    },
    NothingToRenew {
        purpose: String,
    },
    /// The consent secures an obligation of the subject that is not yet fulfilled (Art. 8(2)).
    UnfulfilledObligation {
        purpose: String,
    },
}

impl ConsentProblem {
    pub fn code(&self) -> &'static str {
        match self {
            ConsentProblem::UndeclaredPurpose { .. } => "undeclared_purpose",
            ConsentProblem::NotConsentBased { .. } => "not_consent_based",
            ConsentProblem::MinorCannotActAlone { .. } => "minor_cannot_act_alone",
            ConsentProblem::RepresentativeNotLinked => "representative_not_linked",
            ConsentProblem::TermInPast { .. } => "term_in_past",
            ConsentProblem::NothingToWithdraw { .. } => "nothing_to_withdraw",
            ConsentProblem::NothingToRenew { .. } => "nothing_to_renew",
            ConsentProblem::UnfulfilledObligation { .. } => "unfulfilled_obligation",
        }
    }

    pub fn message(&self) -> String {
        match self {
            ConsentProblem::UndeclaredPurpose { purpose } => {
                format!("purpose `{purpose}` is not declared")
            }
            ConsentProblem::NotConsentBased { purpose, basis } => format!(
                "purpose `{purpose}` rests on {}, not on consent: there is no consent to give or withdraw (Art. 8(2)); ask for restriction or object instead",
                basis.name()
            ),
            ConsentProblem::MinorCannotActAlone { age, age_of_majority } => format!(
                "the subject is {age}, under the age of majority ({age_of_majority}): a legal representative must give or withdraw consent for them"
            ),
            ConsentProblem::RepresentativeNotLinked => {
                "this person is not linked to the subject as a legal representative; link them first".into()
            }
            ConsentProblem::TermInPast { date } => {
                format!("the consent's term ends on {date}, which has passed; give a later date or none")
            }
            ConsentProblem::NothingToWithdraw { purpose } => {
                format!("no consent to purpose `{purpose}` holds for this subject, so there is nothing to withdraw")
            }
            ConsentProblem::NothingToRenew { purpose } => format!(
                "the subject has not consented to purpose `{purpose}`, or has withdrawn: give a new consent instead"
            ),
            ConsentProblem::UnfulfilledObligation { purpose } => format!(
                "consent to purpose `{purpose}` cannot be withdrawn while the subject's obligation under it is unfulfilled (Law 94-V Art. 8(2)); withdraw once staff mark the obligation fulfilled"
            ),
        }
    }
}

impl ConsentProblem {
    /// Why the consent action cannot be recorded, for the person at the console, in `lang`,
    /// naming the purpose by its declared label.
    pub fn explain(&self, lang: Lang, declaration: &Declaration) -> String {
        use crate::text::tr;
        let purpose = |key: &str| {
            crate::decision::named(lang, declaration.purposes.get(key).map(|p| &p.label), key)
        };
        let of =
            |p: &str, [kk, ru, en]: [&str; 3]| tr(lang, kk, ru, en).replace("{p}", &purpose(p));
        match self {
            ConsentProblem::UndeclaredPurpose { purpose } => crate::decision::DenyReason::UndeclaredPurpose {
                purpose: purpose.clone(),
            }
            .explain(lang, declaration),
            ConsentProblem::NotConsentBased { purpose: p, .. } => of(p, [
                "{p} мақсаты келісімге негізделмеген: беретін не кері қайтарып алатын келісім жоқ. Оның орнына өңдеуді шектеуді сұраңыз немесе қарсылық білдіріңіз.",
                "Цель {p} основана не на согласии: согласие на неё не даётся и не отзывается. Вместо этого попросите ограничить обработку или заявите возражение.",
                "The purpose {p} does not rest on consent: there is no consent to give or withdraw. Ask for a restriction or object instead.",
            ]),
            ConsentProblem::MinorCannotActAlone { age, age_of_majority: m } => match lang {
                Lang::Kk => format!("Субъектіге {age} жас, бұл кәмелетке толу жасынан ({m}) кіші: келісімді оның заңды өкілі беруі немесе кері қайтарып алуы тиіс."),
                Lang::Ru => format!("Субъекту {age} {}, это меньше возраста совершеннолетия ({m}): согласие должен дать или отозвать его законный представитель.", years_ru(*age)),
                Lang::En => format!("The subject is {age}, under the age of majority ({m}): a legal representative must give or withdraw consent for them."),
            },
            ConsentProblem::RepresentativeNotLinked => tr(
                lang,
                "Бұл адам субъектінің заңды өкілі ретінде байланыстырылмаған: алдымен оны өкілдікті растайтын құжатпен байланыстырыңыз.",
                "Этот человек не связан с субъектом как законный представитель: сначала свяжите их, указав документ, подтверждающий представительство.",
                "This person is not linked to the subject as a legal representative: link them first, with the document that proves the representation.",
            )
            .to_owned(),
            ConsentProblem::TermInPast { date } => tr(
                lang,
                "Келісім мерзімінің соңғы күні ({d}) өтіп кетті: кейінгі күнді көрсетіңіз немесе бос қалдырыңыз.",
                "Последний день срока согласия ({d}) уже прошёл: укажите более позднюю дату или оставьте поле пустым.",
                "The consent's last day ({d}) has passed: give a later date or leave it empty.",
            )
            .replace("{d}", &crate::text::format_date(*date, lang)),
            ConsentProblem::NothingToWithdraw { purpose: p } => of(p, [
                "{p} мақсаты үшін кері қайтарып алатын күшіндегі келісім жоқ.",
                "Для цели {p} нет действующего согласия, которое можно отозвать.",
                "No consent to the purpose {p} holds, so there is nothing to withdraw.",
            ]),
            ConsentProblem::NothingToRenew { purpose: p } => of(p, [
                "{p} мақсаты үшін жаңартатын келісім жоқ: жаңа келісімді тіркеңіз.",
                "Для цели {p} нет согласия, которое можно продлить: зарегистрируйте новое согласие.",
                "There is no consent to the purpose {p} to renew: record a new consent instead.",
            ]),
            ConsentProblem::UnfulfilledObligation { purpose: p } => of(p, [
                "{p} мақсаты үшін берілген келісім субъектінің әлі орындалмаған міндеттемесін қамтамасыз етеді: міндеттеме орындалғанша келісімді кері қайтарып алуға болмайды (Заңның 8-бабының 2-тармағы).",
                "Согласие для цели {p} обеспечивает ещё не исполненное обязательство субъекта: до его исполнения согласие отозвать нельзя (пункт 2 статьи 8 Закона).",
                "The consent to the purpose {p} secures an obligation of the subject not yet fulfilled: it cannot be withdrawn until the obligation is fulfilled (Art. 8(2) of the Law).",
            ]),
        }
    }
}

/// The Russian word for "years" after `n` (1 год, 2 года, 5 лет, 11 лет, 21 год).
fn years_ru(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=14) => "лет",
        (1, _) => "год",
        (2..=4, _) => "года",
        _ => "лет",
    }
}

/// Checks that `event` may be recorded for a subject with `facts`, whose linked legal
/// representatives are `representatives`. Returns every problem.
pub fn check_consent_event(
    declaration: &Declaration,
    facts: &SubjectFacts<'_>,
    representatives: &[Uuid],
    event: &ConsentEvent,
) -> Result<(), Vec<ConsentProblem>> {
    let Some(purpose) = declaration.purpose(&event.purpose) else {
        return Err(vec![ConsentProblem::UndeclaredPurpose {
            purpose: event.purpose.clone(),
        }]);
    };
    let mut problems = Vec::new();
    if purpose.legal_basis != LegalBasis::Consent {
        problems.push(ConsentProblem::NotConsentBased {
            purpose: event.purpose.clone(),
            basis: purpose.legal_basis,
        });
    }
    let day = event.at.date();
    match &event.given_by {
        GivenBy::Subject => {
            if let Some(birth) = facts.birth_date.filter(|b| is_minor(declaration, *b, day)) {
                problems.push(ConsentProblem::MinorCannotActAlone {
                    age: age_on(birth, day),
                    age_of_majority: declaration.minors.age_of_majority,
                });
            }
        }
        GivenBy::Representative {
            representative_id, ..
        } => {
            if !representatives.contains(representative_id) {
                problems.push(ConsentProblem::RepresentativeNotLinked);
            }
        }
    }
    let state = consent_state(declaration, facts, &event.purpose, event.at);
    match &event.action {
        ConsentAction::Give(g) | ConsentAction::Renew(g) => {
            if let Term::Until { date } = g.term {
                if date < day {
                    problems.push(ConsentProblem::TermInPast { date });
                }
            }
            let renewable = matches!(
                state,
                ConsentState::Holding(..) | ConsentState::Expired { .. }
            );
            if matches!(event.action, ConsentAction::Renew(_)) && !renewable {
                problems.push(ConsentProblem::NothingToRenew {
                    purpose: event.purpose.clone(),
                });
            }
        }
        ConsentAction::Withdraw => {
            if purpose.legal_basis == LegalBasis::Consent
                && !matches!(state, ConsentState::Holding(..))
            {
                problems.push(ConsentProblem::NothingToWithdraw {
                    purpose: event.purpose.clone(),
                });
            }
            if facts.obligations.contains(&event.purpose) {
                problems.push(ConsentProblem::UnfulfilledObligation {
                    purpose: event.purpose.clone(),
                });
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decision::{decide, ActorScope, DenyReason, ReadQuery};
    use crate::declaration::check_fixture::MINIMAL;
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    fn decl() -> Declaration {
        Declaration::load(MINIMAL).unwrap().declaration
    }

    const CHILD_BORN: Date = date!(2012 - 03 - 15);
    const PARENT: Uuid = Uuid::from_u128(7);

    fn by_parent() -> GivenBy {
        GivenBy::Representative {
            representative_id: PARENT,
            relation: Relation::Parent,
        }
    }

    fn event(
        d: &Declaration,
        n: u128,
        at: OffsetDateTime,
        who: GivenBy,
        give: bool,
    ) -> ConsentEvent {
        let action = if give {
            ConsentAction::Give(Grant::new(
                PurposeTerms::of(d, "medical").unwrap(),
                Term::PurposeAchieved,
            ))
        } else {
            ConsentAction::Withdraw
        };
        ConsentEvent {
            id: Uuid::from_u128(n),
            subject_id: Uuid::from_u128(1),
            purpose: "medical".into(),
            action,
            given_by: who,
            method: Method::Paper {
                evidence_sha256: "ab".repeat(32),
            },
            at,
        }
    }

    fn facts(consents: &[ConsentEvent]) -> SubjectFacts<'_> {
        SubjectFacts {
            birth_date: Some(CHILD_BORN),
            ..SubjectFacts::of_ledger(consents)
        }
    }

    fn read(
        d: &Declaration,
        f: &SubjectFacts<'_>,
        fields: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<crate::decision::Allowed, Vec<DenyReason>> {
        decide(
            d,
            &ReadQuery {
                category: Some("student"),
                purpose: "medical",
                fields,
                actor: &ActorScope::AnyPurpose,
            },
            Some((f, now)),
        )
    }

    fn codes(r: Result<crate::decision::Allowed, Vec<DenyReason>>) -> Vec<&'static str> {
        r.err()
            .unwrap_or_default()
            .iter()
            .map(DenyReason::code)
            .collect()
    }

    #[test]
    fn a_parents_consent_holds_until_withdrawn() {
        let d = decl();
        let mut ledger = vec![event(
            &d,
            10,
            datetime!(2026-09-01 08:00 UTC),
            by_parent(),
            true,
        )];
        let allowed = read(&d, &facts(&ledger), None, datetime!(2026-09-02 10:00 UTC)).unwrap();
        assert_eq!(allowed.consent_id, Some(Uuid::from_u128(10)));
        assert_eq!(allowed.fields, ["iin", "allergy"]);
        assert!(!allowed.confirmation_due);

        ledger.push(event(
            &d,
            11,
            datetime!(2026-10-01 08:00 UTC),
            by_parent(),
            false,
        ));
        // Before the withdrawal the consent held; from its moment on it does not.
        assert!(read(&d, &facts(&ledger), None, datetime!(2026-09-30 10:00 UTC)).is_ok());
        assert_eq!(
            codes(read(
                &d,
                &facts(&ledger),
                None,
                datetime!(2026-10-01 08:00 UTC)
            )),
            ["consent_withdrawn"]
        );
    }

    #[test]
    fn a_minors_own_consent_does_not_count_and_cannot_be_recorded() {
        let d = decl();
        let ledger = vec![event(
            &d,
            10,
            datetime!(2026-09-01 08:00 UTC),
            GivenBy::Subject,
            true,
        )];
        assert_eq!(
            codes(read(
                &d,
                &facts(&ledger),
                None,
                datetime!(2026-09-02 10:00 UTC)
            )),
            ["no_consent"]
        );
        let problems = check_consent_event(&d, &facts(&[]), &[PARENT], &ledger[0]).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code(), "minor_cannot_act_alone");
        assert!(problems[0]
            .message()
            .contains("under the age of majority (18)"));
    }

    #[test]
    fn only_a_linked_representative_may_act() {
        let d = decl();
        let e = event(&d, 10, datetime!(2026-09-01 08:00 UTC), by_parent(), true);
        assert!(check_consent_event(&d, &facts(&[]), &[PARENT], &e).is_ok());
        let problems = check_consent_event(&d, &facts(&[]), &[], &e).unwrap_err();
        assert_eq!(problems[0].code(), "representative_not_linked");
    }

    #[test]
    fn withdrawal_needs_a_holding_consent_and_a_consent_basis() {
        let d = decl();
        let w = event(&d, 11, datetime!(2026-10-01 08:00 UTC), by_parent(), false);
        let p = check_consent_event(&d, &facts(&[]), &[PARENT], &w).unwrap_err();
        assert_eq!(p[0].code(), "nothing_to_withdraw");

        let mut legal = w.clone();
        legal.purpose = "education".into();
        let p = check_consent_event(&d, &facts(&[]), &[PARENT], &legal).unwrap_err();
        assert_eq!(p[0].code(), "not_consent_based");
        assert!(p[0].message().contains("rests on contract"));
    }

    #[test]
    fn an_open_obligation_keeps_a_consent_from_being_withdrawn() {
        let d = decl();
        let given = [event(
            &d,
            10,
            datetime!(2026-09-01 08:00 UTC),
            by_parent(),
            true,
        )];
        let w = event(&d, 11, datetime!(2026-10-01 08:00 UTC), by_parent(), false);
        let open = vec!["medical".to_string()];
        let bound = SubjectFacts {
            obligations: &open,
            ..facts(&given)
        };
        let p = check_consent_event(&d, &bound, &[PARENT], &w).unwrap_err();
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].code(), "unfulfilled_obligation");
        assert!(p[0].message().contains("Art. 8(2)"));
        // Once it is fulfilled, the same withdrawal is recorded.
        assert!(check_consent_event(&d, &facts(&given), &[PARENT], &w).is_ok());
    }

    #[test]
    fn a_term_ends_the_consent_and_cannot_start_in_the_past() {
        let d = decl();
        let mut e = event(&d, 10, datetime!(2026-09-01 08:00 UTC), by_parent(), true);
        if let ConsentAction::Give(g) = &mut e.action {
            g.term = Term::Until {
                date: date!(2026 - 12 - 31),
            };
        }
        let ledger = [e.clone()];
        assert!(read(&d, &facts(&ledger), None, datetime!(2026-12-31 23:00 UTC)).is_ok());
        assert_eq!(
            codes(read(
                &d,
                &facts(&ledger),
                None,
                datetime!(2027-01-01 00:00 UTC)
            )),
            ["consent_expired"]
        );
        e.at = datetime!(2027-02-01 08:00 UTC);
        let p = check_consent_event(&d, &facts(&[]), &[PARENT], &e).unwrap_err();
        assert_eq!(p[0].code(), "term_in_past");
    }

    /// Version 2 of the minimal declaration: the medical purpose's line of data replaced by
    /// `medical`, and `extra` appended.
    fn version_2(medical: &str, extra: &str) -> Declaration {
        let src = MINIMAL
            .replace(r#"version = "1""#, r#"version = "2""#)
            .replace(r#"fields = ["iin", "allergy"]"#, medical)
            + extra;
        Declaration::load(&src).unwrap().declaration
    }

    /// What of `v2` a parent's consent given under version 1 does not cover when `asked` is
    /// read; a consent given again under `v2` must cover all of it.
    fn not_covered_by_the_old_consent(v2: &Declaration, asked: &[&str]) -> Vec<String> {
        let v1 = decl();
        let ledger = vec![event(
            &v1,
            10,
            datetime!(2026-09-01 08:00 UTC),
            by_parent(),
            true,
        )];
        let now = datetime!(2026-11-21 10:00 UTC);
        let asked: Vec<String> = asked.iter().map(|f| f.to_string()).collect();
        let items = read(v2, &facts(&ledger), Some(&asked), now)
            .unwrap_err()
            .into_iter()
            .filter_map(|r| match r {
                DenyReason::ConsentDoesNotCover { item, .. } => Some(item),
                _ => None,
            })
            .collect();
        let again = event(v2, 12, datetime!(2026-11-20 08:00 UTC), by_parent(), true);
        let ledger2 = [ledger[0].clone(), again];
        assert!(read(v2, &facts(&ledger2), Some(&asked), now).is_ok());
        items
    }

    #[test]
    fn a_consent_without_publication_does_not_cover_a_purpose_that_publishes() {
        let v2 = version_2("fields = [\"iin\", \"allergy\"]\npublication = true", "");
        assert_eq!(
            not_covered_by_the_old_consent(&v2, &["allergy"]),
            ["publication"]
        );
    }

    #[test]
    fn a_wider_purpose_does_not_stretch_an_old_consent() {
        // Version 2 adds a field and a recipient abroad to the purpose.
        let v2 = version_2(
            "fields = [\"iin\", \"allergy\", \"blood_group\"]\nrecipients = [\"clinic\"]",
            r#"
[fields.blood_group]
label = { kk = "Қан тобы", ru = "Группа крови", en = "Blood group" }
categories = ["student"]
data_category = "health"
sensitivity = "special"
special = "health"
validator = "text"

[recipients.clinic]
label = { kk = "Клиника", ru = "Клиника", en = "Clinic" }
kind = "processor"
country = "DE"
cross_border_basis = "consent"
"#,
        );
        assert_ne!(
            PurposeTerms::of(&decl(), "medical").unwrap().hash(),
            PurposeTerms::of(&v2, "medical").unwrap().hash()
        );
        assert_eq!(
            not_covered_by_the_old_consent(&v2, &["allergy", "blood_group"]),
            [
                "field:blood_group",
                "recipient:clinic",
                "cross_border_transfer"
            ]
        );
    }

    #[test]
    fn coming_of_age_flags_or_stops_a_representatives_consent() {
        let mut d = decl();
        let ledger = vec![event(
            &d,
            10,
            datetime!(2026-09-01 08:00 UTC),
            by_parent(),
            true,
        )];
        let adult = datetime!(2030-03-15 09:00 UTC);
        let a = read(&d, &facts(&ledger), None, adult).unwrap();
        assert!(a.confirmation_due);
        d.minors.on_majority = OnMajority::RequireReconsent;
        assert_eq!(
            codes(read(&d, &facts(&ledger), None, adult)),
            ["reconsent_required"]
        );
        // The day before the 18th birthday the consent still holds as before.
        assert!(read(&d, &facts(&ledger), None, datetime!(2030-03-14 09:00 UTC)).is_ok());
        // The subject, now of age, consents in their own name.
        let own = event(
            &d,
            20,
            datetime!(2030-04-01 09:00 UTC),
            GivenBy::Subject,
            true,
        );
        assert!(check_consent_event(&d, &facts(&ledger), &[PARENT], &own).is_ok());
        let ledger = [ledger[0].clone(), own];
        let a = read(&d, &facts(&ledger), None, datetime!(2030-04-02 09:00 UTC)).unwrap();
        assert_eq!(a.consent_id, Some(Uuid::from_u128(20)));
        assert!(!a.confirmation_due);
    }

    #[test]
    fn a_representatives_consent_for_an_adult_is_not_to_be_confirmed() {
        let mut d = decl();
        d.minors.on_majority = OnMajority::RequireReconsent;
        // The guardian acts when the subject is already 19.
        let at = datetime!(2031-05-01 08:00 UTC);
        let ledger = vec![event(&d, 10, at, by_parent(), true)];
        let a = read(&d, &facts(&ledger), None, datetime!(2031-06-01 09:00 UTC)).unwrap();
        assert!(!a.confirmation_due);
        assert_eq!(
            reconfirmation_month(&d, Some(CHILD_BORN), &ledger[0], &[]),
            None
        );
    }

    #[test]
    fn a_parents_consent_renewed_after_majority_is_still_to_be_confirmed() {
        let mut d = decl();
        d.minors.on_majority = OnMajority::RequireReconsent;
        // Given at 14, renewed at 19 by the same parent.
        let given = event(&d, 10, datetime!(2026-09-01 08:00 UTC), by_parent(), true);
        let mut renewed = event(&d, 11, datetime!(2031-05-01 08:00 UTC), by_parent(), true);
        if let ConsentAction::Give(g) = renewed.action {
            renewed.action = ConsentAction::Renew(g);
        }
        let ledger = vec![given.clone(), renewed.clone()];
        assert_eq!(
            codes(read(
                &d,
                &facts(&ledger),
                None,
                datetime!(2031-06-01 09:00 UTC)
            )),
            ["reconsent_required"]
        );
        assert_eq!(
            reconfirmation_month(&d, Some(CHILD_BORN), &renewed, &[given]),
            Some(date!(2030 - 03 - 01))
        );
    }

    #[test]
    fn blocking_and_restriction_stop_every_basis() {
        let d = decl();
        let restricted = vec!["education".to_string()];
        let f = SubjectFacts {
            blocked: true,
            restricted: &restricted,
            ..SubjectFacts::of_ledger(&[])
        };
        let r = decide(
            &d,
            &ReadQuery {
                category: Some("student"),
                purpose: "education",
                fields: None,
                actor: &ActorScope::AnyPurpose,
            },
            Some((&f, datetime!(2026-11-21 10:00 UTC))),
        );
        assert_eq!(codes(r), ["subject_blocked", "processing_restricted"]);
    }

    /// One step of a random ledger: who acts (0 subject, 1 parent), give or withdraw, day offset.
    fn steps() -> impl Strategy<Value = Vec<(u8, bool, u16)>> {
        prop::collection::vec((0u8..2, any::<bool>(), 0u16..6000), 0..12)
    }

    fn ledger_of(d: &Declaration, steps: &[(u8, bool, u16)]) -> Vec<ConsentEvent> {
        let start = datetime!(2020-01-01 00:00 UTC);
        steps
            .iter()
            .enumerate()
            .map(|(i, (who, give, day))| {
                let who = if *who == 0 {
                    GivenBy::Subject
                } else {
                    by_parent()
                };
                let at = start + time::Duration::days(i64::from(*day));
                event(d, i as u128 + 1, at, who, *give)
            })
            .collect()
    }

    #[test]
    fn every_consent_problem_is_explained_in_every_language() {
        let d = decl();
        let p = || "medical".to_owned();
        let all = [
            ConsentProblem::UndeclaredPurpose {
                purpose: "sport".into(),
            },
            ConsentProblem::NotConsentBased {
                purpose: p(),
                basis: LegalBasis::Contract,
            },
            ConsentProblem::MinorCannotActAlone {
                age: 17,
                age_of_majority: 18,
            },
            ConsentProblem::RepresentativeNotLinked,
            ConsentProblem::TermInPast {
                date: date!(2026 - 11 - 21),
            },
            ConsentProblem::NothingToWithdraw { purpose: p() },
            ConsentProblem::NothingToRenew { purpose: p() },
            ConsentProblem::UnfulfilledObligation { purpose: p() },
        ];
        for lang in Lang::ALL {
            let mut seen = std::collections::HashSet::new();
            for problem in &all {
                let text = problem.explain(lang, &d);
                assert!(
                    text.ends_with('.') || text.ends_with(")."),
                    "{lang:?}: {text}"
                );
                assert!(
                    !text.contains('`') && !text.contains('{'),
                    "{lang:?}: {text}"
                );
                assert!(
                    seen.insert(text),
                    "{lang:?} {problem:?} says what another says"
                );
            }
        }
        let minor = &all[2];
        assert!(minor.explain(Lang::Ru, &d).starts_with("Субъекту 17 лет,"));
        assert!(all[4]
            .explain(Lang::Kk, &d)
            .contains("2026 жылғы 21 қараша"));
        assert_eq!(
            [1, 2, 5, 11, 14, 21, 22].map(years_ru),
            ["год", "года", "лет", "лет", "лет", "год", "года"]
        );
    }

    #[test]
    fn a_representatives_consent_is_to_be_confirmed_in_the_month_of_majority() {
        let d = decl();
        let at = datetime!(2026-12-07 10:00 UTC);
        let month = |who, give| {
            reconfirmation_month(&d, Some(CHILD_BORN), &event(&d, 1, at, who, give), &[])
        };
        assert_eq!(month(by_parent(), true), Some(date!(2030 - 03 - 01)));
        assert_eq!(
            month(by_parent(), false),
            None,
            "a withdrawal ends the duty"
        );
        assert_eq!(
            month(GivenBy::Subject, true),
            None,
            "the subject's own consent ends it"
        );
        let e = event(&d, 1, at, by_parent(), true);
        assert_eq!(
            reconfirmation_month(&d, None, &e, &[]),
            None,
            "no birth date, no month"
        );
    }

    proptest! {
        /// The month of majority is the one in which the subject stops being a minor: a minor
        /// on the last day of the month before, of age on its last day.
        #[test]
        fn the_month_of_majority_is_when_the_subject_comes_of_age(
            born in 0i64..40_000, age in 14u32..22, given in 0i64..5_000,
        ) {
            let mut d = decl();
            d.minors.age_of_majority = age;
            let birth = date!(1900 - 01 - 01) + time::Duration::days(born);
            // Given while the subject is a minor (under 14 at most).
            let at = birth.midnight().assume_utc() + time::Duration::days(given);
            let e = event(&d, 1, at, by_parent(), true);
            let month = reconfirmation_month(&d, Some(birth), &e, &[]).unwrap();
            prop_assert_eq!(month.day(), 1);
            prop_assert!(is_minor(&d, birth, month.previous_day().unwrap()));
            let last = month.replace_day(month.month().length(month.year())).unwrap();
            prop_assert!(!is_minor(&d, birth, last));
            // Given once the subject is of age, it is theirs to keep: no month.
            let late = event(&d, 2, last.midnight().assume_utc(), by_parent(), true);
            prop_assert_eq!(reconfirmation_month(&d, Some(birth), &late, &[]), None);
            // Unless a representative acted for the purpose while the subject was a minor.
            prop_assert_eq!(
                reconfirmation_month(&d, Some(birth), &late, std::slice::from_ref(&e)),
                Some(month)
            );
        }

        /// No allow without a holding consent that counts: the latest counting event is a give
        /// whose grant covers the fields returned.
        #[test]
        fn no_allow_without_a_holding_basis(steps in steps(), now_day in 0u16..7000) {
            let d = decl();
            let ledger = ledger_of(&d, &steps);
            let f = facts(&ledger);
            let now = datetime!(2020-01-01 00:00 UTC) + time::Duration::days(i64::from(now_day));
            if let Ok(a) = read(&d, &f, None, now) {
                let id = a.consent_id.expect("a consent purpose allowed without a consent id");
                let e = ledger.iter().find(|e| e.id == id).unwrap();
                prop_assert!(e.at <= now);
                prop_assert!(f.counts(&d, e));
                let ConsentAction::Give(g) = &e.action else {
                    return Err(TestCaseError::fail("allowed on a withdrawal"));
                };
                prop_assert!(a.fields.iter().all(|x| g.terms.fields.contains(x)));
                // Nothing that counts came after it.
                prop_assert!(!ledger.iter().any(|o| o.at <= now && f.counts(&d, o)
                    && (o.at, o.id) > (e.at, e.id)));
            }
        }

        /// A withdrawal that counts wins over every earlier consent.
        #[test]
        fn a_withdrawal_wins_over_earlier_consents(steps in steps()) {
            let d = decl();
            let mut ledger = ledger_of(&d, &steps);
            ledger.push(event(&d, 1000, datetime!(2040-01-01 00:00 UTC), by_parent(), false));
            let r = read(&d, &facts(&ledger), None, datetime!(2040-01-02 00:00 UTC));
            prop_assert_eq!(codes(r), vec!["consent_withdrawn"]);
        }

        /// A consent the subject gave alone while a minor never allows anything.
        #[test]
        fn a_minors_self_consent_never_counts(days in prop::collection::vec(0u16..2200, 1..8)) {
            let d = decl();
            // 2020-01-01 plus at most 2,200 days: the subject is under 18 throughout.
            let steps: Vec<_> = days.iter().map(|day| (0u8, true, *day)).collect();
            let ledger = ledger_of(&d, &steps);
            let r = read(&d, &facts(&ledger), None, datetime!(2026-11-21 00:00 UTC));
            prop_assert_eq!(codes(r), vec!["no_consent"]);
        }
    }
}

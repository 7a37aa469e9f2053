//! The declaration's data model, as read from TOML (see `docs/declaration.md`).

use crate::text::Text;
use indexmap::IndexMap;

/// The declaration's keyed sections, in file order. Keys are looked up on every decision, so the
/// map hashes with foldhash rather than SipHash (keys come from the operator's own file).
pub type Map<V> = IndexMap<String, V, foldhash::fast::RandomState>;
use serde::{Deserialize, Serialize};
use time::Date;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Declaration {
    pub version: String,
    pub effective_from: String,
    pub storage_country: String,
    pub operator: Operator,
    pub subject_categories: Map<SubjectCategory>,
    pub fields: Map<Field>,
    pub purposes: Map<Purpose>,
    #[serde(default)]
    pub recipients: Map<Recipient>,
    pub retention: Map<RetentionRule>,
    #[serde(default)]
    pub deadlines: Deadlines,
    #[serde(default)]
    pub minors: Minors,
    #[serde(default)]
    pub cookies: Cookies,
    /// The operator's services (websites, platforms, information systems) the policy covers;
    /// none means all of the operator's processing.
    #[serde(default)]
    pub services: Map<Service>,
    /// Whether the operator decides by automated means alone or profiles subjects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated_processing: Option<AutomatedProcessing>,
    #[serde(default)]
    pub disputes: Disputes,
    #[serde(default)]
    pub authorized_body: AuthorizedBody,
}

impl Declaration {
    /// The effective date; a checked declaration always has a valid one.
    pub fn effective_date(&self) -> Option<Date> {
        parse_date(&self.effective_from)
    }

    pub fn field(&self, key: &str) -> Option<&Field> {
        self.fields.get(key)
    }

    pub fn purpose(&self, key: &str) -> Option<&Purpose> {
        self.purposes.get(key)
    }

    /// Does data sent to `recipient` leave the country where the databases are kept?
    pub fn crosses_border(&self, recipient: &Recipient) -> bool {
        recipient.country != self.storage_country
    }

    /// Does `purpose` send data to a recipient across the border?
    pub fn purpose_crosses_border(&self, purpose: &Purpose) -> bool {
        purpose
            .recipients
            .iter()
            .filter_map(|r| self.recipients.get(r))
            .any(|r| self.crosses_border(r))
    }

    /// The fields declared for a subject category, in declaration order.
    pub fn fields_of_category<'a>(
        &'a self,
        category: &'a str,
    ) -> impl Iterator<Item = (&'a String, &'a Field)> + 'a {
        self.fields
            .iter()
            .filter(move |(_, f)| f.categories.iter().any(|c| c == category))
    }
}

pub fn parse_date(s: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, format).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub name: Text,
    pub bin: String,
    pub address: Text,
    pub email: String,
    pub phone: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    pub responsible_person: ResponsiblePerson,
    /// Who approved the policy and by what act, shown under its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<Approval>,
    /// The commission that signs the acts of destruction of personal data, its chair first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destruction_commission: Vec<CommissionMember>,
}

/// A member of the operator's commission on the destruction of personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommissionMember {
    pub name: Text,
    pub position: Text,
}

/// The approval of the policy: who approved it, by what act, on what date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Who approved it: a position and a name, or the body.
    pub by: Text,
    /// The act that approved it, e.g. the director's order and its number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Text>,
    /// YYYY-MM-DD.
    pub date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponsiblePerson {
    /// As in the person's identity document, in each language's script; a patronymic is not
    /// translated between languages.
    pub name: Text,
    /// The person's job title, where it says more than the role itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Text>,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl ResponsiblePerson {
    /// The role the law gives the person (Law 94-V Art. 25), as the documents name it.
    pub fn role(lang: crate::text::Lang) -> &'static str {
        crate::text::tr(
            lang,
            "Дербес деректерді өңдеуді ұйымдастыруға жауапты тұлға",
            "Лицо, ответственное за организацию обработки персональных данных",
            "Person responsible for organizing the processing of personal data",
        )
    }

    /// The job title in `lang`, if one is declared.
    pub fn position_in(&self, lang: crate::text::Lang) -> Option<String> {
        self.position.as_ref().map(|p| p.get(lang).to_owned())
    }

    /// What a signature states under the name: the job title, or the role.
    pub fn title(&self, lang: crate::text::Lang) -> String {
        self.position_in(lang)
            .unwrap_or_else(|| Self::role(lang).to_owned())
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectCategory {
    pub label: Text,
    #[serde(default)]
    pub may_be_minor: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    Identity,
    Contact,
    Demographic,
    Family,
    Education,
    Employment,
    Health,
    Biometric,
    Financial,
    Image,
    Technical,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sensitivity {
    Ordinary,
    Identifier,
    Special,
    Financial,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpecialKind {
    Health,
    Biometric,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validator {
    Iin,
    Bin,
    PhoneKz,
    Email,
    IbanKz,
    Date,
    Text,
    Enum,
}

impl Validator {
    /// Validators whose normalized values can be looked up through a blind index.
    pub fn supports_lookup(self) -> bool {
        matches!(
            self,
            Validator::Iin
                | Validator::Bin
                | Validator::PhoneKz
                | Validator::Email
                | Validator::IbanKz
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            Validator::Iin => "iin",
            Validator::Bin => "bin",
            Validator::PhoneKz => "phone_kz",
            Validator::Email => "email",
            Validator::IbanKz => "iban_kz",
            Validator::Date => "date",
            Validator::Text => "text",
            Validator::Enum => "enum",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    #[default]
    Subject,
    Representative,
    Automatic,
    Operator,
    ThirdParty,
}

pub const DEFAULT_MAX_LENGTH: usize = 1000;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    pub label: Text,
    pub categories: Vec<String>,
    pub data_category: DataCategory,
    pub sensitivity: Sensitivity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub special: Option<SpecialKind>,
    pub validator: Validator,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<usize>,
    #[serde(default)]
    pub lookup: bool,
    #[serde(default)]
    pub source: Source,
    #[serde(default)]
    pub document_copy: bool,
}

impl Field {
    pub fn max_length(&self) -> usize {
        self.max_length.unwrap_or(DEFAULT_MAX_LENGTH)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    Consent,
    Contract,
    LegalDuty,
    VitalInterest,
    LegitimateInterest,
}

impl LegalBasis {
    pub fn name(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegalDuty => "legal_duty",
            LegalBasis::VitalInterest => "vital_interest",
            LegalBasis::LegitimateInterest => "legitimate_interest",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Purpose {
    pub label: Text,
    pub description: Text,
    pub legal_basis: LegalBasis,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_reference: Option<Text>,
    pub categories: Vec<String>,
    pub fields: Vec<String>,
    #[serde(default)]
    pub recipients: Vec<String>,
    pub retention: String,
    #[serde(default)]
    pub publication: bool,
    /// The subject's obligation that, while unfulfilled, keeps consent to this purpose from
    /// being withdrawn (Art. 8(2)), as the policy tells subjects. Staff record for each subject
    /// when such an obligation is open; without this key, consent can always be withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal_obligation: Option<Text>,
}

impl Purpose {
    pub fn uses_field(&self, field: &str) -> bool {
        self.fields.iter().any(|f| f == field)
    }
    pub fn covers_category(&self, category: &str) -> bool {
        self.categories.iter().any(|c| c == category)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecipientKind {
    Authority,
    Processor,
    ThirdParty,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossBorderBasis {
    AdequateProtection,
    Consent,
    InternationalTreaty,
    Law,
    ContractPerformance,
    VitalInterest,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    pub label: Text,
    pub kind: RecipientKind,
    pub country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_border_basis: Option<CrossBorderBasis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Text>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionStart {
    Collection,
    PurposeAchieved,
    RelationshipEnd,
    ConsentWithdrawn,
    LastActivity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetentionAction {
    Destroy,
    Depersonalize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionRule {
    pub label: Text,
    pub starts: RetentionStart,
    #[serde(default)]
    pub years: u32,
    #[serde(default)]
    pub months: u32,
    #[serde(default)]
    pub days: u32,
    pub action: RetentionAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Text>,
    /// For a rule that depersonalizes: what stays of each field (a field not named is
    /// dropped).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub depersonalize: std::collections::BTreeMap<String, crate::depersonalize::Kept>,
    /// The fields that together could single a person out of a release of depersonalized
    /// records (k-anonymity); the fields kept as a year or a region when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quasi_identifiers: Option<Vec<String>>,
    /// The smallest group of records a release may show; 5 when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
}

impl RetentionRule {
    /// The k a release of this rule's depersonalized records is checked with.
    pub fn k(&self) -> usize {
        self.k.unwrap_or(crate::depersonalize::DEFAULT_K) as usize
    }

    /// The quasi-identifiers of this rule's depersonalized records.
    pub fn quasi_identifiers(&self) -> Vec<String> {
        use crate::depersonalize::Kept;
        match &self.quasi_identifiers {
            Some(q) => q.clone(),
            None => self
                .depersonalize
                .iter()
                .filter(|(_, k)| matches!(k, Kept::Year | Kept::Region))
                .map(|(f, _)| f.clone())
                .collect(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CalendarKind {
    Working,
    Calendar,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadline {
    pub days: u32,
    pub calendar: CalendarKind,
}

crate::coded_enum! {
    /// The kinds of deadline a declaration sets.
    pub enum DeadlineKind ("deadline kind") {
        Information = "information",
        AccessExport = "access_export",
        Rectification = "rectification",
        Blocking = "blocking",
        Unblocking = "unblocking",
        Destruction = "destruction",
        Restriction = "restriction",
        ConsentWithdrawal = "consent_withdrawal",
        Objection = "objection",
        Complaint = "complaint",
        UnlawfulPublicationRemoval = "unlawful_publication_removal",
        BreachNotification = "breach_notification",
    }
}

impl DeadlineKind {
    /// The default from `LAW.md`, used when the declaration leaves the entry out.
    pub fn default_deadline(self) -> Deadline {
        use DeadlineKind::*;
        let (days, calendar) = match self {
            Information | AccessExport => (3, CalendarKind::Working),
            Objection | Complaint => (30, CalendarKind::Calendar),
            Rectification
            | Blocking
            | Unblocking
            | Destruction
            | Restriction
            | ConsentWithdrawal
            | UnlawfulPublicationRemoval
            | BreachNotification => (1, CalendarKind::Working),
        };
        Deadline { days, calendar }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub information: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_export: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rectification: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocking: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unblocking: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destruction: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restriction: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_withdrawal: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objection: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complaint: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlawful_publication_removal: Option<Deadline>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub breach_notification: Option<Deadline>,
}

impl Deadlines {
    /// The deadline the declaration sets for `kind`, if it sets one.
    pub fn declared_for(&self, kind: DeadlineKind) -> Option<Deadline> {
        use DeadlineKind::*;
        match kind {
            Information => self.information,
            AccessExport => self.access_export,
            Rectification => self.rectification,
            Blocking => self.blocking,
            Unblocking => self.unblocking,
            Destruction => self.destruction,
            Restriction => self.restriction,
            ConsentWithdrawal => self.consent_withdrawal,
            Objection => self.objection,
            Complaint => self.complaint,
            UnlawfulPublicationRemoval => self.unlawful_publication_removal,
            BreachNotification => self.breach_notification,
        }
    }

    /// The declared deadline, or the `LAW.md` default.
    pub fn get(&self, kind: DeadlineKind) -> Deadline {
        self.declared_for(kind)
            .unwrap_or_else(|| kind.default_deadline())
    }

    /// The entries the declaration sets explicitly, with their TOML keys.
    pub fn declared(&self) -> Vec<(&'static str, Deadline)> {
        use DeadlineKind::*;
        [
            ("information", Information),
            ("access_export", AccessExport),
            ("rectification", Rectification),
            ("blocking", Blocking),
            ("unblocking", Unblocking),
            ("destruction", Destruction),
            ("restriction", Restriction),
            ("consent_withdrawal", ConsentWithdrawal),
            ("objection", Objection),
            ("complaint", Complaint),
            ("unlawful_publication_removal", UnlawfulPublicationRemoval),
            ("breach_notification", BreachNotification),
        ]
        .into_iter()
        .filter_map(|(k, kind)| self.declared_for(kind).map(|d| (k, d)))
        .collect()
    }
}

pub const DEFAULT_AGE_OF_MAJORITY: u32 = 18;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Minors {
    #[serde(default = "default_age")]
    pub age_of_majority: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub representative_categories: Option<Vec<String>>,
    /// What happens to consents a representative gave once the subject comes of age.
    #[serde(default)]
    pub on_majority: OnMajority,
}

/// Consents given by a legal representative, once the subject reaches the age of majority.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnMajority {
    /// They keep holding; decisions flag them for the subject's confirmation.
    #[default]
    Keep,
    /// They stop holding until the subject consents in their own name.
    RequireReconsent,
}

fn default_age() -> u32 {
    DEFAULT_AGE_OF_MAJORITY
}

impl Default for Minors {
    fn default() -> Self {
        Self {
            age_of_majority: DEFAULT_AGE_OF_MAJORITY,
            representative_categories: None,
            on_majority: OnMajority::Keep,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cookies {
    #[serde(default)]
    pub categories: Map<CookieCategory>,
    #[serde(default)]
    pub services: Map<CookieService>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieCategory {
    pub label: Text,
    pub description: Text,
    #[serde(default)]
    pub required: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CookieService {
    pub label: Text,
    pub category: String,
    pub provider: String,
    pub country: String,
    pub lifetime_days: u32,
    pub purpose: Text,
}

/// A service of the operator through which it receives personal data: a website, an online
/// platform, an information system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub label: Text,
    /// Its web address, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// Decisions taken by automated processing alone, and profiling: whether the operator does
/// either, and if so how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutomatedProcessing {
    /// Decisions with legal consequences for the subject, taken by automated processing alone.
    pub decisions: bool,
    /// Evaluation of a subject's personal aspects by automated processing.
    pub profiling: bool,
    /// The logic of the decisions and what they mean for the subject; required when
    /// `decisions` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decisions_description: Option<Text>,
    /// What the profiling evaluates and what it is used for; required when `profiling` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiling_description: Option<Text>,
}

/// The authorized body for personal data protection (Law 94-V Art. 1, 27-1): where subjects
/// may complain about the operator. The documents name its kind in their own words and give
/// this name after a colon, so it stays in the nominative case in every language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthorizedBody {
    /// Its official name, in the nominative case.
    #[serde(default = "AuthorizedBody::official_name")]
    pub name: Text,
    /// Its website, where the operator names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
}

impl AuthorizedBody {
    /// The body as of 2026: the ministry Law No. 230-VIII of 17.11.2025 names (before it, the
    /// Ministry of Digital Development, Innovations and Aerospace Industry). An operator names
    /// another (its committee, a successor) with `[authorized_body] name`.
    pub fn official_name() -> Text {
        Text::new(
            "Қазақстан Республикасының Жасанды интеллект және цифрлық даму министрлігі",
            "Министерство искусственного интеллекта и цифрового развития Республики Казахстан",
            "Ministry of Artificial Intelligence and Digital Development of the Republic of Kazakhstan",
        )
    }

    /// The name in `lang`, with the website in parentheses where there is one.
    pub fn describe(&self, lang: crate::text::Lang) -> String {
        match &self.website {
            Some(w) => format!("{} ({w})", self.name.get(lang)),
            None => self.name.get(lang).to_owned(),
        }
    }
}

impl Default for AuthorizedBody {
    fn default() -> Self {
        Self {
            name: Self::official_name(),
            website: None,
        }
    }
}

/// How disputes with subjects end when the pre-trial claim does not settle them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disputes {
    /// The court the operator names, in the nominative case ("the court at the operator's
    /// location"); none leaves the choice of court to the law.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub court: Option<Text>,
}

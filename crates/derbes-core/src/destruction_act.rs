//! The act of destruction of personal data (акт): what one executed retention batch destroyed,
//! under which rule and on what basis, by which method, for the operator's commission to sign.
//! Built once, when the batch is executed, from the declaration then in force; stored with the
//! batch, so that a later declaration changes no act already issued.

use crate::declaration::{CommissionMember, Declaration, RetentionAction};
use crate::retention_batch::Batch;
use crate::text::{format_date, tr, Lang, Text};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use time::OffsetDateTime;
use uuid::Uuid;

/// The act's schema, in its signed form.
pub const SCHEMA: &str = "derbes.destruction-act/1";

/// An act of destruction, as signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Act {
    pub schema: String,
    /// `<year>-<n>`: the operator's n-th act of that year.
    pub number: String,
    /// The day the batch was executed (the operator's local day).
    #[serde(with = "crate::iso_date")]
    pub date: time::Date,
    pub batch_id: Uuid,
    pub operator: ActOperator,
    pub declaration_version: String,
    pub rule: ActRule,
    /// Subject categories and fields of the batch, as declared.
    pub categories: Vec<Named>,
    pub fields: Vec<Named>,
    /// Subjects destroyed whole, by crypto-shredding (their key destroyed, every record
    /// deleted, the operator's connected databases told).
    pub whole_subjects: u64,
    /// Subjects that lost only the expired fields, deleted with their index entries.
    pub field_subjects: u64,
    /// Fields destroyed in all.
    pub fields_destroyed: u64,
    /// For a rule that depersonalizes: the records written, one per subject, naming none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub depersonalized_records: u64,
    /// For a rule that depersonalizes: what each record keeps of each field, as declared.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kept: Vec<KeptField>,
    /// Items not executed, by reason (`held`, `kept`, `gone`, …).
    pub skipped: BTreeMap<String, u64>,
    pub proposed_by: String,
    #[serde(with = "time::serde::rfc3339")]
    pub proposed_at: OffsetDateTime,
    pub approved_by: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub executed_at: OffsetDateTime,
    /// The commission that signs the act, its chair first, as the operator declared it.
    pub commission: Vec<CommissionMember>,
    /// The operator's databases derbes reaches through connectors, told of each destruction
    /// (rows deleted, or the destroyed fields' columns masked).
    #[serde(default)]
    pub connectors: Vec<String>,
    /// The operator's systems told of each destruction by a signed message (webhooks), before
    /// derbes destroyed its copy. Absent from an act that told none, as from older acts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActOperator {
    pub name: Text,
    pub bin: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActRule {
    pub code: String,
    pub label: Text,
    /// The period and where it counts from, in words.
    pub period: Text,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basis: Option<Text>,
    pub action: RetentionAction,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// What a depersonalized record keeps of a field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptField {
    pub field: Named,
    pub kept: crate::depersonalize::Kept,
}

/// A declared code with its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Named {
    pub code: String,
    pub label: Text,
}

/// The act of `batch`, executed, as the `number`-th act of its year; `None` while the batch
/// is not executed or its rule is no longer declared.
pub fn build(
    declaration: &Declaration,
    batch: &Batch,
    (number, date): (u32, time::Date),
    (connectors, webhooks): (&[String], &[String]),
) -> Option<Act> {
    let outcome = batch.outcome.as_ref()?;
    let rule = declaration.retention.get(&batch.rule)?;
    let depersonalizes = batch.action == RetentionAction::Depersonalize;
    let named = |code: &String, label: Option<&Text>| Named {
        code: code.clone(),
        label: label.cloned().unwrap_or_default(),
    };
    Some(Act {
        schema: SCHEMA.to_owned(),
        number: format!("{}-{number}", date.year()),
        date,
        batch_id: batch.id,
        operator: ActOperator {
            name: declaration.operator.name.clone(),
            bin: declaration.operator.bin.clone(),
        },
        declaration_version: declaration.version.clone(),
        rule: ActRule {
            code: batch.rule.clone(),
            label: rule.label.clone(),
            period: Text::new(
                &crate::policy::period(rule, Lang::Kk),
                &crate::policy::period(rule, Lang::Ru),
                &crate::policy::period(rule, Lang::En),
            ),
            basis: rule.basis.clone(),
            action: batch.action,
        },
        categories: batch
            .summary
            .tally
            .categories
            .iter()
            .map(|c| named(c, declaration.subject_categories.get(c).map(|c| &c.label)))
            .collect(),
        fields: batch
            .summary
            .tally
            .field_keys
            .iter()
            .map(|f| named(f, declaration.fields.get(f).map(|f| &f.label)))
            .collect(),
        whole_subjects: outcome.whole_subjects,
        field_subjects: outcome.subjects - outcome.whole_subjects,
        fields_destroyed: outcome.fields,
        // Each subject depersonalized left one record.
        depersonalized_records: if depersonalizes { outcome.subjects } else { 0 },
        kept: if depersonalizes {
            rule.depersonalize
                .iter()
                .filter(|(_, k)| **k != crate::depersonalize::Kept::Drop)
                .map(|(f, k)| KeptField {
                    field: named(f, declaration.fields.get(f).map(|f| &f.label)),
                    kept: *k,
                })
                .collect()
        } else {
            Vec::new()
        },
        skipped: outcome.skipped.clone(),
        proposed_by: batch.proposed_by.clone(),
        proposed_at: batch.proposed_at,
        approved_by: batch.approvals.iter().map(|a| a.by.clone()).collect(),
        executed_at: outcome.finished_at,
        commission: declaration.operator.destruction_commission.clone(),
        connectors: connectors.to_vec(),
        webhooks: webhooks.to_vec(),
    })
}

impl Act {
    /// Where the act stands among the operator's acts: its year, then its number in the year.
    pub fn order(&self) -> (i32, u32) {
        let n = self
            .number
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse().ok())
            .unwrap_or(0);
        (self.date.year(), n)
    }
}

/// The SHA-256 (hex) of the act's canonical JSON, what its signature covers; `None` if the
/// act cannot be put in canonical form.
pub fn digest(act: &Act) -> Option<String> {
    use sha2::{Digest, Sha256};
    let canonical = crate::receipt::canonical_json(&serde_json::to_value(act).ok()?).ok()?;
    Some(
        Sha256::digest(canonical.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
    )
}

/// The act's title in `lang`.
pub fn title(act: &Act, lang: Lang) -> String {
    let title = match act.rule.action {
        RetentionAction::Destroy => tr(
            lang,
            "Дербес деректерді жою туралы акт",
            "Акт об уничтожении персональных данных",
            "Act of destruction of personal data",
        ),
        RetentionAction::Depersonalize => tr(
            lang,
            "Дербес деректерді иесіздендіру туралы акт",
            "Акт об обезличивании персональных данных",
            "Act of depersonalization of personal data",
        ),
    };
    format!("{title} № {}", act.number)
}

/// What the commission states, above the act's lines (the day is among them).
pub fn preamble(act: &Act, lang: Lang) -> &'static str {
    if act.rule.action == RetentionAction::Depersonalize {
        return tr(
            lang,
            "Төменде көрсетілген құрамдағы комиссия сақтау мерзімі өткен дербес деректердің «Дербес деректер және оларды қорғау туралы» Қазақстан Республикасы Заңының 12 және 18-баптарына сәйкес мынадай көлемде және мынадай тәсілмен иесіздендірілгені туралы осы актіні жасады.",
            "Комиссия в составе, указанном ниже, составила настоящий акт о том, что персональные данные, срок хранения которых истёк, обезличены в соответствии со статьями 12 и 18 Закона Республики Казахстан «О персональных данных и их защите» в следующем объёме и следующим способом.",
            "The commission named below has drawn up this act to record that personal data whose retention period had ended were depersonalized, under Articles 12 and 18 of the Law of the Republic of Kazakhstan \"On Personal Data and Their Protection\", to the extent and by the method stated below.",
        );
    }
    tr(
        lang,
        "Төменде көрсетілген құрамдағы комиссия сақтау мерзімі өткен дербес деректердің «Дербес деректер және оларды қорғау туралы» Қазақстан Республикасы Заңының 12 және 18-баптарына сәйкес мынадай көлемде және мынадай тәсілмен жойылғаны туралы осы актіні жасады.",
        "Комиссия в составе, указанном ниже, составила настоящий акт о том, что персональные данные, срок хранения которых истёк, уничтожены в соответствии со статьями 12 и 18 Закона Республики Казахстан «О персональных данных и их защите» в следующем объёме и следующим способом.",
        "The commission named below has drawn up this act to record that personal data whose retention period had ended were destroyed, under Articles 12 and 18 of the Law of the Republic of Kazakhstan \"On Personal Data and Their Protection\", to the extent and by the method stated below.",
    )
}

/// How the destruction was carried out and why it cannot be undone, below the act's lines.
pub fn finality(act: &Act, lang: Lang) -> &'static str {
    if act.rule.action == RetentionAction::Depersonalize {
        return tr(
            lang,
            "Иесіздендіруді derbes ақпараттық жүйесі онда бекітілген топтама бойынша жүргізді; әрбір әрекет аудит журналына жазылды. Әрбір субъектінің сақтау мерзімі өткен дербес деректерінен субъектіні атамайтын және оның сәйкестендіргіштерін қамтымайтын жазбаға сақтау ережесі сақтайтын деректер ғана (жоғарыда көрсетілген) көшірілді; бүркеншік атаулар топтаманың кілтімен есептелді, ол кілт топтама аяқталғанда жойылды. Содан кейін деректердің өзі жойылды: деректері толық жойылған әрбір субъектінің шифрлау кілті жойылды, сондықтан оның деректерін қалпына келтіру мүмкін емес; қалған субъектілердің жазбасынан сақтау мерзімі өткен өрістер өшірілді. Деректер резервтік көшірмеден қалпына келтірілсе, жою журналы бойынша қайта жойылады.",
            "Обезличивание произведено информационной системой derbes по пакету, утверждённому в ней; каждое действие записано в журнал аудита. Из персональных данных каждого субъекта с истёкшим сроком хранения в запись, которая не называет субъекта и не содержит его идентификаторов, перенесено только то, что сохраняет правило хранения (указано выше); псевдонимы вычислены на ключе пакета, уничтоженном по завершении пакета. Затем сами данные уничтожены: ключ шифрования каждого субъекта, данные которого уничтожены полностью, уничтожен, поэтому его данные восстановить невозможно; у остальных субъектов поля с истёкшим сроком хранения удалены из записи. После восстановления из резервной копии уничтожение применяется повторно по журналу уничтожений.",
            "The depersonalization was carried out by the derbes information system, for a batch approved in it; every step is recorded in the audit log. Of each subject's expired personal data, only what the retention rule keeps (stated above) was written to a record that names no subject and holds none of its identifiers; pseudonyms were computed under a key of the batch, destroyed when the batch was completed. The data themselves were then destroyed: the encryption key of each subject destroyed whole was destroyed, so those data cannot be recovered, and the expired fields of the other subjects were deleted from their records. After a restore from a backup, the destruction is applied again from the destruction log.",
        );
    }
    tr(
        lang,
        "Жоюды derbes ақпараттық жүйесі онда бекітілген топтама бойынша жүргізді; әрбір әрекет аудит журналына жазылды. Деректері толық жойылған субъектінің шифрлау кілті жойылды, сондықтан оның деректерін қалпына келтіру мүмкін емес; сақтау мерзімі өткен өрістер субъектінің жазбасынан өшірілді. Деректер резервтік көшірмеден қалпына келтірілсе, жою журналы бойынша қайта жойылады.",
        "Уничтожение произведено информационной системой derbes по пакету, утверждённому в ней; каждое действие записано в журнал аудита. Ключ шифрования субъекта, персональные данные которого уничтожены полностью, уничтожен, поэтому его данные восстановить невозможно; поля с истёкшим сроком хранения удалены из записи субъекта. После восстановления из резервной копии уничтожение применяется повторно по журналу уничтожений.",
        "The destruction was carried out by the derbes information system, for a batch approved in it; every step is recorded in the audit log. The encryption key of each subject destroyed whole was destroyed, so those data cannot be recovered; expired fields were deleted from the subject's record. After a restore from a backup, the destruction is applied again from the destruction log.",
    )
}

/// The commission's lines for signatures, the chair first; blank lines to fill in by hand
/// when the operator declared no commission.
pub fn signatures(act: &Act, lang: Lang) -> Vec<String> {
    const BLANK: &str = "________________________________";
    let chair = tr(
        lang,
        "Комиссия төрағасы",
        "Председатель комиссии",
        "Chair of the commission",
    );
    let member = tr(
        lang,
        "Комиссия мүшесі",
        "Член комиссии",
        "Member of the commission",
    );
    let sign = tr(lang, "қолы", "подпись", "signature");
    let role = |i: usize| if i == 0 { chair } else { member };
    if act.commission.is_empty() {
        return (0..3)
            .map(|i| format!("{}: {BLANK} — {sign} ________________", role(i)))
            .collect();
    }
    act.commission
        .iter()
        .enumerate()
        .map(|(i, m)| {
            format!(
                "{}: {}, {} — {sign} ________________",
                role(i),
                m.position.get(lang),
                m.name.get(lang)
            )
        })
        .collect()
}

/// Why an item was skipped, in words.
fn skipped_reason(code: &str, lang: Lang) -> String {
    match code {
        "held" => tr(
            lang,
            "жоюды тоқтата тұру немесе қаралмаған өтініш",
            "приостановление уничтожения или нерассмотренное обращение",
            "a legal hold or an open request",
        )
        .to_owned(),
        "kept" => tr(
            lang,
            "деректерді өңдеудің басқа мақсаты үшін сақтау қажет",
            "данные необходимы для иной цели обработки",
            "a purpose keeps the data again",
        )
        .to_owned(),
        "gone" => tr(
            lang,
            "субъектінің деректері бұрын жойылған",
            "персональные данные субъекта уничтожены ранее",
            "the subject's data were destroyed before",
        )
        .to_owned(),
        other => other.to_owned(),
    }
}

/// A declared code's label in `lang` (its code when it has none).
fn label_of(n: &Named, lang: Lang) -> String {
    match n.label.get(lang) {
        "" => n.code.clone(),
        label => label.to_owned(),
    }
}

/// Where else the data went: the operator's databases reached through connectors and its
/// systems told by webhooks, each line left out when there are none.
fn outside_lines(act: &Act, lang: Lang) -> Vec<(String, String)> {
    let told = [
        (
            &act.connectors,
            [
                "Оператордың қосылған дерекқорларында да жойылды немесе бүркемеленді",
                "Также удалены или замаскированы в подключённых базах данных оператора",
                "Also deleted or masked in the operator's connected databases",
            ],
        ),
        (
            &act.webhooks,
            [
                "Оператордың жүйелеріне олар субъектісін анықтай алатын әрбір жою туралы қол қойылған хабар жіберілді",
                "Системы оператора уведомлены подписанным сообщением о каждом уничтожении, субъекта которого они могут идентифицировать",
                "The operator's systems told by a signed message of each destruction whose subject they can identify",
            ],
        ),
    ];
    told.into_iter()
        .filter(|(names, _)| !names.is_empty())
        .map(|(names, [kk, ru, en])| (tr(lang, kk, ru, en).to_owned(), names.join(", ")))
        .collect()
}

/// What an act of depersonalization adds: the records kept and what they keep of each field.
fn depersonalized_lines(act: &Act, lang: Lang) -> [(String, String); 2] {
    use crate::depersonalize::Kept;
    let t = |kk: &str, ru: &str, en: &str| tr(lang, kk, ru, en).to_owned();
    let how = |k: Kept| match k {
        Kept::Year => t("жылы ғана", "только год", "the year only"),
        Kept::Region => t("өңірі ғана", "только регион", "the region only"),
        Kept::Keep => t("өзгеріссіз", "без изменений", "as it is"),
        Kept::Pseudonym => t("бүркеншік атау", "псевдоним", "a pseudonym"),
        Kept::Drop => t("сақталмайды", "не сохраняется", "nothing"),
    };
    let kept: Vec<String> = act
        .kept
        .iter()
        .map(|k| format!("{}: {}", label_of(&k.field, lang), how(k.kept)))
        .collect();
    [
        (
            t(
                "Иесіздендірілген жазбалар (субъектіні атамайды)",
                "Обезличенные записи (без указания субъекта)",
                "Depersonalized records (naming no subject)",
            ),
            act.depersonalized_records.to_string(),
        ),
        (
            t(
                "Жазбаларда сақталатыны",
                "Что сохраняют записи",
                "What the records keep",
            ),
            if kept.is_empty() {
                t(
                    "субъект санаты ғана",
                    "только категория субъекта",
                    "the subject's category only",
                )
            } else {
                kept.join("; ")
            },
        ),
    ]
}

/// The act's lines (label, value) in `lang`, in the order they are printed.
pub fn lines(act: &Act, lang: Lang) -> Vec<(String, String)> {
    let t = |kk: &str, ru: &str, en: &str| tr(lang, kk, ru, en).to_owned();
    let list = |items: &[Named]| {
        items
            .iter()
            .map(|n| label_of(n, lang))
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut out = vec![
        (
            t("Оператор", "Оператор", "Operator"),
            format!(
                "{}, {} {}",
                act.operator.name.get(lang),
                tr(lang, "БСН", "БИН", "BIN"),
                act.operator.bin
            ),
        ),
        (
            t("Актінің күні", "Дата акта", "Date"),
            format_date(act.date, lang),
        ),
        (
            t("Сақтау ережесі", "Правило хранения", "Retention rule"),
            format!(
                "{} ({})",
                act.rule.label.get(lang),
                act.rule.period.get(lang)
            ),
        ),
    ];
    if let Some(basis) = &act.rule.basis {
        out.push((
            t("Негіздеме", "Основание", "Basis"),
            basis.get(lang).to_owned(),
        ));
    }
    out.extend([
        (
            t("Субъектілер санаттары", "Категории субъектов", "Subject categories"),
            list(&act.categories),
        ),
        (
            t("Дербес деректер құрамы", "Состав персональных данных", "Personal data"),
            list(&act.fields),
        ),
        (
            t(
                "Дербес деректері толық жойылған субъектілер (криптографиялық жою: кілт жойылды, жазбалар өшірілді)",
                "Субъекты, персональные данные которых уничтожены полностью (криптографическое уничтожение: ключ уничтожен, записи удалены)",
                "Subjects whose data were destroyed whole (crypto-shredding: the key destroyed, the records deleted)",
            ),
            act.whole_subjects.to_string(),
        ),
        (
            t(
                "Сақтау мерзімі өткен деректері ғана жойылған субъектілер (өрістер мен іздеу индексінің жазбалары өшірілді)",
                "Субъекты, у которых уничтожены только данные с истёкшим сроком хранения (поля и записи поискового индекса удалены)",
                "Subjects that lost only their expired data (the fields and their index entries deleted)",
            ),
            act.field_subjects.to_string(),
        ),
        (
            t("Жойылған өрістер, барлығы", "Уничтожено полей, всего", "Fields destroyed in all"),
            act.fields_destroyed.to_string(),
        ),
    ]);
    if act.rule.action == RetentionAction::Depersonalize {
        out.extend(depersonalized_lines(act, lang));
    }
    out.extend(outside_lines(act, lang));
    if !act.skipped.is_empty() {
        let skipped: Vec<String> = act
            .skipped
            .iter()
            .map(|(why, n)| format!("{n}: {}", skipped_reason(why, lang)))
            .collect();
        out.push((
            t(
                "Орындалмағандар (себептері бойынша)",
                "Не исполнено (по причинам)",
                "Not executed (by reason)",
            ),
            skipped.join("; "),
        ));
    }
    out.extend([
        (
            t("Ұсынған", "Предложил", "Proposed by"),
            act.proposed_by.clone(),
        ),
        (
            t("Бекіткен", "Утвердил(и)", "Approved by"),
            act.approved_by.join(", "),
        ),
        (t("Топтама", "Пакет", "Batch"), act.batch_id.to_string()),
        (
            t("Саясат нұсқасы", "Версия политики", "Policy version"),
            act.declaration_version.clone(),
        ),
    ]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retention_batch::{BatchOutcome, BatchSummary};
    use time::macros::{date, datetime};

    fn executed() -> Batch {
        let mut summary = BatchSummary::of(&[]);
        summary.tally.categories.insert("student".into());
        summary.tally.field_keys.insert("iin".into());
        let mut batch = crate::retention_batch::tests::proposed(summary, 1)
            .approved("dpo:aigul", datetime!(2029-06-01 10:00 UTC));
        batch.status = crate::retention_batch::BatchStatus::Done;
        batch.outcome = Some(BatchOutcome {
            finished_at: datetime!(2029-06-01 10:05 UTC),
            whole_subjects: 3,
            subjects: 5,
            fields: 31,
            skipped: [("held".to_owned(), 1)].into(),
        });
        batch
    }

    #[test]
    fn an_act_says_what_was_destroyed_under_which_rule_in_each_language() {
        let d = crate::retention::tests::decl();
        let act = build(
            &d,
            &executed(),
            (4, date!(2029 - 06 - 01)),
            (&["platform".to_owned()], &["lms".to_owned()]),
        )
        .unwrap();
        assert_eq!(act.number, "2029-4");
        assert_eq!((act.whole_subjects, act.field_subjects), (3, 2));
        assert_eq!(act.fields_destroyed, 31);
        assert_eq!(act.rule.code, "student_records");
        for lang in Lang::ALL {
            let lines = lines(&act, lang);
            let text: Vec<&str> = lines.iter().map(|(_, v)| v.as_str()).collect();
            assert!(text.contains(&"3"), "{lang}: {text:?}");
            assert!(text.contains(&"lms"), "{lang}: {text:?}");
            assert!(text.iter().any(|v| v.contains(&d.operator.bin)));
            assert!(title(&act, lang).ends_with("№ 2029-4"));
            assert!(lines.iter().all(|(l, v)| !l.is_empty() && !v.is_empty()));
        }
        let signed = signatures(&act, Lang::Ru);
        assert!(
            signed[0].starts_with("Председатель комиссии: "),
            "{signed:?}"
        );
        assert!(preamble(&act, Lang::Kk).contains("18-баптарына"));
        assert!(act.kept.is_empty() && act.depersonalized_records == 0);
        // What an older act held is what it serializes to: its signature stays good.
        let json = serde_json::to_value(&act).unwrap();
        assert!(json.get("kept").is_none() && json.get("depersonalized_records").is_none());
        // Not executed yet: no act.
        let mut proposed = executed();
        proposed.outcome = None;
        assert_eq!(
            build(&d, &proposed, (1, date!(2029 - 06 - 01)), (&[], &[])),
            None
        );
    }

    #[test]
    fn an_act_of_depersonalization_says_what_the_records_keep() {
        let d = crate::retention::tests::decl();
        let mut batch = executed();
        batch.rule = "analytics_data".into();
        batch.action = RetentionAction::Depersonalize;
        let act = build(&d, &batch, (1, date!(2029 - 06 - 01)), (&[], &[])).unwrap();
        assert_eq!(act.depersonalized_records, 5);
        let kept: Vec<(&str, crate::depersonalize::Kept)> = act
            .kept
            .iter()
            .map(|k| (k.field.code.as_str(), k.kept))
            .collect();
        use crate::depersonalize::Kept;
        assert_eq!(kept, [("access_time", Kept::Year), ("browser", Kept::Keep)]);
        assert!(title(&act, Lang::Ru).starts_with("Акт об обезличивании"));
        assert!(preamble(&act, Lang::Kk).contains("иесіздендірілгені"));
        assert!(finality(&act, Lang::En).contains("names no subject"));
        let lines = lines(&act, Lang::Ru);
        let (_, keeps) = lines
            .iter()
            .find(|(l, _)| l == "Что сохраняют записи")
            .unwrap();
        assert_eq!(
            keeps,
            "Время посещения: только год; Сведения о браузере: без изменений"
        );
    }
}

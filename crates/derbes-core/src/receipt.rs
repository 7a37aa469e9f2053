//! Consent receipts: what a subject (or their legal representative) agreed to or withdrew,
//! shaped after ISO/IEC TS 27560 (consent record information structure) and the Kantara
//! Consent Receipt Specification, with a readable version in Kazakh, Russian and English.
//!
//! A receipt names the subject by id only and lists the data by label, never by value. The
//! server signs the canonical form ([`canonical_json`], RFC 8785) of the receipt object with the
//! operator's Ed25519 key; anyone holding the published public key can check it offline.

use crate::consent::{ConsentAction, ConsentEvent, GivenBy, Method, Relation, Term};
use crate::declaration::{Declaration, LegalBasis, Operator};
use crate::text::{format_date, format_moment, tr, Lang, Text};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

/// The receipt format's name and version.
pub const SCHEMA: &str = "derbes/consent-receipt/1";
/// What [`canonical_json`] produces, as named in the signature block.
pub const CANONICALIZATION: &str = "RFC 8785 (JCS) of the `receipt` member";

/// The consent's state when the receipt was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// The consent this receipt is for holds.
    Active,
    /// A later consent to the same purpose replaced it.
    Superseded,
    Withdrawn,
    Expired,
    /// The receipt is for a withdrawal, which has been recorded.
    Recorded,
}

/// A field or recipient by key and label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Labelled {
    pub key: String,
    pub label: Text,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptRecipient {
    pub key: String,
    pub label: Text,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// The Art. 8(4) contents as agreed (give and renew).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgreedTerms {
    pub declaration_version: String,
    pub terms_hash: String,
    pub fields: Vec<Labelled>,
    pub recipients: Vec<ReceiptRecipient>,
    pub third_party_transfer: bool,
    pub cross_border_transfer: bool,
    /// Where the data cross the border to (ISO 3166-1 alpha-2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cross_border_countries: Vec<String>,
    pub publication: bool,
    pub term: Term,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Labelled>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptPurpose {
    pub key: String,
    pub label: Text,
    pub description: Text,
    pub legal_basis: LegalBasis,
    /// The obligation that, while unfulfilled, keeps the consent from being withdrawn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal_obligation: Option<Text>,
}

/// The consent event the receipt is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptEvent {
    /// `give`, `renew` or `withdraw`.
    pub action: String,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub given_by: GivenBy,
    pub method: Method,
}

/// A consent receipt, before signing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub schema: String,
    pub shaped_after: Vec<String>,
    pub receipt_id: Uuid,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    /// ISO 3166-1 alpha-2 of the law that governs the consent.
    pub jurisdiction: String,
    pub law: Text,
    /// The consent event's id (the ISO/IEC TS 27560 record id).
    pub consent_record_id: Uuid,
    /// The subject's id in derbes (the PII principal).
    pub pii_principal_id: Uuid,
    pub status: RecordStatus,
    /// The operator (PII controller) as the declaration names it.
    pub pii_controller: Operator,
    pub purpose: ReceiptPurpose,
    pub event: ReceiptEvent,
    /// Absent for a withdrawal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<AgreedTerms>,
    /// The receipt as text, in each language.
    pub readable: Readable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Readable {
    pub kk: String,
    pub ru: String,
    pub en: String,
}

impl Readable {
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Kk => &self.kk,
            Lang::Ru => &self.ru,
            Lang::En => &self.en,
        }
    }
}

/// What the issuer knows beside the event.
pub struct Issue<'a> {
    /// The declaration version the consent was given under (for a withdrawal: the current one).
    pub declaration: &'a Declaration,
    pub event: &'a ConsentEvent,
    pub status: RecordStatus,
    pub receipt_id: Uuid,
    pub issued_at: OffsetDateTime,
    /// The id of the key that will sign the receipt, named in the readable text.
    pub key_id: &'a str,
}

/// Builds the receipt for a consent event. `None` when the declaration does not declare the
/// event's purpose (a declaration that is not the one the event was recorded under).
pub fn build(issue: &Issue<'_>) -> Option<Receipt> {
    let d = issue.declaration;
    let e = issue.event;
    let p = d.purpose(&e.purpose)?;
    let label_of = |key: &str, label: Option<&Text>| Labelled {
        key: key.to_owned(),
        label: label.cloned().unwrap_or_else(|| Text::new(key, key, key)),
    };
    let terms = match &e.action {
        ConsentAction::Withdraw => None,
        ConsentAction::Give(g) | ConsentAction::Renew(g) => Some(AgreedTerms {
            declaration_version: g.terms.declaration_version.clone(),
            terms_hash: g.terms_hash.clone(),
            fields: g
                .terms
                .fields
                .iter()
                .map(|f| label_of(f, d.fields.get(f).map(|f| &f.label)))
                .collect(),
            recipients: g
                .terms
                .recipients
                .iter()
                .map(|r| {
                    let known = d.recipients.get(r);
                    ReceiptRecipient {
                        key: r.clone(),
                        label: label_of(r, known.map(|k| &k.label)).label,
                        country: known.map_or_else(String::new, |k| k.country.clone()),
                    }
                })
                .collect(),
            third_party_transfer: g.terms.third_party_transfer,
            cross_border_transfer: g.terms.cross_border_transfer,
            cross_border_countries: {
                let mut c: Vec<String> = g
                    .terms
                    .recipients
                    .iter()
                    .filter_map(|r| d.recipients.get(r))
                    .filter(|r| d.crosses_border(r))
                    .map(|r| r.country.clone())
                    .collect();
                c.sort();
                c.dedup();
                c
            },
            publication: g.terms.publication,
            term: g.term,
            retention: d
                .retention
                .get(&p.retention)
                .map(|r| label_of(&p.retention, Some(&r.label))),
        }),
    };
    let mut receipt = Receipt {
        schema: SCHEMA.into(),
        shaped_after: vec![
            "ISO/IEC TS 27560:2023".into(),
            "Kantara Consent Receipt Specification 1.1".into(),
        ],
        receipt_id: issue.receipt_id,
        issued_at: issue.issued_at,
        jurisdiction: "KZ".into(),
        law: Text::new(
            "«Дербес деректер және оларды қорғау туралы» Қазақстан Республикасының 2013 жылғы 21 мамырдағы № 94-V Заңы",
            "Закон Республики Казахстан от 21 мая 2013 года № 94-V «О персональных данных и их защите»",
            "Law of the Republic of Kazakhstan No. 94-V of 21 May 2013 \"On Personal Data and Their Protection\"",
        ),
        consent_record_id: e.id,
        pii_principal_id: e.subject_id,
        status: issue.status,
        pii_controller: d.operator.clone(),
        purpose: ReceiptPurpose {
            key: e.purpose.clone(),
            label: p.label.clone(),
            description: p.description.clone(),
            legal_basis: p.legal_basis,
            withdrawal_obligation: p.withdrawal_obligation.clone(),
        },
        event: ReceiptEvent {
            action: e.action.name().into(),
            at: e.at,
            given_by: e.given_by.clone(),
            method: e.method.clone(),
        },
        terms,
        readable: Readable {
            kk: String::new(),
            ru: String::new(),
            en: String::new(),
        },
    };
    receipt.readable = Readable {
        kk: readable(&receipt, Lang::Kk, issue.key_id),
        ru: readable(&receipt, Lang::Ru, issue.key_id),
        en: readable(&receipt, Lang::En, issue.key_id),
    };
    Some(receipt)
}

fn relation(r: Relation, lang: Lang) -> &'static str {
    match r {
        Relation::Parent => tr(lang, "ата-анасы", "родитель", "parent"),
        Relation::Guardian => tr(lang, "қорғаншысы", "опекун", "guardian"),
        Relation::Trustee => tr(lang, "қамқоршысы", "попечитель", "trustee"),
        Relation::Other => tr(
            lang,
            "өзге заңды өкілі",
            "иной законный представитель",
            "other legal representative",
        ),
    }
}

fn provided(yes: bool, lang: Lang) -> &'static str {
    match yes {
        true => tr(lang, "көзделген", "предусмотрена", "yes"),
        false => tr(lang, "көзделмеген", "не предусмотрена", "no"),
    }
}

/// The lines of the readable receipt: (label, value).
#[allow(
    clippy::too_many_lines,
    reason = "the receipt, one line after another as it is printed"
)]
pub fn lines(r: &Receipt, lang: Lang, key_id: &str) -> Vec<(String, String)> {
    let withdrawal = r.event.action == "withdraw";
    let mut out: Vec<(String, String)> = Vec::new();
    let mut put = |label: &str, value: String| out.push((label.to_owned(), value));
    let c = &r.pii_controller;
    put(
        tr(
            lang,
            "Дербес деректер операторы",
            "Оператор персональных данных",
            "Personal data operator",
        ),
        format!(
            "{}, {} {}",
            c.name.get(lang),
            tr(lang, "БСН", "БИН", "BIN"),
            c.bin
        ),
    );
    put(
        tr(lang, "Мекенжайы", "Адрес", "Address"),
        c.address.get(lang).to_owned(),
    );
    put(
        tr(lang, "Байланыс деректері", "Контакты", "Contacts"),
        match &c.website {
            Some(w) => format!("{}, {}, {w}", c.email, c.phone),
            None => format!("{}, {}", c.email, c.phone),
        },
    );
    put(
        crate::declaration::ResponsiblePerson::role(lang),
        [
            Some(c.responsible_person.name.get(lang).to_owned()),
            c.responsible_person.position_in(lang),
            Some(c.responsible_person.email.clone()),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", "),
    );
    put(
        tr(
            lang,
            "Дербес деректер субъектісінің сәйкестендіргіші",
            "Идентификатор субъекта персональных данных",
            "Data subject's identifier",
        ),
        r.pii_principal_id.to_string(),
    );
    put(
        if withdrawal {
            tr(
                lang,
                "Келісімді кері қайтарып алған тұлға",
                "Лицо, отозвавшее согласие",
                "Consent withdrawn by",
            )
        } else {
            tr(
                lang,
                "Келісім берген тұлға",
                "Лицо, давшее согласие",
                "Consent given by",
            )
        },
        match &r.event.given_by {
            GivenBy::Subject => tr(
                lang,
                "дербес деректер субъектісінің өзі",
                "сам субъект персональных данных",
                "the data subject in person",
            )
            .to_owned(),
            GivenBy::Representative {
                representative_id,
                relation: rel,
            } => format!(
                "{} ({}), {} {representative_id}",
                tr(
                    lang,
                    "заңды өкілі",
                    "законный представитель",
                    "legal representative"
                ),
                relation(*rel, lang),
                tr(lang, "сәйкестендіргіші", "идентификатор", "identifier"),
            ),
        },
    );
    put(
        tr(
            lang,
            "Өңдеу мақсаты",
            "Цель обработки",
            "Purpose of processing",
        ),
        r.purpose.label.get(lang).to_owned(),
    );
    put(
        tr(
            lang,
            "Мақсаттың сипаттамасы",
            "Описание цели",
            "Description",
        ),
        r.purpose.description.get(lang).to_owned(),
    );
    put(
        tr(lang, "Құқықтық негіз", "Правовое основание", "Legal basis"),
        format!(
            "{} ({})",
            tr(
                lang,
                "дербес деректер субъектісінің келісімі",
                "согласие субъекта персональных данных",
                "consent of the data subject",
            ),
            tr(
                lang,
                "Заңның 8-бабы",
                "статья 8 Закона",
                "Article 8 of the Law"
            ),
        ),
    );
    if let Some(t) = &r.terms {
        let list = |items: Vec<&str>| items.join("; ");
        put(
            tr(
                lang,
                "Дербес деректер тізбесі",
                "Перечень персональных данных",
                "Personal data",
            ),
            list(t.fields.iter().map(|f| f.label.get(lang)).collect()),
        );
        let recipients = list(t.recipients.iter().map(|x| x.label.get(lang)).collect());
        put(
            tr(
                lang,
                "Үшінші тұлғаларға беру",
                "Передача третьим лицам",
                "Transfer to third parties",
            ),
            if t.third_party_transfer {
                format!("{} ({recipients})", provided(true, lang))
            } else {
                provided(false, lang).to_owned()
            },
        );
        put(
            tr(
                lang,
                "Трансшекаралық беру",
                "Трансграничная передача",
                "Cross-border transfer",
            ),
            if t.cross_border_transfer && !t.cross_border_countries.is_empty() {
                format!(
                    "{} ({})",
                    provided(true, lang),
                    t.cross_border_countries.join(", ")
                )
            } else {
                provided(t.cross_border_transfer, lang).to_owned()
            },
        );
        put(
            tr(
                lang,
                "Жалпыға қолжетімді дереккөздерде тарату",
                "Распространение в общедоступных источниках",
                "Publication in public sources",
            ),
            match t.publication {
                true => tr(lang, "көзделген", "предусмотрено", "yes"),
                false => tr(lang, "көзделмеген", "не предусмотрено", "no"),
            }
            .to_owned(),
        );
        put(
            tr(
                lang,
                "Келісімнің қолданылу мерзімі",
                "Срок действия согласия",
                "Term of the consent",
            ),
            match t.term {
                Term::Until { date } => format!(
                    "{}{}",
                    tr(lang, "", "по ", "through "),
                    match lang {
                        Lang::Kk =>
                            format!("{} күніне дейін (қоса алғанда)", format_date(date, lang)),
                        Lang::Ru => format!("{} включительно", format_date(date, lang)),
                        Lang::En => format_date(date, lang),
                    }
                ),
                Term::PurposeAchieved => tr(
                    lang,
                    "өңдеу мақсатына қол жеткізілгенге дейін",
                    "до достижения цели обработки",
                    "until the purpose of processing is achieved",
                )
                .to_owned(),
            },
        );
        if let Some(ret) = &t.retention {
            put(
                tr(lang, "Сақтау мерзімі", "Срок хранения", "Retention"),
                ret.label.get(lang).to_owned(),
            );
        }
        put(
            tr(
                lang,
                "Құпиялылық саясатының нұсқасы",
                "Версия политики конфиденциальности",
                "Privacy policy version",
            ),
            t.declaration_version.clone(),
        );
        put(
            tr(
                lang,
                "Келісім талаптарының хэші (SHA-256)",
                "Хэш условий согласия (SHA-256)",
                "Hash of the agreed terms (SHA-256)",
            ),
            t.terms_hash.clone(),
        );
    }
    put(
        if withdrawal {
            tr(
                lang,
                "Кері қайтарып алу тәсілі",
                "Способ отзыва",
                "How it was withdrawn",
            )
        } else {
            tr(
                lang,
                "Келісім беру тәсілі",
                "Способ дачи согласия",
                "How it was given",
            )
        },
        match &r.event.method {
            Method::Web => tr(
                lang,
                "веб-сайт арқылы электрондық нысанда",
                "в электронной форме через веб-сайт",
                "electronically, on the website",
            )
            .to_owned(),
            Method::Paper { evidence_sha256 } => format!(
                "{} {evidence_sha256})",
                tr(
                    lang,
                    "қағаз жеткізгіштегі жазбаша нысанда (сканерленген көшірменің SHA-256 хэші:",
                    "в письменной форме на бумажном носителе (SHA-256 скан-копии:",
                    "in writing, on paper (SHA-256 of the scan:",
                )
            ),
            Method::StateService { reference } => format!(
                "{} {reference})",
                tr(
                    lang,
                    "мемлекеттік сервис арқылы (нөмірі:",
                    "через государственный сервис (номер:",
                    "through the state service (reference",
                )
            ),
            Method::Other { description } => format!(
                "{} {description}",
                tr(lang, "өзге тәсілмен:", "иным способом:", "other:")
            ),
        },
    );
    put(
        tr(lang, "Күні мен уақыты", "Дата и время", "Date and time"),
        format_moment(r.event.at, lang),
    );
    if !withdrawal {
        let mut how = format!(
            "{} {}",
            tr(
                lang,
                "Келісімді операторға жүгіну арқылы кері қайтарып алуға болады:",
                "Согласие может быть отозвано обращением к оператору:",
                "The consent can be withdrawn by contacting the operator:",
            ),
            c.email
        );
        how.push_str(tr(
            lang,
            ". Қазақстан Республикасының заңдарына қайшы келетін не орындалмаған міндеттеме бар жағдайларда келісімді кері қайтарып алуға жол берілмейді (Заңның 8-бабының 2-тармағы).",
            ", кроме случаев, когда это противоречит законам Республики Казахстан, либо при наличии неисполненного обязательства (пункт 2 статьи 8 Закона).",
            ", except where this contradicts the laws of the Republic of Kazakhstan or while an obligation is unfulfilled (Article 8(2) of the Law).",
        ));
        if let Some(o) = &r.purpose.withdrawal_obligation {
            how.push_str(&format!(
                " {} {}.",
                tr(
                    lang,
                    "Осы мақсат бойынша міндеттеме:",
                    "Обязательство по этой цели:",
                    "The obligation for this purpose:",
                ),
                o.get(lang).trim_end_matches('.')
            ));
        }
        put(
            tr(
                lang,
                "Келісімді кері қайтарып алу",
                "Отзыв согласия",
                "Withdrawing the consent",
            ),
            how,
        );
    }
    put(
        tr(
            lang,
            "Түбіртек берілген кездегі мәртебесі",
            "Статус на момент выдачи квитанции",
            "Status when this receipt was issued",
        ),
        match r.status {
            RecordStatus::Active => tr(lang, "күшінде", "действует", "in force"),
            RecordStatus::Superseded => tr(
                lang,
                "кейінгі келісіммен ауыстырылған",
                "заменено более поздним согласием",
                "superseded by a later consent",
            ),
            RecordStatus::Withdrawn => tr(lang, "кері қайтарып алынған", "отозвано", "withdrawn"),
            RecordStatus::Expired => tr(lang, "мерзімі өткен", "срок действия истёк", "expired"),
            RecordStatus::Recorded => tr(
                lang,
                "кері қайтарып алу тіркелген",
                "отзыв зарегистрирован",
                "withdrawal recorded",
            ),
        }
        .to_owned(),
    );
    put(
        tr(
            lang,
            "Келісім жазбасының сәйкестендіргіші",
            "Идентификатор записи о согласии",
            "Consent record identifier",
        ),
        r.consent_record_id.to_string(),
    );
    put(
        tr(
            lang,
            "Түбіртектің сәйкестендіргіші",
            "Идентификатор квитанции",
            "Receipt identifier",
        ),
        r.receipt_id.to_string(),
    );
    put(
        tr(
            lang,
            "Түбіртек берілген күн",
            "Дата выдачи квитанции",
            "Issued",
        ),
        format_moment(r.issued_at, lang),
    );
    put(
        tr(lang, "Қолтаңба", "Подпись", "Signature"),
        format!(
            "{} {key_id}; {}",
            tr(
                lang,
                "оператордың Ed25519 кілті",
                "ключ Ed25519 оператора",
                "the operator's Ed25519 key",
            ),
            tr(
                lang,
                "тексеру: derbes receipt verify",
                "проверка: derbes receipt verify",
                "check with: derbes receipt verify",
            )
        ),
    );
    out
}

/// The title of a receipt in `lang`.
pub fn title(r: &Receipt, lang: Lang) -> &'static str {
    if r.event.action == "withdraw" {
        tr(
            lang,
            "Дербес деректерді жинауға және өңдеуге келісімді кері қайтарып алу туралы түбіртек",
            "Квитанция об отзыве согласия на сбор и обработку персональных данных",
            "Receipt for the withdrawal of consent to the collection and processing of personal data",
        )
    } else {
        tr(
            lang,
            "Дербес деректерді жинауға және өңдеуге келісім туралы түбіртек",
            "Квитанция о согласии на сбор и обработку персональных данных",
            "Receipt for consent to the collection and processing of personal data",
        )
    }
}

fn readable(r: &Receipt, lang: Lang, key_id: &str) -> String {
    let mut s = format!("{}\n\n", title(r, lang));
    for (label, value) in lines(r, lang, key_id) {
        s.push_str(&format!("{label}: {value}\n"));
    }
    s
}

/// Why a JSON value has no canonical form here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the receipt holds a fractional number, which receipts never contain")]
pub struct NotCanonical;

/// The RFC 8785 (JCS) form of a JSON value that holds no fractional numbers: object members
/// sorted by the UTF-16 code units of their names, no whitespace, strings escaped as JSON
/// requires and no more.
pub fn canonical_json(v: &Value) -> Result<String, NotCanonical> {
    let mut out = String::new();
    write_canonical(v, &mut out)?;
    Ok(out)
}

fn write_canonical(v: &Value, out: &mut String) -> Result<(), NotCanonical> {
    match v {
        Value::Null | Value::Bool(_) => out.push_str(&v.to_string()),
        Value::Number(n) => {
            if n.is_f64() {
                return Err(NotCanonical);
            }
            out.push_str(&n.to_string());
        }
        // serde_json escapes exactly `"`, `\` and control characters, with the short forms
        // for \b \t \n \f \r and lower-case \u00xx otherwise: as RFC 8785 requires.
        Value::String(s) => out.push_str(&Value::String(s.clone()).to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (k, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_members_and_drops_whitespace() {
        let v: Value = serde_json::from_str(
            "{ \"b\": [1, true, null], \"a\": { \"é\": \"x\\ty\", \"Z\": -3 } }",
        )
        .unwrap();
        assert_eq!(
            canonical_json(&v).unwrap(),
            r#"{"a":{"Z":-3,"é":"x\ty"},"b":[1,true,null]}"#
        );
        // Member names sort by UTF-16 code units: U+FB01 comes after U+1F600 (a surrogate pair).
        let v = json!({ "\u{fb01}": 1, "\u{1f600}": 2 });
        assert_eq!(
            canonical_json(&v).unwrap(),
            "{\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
        assert_eq!(canonical_json(&json!({ "x": 1.5 })), Err(NotCanonical));
        assert_eq!(
            canonical_json(&json!("\u{1}\u{7f}/\"")).unwrap(),
            "\"\\u0001\u{7f}/\\\"\""
        );
    }

    fn demo() -> Declaration {
        Declaration::load(include_str!("../../../examples/shoqan-school.toml"))
            .unwrap()
            .declaration
    }

    fn parents_consent(d: &Declaration) -> ConsentEvent {
        let terms = crate::consent::PurposeTerms::of(d, "extracurricular").unwrap();
        ConsentEvent {
            id: Uuid::from_u128(10),
            subject_id: Uuid::from_u128(1),
            purpose: "extracurricular".into(),
            action: ConsentAction::Give(crate::consent::Grant::new(
                terms,
                Term::Until {
                    date: time::macros::date!(2027 - 06 - 30),
                },
            )),
            given_by: GivenBy::Representative {
                representative_id: Uuid::from_u128(2),
                relation: Relation::Parent,
            },
            method: Method::Paper {
                evidence_sha256: "5e".repeat(32),
            },
            at: time::macros::datetime!(2026-11-21 09:00 UTC),
        }
    }

    #[test]
    fn a_receipt_states_every_art_8_4_element_in_each_language() {
        let d = demo();
        let e = parents_consent(&d);
        let r = build(&Issue {
            declaration: &d,
            event: &e,
            status: RecordStatus::Active,
            receipt_id: Uuid::from_u128(99),
            issued_at: time::macros::datetime!(2026-11-22 10:00 UTC),
            key_id: "0123456789abcdef",
        })
        .unwrap();
        let t = r.terms.as_ref().unwrap();
        assert_eq!(t.fields.len(), 9);
        assert!(t.third_party_transfer);
        assert_eq!(r.pii_principal_id, Uuid::from_u128(1));
        for lang in Lang::ALL {
            let text = r.readable.get(lang);
            assert!(text.starts_with(title(&r, lang)), "{text}");
            for f in &t.fields {
                assert!(text.contains(f.label.get(lang)), "{lang}: {}", f.key);
            }
            for x in &t.recipients {
                assert!(text.contains(x.label.get(lang)), "{lang}: {}", x.key);
            }
            for needle in [
                d.operator.name.get(lang),
                &d.operator.bin,
                &"5e".repeat(32),
                &t.terms_hash,
                "0123456789abcdef",
            ] {
                assert!(text.contains(needle), "{lang}: {needle}");
            }
            // One line per element, none left empty.
            assert!(lines(&r, lang, "k")
                .iter()
                .all(|(l, v)| !l.is_empty() && !v.is_empty()));
        }
        assert!(r
            .readable
            .kk
            .contains("2027 жылғы 30 маусым күніне дейін (қоса алғанда)"));
        assert!(r.readable.ru.contains("по 30 июня 2027 года включительно"));
        assert!(r.readable.ru.contains("законный представитель (родитель)"));
        assert!(r.readable.en.contains(
            "Transfer to third parties: yes (Transport companies; Medical institutions)"
        ));

        let withdrawal = ConsentEvent {
            id: Uuid::from_u128(11),
            action: ConsentAction::Withdraw,
            ..e
        };
        let r = build(&Issue {
            declaration: &d,
            event: &withdrawal,
            status: RecordStatus::Recorded,
            receipt_id: Uuid::from_u128(100),
            issued_at: time::macros::datetime!(2026-11-22 10:00 UTC),
            key_id: "k",
        })
        .unwrap();
        assert!(r.terms.is_none());
        assert!(r.readable.ru.starts_with("Квитанция об отзыве"));
        assert!(r.readable.ru.contains("отзыв зарегистрирован"));
    }

    proptest! {
        /// Any layout of the same value has the same canonical form, and the form parses back
        /// to the value.
        #[test]
        fn the_canonical_form_does_not_depend_on_layout(
            entries in prop::collection::vec(("\\PC{0,6}", any::<i64>(), "\\PC{0,8}"), 0..8)
        ) {
            let mut v = serde_json::Map::new();
            for (k, n, s) in &entries {
                v.insert(k.clone(), json!([n, s, { "k": k }]));
            }
            let v = Value::Object(v);
            let canonical = canonical_json(&v).unwrap();
            let pretty = serde_json::to_string_pretty(&v).unwrap();
            let reparsed: Value = serde_json::from_str(&pretty).unwrap();
            prop_assert_eq!(canonical_json(&reparsed).unwrap(), canonical.clone());
            let back: Value = serde_json::from_str(&canonical).unwrap();
            prop_assert_eq!(back, v);
        }
    }
}

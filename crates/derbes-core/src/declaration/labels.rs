//! The declaration's codes as people read them, in Kazakh, Russian and English: for access
//! packages, answers and the rendered policy.

use super::model::{LegalBasis, RecipientKind, Source};
use crate::text::{tr, Lang};

impl LegalBasis {
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            LegalBasis::Consent => tr(
                lang,
                "дербес деректер субъектісінің келісімі",
                "согласие субъекта персональных данных",
                "consent of the data subject",
            ),
            LegalBasis::Contract => tr(
                lang,
                "субъект тарап болып табылатын шартты орындау",
                "исполнение договора, стороной которого является субъект",
                "performance of a contract to which the subject is a party",
            ),
            LegalBasis::LegalDuty => tr(
                lang,
                "Қазақстан Республикасының заңнамасында көзделген міндеттерді орындау",
                "исполнение обязанностей, предусмотренных законодательством Республики Казахстан",
                "a duty under the law of the Republic of Kazakhstan",
            ),
            LegalBasis::VitalInterest => tr(
                lang,
                "субъектінің өмірін, денсаулығын немесе өзге де өмірлік маңызды мүдделерін қорғау",
                "защита жизни, здоровья или иных жизненно важных интересов субъекта",
                "protection of the subject's life, health or other vital interests",
            ),
            LegalBasis::LegitimateInterest => tr(
                lang,
                "оператордың заңды мүдделері",
                "законные интересы оператора",
                "the operator's legitimate interests",
            ),
        }
    }
}

impl Source {
    pub fn code(self) -> &'static str {
        match self {
            Source::Subject => "subject",
            Source::Representative => "representative",
            Source::Automatic => "automatic",
            Source::Operator => "operator",
            Source::ThirdParty => "third_party",
        }
    }

    /// Where the value came from, told to the subject.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            // Russian and English name the source (it follows "источник:" and heads a column);
            // Kazakh says what happened, in the past tense ("көзі: … алынды").
            Source::Subject => tr(
                lang,
                "субъектінің өзінен алынды",
                "сам субъект",
                "the subject",
            ),
            Source::Representative => tr(
                lang,
                "субъектінің заңды өкілінен алынды",
                "законный представитель субъекта",
                "the subject's legal representative",
            ),
            Source::Automatic => tr(
                lang,
                "автоматтандырылған құралдармен жиналды",
                "автоматизированный сбор",
                "automated collection",
            ),
            Source::Operator => tr(lang, "операторда жасалды", "оператор", "the operator"),
            Source::ThirdParty => tr(
                lang,
                "үшінші тұлғалардан алынды",
                "третьи лица",
                "third parties",
            ),
        }
    }
}

impl RecipientKind {
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            RecipientKind::Authority => tr(
                lang,
                "мемлекеттік орган",
                "государственный орган",
                "state body",
            ),
            RecipientKind::Processor => tr(
                lang,
                "оператордың тапсырмасы бойынша өңдеуді жүзеге асыратын үшінші тұлға",
                "третье лицо, осуществляющее обработку по поручению оператора",
                "third party processing on the operator's instructions",
            ),
            RecipientKind::ThirdParty => tr(lang, "үшінші тұлға", "третье лицо", "third party"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_exists_in_every_language_and_differs_between_them() {
        let bases = [
            LegalBasis::Consent,
            LegalBasis::Contract,
            LegalBasis::LegalDuty,
            LegalBasis::VitalInterest,
            LegalBasis::LegitimateInterest,
        ];
        let sources = [
            Source::Subject,
            Source::Representative,
            Source::Automatic,
            Source::Operator,
            Source::ThirdParty,
        ];
        let kinds = [
            RecipientKind::Authority,
            RecipientKind::Processor,
            RecipientKind::ThirdParty,
        ];
        let mut all: Vec<Box<dyn Fn(Lang) -> &'static str>> = Vec::new();
        all.extend(
            bases.map(|b| Box::new(move |l| b.label(l)) as Box<dyn Fn(Lang) -> &'static str>),
        );
        all.extend(
            sources.map(|s| Box::new(move |l| s.label(l)) as Box<dyn Fn(Lang) -> &'static str>),
        );
        all.extend(
            kinds.map(|k| Box::new(move |l| k.label(l)) as Box<dyn Fn(Lang) -> &'static str>),
        );
        for label in all {
            let (kk, ru, en) = (label(Lang::Kk), label(Lang::Ru), label(Lang::En));
            assert!(!kk.is_empty() && kk != ru && ru != en && kk != en);
        }
        for s in sources {
            assert_eq!(serde_json::to_value(s).unwrap(), s.code());
        }
    }
}

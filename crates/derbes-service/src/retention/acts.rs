//! Acts of destruction: issued when a retention batch is executed (numbered by year), kept
//! with the batch, signed with the operator's key when downloaded, and rendered as a page in
//! kk/ru/en with places for the commission's signatures.

use super::Retention;
use crate::access::Action;
use crate::actor::Actor;
use crate::receipts::{signature_of, ReceiptSignature};
use crate::vault::VaultError;
use derbes_core::destruction_act::{self, Act};
use derbes_core::retention_batch::Batch;
use derbes_core::text::Lang;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// An act and the operator's signature over its canonical JSON, as downloaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedAct {
    pub act: Act,
    pub signature: ReceiptSignature,
}

impl Retention {
    /// The act of `batch`, just executed: the next number of the year of `date`.
    pub(super) async fn issue_act(
        &self,
        batch: &Batch,
        date: time::Date,
    ) -> Result<Option<Act>, VaultError> {
        let issued = self
            .vault
            .store()
            .retention_batches(u32::MAX)
            .await?
            .into_iter()
            .filter(|b| {
                b.batch
                    .act
                    .as_ref()
                    .is_some_and(|a| a.date.year() == date.year())
            })
            .count();
        let number = u32::try_from(issued).unwrap_or(u32::MAX - 1) + 1;
        let connectors: Vec<String> = self
            .vault
            .connectors
            .iter()
            .map(|c| c.name().to_owned())
            .collect();
        Ok(destruction_act::build(
            self.vault.declaration(),
            batch,
            (number, date),
            (&connectors, &self.destructions.webhook_names()),
        ))
    }

    /// Every act issued, newest first (by year, then number).
    pub async fn acts(&self, actor: &Actor) -> Result<Vec<Act>, VaultError> {
        self.vault.authorize(actor, Action::RetentionScan)?;
        let mut acts: Vec<Act> = self
            .vault
            .store()
            .retention_batches(u32::MAX)
            .await?
            .into_iter()
            .filter_map(|b| b.batch.act)
            .collect();
        acts.sort_by_key(|a| std::cmp::Reverse(a.order()));
        Ok(acts)
    }

    /// The act of the batch `id`, signed; `BatchNotFound` when there is no such batch,
    /// `ActNotIssued` while it is not executed.
    pub async fn act(&self, actor: &Actor, id: Uuid) -> Result<SignedAct, VaultError> {
        let batch = self.batch(actor, id).await?.batch;
        let act = batch.act.ok_or(VaultError::ActNotIssued)?;
        Ok(SignedAct {
            signature: signature_of(&self.vault.keys(), &act)?,
            act,
        })
    }
}

/// The act page's templates.
static PAGE: std::sync::LazyLock<crate::render::templates::LangTemplates> =
    std::sync::LazyLock::new(|| crate::render::templates::shipped!("act", "md"));

/// What an act's page shows in one language: the document (`act.<lang>.md`) and the
/// console's page (`act.html`) are made from it.
#[derive(Serialize)]
pub struct ActPage {
    heading: String,
    preamble: &'static str,
    lines: Vec<crate::render::Line>,
    finality: &'static str,
    signatures: Vec<String>,
    batch: Uuid,
}

/// The act's page in `lang`.
pub fn act_page(signed: &SignedAct, lang: Lang) -> ActPage {
    let act = &signed.act;
    ActPage {
        heading: destruction_act::title(act, lang),
        preamble: destruction_act::preamble(act, lang),
        lines: crate::render::lines(destruction_act::lines(act, lang)),
        finality: destruction_act::finality(act, lang),
        signatures: destruction_act::signatures(act, lang),
        batch: act.batch_id,
    }
}

/// The act as a printable page in `lang` (plain HTML, no scripts), from the template
/// `act.<lang>.md` through the one path every document takes.
pub fn act_html(signed: &SignedAct, lang: Lang) -> Result<String, VaultError> {
    let page = act_page(signed, lang);
    crate::render::template_page(lang, "act.md", PAGE.source(lang), &page).map_err(|problem| {
        VaultError::Unavailable(format!(
            "the act page template for `{lang}` cannot be rendered: {problem}"
        ))
    })
}

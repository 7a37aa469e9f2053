//! Signed consent receipts: issued from the ledger, signed with the operator's Ed25519 key, and
//! checked offline against the published key.

use crate::actor::Actor;
use crate::vault::{Vault, VaultError};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::consent::{consent_state, ConsentAction, ConsentEvent, ConsentState};
use derbes_core::receipt::{self, canonical_json, Issue, Receipt, RecordStatus};
use derbes_core::text::Lang;
use derbes_crypto::{key_id_of, verify_signature, KeyRing, PublicKey, SignatureError};
use derbes_store::{StoreError, SubjectRecord, SubjectState};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::Arc;
use uuid::Uuid;

/// Where the operator's receipt keys are published.
pub const RECEIPT_KEYS_PATH: &str = "/.well-known/derbes-receipt-keys.json";

/// A receipt and its signature, as downloaded.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SignedReceipt {
    pub receipt: Receipt,
    pub signature: ReceiptSignature,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptSignature {
    /// `Ed25519`.
    pub alg: String,
    pub key_id: String,
    /// The 32-byte public key, base64url without padding.
    pub public_key: String,
    /// What was signed.
    pub canonicalization: String,
    /// The 64-byte signature, base64url without padding.
    pub value: String,
}

/// The published key set (JWK Set, RFC 7517 with RFC 8037 OKP keys).
pub fn published_keys(keys: &KeyRing) -> Value {
    let p = keys.receipt_signer().public();
    json!({
        "keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": p.key_id,
            "x": p.public_key,
        }]
    })
}

/// The public keys listed in a published key set.
pub fn keys_from_set(set: &Value) -> Result<Vec<PublicKey>, ReceiptCheck> {
    let keys = set
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(ReceiptCheck::KeySet("it has no `keys` array"))?;
    keys.iter()
        .filter(|k| k.get("crv").and_then(Value::as_str) == Some("Ed25519"))
        .map(|k| {
            let x = k
                .get("x")
                .and_then(Value::as_str)
                .ok_or(ReceiptCheck::KeySet("an Ed25519 key has no `x`"))?;
            Ok(PublicKey {
                key_id: k
                    .get("kid")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                public_key: x.to_owned(),
            })
        })
        .collect()
}

/// Why a receipt did not check out. Messages name parts of the receipt, never its contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptCheck {
    #[error("the file is not a derbes consent receipt: {0}")]
    Shape(String),
    #[error("the signature is not valid: {0}")]
    Signature(#[from] SignatureError),
    #[error("the signature's key id does not match its public key")]
    KeyId,
    #[error(
        "the receipt was signed with key {0}, which is not among the operator's published keys"
    )]
    UntrustedKey(String),
    #[error("the key set is not valid: {0}")]
    KeySet(&'static str),
}

/// Checks a downloaded receipt: its shape, that the signature matches the canonical form of the
/// receipt, and that the key is one of `trusted`. Returns the receipt as verified.
pub fn verify_receipt(text: &str, trusted: &[PublicKey]) -> Result<SignedReceipt, ReceiptCheck> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| ReceiptCheck::Shape(format!("not JSON ({e})")))?;
    let body = doc
        .get("receipt")
        .ok_or_else(|| ReceiptCheck::Shape("it has no `receipt`".into()))?;
    let signature: ReceiptSignature = doc
        .get("signature")
        .cloned()
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| ReceiptCheck::Shape(format!("`signature`: {e}")))?
        .ok_or_else(|| ReceiptCheck::Shape("it has no `signature`".into()))?;
    if signature.alg != "Ed25519" || signature.canonicalization != receipt::CANONICALIZATION {
        return Err(ReceiptCheck::Shape(format!(
            "signature algorithm `{}` over `{}` is not what derbes signs with",
            signature.alg, signature.canonicalization
        )));
    }
    let canonical = canonical_json(body).map_err(|e| ReceiptCheck::Shape(e.to_string()))?;
    verify_signature(
        &signature.public_key,
        canonical.as_bytes(),
        &signature.value,
    )?;
    if key_id_of(&signature.public_key).as_deref() != Some(signature.key_id.as_str()) {
        return Err(ReceiptCheck::KeyId);
    }
    if !trusted.iter().any(|k| k.public_key == signature.public_key) {
        return Err(ReceiptCheck::UntrustedKey(signature.key_id));
    }
    let receipt: Receipt = serde_json::from_value(body.clone())
        .map_err(|e| ReceiptCheck::Shape(format!("`receipt`: {e}")))?;
    if receipt.schema != receipt::SCHEMA {
        return Err(ReceiptCheck::Shape(format!(
            "schema `{}` is not `{}`",
            receipt.schema,
            receipt::SCHEMA
        )));
    }
    Ok(SignedReceipt { receipt, signature })
}

/// Signs a receipt with the key ring's receipt key.
fn sign(keys: &KeyRing, receipt: Receipt) -> Result<SignedReceipt, VaultError> {
    Ok(SignedReceipt {
        signature: signature_of(keys, &receipt)?,
        receipt,
    })
}

/// The operator's signature over the canonical JSON of `document` (a receipt, an act of
/// destruction), with the key published at [`RECEIPT_KEYS_PATH`].
pub(crate) fn signature_of<T: Serialize>(
    keys: &KeyRing,
    document: &T,
) -> Result<ReceiptSignature, VaultError> {
    let value = serde_json::to_value(document)
        .map_err(|e| VaultError::Store(StoreError::Corrupt(e.to_string())))?;
    let canonical = canonical_json(&value)
        .map_err(|e| VaultError::Store(StoreError::Corrupt(e.to_string())))?;
    let signer = keys.receipt_signer();
    let public = signer.public();
    Ok(ReceiptSignature {
        alg: "Ed25519".into(),
        key_id: public.key_id,
        public_key: public.public_key,
        canonicalization: receipt::CANONICALIZATION.into(),
        value: signer.sign(canonical.as_bytes()),
    })
}

/// The receipt page's templates (shipped only: a receipt's words are those the signed JSON
/// carries, from core).
static PAGE: std::sync::LazyLock<crate::render::templates::LangTemplates> =
    std::sync::LazyLock::new(|| crate::render::templates::shipped!("receipt", "md"));

/// What a receipt page shows: its title and its lines, in the page's language.
#[derive(Serialize)]
struct ReceiptPage<'a> {
    title: &'a str,
    lines: Vec<crate::render::Line>,
}

/// The receipt as a printable page in `lang` (plain HTML, no scripts, readable on a phone),
/// from the template `receipt.<lang>.md` through the one path every document takes.
pub fn receipt_html(signed: &SignedReceipt, lang: Lang) -> Result<String, VaultError> {
    let r = &signed.receipt;
    let page = ReceiptPage {
        title: receipt::title(r, lang),
        lines: crate::render::lines(receipt::lines(r, lang, &signed.signature.key_id)),
    };
    crate::render::template_page(lang, "receipt.md", PAGE.source(lang), &page).map_err(|problem| {
        VaultError::Unavailable(format!(
            "the receipt page template for `{lang}` cannot be rendered: {problem}"
        ))
    })
}

/// Signed receipts of consent events, which a subject can verify without derbes.
#[derive(Clone)]
pub struct Receipts {
    vault: Arc<Vault>,
}

impl Receipts {
    pub(crate) fn new(vault: Arc<Vault>) -> Self {
        Receipts { vault }
    }

    /// A signed receipt for one event of the subject's consent ledger. The terms are rendered
    /// with the declaration version the consent was given under; the status is the consent's
    /// at this moment. Issuing is audited.
    pub async fn consent_receipt(
        &self,
        actor: &Actor,
        subject_id: Uuid,
        consent_id: Uuid,
    ) -> Result<SignedReceipt, VaultError> {
        let (record, state) = self
            .vault
            .subject_for(
                actor,
                crate::access::Action::ConsentReceipt,
                subject_id,
                None,
            )
            .await?;
        let Some(event) = state
            .consents
            .iter()
            .find(|e| e.id == consent_id && actor.scope.allows(&e.purpose))
            .cloned()
        else {
            return Err(VaultError::ConsentNotFound);
        };
        let signed = self
            .issue_receipts(&record, state, std::slice::from_ref(&event))
            .await?
            .pop()
            .ok_or_else(|| {
                VaultError::Store(StoreError::Backend("no receipt was issued".into()))
            })?;
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), "consent.receipt", Outcome::Allowed)
                    .subject(subject_id)
                    .purpose(&event.purpose)
                    .details(&json!({
                        "consent_id": consent_id,
                        "receipt_id": signed.receipt.receipt_id,
                        "key_id": signed.signature.key_id,
                    })),
            )
            .await?;
        Ok(signed)
    }

    /// Signed receipts for `events` of the subject's ledger, in their order, not audited: the
    /// subject's facts are worked out once, and each earlier declaration is read once.
    pub(crate) async fn issue_receipts(
        &self,
        record: &SubjectRecord,
        state: SubjectState,
        events: &[ConsentEvent],
    ) -> Result<Vec<SignedReceipt>, VaultError> {
        let now = self.vault.now();
        let current = self.vault.declaration();
        let facts = self.vault.facts(record, state, now, None)?;
        let keys = self.vault.keys();
        let key_id = keys.receipt_signer().public().key_id;
        let mut signed = Vec::with_capacity(events.len());
        for event in events {
            let version = match &event.action {
                ConsentAction::Give(g) | ConsentAction::Renew(g) => {
                    g.terms.declaration_version.clone()
                }
                ConsentAction::Withdraw => current.version.clone(),
            };
            // Parsed once per version, in the policy pages' cache.
            let declaration = match self.vault.recorded(&version).await {
                Err(VaultError::NotFound) => Err(VaultError::Store(StoreError::Corrupt(format!(
                    "declaration version `{version}`, under which a consent was given, is not on record"
                )))),
                other => other,
            }?;
            let status = match (
                &event.action,
                consent_state(current, &facts.as_subject_facts(), &event.purpose, now),
            ) {
                (ConsentAction::Withdraw, _) => RecordStatus::Recorded,
                (_, ConsentState::Holding(e, _)) if e.id == event.id => RecordStatus::Active,
                (_, ConsentState::Holding(..)) => RecordStatus::Superseded,
                (_, ConsentState::Withdrawn { .. }) => RecordStatus::Withdrawn,
                (_, ConsentState::Expired { .. }) => RecordStatus::Expired,
                (_, ConsentState::None) => RecordStatus::Withdrawn,
            };
            let receipt = receipt::build(&Issue {
                declaration: &declaration,
                event,
                status,
                receipt_id: Uuid::now_v7(),
                issued_at: now,
                key_id: &key_id,
            })
            .ok_or_else(|| {
                VaultError::Store(StoreError::Corrupt(format!(
                    "declaration version `{version}` does not declare the consent's purpose"
                )))
            })?;
            signed.push(sign(&keys, receipt)?);
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_list_ed25519_keys_and_explain_bad_ones() {
        let ring = KeyRing::generate().unwrap_or_else(|e| panic!("{e}"));
        let keys = keys_from_set(&published_keys(&ring)).unwrap_or_default();
        assert_eq!(keys, vec![ring.receipt_signer().public()]);
        assert_eq!(
            keys_from_set(&json!({ "k": [] })),
            Err(ReceiptCheck::KeySet("it has no `keys` array"))
        );
        assert_eq!(
            keys_from_set(&json!({ "keys": [{ "crv": "Ed25519" }] })),
            Err(ReceiptCheck::KeySet("an Ed25519 key has no `x`"))
        );
    }
}

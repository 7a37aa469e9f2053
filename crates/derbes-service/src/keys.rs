//! The key ring over time: data keys rewrapped under a new key-encryption key, and rotations
//! and retirements recorded in the audit trail.

use crate::vault::{Vault, VaultError};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_crypto::WrappedKey;
use derbes_store::{Applied, KeyOwner, KeyRecord, Page, StoreError, WriteOp};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// The key ring's use over the stored data: how many data keys each key-encryption key wraps, and rewrapping them after a rotation.
#[derive(Clone)]
pub struct Keys {
    vault: Arc<Vault>,
}

impl Keys {
    pub(crate) fn new(vault: Arc<Vault>) -> Self {
        Keys { vault }
    }

    /// How many data keys each key-encryption key version wraps.
    pub async fn key_versions(&self) -> Result<std::collections::BTreeMap<u32, u64>, StoreError> {
        self.vault.store().key_versions().await
    }

    /// Rewraps the data key of every subject after `after` (in id order; all when `None`), then
    /// of every data-subject request and of every running batch's pseudonym key, under the key
    /// ring's current KEK. Returns how many were
    /// rewrapped. `progress` is called with the running count.
    pub async fn rewrap_all(
        &self,
        after: Option<Uuid>,
        mut progress: impl FnMut(u64),
    ) -> Result<u64, VaultError> {
        let mut total = 0u64;
        for (owner, start) in [
            (KeyOwner::Subject, after),
            (KeyOwner::Request, None),
            (KeyOwner::Pseudonym, None),
        ] {
            total = self
                .rewrap_owner(owner, start, total, &mut progress)
                .await?;
        }
        Ok(total)
    }

    pub(crate) async fn rewrap_owner(
        &self,
        owner: KeyOwner,
        mut after: Option<Uuid>,
        mut total: u64,
        progress: &mut impl FnMut(u64),
    ) -> Result<u64, VaultError> {
        let keys = self.vault.keys();
        let current = keys.current_version();
        loop {
            let page = self
                .vault
                .store()
                .keys_page(owner, Page::after(after, 1000))
                .await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let mut batch: Vec<(KeyRecord, Vec<u8>, u32)> = Vec::with_capacity(page.len());
            for k in page.into_iter().filter(|k| k.kek_version != current) {
                let dk = keys.unwrap(
                    &WrappedKey {
                        kek_version: k.kek_version,
                        bytes: k.dek.clone(),
                    },
                    &k.id,
                    k.dek_generation,
                )?;
                let w = keys.wrap(&dk, &k.id, k.dek_generation)?;
                batch.push((k, w.bytes, w.kek_version));
            }
            if !batch.is_empty() {
                if let Applied::Rewrapped { count } = self
                    .vault
                    .store()
                    .write(WriteOp::Rewrap {
                        keys: batch,
                        audit: None,
                    })
                    .await?
                {
                    total += count;
                }
            }
            progress(total);
        }
        Ok(total)
    }

    /// Records key versions retired from the key file.
    pub async fn record_retirement(
        &self,
        actor_name: &str,
        retired: &[u32],
        rewrapped: u64,
    ) -> Result<(), VaultError> {
        self.vault
            .store()
            .write(WriteOp::Audit(vec![AuditDraft::new(
                actor_name,
                "keys.retire",
                Outcome::Ok,
            )
            .details(&json!({
                "retired": retired,
                "current": self.vault.keys().current_version(),
                "rewrapped": rewrapped
            }))]))
            .await?;
        Ok(())
    }

    /// Records a finished key rotation: the current key version and how many data keys were
    /// rewrapped under it.
    pub async fn record_rotation(
        &self,
        actor_name: &str,
        rewrapped: u64,
    ) -> Result<(), VaultError> {
        let kek_version = self.vault.keys().current_version();
        self.vault
            .store()
            .write(WriteOp::Audit(vec![AuditDraft::new(
                actor_name,
                "keys.rotate",
                Outcome::Ok,
            )
            .details(
                &json!({ "kek_version": kek_version, "rewrapped": rewrapped }),
            )]))
            .await?;
        Ok(())
    }
}

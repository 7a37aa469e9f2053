//! Wrapped data keys, on PostgreSQL.

use super::*;
use crate::KeyStore;
use crate::Page;

impl Writer {
    pub(super) async fn rewrap(
        &mut self,
        keys: Vec<(KeyRecord, Vec<u8>, u32)>,
        audit: Option<AuditDraft>,
    ) -> Result<Applied, StoreError> {
        let mut count = 0u64;
        for (old, dek, kek_version) in keys {
            let (new_version, old_version) = (to_i32(kek_version)?, to_i32(old.kek_version)?);
            count += match old.owner {
                KeyOwner::Subject => {
                    let generation = to_i32(old.dek_generation)?;
                    self.execute(
                        "UPDATE subject_keys SET dek = $1, kek_version = $2 WHERE subject_id = $3 AND kek_version = $4 AND dek_generation = $5",
                        &[&dek, &new_version, &old.id, &old_version, &generation],
                    )
                    .await?
                }
                KeyOwner::Request => {
                    self.execute(
                        "UPDATE requests SET dek = $1, kek_version = $2 WHERE id = $3 AND kek_version = $4",
                        &[&dek, &new_version, &old.id, &old_version],
                    )
                    .await?
                }
                KeyOwner::Pseudonym => {
                    self.execute(
                        "UPDATE pseudonym_keys SET dek = $1, kek_version = $2 WHERE batch_id = $3 AND kek_version = $4",
                        &[&dek, &new_version, &old.id, &old_version],
                    )
                    .await?
                }
            };
        }
        if let Some(a) = audit {
            self.append(a);
        }
        Ok(Applied::Rewrapped { count })
    }
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn keys_page(&self, owner: KeyOwner, page: Page) -> Result<Vec<KeyRecord>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached(match owner {
                KeyOwner::Subject => "SELECT subject_id, dek_generation, dek, kek_version FROM subject_keys WHERE subject_id > $1 ORDER BY subject_id LIMIT $2",
                KeyOwner::Request => "SELECT id, 1, dek, kek_version FROM requests WHERE id > $1 ORDER BY id LIMIT $2",
                KeyOwner::Pseudonym => "SELECT batch_id, 1, dek, kek_version FROM pseudonym_keys WHERE batch_id > $1 ORDER BY batch_id LIMIT $2",
            })
            .await?;
        c.query(&s, &[&page.start(), &i64::from(page.limit)])
            .await?
            .iter()
            .map(|r| {
                Ok(KeyRecord {
                    owner,
                    id: r.get(0),
                    dek_generation: to_u32(r.get(1))?,
                    dek: r.get(2),
                    kek_version: to_u32(r.get(3))?,
                })
            })
            .collect()
    }

    async fn key_versions(&self) -> Result<std::collections::BTreeMap<u32, u64>, StoreError> {
        let c = self.client().await?;
        let mut out = std::collections::BTreeMap::new();
        for r in c
            .query(
                "SELECT kek_version, count(*) FROM subject_keys GROUP BY kek_version
                 UNION ALL SELECT kek_version, count(*) FROM requests GROUP BY kek_version
                 UNION ALL SELECT kek_version, count(*) FROM pseudonym_keys GROUP BY kek_version",
                &[],
            )
            .await?
        {
            let n: i64 = r.get(1);
            *out.entry(to_u32(r.get(0))?).or_insert(0) += u64::try_from(n).unwrap_or(0);
        }
        Ok(out)
    }
}

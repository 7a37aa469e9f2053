//! Recorded declaration versions, on PostgreSQL.

use super::*;
use crate::DeclarationStore;

impl Writer {
    pub(super) async fn record_declaration(
        &mut self,
        version: String,
        content_hash: String,
        content: String,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let existing: Option<String> = self
            .query_opt(
                "SELECT content_hash FROM declarations WHERE version = $1",
                &[&version],
            )
            .await?
            .map(|r| r.get(0));
        let new = match existing {
            Some(h) if h == content_hash => false,
            Some(_) => return Err(StoreError::DeclarationChanged { version }),
            None => {
                self.execute("INSERT INTO declarations (version, content_hash, content, recorded_at) VALUES ($1, $2, $3, $4)", &[&version, &content_hash, &content, &now()])
                    .await?;
                self.append(audit);
                true
            }
        };
        let in_force: Option<String> = self
            .query_opt(
                "SELECT version FROM declaration_in_force WHERE id = 1 FOR UPDATE",
                &[],
            )
            .await?
            .map(|r| r.get(0));
        if in_force.as_deref() != Some(version.as_str()) {
            // Another declaration is in force: the age of majority, or where birth dates come
            // from, may have changed, so every month of majority is worked out again.
            self.execute(
                "INSERT INTO reconfirmations_unsettled (subject_id) \
                 SELECT DISTINCT subject_id FROM consent_events ON CONFLICT DO NOTHING",
                &[],
            )
            .await?;
            self.execute(
                "INSERT INTO declaration_in_force (id, version) VALUES (1, $1) \
                 ON CONFLICT (id) DO UPDATE SET version = excluded.version",
                &[&version],
            )
            .await?;
        }
        Ok(Applied::DeclarationRecorded { new })
    }
}

#[async_trait]
impl DeclarationStore for PostgresStore {
    async fn declarations(&self) -> Result<Vec<(String, String, String)>, StoreError> {
        let c = self.client().await?;
        Ok(c.query(
            "SELECT version, content_hash, recorded_at FROM declarations ORDER BY recorded_at, version",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect())
    }

    async fn declaration(&self, version: &str) -> Result<Option<(String, String)>, StoreError> {
        let c = self.client().await?;
        Ok(c.query_opt(
            "SELECT content_hash, content FROM declarations WHERE version = $1",
            &[&version],
        )
        .await?
        .map(|r| (r.get(0), r.get(1))))
    }
}

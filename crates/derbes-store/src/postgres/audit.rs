//! The audit chain: reads, and archiving its oldest events, on PostgreSQL.

use super::*;
use crate::AuditStore;

impl Writer {
    pub(super) async fn archive_audit(
        &mut self,
        segment: derbes_core::audit::Segment,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let held = crate::chain::Held {
            last_segment: self
                .query_opt(
                    "SELECT n, first_seq, last_seq, prev_hash, hash, digest, at, legacy_until, signature
                     FROM audit_segments ORDER BY n DESC LIMIT 1",
                    &[],
                )
                .await?
                .as_ref()
                .map(segment_from_row)
                .transpose()?,
            first: self
                .query_one("SELECT min(seq) FROM audit_events", &[])
                .await?
                .get(0),
            hash_at_last: self
                .query_opt(
                    "SELECT hash FROM audit_events WHERE seq = $1",
                    &[&segment.last],
                )
                .await?
                .and_then(|r| r.get::<_, Vec<u8>>(0).try_into().ok()),
            last_checkpoint: self
                .query_opt(
                    "SELECT seq FROM audit_checkpoints ORDER BY n DESC LIMIT 1",
                    &[],
                )
                .await?
                .map_or(0, |r| r.get(0)),
            head: self.head.0,
        };
        crate::chain::check_archivable(&segment, &held, self.chain.keys.as_ref())?;
        self.execute(
            "INSERT INTO audit_segments (n, first_seq, last_seq, prev_hash, hash, digest, at, legacy_until, signature)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &segment.n,
                &segment.first,
                &segment.last,
                &&segment.prev[..],
                &&segment.hash[..],
                &&segment.digest[..],
                &segment.at,
                &segment.legacy_until,
                &segment.signature,
            ],
        )
        .await?;
        self.execute("DELETE FROM audit_events WHERE seq <= $1", &[&segment.last])
            .await?;
        self.append(audit);
        Ok(Applied::Audited)
    }

    pub(super) async fn audit(&mut self, drafts: Vec<AuditDraft>) -> Result<Applied, StoreError> {
        for d in drafts {
            self.append(d);
        }
        Ok(Applied::Audited)
    }
}

#[async_trait]
impl AuditStore for PostgresStore {
    async fn subject_audit(
        &self,
        id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        events_of(
            &self.rows(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE subject_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ), &[&id.to_string(), &after_seq, &i64::from(limit)])
                .await?,
        )
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        events_of(
            &self
                .rows(
                    &format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2"
            ),
                    &[&after_seq, &i64::from(limit)],
                )
                .await?,
        )
    }

    async fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        let c = self.client().await?;
        c.query_opt("SELECT seq, hash, mac FROM audit_head WHERE id = 1", &[])
            .await?
            .map(|r| {
                let hash: Vec<u8> = r.get(1);
                Ok(AuditHead {
                    seq: r.get(0),
                    hash: hash.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt("the signed head's hash is not 32 bytes long".into())
                    })?,
                    mac: r.get(2),
                })
            })
            .transpose()
    }

    async fn audit_event(&self, seq: i64) -> Result<Option<AuditEvent>, StoreError> {
        Ok(events_of(
            &self
                .rows(
                    &format!("SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq = $1"),
                    &[&seq],
                )
                .await?,
        )?
        .pop())
    }

    async fn checkpoints(&self, after: i64, limit: u32) -> Result<Vec<Checkpoint>, StoreError> {
        self.rows(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE n > $1 ORDER BY n LIMIT $2"
            ), &[&after, &i64::from(limit)])
            .await?
            .iter()
            .map(checkpoint_from_row)
            .collect()
    }

    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let c = self.client().await?;
        c.query_opt(
            &format!("SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints ORDER BY n DESC LIMIT 1"),
            &[],
        )
        .await?
        .as_ref()
        .map(checkpoint_from_row)
        .transpose()
    }

    async fn audit_segments(&self) -> Result<Vec<Segment>, StoreError> {
        self.rows(
            &format!("SELECT {SEGMENT_COLUMNS} FROM audit_segments ORDER BY n"),
            &[],
        )
        .await?
        .iter()
        .map(segment_from_row)
        .collect()
    }

    async fn legacy_head(&self) -> Result<Option<(i64, String, String)>, StoreError> {
        let c = self.client().await?;
        Ok(
            c.query_opt("SELECT seq, hash, mac FROM audit_head_v1 WHERE id = 1", &[])
                .await?
                .map(|r| (r.get(0), r.get(1), r.get(2))),
        )
    }
}

//! The audit chain: reads, and archiving its oldest events, on SQLite.

use super::*;
use crate::AuditStore;

pub(super) fn archive_audit(
    tx: &mut Tx<'_>,
    segment: derbes_core::audit::Segment,
    audit: AuditDraft,
) -> Result<Applied, StoreError> {
    let conn = tx.conn;
    let held = crate::chain::Held {
        last_segment: segments(conn)?.pop(),
        first: conn
            .prepare_cached("SELECT min(seq) FROM audit_events")?
            .query_row([], |r| r.get(0))?,
        hash_at_last: events_from(conn, segment.last, 1)?
            .into_iter()
            .find(|e| e.seq == segment.last)
            .map(|e| e.hash),
        last_checkpoint: last_checkpoint(conn)?.map_or(0, |c| c.seq),
        head: tx.head.seq,
    };
    crate::chain::check_archivable(&segment, &held, tx.keys)?;
    conn.prepare_cached(&format!(
        "INSERT INTO audit_segments ({SEGMENT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
    ))?
    .execute(params![
        segment.n,
        segment.first,
        segment.last,
        &segment.prev[..],
        &segment.hash[..],
        &segment.digest[..],
        segment.at,
        segment.legacy_until,
        segment.signature
    ])?;
    conn.prepare_cached("DELETE FROM audit_events WHERE seq <= ?1")?
        .execute([segment.last])?;
    tx.append(audit)?;
    Ok(Applied::Audited)
}

pub(super) fn audit(tx: &mut Tx<'_>, drafts: Vec<AuditDraft>) -> Result<Applied, StoreError> {
    for d in drafts {
        tx.append(d)?;
    }
    Ok(Applied::Audited)
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn subject_audit(
        &self,
        id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(move |c| subject_events(c, &id.to_string(), after_seq, limit))
            .await
    }

    async fn audit_page(&self, after_seq: i64, limit: u32) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {EVENT_COLUMNS} FROM audit_events WHERE seq > ?1 ORDER BY seq LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after_seq, limit], raw_event)?;
            crate::events(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
    }

    async fn audit_head(&self) -> Result<Option<AuditHead>, StoreError> {
        self.read(|c| {
            c.query_row(
                "SELECT seq, hash, mac FROM audit_head WHERE id = 1",
                [],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, Vec<u8>>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                    ))
                },
            )
            .optional()?
            .map(|(seq, hash, mac)| {
                Ok(AuditHead {
                    seq,
                    hash: hash.as_slice().try_into().map_err(|_| {
                        StoreError::Corrupt("the signed head's hash is not 32 bytes long".into())
                    })?,
                    mac,
                })
            })
            .transpose()
        })
        .await
    }

    async fn audit_event(&self, seq: i64) -> Result<Option<AuditEvent>, StoreError> {
        self.read(move |c| Ok(events_from(c, seq, 1)?.into_iter().find(|e| e.seq == seq)))
            .await
    }

    async fn checkpoints(&self, after: i64, limit: u32) -> Result<Vec<Checkpoint>, StoreError> {
        self.read(move |c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {CHECKPOINT_COLUMNS} FROM audit_checkpoints WHERE n > ?1 ORDER BY n LIMIT ?2"
            ))?;
            let rows = stmt.query_map(params![after, limit], checkpoint_row)?;
            rows.map(|r| crate::checkpoint_of(r?)).collect()
        })
        .await
    }

    async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        self.read(last_checkpoint).await
    }

    async fn audit_segments(&self) -> Result<Vec<Segment>, StoreError> {
        self.read(segments).await
    }

    async fn legacy_head(&self) -> Result<Option<(i64, String, String)>, StoreError> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT seq, hash, mac FROM audit_head_v1 WHERE id = 1",
                [],
                |r| r.try_into(),
            )
            .optional()?)
        })
        .await
    }
}

//! The last retention scan, on SQLite.

use super::*;
use crate::retention_scans::KeptScan;
use crate::RetentionScanStore;

/// Replaces the scan kept.
pub(super) fn keep(conn: &Connection, scan: &KeptScan) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO retention_scans (id, made_at, report) VALUES (1, ?1, ?2)
         ON CONFLICT (id) DO UPDATE SET made_at = excluded.made_at, report = excluded.report",
    )?
    .execute(params![At(scan.made_at), scan.report])?;
    Ok(())
}

#[async_trait]
impl RetentionScanStore for SqliteStore {
    async fn latest_retention_scan(&self) -> Result<Option<KeptScan>, StoreError> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT made_at, report FROM retention_scans WHERE id = 1")?
                    .query_row([], |r| {
                        Ok(KeptScan {
                            made_at: r.get::<_, At>(0)?.0,
                            report: r.get(1)?,
                        })
                    })
                    .optional()?,
            )
        })
        .await
    }
}

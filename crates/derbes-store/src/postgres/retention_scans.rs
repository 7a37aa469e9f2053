//! The last retention scan, on PostgreSQL.

use super::*;
use crate::retention_scans::KeptScan;
use crate::RetentionScanStore;

impl Writer {
    /// Replaces the scan kept.
    pub(super) async fn keep_retention_scan(&mut self, scan: &KeptScan) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO retention_scans (id, made_at, report) VALUES (1, $1, $2)
             ON CONFLICT (id) DO UPDATE SET made_at = excluded.made_at, report = excluded.report",
            &[&At(scan.made_at), &scan.report],
        )
        .await?;
        Ok(())
    }
}

#[async_trait]
impl RetentionScanStore for PostgresStore {
    async fn latest_retention_scan(&self) -> Result<Option<KeptScan>, StoreError> {
        let rows = self
            .rows(
                "SELECT made_at, report FROM retention_scans WHERE id = 1",
                &[],
            )
            .await?;
        rows.first()
            .map(|r| {
                Ok(KeptScan {
                    made_at: r.try_get::<_, At>(0)?.0,
                    report: r.try_get(1)?,
                })
            })
            .transpose()
    }
}

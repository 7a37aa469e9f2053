//! Data-subject requests, on PostgreSQL.

use super::*;
use crate::RequestStore;
use crate::{code_of, JobWrite, WebhookStatus};

pub(super) fn request_from_row(r: &Row) -> Result<RequestRecord, StoreError> {
    Ok(RequestRecord {
        id: r.get(0),
        subject_id: r.get(1),
        kind: code_of("a request's kind", r.get::<_, &str>(2))?,
        status: code_of("a request's status", r.get::<_, &str>(3))?,
        open: r.get(4),
        received_at: r.try_get::<_, At>(5)?.0,
        due_at: r.try_get::<_, At>(6)?.0,
        dek: r.get(7),
        kek_version: to_u32(r.get(8))?,
        version: r.get(9),
        updated_at: r.try_get::<_, At>(10)?.0,
        body: r.get(11),
        category: r.get(12),
    })
}

impl Writer {
    pub(super) async fn file_request(
        &mut self,
        r: RequestRecord,
        refuse_duplicate: bool,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        if refuse_duplicate {
            if let Some(row) = self
                .query_opt(
                    "SELECT id FROM requests WHERE subject_id = $1 AND kind = $2 AND open LIMIT 1",
                    &[&r.subject_id, &r.kind.code()],
                )
                .await?
            {
                return Err(StoreError::DuplicateRequest {
                    existing: row.get(0),
                });
            }
        }
        self.execute("INSERT INTO requests (id, subject_id, kind, status, open, received_at, due_at, dek, kek_version, version, updated_at, body, category) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", &[
                    &r.id,
                    &r.subject_id,
                    &r.kind.code(),
                    &r.status.code(),
                    &r.open,
                    &At(r.received_at),
                    &At(r.due_at),
                    &r.dek,
                    &to_i32(r.kek_version)?,
                    &r.version,
                    &At(r.updated_at),
                    &r.body,
                    &r.category,
                ],
            )
            .await?;
        self.append(audit);
        Ok(Applied::RequestFiled)
    }

    pub(super) async fn update_request(
        &mut self,
        r: RequestRecord,
        audit: Vec<AuditDraft>,
        jobs: Vec<JobWrite>,
    ) -> Result<Applied, StoreError> {
        let changed = self.execute("UPDATE requests SET status = $2, open = $3, due_at = $4, version = $5, updated_at = $6, body = $7 WHERE id = $1 AND version = $8", &[
                    &r.id,
                    &r.status.code(),
                    &r.open,
                    &At(r.due_at),
                    &r.version,
                    &At(r.updated_at),
                    &r.body,
                    &(r.version - 1),
                ],
            )
            .await?;
        if changed == 0 {
            let exists = self
                .query_opt("SELECT 1 FROM requests WHERE id = $1", &[&r.id])
                .await?
                .is_some();
            return Err(if exists {
                StoreError::VersionConflict
            } else {
                StoreError::NotFound
            });
        }
        for w in &jobs {
            let status: Option<String> = self
                .query_opt(
                    "SELECT status FROM webhook_jobs WHERE id = $1 FOR UPDATE",
                    &[&w.job.id],
                )
                .await?
                .map(|r| r.get(0));
            if status.as_deref() != w.expect.map(WebhookStatus::code) {
                return Err(StoreError::JobChanged);
            }
            self.put_job(&w.job).await?;
        }
        for d in audit {
            self.append(d);
        }
        Ok(Applied::RequestUpdated)
    }
}

#[async_trait]
impl RequestStore for PostgresStore {
    async fn request(&self, id: Uuid) -> Result<Option<RequestRecord>, StoreError> {
        self.row(
            &format!("SELECT {REQUEST_COLUMNS} FROM requests WHERE id = $1"),
            &[&id],
        )
        .await?
        .map(|r| request_from_row(&r))
        .transpose()
    }

    async fn requests(&self, query: RequestQuery) -> Result<Vec<RequestRecord>, StoreError> {
        let (sql, params) = query.sql(|n| format!("${n}"), "true");
        let values: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>> = params
            .into_iter()
            .map(|p| -> Box<dyn tokio_postgres::types::ToSql + Sync + Send> {
                match p {
                    Param::Text(t) => Box::new(t),
                    Param::Id(id) => Box::new(id),
                    Param::Int(i) => Box::new(i),
                }
            })
            .collect();
        let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = values
            .iter()
            .map(|v| v.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
            .collect();
        self.rows(&sql, &refs)
            .await?
            .iter()
            .map(request_from_row)
            .collect()
    }
}

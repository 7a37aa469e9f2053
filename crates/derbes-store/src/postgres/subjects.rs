//! Subjects and their blind-index entries, on PostgreSQL.

use super::*;
use crate::SubjectStore;

pub(super) async fn subject_row(
    c: &deadpool_postgres::Object,
    id: Uuid,
) -> Result<Option<SubjectRecord>, StoreError> {
    let s = c
        .prepare_cached(
            "SELECT s.category, k.dek, k.kek_version, k.dek_generation, s.fields, s.version, s.created_at, s.updated_at, s.field_collected
             FROM subjects s JOIN subject_keys k ON k.subject_id = s.id WHERE s.id = $1",
        )
        .await?;
    let Some(r) = c.query_opt(&s, &[&id]).await? else {
        return Ok(None);
    };
    let fields: Vec<u8> = r.get(4);
    Ok(Some(SubjectRecord {
        id,
        category: r.get(0),
        dek: r.get(1),
        kek_version: to_u32(r.get(2))?,
        dek_generation: to_u32(r.get(3))?,
        fields: decode_fields(&fields).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        version: r.get(5),
        created_at: r.try_get::<_, At>(6)?.0,
        updated_at: r.try_get::<_, At>(7)?.0,
        field_collected: collected_from_column(r.get::<_, Option<&str>>(8))?,
    }))
}

impl Writer {
    pub(super) async fn create_subject(
        &mut self,
        r: SubjectRecord,
        index: Vec<IndexEntry>,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        self.check_unique(&r.id, &r.category, &index).await?;
        // The subject and its blind-index entries in one statement.
        let fields = encode_fields(&r.fields).map_err(|e| StoreError::Backend(e.to_string()))?;
        let index_fields: Vec<&str> = index.iter().map(|e| e.field.as_str()).collect();
        let digests: Vec<&[u8]> = index.iter().map(|e| &e.digest[..]).collect();
        self.execute("WITH subject AS (
                     INSERT INTO subjects (id, category, fields, version, created_at, updated_at, field_collected)
                     VALUES ($1, $2, $6, $7, $8, $9, $12)),
                 key AS (
                     INSERT INTO subject_keys (subject_id, dek, kek_version, dek_generation)
                     VALUES ($1, $3, $4, $5))
                 INSERT INTO blind_index (field, digest, category, subject_id)
                 SELECT field, digest, $2, $1 FROM unnest($10::text[], $11::bytea[]) AS e(field, digest)", &[
                    &r.id,
                    &r.category,
                    &r.dek,
                    &to_i32(r.kek_version)?,
                    &to_i32(r.dek_generation)?,
                    &fields,
                    &r.version,
                    &At(r.created_at),
                    &At(r.updated_at),
                    &index_fields,
                    &digests,
                    &collected_column(&r.field_collected)?,
                ],
            )
            .await?;
        self.append(audit);
        Ok(Applied::Created)
    }

    pub(super) async fn update_subject(
        &mut self,
        id: Uuid,
        expected_version: i64,
        (fields, collected): Rewritten,
        index: Vec<IndexEntry>,
        audit: AuditDraft,
    ) -> Result<Applied, StoreError> {
        let category: String = self
            .query_opt("SELECT category FROM subjects WHERE id = $1", &[&id])
            .await?
            .ok_or(StoreError::NotFound)?
            .get(0);
        self.check_unique(&id, &category, &index).await?;
        let blob = encode_fields(&fields).map_err(|e| StoreError::Backend(e.to_string()))?;
        if self.execute("UPDATE subjects SET fields = $1, version = version + 1, updated_at = $2, field_collected = $5 WHERE id = $3 AND version = $4", &[&blob, &now(), &id, &expected_version, &collected_column(&collected)?])
            .await?
            == 0
        {
            return Err(StoreError::VersionConflict);
        }
        self.execute("DELETE FROM blind_index WHERE subject_id = $1", &[&id])
            .await?;
        self.insert_index(&id, &category, &index).await?;
        // The birth date may have changed: the months of majority are worked out again.
        self.execute(
            "INSERT INTO reconfirmations_unsettled (subject_id) SELECT $1 \
             WHERE EXISTS (SELECT 1 FROM consent_events WHERE subject_id = $1) ON CONFLICT DO NOTHING",
            &[&id],
        )
        .await?;
        self.append(audit);
        Ok(Applied::Updated {
            version: expected_version + 1,
        })
    }
}

#[async_trait]
impl SubjectStore for PostgresStore {
    async fn subject(&self, id: Uuid) -> Result<Option<SubjectRecord>, StoreError> {
        subject_row(&self.client().await?, id).await
    }

    async fn held(&self, ids: Vec<Uuid>) -> Result<std::collections::HashSet<Uuid>, StoreError> {
        let c = self.client().await?;
        let s = c
            .prepare_cached("SELECT id FROM subjects WHERE id = ANY($1)")
            .await?;
        let mut held = std::collections::HashSet::new();
        for chunk in ids.chunks(5000) {
            for row in c.query(&s, &[&chunk]).await? {
                held.insert(row.get(0));
            }
        }
        Ok(held)
    }

    async fn lookup(
        &self,
        field: &str,
        digest: &[u8; 32],
    ) -> Result<Vec<(Uuid, String)>, StoreError> {
        Ok(self.rows("SELECT subject_id, category FROM blind_index WHERE field = $1 AND digest = $2 ORDER BY category", &[&field, &&digest[..]])
            .await?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    async fn count_subjects(&self) -> Result<u64, StoreError> {
        let c = self.client().await?;
        let n: i64 = c
            .query_one("SELECT COUNT(*) FROM subjects", &[])
            .await?
            .get(0);
        Ok(n.unsigned_abs())
    }

    async fn subjects_with_clear_notes(&self) -> Result<Vec<Uuid>, StoreError> {
        // A sealed note is `"sealed_note":`; a clear one `"note":`, quote included.
        let rows = self
            .client()
            .await?
            .query(
                "SELECT subject_id FROM subject_flags WHERE flag LIKE '%\"note\":%' UNION SELECT subject_id FROM obligations WHERE obligation LIKE '%\"note\":%'",
                &[],
            )
            .await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn rewrite_flag_tables(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .batch_execute("VACUUM (FULL) subject_flags, obligations")
            .await?;
        Ok(())
    }
}

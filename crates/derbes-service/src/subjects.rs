//! Subjects: created with their fields sealed and indexed, read for a purpose (only the
//! fields it may use), rectified, looked up by an identifier, each decided by core and audited.

use crate::access::Action;
use crate::actor::Actor;
use crate::vault::{
    check_names, list, PreparedSubject, Vault, VaultError, DEK_GENERATION, UPDATE_ATTEMPTS,
};
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::decision::{decide, decide_read, may_write_field, DenyReason, ReadQuery};
use derbes_core::declaration::LegalBasis;
use derbes_core::validate::{check_values, FieldProblem};
use derbes_crypto::{CryptoError, DataKey};
use derbes_store::{Applied, IndexEntry, StoreError, SubjectRecord, WriteOp};
use serde_json::json;
use std::sync::Arc;
use uuid::Uuid;

/// A subject as returned by a read: only the fields the purpose allows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubjectView {
    pub id: Uuid,
    pub category: String,
    pub purpose: String,
    pub legal_basis: LegalBasis,
    /// The consent the read rests on, for a consent-based purpose.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent_id: Option<Uuid>,
    /// The consent was given by a representative and the subject has since come of age: ask
    /// the subject to confirm it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub confirmation_due: bool,
    pub fields: indexmap::IndexMap<String, String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Created {
    pub id: Uuid,
    pub category: String,
    pub fields: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Rectified {
    pub id: Uuid,
    pub version: i64,
    pub changed: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Match {
    pub id: Uuid,
    pub category: String,
}

/// A subject's sealed fields after a rectification, the keyed fingerprints of each change (old
/// and new), and the names of the fields that changed.
type Changes = (
    Vec<(String, Vec<u8>)>,
    serde_json::Map<String, serde_json::Value>,
    Vec<String>,
);

/// Subjects: created, read for a purpose, rectified and found, every field sealed and every step audited.
#[derive(Clone)]
pub struct Subjects {
    vault: Arc<Vault>,
}

impl Subjects {
    pub(crate) fn new(vault: Arc<Vault>) -> Self {
        Subjects { vault }
    }

    /// Writes a subject prepared by [`Vault::prepare_subject`], with its audit event (the bulk
    /// import's path: many prepared in parallel, written as they come).
    pub async fn write_prepared(&self, prepared: PreparedSubject) -> Result<Applied, StoreError> {
        self.vault.store().write(prepared.into()).await
    }

    /// Whether a subject of `category` already has this blind-index entry (a bulk import refuses
    /// the row before writing anything).
    pub async fn category_holds(
        &self,
        category: &str,
        entry: &IndexEntry,
    ) -> Result<bool, StoreError> {
        Ok(self
            .vault
            .store()
            .lookup(&entry.field, &entry.digest)
            .await?
            .iter()
            .any(|(_, c)| c == category))
    }

    /// How many subjects the store holds.
    pub async fn count_subjects(&self) -> Result<u64, StoreError> {
        self.vault.store().count_subjects().await
    }

    pub(crate) fn index_entries(&self, values: &[(String, String)]) -> Vec<IndexEntry> {
        let keys = self.vault.keys();
        values
            .iter()
            .filter(|(k, _)| self.vault.declaration().field(k).is_some_and(|f| f.lookup))
            .map(|(k, v)| IndexEntry {
                field: k.clone(),
                digest: keys.blind_index(k, v),
            })
            .collect()
    }

    /// Fields among `keys` the actor may not write for a subject of `category`.
    pub(crate) fn unwritable(
        &self,
        actor: &Actor,
        category: &str,
        keys: impl Iterator<Item = String>,
    ) -> Vec<String> {
        keys.filter(|k| {
            self.vault.declaration().field(k).is_some()
                && !may_write_field(self.vault.declaration(), &actor.scope, category, k)
        })
        .collect()
    }

    /// Prepares a new subject (validated, sealed, indexed) without storing it: the same path for
    /// the API and for bulk import.
    pub fn prepare_subject(
        &self,
        actor_name: &str,
        category: &str,
        values: Vec<(String, Option<String>)>,
    ) -> Result<PreparedSubject, VaultError> {
        if !self
            .vault
            .declaration()
            .subject_categories
            .contains_key(category)
        {
            return Err(VaultError::UnknownCategory(category.to_owned()));
        }
        let mut seen = std::collections::HashSet::new();
        let mut problems: Vec<FieldProblem> = values
            .iter()
            .filter(|(k, _)| !seen.insert(k.clone()))
            .map(|(k, _)| FieldProblem {
                field: k.clone(),
                message: format!("field `{k}` is given twice"),
                reason: None,
            })
            .collect();
        problems.extend(
            values
                .iter()
                .filter(|(_, v)| v.is_none())
                .map(|(k, _)| FieldProblem {
                    field: k.clone(),
                    message: format!("`{k}` is null; leave the field out instead"),
                    reason: None,
                }),
        );
        if !problems.is_empty() {
            return Err(VaultError::Validation(problems));
        }
        let normalized: Vec<(String, String)> = check_values(
            self.vault.declaration(),
            category,
            values,
            self.vault.now().date(),
        )
        .map_err(VaultError::Validation)?
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect();
        if normalized.is_empty() {
            return Err(VaultError::Invalid(
                "a subject needs at least one field".into(),
            ));
        }
        let id = Uuid::now_v7();
        let dk = DataKey::generate()?;
        let wrapped = self.vault.keys().wrap(&dk, &id, DEK_GENERATION)?;
        let fields = normalized
            .iter()
            .map(|(k, v)| Ok((k.clone(), dk.seal(&id, DEK_GENERATION, k, v.as_bytes())?)))
            .collect::<Result<Vec<_>, CryptoError>>()?;
        let names: Vec<&str> = normalized.iter().map(|(k, _)| k.as_str()).collect();
        let now = self.vault.now();
        Ok(PreparedSubject {
            index: self.index_entries(&normalized),
            audit: AuditDraft::new(actor_name, "subject.create", Outcome::Ok)
                .subject(id)
                .fields(&names),
            record: SubjectRecord {
                id,
                category: category.to_owned(),
                dek: wrapped.bytes,
                kek_version: wrapped.kek_version,
                dek_generation: DEK_GENERATION,
                fields,
                version: 1,
                created_at: now,
                updated_at: now,
                field_collected: std::collections::BTreeMap::new(),
            },
        })
    }

    /// Creates a subject. `shape` holds the problems found before values could be read (a value
    /// of the wrong JSON type): they are reported with the values' own problems, once the actor
    /// is known to be allowed to ask.
    pub async fn create_subject(
        &self,
        actor: &Actor,
        category: &str,
        values: Vec<(String, Option<String>)>,
        mut shape: Vec<FieldProblem>,
    ) -> Result<Created, VaultError> {
        self.vault.authorize(actor, Action::SubjectCreate)?;
        if !shape.is_empty() {
            if let Err(more) = check_values(
                self.vault.declaration(),
                category,
                values,
                self.vault.now().date(),
            ) {
                shape.extend(more);
            }
            return Err(VaultError::Validation(shape));
        }
        if self
            .vault
            .declaration()
            .subject_categories
            .contains_key(category)
            && !self.vault.reaches(actor, category)
        {
            self.vault
                .audit(
                    AuditDraft::new(&actor.audit_name(), "subject.create", Outcome::Denied)
                        .reason("outside_actor_scope"),
                )
                .await?;
            return Err(VaultError::Forbidden(format!(
                "no purpose this token acts for covers subjects of category `{category}`"
            )));
        }
        let refused = self.unwritable(actor, category, values.iter().map(|(k, _)| k.clone()));
        if !refused.is_empty() {
            self.vault
                .audit(
                    AuditDraft::new(&actor.audit_name(), "subject.create", Outcome::Denied)
                        .fields(&refused)
                        .reason("field_outside_actor_purposes"),
                )
                .await?;
            return Err(VaultError::Forbidden(format!(
                "this token may not write {} of a `{category}`: no purpose it acts for uses {} for that category",
                list(&refused),
                if refused.len() == 1 { "it" } else { "them" }
            )));
        }
        let prepared = self.prepare_subject(&actor.audit_name(), category, values)?;
        let record = &prepared.record;
        let created = Created {
            id: record.id,
            category: record.category.clone(),
            fields: record.fields.iter().map(|(k, _)| k.clone()).collect(),
            created_at: derbes_core::audit::format_timestamp(record.created_at),
        };
        self.vault.store().write(prepared.into()).await?;
        Ok(created)
    }

    /// Reads a subject for a purpose: the decision first, then only the allowed fields.
    pub async fn read_subject(
        &self,
        actor: &Actor,
        id: Uuid,
        purpose: &str,
        fields: Option<Vec<String>>,
    ) -> Result<SubjectView, VaultError> {
        self.vault.authorize(actor, Action::SubjectRead)?;
        check_names(purpose, fields.as_deref().unwrap_or(&[]))?;
        let Some((record, state)) = self
            .vault
            .store()
            // The whole ledger: a consent to any purpose may keep a field (retention).
            .subject_with_state(id, None)
            .await?
        else {
            let destroyed = self
                .vault
                .store()
                .destruction(id)
                .await?
                .filter(|d| self.vault.reaches(actor, &d.category));
            self.vault
                .audit(
                    AuditDraft::new(&actor.audit_name(), "subject.read", Outcome::Denied)
                        .subject(id)
                        .purpose(purpose)
                        .reason(if destroyed.is_some() {
                            "destroyed"
                        } else {
                            "not_found"
                        }),
                )
                .await?;
            return Err(match destroyed {
                Some(d) => VaultError::Destroyed(Box::new(d)),
                None => VaultError::NotFound,
            });
        };
        if !self.vault.reaches(actor, &record.category) {
            self.vault
                .refuse_reach(actor, Action::SubjectRead, id)
                .await?;
            return Err(VaultError::NotFound);
        }
        let now = self.vault.now();
        let facts = self.vault.facts(&record, state, now, Some(purpose))?;
        let ends = facts.field_ends(self.vault.declaration(), &record.category);
        let decision = decide(
            self.vault.declaration(),
            &ReadQuery {
                category: Some(&record.category),
                purpose,
                fields: fields.as_deref(),
                actor: &actor.scope,
            },
            Some((&facts.for_decision(&ends), now)),
        );
        let allowed = match decision {
            Ok(a) => a,
            Err(reasons) => {
                let codes: Vec<&str> = reasons.iter().map(DenyReason::code).collect();
                self.vault
                    .audit(
                        AuditDraft::new(&actor.audit_name(), "subject.read", Outcome::Denied)
                            .subject(id)
                            .purpose(purpose)
                            .fields(fields.as_deref().unwrap_or(&[]))
                            .reason(codes.join(",")),
                    )
                    .await?;
                return Err(VaultError::Denied(reasons));
            }
        };
        let dk = self.vault.open_key(&record)?;
        let mut out = indexmap::IndexMap::new();
        for f in &allowed.fields {
            if let Some((_, sealed)) = record.fields.iter().find(|(k, _)| k == f) {
                out.insert(f.clone(), self.vault.open_field(&dk, &record, f, sealed)?);
            }
        }
        let returned: Vec<&String> = out.keys().collect();
        // The read is recorded before any value leaves derbes.
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), "subject.read", Outcome::Allowed)
                    .subject(id)
                    .purpose(purpose)
                    .fields(&returned)
                    .details(&match allowed.consent_id {
                        Some(c) => json!({ "basis": allowed.basis.name(), "consent_id": c }),
                        None => json!({ "basis": allowed.basis.name() }),
                    }),
            )
            .await?;
        Ok(SubjectView {
            id,
            category: record.category,
            purpose: purpose.to_owned(),
            legal_basis: allowed.basis,
            consent_id: allowed.consent_id,
            confirmation_due: allowed.confirmation_due,
            fields: out,
        })
    }

    /// The subject's sealed fields with `normalized` applied, the keyed fingerprints of each
    /// change (old and new) for the audit, and the names of the fields that changed.
    fn changed_fields(
        &self,
        dk: &DataKey,
        record: &SubjectRecord,
        normalized: &[(String, Option<String>)],
    ) -> Result<Changes, VaultError> {
        let id = record.id;
        let mut fields = record.fields.clone();
        let mut report = serde_json::Map::new();
        let mut changed = Vec::new();
        for (key, value) in normalized {
            let pos = fields.iter().position(|(k, _)| k == key);
            let old = match pos {
                Some(p) => Some(self.vault.open_field(dk, record, key, &fields[p].1)?),
                None => None,
            };
            if old == *value {
                continue;
            }
            report.insert(
                key.clone(),
                json!({
                    "old": old.as_ref().map(|v| dk.fingerprint(key, v)),
                    "new": value.as_ref().map(|v| dk.fingerprint(key, v)),
                }),
            );
            changed.push(key.clone());
            match (pos, value) {
                (Some(p), Some(v)) => {
                    fields[p].1 = dk.seal(&id, record.dek_generation, key, v.as_bytes())?
                }
                (Some(p), None) => {
                    fields.remove(p);
                }
                (None, Some(v)) => fields.push((
                    key.clone(),
                    dk.seal(&id, record.dek_generation, key, v.as_bytes())?,
                )),
                (None, None) => {}
            }
        }
        Ok((fields, report, changed))
    }

    /// Rectifies fields (a `None` value erases the field). The audit records keyed fingerprints
    /// of the old and new values, never the values.
    pub async fn rectify(
        &self,
        actor: &Actor,
        id: Uuid,
        changes: Vec<(String, Option<String>)>,
        shape: Vec<FieldProblem>,
    ) -> Result<Rectified, VaultError> {
        self.vault.authorize(actor, Action::SubjectRectify)?;
        if !shape.is_empty() {
            return Err(VaultError::Validation(shape));
        }
        if changes.is_empty() {
            return Err(VaultError::Invalid(
                "no fields to change: send {\"fields\": {\"key\": \"new value\"}}".into(),
            ));
        }
        let category = self
            .vault
            .store()
            .subject(id)
            .await?
            .ok_or(VaultError::NotFound)?
            .category;
        self.vault
            .authorize_subject(actor, Action::SubjectRectify, id, &category)
            .await?;
        let refused = self.unwritable(actor, &category, changes.iter().map(|(k, _)| k.clone()));
        if !refused.is_empty() {
            self.vault
                .audit(
                    AuditDraft::new(&actor.audit_name(), "subject.rectify", Outcome::Denied)
                        .subject(id)
                        .fields(&refused)
                        .reason("field_outside_actor_purposes"),
                )
                .await?;
            return Err(VaultError::Forbidden(format!(
                "this token may not write {}",
                list(&refused)
            )));
        }
        for _ in 0..UPDATE_ATTEMPTS {
            let record = self
                .vault
                .store()
                .subject(id)
                .await?
                .ok_or(VaultError::NotFound)?;
            let normalized = check_values(
                self.vault.declaration(),
                &record.category,
                changes.clone(),
                self.vault.now().date(),
            )
            .map_err(VaultError::Validation)?;
            let dk = self.vault.open_key(&record)?;
            let (fields, report, changed) = self.changed_fields(&dk, &record, &normalized)?;
            if changed.is_empty() {
                return Ok(Rectified {
                    id,
                    version: record.version,
                    changed,
                });
            }
            // Recompute the blind index from the resulting values.
            let mut indexed = Vec::new();
            for (k, sealed) in &fields {
                if self.vault.declaration().field(k).is_some_and(|f| f.lookup) {
                    indexed.push((k.clone(), self.vault.open_field(&dk, &record, k, sealed)?));
                }
            }
            // A value written now was collected today; an erased field was not collected.
            let mut field_collected = record.field_collected.clone();
            let today = self.vault.today();
            for (k, v) in &normalized {
                if !changed.contains(k) {
                    continue;
                }
                match v {
                    Some(_) => field_collected.insert(k.clone(), today),
                    None => field_collected.remove(k),
                };
            }
            let op = WriteOp::UpdateSubject {
                id,
                expected_version: record.version,
                field_collected,
                index: self.index_entries(&indexed),
                fields,
                audit: AuditDraft::new(&actor.audit_name(), "subject.rectify", Outcome::Ok)
                    .subject(id)
                    .fields(&changed)
                    .details(&json!({ "changes": report })),
            };
            match self.vault.store().write(op).await {
                Ok(Applied::Updated { version }) => {
                    return Ok(Rectified {
                        id,
                        version,
                        changed,
                    })
                }
                Ok(other) => {
                    return Err(VaultError::Store(StoreError::Backend(format!(
                        "an update was answered with {other:?}"
                    ))))
                }
                Err(StoreError::VersionConflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(VaultError::Store(StoreError::VersionConflict))
    }

    /// Finds subjects by an identifier through its blind index, for a purpose that uses the field.
    pub async fn lookup(
        &self,
        actor: &Actor,
        field: &str,
        value: &str,
        purpose: &str,
    ) -> Result<Vec<Match>, VaultError> {
        self.vault.authorize(actor, Action::SubjectLookup)?;
        check_names(purpose, &[])?;
        let Some(fd) = self.vault.declaration().field(field) else {
            return Err(VaultError::Validation(vec![FieldProblem {
                field: field.to_owned(),
                message: format!("field `{field}` is not declared"),
                reason: None,
            }]));
        };
        if !fd.lookup {
            return Err(VaultError::Validation(vec![FieldProblem {
                field: field.to_owned(),
                message: format!("field `{field}` is not declared with lookup = true"),
                reason: None,
            }]));
        }
        let normalized = derbes_core::validate::normalize(fd, value).map_err(|e| {
            VaultError::Validation(vec![FieldProblem {
                field: field.to_owned(),
                message: format!("`{field}` {e}"),
                reason: Some(e),
            }])
        })?;
        let asked = [field.to_owned()];
        // The purpose must be declared, one the actor may use, use this field, and have a basis.
        let decision = decide_read(
            self.vault.declaration(),
            &ReadQuery {
                category: None,
                purpose,
                fields: Some(&asked),
                actor: &actor.scope,
            },
        );
        let (Some(p), Ok(_)) = (self.vault.declaration().purpose(purpose), &decision) else {
            let reasons = decision.err().unwrap_or_default();
            let codes: Vec<&str> = reasons.iter().map(DenyReason::code).collect();
            self.vault
                .audit(
                    AuditDraft::new(&actor.audit_name(), "subject.lookup", Outcome::Denied)
                        .purpose(purpose)
                        .fields(&asked)
                        .reason(codes.join(",")),
                )
                .await?;
            return Err(VaultError::Denied(reasons));
        };
        let matches: Vec<Match> = self
            .vault
            .store()
            .lookup(field, &self.vault.keys().blind_index(field, &normalized))
            .await?
            .into_iter()
            .filter(|(_, cat)| p.covers_category(cat))
            .map(|(id, category)| Match { id, category })
            .collect();
        let base = AuditDraft::new(&actor.audit_name(), "subject.lookup", Outcome::Allowed)
            .purpose(purpose)
            .fields(&asked);
        let drafts = if matches.is_empty() {
            vec![base.details(&json!({ "matches": 0 }))]
        } else {
            matches.iter().map(|m| base.clone().subject(m.id)).collect()
        };
        self.vault.store().write(WriteOp::Audit(drafts)).await?;
        Ok(matches)
    }
}

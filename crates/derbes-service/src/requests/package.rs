//! The access package (Law 94-V Art. 20, 24: the subject's right to know what is held about
//! them): a zip with everything derbes holds about one subject, machine-readable (`data.json`,
//! CSV files, each consent's signed receipt) and as a report to read offline in the requester's
//! language (`report.html`): every field held with its value and source, the purposes that use
//! it with their legal bases, recipients and retention, the consent ledger, links and flags,
//! and who did what with the data, from the audit chain.
//!
//! The package is sealed under its request's data key, kept for a configurable time and then
//! deleted; destroying the subject deletes it too.

use crate::actor::Actor;
use crate::receipts::SignedReceipt;
use crate::render::templates::{operator_parts, OperatorContext, ResponsibleContext};
use crate::vault::VaultError;
use derbes_core::audit::{format_timestamp, AuditDraft, AuditEvent, Outcome};
use derbes_core::consent::{ConsentEvent, GivenBy, RepresentativeLink};
use derbes_core::declaration::{LegalBasis, RecipientKind, Source};
use derbes_core::flags::FlagReason;
use derbes_core::request::{RequestKind, Status};
use derbes_core::text::Lang;
use derbes_store::{PackageRecord, RequestQuery, RequestRecord, StoreError, WriteOp};
use serde::Serialize;
use std::io::Write;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

/// How many days a package is kept when the configuration does not say.
pub const DEFAULT_DAYS: u32 = 30;
/// The same, as a duration.
pub const DEFAULT_TTL: Duration = Duration::days(DEFAULT_DAYS as i64);
/// The format name in `data.json`.
pub const FORMAT: &str = "derbes-access-package/1";
/// Audit events one page reads while the access history is assembled.
const AUDIT_PAGE: u32 = 1000;

#[derive(Debug, Serialize)]
pub struct PackageData {
    pub format: &'static str,
    #[serde(with = "time::serde::rfc3339")]
    pub generated_at: OffsetDateTime,
    pub request_id: Uuid,
    pub language: Lang,
    pub operator: OperatorContext,
    pub responsible: ResponsibleContext,
    pub subject: SubjectPart,
    pub fields: Vec<FieldHeld>,
    pub purposes: Vec<PurposePart>,
    pub consents: Vec<ConsentPart>,
    pub representatives: Vec<RepresentativeLink>,
    pub flags: Vec<FlagPart>,
    pub access_history: Vec<AccessEntry>,
    pub requests: Vec<RequestPart>,
    /// What the operator's own databases hold, by connector.
    pub connectors: Vec<ConnectorPart>,
    /// Where the subject may complain: the authorized body for personal data protection.
    pub authorized_body: String,
}

#[derive(Debug, Serialize)]
pub struct ConnectorPart {
    pub connector: String,
    pub tables: Vec<derbes_connect::TableRows>,
}

#[derive(Debug, Serialize)]
pub struct SubjectPart {
    pub id: Uuid,
    pub category: String,
    pub category_label: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Serialize)]
pub struct FieldHeld {
    pub key: String,
    pub label: String,
    pub value: String,
    pub source: Source,
    pub source_label: &'static str,
    /// The declared purposes that use the field.
    pub purposes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct PurposePart {
    pub key: String,
    pub label: String,
    pub description: String,
    pub legal_basis: LegalBasis,
    pub legal_basis_label: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_reference: Option<String>,
    /// The fields held that the purpose uses.
    pub fields: Vec<String>,
    pub recipients: Vec<RecipientPart>,
    pub retention: String,
    pub retention_label: String,
    pub publication: bool,
}

#[derive(Debug, Serialize)]
pub struct RecipientPart {
    pub key: String,
    pub label: String,
    pub kind: RecipientKind,
    pub kind_label: &'static str,
    pub country: String,
    pub cross_border: bool,
}

#[derive(Debug, Serialize)]
pub struct ConsentPart {
    pub event: ConsentEvent,
    /// The signed receipt, also in `receipts/<id>.json`.
    pub receipt: SignedReceipt,
}

#[derive(Debug, Serialize)]
pub struct FlagPart {
    /// `None` for a block of all processing, else the restricted purpose.
    pub purpose: Option<String>,
    pub reason: FlagReason,
    #[serde(with = "time::serde::rfc3339")]
    pub set_at: OffsetDateTime,
    #[serde(
        with = "derbes_core::iso_date::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<time::Date>,
}

#[derive(Debug, Serialize)]
pub struct AccessEntry {
    pub at: String,
    pub actor: String,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    pub fields: Vec<String>,
    pub outcome: String,
}

impl From<AuditEvent> for AccessEntry {
    fn from(e: AuditEvent) -> Self {
        AccessEntry {
            at: e.at,
            actor: e.actor,
            action: e.action,
            purpose: e.purpose,
            fields: e.fields,
            outcome: e.outcome.as_str().to_owned(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct RequestPart {
    pub id: Uuid,
    pub kind: RequestKind,
    pub status: Status,
    pub received_at: String,
}

/// What a built package holds, for the action's note: counts, never values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackageSummary {
    pub fields: usize,
    pub consents: usize,
    pub access_events: usize,
    pub bytes: usize,
}

/// A package handed out: the zip and its file name.
#[derive(Debug)]
pub struct Download {
    pub file_name: String,
    pub zip: Vec<u8>,
}

/// The zip: `data.json`, the CSV files, `receipts/<consent id>.json` and `report.html`.
#[allow(
    clippy::too_many_lines,
    reason = "the archive, one file after another as the subject finds them"
)]
pub(crate) fn zip_package(
    d: &PackageData,
    at: OffsetDateTime,
    report: &super::report::ReportTemplates,
) -> Result<Vec<u8>, VaultError> {
    let fail = |e: &dyn std::fmt::Display| {
        VaultError::Store(StoreError::Backend(format!("writing the package: {e}")))
    };
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("data.json".into(), pretty(d)?),
        ("report.html".into(), report.report_html(d)?.into_bytes()),
        (
            "fields.csv".into(),
            crate::render::csv(
                &["key", "label", "value", "source", "purposes"],
                d.fields
                    .iter()
                    .map(|f| {
                        vec![
                            f.key.clone(),
                            f.label.clone(),
                            f.value.clone(),
                            f.source.code().into(),
                            f.purposes.join(";"),
                        ]
                    })
                    .collect(),
            )?,
        ),
        (
            "purposes.csv".into(),
            crate::render::csv(
                &[
                    "key",
                    "label",
                    "legal_basis",
                    "fields",
                    "recipients",
                    "cross_border",
                    "retention",
                ],
                d.purposes
                    .iter()
                    .map(|p| {
                        vec![
                            p.key.clone(),
                            p.label.clone(),
                            p.legal_basis.name().into(),
                            p.fields.join(";"),
                            p.recipients
                                .iter()
                                .map(|r| r.key.as_str())
                                .collect::<Vec<_>>()
                                .join(";"),
                            p.recipients.iter().any(|r| r.cross_border).to_string(),
                            p.retention.clone(),
                        ]
                    })
                    .collect(),
            )?,
        ),
        (
            "consents.csv".into(),
            crate::render::csv(
                &["id", "at", "purpose", "action", "given_by", "method"],
                d.consents
                    .iter()
                    .map(|c| {
                        vec![
                            c.event.id.to_string(),
                            format_timestamp(c.event.at),
                            c.event.purpose.clone(),
                            c.event.action.name().into(),
                            match &c.event.given_by {
                                GivenBy::Subject => "subject".into(),
                                GivenBy::Representative {
                                    representative_id, ..
                                } => representative_id.to_string(),
                            },
                            c.event.method.kind().into(),
                        ]
                    })
                    .collect(),
            )?,
        ),
        (
            "access-history.csv".into(),
            crate::render::csv(
                &["at", "actor", "action", "purpose", "fields", "outcome"],
                d.access_history
                    .iter()
                    .map(|e| {
                        vec![
                            e.at.clone(),
                            e.actor.clone(),
                            e.action.clone(),
                            e.purpose.clone().unwrap_or_default(),
                            e.fields.join(";"),
                            e.outcome.clone(),
                        ]
                    })
                    .collect(),
            )?,
        ),
    ];
    for c in &d.consents {
        files.push((format!("receipts/{}.json", c.event.id), pretty(&c.receipt)?));
    }
    for c in &d.connectors {
        files.push((
            format!("connectors/{}.json", c.connector),
            pretty(&c.tables)?,
        ));
    }
    let stamp = zip::DateTime::from_date_and_time(
        at.year().clamp(1980, 2107) as u16,
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )
    .unwrap_or_default();
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(stamp)
        .unix_permissions(0o644);
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        w.start_file(name, options).map_err(|e| fail(&e))?;
        w.write_all(&bytes).map_err(|e| fail(&e))?;
    }
    Ok(w.finish().map_err(|e| fail(&e))?.into_inner())
}

fn pretty<T: Serialize>(v: &T) -> Result<Vec<u8>, VaultError> {
    serde_json::to_vec_pretty(v)
        .map_err(|e| VaultError::Store(StoreError::Backend(format!("writing the package: {e}"))))
}

impl super::Requests {
    /// Everything held about the subject of request `r`, for the package.
    #[allow(
        clippy::too_many_lines,
        reason = "gathers every source of the package (fields, consents, links, flags, requests, audit, connectors) in one pass"
    )]
    pub(crate) async fn package_data(
        &self,
        r: &RequestRecord,
        language: Lang,
    ) -> Result<PackageData, VaultError> {
        let (record, state) = self.vault.subject_and_state(r.subject_id, None).await?;
        let declaration = self.vault.declaration();
        let dk = self.vault.open_key(&record)?;
        let mut fields = Vec::with_capacity(record.fields.len());
        for (key, sealed) in &record.fields {
            let value = self.vault.open_field(&dk, &record, key, sealed)?;
            let (label, source) = match declaration.field(key) {
                Some(f) => (f.label.get(language).to_owned(), f.source),
                None => (key.clone(), Source::default()),
            };
            fields.push(FieldHeld {
                key: key.clone(),
                label,
                value,
                source,
                source_label: source.label(language),
                purposes: declaration
                    .purposes
                    .iter()
                    .filter(|(_, p)| p.covers_category(&record.category) && p.uses_field(key))
                    .map(|(k, _)| k.clone())
                    .collect(),
            });
        }
        let purposes = declaration
            .purposes
            .iter()
            .filter(|(_, p)| p.covers_category(&record.category))
            .map(|(key, p)| PurposePart {
                key: key.clone(),
                label: p.label.get(language).to_owned(),
                description: p.description.get(language).to_owned(),
                legal_basis: p.legal_basis,
                legal_basis_label: p.legal_basis.label(language),
                legal_reference: p
                    .legal_reference
                    .as_ref()
                    .map(|t| t.get(language).to_owned()),
                fields: p
                    .fields
                    .iter()
                    .filter(|f| record.fields.iter().any(|(k, _)| k == *f))
                    .cloned()
                    .collect(),
                recipients: p
                    .recipients
                    .iter()
                    .filter_map(|k| declaration.recipients.get(k).map(|x| (k, x)))
                    .map(|(k, x)| RecipientPart {
                        key: k.clone(),
                        label: x.label.get(language).to_owned(),
                        kind: x.kind,
                        kind_label: x.kind.label(language),
                        country: x.country.clone(),
                        cross_border: declaration.crosses_border(x),
                    })
                    .collect(),
                retention: p.retention.clone(),
                retention_label: declaration
                    .retention
                    .get(&p.retention)
                    .map(|x| x.label.get(language).to_owned())
                    .unwrap_or_else(|| p.retention.clone()),
                publication: p.publication,
            })
            .collect();
        let receipts = self
            .receipts
            .issue_receipts(&record, state.clone(), &state.consents)
            .await?;
        let consents: Vec<ConsentPart> = state
            .consents
            .iter()
            .zip(receipts)
            .map(|(event, receipt)| ConsentPart {
                event: event.clone(),
                receipt,
            })
            .collect();
        let mut flags: Vec<FlagPart> = state
            .blocked
            .iter()
            .map(|f| (None, f))
            .chain(state.restrictions.iter().map(|(p, f)| (Some(p.clone()), f)))
            .map(|(purpose, f)| FlagPart {
                purpose,
                reason: f.reason,
                set_at: f.set_at,
                until: f.until,
            })
            .collect();
        flags.sort_by_key(|f| f.set_at);
        let mut access_history = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .vault
                .store()
                .subject_audit(r.subject_id, after, AUDIT_PAGE)
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            access_history.extend(page.into_iter().map(AccessEntry::from));
        }
        let requests = self
            .vault
            .store()
            .requests(RequestQuery {
                subject_id: Some(r.subject_id),
                limit: 1000,
                ..Default::default()
            })
            .await?
            .into_iter()
            .map(|q| RequestPart {
                id: q.id,
                kind: q.kind,
                status: q.status,
                received_at: format_timestamp(q.received_at),
            })
            .collect();
        let mut connectors = Vec::with_capacity(self.vault.connectors.len());
        for c in &self.vault.connectors {
            // The values are opened above already.
            let identifier = fields
                .iter()
                .find(|f| f.key == c.map().identity.field)
                .map(|f| f.value.clone());
            let tables = match identifier {
                Some(identifier) => c
                    .access(&identifier)
                    .await
                    .map_err(|e| VaultError::Unavailable(e.to_string()))?,
                None => Vec::new(),
            };
            connectors.push(ConnectorPart {
                connector: c.name().to_owned(),
                tables,
            });
        }
        let (operator, responsible) = operator_parts(declaration, language);
        Ok(PackageData {
            format: FORMAT,
            generated_at: self.vault.now(),
            request_id: r.id,
            language,
            operator,
            responsible,
            subject: SubjectPart {
                id: record.id,
                category: record.category.clone(),
                category_label: declaration
                    .subject_categories
                    .get(&record.category)
                    .map(|c| c.label.get(language).to_owned())
                    .unwrap_or_else(|| record.category.clone()),
                created_at: format_timestamp(record.created_at),
                updated_at: format_timestamp(record.updated_at),
            },
            fields,
            purposes,
            consents,
            representatives: state.representatives,
            flags,
            access_history,
            requests,
            connectors,
            authorized_body: declaration.authorized_body.describe(language),
        })
    }

    /// Builds the package of request `r`, seals it under the request's key and stores it until
    /// it expires. The audit records that the data left the vault for the package.
    pub(crate) async fn build_package(
        &self,
        actor: &Actor,
        r: &RequestRecord,
        language: Lang,
    ) -> Result<(PackageSummary, OffsetDateTime), VaultError> {
        let data = self.package_data(r, language).await?;
        let now = self.vault.now();
        let zip = zip_package(&data, now, &self.report_templates)?;
        let summary = PackageSummary {
            fields: data.fields.len(),
            consents: data.consents.len(),
            access_events: data.access_history.len(),
            bytes: zip.len(),
        };
        let dk = self.request_key(r)?;
        let sealed = dk.seal(&r.id, crate::vault::REQUEST_KEY_GENERATION, "package", &zip)?;
        let expires_at = now + self.package_ttl;
        let field_keys: Vec<&str> = data.fields.iter().map(|f| f.key.as_str()).collect();
        self.vault
            .store()
            .write(WriteOp::StorePackage {
                package: PackageRecord {
                    request_id: r.id,
                    subject_id: r.subject_id,
                    created_at: now,
                    expires_at,
                    sealed,
                },
                audit: AuditDraft::new(&actor.audit_name(), "request.package.build", Outcome::Ok)
                    .subject(r.subject_id)
                    .fields(&field_keys)
                    .details(&serde_json::json!({
                        "request_id": r.id,
                        "consents": summary.consents,
                        "access_events": summary.access_events,
                        "bytes": summary.bytes,
                        "expires_at": format_timestamp(expires_at),
                    })),
            })
            .await?;
        Ok((summary, expires_at))
    }

    /// The package of a request, opened, while it has not expired. Handing it out is audited.
    pub async fn request_package(&self, actor: &Actor, id: Uuid) -> Result<Download, VaultError> {
        let (r, sight) = self
            .reach_request(actor, crate::access::Action::RequestPackage, id)
            .await?;
        if sight != crate::access::RequestSight::Full {
            return Err(VaultError::RequestNotFound);
        }
        let now = self.vault.now();
        let Some(p) = self.vault.store().package(id).await? else {
            return Err(VaultError::Gone(
                "this request has no access package: it is built when an access request is approved, and deleted when it expires or the subject's data are destroyed".into(),
            ));
        };
        if p.expires_at <= now {
            return Err(VaultError::Gone(format!(
                "the access package expired at {}; run the request's actions again to build a new one",
                format_timestamp(p.expires_at)
            )));
        }
        let dk = self.request_key(&r)?;
        let zip = dk
            .open(
                &r.id,
                crate::vault::REQUEST_KEY_GENERATION,
                "package",
                &p.sealed,
            )?
            .to_vec();
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), "request.package.download", Outcome::Ok)
                    .subject(r.subject_id)
                    .details(&serde_json::json!({ "request_id": id, "bytes": zip.len() })),
            )
            .await?;
        Ok(Download {
            file_name: format!("derbes-access-{id}.zip"),
            zip,
        })
    }

    /// Deletes the packages that have expired; returns how many.
    pub async fn delete_expired_packages(&self) -> Result<usize, VaultError> {
        let mut deleted = 0;
        loop {
            let expired = self
                .vault
                .store()
                .expired_packages(self.vault.now(), 100)
                .await?;
            if expired.is_empty() {
                return Ok(deleted);
            }
            for (request_id, subject_id) in expired {
                let audit =
                    AuditDraft::new("system:packages", "request.package.expire", Outcome::Ok)
                        .subject(subject_id)
                        .details(&serde_json::json!({ "request_id": request_id }));
                match self
                    .vault
                    .store()
                    .write(WriteOp::DeletePackage { request_id, audit })
                    .await
                {
                    Ok(_) => deleted += 1,
                    // Deleted meanwhile (a destruction, another server): nothing left to do.
                    Err(StoreError::NotFound) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
}

//! Depersonalized records released for statistics: only the groups of records alike in every
//! quasi-identifier (and in category) that hold at least the rule's k; smaller groups are held
//! back and counted, never shown.

use super::Retention;
use crate::access::Action;
use crate::actor::Actor;
use crate::vault::VaultError;
use derbes_core::audit::{AuditDraft, Outcome};
use derbes_core::declaration::RetentionAction;
use derbes_core::depersonalize::{k_anonymous, Release};
use derbes_core::validate::FieldProblem;
use derbes_store::Page;
use serde::Serialize;
use serde_json::json;

/// Records read at a time.
const PAGE: u32 = 10_000;

/// What a release of one rule's depersonalized records shows.
#[derive(Debug, Clone, Serialize)]
pub struct DepersonalizedRelease {
    pub rule: String,
    /// The fields a group is formed by (with the category).
    pub quasi_identifiers: Vec<String>,
    #[serde(flatten)]
    pub release: Release,
}

impl DepersonalizedRelease {
    /// The name a download of the release is saved under, with `extension`.
    pub fn file_name(&self, extension: &str) -> String {
        format!("depersonalized-{}.{extension}", self.rule)
    }

    /// The records as a CSV file: the category, then each field any record keeps.
    pub fn csv(&self) -> Result<Vec<u8>, VaultError> {
        let mut fields: Vec<&str> = self
            .release
            .records
            .iter()
            .flat_map(|r| r.values.keys().map(String::as_str))
            .collect();
        fields.sort_unstable();
        fields.dedup();
        let header: Vec<&str> = std::iter::once("category")
            .chain(fields.iter().copied())
            .collect();
        let rows = self
            .release
            .records
            .iter()
            .map(|r| {
                std::iter::once(r.category.clone())
                    .chain(
                        fields
                            .iter()
                            .map(|f| r.values.get(*f).cloned().unwrap_or_default()),
                    )
                    .collect()
            })
            .collect();
        crate::render::csv(&header, rows)
    }
}

impl Retention {
    /// The records `rule` keeps, as far as they may be released: the groups of at least the
    /// rule's k records alike in category and every quasi-identifier. Audited with counts.
    pub async fn release(
        &self,
        actor: &Actor,
        rule: &str,
    ) -> Result<DepersonalizedRelease, VaultError> {
        self.vault.authorize(actor, Action::RetentionRelease)?;
        let declared = self
            .vault
            .declaration()
            .retention
            .get(rule)
            .filter(|r| r.action == RetentionAction::Depersonalize)
            .ok_or_else(|| {
                VaultError::Validation(vec![FieldProblem {
                    field: "rule".into(),
                    message: "names no retention rule of the declaration that depersonalizes: only such a rule keeps records to release".into(),
                    reason: None,
                }])
            })?;
        let store = self.vault.store();
        let mut records = Vec::new();
        let mut after = None;
        loop {
            let page = store
                .depersonalized_records(rule, Page::after(after, PAGE))
                .await?;
            let full = page.len() == PAGE as usize;
            after = page.last().map(|(id, _)| *id);
            records.extend(page.into_iter().map(|(_, r)| r));
            if !full {
                break;
            }
        }
        let quasi_identifiers = declared.quasi_identifiers();
        let release = k_anonymous(records, &quasi_identifiers, declared.k());
        self.vault
            .audit(
                AuditDraft::new(&actor.audit_name(), "retention.release", Outcome::Ok).details(
                    &json!({
                        "rule": rule,
                        "k": release.k,
                        "records": release.records.len(),
                        "groups": release.groups,
                        "suppressed_groups": release.suppressed_groups,
                        "suppressed_records": release.suppressed_records,
                    }),
                ),
            )
            .await?;
        Ok(DepersonalizedRelease {
            rule: rule.to_owned(),
            quasi_identifiers,
            release,
        })
    }
}

//! A subject's file, as the console shows it in one read: the fields a chosen purpose may
//! read (audited as any read), its consents with their receipts, the representatives and the
//! subjects it represents, its blocks, restrictions and obligations, its lifecycle and how long
//! each field is kept, its requests, and its
//! history from the audit chain. A part the actor may not see is left out; a read the
//! decision refuses is answered with the decision's reasons.

use crate::app::App;
use crate::consents::{ConsentLedger, Flags, Representatives};
use crate::requests::{RequestFilter, RequestView};
use crate::retention::LifecycleView;
use crate::subjects::SubjectView;
use crate::{Actor, VaultError};
use derbes_core::audit::AuditEvent;
use derbes_core::decision::DenyReason;
use serde::Serialize;
use uuid::Uuid;

/// The most events of a subject's history the file shows (the oldest first).
pub const HISTORY_LIMIT: u32 = 200;

/// A subject's file; `None` is a part the actor's role may not see.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectFile {
    pub id: Uuid,
    /// The purpose the fields were read for, when one was chosen.
    pub purpose: Option<String>,
    /// The fields that purpose may read.
    pub read: Option<SubjectView>,
    /// Why the decision refused the read (each front end says it in its reader's language).
    pub denied: Vec<DenyReason>,
    /// Why the actor's role may not read for the purpose.
    pub forbidden: Option<String>,
    pub consents: Option<ConsentLedger>,
    pub representatives: Option<Representatives>,
    pub flags: Option<Flags>,
    /// Its lifecycle events and how long each of its fields is kept.
    pub lifecycle: Option<LifecycleView>,
    /// The actor may place and lift legal holds.
    pub may_hold: bool,
    pub requests: Option<Vec<RequestView>>,
    pub history: Option<Vec<AuditEvent>>,
}

/// A part of the file: left out when the actor may not see it.
fn part<T>(r: Result<T, VaultError>) -> Result<Option<T>, VaultError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(VaultError::Forbidden(_) | VaultError::Denied(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

impl App {
    /// The file of subject `id`, read for `purpose` when one is given.
    pub async fn subject_file(
        &self,
        actor: &Actor,
        id: Uuid,
        purpose: Option<&str>,
    ) -> Result<SubjectFile, VaultError> {
        let (mut read, mut denied, mut forbidden) = (None, Vec::new(), None);
        if let Some(p) = purpose {
            match self.subjects.read_subject(actor, id, p, None).await {
                Ok(v) => read = Some(v),
                Err(VaultError::Denied(reasons)) => denied = reasons,
                Err(VaultError::Forbidden(m)) => forbidden = Some(m),
                Err(e) => return Err(e),
            }
        }
        let consents = part(self.consents.consent_ledger(actor, id).await)?;
        let representatives = part(self.consents.representatives(actor, id).await)?;
        let flags = part(self.consents.flags(actor, id).await)?;
        let lifecycle = part(self.retention.lifecycle(actor, id).await)?;
        let requests = part(
            self.requests
                .requests(
                    actor,
                    RequestFilter {
                        subject_id: Some(id),
                        open: Some(false),
                        limit: Some(100),
                        ..RequestFilter::default()
                    },
                )
                .await,
        )?;
        let history = part(
            self.vault
                .subject_history(actor, id, 0, HISTORY_LIMIT)
                .await,
        )?;
        // Nothing at all to show: the subject is not one the actor may know of.
        if read.is_none()
            && denied.is_empty()
            && forbidden.is_none()
            && consents.is_none()
            && flags.is_none()
            && history.is_none()
        {
            self.vault
                .category_of(id)
                .await?
                .ok_or(VaultError::NotFound)?;
        }
        Ok(SubjectFile {
            id,
            purpose: purpose.map(str::to_owned),
            read,
            denied,
            forbidden,
            consents,
            representatives,
            flags,
            lifecycle,
            may_hold: self
                .vault
                .authorize(actor, crate::access::Action::RetentionHold)
                .is_ok(),
            requests,
            history,
        })
    }
}

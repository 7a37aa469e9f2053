//! "Today": what the operator's legal clocks ask of a person now, in one read. Requests past
//! their due time, requests due by the end of today, requests awaiting a second person's
//! approval, consents that subjects who came of age are to confirm in their own name (due this
//! month or earlier), what the last retention scan found expired, held or ending soon, and the
//! audit chain's last verification and checkpoint export. Each part is
//! there only for those who may see it: a part the actor may not read is left out, not
//! refused, so that every role has a Today.

use crate::app::App;
use crate::audit_chain::AuditStatus;
use crate::requests::{RequestFilter, RequestView};
use crate::retention::LatestScan;
use crate::{Actor, VaultError};
use derbes_core::request::Status;
use derbes_store::ReconfirmationsDue;
use serde::Serialize;

/// The most requests a part lists; the page says when there are more.
pub const TODAY_LIMIT: u32 = 50;

/// Some of the requests matching a part, by due time, and whether there are more.
#[derive(Debug, Clone, Serialize)]
pub struct RequestsPart {
    pub requests: Vec<RequestView>,
    pub more: bool,
}

/// The parts of Today; `None` is a part the actor's role may not see.
#[derive(Debug, Clone, Serialize)]
pub struct Today {
    /// The local date the page is for.
    #[serde(with = "derbes_core::iso_date")]
    pub date: time::Date,
    pub overdue: Option<RequestsPart>,
    /// Due by the end of today and not yet overdue.
    pub due_today: Option<RequestsPart>,
    /// Waiting for a second person's approval (four eyes).
    pub awaiting_approval: Option<RequestsPart>,
    /// Consents a representative gave, which the subject, now of age, is to confirm.
    pub reconfirmations: Option<ReconfirmationsDue>,
    /// What the last retention scan found.
    pub retention: Option<RetentionPart>,
    pub audit: Option<AuditStatus>,
}

/// The retention part of Today: the last scan the daily job kept, if it has run.
#[derive(Debug, Clone, Serialize)]
pub struct RetentionPart {
    pub latest: Option<LatestScan>,
}

impl App {
    /// Today, as `actor` may see it.
    pub async fn today(&self, actor: &Actor) -> Result<Today, VaultError> {
        let part = |filter: RequestFilter| async move {
            let listed = self
                .requests
                .requests(
                    actor,
                    RequestFilter {
                        limit: Some(TODAY_LIMIT + 1),
                        ..filter
                    },
                )
                .await;
            match listed {
                Ok(mut requests) => {
                    let more = requests.len() > TODAY_LIMIT as usize;
                    requests.truncate(TODAY_LIMIT as usize);
                    Ok(Some(RequestsPart { requests, more }))
                }
                Err(VaultError::Forbidden(_)) => Ok(None),
                Err(e) => Err(e),
            }
        };
        let overdue = part(RequestFilter {
            overdue: true,
            ..Default::default()
        })
        .await?;
        let due_today = part(RequestFilter {
            due_within_days: Some(0),
            in_time: true,
            ..Default::default()
        })
        .await?;
        let awaiting_approval = part(RequestFilter {
            status: Some(Status::AwaitingApproval),
            ..Default::default()
        })
        .await?;
        let reconfirmations = match self
            .consents
            .reconfirmations_due(actor, 0, TODAY_LIMIT)
            .await
        {
            Ok(r) => Some(r),
            Err(VaultError::Forbidden(_)) => None,
            Err(e) => return Err(e),
        };
        let retention = match self.retention.latest_scan(actor).await {
            Ok(latest) => Some(RetentionPart { latest }),
            Err(VaultError::Forbidden(_)) => None,
            Err(e) => return Err(e),
        };
        let audit = match self.vault.audit_status_for(actor) {
            Ok(s) => Some(s),
            Err(VaultError::Forbidden(_)) => None,
            Err(e) => return Err(e),
        };
        Ok(Today {
            date: self.vault.today(),
            overdue,
            due_today,
            awaiting_approval,
            reconfirmations,
            retention,
            audit,
        })
    }
}

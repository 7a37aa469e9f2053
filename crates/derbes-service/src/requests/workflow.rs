//! The DPO's steps on a request, each checked by core against the request's status.

use super::*;

impl Requests {
    /// Moves a request by one step of core's workflow; approval carries out the actions.
    pub async fn request_step(
        &self,
        actor: &Actor,
        id: Uuid,
        input: StepInput,
    ) -> Result<RequestView, VaultError> {
        let action = match input {
            StepInput::Submit => access::Action::RequestSubmit,
            StepInput::Withdraw => access::Action::RequestWithdraw,
            StepInput::Approve { .. }
            | StepInput::Reject { .. }
            | StepInput::Complete
            | StepInput::RunActions
            | StepInput::RecordAnswer { .. }
            | StepInput::SendAnswer { .. }
            | StepInput::SettleConnector { .. }
            | StepInput::Rectify { .. } => access::Action::RequestDecide,
        };
        self.vault.authorize(actor, action)?;
        let (asked, before, status_before) = self.request_parts(id).await?;
        let sight = self.sight(actor, action, &asked, &before).await?;
        let now = self.vault.now();
        let who = actor.audit_name();
        let (step, until) = match input {
            StepInput::RunActions => return self.run_actions(actor, id).await,
            StepInput::RecordAnswer { reference } => {
                return self.record_answer(actor, id, reference).await
            }
            StepInput::Rectify { fields, evidence } => {
                return self.rectify_for_request(actor, id, fields, evidence).await
            }
            StepInput::SendAnswer { text } => return self.send_answer(actor, id, text).await,
            StepInput::SettleConnector { connector, note } => {
                return self.settle_connector(actor, id, connector, note).await
            }
            StepInput::Submit => (Step::Submit, None),
            StepInput::Approve { until } => (Step::Approve, until),
            StepInput::Reject { reason } => (Step::Reject(reason), None),
            StepInput::Withdraw => (Step::Withdraw, None),
            StepInput::Complete => (Step::Complete, None),
        };
        if let Some(u) = until {
            if u < now.date() {
                return Err(VaultError::InvalidField {
                    field: "until",
                    detail: "is in the past; give the last day of the block".into(),
                });
            }
        }
        // The same person's same step again (a double click, a form posted twice): it took
        // effect the first time, so the request is answered as it stands and nothing is done
        // twice.
        if took_already(&before, status_before, step, until, &who) {
            return self.view_as(sight, &asked);
        }
        // The answer goes to the requester's e-mail on file as it is now: a destruction about to
        // run would remove it.
        let reply_to = if matches!(step, Step::Approve | Step::Reject(_)) {
            let (r, body, _) = self.request_parts(id).await?;
            match self.email_on_file(body.requester.id()).await? {
                Some((_, address)) => Some(Self::seal_text(
                    &self.request_key(&r)?,
                    &id,
                    "reply_to",
                    &address,
                )?),
                None => None,
            }
        } else {
            None
        };
        let (record, _) = self
            .update_request(id, |r, body, status| {
                if body.reply_to.is_none() {
                    body.reply_to.clone_from(&reply_to);
                }
                let pending = body
                    .actions
                    .iter()
                    .filter(|a| a.status != ActionStatus::Done)
                    .count();
                let ctx = StepContext {
                    pending_actions: pending,
                    approver_submitted: body.submitted_by.as_deref() == Some(who.as_str()),
                    four_eyes: self.four_eyes,
                };
                let to = advance(*status, step, ctx).map_err(VaultError::Step)?;
                match step {
                    Step::Submit => body.submitted_by = Some(who.clone()),
                    Step::Approve => body.block_until = until,
                    Step::Reject(reason) => body.rejection = Some(Rejection { reason }),
                    // The address was kept for the answer; once the request is closed it goes.
                    Step::Complete | Step::Withdraw => body.reply_to = None,
                    _ => {}
                }
                body.took(status, to, step.code(), &who, now);
                Ok(vec![Self::step_audit(actor, r, step.code(), to)])
            })
            .await?;
        if step == Step::Approve {
            return self.run_actions(actor, id).await;
        }
        self.view_as(sight, &record)
    }
}

/// Was `step` (with `until`, for an approval) the last one `who` took, and the request is still
/// where it left it?
fn took_already(
    body: &super::Body,
    status: Status,
    step: Step,
    until: Option<time::Date>,
    who: &str,
) -> bool {
    let same = match step {
        Step::Approve => body.block_until == until,
        Step::Reject(reason) => body.rejection.is_some_and(|r| r.reason == reason),
        _ => true,
    };
    same && body
        .history
        .last()
        .is_some_and(|h| h.step == step.code() && h.actor == who && h.status == status)
}

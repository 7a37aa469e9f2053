//! Data-subject requests: their kinds, who may file them, and the workflow they move through.
//!
//! ```text
//! received ─verify─▶ identity_verified ─submit─▶ awaiting_approval ─approve─▶ in_progress ─complete─▶ completed
//!     └───────────────┴──────── reject (with a reason) ─────┴──▶ rejected
//!     └───────────────┴──────── withdraw (by the requester) ┴──▶ withdrawn
//! ```
//!
//! Pure: the server asks [`advance`] whether a step may be taken and records what it returns.

use crate::declaration::DeadlineKind;
use crate::text::{tr, Lang};
use serde::{Deserialize, Serialize};
use thiserror::Error;

crate::coded_enum! {
    /// What the requester asks for.
    pub enum RequestKind ("request kind") {
        /// What data are held, for which purposes, from where, shared with whom.
        Information = "information",
        /// A copy of the data (the access package).
        AccessExport = "access_export",
        Rectification = "rectification",
        Blocking = "blocking",
        Unblocking = "unblocking",
        Destruction = "destruction",
        /// Restriction of processing for a purpose.
        Restriction = "restriction",
        ConsentWithdrawal = "consent_withdrawal",
        /// Objection to processing for a purpose.
        Objection = "objection",
        /// A complaint (pre-trial claim) that wants a written answer.
        Complaint = "complaint",
    }
}

impl RequestKind {
    /// The declaration's deadline that applies.
    pub fn deadline_kind(self) -> DeadlineKind {
        match self {
            RequestKind::Information => DeadlineKind::Information,
            RequestKind::AccessExport => DeadlineKind::AccessExport,
            RequestKind::Rectification => DeadlineKind::Rectification,
            RequestKind::Blocking => DeadlineKind::Blocking,
            RequestKind::Unblocking => DeadlineKind::Unblocking,
            RequestKind::Destruction => DeadlineKind::Destruction,
            RequestKind::Restriction => DeadlineKind::Restriction,
            RequestKind::ConsentWithdrawal => DeadlineKind::ConsentWithdrawal,
            RequestKind::Objection => DeadlineKind::Objection,
            RequestKind::Complaint => DeadlineKind::Complaint,
        }
    }

    /// Whether the request names the purpose it is about.
    pub fn needs_purpose(self) -> bool {
        matches!(
            self,
            RequestKind::Restriction | RequestKind::ConsentWithdrawal | RequestKind::Objection
        )
    }
}

impl RequestKind {
    /// What the requester asked for, as a letter names it.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            RequestKind::Information => tr(
                lang,
                "дербес деректерді өңдеу туралы ақпарат беру",
                "предоставление сведений об обработке персональных данных",
                "information about the processing of personal data",
            ),
            RequestKind::AccessExport => tr(
                lang,
                "дербес деректерге қол жеткізу және олардың көшірмесін беру",
                "доступ к персональным данным и предоставление их копии",
                "access to the personal data and a copy of them",
            ),
            RequestKind::Rectification => tr(
                lang,
                "дербес деректерді түзету",
                "исправление персональных данных",
                "rectification of the personal data",
            ),
            RequestKind::Blocking => tr(
                lang,
                "дербес деректерді бұғаттау",
                "блокирование персональных данных",
                "blocking of the personal data",
            ),
            RequestKind::Unblocking => tr(
                lang,
                "дербес деректерді бұғаттаудан шығару",
                "снятие блокирования персональных данных",
                "lifting the block of the personal data",
            ),
            RequestKind::Destruction => tr(
                lang,
                "дербес деректерді жою",
                "уничтожение персональных данных",
                "destruction of the personal data",
            ),
            RequestKind::Restriction => tr(
                lang,
                "дербес деректерді өңдеуді шектеу",
                "ограничение обработки персональных данных",
                "restriction of the processing of the personal data",
            ),
            RequestKind::ConsentWithdrawal => tr(
                lang,
                "дербес деректерді жинауға және өңдеуге берілген келісімді кері қайтарып алу",
                "отзыв согласия на сбор и обработку персональных данных",
                "withdrawal of consent to the collection and processing of personal data",
            ),
            RequestKind::Objection => tr(
                lang,
                "дербес деректерді өңдеуге қарсылық",
                "возражение против обработки персональных данных",
                "objection to the processing of personal data",
            ),
            RequestKind::Complaint => tr(
                lang,
                "шағым (сотқа дейінгі талап)",
                "жалоба (досудебная претензия)",
                "complaint (pre-trial claim)",
            ),
        }
    }
}

impl RejectionReason {
    /// Why the request was refused, as a letter states it.
    pub fn label(self, lang: Lang) -> &'static str {
        match self {
            RejectionReason::IdentityNotConfirmed => tr(
                lang,
                "өтініш берушінің жеке басы немесе өкілеттігі расталмады",
                "личность или полномочия заявителя не подтверждены",
                "the requester's identity or authority could not be confirmed",
            ),
            RejectionReason::NotJustified => tr(
                lang,
                "өтініште көрсетілген мән-жайлар расталмады",
                "изложенные в запросе обстоятельства не подтвердились",
                "the circumstances stated in the request were not confirmed",
            ),
            RejectionReason::ContradictsLaw => tr(
                lang,
                "өтінішті қанағаттандыру Қазақстан Республикасының заңнамасына немесе субъектінің орындалмаған міндеттемесіне қайшы келеді",
                "удовлетворение запроса противоречит законодательству Республики Казахстан или неисполненному обязательству субъекта",
                "granting the request would contradict the law of the Republic of Kazakhstan or an unfulfilled obligation of the subject",
            ),
            RejectionReason::Duplicate => tr(
                lang,
                "дәл осындай өтініш қаралуда",
                "такой же запрос уже рассматривается",
                "the same request is already being handled",
            ),
            RejectionReason::NoData => tr(
                lang,
                "операторда субъектінің дербес деректері жоқ",
                "оператор не обрабатывает персональные данные субъекта",
                "the operator holds no personal data of the subject",
            ),
        }
    }
}

crate::coded_enum! {
    /// Where a request is in its workflow.
    pub enum Status ("status") {
        Received = "received",
        IdentityVerified = "identity_verified",
        AwaitingApproval = "awaiting_approval",
        InProgress = "in_progress",
        Completed = "completed",
        Rejected = "rejected",
        Withdrawn = "withdrawn",
    }
}

impl Status {
    /// The statuses of a request still being handled.
    pub const OPEN: [Status; 4] = [
        Status::Received,
        Status::IdentityVerified,
        Status::AwaitingApproval,
        Status::InProgress,
    ];

    pub fn is_open(self) -> bool {
        Status::OPEN.contains(&self)
    }
}

/// Why a request is refused; the answer letter explains each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectionReason {
    /// The requester's identity or authority could not be confirmed.
    IdentityNotConfirmed,
    /// The request is not justified (e.g. the data are accurate, nothing to restrict).
    NotJustified,
    /// Granting it would contradict the law or an unfulfilled obligation.
    ContradictsLaw,
    /// The same request is already being handled.
    Duplicate,
    /// The operator holds no data of the subject.
    NoData,
}

/// A step in the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The requester's identity (and authority, for a representative) was confirmed.
    VerifyIdentity,
    /// The case is ready for the DPO's decision.
    Submit,
    /// The DPO approves the actions; they start.
    Approve,
    /// Every action and every connector confirmed; the answer is sent.
    Complete,
    Reject(RejectionReason),
    /// The requester takes the request back.
    Withdraw,
}

impl Step {
    pub fn code(self) -> &'static str {
        match self {
            Step::VerifyIdentity => "verify_identity",
            Step::Submit => "submit",
            Step::Approve => "approve",
            Step::Complete => "complete",
            Step::Reject(_) => "reject",
            Step::Withdraw => "withdraw",
        }
    }
}

/// Why a step cannot be taken now.
#[derive(Debug, Clone, PartialEq, Eq, Error, Serialize)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum StepProblem {
    #[error("the request is {status}; `{step}` is possible only when it is {allowed}")]
    WrongStatus {
        status: Status,
        step: &'static str,
        allowed: String,
    },
    #[error("the request is {status} and can no longer change")]
    Closed { status: Status },
    #[error("{pending} action(s) are not confirmed yet; complete the request when all are")]
    ActionsPending { pending: usize },
    #[error("the request was prepared by the same person; another DPO or admin must approve it")]
    SameApprover,
}

/// What [`advance`] needs to know beside the status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepContext {
    /// Actions and connector jobs not yet confirmed.
    pub pending_actions: usize,
    /// The approver is the person who submitted the case (refused when `four_eyes`).
    pub approver_submitted: bool,
    /// Approval needs a second person.
    pub four_eyes: bool,
}

/// The status after `step`, or why it cannot be taken.
pub fn advance(status: Status, step: Step, ctx: StepContext) -> Result<Status, StepProblem> {
    use Status::*;
    if !status.is_open() {
        return Err(StepProblem::Closed { status });
    }
    let (from, to): (&[Status], Status) = match step {
        Step::VerifyIdentity => (&[Received], IdentityVerified),
        Step::Submit => (&[IdentityVerified], AwaitingApproval),
        Step::Approve => (&[AwaitingApproval], InProgress),
        Step::Complete => (&[InProgress], Completed),
        // Once actions have started, a request is finished, not refused or taken back: what was
        // done stays done and the answer says so.
        Step::Reject(_) => (&[Received, IdentityVerified, AwaitingApproval], Rejected),
        Step::Withdraw => (&[Received, IdentityVerified, AwaitingApproval], Withdrawn),
    };
    if !from.contains(&status) {
        let allowed: Vec<&str> = from.iter().map(|s| s.code()).collect();
        return Err(StepProblem::WrongStatus {
            status,
            step: step.code(),
            allowed: allowed.join(" or "),
        });
    }
    if step == Step::Complete && ctx.pending_actions > 0 {
        return Err(StepProblem::ActionsPending {
            pending: ctx.pending_actions,
        });
    }
    if step == Step::Approve && ctx.four_eyes && ctx.approver_submitted {
        return Err(StepProblem::SameApprover);
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            Just(Step::VerifyIdentity),
            Just(Step::Submit),
            Just(Step::Approve),
            Just(Step::Complete),
            Just(Step::Reject(RejectionReason::NotJustified)),
            Just(Step::Withdraw),
        ]
    }

    #[test]
    fn the_happy_path() {
        let ctx = StepContext::default();
        let mut s = Status::Received;
        for step in [
            Step::VerifyIdentity,
            Step::Submit,
            Step::Approve,
            Step::Complete,
        ] {
            s = advance(s, step, ctx).unwrap();
        }
        assert_eq!(s, Status::Completed);
    }

    #[test]
    fn completion_waits_for_every_action() {
        let ctx = StepContext {
            pending_actions: 2,
            ..Default::default()
        };
        assert_eq!(
            advance(Status::InProgress, Step::Complete, ctx),
            Err(StepProblem::ActionsPending { pending: 2 })
        );
    }

    #[test]
    fn every_kind_and_reason_reads_differently_in_each_language() {
        use std::collections::HashSet;
        for lang in [Lang::Kk, Lang::Ru, Lang::En] {
            let kinds: HashSet<&str> = RequestKind::ALL.iter().map(|k| k.label(lang)).collect();
            assert_eq!(kinds.len(), RequestKind::ALL.len());
            let reasons = [
                RejectionReason::IdentityNotConfirmed,
                RejectionReason::NotJustified,
                RejectionReason::ContradictsLaw,
                RejectionReason::Duplicate,
                RejectionReason::NoData,
            ];
            let labels: HashSet<&str> = reasons.iter().map(|r| r.label(lang)).collect();
            assert_eq!(labels.len(), reasons.len());
        }
        assert_ne!(
            RequestKind::Destruction.label(Lang::Kk),
            RequestKind::Destruction.label(Lang::Ru)
        );
    }

    #[test]
    fn four_eyes_refuses_self_approval() {
        let ctx = StepContext {
            four_eyes: true,
            approver_submitted: true,
            ..Default::default()
        };
        assert_eq!(
            advance(Status::AwaitingApproval, Step::Approve, ctx),
            Err(StepProblem::SameApprover)
        );
        let ctx = StepContext {
            four_eyes: false,
            ..ctx
        };
        assert!(advance(Status::AwaitingApproval, Step::Approve, ctx).is_ok());
    }

    #[test]
    fn wrong_status_says_what_is_allowed() {
        let e = advance(Status::Received, Step::Approve, StepContext::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "the request is received; `approve` is possible only when it is awaiting_approval"
        );
        assert!(advance(Status::InProgress, Step::Withdraw, StepContext::default()).is_err());
    }

    #[test]
    fn codes_round_trip() {
        for k in RequestKind::ALL {
            assert_eq!(k.code().parse::<RequestKind>(), Ok(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.code());
        }
        for s in Status::ALL {
            assert_eq!(s.code().parse::<Status>(), Ok(s));
        }
        assert!("erase"
            .parse::<RequestKind>()
            .unwrap_err()
            .contains("destruction"));
    }

    proptest! {
        /// Whatever steps are tried in whatever order: a request completes only after its
        /// identity was verified and it was approved; nothing moves a closed request.
        #[test]
        fn no_completion_without_verification_and_no_step_after_closing(
            steps in proptest::collection::vec((step(), 0usize..2), 0..20),
        ) {
            let mut status = Status::Received;
            let (mut verified, mut approved) = (false, false);
            for (step, pending) in steps {
                let ctx = StepContext { pending_actions: pending, ..Default::default() };
                let before = status;
                match advance(status, step, ctx) {
                    Ok(next) => {
                        prop_assert!(before.is_open());
                        if step == Step::VerifyIdentity { verified = true; }
                        if step == Step::Approve { approved = true; }
                        if next == Status::Completed {
                            prop_assert!(verified && approved && pending == 0);
                        }
                        if next == Status::InProgress { prop_assert!(verified); }
                        status = next;
                    }
                    Err(_) => prop_assert_eq!(status, before),
                }
            }
            if matches!(status, Status::Rejected | Status::Withdrawn) {
                for s in [Step::VerifyIdentity, Step::Submit, Step::Approve, Step::Complete, Step::Withdraw] {
                    prop_assert!(advance(status, s, StepContext::default()).is_err());
                }
            }
        }
    }
}

//! Who may do what: one table of every action derbes takes for a caller, the roles that may
//! take it, and how far staff and integrations reach. Deny by default: an action not in the
//! table cannot be authorized, and every vault operation asks this table before it acts.
//!
//! Reach, for the purpose-bound roles (staff and integration):
//! - **subject**: the subject must be of a category that one of the actor's purposes covers.
//!   A subject outside is answered as if there were none (404), so that its existence and
//!   category do not leak; the attempt is audited.
//! - **filer** (requests): staff reach the requests about subjects in their reach, without the
//!   requester's words; an integration reaches only the requests it filed itself (it acts for
//!   the requester who came through it), with them.
//!
//! Admin and DPO reach every subject; auditors read the audit trail and the request register,
//! never personal data.

use crate::actor::{Actor, Role};
use crate::vault::{Vault, VaultError};
use derbes_core::audit::{AuditDraft, Outcome};

/// Declares `Action` and `Action::ALL` from one list, so every action is in the list.
macro_rules! actions {
    ($($(#[$doc:meta])* $a:ident,)*) => {
        /// Every action a caller can ask derbes to take.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Action {
            $($(#[$doc])* $a,)*
        }

        #[cfg(test)]
        impl Action {
            /// Every action, in the order declared.
            pub const ALL: &'static [Action] = &[$(Action::$a),*];
        }
    };
}

actions! {
    SubjectCreate,
    SubjectRead,
    SubjectRectify,
    SubjectLookup,
    Decide,
    SubjectHistory,
    AuditRead,
    AuditStatus,
    TokenCreate,
    TokenList,
    TokenRevoke,
    ConsentList,
    ConsentRecord,
    ConsentReceipt,
    /// The consents representatives gave that subjects are to confirm once of age.
    ReconfirmationList,
    /// A subject's lifecycle events (the relationship ended, a purpose achieved).
    LifecycleRead,
    LifecycleRecord,
    /// What has expired and what expires soon, over every subject (counts and ids).
    RetentionScan,
    /// Set, lift and list legal holds: suspending a subject's destruction.
    RetentionHold,
    /// Propose and approve retention batches: what a rule destroys or depersonalizes.
    RetentionApprove,
    /// Release depersonalized records for statistics (the groups that pass k-anonymity).
    RetentionRelease,
    RepresentativeList,
    RepresentativeLink,
    RepresentativeUnlink,
    FlagsRead,
    BlockSet,
    BlockLift,
    RestrictionSet,
    RestrictionLift,
    ObligationSet,
    ObligationFulfil,
    RequestFile,
    RequestList,
    RequestRead,
    RequestSubmit,
    RequestWithdraw,
    /// Approve, reject, complete, run the actions, record or send the answer, settle a
    /// connector, rectify: the DPO's decisions on a request.
    RequestDecide,
    RequestCodeSend,
    RequestCodeCheck,
    RequestVerifyDocument,
    RequestPackage,
    RequestAnswer,
    DestructionRead,
    SubjectDestroy,
    /// The periodic jobs and their last runs.
    JobsRead,
    /// How many subjects' consents a policy change touches.
    ConsentImpact,
    /// Person accounts of the console.
    AccountCreate,
    AccountList,
    /// Disable or enable an account.
    AccountDisable,
    /// A new one-time password (and, if asked, a new second factor).
    AccountReset,
}

/// How far a purpose-bound actor reaches for an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Not about one subject (or not for purpose-bound roles at all).
    Any,
    /// A subject of a category one of the actor's purposes covers.
    Subject,
    /// A request: staff, about a subject in reach; an integration, one it filed.
    Filer,
}

/// Who may take an action, and how far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub roles: &'static [Role],
    pub reach: Reach,
}

const EVERYONE: &[Role] = &[
    Role::Admin,
    Role::Dpo,
    Role::Staff,
    Role::Auditor,
    Role::Integration,
];
/// Those who process personal data for purposes.
const PROCESSORS: &[Role] = &[Role::Admin, Role::Dpo, Role::Staff, Role::Integration];
/// The operator's own people (not an integration).
const OPERATOR: &[Role] = &[Role::Admin, Role::Dpo, Role::Staff];
/// Those who answer for the data: the requester's words, answers, packages, blocks lifted.
const OFFICERS: &[Role] = &[Role::Admin, Role::Dpo];
const AUDIT: &[Role] = &[Role::Admin, Role::Dpo, Role::Auditor];
const ADMIN: &[Role] = &[Role::Admin];
/// The register of requests: those who handle or audit them.
const REGISTER: &[Role] = &[Role::Admin, Role::Dpo, Role::Staff, Role::Auditor];
const PACKAGE: &[Role] = &[Role::Admin, Role::Dpo, Role::Integration];

impl Action {
    /// The table.
    pub fn rule(self) -> Rule {
        use Action::*;
        let (roles, reach) = match self {
            SubjectCreate | SubjectRead | SubjectRectify | Decide => (PROCESSORS, Reach::Subject),
            // Lookups answer only subjects of categories the purpose covers.
            SubjectLookup => (PROCESSORS, Reach::Any),
            SubjectHistory | AuditRead | AuditStatus | DestructionRead => (AUDIT, Reach::Any),
            // Counts, never a subject: those who answer for the data and those who audit them.
            ConsentImpact => (AUDIT, Reach::Any),
            TokenCreate | TokenList | TokenRevoke | JobsRead => (ADMIN, Reach::Any),
            AccountCreate | AccountList | AccountDisable | AccountReset => (ADMIN, Reach::Any),
            ConsentList | ConsentRecord | ConsentReceipt => (PROCESSORS, Reach::Subject),
            // A duty of the operator's people, each of the purposes they act for.
            ReconfirmationList => (OPERATOR, Reach::Any),
            LifecycleRead | LifecycleRecord => (PROCESSORS, Reach::Subject),
            // Counts and ids, never a value: those who answer for the data and who audit them.
            RetentionScan => (AUDIT, Reach::Any),
            // Suspending destruction is a decision of those who answer for the data.
            RetentionHold | RetentionApprove => (OFFICERS, Reach::Any),
            // Statistics leave derbes: those who answer for the data decide.
            RetentionRelease => (OFFICERS, Reach::Any),
            RepresentativeList | RepresentativeLink | RepresentativeUnlink => {
                (PROCESSORS, Reach::Subject)
            }
            // Flags carry staff's notes and are the operator's own measures.
            FlagsRead | BlockSet | RestrictionSet | RestrictionLift | ObligationSet
            | ObligationFulfil => (OPERATOR, Reach::Subject),
            // A block set for a verification is lifted by those who answer for it.
            BlockLift => (OFFICERS, Reach::Any),
            RequestFile => (PROCESSORS, Reach::Subject),
            RequestList => (REGISTER, Reach::Filer),
            RequestRead => (EVERYONE, Reach::Filer),
            RequestSubmit | RequestWithdraw | RequestCodeSend | RequestCodeCheck => {
                (PROCESSORS, Reach::Filer)
            }
            RequestVerifyDocument => (OPERATOR, Reach::Filer),
            // The access package: the DPO, or the integration through which the requester
            // asked (and proved who they are).
            RequestPackage => (PACKAGE, Reach::Filer),
            RequestDecide | RequestAnswer | SubjectDestroy => (OFFICERS, Reach::Any),
        };
        Rule { roles, reach }
    }

    /// The name the audit trail records a refusal under.
    pub fn name(self) -> &'static str {
        use Action::*;
        match self {
            SubjectCreate => "subject.create",
            SubjectRead => "subject.read",
            SubjectRectify => "subject.rectify",
            SubjectLookup => "subject.lookup",
            Decide => "decision",
            SubjectHistory => "subject.audit",
            AuditRead => "audit.read",
            AuditStatus => "audit.status",
            TokenCreate => "token.create",
            TokenList => "token.list",
            TokenRevoke => "token.revoke",
            ConsentList => "consent.list",
            ConsentRecord => "consent.record",
            ConsentReceipt => "consent.receipt",
            ReconfirmationList => "consent.reconfirmations",
            LifecycleRead => "lifecycle.read",
            LifecycleRecord => "lifecycle.record",
            RetentionScan => "retention.scan",
            RetentionHold => "retention.hold",
            RetentionApprove => "retention.approve",
            RetentionRelease => "retention.release",
            RepresentativeList => "representative.list",
            RepresentativeLink => "representative.link",
            RepresentativeUnlink => "representative.unlink",
            FlagsRead => "flags.read",
            BlockSet => "subject.block",
            BlockLift => "subject.block.lift",
            RestrictionSet => "subject.restriction",
            RestrictionLift => "subject.restriction.lift",
            ObligationSet => "obligation.record",
            ObligationFulfil => "obligation.fulfil",
            RequestFile => "request.file",
            RequestList => "request.list",
            RequestRead => "request.read",
            RequestSubmit => "request.submit",
            RequestWithdraw => "request.withdraw",
            RequestDecide => "request.decide",
            RequestCodeSend => "request.code.send",
            RequestCodeCheck => "request.code.check",
            RequestVerifyDocument => "request.verify.document",
            RequestPackage => "request.package",
            RequestAnswer => "request.answer",
            DestructionRead => "destruction.read",
            SubjectDestroy => "subject.destroy",
            JobsRead => "jobs.read",
            ConsentImpact => "policy.consent_impact",
            AccountCreate => "account.create",
            AccountList => "account.list",
            AccountDisable => "account.disable",
            AccountReset => "account.reset",
        }
    }
}

/// What an actor sees of a request it may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSight {
    /// With the requester's words and every sealed text.
    Full,
    /// The register's facts only: kind, status, dates, actions.
    Facts,
}

impl Vault {
    /// Whether a credential (`holder`: "token", "account") of `role` may be given these
    /// purposes: declared ones, named for the purpose-bound roles and for no other.
    pub(crate) fn check_reach_of(
        &self,
        holder: &str,
        role: Role,
        purposes: &[String],
    ) -> Result<(), VaultError> {
        let undeclared: Vec<&str> = purposes
            .iter()
            .filter(|p| self.declaration().purpose(p).is_none())
            .map(String::as_str)
            .collect();
        if !undeclared.is_empty() {
            return Err(VaultError::InvalidField {
                field: "purposes",
                detail: format!(
                    "names purposes not declared: {}; GET /api/v1/declaration lists them",
                    undeclared.join(", ")
                ),
            });
        }
        if role.purpose_bound() && purposes.is_empty() {
            return Err(VaultError::InvalidField {
                field: "purposes",
                detail: format!(
                    "must name the purposes a `{role}` {holder} acts for (e.g. --purpose education)"
                ),
            });
        }
        if !role.purpose_bound() && !purposes.is_empty() {
            return Err(VaultError::InvalidField {
                field: "purposes",
                detail: format!("must be left out: a `{role}` {holder} is not limited to purposes"),
            });
        }
        Ok(())
    }

    /// Whether the actor's role may take `action` at all.
    pub(crate) fn authorize(&self, actor: &Actor, action: Action) -> Result<(), VaultError> {
        actor.require(action.rule().roles)
    }

    /// Whether the actor reaches subjects of `category` (admin and DPO reach all).
    pub(crate) fn reaches(&self, actor: &Actor, category: &str) -> bool {
        derbes_core::decision::covers_category(self.declaration(), &actor.scope, category)
    }

    /// The role check, then, for an action on one subject, the reach: a subject outside the
    /// actor's purposes is answered as if there were none, and the attempt is audited.
    pub(crate) async fn authorize_subject(
        &self,
        actor: &Actor,
        action: Action,
        subject: uuid::Uuid,
        category: &str,
    ) -> Result<(), VaultError> {
        self.authorize(actor, action)?;
        if action.rule().reach == Reach::Any || self.reaches(actor, category) {
            return Ok(());
        }
        self.refuse_reach(actor, action, subject).await?;
        Err(VaultError::NotFound)
    }

    /// The role check, then the subject and its state if the actor reaches it (`NotFound`
    /// otherwise; a destroyed subject outside its reach is not told apart from one never held).
    pub(crate) async fn subject_for(
        &self,
        actor: &Actor,
        action: Action,
        id: uuid::Uuid,
        purpose: Option<&str>,
    ) -> Result<(derbes_store::SubjectRecord, derbes_store::SubjectState), VaultError> {
        self.authorize(actor, action)?;
        match self.subject_and_state(id, purpose).await {
            Ok((record, state)) => {
                self.authorize_subject(actor, action, id, &record.category)
                    .await?;
                Ok((record, state))
            }
            Err(VaultError::Destroyed(d)) if !self.reaches(actor, &d.category) => {
                Err(VaultError::NotFound)
            }
            Err(e) => Err(e),
        }
    }

    /// The category of a subject held, or of one destroyed (from its destruction record).
    pub(crate) async fn category_of(&self, id: uuid::Uuid) -> Result<Option<String>, VaultError> {
        if let Some(r) = self.store().subject(id).await? {
            return Ok(Some(r.category));
        }
        Ok(self.store().destruction(id).await?.map(|d| d.category))
    }

    /// Records that `actor` asked for a subject outside its purposes.
    pub(crate) async fn refuse_reach(
        &self,
        actor: &Actor,
        action: Action,
        subject: uuid::Uuid,
    ) -> Result<(), VaultError> {
        self.audit(
            AuditDraft::new(&actor.audit_name(), action.name(), Outcome::Denied)
                .subject(subject)
                .reason("outside_actor_scope"),
        )
        .await
    }

    /// The role check, then what the actor sees of a request about a subject of `category`
    /// (`None`: destroyed and gone) filed with the token `filed_with`; a request out of reach
    /// is answered as if there were none.
    pub(crate) async fn authorize_request(
        &self,
        actor: &Actor,
        action: Action,
        subject: uuid::Uuid,
        category: Option<&str>,
        filed_with: Option<uuid::Uuid>,
    ) -> Result<RequestSight, VaultError> {
        self.authorize(actor, action)?;
        let sight = match actor.role {
            Role::Admin | Role::Dpo => Some(RequestSight::Full),
            Role::Auditor => Some(RequestSight::Facts),
            Role::Staff => category
                .filter(|c| self.reaches(actor, c))
                .map(|_| RequestSight::Facts),
            Role::Integration => {
                (actor.token.is_some() && filed_with == actor.token).then_some(RequestSight::Full)
            }
        };
        match sight {
            Some(s) => Ok(s),
            None => {
                self.refuse_reach(actor, action, subject).await?;
                Err(VaultError::RequestNotFound)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_the_table_once_and_admin_may_take_all() {
        let names: std::collections::HashSet<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        assert_eq!(names.len(), Action::ALL.len());
        for &a in Action::ALL {
            assert!(a.rule().roles.contains(&Role::Admin), "{a:?}");
            // Auditors never reach personal data of a subject.
            if a.rule().reach == Reach::Subject {
                assert!(!a.rule().roles.contains(&Role::Auditor), "{a:?}");
            }
        }
    }
}

//! The caller: who acts, in which role, for which purposes.

use derbes_core::decision::ActorScope;

derbes_core::coded_enum! {
    /// What a token may do. Deny by default: each operation names the roles it admits.
    pub enum Role ("role") {
        /// Everything, including creating tokens.
        Admin = "admin",
        /// The data protection officer: every purpose, the audit trail.
        Dpo = "dpo",
        /// Operator staff: only their purposes.
        Staff = "staff",
        /// Reads the audit trail; never personal data.
        Auditor = "auditor",
        /// A platform integration: only its purposes.
        Integration = "integration",
    }
}

impl Role {
    /// Whether tokens of this role are limited to listed purposes.
    pub fn purpose_bound(self) -> bool {
        matches!(self, Role::Staff | Role::Integration)
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub role: Role,
    pub scope: ActorScope,
    /// The token it came with (none at the command line).
    pub token: Option<uuid::Uuid>,
    /// The person account it signed in as (the console).
    pub account: Option<uuid::Uuid>,
}

impl Actor {
    /// The operator at the command line: acts for any purpose, named `admin:cli-<command>`
    /// in the audit trail.
    pub fn command_line(command: &str) -> Self {
        Actor {
            name: format!("cli-{command}"),
            role: Role::Admin,
            scope: ActorScope::AnyPurpose,
            token: None,
            account: None,
        }
    }

    /// One of derbes's own periodic jobs: acts for any purpose, named `admin:job-<name>` in
    /// the audit trail.
    pub fn job(name: &str) -> Self {
        Actor {
            name: format!("job-{name}"),
            role: Role::Admin,
            scope: ActorScope::AnyPurpose,
            token: None,
            account: None,
        }
    }

    /// A person signed in to the console, named `<role>:person:<login>` in the audit trail.
    pub fn person(account: uuid::Uuid, login: &str, role: Role, purposes: &[String]) -> Self {
        Actor {
            name: Self::person_name(login),
            role,
            scope: scope_for(role, purposes),
            token: None,
            account: Some(account),
        }
    }

    /// A person's name in the audit trail, after the role.
    pub(crate) fn person_name(login: &str) -> String {
        format!("person:{login}")
    }

    /// How the actor appears in the audit trail.
    pub fn audit_name(&self) -> String {
        format!("{}:{}", self.role, self.name)
    }

    pub fn require(&self, roles: &[Role]) -> Result<(), crate::vault::VaultError> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            // "an `admin`", "an `auditor`", "an `integration`"; "a `dpo`", "a `staff`".
            let article = if matches!(self.role, Role::Admin | Role::Auditor | Role::Integration) {
                "an"
            } else {
                "a"
            };
            Err(crate::vault::VaultError::Forbidden(format!(
                "{article} `{}` {} may not do this; it needs one of: {}",
                self.role,
                if self.account.is_some() {
                    "account"
                } else {
                    "token"
                },
                roles
                    .iter()
                    .map(|r| r.code())
                    .collect::<Vec<_>>()
                    .join(", ")
            )))
        }
    }
}

pub fn scope_for(role: Role, purposes: &[String]) -> ActorScope {
    match role {
        Role::Admin | Role::Dpo => ActorScope::AnyPurpose,
        Role::Staff | Role::Integration => ActorScope::Purposes(purposes.to_vec()),
        Role::Auditor => ActorScope::Purposes(Vec::new()),
    }
}

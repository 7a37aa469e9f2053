//! What decisions about a subject rest on, read from the store: its record and state, its
//! birth date, the facts core decides on, and the purposes it may be asked about.

use super::{Vault, VaultError};
use derbes_core::consent::{birth_date, SubjectFacts};
use derbes_core::declaration::{Declaration, LegalBasis};
use derbes_core::lifecycle::{fold, LifecycleEvent};
use derbes_core::retention::{FieldEnds, Lifecycle, RetentionFacts};
use derbes_core::validate::FieldProblem;
use derbes_store::{SubjectRecord, SubjectState};
use time::{Date, OffsetDateTime};
use uuid::Uuid;

/// What of a subject's flags holds at one moment: the block, the restricted purposes and the
/// purposes with an open obligation.
pub(crate) struct InForce {
    blocked: bool,
    restricted: Vec<String>,
    obligations: Vec<String>,
}

impl InForce {
    pub fn at(state: &SubjectState, now: OffsetDateTime) -> Self {
        fn holding<T>(list: &[(String, T)], holds: impl Fn(&T) -> bool) -> Vec<String> {
            list.iter()
                .filter(|(_, f)| holds(f))
                .map(|(p, _)| p.clone())
                .collect()
        }
        Self {
            blocked: state.blocked.as_ref().is_some_and(|f| f.holds(now)),
            restricted: holding(&state.restrictions, |f| f.holds(now)),
            obligations: holding(&state.obligations, |o| o.holds(now)),
        }
    }

    /// The facts core decides on, for a subject with this state, birth date and retention.
    pub fn facts<'a>(
        &'a self,
        birth_date: Option<Date>,
        state: &'a SubjectState,
        retention: Option<RetentionFacts<'a>>,
    ) -> SubjectFacts<'a> {
        SubjectFacts {
            birth_date,
            blocked: self.blocked,
            restricted: &self.restricted,
            obligations: &self.obligations,
            consents: &state.consents,
            retention,
        }
    }
}

/// What a subject's state says for decisions at one moment.
pub(crate) struct Facts {
    pub birth_date: Option<Date>,
    in_force: InForce,
    pub state: SubjectState,
    /// What retention counts from.
    pub lifecycle: Lifecycle,
    /// The operator's local day at the moment the facts are for.
    pub today: Date,
}

impl Facts {
    /// The facts consents are worked out on.
    pub fn as_subject_facts(&self) -> SubjectFacts<'_> {
        self.in_force.facts(self.birth_date, &self.state, None)
    }

    /// The last days of the subject's fields, for a subject of `category` (the state must hold
    /// the whole consent ledger: every consent may keep a field).
    pub fn field_ends(&self, declaration: &Declaration, category: &str) -> FieldEnds {
        FieldEnds::of(
            declaration,
            category,
            &self.lifecycle,
            &self.as_subject_facts(),
            self.today,
        )
    }

    /// The facts a read is decided on, with the last days of the fields.
    pub fn for_decision<'a>(&'a self, ends: &'a FieldEnds) -> SubjectFacts<'a> {
        let retention = RetentionFacts {
            ends,
            today: self.today,
        };
        self.in_force
            .facts(self.birth_date, &self.state, Some(retention))
    }
}

impl Vault {
    /// The record and state of a subject, or `NotFound`.
    pub(crate) async fn subject_and_state(
        &self,
        id: Uuid,
        purpose: Option<&str>,
    ) -> Result<(SubjectRecord, SubjectState), VaultError> {
        match self
            .store()
            .subject_with_state(id, purpose.map(str::to_owned))
            .await?
        {
            Some(found) => Ok(found),
            None => Err(match self.store().destruction(id).await? {
                Some(d) => VaultError::Destroyed(Box::new(d)),
                None => VaultError::NotFound,
            }),
        }
    }

    /// The subject's birth date, from its sealed values.
    pub(crate) fn birth_date_of(&self, record: &SubjectRecord) -> Result<Option<Date>, VaultError> {
        let dk = self.open_key(record)?;
        let mut failure = None;
        let found = birth_date(self.declaration(), &record.category, |key| {
            let (_, sealed) = record.fields.iter().find(|(k, _)| k == key)?;
            match self.open_field(&dk, record, key, sealed) {
                Ok(v) => Some(v),
                Err(e) => {
                    failure = Some(e);
                    None
                }
            }
        });
        match failure {
            Some(e) if found.is_none() => Err(e),
            _ => Ok(found),
        }
    }

    /// What decisions about the subject rest on at `now`. For a decision about `purpose` the
    /// birth date is read (a field opened) only when the purpose rests on consent and the
    /// subject has consent events; with `None` (recording or listing consents) it always is.
    pub(crate) fn facts(
        &self,
        record: &SubjectRecord,
        state: SubjectState,
        now: OffsetDateTime,
        purpose: Option<&str>,
    ) -> Result<Facts, VaultError> {
        let needs_birth = match purpose {
            None => true,
            Some(p) => {
                !state.consents.is_empty()
                    && self
                        .declaration()
                        .purpose(p)
                        .is_some_and(|p| p.legal_basis == LegalBasis::Consent)
            }
        };
        let birth_date = if needs_birth {
            self.birth_date_of(record)?
        } else {
            None
        };
        Ok(Facts {
            birth_date,
            in_force: InForce::at(&state, now),
            lifecycle: self.lifecycle_of(record, &state.lifecycle),
            today: self.day_of(now),
            state,
        })
    }

    /// The day of `at` where the operator is (the calendar's time zone).
    pub(crate) fn day_of(&self, at: OffsetDateTime) -> Date {
        at.to_offset(self.calendar().offset()).date()
    }

    /// What retention counts from for a subject: the day its data were collected, the days
    /// fields were collected later, and what its lifecycle `events` add up to.
    pub(crate) fn lifecycle_of(
        &self,
        record: &SubjectRecord,
        events: &[LifecycleEvent],
    ) -> Lifecycle {
        self.lifecycle_from(record.created_at, &record.field_collected, events)
    }

    /// [`Vault::lifecycle_of`] from the parts of a subject's record it reads.
    pub(crate) fn lifecycle_from(
        &self,
        created_at: OffsetDateTime,
        field_collected: &std::collections::BTreeMap<String, Date>,
        events: &[LifecycleEvent],
    ) -> Lifecycle {
        let mut life = fold(self.day_of(created_at), events);
        life.field_collected.clone_from(field_collected);
        life.offset = self.calendar().offset();
        life
    }

    /// A declared purpose, or a validation error naming the path parameter.
    pub(crate) fn declared_purpose(
        &self,
        purpose: &str,
    ) -> Result<&derbes_core::declaration::Purpose, VaultError> {
        crate::vault::check_names(purpose, &[])?;
        self.declaration().purpose(purpose).ok_or_else(|| {
            VaultError::Validation(vec![FieldProblem {
                field: "purpose".into(),
                message: format!(
                    "purpose `{purpose}` is not declared; GET /api/v1/declaration lists them"
                ),
                reason: None,
            }])
        })
    }
}

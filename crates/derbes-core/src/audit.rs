//! The audit chain: each event carries the hash of the one before it, so that changing, removing
//! or reordering any event breaks the chain at that event.
//!
//! Events hold names (actor, action, purpose, field keys) and outcomes, never values.

use crate::declaration::hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use time::{Date, OffsetDateTime};

/// `prev_hash` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The outcome recorded with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// A write or an administrative action that took effect.
    Ok,
    /// A read or lookup that was allowed.
    Allowed,
    /// A request that was refused.
    Denied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Outcome::Ok),
            "allowed" => Some(Outcome::Allowed),
            "denied" => Some(Outcome::Denied),
            _ => None,
        }
    }
}

/// An event before it takes its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDraft {
    pub actor: String,
    pub action: String,
    pub subject_id: Option<String>,
    pub purpose: Option<String>,
    pub fields: Vec<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    /// Canonical JSON with non-personal facts (e.g. value fingerprints, counts).
    pub details: Option<String>,
}

impl AuditDraft {
    pub fn new(actor: &str, action: &str, outcome: Outcome) -> Self {
        Self {
            actor: actor.to_owned(),
            action: action.to_owned(),
            subject_id: None,
            purpose: None,
            fields: Vec::new(),
            outcome,
            reason: None,
            details: None,
        }
    }
    pub fn subject(mut self, id: impl ToString) -> Self {
        self.subject_id = Some(id.to_string());
        self
    }
    pub fn purpose(mut self, purpose: &str) -> Self {
        self.purpose = Some(purpose.to_owned());
        self
    }
    pub fn fields<S: AsRef<str>>(mut self, fields: &[S]) -> Self {
        self.fields = fields.iter().map(|f| f.as_ref().to_owned()).collect();
        self
    }
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
    /// Non-personal details as JSON: codes, ids, counts.
    pub fn details<T: serde::Serialize + ?Sized>(mut self, details: &T) -> Self {
        // Values and the plain structs callers pass always serialize.
        self.details = serde_json::to_string(details).ok();
        self
    }

    /// Places the draft in the chain after `prev_hash`.
    pub fn seal(self, seq: i64, at: OffsetDateTime, prev_hash: &str) -> AuditEvent {
        let mut e = AuditEvent {
            seq,
            at: format_timestamp(at),
            actor: self.actor,
            action: self.action,
            subject_id: self.subject_id,
            purpose: self.purpose,
            fields: self.fields,
            outcome: self.outcome,
            reason: self.reason,
            details: self.details,
            prev_hash: prev_hash.to_owned(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }
}

/// An event in the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub seq: i64,
    /// RFC 3339, UTC, microseconds.
    pub at: String,
    pub actor: String,
    pub action: String,
    pub subject_id: Option<String>,
    pub purpose: Option<String>,
    pub fields: Vec<String>,
    pub outcome: Outcome,
    pub reason: Option<String>,
    pub details: Option<String>,
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEvent {
    /// SHA-256 over a length-prefixed encoding of every field but `hash`.
    pub fn compute_hash(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"derbes-audit-v1");
        h.update(self.seq.to_be_bytes());
        let mut put = |s: Option<&str>| match s {
            None => h.update([0u8]),
            Some(s) => {
                h.update([1u8]);
                h.update((s.len() as u64).to_be_bytes());
                h.update(s.as_bytes());
            }
        };
        put(Some(&self.at));
        put(Some(&self.actor));
        put(Some(&self.action));
        put(self.subject_id.as_deref());
        put(self.purpose.as_deref());
        put(Some(&self.fields.join("\u{1f}")));
        put(Some(self.outcome.as_str()));
        put(self.reason.as_deref());
        put(self.details.as_deref());
        put(Some(&self.prev_hash));
        hex(&h.finalize())
    }
}

/// The first place where a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainBreak {
    #[error("event {seq}: its content does not match its hash (the event was changed)")]
    Changed { seq: i64 },
    #[error("event {seq}: expected sequence number {expected} (events before it were removed or reordered)")]
    Gap { seq: i64, expected: i64 },
    #[error("event {seq}: its prev_hash does not match the hash of event {prev} (events were removed, inserted or reordered)")]
    Link { seq: i64, prev: i64 },
    #[error("the chain ends at event {last} but the signed head says {head}: events at the end were removed or added")]
    Head { last: i64, head: i64 },
    #[error("the signed head does not match the last event's hash, or its signature is wrong")]
    HeadMismatch,
}

/// Walks a chain from its first event, in order.
#[derive(Debug)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for ChainVerifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS.to_owned(),
        }
    }
}

impl ChainVerifier {
    pub fn push(&mut self, e: &AuditEvent) -> Result<(), ChainBreak> {
        if e.seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                seq: e.seq,
                expected: self.expected_seq,
            });
        }
        if e.compute_hash() != e.hash {
            return Err(ChainBreak::Changed { seq: e.seq });
        }
        if e.prev_hash != self.prev_hash {
            return Err(ChainBreak::Link {
                seq: e.seq,
                prev: e.seq - 1,
            });
        }
        self.expected_seq += 1;
        self.prev_hash = e.hash.clone();
        Ok(())
    }

    /// The number of events verified.
    pub fn count(&self) -> i64 {
        self.expected_seq - 1
    }

    /// The hash of the last verified event.
    pub fn last_hash(&self) -> &str {
        &self.prev_hash
    }
}

pub fn format_timestamp(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let (y, mo, d) = (at.year(), at.month() as u8, at.day());
    format!(
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{:06}Z",
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), d.month() as u8, d.day())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn chain(n: i64) -> Vec<AuditEvent> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = AuditDraft::new("token:1", "subject.read", Outcome::Allowed)
                    .subject("0190-…")
                    .purpose("education")
                    .fields(&["iin", "surname"])
                    .seal(seq, datetime!(2026-11-21 10:00:00 UTC), &prev);
                prev = e.hash.clone();
                e
            })
            .collect()
    }

    fn verify(events: &[AuditEvent]) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::default();
        for e in events {
            v.push(e)?;
        }
        Ok(v.count())
    }

    #[test]
    fn intact_chain_verifies() {
        assert_eq!(verify(&chain(5)), Ok(5));
        assert_eq!(chain(1)[0].at, "2026-11-21T10:00:00.000000Z");
    }

    #[test]
    fn a_changed_event_is_named() {
        let mut c = chain(5);
        c[2].purpose = Some("marketing".into());
        assert_eq!(verify(&c), Err(ChainBreak::Changed { seq: 3 }));
    }

    #[test]
    fn a_removed_event_is_named() {
        let mut c = chain(5);
        c.remove(1);
        assert_eq!(
            verify(&c),
            Err(ChainBreak::Gap {
                seq: 3,
                expected: 2
            })
        );
    }

    #[test]
    fn a_rewritten_tail_is_caught_by_the_link() {
        // Removing event 2 and renumbering the rest, with each hash recomputed, still breaks the
        // link of the renumbered event 2.
        let mut c = chain(5);
        c.remove(1);
        for (i, e) in c.iter_mut().enumerate() {
            e.seq = i as i64 + 1;
            e.hash = e.compute_hash();
        }
        assert_eq!(verify(&c), Err(ChainBreak::Link { seq: 2, prev: 1 }));
    }

    #[test]
    fn swapped_events_are_caught() {
        let mut c = chain(5);
        c.swap(1, 2);
        assert!(matches!(verify(&c), Err(ChainBreak::Gap { seq: 3, .. })));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let a = AuditDraft::new("ab", "c", Outcome::Ok).seal(
            1,
            datetime!(2026-01-01 0:00 UTC),
            GENESIS,
        );
        let b = AuditDraft::new("a", "bc", Outcome::Ok).seal(
            1,
            datetime!(2026-01-01 0:00 UTC),
            GENESIS,
        );
        assert_ne!(a.hash, b.hash);
    }
}

//! The audit chain: each event carries a keyed hash (HMAC-SHA256 under a key only the key file
//! holds) over its content and the hash of the event before it, so that changing, removing or
//! reordering any event breaks the chain at that event, and nobody without the key file can
//! write a chain that verifies. Signed checkpoints (sequence number, hash, time) form a
//! monotonic series that is also kept outside the database, so that rolling the chain back past
//! an exported checkpoint is detected too.
//!
//! Events hold names (actor, action, purpose, field keys) and outcomes, never values.

use crate::declaration::hex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use time::{Date, OffsetDateTime};

/// A chain hash: 32 bytes.
pub type Hash = [u8; 32];

/// What the first event links to.
pub const GENESIS: Hash = [0; 32];

/// The action of the event every chain begins with, written when the database is created.
pub const START_ACTION: &str = "audit.start";

/// The keys the chain is written and verified with. The key ring implements it; core only
/// defines what is hashed and signed.
pub trait ChainKeys: Send + Sync {
    /// The keyed hash of an event's encoding.
    fn event_hash(&self, encoding: &[u8]) -> Hash;
    /// Whether `stored` is the keyed hash of `encoding` (in constant time).
    fn event_hash_matches(&self, encoding: &[u8], stored: &Hash) -> bool;
    /// The MAC of the chain's head (its last event).
    fn head_mac(&self, seq: i64, hash: &Hash) -> Hash;
    /// Whether `mac` is the head's MAC (in constant time).
    fn head_mac_matches(&self, seq: i64, hash: &Hash, mac: &[u8]) -> bool;
    /// Whether a head signed before the chain was keyed (hex hash, base64 MAC) is genuine.
    fn legacy_head_matches(&self, seq: i64, hash_hex: &str, mac: &str) -> bool;
    /// An Ed25519 signature over a checkpoint's message.
    fn sign_checkpoint(&self, message: &[u8]) -> Vec<u8>;
    fn checkpoint_signature_matches(&self, message: &[u8], signature: &[u8]) -> bool;
    /// The id of the key checkpoints are signed with (formed as receipts' key ids are).
    fn checkpoint_key_id(&self) -> String;
}

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

    /// Places the draft in the chain after the event whose hash is `prev`.
    pub fn seal(
        self,
        seq: i64,
        at: OffsetDateTime,
        prev: &Hash,
        keys: &dyn ChainKeys,
    ) -> AuditEvent {
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
            hash: GENESIS,
        };
        e.hash = keys.event_hash(&e.encoding(prev));
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
    /// The keyed hash over the event and the hash of the event before it; hex in JSON.
    #[serde(with = "hex_hash")]
    pub hash: Hash,
}

/// Writes a length-prefixed encoding: `None` and `Some("")` differ, and no field's end can be
/// mistaken for the next one's start.
struct Encoder<'a, F: FnMut(&[u8])>(&'a mut F);

impl<F: FnMut(&[u8])> Encoder<'_, F> {
    fn put(&mut self, s: Option<&str>) {
        match s {
            None => (self.0)(&[0u8]),
            Some(s) => {
                (self.0)(&[1u8]);
                (self.0)(&(s.len() as u64).to_be_bytes());
                (self.0)(s.as_bytes());
            }
        }
    }
}

impl AuditEvent {
    fn encode_fields(&self, out: &mut impl FnMut(&[u8])) {
        let mut e = Encoder(out);
        e.put(Some(&self.at));
        e.put(Some(&self.actor));
        e.put(Some(&self.action));
        e.put(self.subject_id.as_deref());
        e.put(self.purpose.as_deref());
        e.put(Some(&self.fields.join("\u{1f}")));
        e.put(Some(self.outcome.as_str()));
        e.put(self.reason.as_deref());
        e.put(self.details.as_deref());
    }

    /// What the keyed hash covers: every field but `hash`, and the previous event's hash.
    pub fn encoding(&self, prev: &Hash) -> Vec<u8> {
        let mut buf = Vec::with_capacity(160);
        buf.extend_from_slice(b"derbes-audit-v2");
        buf.extend_from_slice(&self.seq.to_be_bytes());
        self.encode_fields(&mut |b: &[u8]| buf.extend_from_slice(b));
        buf.extend_from_slice(prev);
        buf
    }

    /// The unkeyed SHA-256 that events written before the chain was keyed carry (their
    /// `prev_hash` was the previous event's hash in hex).
    pub fn legacy_hash(&self, prev: &Hash) -> Hash {
        let mut h = Sha256::new();
        h.update(b"derbes-audit-v1");
        h.update(self.seq.to_be_bytes());
        self.encode_fields(&mut |b: &[u8]| h.update(b));
        let prev = hex(prev);
        let mut e = Encoder(&mut |b: &[u8]| h.update(b));
        e.put(Some(&prev));
        h.finalize().into()
    }
}

/// Serde for a [`Hash`] as 64 lower-case hex digits.
pub mod hex_hash {
    use super::Hash;
    pub fn serialize<S: serde::Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::declaration::hex(h))
    }
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Hash, D::Error> {
        let s: String = serde::Deserialize::deserialize(d)?;
        super::parse_hash(&s).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}

/// A hash from 64 hex digits.
pub fn parse_hash(s: &str) -> Option<Hash> {
    unhex(s)
}

/// Exactly `N` bytes from `2 N` hex digits.
fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != 2 * N || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The first place where a chain is broken, or why it cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChainBreak {
    #[error("event {seq}: its hash does not match its content and the event before it (the event was changed, or events before it were removed, inserted or reordered)")]
    Changed { seq: i64 },
    #[error("event {seq}: expected sequence number {expected} (events before it were removed or reordered)")]
    Gap { seq: i64, expected: i64 },
    #[error("the chain holds no events, but every chain begins with the event `{START_ACTION}` written when the database was created: its events were removed")]
    Empty,
    #[error("event 1 is `{action}`, but every chain begins with `{START_ACTION}`: the events before it were removed")]
    NoStart { action: String },
    #[error("the chain ends at event {last} but the signed head says {head}: events at the end were removed or added")]
    Head { last: i64, head: i64 },
    #[error("the signed head does not match the last event's hash, or its signature is wrong")]
    HeadMismatch,
    #[error("checkpoint {n} (event {seq}): {detail}")]
    Checkpoint { n: i64, seq: i64, detail: String },
    #[error("the chain ends at event {last}, before checkpoint {n} (event {seq}, signed at {at}) that was exported from it: the database was rolled back, or replaced by another one")]
    RolledBack {
        n: i64,
        seq: i64,
        at: String,
        last: i64,
    },
    #[error("archived segment {n}: {detail}")]
    Segment { n: i64, detail: String },
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    Refused(String),
}

/// Walks a chain in order, from its start or from a verified event.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    expected_seq: i64,
    prev: Hash,
    /// Events up to this one were written before the chain was keyed.
    legacy_until: i64,
}

impl ChainVerifier {
    /// From the start of a chain whose events up to `legacy_until` are unkeyed (0: none).
    pub fn new(legacy_until: i64) -> Self {
        Self {
            expected_seq: 1,
            prev: GENESIS,
            legacy_until,
        }
    }

    /// After the event (`seq`, `hash`), which was verified earlier.
    pub fn after(seq: i64, hash: Hash, legacy_until: i64) -> Self {
        Self {
            expected_seq: seq + 1,
            prev: hash,
            legacy_until,
        }
    }

    pub fn push(&mut self, e: &AuditEvent, keys: &dyn ChainKeys) -> Result<(), ChainBreak> {
        if e.seq != self.expected_seq {
            return Err(ChainBreak::Gap {
                seq: e.seq,
                expected: self.expected_seq,
            });
        }
        if e.seq == 1 && self.legacy_until == 0 && e.action != START_ACTION {
            return Err(ChainBreak::NoStart {
                action: e.action.clone(),
            });
        }
        let genuine = if e.seq <= self.legacy_until {
            e.legacy_hash(&self.prev) == e.hash
        } else {
            keys.event_hash_matches(&e.encoding(&self.prev), &e.hash)
        };
        if !genuine {
            return Err(ChainBreak::Changed { seq: e.seq });
        }
        self.expected_seq += 1;
        self.prev = e.hash;
        Ok(())
    }

    /// The sequence number of the last verified event (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.expected_seq - 1
    }

    /// The hash of the last verified event.
    pub fn last_hash(&self) -> &Hash {
        &self.prev
    }
}

/// A signed statement that the chain held `seq` events, the last with `hash`, at `at`. The
/// series is numbered from 1 without gaps in the database; a copy kept outside it (a file, a
/// witness, paper) proves later that the chain was not rolled back past it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub n: i64,
    pub seq: i64,
    pub hash: Hash,
    /// RFC 3339, UTC, microseconds.
    pub at: String,
    /// Events up to this one were written before the chain was keyed (the same in every
    /// checkpoint of a chain).
    pub legacy_until: i64,
    /// Ed25519, 64 bytes.
    pub signature: Vec<u8>,
}

/// The first word of a checkpoint line.
pub const CHECKPOINT_LINE: &str = "derbes-audit-checkpoint";

impl Checkpoint {
    fn message(n: i64, seq: i64, hash: &Hash, at: &str, legacy_until: i64) -> Vec<u8> {
        let mut m = Vec::with_capacity(96);
        m.extend_from_slice(b"derbes-checkpoint-v1");
        m.extend_from_slice(&n.to_be_bytes());
        m.extend_from_slice(&seq.to_be_bytes());
        m.extend_from_slice(hash);
        m.extend_from_slice(&(at.len() as u64).to_be_bytes());
        m.extend_from_slice(at.as_bytes());
        m.extend_from_slice(&legacy_until.to_be_bytes());
        m
    }

    pub fn sign(
        n: i64,
        seq: i64,
        hash: Hash,
        at: String,
        legacy_until: i64,
        keys: &dyn ChainKeys,
    ) -> Self {
        let signature = keys.sign_checkpoint(&Self::message(n, seq, &hash, &at, legacy_until));
        Self {
            n,
            seq,
            hash,
            at,
            legacy_until,
            signature,
        }
    }

    pub fn signature_valid(&self, keys: &dyn ChainKeys) -> bool {
        keys.checkpoint_signature_matches(
            &Self::message(self.n, self.seq, &self.hash, &self.at, self.legacy_until),
            &self.signature,
        )
    }

    /// One line of text, for the checkpoint file and the auditor's paper file:
    /// `derbes-audit-checkpoint n=… seq=… hash=… at=… legacy=… key=… sig=…`.
    pub fn to_line(&self, key_id: &str) -> String {
        format!(
            "{CHECKPOINT_LINE} n={} seq={} hash={} at={} legacy={} key={key_id} sig={}",
            self.n,
            self.seq,
            hex(&self.hash),
            self.at,
            self.legacy_until,
            hex(&self.signature)
        )
    }

    /// Reads a line written by [`Checkpoint::to_line`]; the error says what is wrong.
    pub fn parse_line(line: &str) -> Result<Self, String> {
        let mut w = Words::new(line, CHECKPOINT_LINE)?;
        let n = w.int("n")?;
        let seq = w.int("seq")?;
        let hash = w.hash("hash")?;
        let at = w.get("at")?;
        let legacy_until = w.int("legacy")?;
        let _key = w.get("key")?;
        let signature = w.signature()?;
        Ok(Self {
            n,
            seq,
            hash,
            at,
            legacy_until,
            signature,
        })
    }
}

/// A signed statement that events `first` to `last` of the chain (the first linking to `prev`,
/// the last with `hash`) were moved out of the database into an archive file whose event lines
/// have the SHA-256 `digest`, at `at`. Segments are numbered from 1 without gaps, each continues
/// the one before, and the events the database keeps continue the last: the chain verifies
/// across them, and with the archive files it verifies whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub n: i64,
    pub first: i64,
    pub last: i64,
    pub prev: Hash,
    pub hash: Hash,
    pub digest: Hash,
    /// RFC 3339, UTC, microseconds.
    pub at: String,
    /// Events up to this one predate the keyed chain (as in the checkpoints).
    pub legacy_until: i64,
    /// Ed25519, 64 bytes, with the checkpoints' key.
    pub signature: Vec<u8>,
}

/// The first word of a segment line (the last line of an archive file).
pub const SEGMENT_LINE: &str = "derbes-audit-segment";

impl Segment {
    /// The segment signed under the checkpoints' key (whatever `signature` it had).
    pub fn signed(mut self, keys: &dyn ChainKeys) -> Self {
        self.signature = keys.sign_checkpoint(&self.message());
        self
    }

    fn message(&self) -> Vec<u8> {
        let mut m = Vec::with_capacity(160);
        m.extend_from_slice(b"derbes-segment-v1");
        for v in [self.n, self.first, self.last] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.extend_from_slice(&self.prev);
        m.extend_from_slice(&self.hash);
        m.extend_from_slice(&self.digest);
        m.extend_from_slice(&(self.at.len() as u64).to_be_bytes());
        m.extend_from_slice(self.at.as_bytes());
        m.extend_from_slice(&self.legacy_until.to_be_bytes());
        m
    }

    pub fn signature_valid(&self, keys: &dyn ChainKeys) -> bool {
        keys.checkpoint_signature_matches(&self.message(), &self.signature)
    }

    /// Whether it continues `prev` (the first segment, when `None`): numbered next, beginning
    /// where `prev` ends and linked to its last event. The error says how it does not.
    pub fn continues(&self, prev: Option<&Segment>) -> Result<(), String> {
        let (n, first, hash) = prev.map_or((1, 1, GENESIS), |p| (p.n + 1, p.last + 1, p.hash));
        if self.n != n {
            return Err(format!(
                "expected segment {n} in its place: segments were removed or reordered"
            ));
        }
        if self.first != first || self.prev != hash || self.last < self.first {
            return Err("it does not continue the chain where the segment before it ends".into());
        }
        if prev.is_some_and(|p| p.legacy_until != self.legacy_until) {
            return Err(
                "it disagrees with the segments before it on which events predate the keyed chain"
                    .into(),
            );
        }
        Ok(())
    }

    /// The name of its archive file.
    pub fn file_name(&self) -> String {
        format!("audit-segment-{:06}.jsonl", self.n)
    }

    /// How many events it holds.
    pub fn events(&self) -> i64 {
        self.last - self.first + 1
    }

    /// One line of text, the last of its archive file:
    /// `derbes-audit-segment n=… first=… last=… prev=… hash=… digest=… at=… legacy=… key=… sig=…`.
    pub fn to_line(&self, key_id: &str) -> String {
        format!(
            "{SEGMENT_LINE} n={} first={} last={} prev={} hash={} digest={} at={} legacy={} key={key_id} sig={}",
            self.n,
            self.first,
            self.last,
            hex(&self.prev),
            hex(&self.hash),
            hex(&self.digest),
            self.at,
            self.legacy_until,
            hex(&self.signature)
        )
    }

    /// Reads a line written by [`Segment::to_line`]; the error says what is wrong.
    pub fn parse_line(line: &str) -> Result<Self, String> {
        let mut w = Words::new(line, SEGMENT_LINE)?;
        let n = w.int("n")?;
        let first = w.int("first")?;
        let last = w.int("last")?;
        let prev = w.hash("prev")?;
        let hash = w.hash("hash")?;
        let digest = w.hash("digest")?;
        let at = w.get("at")?;
        let legacy_until = w.int("legacy")?;
        let _key = w.get("key")?;
        let signature = w.signature()?;
        Ok(Self {
            n,
            first,
            last,
            prev,
            hash,
            digest,
            at,
            legacy_until,
            signature,
        })
    }
}

/// The `key=value` words of a checkpoint or segment line, read in their order.
struct Words<'a>(std::str::SplitWhitespace<'a>);

impl<'a> Words<'a> {
    fn new(line: &'a str, first: &str) -> Result<Self, String> {
        let mut words = line.split_whitespace();
        if words.next() != Some(first) {
            return Err(format!("a line of this kind starts with `{first}`"));
        }
        Ok(Self(words))
    }

    fn get(&mut self, key: &str) -> Result<String, String> {
        match self
            .0
            .next()
            .and_then(|w| w.strip_prefix(key)?.strip_prefix('='))
        {
            Some(v) => Ok(v.to_owned()),
            None => Err(format!("expected `{key}=…` in its place")),
        }
    }

    fn int(&mut self, key: &str) -> Result<i64, String> {
        let v = self.get(key)?;
        v.parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or(format!("`{key}` must be a whole number, not `{v}`"))
    }

    fn hash(&mut self, key: &str) -> Result<Hash, String> {
        parse_hash(&self.get(key)?).ok_or(format!("`{key}` must be 64 hex digits"))
    }

    fn signature(&mut self) -> Result<Vec<u8>, String> {
        unhex::<64>(&self.get("sig")?)
            .map(Vec::from)
            .ok_or("`sig` must be 128 hex digits".to_owned())
    }
}

/// Checks the database's series of segments: each signed with the installation's key, numbered
/// from 1 without gaps, the first beginning the chain and each continuing the one before.
pub fn check_segments(series: &[Segment], keys: &dyn ChainKeys) -> Result<(), ChainBreak> {
    let bad = |s: &Segment, detail: &str| ChainBreak::Segment {
        n: s.n,
        detail: detail.to_owned(),
    };
    let mut prev: Option<&Segment> = None;
    for s in series {
        if !s.signature_valid(keys) {
            return Err(bad(
                s,
                "its signature is not this installation's: it was changed or made elsewhere",
            ));
        }
        s.continues(prev).map_err(|d| bad(s, &d))?;
        prev = Some(s);
    }
    Ok(())
}

/// The line of `e` in an archive file, which holds one JSON line per event and then the
/// segment's line; the segment's `digest` is the SHA-256 of the event lines.
pub fn segment_event_line(e: &AuditEvent) -> String {
    let mut line = serde_json::to_string(e).unwrap_or_default();
    line.push('\n');
    line
}

/// Verifies an archive file against its segment (as the database holds it): the segment line
/// is the same, the event lines have its digest, and the events are the chain from `first` to
/// `last`, linked to `prev` and ending with `hash`. `each` sees every verified event.
pub fn verify_segment_file(
    text: &str,
    s: &Segment,
    keys: &dyn ChainKeys,
    mut each: impl FnMut(&AuditEvent) -> Result<(), ChainBreak>,
) -> Result<(), ChainBreak> {
    let bad = |detail: String| ChainBreak::Segment { n: s.n, detail };
    let body_end = text.trim_end_matches('\n').rfind('\n').map_or(0, |i| i + 1);
    let (body, line) = text.split_at(body_end);
    match Segment::parse_line(line.trim()) {
        Ok(f) if f == *s => {}
        Ok(_) => {
            return Err(bad(
                "the archive file's segment line differs from the database's segment".into(),
            ))
        }
        Err(e) => {
            return Err(bad(format!(
                "the archive file's last line is not its segment: {e}"
            )))
        }
    }
    let digest: Hash = Sha256::digest(body.as_bytes()).into();
    if digest != s.digest {
        return Err(bad("the archive file's events are not those archived (their digest differs): the file was changed".into()));
    }
    let mut v = if s.first == 1 {
        ChainVerifier::new(s.legacy_until)
    } else {
        ChainVerifier::after(s.first - 1, s.prev, s.legacy_until)
    };
    for (i, l) in body.lines().enumerate() {
        let e: AuditEvent = serde_json::from_str(l)
            .map_err(|e| bad(format!("line {}: not an audit event ({e})", i + 1)))?;
        v.push(&e, keys)?;
        each(&e)?;
    }
    if v.last_seq() != s.last || *v.last_hash() != s.hash {
        return Err(bad(format!(
            "the archive file ends at event {}, but the segment ends at event {}",
            v.last_seq(),
            s.last
        )));
    }
    Ok(())
}

/// Checks a series of checkpoints, in the order given: each signed with the installation's key,
/// numbered upwards (`consecutive`: without gaps, as the database keeps them), never going back
/// in events or time, all with the same `legacy_until`.
pub fn check_series(
    series: &[Checkpoint],
    consecutive: bool,
    keys: &dyn ChainKeys,
) -> Result<(), ChainBreak> {
    let bad = |c: &Checkpoint, detail: &str| ChainBreak::Checkpoint {
        n: c.n,
        seq: c.seq,
        detail: detail.to_owned(),
    };
    let mut prev: Option<&Checkpoint> = None;
    for c in series {
        if !c.signature_valid(keys) {
            return Err(bad(
                c,
                "its signature is not this installation's: it was changed or made elsewhere",
            ));
        }
        match prev {
            None if consecutive && c.n != 1 => {
                return Err(bad(c, "the series must begin with checkpoint 1: earlier ones were removed"))
            }
            Some(p) if (consecutive && c.n != p.n + 1) || c.n <= p.n => {
                return Err(bad(c, &format!("it follows checkpoint {}: checkpoints were removed or reordered", p.n)))
            }
            Some(p) if c.seq < p.seq || c.at < p.at => {
                return Err(bad(c, &format!("it goes back from checkpoint {} in events or time", p.n)))
            }
            Some(p) if c.legacy_until != p.legacy_until => {
                return Err(bad(c, "it disagrees with the checkpoints before it on which events predate the keyed chain"))
            }
            _ => {}
        }
        prev = Some(c);
    }
    Ok(())
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
pub(crate) mod tests {
    use super::*;
    use time::macros::datetime;

    /// Keys for tests: "keyed" by a secret prefix to SHA-256; signatures are two such digests.
    pub(crate) struct TestKeys(pub u8);

    impl TestKeys {
        fn digest(&self, label: &[u8], m: &[u8]) -> Hash {
            let mut h = Sha256::new();
            h.update([self.0]);
            h.update(label);
            h.update(m);
            h.finalize().into()
        }
    }

    impl ChainKeys for TestKeys {
        fn event_hash(&self, encoding: &[u8]) -> Hash {
            self.digest(b"event", encoding)
        }
        fn event_hash_matches(&self, encoding: &[u8], stored: &Hash) -> bool {
            self.event_hash(encoding) == *stored
        }
        fn head_mac(&self, seq: i64, hash: &Hash) -> Hash {
            self.digest(b"head", &[&seq.to_be_bytes()[..], hash].concat())
        }
        fn head_mac_matches(&self, seq: i64, hash: &Hash, mac: &[u8]) -> bool {
            self.head_mac(seq, hash) == mac
        }
        fn legacy_head_matches(&self, _: i64, _: &str, _: &str) -> bool {
            false
        }
        fn sign_checkpoint(&self, message: &[u8]) -> Vec<u8> {
            [self.digest(b"cp1", message), self.digest(b"cp2", message)].concat()
        }
        fn checkpoint_signature_matches(&self, message: &[u8], signature: &[u8]) -> bool {
            self.sign_checkpoint(message) == signature
        }
        fn checkpoint_key_id(&self) -> String {
            format!("test{}", self.0)
        }
    }

    const KEYS: TestKeys = TestKeys(1);

    fn draft(seq: i64) -> AuditDraft {
        if seq == 1 {
            AuditDraft::new("system", START_ACTION, Outcome::Ok)
        } else {
            AuditDraft::new("token:1", "subject.read", Outcome::Allowed)
                .subject("0190-…")
                .purpose("education")
                .fields(&["iin", "surname"])
        }
    }

    fn chain_with(n: i64, keys: &dyn ChainKeys) -> Vec<AuditEvent> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = draft(seq).seal(seq, datetime!(2026-11-21 10:00:00 UTC), &prev, keys);
                prev = e.hash;
                e
            })
            .collect()
    }

    fn chain(n: i64) -> Vec<AuditEvent> {
        chain_with(n, &KEYS)
    }

    fn verify(events: &[AuditEvent]) -> Result<i64, ChainBreak> {
        let mut v = ChainVerifier::new(0);
        for e in events {
            v.push(e, &KEYS)?;
        }
        Ok(v.last_seq())
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
    fn a_tail_rewritten_without_the_key_does_not_verify() {
        // Removing event 2 and renumbering the rest, with every hash recomputed under a key that
        // is not the installation's (or as plain SHA-256), breaks at the first rewritten event.
        let mut c = chain(5);
        c.remove(1);
        let mut prev = c[0].hash;
        for (i, e) in c.iter_mut().enumerate().skip(1) {
            e.seq = i as i64 + 1;
            e.hash = TestKeys(2).event_hash(&e.encoding(&prev));
            prev = e.hash;
        }
        assert_eq!(verify(&c), Err(ChainBreak::Changed { seq: 2 }));
        let mut c = chain(3);
        let prev = c[1].hash;
        c[2].hash = Sha256::digest(c[2].encoding(&prev)).into();
        assert_eq!(verify(&c), Err(ChainBreak::Changed { seq: 3 }));
    }

    #[test]
    fn swapped_events_are_caught() {
        let mut c = chain(5);
        c.swap(1, 2);
        assert!(matches!(verify(&c), Err(ChainBreak::Gap { seq: 3, .. })));
        // Swapped with their numbers exchanged too.
        let mut c = chain(5);
        c.swap(1, 2);
        c[1].seq = 2;
        c[2].seq = 3;
        assert_eq!(verify(&c), Err(ChainBreak::Changed { seq: 2 }));
    }

    #[test]
    fn a_chain_begins_with_its_start_event() {
        let mut c = chain(3);
        c.remove(0);
        assert!(matches!(verify(&c), Err(ChainBreak::Gap { seq: 2, .. })));
        let c = &chain_with(2, &KEYS)[1..];
        let mut renumbered = c[0].clone();
        renumbered.seq = 1;
        renumbered.hash = KEYS.event_hash(&renumbered.encoding(&GENESIS));
        assert_eq!(
            verify(&[renumbered]),
            Err(ChainBreak::NoStart {
                action: "subject.read".into()
            })
        );
    }

    #[test]
    fn unkeyed_events_from_before_the_upgrade_verify_and_the_keyed_chain_continues_them() {
        let mut prev = GENESIS;
        let mut events = Vec::new();
        for seq in 1..=5 {
            let mut e = draft(2).seal(seq, datetime!(2026-01-01 0:00 UTC), &prev, &KEYS);
            if seq <= 3 {
                e.hash = e.legacy_hash(&prev);
            }
            prev = e.hash;
            events.push(e);
        }
        let mut v = ChainVerifier::new(3);
        for e in &events {
            v.push(e, &KEYS).unwrap();
        }
        // The same events read as if all were keyed do not verify.
        assert_eq!(
            verify(&events),
            Err(ChainBreak::NoStart {
                action: "subject.read".into()
            })
        );
        // A keyed event passed off as unkeyed does not verify either.
        let mut v = ChainVerifier::new(4);
        let r: Result<Vec<()>, _> = events.iter().map(|e| v.push(e, &KEYS)).collect();
        assert_eq!(r, Err(ChainBreak::Changed { seq: 4 }));
    }

    #[test]
    fn a_verifier_can_start_after_a_verified_event() {
        let c = chain(6);
        let mut v = ChainVerifier::after(3, c[2].hash, 0);
        for e in &c[3..] {
            v.push(e, &KEYS).unwrap();
        }
        assert_eq!((v.last_seq(), *v.last_hash()), (6, c[5].hash));
        let mut v = ChainVerifier::after(3, c[1].hash, 0);
        assert_eq!(v.push(&c[3], &KEYS), Err(ChainBreak::Changed { seq: 4 }));
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let at = datetime!(2026-01-01 0:00 UTC);
        let a = AuditDraft::new("ab", "c", Outcome::Ok).seal(1, at, &GENESIS, &KEYS);
        let b = AuditDraft::new("a", "bc", Outcome::Ok).seal(1, at, &GENESIS, &KEYS);
        assert_ne!(a.hash, b.hash);
        let a = AuditDraft::new("a", "b", Outcome::Ok)
            .reason("")
            .seal(1, at, &GENESIS, &KEYS);
        let b = AuditDraft::new("a", "b", Outcome::Ok).seal(1, at, &GENESIS, &KEYS);
        assert_ne!(a.hash, b.hash);
    }

    #[test]
    fn events_travel_as_json_with_hex_hashes() {
        let e = &chain(2)[1];
        let json = serde_json::to_value(e).unwrap();
        assert_eq!(json["hash"].as_str().map(str::len), Some(64));
        let back: AuditEvent = serde_json::from_value(json).unwrap();
        assert_eq!(&back, e);
    }

    fn checkpoints(n: i64) -> Vec<Checkpoint> {
        (1..=n)
            .map(|i| {
                Checkpoint::sign(
                    i,
                    i * 10,
                    [i as u8; 32],
                    format!("2026-12-0{i}T00:00:00.000000Z"),
                    0,
                    &KEYS,
                )
            })
            .collect()
    }

    #[test]
    fn checkpoint_lines_round_trip_and_bad_lines_are_explained() {
        let c = &checkpoints(1)[0];
        let line = c.to_line(&KEYS.checkpoint_key_id());
        assert!(
            line.starts_with("derbes-audit-checkpoint n=1 seq=10 hash=0101"),
            "{line}"
        );
        let back = Checkpoint::parse_line(&line).unwrap();
        assert_eq!(&back, c);
        assert!(back.signature_valid(&KEYS));
        assert!(!back.signature_valid(&TestKeys(2)));
        let e = Checkpoint::parse_line(&line.replace("seq=10", "seq=x")).unwrap_err();
        assert!(e.contains("`seq` must be a whole number"), "{e}");
        let e = Checkpoint::parse_line(&line.replace(" at=", " when=")).unwrap_err();
        assert!(e.contains("expected `at=…`"), "{e}");
        let e = Checkpoint::parse_line("hello").unwrap_err();
        assert!(e.contains("starts with `derbes-audit-checkpoint`"), "{e}");
        let mut forged = back.clone();
        forged.seq = 11;
        assert!(!forged.signature_valid(&KEYS));
    }

    #[test]
    fn a_checkpoint_series_must_be_signed_numbered_and_monotonic() {
        let s = checkpoints(4);
        assert_eq!(check_series(&s, true, &KEYS), Ok(()));
        let gap = [s[0].clone(), s[2].clone()];
        assert!(matches!(
            check_series(&gap, true, &KEYS),
            Err(ChainBreak::Checkpoint { n: 3, .. })
        ));
        assert_eq!(check_series(&gap, false, &KEYS), Ok(()));
        assert!(matches!(
            check_series(&s[1..], true, &KEYS),
            Err(ChainBreak::Checkpoint { n: 2, .. })
        ));
        let reordered = [s[1].clone(), s[0].clone()];
        assert!(check_series(&reordered, false, &KEYS).is_err());
        let back = [
            s[0].clone(),
            Checkpoint::sign(2, 5, [0; 32], s[1].at.clone(), 0, &KEYS),
        ];
        let e = check_series(&back, true, &KEYS).unwrap_err().to_string();
        assert!(e.contains("goes back"), "{e}");
        let mut bad = s.clone();
        bad[3].hash = [9; 32];
        let e = check_series(&bad, true, &KEYS).unwrap_err().to_string();
        assert!(
            e.starts_with("checkpoint 4 (event 40): its signature"),
            "{e}"
        );
    }

    proptest::proptest! {
        /// Any change to any stored part of any event is caught at that event or before.
        #[test]
        fn every_change_is_detected(at in 1usize..8, what in 0u8..9, text in "[a-z]{0,6}") {
            let mut c = chain(8);
            let e = &mut c[at - 1];
            match what {
                0 => e.actor = format!("{}x{text}", e.actor),
                1 => e.action = format!("{}x{text}", e.action),
                2 => e.subject_id = if e.subject_id.is_some() { None } else { Some(text) },
                3 => e.purpose = Some(format!("p{text}")).filter(|p| Some(p) != e.purpose.as_ref()),
                4 => e.fields.push(format!("f{text}")),
                5 => e.outcome = if e.outcome == Outcome::Denied { Outcome::Ok } else { Outcome::Denied },
                6 => e.reason = Some(text),
                7 => e.at = format!("{}{text}x", e.at),
                _ => e.hash[0] ^= 1,
            }
            let broken = verify(&c).unwrap_err();
            let seq = match broken {
                ChainBreak::Changed { seq } | ChainBreak::Gap { seq, .. } => seq,
                ChainBreak::NoStart { .. } => 1,
                other => panic!("{other}"),
            };
            proptest::prop_assert!(seq <= at as i64);
        }
    }
}

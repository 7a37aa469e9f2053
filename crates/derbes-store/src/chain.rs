//! The audit chain as the store keeps it: where the writer stands (the verified event it appends
//! after), the verification when the store opens, and the verification of the whole chain.
//!
//! The writer never appends to a chain it has not verified. When the store opens, the chain is
//! verified from its last checkpoint to its signed head; every commit group then reads the events
//! from the verified one on (normally just that one, or those another process appended since)
//! and verifies them before appending. A chain that does not verify is reported, and every
//! write is refused until an operator has looked into it.

use crate::{Store, StoreError, WriteOp};
use derbes_core::audit::{
    check_segments, check_series, segment_event_line, verify_segment_file, AuditEvent, ChainBreak,
    ChainKeys, ChainVerifier, Checkpoint, Hash, Segment, GENESIS,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// When the writer signs a checkpoint by itself (the server also asks for one periodically).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainPolicy {
    /// A checkpoint at least every this many events, so that verifying the chain when the store
    /// opens reads at most this many events.
    pub checkpoint_every_events: i64,
}

impl Default for ChainPolicy {
    fn default() -> Self {
        Self {
            checkpoint_every_events: 100_000,
        }
    }
}

/// What the writer chains events with: the keys, where it stands, and when it checkpoints.
pub(crate) struct Chain {
    pub keys: crate::Keys,
    pub state: std::sync::Arc<ChainState>,
    pub policy: ChainPolicy,
}

/// Where the writer stands on the audit chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainStatus {
    /// Being verified (the store is opening): writes are refused.
    Unverified,
    /// Verified up to event `seq`; `checkpoint` is the number of the last checkpoint.
    Verified { seq: i64, checkpoint: i64 },
    /// The chain does not verify, or an operator's check found it rolled back: every write is
    /// refused.
    Broken(String),
}

/// The verified event the writer appends after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Anchor {
    pub seq: i64,
    pub hash: Hash,
    /// Events up to this one predate the keyed chain.
    pub legacy_until: i64,
    /// The last checkpoint: (n, seq); (0, 0) before the first.
    pub checkpoint: (i64, i64),
}

/// The writer's position on the chain, shared by the store and its writer.
pub struct ChainState(Mutex<Position>);

#[derive(Debug, Clone)]
enum Position {
    Unverified,
    Verified(Anchor),
    Broken(String),
}

impl ChainState {
    pub(crate) fn new() -> Self {
        Self(Mutex::new(Position::Unverified))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Position> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn status(&self) -> ChainStatus {
        match &*self.lock() {
            Position::Unverified => ChainStatus::Unverified,
            Position::Verified(a) => ChainStatus::Verified {
                seq: a.seq,
                checkpoint: a.checkpoint.0,
            },
            Position::Broken(r) => ChainStatus::Broken(r.clone()),
        }
    }

    /// Refuses every write from now on, for `reason` (a first reason stays).
    pub fn refuse(&self, reason: impl Into<String>) {
        let mut p = self.lock();
        if !matches!(*p, Position::Broken(_)) {
            *p = Position::Broken(reason.into());
        }
    }

    /// The verified event to append after, or why nothing may be appended.
    pub(crate) fn anchor(&self) -> Result<Anchor, StoreError> {
        match &*self.lock() {
            Position::Verified(a) => Ok(a.clone()),
            Position::Unverified => Err(StoreError::ChainBroken(
                "the audit chain has not been verified yet".into(),
            )),
            Position::Broken(r) => Err(StoreError::ChainBroken(r.clone())),
        }
    }

    /// Moves the writer on to `a`, verified or written by it (unless the chain was found broken
    /// meanwhile).
    pub(crate) fn set(&self, a: Anchor) {
        let mut p = self.lock();
        if !matches!(*p, Position::Broken(_)) {
            *p = Position::Verified(a);
        }
    }
}

/// Verifies, within a commit group, the events from the writer's anchor on: the anchor itself
/// unchanged (its hash, and its content against the event before it), then whatever other
/// processes appended since.
pub(crate) struct Continuation {
    verifier: ChainVerifier,
    anchor: Anchor,
    /// The hash of the event before the anchor, once read.
    before: Option<Hash>,
    seen_anchor: bool,
}

impl Continuation {
    pub(crate) fn new(anchor: &Anchor) -> Self {
        Self {
            verifier: ChainVerifier::after(anchor.seq, anchor.hash, anchor.legacy_until),
            anchor: anchor.clone(),
            before: (anchor.seq <= 1).then_some(GENESIS),
            seen_anchor: anchor.seq == 0,
        }
    }

    /// The first event a commit group reads: the one before the anchor.
    pub(crate) fn first_seq(&self) -> i64 {
        (self.anchor.seq - 1).max(1)
    }

    /// The next events in order, the first page starting at [`Continuation::first_seq`].
    pub(crate) fn push(
        &mut self,
        events: &[AuditEvent],
        keys: &dyn ChainKeys,
    ) -> Result<(), ChainBreak> {
        let changed = |seq: i64| {
            ChainBreak::Refused(format!(
                "event {seq} is no longer the event derbes verified and wrote after: the chain was changed while derbes ran"
            ))
        };
        for e in events {
            if self.seen_anchor {
                self.verifier.push(e, keys)?;
                continue;
            }
            match self.before {
                None if e.seq == self.anchor.seq - 1 => self.before = Some(e.hash),
                None => return Err(changed(self.anchor.seq - 1)),
                Some(before) => {
                    let mut v =
                        ChainVerifier::after(self.anchor.seq - 1, before, self.anchor.legacy_until);
                    if e.seq != self.anchor.seq
                        || e.hash != self.anchor.hash
                        || v.push(e, keys).is_err()
                    {
                        return Err(changed(self.anchor.seq));
                    }
                    self.seen_anchor = true;
                }
            }
        }
        Ok(())
    }

    /// The new anchor: the last event verified, which must be the one the stored head names
    /// (`head_seq`, read under the head lock; none or 0, the placeholder, only before the first
    /// group after an earlier derbes's chain was sealed).
    pub(crate) fn finish(self, head_seq: Option<i64>) -> Result<Anchor, ChainBreak> {
        if !self.seen_anchor {
            return Err(ChainBreak::Refused(format!(
                "the chain no longer holds event {}, which derbes verified and wrote after: events at the end were removed while derbes ran",
                self.anchor.seq
            )));
        }
        match head_seq {
            Some(head) if head > 0 && head != self.verifier.last_seq() => {
                return Err(ChainBreak::Refused(format!(
                    "the chain ends at event {} but its head names event {head}: events were added or removed outside derbes while it ran",
                    self.verifier.last_seq()
                )));
            }
            _ => {}
        }
        Ok(Anchor {
            seq: self.verifier.last_seq(),
            hash: *self.verifier.last_hash(),
            ..self.anchor
        })
    }
}

/// What the writer reads, in the transaction of an [`WriteOp::ArchiveAudit`], to check that the
/// segment may be archived.
pub(crate) struct Held {
    pub last_segment: Option<Segment>,
    /// The first event the database holds.
    pub first: Option<i64>,
    /// The hash of the held event the segment ends on.
    pub hash_at_last: Option<Hash>,
    /// The event the last checkpoint signed.
    pub last_checkpoint: i64,
    /// The chain's last event.
    pub head: i64,
}

/// Whether `s` may be archived: signed by this installation, continuing the last segment, and
/// ending on an event the database holds with the segment's hash (so that the events removed
/// are those the archive file holds), before the last checkpoint and the last two events (which
/// the writer verifies in every commit group).
pub(crate) fn check_archivable(
    s: &Segment,
    held: &Held,
    keys: &dyn ChainKeys,
) -> Result<(), StoreError> {
    let refused = |m: String| Err(StoreError::ArchiveRefused(m));
    if !s.signature_valid(keys) {
        return refused("its signature is not this installation's".into());
    }
    if let Err(m) = s.continues(held.last_segment.as_ref()) {
        return refused(format!("segment {}: {m}", s.n));
    }
    if held.first != Some(s.first) {
        return refused(format!(
            "it begins at event {}, but the database's chain begins at event {}",
            s.first,
            held.first.unwrap_or(0)
        ));
    }
    if held.hash_at_last != Some(s.hash) {
        return refused(format!(
            "the database's event {} is not the one the segment ends on",
            s.last
        ));
    }
    if s.last >= held.last_checkpoint || s.last > held.head - 2 {
        return refused(format!(
            "it ends at event {}, but the database keeps the events from its last checkpoint (event {}) and its last two events (up to {})",
            s.last, held.last_checkpoint, held.head
        ));
    }
    Ok(())
}

/// The most events one segment holds (its archive file is about 300 bytes an event).
pub const SEGMENT_EVENTS: i64 = 100_000;

/// The next segment to archive: the events after the last segment written before `before` (an
/// RFC 3339 time), at most [`SEGMENT_EVENTS`], verified as they are read, and never the events
/// from the last checkpoint on nor the last two. Returns the segment, signed at `at`, with the
/// event lines of its archive file (see [`derbes_core::audit::segment_event_line`]); none when
/// no event is due.
pub async fn next_segment(
    store: &dyn Store,
    keys: &dyn ChainKeys,
    before: &str,
    at: String,
) -> Result<Result<Option<(Segment, String)>, ChainBreak>, StoreError> {
    let last = store.audit_segments().await?.pop();
    let (Some(checkpoint), Some(head)) =
        (store.last_checkpoint().await?, store.audit_head().await?)
    else {
        return Ok(Ok(None));
    };
    let until = (checkpoint.seq - 1).min(head.seq - 2);
    let legacy_until = checkpoint.legacy_until;
    let mut v = match &last {
        Some(s) => ChainVerifier::after(s.last, s.hash, legacy_until),
        None => ChainVerifier::new(legacy_until),
    };
    let first = v.last_seq() + 1;
    let prev = *v.last_hash();
    let mut body = String::new();
    'pages: loop {
        let page = match store.audit_page(v.last_seq(), PAGE).await {
            Ok(p) => p,
            Err(e) => return Ok(Err(broken(e)?)),
        };
        if page.is_empty() {
            break;
        }
        for e in &page {
            if e.seq > until || e.at.as_str() >= before || e.seq - first >= SEGMENT_EVENTS {
                break 'pages;
            }
            if let Err(b) = v.push(e, keys) {
                return Ok(Err(b));
            }
            body.push_str(&segment_event_line(e));
        }
    }
    if v.last_seq() < first {
        return Ok(Ok(None));
    }
    let segment = Segment {
        n: last.as_ref().map_or(1, |s| s.n + 1),
        first,
        last: v.last_seq(),
        prev,
        hash: *v.last_hash(),
        digest: Sha256::digest(body.as_bytes()).into(),
        at,
        legacy_until,
        signature: Vec::new(),
    }
    .signed(keys);
    Ok(Ok(Some((segment, body))))
}

/// Where the archive files of segments are read from, for a verification of the whole chain.
pub trait SegmentFiles: Send + Sync {
    /// The text of the segment's archive file; the error says why it cannot be read.
    fn text(&self, s: &Segment) -> Result<String, String>;
}

/// How many events one read of a verification takes.
const PAGE: u32 = 5000;

/// A read that found the stored chain damaged is a break; any other failure is the store's.
fn broken(e: StoreError) -> Result<ChainBreak, StoreError> {
    match e {
        StoreError::Corrupt(m) => Ok(ChainBreak::Corrupt(m)),
        other => Err(other),
    }
}

/// Verifies the chain from its last checkpoint to its signed head, and lets the writer append
/// after it; a legacy chain (written before events were keyed) is verified whole and sealed with
/// the first checkpoint. A chain that does not verify leaves every write refused.
pub(crate) async fn anchor(store: &dyn Store, keys: &dyn ChainKeys) -> Result<(), StoreError> {
    let found = match find_anchor(store, keys).await {
        Ok(found) => found,
        Err(e) => Err(broken(e)?),
    };
    match found {
        Ok((a, legacy)) => {
            store.chain().set(a);
            if legacy {
                store.write(WriteOp::Checkpoint).await?;
            }
        }
        Err(b) => store.chain().refuse(b.to_string()),
    }
    Ok(())
}

type Found = Result<(Anchor, bool), ChainBreak>;

async fn find_anchor(store: &dyn Store, keys: &dyn ChainKeys) -> Result<Found, StoreError> {
    let Some(last) = store.last_checkpoint().await? else {
        return legacy_anchor(store, keys).await;
    };
    let Some(first) = store.checkpoints(0, 1).await?.into_iter().next() else {
        return Ok(Err(ChainBreak::Refused(
            "the checkpoints changed while they were read".into(),
        )));
    };
    if let Err(b) = check_series(std::slice::from_ref(&first), true, keys)
        .and_then(|()| check_series(std::slice::from_ref(&last), false, keys))
    {
        return Ok(Err(b));
    }
    if first.legacy_until != last.legacy_until {
        return Ok(Err(ChainBreak::Checkpoint {
            n: last.n,
            seq: last.seq,
            detail: "it disagrees with checkpoint 1 on which events predate the keyed chain".into(),
        }));
    }
    // The head is read after the checkpoints: it covers every checkpoint already written.
    let Some(head) = store.audit_head().await? else {
        return Ok(Err(ChainBreak::HeadMismatch));
    };
    if head.seq < last.seq {
        return Ok(Err(ChainBreak::Head {
            last: last.seq,
            head: head.seq,
        }));
    }
    match store.audit_event(last.seq).await? {
        Some(e) if e.hash == last.hash => {}
        found => return Ok(Err(checkpoint_not_held(&last, found.is_some()))),
    }
    let mut v = ChainVerifier::after(last.seq, last.hash, last.legacy_until);
    if let Err(b) = walk(store, keys, &mut v, head.seq, |_| Ok(())).await? {
        return Ok(Err(b));
    }
    if let Err(b) = head_holds(&v, &head, keys) {
        return Ok(Err(b));
    }
    Ok(Ok((
        Anchor {
            seq: head.seq,
            hash: head.hash,
            legacy_until: last.legacy_until,
            checkpoint: (last.n, last.seq),
        },
        false,
    )))
}

/// A chain with no checkpoint: one written before events were keyed, verified whole against the
/// head it was signed with then.
async fn legacy_anchor(store: &dyn Store, keys: &dyn ChainKeys) -> Result<Found, StoreError> {
    let Some((seq, hash_hex, mac)) = store.legacy_head().await?.filter(|h| h.0 > 0) else {
        return Ok(Err(without_checkpoints(store).await));
    };
    let mut v = ChainVerifier::new(seq);
    if let Err(b) = walk(store, keys, &mut v, seq, |_| Ok(())).await? {
        return Ok(Err(b));
    }
    if v.last_seq() != seq {
        return Ok(Err(ChainBreak::Head {
            last: v.last_seq(),
            head: seq,
        }));
    }
    let hex = derbes_core::declaration::hex(v.last_hash());
    if hex != hash_hex || !keys.legacy_head_matches(seq, &hash_hex, &mac) {
        return Ok(Err(ChainBreak::HeadMismatch));
    }
    if !store.audit_page(seq, 1).await?.is_empty() {
        return Ok(Err(ChainBreak::Refused(format!(
            "events after event {seq} were added to the chain written before this version of derbes, without a checkpoint"
        ))));
    }
    Ok(Ok((
        Anchor {
            seq,
            hash: *v.last_hash(),
            legacy_until: seq,
            checkpoint: (0, 0),
        },
        true,
    )))
}

/// What a chain without a checkpoint (and without a head of an earlier derbes) is: empty, or
/// stripped of its checkpoints.
async fn without_checkpoints(store: &dyn Store) -> ChainBreak {
    if store.audit_page(0, 1).await.map_or(true, |p| p.is_empty()) {
        ChainBreak::Empty
    } else {
        ChainBreak::Refused(
            "the chain has no checkpoint, though every chain gets one when it is created: its checkpoints were removed".into(),
        )
    }
}

fn checkpoint_not_held(c: &Checkpoint, held: bool) -> ChainBreak {
    ChainBreak::Checkpoint {
        n: c.n,
        seq: c.seq,
        detail: if held {
            "the event no longer has the hash this checkpoint signed: the event was changed".into()
        } else {
            "the chain no longer holds this event: it was rolled back, or its events removed".into()
        },
    }
}

fn head_holds(
    v: &ChainVerifier,
    head: &crate::AuditHead,
    keys: &dyn ChainKeys,
) -> Result<(), ChainBreak> {
    if v.last_seq() != head.seq {
        return Err(ChainBreak::Head {
            last: v.last_seq(),
            head: head.seq,
        });
    }
    if *v.last_hash() != head.hash || !keys.head_mac_matches(head.seq, &head.hash, &head.mac) {
        return Err(ChainBreak::HeadMismatch);
    }
    Ok(())
}

/// Pushes the events after the verifier's position up to `until` into it, calling `each` on
/// every one verified.
async fn walk(
    store: &dyn Store,
    keys: &dyn ChainKeys,
    v: &mut ChainVerifier,
    until: i64,
    mut each: impl FnMut(&AuditEvent) -> Result<(), ChainBreak>,
) -> Result<Result<(), ChainBreak>, StoreError> {
    while v.last_seq() < until {
        let page = match store.audit_page(v.last_seq(), PAGE).await {
            Ok(p) => p,
            Err(e) => return Ok(Err(broken(e)?)),
        };
        if page.is_empty() {
            break;
        }
        for e in page.iter().take_while(|e| e.seq <= until) {
            if let Err(b) = v.push(e, keys).and_then(|()| each(e)) {
                return Ok(Err(b));
            }
        }
        if page.last().is_some_and(|e| e.seq >= until) {
            break;
        }
    }
    Ok(Ok(()))
}

/// What a verification of the whole chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The events verified: the chain up to its signed head when the verification began.
    pub events: i64,
    /// Events up to this one predate the keyed chain.
    pub legacy_until: i64,
    /// The database's checkpoints, all verified.
    pub checkpoints: i64,
    pub last_checkpoint: Option<Checkpoint>,
    /// Checkpoints kept outside the database that were checked against the chain.
    pub exported: usize,
    pub last_exported: Option<Checkpoint>,
    /// The archived segments, all signed and continuing each other: events up to the last one's
    /// end were moved out of the database.
    pub segments: Vec<Segment>,
    /// Whether the segments' archive files were read and verified event by event.
    pub archive_verified: bool,
}

/// Verifies the whole chain: every event from the start event (or the end of the last archived
/// segment) to the signed head, every checkpoint in the database (signed, numbered without gaps,
/// matching the chain), the archived segments (signed, continuing each other; with `files`, their
/// archive files event by event), and each of `exported` (checkpoints kept outside the database,
/// in their file's order), which the chain must still hold: one it does not proves a rollback.
#[allow(
    clippy::too_many_lines,
    reason = "the verification walks the chain once, checkpoint by checkpoint, segment by segment"
)]
pub async fn verify_chain(
    store: &dyn Store,
    keys: &dyn ChainKeys,
    exported: &[Checkpoint],
    files: Option<&dyn SegmentFiles>,
) -> Result<Result<ChainReport, ChainBreak>, StoreError> {
    let mut held = Vec::new();
    loop {
        let page = match store
            .checkpoints(held.last().map_or(0, |c: &Checkpoint| c.n), PAGE)
            .await
        {
            Ok(p) => p,
            Err(e) => return Ok(Err(broken(e)?)),
        };
        if page.is_empty() {
            break;
        }
        held.extend(page);
    }
    let Some(first) = held.first() else {
        return Ok(Err(without_checkpoints(store).await));
    };
    let legacy_until = first.legacy_until;
    if let Err(b) =
        check_series(&held, true, keys).and_then(|()| check_series(exported, false, keys))
    {
        return Ok(Err(b));
    }
    // Every checkpoint, by the event it signed: (n, hash, kept outside the database).
    let mut expected: BTreeMap<i64, Vec<(i64, Hash, bool)>> = BTreeMap::new();
    for c in &held {
        expected
            .entry(c.seq)
            .or_default()
            .push((c.n, c.hash, false));
    }
    for c in exported {
        if let Some(d) = held.iter().find(|d| d.n == c.n) {
            if d != c {
                return Ok(Err(ChainBreak::Checkpoint {
                    n: c.n,
                    seq: c.seq,
                    detail: "the database's checkpoint of this number differs from the copy kept outside it".into(),
                }));
            }
        }
        if c.legacy_until != legacy_until {
            return Ok(Err(ChainBreak::Checkpoint {
                n: c.n,
                seq: c.seq,
                detail: "the copy kept outside the database disagrees with the database on which events predate the keyed chain".into(),
            }));
        }
        expected.entry(c.seq).or_default().push((c.n, c.hash, true));
    }
    // The head is read after the checkpoints: it covers every checkpoint written before.
    let Some(head) = store.audit_head().await? else {
        return Ok(Err(ChainBreak::HeadMismatch));
    };
    if let Some((&seq, marks)) = expected.range(head.seq + 1..).next() {
        let (n, _, outside) = marks[0];
        let at = held
            .iter()
            .chain(exported)
            .find(|c| c.n == n)
            .map(|c| c.at.clone())
            .unwrap_or_default();
        return Ok(Err(if outside {
            ChainBreak::RolledBack {
                n,
                seq,
                at,
                last: head.seq,
            }
        } else {
            ChainBreak::Checkpoint {
                n,
                seq,
                detail: format!(
                    "it signed a later event than the signed head, which says the chain ends at event {}: events at the end were removed and an older head put back",
                    head.seq
                ),
            }
        }));
    }
    let segments = match store.audit_segments().await {
        Ok(s) => s,
        Err(e) => return Ok(Err(broken(e)?)),
    };
    if let Err(b) = check_segments(&segments, keys) {
        return Ok(Err(b));
    }
    if let Some(s) = segments.iter().find(|s| s.legacy_until != legacy_until) {
        return Ok(Err(ChainBreak::Segment {
            n: s.n,
            detail: "it disagrees with the checkpoints on which events predate the keyed chain"
                .into(),
        }));
    }
    let marks = |e: &AuditEvent| check_marks(&expected, e.seq, &e.hash);
    for s in &segments {
        let checked = match files {
            Some(f) => match f.text(s) {
                Ok(text) => verify_segment_file(&text, s, keys, marks),
                Err(why) => Err(ChainBreak::Segment {
                    n: s.n,
                    detail: format!("its archive file cannot be read: {why}"),
                }),
            },
            // Without the files, the checkpoints that signed a segment's last event are checked
            // against the segment; those inside it only by their signatures.
            None => check_marks(&expected, s.last, &s.hash),
        };
        if let Err(b) = checked {
            return Ok(Err(b));
        }
    }
    let mut v = match segments.last() {
        Some(s) => ChainVerifier::after(s.last, s.hash, legacy_until),
        None => ChainVerifier::new(legacy_until),
    };
    let walked = walk(store, keys, &mut v, head.seq, marks).await?;
    if let Err(b) = walked {
        return Ok(Err(b));
    }
    if v.last_seq() == 0 {
        return Ok(Err(ChainBreak::Empty));
    }
    if let Err(b) = head_holds(&v, &head, keys) {
        return Ok(Err(b));
    }
    Ok(Ok(ChainReport {
        events: head.seq,
        legacy_until,
        checkpoints: held.len() as i64,
        last_checkpoint: held.last().cloned(),
        exported: exported.len(),
        last_exported: exported.last().cloned(),
        archive_verified: files.is_some() && !segments.is_empty(),
        segments,
    }))
}

/// Checks the event `seq` (with `hash`) against the checkpoints that signed it: (n, hash, kept
/// outside the database).
fn check_marks(
    expected: &BTreeMap<i64, Vec<(i64, Hash, bool)>>,
    seq: i64,
    hash: &Hash,
) -> Result<(), ChainBreak> {
    for (n, signed, outside) in expected.get(&seq).into_iter().flatten() {
        if signed != hash {
            return Err(ChainBreak::Checkpoint {
                n: *n,
                seq,
                detail: if *outside {
                    "the event's hash differs from the one this exported checkpoint signed: the chain was replaced after it".into()
                } else {
                    "the event's hash differs from the one this checkpoint signed".into()
                },
            });
        }
    }
    Ok(())
}

/// Whether the chain still holds the event a checkpoint kept outside the database signed (when
/// it does not, the chain was rolled back past that checkpoint, or replaced).
pub async fn check_exported(
    store: &dyn Store,
    keys: &dyn ChainKeys,
    c: &Checkpoint,
) -> Result<Result<(), ChainBreak>, StoreError> {
    if let Err(b) = check_series(std::slice::from_ref(c), false, keys) {
        return Ok(Err(b));
    }
    let event = match store.audit_event(c.seq).await {
        Ok(e) => e,
        Err(e) => return Ok(Err(broken(e)?)),
    };
    let archived = match event {
        Some(_) => None,
        None => store
            .audit_segments()
            .await?
            .into_iter()
            .find(|s| s.first <= c.seq && c.seq <= s.last),
    };
    if let Some(s) = archived {
        // Archived in a signed segment: its last event's hash is the segment's; an event inside
        // it is checked with the archive files (`derbes audit verify --archive`).
        return Ok(if s.last != c.seq || s.hash == c.hash {
            Ok(())
        } else {
            Err(ChainBreak::Checkpoint {
                n: c.n,
                seq: c.seq,
                detail: "the archived segment ending at this event has another hash than this exported checkpoint signed: the chain was replaced after it".into(),
            })
        });
    }
    Ok(match event {
        Some(e) if e.hash == c.hash => Ok(()),
        Some(_) => Err(ChainBreak::Checkpoint {
            n: c.n,
            seq: c.seq,
            detail: "the event's hash differs from the one this exported checkpoint signed: the chain was replaced after it".into(),
        }),
        None => Err(ChainBreak::RolledBack {
            n: c.n,
            seq: c.seq,
            at: c.at.clone(),
            last: store.audit_head().await?.map_or(0, |h| h.seq),
        }),
    })
}

/// The number and time of the checkpoint after `last`: never earlier than it, even when the clock
/// went back.
pub(crate) fn next_checkpoint(last: Option<&Checkpoint>) -> (i64, String) {
    let now = crate::now();
    match last {
        Some(l) => (l.n + 1, if now < l.at { l.at.clone() } else { now }),
        None => (1, now),
    }
}

/// What the writer starts a new chain with: the start event.
pub(crate) fn start_event(backend: &str, keys: &dyn ChainKeys) -> AuditEvent {
    derbes_core::audit::AuditDraft::new(
        "system",
        derbes_core::audit::START_ACTION,
        derbes_core::audit::Outcome::Ok,
    )
    .details(&serde_json::json!({ "backend": backend, "chain": "keyed" }))
    .seal(1, time::OffsetDateTime::now_utc(), &GENESIS, keys)
}

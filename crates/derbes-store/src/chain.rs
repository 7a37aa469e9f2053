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
    check_series, AuditEvent, ChainBreak, ChainKeys, ChainVerifier, Checkpoint, Hash, GENESIS,
};
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

    /// The new anchor: the last event verified.
    pub(crate) fn finish(self) -> Result<Anchor, ChainBreak> {
        if !self.seen_anchor {
            return Err(ChainBreak::Refused(format!(
                "the chain no longer holds event {}, which derbes verified and wrote after: events at the end were removed while derbes ran",
                self.anchor.seq
            )));
        }
        Ok(Anchor {
            seq: self.verifier.last_seq(),
            hash: *self.verifier.last_hash(),
            ..self.anchor
        })
    }
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
        return Ok(Err(
            if store.audit_page(0, 1).await.map_or(true, |p| p.is_empty()) {
                ChainBreak::Empty
            } else {
                ChainBreak::Refused(
                    "the chain has no checkpoint, though every chain gets one when it is created: its checkpoints were removed".into(),
                )
            },
        ));
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
}

/// Verifies the whole chain: every event from the start event to the signed head, every
/// checkpoint in the database (signed, numbered without gaps, matching the chain), and each of
/// `exported` (checkpoints kept outside the database, in their file's order), which the chain
/// must still hold: one it does not proves a rollback.
pub async fn verify_chain(
    store: &dyn Store,
    keys: &dyn ChainKeys,
    exported: &[Checkpoint],
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
        return Ok(Err(
            if store.audit_page(0, 1).await.map_or(true, |p| p.is_empty()) {
                ChainBreak::Empty
            } else {
                ChainBreak::Refused(
                    "the chain has no checkpoint, though every chain gets one when it is created: its checkpoints were removed".into(),
                )
            },
        ));
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
    let mut v = ChainVerifier::new(legacy_until);
    let walked = walk(store, keys, &mut v, head.seq, |e| {
        for (n, hash, outside) in expected.get(&e.seq).into_iter().flatten() {
            if *hash != e.hash {
                return Err(ChainBreak::Checkpoint {
                    n: *n,
                    seq: e.seq,
                    detail: if *outside {
                        "the event's hash differs from the one this exported checkpoint signed: the chain was replaced after it".into()
                    } else {
                        "the event's hash differs from the one this checkpoint signed".into()
                    },
                });
            }
        }
        Ok(())
    })
    .await?;
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
    }))
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

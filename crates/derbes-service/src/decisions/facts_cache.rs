//! What decisions need to know about a subject (category, birth date, consent ledger, links,
//! flags), kept in memory between requests so that a batch of decisions does not read the
//! database for every subject.
//!
//! The store keeps a feed of subjects whose facts changed, in commit order (see
//! `Store::state_changes`). Before each batch the cache reads the feed from where it left off
//! and drops what changed, whichever process wrote it: a withdrawal recorded by another derbes
//! server, or by `derbes consents import`, counts on the next decision here too. An entry read
//! from the database while the feed moved on is kept only if the feed shows no change of that
//! subject in between.

use derbes_store::{StateChanges, Store, StoreError, SubjectState};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use time::Date;
use uuid::Uuid;

/// A subject's decision facts as read from the store.
#[derive(Debug)]
pub(crate) struct Cached {
    pub category: String,
    pub birth_date: Option<Date>,
    pub state: SubjectState,
    /// The last days of its fields, as of when it was read (they move only with the state).
    pub ends: derbes_core::retention::FieldEnds,
}

type Map = HashMap<Uuid, Arc<Cached>, foldhash::fast::RandomState>;

const SHARDS: usize = 16;
/// The most changes one poll of the feed takes; more, and the cache starts over.
const POLL_LIMIT: u32 = 10_000;
/// Changes remembered to vet entries read while the feed moved on.
const RECENT: usize = 65_536;

struct Feed {
    /// The seq up to which the feed has been applied; `None` before the first poll.
    position: Option<i64>,
    /// Entries read before this position cannot be vetted (history was dropped); `i64::MAX`
    /// before the first poll, so that nothing is kept until then.
    reset_at: i64,
    /// Changes applied lately, oldest first.
    recent: VecDeque<(i64, Uuid)>,
    /// The start number of the last poll that completed.
    completed: u64,
}

pub(crate) struct FactsCache {
    shards: Vec<Mutex<Map>>,
    per_shard: usize,
    feed: Mutex<Feed>,
    /// One poll at a time; a request that waited for one that began after it arrived uses it.
    polling: tokio::sync::Mutex<()>,
    started: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FactsCache {
    /// A cache of at most `capacity` subjects.
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Map::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            feed: Mutex::new(Feed {
                position: None,
                reset_at: i64::MAX,
                recent: VecDeque::new(),
                completed: 0,
            }),
            polling: tokio::sync::Mutex::new(()),
            started: AtomicU64::new(0),
        }
    }

    fn shard(&self, id: &Uuid) -> &Mutex<Map> {
        let b = id.as_bytes();
        // UUIDv7 ends in random bits.
        &self.shards[usize::from(b[15]) % SHARDS]
    }

    /// Brings the cache up to every change committed before this call; returns the feed
    /// position, to pass to [`FactsCache::fill`] for entries read from now on.
    pub async fn sync(&self, store: &dyn Store) -> Result<i64, StoreError> {
        let arrival = self.started.load(Ordering::Acquire);
        let _one = self.polling.lock().await;
        {
            let feed = lock(&self.feed);
            if let Some(p) = feed.position.filter(|_| feed.completed > arrival) {
                return Ok(p);
            }
        }
        let number = self.started.fetch_add(1, Ordering::AcqRel) + 1;
        let after = lock(&self.feed).position;
        let polled = store
            .state_changes(after.unwrap_or(i64::MAX), POLL_LIMIT)
            .await?;
        Ok(self.apply(after, polled, number))
    }

    fn apply(&self, after: Option<i64>, polled: StateChanges, number: u64) -> i64 {
        let mut feed = lock(&self.feed);
        feed.completed = number;
        // First poll, pruned past our position, or more changes than one poll takes: start over.
        let Some(mut position) =
            after.filter(|p| polled.floor <= *p && polled.changes.len() < POLL_LIMIT as usize)
        else {
            for s in &self.shards {
                lock(s).clear();
            }
            feed.recent.clear();
            feed.position = Some(polled.latest);
            feed.reset_at = polled.latest;
            return polled.latest;
        };
        for (seq, id) in polled.changes {
            lock(self.shard(&id)).remove(&id);
            feed.recent.push_back((seq, id));
            position = position.max(seq);
        }
        while feed.recent.len() > RECENT {
            if let Some((seq, _)) = feed.recent.pop_front() {
                feed.reset_at = feed.reset_at.max(seq);
            }
        }
        feed.position = Some(position);
        position
    }

    pub fn get(&self, id: &Uuid) -> Option<Arc<Cached>> {
        lock(self.shard(id)).get(id).cloned()
    }

    /// Keeps `cached`, read from the store after a sync returned `read_at`, unless the feed has
    /// shown a change of the subject since.
    pub fn fill(&self, id: Uuid, cached: Arc<Cached>, read_at: i64) {
        let feed = lock(&self.feed);
        if read_at < feed.reset_at {
            return;
        }
        if feed.position != Some(read_at) {
            let changed = feed
                .recent
                .iter()
                .rev()
                .take_while(|(seq, _)| *seq > read_at)
                .any(|(_, x)| *x == id);
            if changed {
                return;
            }
        }
        let mut shard = lock(self.shard(&id));
        if shard.len() >= self.per_shard && !shard.contains_key(&id) {
            // Room for the newcomer: drop whichever entry the map yields first.
            if let Some(victim) = shard.keys().next().copied() {
                shard.remove(&victim);
            }
        }
        shard.insert(id, cached);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards.iter().map(|s| lock(s).len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> Arc<Cached> {
        Arc::new(Cached {
            category: "student".into(),
            birth_date: None,
            state: SubjectState::default(),
            ends: derbes_core::retention::FieldEnds::default(),
        })
    }

    fn feed(changes: &[(i64, u128)], floor: i64, latest: i64) -> StateChanges {
        StateChanges {
            changes: changes
                .iter()
                .map(|(s, id)| (*s, Uuid::from_u128(*id)))
                .collect(),
            floor,
            latest,
        }
    }

    #[test]
    fn a_change_in_the_feed_drops_the_entry() {
        let c = FactsCache::new(100);
        let p = c.apply(None, feed(&[], 0, 10), 1);
        assert_eq!(p, 10);
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        c.fill(a, entry(), p);
        c.fill(b, entry(), p);
        assert_eq!(c.len(), 2);
        let p = c.apply(Some(10), feed(&[(12, 1)], 0, 12), 2);
        assert_eq!(p, 12);
        assert!(c.get(&a).is_none());
        assert!(c.get(&b).is_some());
    }

    #[test]
    fn an_entry_read_while_its_subject_changed_is_not_kept() {
        let c = FactsCache::new(100);
        let p = c.apply(None, feed(&[], 0, 10), 1);
        // Read at 10; meanwhile a poll shows subject 1 changed at 11 and subject 2 at 12.
        c.apply(Some(p), feed(&[(11, 1), (12, 2)], 0, 12), 2);
        c.fill(Uuid::from_u128(1), entry(), p);
        c.fill(Uuid::from_u128(3), entry(), p);
        assert!(c.get(&Uuid::from_u128(1)).is_none());
        assert!(c.get(&Uuid::from_u128(3)).is_some());
    }

    #[test]
    fn falling_behind_the_feed_starts_over() {
        let c = FactsCache::new(100);
        let p = c.apply(None, feed(&[], 0, 10), 1);
        c.fill(Uuid::from_u128(1), entry(), p);
        // The feed was pruned past our position: nothing cached can be trusted.
        let p2 = c.apply(Some(p), feed(&[(60, 9)], 50, 60), 2);
        assert_eq!(p2, 60);
        assert_eq!(c.len(), 0);
        // An entry read before the restart cannot be vetted.
        c.fill(Uuid::from_u128(2), entry(), p);
        assert_eq!(c.len(), 0);
        c.fill(Uuid::from_u128(2), entry(), p2);
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let c = FactsCache::new(32);
        let p = c.apply(None, feed(&[], 0, 0), 1);
        for n in 0..1000u128 {
            c.fill(Uuid::from_u128(n << 120 | n), entry(), p);
        }
        assert!(c.len() <= 32, "{}", c.len());
    }
}

//! The policies under test, each behind `Policy::access`: a hit if the key is cached, else a
//! miss after which the key is inserted (the policy may refuse or evict it at once).

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::num::NonZeroUsize;

use browserdb::engine::heatmap::policy::WTinyLfu;
use browserdb::engine::heatmap::{HeatMap as ProductionHeatMap, HotLookup, ENTRY_OVERHEAD_BYTES, HOT_SHARE};
use browserdb::engine::table::filter::key_hash;
use foyer_memory::{Cache as FoyerCache, CacheBuilder, EvictionConfig, LfuConfig, S3FifoConfig};

use crate::trace::{browser_entry_bytes, browser_user_key, splitmix64};

/// A cache's size: in entries (unit weights), and in bytes where a policy weighs entries.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    pub entries: usize,
    pub bytes: usize,
}

pub trait Policy: Send {
    /// One request: true on a hit.
    fn access(&mut self, key: u64) -> bool;
    /// Entries cached now (tests check the capacity bound).
    fn cached(&self) -> usize;
    /// Whether the policy keeps to its budget (entries, unless it weighs them in bytes).
    fn within(&self, budget: Budget) -> bool {
        self.cached() <= budget.entries
    }
    /// Anything worth printing under the table (e.g. the HeatMap's final window).
    fn note(&self) -> Option<String> {
        None
    }
}

/// A deterministic hasher for moka and foyer (moka's default is randomly seeded, which would
/// make its sketch, and so its hit rate, vary from run to run).
#[derive(Clone, Copy, Default)]
pub struct FixedState;

pub struct FixedHasher(u64);

impl Hasher for FixedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }
    fn write_u64(&mut self, x: u64) {
        self.0 = splitmix64(self.0 ^ x);
    }
}

impl BuildHasher for FixedState {
    type Hasher = FixedHasher;
    fn build_hasher(&self) -> FixedHasher {
        FixedHasher(0x2545_f491_4f6c_dd1d)
    }
}

/// browserdb's HeatMap policy (one shard), unit weights.
pub struct HeatMap(WTinyLfu<u64, ()>);

impl HeatMap {
    /// Sketch bytes per entry as production gives HOT: room for one 64-bit word (16 counters)
    /// per expected entry, Caffeine's width, the climber's ghosts (0.16 bytes per entry) and
    /// a 32-bit recency slot per entry. All the HeatMap's sketches share 1% of its budget;
    /// WARM's take 0.3% of WARM's bytes, which leaves HOT more than this (see heatmap/mod.rs,
    /// and the byte-weighted tables, which run the real HeatMap and report its sketch bytes).
    pub const SKETCH_BYTES_PER_ENTRY: usize = 13;

    pub fn new(capacity: usize) -> Self {
        Self::with_sketch_bytes(capacity, capacity * Self::SKETCH_BYTES_PER_ENTRY)
    }

    /// With another sketch budget: `capacity * ENTRY_BYTES_TYPICAL / 100` caps it at 1% of
    /// HOT's own bytes (2.56 bytes, a third of a word, per entry).
    pub fn with_sketch_bytes(capacity: usize, sketch_bytes_max: usize) -> Self {
        Self(WTinyLfu::new(capacity, 1, sketch_bytes_max))
    }
}

impl Policy for HeatMap {
    fn cached(&self) -> usize {
        self.0.stats().entries as usize
    }

    fn access(&mut self, key: u64) -> bool {
        let hash = splitmix64(key);
        if self.0.get(&key, hash).is_some() {
            return true;
        }
        self.0.insert(key, hash, (), 1);
        false
    }

    fn note(&self) -> Option<String> {
        Some(format!(
            "HeatMap: window at the end {:.1}% of capacity, sketch {} bytes",
            self.0.window_fraction() * 100.0,
            self.0.sketch_bytes()
        ))
    }
}

/// The production HOT tier, byte-weighted: `browserdb::engine::heatmap::HeatMap` (16 shards,
/// `HOT_SHARE` of its budget), driven as a latest-state read drives it: `get`, and after a miss
/// `offer` of the value read from a table (copied in if the key was read before, or if HOT
/// would keep it a while). Keys and values
/// have the browser mix's byte sizes (`browser_entry_bytes`); the stored key is a keyspace tag
/// plus the user key, as in db.rs.
pub struct HotTier {
    heat: ProductionHeatMap,
    value: Vec<u8>,
}

impl HotTier {
    /// A HeatMap whose HOT tier gets `hot_bytes` (its `cacheSize` is `hot_bytes / HOT_SHARE`).
    pub fn new(hot_bytes: usize) -> Self {
        let heat = ProductionHeatMap::new((hot_bytes as f64 / HOT_SHARE).round() as usize);
        Self { heat, value: vec![b'v'; 256] }
    }

    /// Bytes HOT charges for key `id`: stored key + value + bookkeeping.
    pub fn weight(id: u64) -> usize {
        let (key, value) = browser_entry_bytes(id);
        1 + key + value + ENTRY_OVERHEAD_BYTES
    }
}

impl Policy for HotTier {
    fn cached(&self) -> usize {
        self.heat.stats().hot.entries as usize
    }

    fn within(&self, budget: Budget) -> bool {
        self.heat.stats().hot.bytes as usize <= budget.bytes
    }

    fn access(&mut self, key: u64) -> bool {
        let mut buf = [0u8; 40];
        let user = browser_user_key(key, &mut buf);
        let mut stored = Vec::with_capacity(user.len() + 1);
        stored.push(1);
        stored.extend_from_slice(user);
        let hash = key_hash(&stored);
        let generation = self.heat.generation();
        // As `Db::read_layers` reads: `lookup`, then `offer` what a table gave unless HOT
        // already refused the key as too cold.
        match self.heat.lookup(&stored, hash) {
            HotLookup::Hit(_) => true,
            HotLookup::Miss { offer } => {
                if offer {
                    let (_, value_len) = browser_entry_bytes(key);
                    self.heat.offer(&stored, hash, &self.value[..value_len], generation);
                }
                false
            }
        }
    }

    fn note(&self) -> Option<String> {
        let s = self.heat.stats();
        let warm_sketch = self.heat.blocks().sketch_bytes() as u64;
        Some(format!(
            "HeatMap HOT tier at the end: {} entries, {} of {} bytes; sketches: HOT {} bytes + WARM {} bytes = \
             {:.2}% of `cacheSize`",
            s.hot.entries,
            s.hot.bytes,
            (s.capacity_bytes as f64 * HOT_SHARE) as u64,
            s.sketch_bytes - warm_sketch,
            warm_sketch,
            100.0 * s.sketch_bytes as f64 / s.capacity_bytes.max(1) as f64
        ))
    }
}

/// The `lru` crate.
pub struct Lru(lru::LruCache<u64, ()>);

impl Lru {
    pub fn new(capacity: usize) -> Self {
        Self(lru::LruCache::new(NonZeroUsize::new(capacity.max(1)).expect("non-zero")))
    }
}

impl Policy for Lru {
    fn cached(&self) -> usize {
        self.0.len()
    }

    fn access(&mut self, key: u64) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        self.0.put(key, ());
        false
    }
}

/// moka 0.12 `sync::Cache`: TinyLFU admission over an LRU (no admission window).
/// `run_pending_tasks()` after every request, so the capacity bound and the read
/// recording are applied exactly as they would be at leisure (and deterministically).
pub struct Moka(moka::sync::Cache<u64, (), FixedState>);

impl Moka {
    pub fn new(capacity: usize) -> Self {
        Self(moka::sync::Cache::builder().max_capacity(capacity as u64).build_with_hasher(FixedState))
    }
}

impl Policy for Moka {
    fn cached(&self) -> usize {
        self.0.entry_count() as usize
    }

    fn access(&mut self, key: u64) -> bool {
        let hit = self.0.get(&key).is_some();
        if !hit {
            self.0.insert(key, ());
        }
        self.0.run_pending_tasks();
        hit
    }
}

/// foyer-memory `Cache` with one shard (so the capacity is exact; the default is 8 shards of
/// capacity/8 each), weight 1 per entry (its default weighter).
pub struct Foyer(FoyerCache<u64, (), FixedState>);

impl Foyer {
    pub fn new(capacity: usize, config: impl Into<EvictionConfig>) -> Self {
        Self(
            CacheBuilder::new(capacity)
                .with_shards(1)
                .with_eviction_config(config)
                .with_hash_builder(FixedState)
                .build(),
        )
    }

    pub fn w_tinylfu(capacity: usize) -> Self {
        Self::new(capacity, LfuConfig::default())
    }

    /// foyer's W-TinyLFU configured as Caffeine sizes it: a 1% window and a count-min
    /// sketch about 10 x capacity counters wide (`cmsketch_eps` = e / (10 N)); foyer halves the
    /// sketch every `width` updates, so this also ages it every ~10 N accesses, as Caffeine
    /// does. The default (eps 0.001) is ~2,700 counters wide whatever the capacity, and halves
    /// every ~2,700 accesses.
    pub fn w_tinylfu_caffeine_like(capacity: usize) -> Self {
        Self::new(
            capacity,
            LfuConfig {
                window_capacity_ratio: 0.01,
                cmsketch_eps: std::f64::consts::E / (10.0 * capacity.max(1) as f64),
                ..LfuConfig::default()
            },
        )
    }

    pub fn s3fifo(capacity: usize) -> Self {
        Self::new(capacity, S3FifoConfig::default())
    }
}

impl Policy for Foyer {
    fn cached(&self) -> usize {
        self.0.usage()
    }

    fn access(&mut self, key: u64) -> bool {
        if self.0.get(&key).is_some() {
            return true;
        }
        drop(self.0.insert(key, ()));
        false
    }
}

/// Belady's MIN (offline optimal), with bypass: on a miss with a full cache, the key whose
/// next use is farthest in the future (the requested key included) is the one not kept; a key
/// never requested again is never cached. This is the optimum for any policy that may refuse
/// admission (as TinyLFU does), so it bounds all the others.
pub struct Belady {
    capacity: usize,
    next: Vec<u32>,
    at: usize,
    cached: HashMap<u64, u32>,
    by_next: BTreeSet<(u32, u64)>,
}

const NEVER: u32 = u32::MAX;

impl Belady {
    pub fn new(capacity: usize, keys: &[u64]) -> Self {
        let mut next = vec![NEVER; keys.len()];
        let mut last: HashMap<u64, u32> = HashMap::new();
        for (i, k) in keys.iter().enumerate().rev() {
            if let Some(&j) = last.get(k) {
                next[i] = j;
            }
            last.insert(*k, u32::try_from(i).expect("trace under 4G requests"));
        }
        Self { capacity, next, at: 0, cached: HashMap::new(), by_next: BTreeSet::new() }
    }
}

impl Policy for Belady {
    fn cached(&self) -> usize {
        self.cached.len()
    }

    fn access(&mut self, key: u64) -> bool {
        let i = self.at as u32;
        let next = self.next[self.at];
        self.at += 1;
        if let Some(n) = self.cached.get_mut(&key) {
            debug_assert_eq!(*n, i);
            self.by_next.remove(&(*n, key));
            if next == NEVER {
                self.cached.remove(&key);
            } else {
                *n = next;
                self.by_next.insert((next, key));
            }
            return true;
        }
        if next == NEVER || self.capacity == 0 {
            return false;
        }
        if self.cached.len() >= self.capacity {
            let &(far, victim) = self.by_next.last().expect("full cache");
            if far <= next {
                return false;
            }
            self.by_next.remove(&(far, victim));
            self.cached.remove(&victim);
        }
        self.cached.insert(key, next);
        self.by_next.insert((next, key));
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Rng;

    /// The most hits any policy (that may refuse admission) can get: exhaustive search.
    fn best(keys: &[u64], capacity: usize, at: usize, cache: &mut Vec<u64>) -> usize {
        let Some(&k) = keys.get(at) else { return 0 };
        if cache.contains(&k) {
            return 1 + best(keys, capacity, at + 1, cache);
        }
        let mut most = best(keys, capacity, at + 1, cache); // bypass
        if cache.len() < capacity {
            cache.push(k);
            most = most.max(best(keys, capacity, at + 1, cache));
            cache.pop();
        } else {
            for i in 0..cache.len() {
                let old = std::mem::replace(&mut cache[i], k);
                most = most.max(best(keys, capacity, at + 1, cache));
                cache[i] = old;
            }
        }
        most
    }

    #[test]
    fn belady_is_optimal_on_small_traces() {
        let mut rng = Rng::new(7);
        for case in 0..300 {
            let len = 4 + (case % 9);
            let universe = 2 + (case % 4) as u64;
            let capacity = 1 + case % 3;
            let keys: Vec<u64> = (0..len).map(|_| rng.below(universe)).collect();
            let mut p = Belady::new(capacity, &keys);
            let hits = keys.iter().filter(|&&k| p.access(k)).count();
            assert_eq!(hits, best(&keys, capacity, 0, &mut Vec::new()), "{keys:?} capacity {capacity}");
        }
    }

    #[test]
    fn every_policy_keeps_to_its_capacity() {
        let mut rng = Rng::new(9);
        let keys: Vec<u64> = (0..50_000).map(|_| rng.below(5_000)).collect();
        let capacity = 300;
        let policies: Vec<Box<dyn Policy>> = vec![
            Box::new(HeatMap::new(capacity)),
            Box::new(Lru::new(capacity)),
            Box::new(Moka::new(capacity)),
            Box::new(Foyer::w_tinylfu(capacity)),
            Box::new(Foyer::w_tinylfu_caffeine_like(capacity)),
            Box::new(Foyer::s3fifo(capacity)),
            Box::new(Belady::new(capacity, &keys)),
        ];
        for mut p in policies {
            let (mut hits, mut most) = (0, 0);
            for &k in &keys {
                hits += usize::from(p.access(k));
                assert!(p.cached() <= capacity, "{} > {capacity}", p.cached());
                most = most.max(p.cached());
            }
            assert!(most >= capacity * 9 / 10, "fills up: {most}");
            assert!(hits > 0);
        }
    }

    #[test]
    fn the_hot_tier_keeps_to_its_byte_budget() {
        let mut rng = Rng::new(11);
        let budget = Budget { entries: 0, bytes: 256 * 1024 };
        let mut p = HotTier::new(budget.bytes);
        let mut hits = 0;
        for _ in 0..100_000 {
            hits += usize::from(p.access(rng.below(5_000)));
            assert!(p.within(budget));
        }
        assert!(p.heat.stats().hot.bytes as usize > budget.bytes * 9 / 10, "fills up");
        assert!(hits > 0);
    }
}

//! The HeatMap: how hot every key is, and the hottest data kept closest.
//!
//! - **HOT**: decoded entries (stored key → value). A `get` of a hot key reads no block and
//!   decodes nothing. Every latest-state read that misses the memtables asks HOT first and
//!   counts the key's heat; a value read from a table is offered to HOT, whose W-TinyLFU
//!   admission keeps it only if it is hotter than what it would displace.
//! - **WARM**: decoded blocks (`cache.rs`), for neighbours of hot keys and for scans.
//! - **COLD**: on disk but tracked: the frequency sketch remembers keys' heat though no tier
//!   holds them, so a key warming up is admitted once it is hot enough.
//! - **FROZEN**: heat zero: never admitted ahead of anything warmer, the first to go.
//!
//! The budget (`cacheSize`) is split between HOT and WARM (`HOT_SHARE`); both are sharded
//! W-TinyLFU policies (policy.rs). All their frequency sketches (with each policy's recency
//! table and ghosts) together stay under 1% of the budget (`SKETCH_SHARE_MAX`): WARM's entries
//! are whole blocks and need one 8-byte word and one 4-byte recency slot per expected block
//! (0.3% of its bytes); HOT gets the rest, enough for Caffeine's width of one word per
//! expected entry and a recency slot (4.8% of HOT's bytes with 256-byte entries, 0.5% of the
//! budget).
//! Capping HOT's sketch at 1% of HOT's own bytes instead (a third of a word per entry) cost
//! 0.5-2.2 points on Zipf and the browser mix in benchmark/cache (0.01 at most on the loops).
//!
//! Consistency: HOT may only hold the newest version of a key. Reads check the memtables
//! before HOT, so a newer version in a memtable masks a stale HOT entry; when that memtable is
//! flushed, its keys are removed from HOT before the flushed table is published. A read that
//! raced with a flush does not offer its value (the generation counter changed).

pub mod policy;
pub mod sketch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use self::policy::{PolicyStats, WTinyLfu};
use super::cache::{add_stats, BlockCache};
use super::range_del::RangeTombstone;

const SHARDS: usize = 16;
/// HOT's share of the cache budget; WARM gets the rest (blocks also serve neighbours, scans
/// and one-pass reads, which HOT cannot, and a HOT entry mostly duplicates a row of a cached
/// block). benchmark/cache/examples/whole_cache.rs, the browser mix through the engine, reads
/// answered without a file read, 4 / 8 / 16 MiB `cacheSize`: a quarter 84.1 / 95.0 / 98.3%,
/// a tenth 85.7 / 96.4 / 98.2% (a second trace seed: +1.6 / +1.5 / +0.0), none at all
/// 87.1 / 96.8%. A tenth keeps most of HOT's cheaper hits (it still answers half of them).
pub const HOT_SHARE: f64 = 0.1;
/// Heat a key needs (its reads so far, aged) before its value is offered to HOT.
const OFFER_HEAT_MIN: u8 = 2;
/// Bookkeeping bytes charged per HOT entry, beyond its key and value.
pub const ENTRY_OVERHEAD_BYTES: usize = 64;
/// Typical entry, for sizing the sketches.
pub const ENTRY_BYTES_TYPICAL: usize = 256;
/// All frequency sketches together (HOT's and WARM's) stay under this share of the budget.
pub const SKETCH_SHARE_MAX: f64 = 0.01;

type HotShard = WTinyLfu<Box<[u8]>, Arc<[u8]>>;

/// Counters of both tiers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeatStats {
    /// Decoded entries.
    pub hot: PolicyStats,
    /// Decoded blocks.
    pub warm: PolicyStats,
    /// Bytes of all frequency sketches.
    pub sketch_bytes: u64,
    /// The whole budget.
    pub capacity_bytes: u64,
}

/// The cache of one database.
pub struct HeatMap {
    hot: Vec<Mutex<HotShard>>,
    blocks: Arc<BlockCache>,
    generation: AtomicU64,
}

fn hot_shard(hash: u64) -> usize {
    (hash >> 58) as usize % SHARDS
}

fn split(capacity_bytes: usize) -> (usize, usize) {
    let hot = (capacity_bytes as f64 * HOT_SHARE) as usize;
    (hot, capacity_bytes - hot)
}

impl HeatMap {
    /// A HeatMap within `capacity_bytes`.
    #[must_use]
    pub fn new(capacity_bytes: usize) -> Self {
        let (hot, warm) = split(capacity_bytes);
        let shard = hot / SHARDS;
        let blocks = BlockCache::new(warm);
        // WARM's sketches are sized first (by blocks); HOT's share the rest of the 1%.
        let sketch_bytes_max = (capacity_bytes as f64 * SKETCH_SHARE_MAX) as usize;
        let hot_sketch_max = sketch_bytes_max.saturating_sub(blocks.sketch_bytes()) / SHARDS;
        Self {
            hot: (0..SHARDS).map(|_| Mutex::new(WTinyLfu::new(shard, ENTRY_BYTES_TYPICAL, hot_sketch_max))).collect(),
            blocks: Arc::new(blocks),
            generation: AtomicU64::new(0),
        }
    }

    /// The WARM tier (tables read blocks through it).
    #[must_use]
    pub fn blocks(&self) -> &Arc<BlockCache> {
        &self.blocks
    }

    /// Taken before a read looks at the memtables; passed back to `offer`.
    #[must_use]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The HOT value of a stored key, counting its heat.
    pub fn get(&self, stored_key: &[u8], hash: u64) -> Option<Arc<[u8]>> {
        self.hot.get(hot_shard(hash)).and_then(|s| s.lock().get(stored_key, hash))
    }

    /// Offers a value just read from a table; kept if hot enough and no flush happened since
    /// the read began.
    pub fn offer(&self, stored_key: &[u8], hash: u64, value: &[u8], generation: u64) {
        let Some(shard) = self.hot.get(hot_shard(hash)) else { return };
        let weight = stored_key.len() + value.len() + ENTRY_OVERHEAD_BYTES;
        let mut shard = shard.lock();
        // Doorkeeper: a key read once costs only its sketch count, unless HOT would keep it a
        // while (free room, or an open window: recency pays now). Otherwise admission would
        // drop it at once, so a scan or a one-pass workload allocates nothing here. Copying
        // only from the second read cost 1.8-3.6 points on the byte-weighted browser mix
        // (benchmark/cache): the second read of every key missed.
        let cold = shard.heat(hash) < OFFER_HEAT_MIN && !shard.keeps_cold(weight);
        if shard.capacity_bytes() == 0 || self.generation() != generation {
            return;
        }
        if cold {
            shard.refused(hash);
            return;
        }
        shard.insert(stored_key.into(), hash, value.into(), weight);
    }

    /// Removes the keys `for_each` yields (their newest version is about to move from a
    /// memtable into a table). Bumps the generation first, so a read that raced this does
    /// not put an older value back.
    pub fn invalidate(&self, for_each: impl FnOnce(&mut dyn FnMut(&[u8]))) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.hot.iter().all(|s| s.lock().stats().entries == 0) {
            return;
        }
        for_each(&mut |key: &[u8]| {
            let hash = super::table::filter::key_hash(key);
            if let Some(shard) = self.hot.get(hot_shard(hash)) {
                shard.lock().remove(key);
            }
        });
    }

    /// Removes every HOT key that one of `ranges` covers (their range tombstones are about to
    /// move from a memtable into a table, which HOT is consulted before). Scans HOT, so it
    /// costs O(HOT entries), once per flush of a memtable holding range tombstones. Bumps the
    /// generation first, like `invalidate`.
    pub fn invalidate_ranges(&self, ranges: &[RangeTombstone]) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        for shard in &self.hot {
            shard.lock().retain(|key| !ranges.iter().any(|t| t.covers(key)));
        }
    }

    /// Changes the budget of both tiers; shrinking evicts at once.
    pub fn resize(&self, capacity_bytes: usize) {
        let (hot, warm) = split(capacity_bytes);
        for shard in &self.hot {
            shard.lock().resize(hot / SHARDS);
        }
        self.blocks.resize(warm);
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> HeatStats {
        let hot = self.hot.iter().map(|s| s.lock().stats()).fold(PolicyStats::default(), add_stats);
        let hot_sketch: usize = self.hot.iter().map(|s| s.lock().sketch_bytes()).sum();
        let hot_capacity: usize = self.hot.iter().map(|s| s.lock().capacity_bytes()).sum();
        HeatStats {
            hot,
            warm: self.blocks.stats(),
            sketch_bytes: (hot_sketch + self.blocks.sketch_bytes()) as u64,
            capacity_bytes: (hot_capacity + self.blocks.capacity_bytes()) as u64,
        }
    }

    /// The hottest HOT keys (stored keys) with their heat (0..=15), hottest first.
    #[must_use]
    pub fn hottest(&self, limit: usize) -> Vec<(Vec<u8>, u8)> {
        let mut all: Vec<(Vec<u8>, u8)> = Vec::new();
        for shard in &self.hot {
            let shard = shard.lock();
            all.extend(shard.hottest().map(|(k, heat)| (k.to_vec(), heat)));
        }
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        all.truncate(limit);
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sketches_stay_under_one_percent_of_the_budget() {
        for capacity in [64 << 10, 1 << 20, 4 << 20, 16 << 20, 256 << 20] {
            let s = HeatMap::new(capacity).stats();
            assert!(
                s.sketch_bytes as f64 <= capacity as f64 * SKETCH_SHARE_MAX,
                "{} sketch bytes for a budget of {capacity}",
                s.sketch_bytes
            );
        }
        // At the default 16 MiB, HOT gets one sketch word (16 counters) and one 32-bit recency
        // slot per expected entry, and its climber two ghosts of 1% of the entries (at least 8).
        let heat = HeatMap::new(16 << 20);
        let hot_sketch: usize = heat.hot.iter().map(|s| s.lock().sketch_bytes()).sum();
        let entries = split(16 << 20).0 / SHARDS / ENTRY_BYTES_TYPICAL;
        assert_eq!(hot_sketch, (entries * (8 + 4) + 2 * entries.div_ceil(100).max(8) * 8) * SHARDS);
    }
}

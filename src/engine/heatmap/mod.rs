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
//! The budget (`cacheSize`) is split between HOT and WARM; both are sharded W-TinyLFU
//! policies (policy.rs). HOT starts with `HOT_SHARE` of it, and the split then follows the
//! reads (`rebalance`, below). All their frequency sketches (with each policy's recency
//! table and ghosts) together stay under 1% of the budget (`SKETCH_SHARE_MAX`): WARM's entries
//! are whole blocks and need one 8-byte word and one 4-byte recency slot per expected block
//! (0.3% of its bytes); HOT gets the rest, enough for Caffeine's width of one word per
//! expected entry and a recency slot (4.8% of HOT's bytes with 256-byte entries, 0.5% of the
//! budget).
//! Capping HOT's sketch at 1% of HOT's own bytes instead (a third of a word per entry) cost
//! 0.5-2.2 points on Zipf and the browser mix in benchmark/cache (0.01 at most on the loops).
//!
//! Rebalancing, ARC-style between the tiers (Megiddo and Modha's adaptive replacement cache
//! moves its target between two lists by their ghosts' hits): each tier remembers the keys
//! (blocks) that lately left it for want of room, enough of them to fill HOT's largest share
//! on either side. A miss on one is a read that this much more budget would have served. About
//! every `REBALANCE_LOOKUPS` reads, a step of the budget moves towards the
//! tier whose exits were missed more, a WARM exit weighing `WARM_MISS_COST` HOT ones (a HOT
//! miss usually finds the block in WARM; a WARM miss reads a file). So uniform reads over data
//! slightly larger than the cache, where HOT holds a few percent of the keys and each WARM miss
//! is a `pread` and a decompression, give WARM all but HOT's smallest share (`HOT_SHARE_MIN`,
//! kept for the hottest few hundred entries and for `heatmap()`), and a skewed workload whose
//! blocks fit keeps HOT's cheaper hits.
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
use super::cache::{add_stats, BlockCache, BLOCK_BYTES_TYPICAL};
use super::range_del::RangeTombstone;

const SHARDS: usize = 16;
/// HOT's share of the cache budget; WARM gets the rest (blocks also serve neighbours, scans
/// and one-pass reads, which HOT cannot, and a HOT entry mostly duplicates a row of a cached
/// block). benchmark/cache/examples/whole_cache.rs, the browser mix through the engine, reads
/// answered without a file read, 4 / 8 / 16 MiB `cacheSize`: a quarter 84.1 / 95.0 / 98.3%,
/// a tenth 85.7 / 96.4 / 98.2% (a second trace seed: +1.6 / +1.5 / +0.0), none at all
/// 87.1 / 96.8%. A tenth keeps most of HOT's cheaper hits (it still answers half of them).
/// This is also HOT's largest share when the split adapts, and its share at open.
pub const HOT_SHARE: f64 = 0.1;
/// HOT's smallest share: enough for the very hottest entries (a few hundred at the default
/// 16 MiB), so they keep their no-decode reads and `heatmap()` still names them when WARM has
/// won the rest of the budget.
pub const HOT_SHARE_MIN: f64 = 0.01;
/// One rebalancing step: this share of the budget (nine steps from a tenth to the minimum),
/// at most `REBALANCE_STEP_BYTES_MAX`.
const REBALANCE_STEP_SHARE: f64 = 0.01;
/// A step evicts what the shrinking tier loses at once, on the reading thread (perhaps the JS
/// thread): at most this many bytes, a few thousand HOT entries, a fraction of a millisecond.
const REBALANCE_STEP_BYTES_MAX: usize = 1 << 20;
/// How many HOT exit hits one WARM exit hit weighs: a HOT miss mostly finds the block in WARM
/// (a block seek more, ~0.3 µs here), a WARM miss reads the file, checks and decompresses the
/// block (3-5 µs from the page cache on the JS thread; a pool round trip of ~30 µs for an
/// awaited `get`).
const WARM_MISS_COST: u64 = 16;
/// The smallest budget whose split adapts (at open, and now).
const REBALANCE_CAPACITY_MIN: usize = 1 << 20;
/// HOT lookups between rebalancing steps: counted by HOT's first shard (1/16 of them), so no
/// counter is shared between threads.
const REBALANCE_LOOKUPS: u64 = 4096;
/// A step needs at least this weighted difference: two WARM exit hits more than HOT's (or 32
/// HOT exit hits more), beyond the counts' noise.
const REBALANCE_DIFFERENCE_MIN: f64 = 2.0 * WARM_MISS_COST as f64;
/// Heat a key needs (its reads so far, aged) before its value is offered to HOT.
const OFFER_HEAT_MIN: u8 = 2;
/// Bookkeeping bytes charged per HOT entry beyond its key's and value's bytes, from the types'
/// sizes: the policy's node and index entry, the value's two reference counts, and the
/// allocator's overhead on the key's and the value's allocations. ~220 bytes on 64-bit
/// targets; a fixed 64 undercounted them.
pub const ENTRY_OVERHEAD_BYTES: usize = policy::entry_bookkeeping_bytes::<Box<[u8]>, Arc<[u8]>>()
    + 2 * std::mem::size_of::<usize>()
    + 2 * policy::ALLOCATION_OVERHEAD_BYTES;
/// Typical entry, for sizing the sketches.
pub const ENTRY_BYTES_TYPICAL: usize = 256;
/// All frequency sketches together (HOT's and WARM's) stay under this share of the budget.
pub const SKETCH_SHARE_MAX: f64 = 0.01;

type HotShard = WTinyLfu<Box<[u8]>, Arc<[u8]>>;

/// What HOT answered a latest-state read (`HeatMap::lookup`).
#[derive(Debug)]
pub enum HotLookup {
    /// HOT holds the value.
    Hit(Arc<[u8]>),
    /// HOT does not; `offer`: whether the value the read finds in a table may be offered
    /// (false: the key was refused as too cold already).
    Miss {
        /// Whether to `offer` the value read.
        offer: bool,
    },
}

/// Doorkeeper: whether a key whose entry would weigh `weight` is too cold for HOT. Read once
/// it costs only its sketch count, unless HOT would keep it a while (free room, or an open
/// window: recency pays now); otherwise admission would drop it at once, so a scan or a
/// one-pass workload allocates nothing. Copying only from the second read cost 1.8-3.6 points
/// on the byte-weighted browser mix (benchmark/cache): the second read of every key missed.
/// The smaller the weight, the likelier HOT keeps it.
fn is_cold(shard: &HotShard, hash: u64, weight: usize) -> bool {
    shard.heat(hash) < OFFER_HEAT_MIN && !shard.keeps_cold(weight)
}

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
    /// HOT's part of the budget now.
    pub hot_capacity_bytes: u64,
    /// WARM's part (the two add up to the budget, less what dividing it over the shards
    /// rounds off).
    pub warm_capacity_bytes: u64,
}

/// The cache of one database.
pub struct HeatMap {
    hot: Vec<Mutex<HotShard>>,
    blocks: Arc<BlockCache>,
    generation: AtomicU64,
    /// The budget and how it is split; held while the split changes.
    split: Mutex<Split>,
    /// The largest entry a HOT shard holds at HOT's largest share of the budget at open.
    hot_entry_bytes_max: usize,
}

/// The budget and HOT's share of it.
#[derive(Debug, Clone, Copy)]
struct Split {
    capacity_bytes: usize,
    /// `HOT_SHARE_MIN..=HOT_SHARE` (`HOT_SHARE` at open; `resize` keeps it).
    hot_share: f64,
    /// Whether the tiers track their exits (the budget at open was large enough).
    adapts: bool,
}

impl Split {
    /// HOT's bytes and WARM's.
    fn bytes(self) -> (usize, usize) {
        let hot = ((self.capacity_bytes as f64 * self.hot_share) as usize).min(self.capacity_bytes);
        (hot, self.capacity_bytes - hot)
    }

    /// One step's share of the budget.
    fn step_share(self) -> f64 {
        REBALANCE_STEP_SHARE.min(REBALANCE_STEP_BYTES_MAX as f64 / self.capacity_bytes.max(1) as f64)
    }
}

fn hot_shard(hash: u64) -> usize {
    (hash >> 58) as usize % SHARDS
}

impl HeatMap {
    /// A HeatMap within `capacity_bytes`.
    #[must_use]
    pub fn new(capacity_bytes: usize) -> Self {
        let adapts = capacity_bytes >= REBALANCE_CAPACITY_MIN;
        let split = Split { capacity_bytes, hot_share: HOT_SHARE, adapts };
        let (hot, warm) = split.bytes();
        let shard = hot / SHARDS;
        let blocks = BlockCache::new(warm);
        // Both tiers' exit ghosts cover what HOT's largest share holds, so their hits weigh the
        // same bytes (see `rebalance`); they are sized here, for the budget at open. Under
        // `REBALANCE_CAPACITY_MIN` there are none (a slot or two per shard would be noise, and
        // their bytes would break the sketches' 1%), and the split stays as it is.
        let exits_bytes = if adapts { hot } else { 0 };
        blocks.track_exits(exits_bytes / BLOCK_BYTES_TYPICAL);
        let hot_exit_slots = exits_bytes / SHARDS / ENTRY_BYTES_TYPICAL;
        // WARM's sketches are sized first (by blocks); HOT's share the rest of the 1%.
        let sketch_bytes_max = (capacity_bytes as f64 * SKETCH_SHARE_MAX) as usize;
        let hot_sketch_max = (sketch_bytes_max.saturating_sub(blocks.sketch_bytes()) / SHARDS)
            .saturating_sub(policy::exit_ghost_bytes(hot_exit_slots));
        let hot = (0..SHARDS)
            .map(|_| {
                let mut policy = WTinyLfu::new(shard, ENTRY_BYTES_TYPICAL, hot_sketch_max);
                policy.track_exits(hot_exit_slots);
                Mutex::new(policy)
            })
            .collect();
        Self {
            hot,
            blocks: Arc::new(blocks),
            generation: AtomicU64::new(0),
            split: Mutex::new(split),
            hot_entry_bytes_max: shard,
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

    /// What HOT answers a latest-state read of a stored key, counting its heat. A miss also
    /// says whether the value the read then finds in a table could be taken by `offer`: a key
    /// too cold for HOT to keep even at the smallest weight it could have (its key and the
    /// bookkeeping, no value) is refused here, as `offer` would refuse it, so the read skips
    /// `offer` and its second lock of the shard.
    pub fn lookup(&self, stored_key: &[u8], hash: u64) -> HotLookup {
        let at = hot_shard(hash);
        let Some(shard) = self.hot.get(at) else { return HotLookup::Miss { offer: false } };
        let (found, rebalance_due) = {
            let mut shard = shard.lock();
            let found = match shard.get(stored_key, hash) {
                Some(value) => HotLookup::Hit(value),
                None if is_cold(&shard, hash, stored_key.len() + ENTRY_OVERHEAD_BYTES) => {
                    shard.refused(hash);
                    HotLookup::Miss { offer: false }
                }
                None => HotLookup::Miss { offer: true },
            };
            (found, at == 0 && shard.lookups() % (REBALANCE_LOOKUPS / SHARDS as u64) == 0)
        };
        if rebalance_due {
            self.rebalance();
        }
        found
    }

    /// Moves a step of the budget towards the tier whose recent exits were missed more since
    /// the last step, a WARM exit hit weighing `WARM_MISS_COST` HOT ones; a difference within
    /// the counts' noise (the square root of their weighted variance, and at least
    /// `REBALANCE_DIFFERENCE_MIN`) leaves the split. HOT stays between `HOT_SHARE_MIN` and
    /// `HOT_SHARE`.
    /// A budget under `REBALANCE_CAPACITY_MIN` (now, or at open) keeps its split. Skipped if
    /// another thread is already at it.
    fn rebalance(&self) {
        let Some(mut split) = self.split.try_lock() else { return };
        let hot_exits: u64 = self.hot.iter().map(|s| s.lock().take_exit_hits()).sum();
        let warm_exits = self.blocks.take_exit_hits();
        if !split.adapts || split.capacity_bytes < REBALANCE_CAPACITY_MIN {
            return;
        }
        let toward_warm = warm_exits.saturating_mul(WARM_MISS_COST) as f64;
        let difference = hot_exits as f64 - toward_warm;
        let variance = warm_exits.saturating_mul(WARM_MISS_COST * WARM_MISS_COST).saturating_add(hot_exits);
        if difference.abs() < (variance as f64).sqrt().max(REBALANCE_DIFFERENCE_MIN) {
            return;
        }
        let step = split.step_share().copysign(difference);
        let share = (split.hot_share + step).clamp(HOT_SHARE_MIN, HOT_SHARE);
        if share != split.hot_share {
            split.hot_share = share;
            self.apply(*split);
        }
    }

    /// Gives each tier its part of `split`, the shrinking tier first, so that together they
    /// never hold more than the budget.
    fn apply(&self, split: Split) {
        let (hot, warm) = split.bytes();
        let hot_now: usize = self.hot.iter().map(|s| s.lock().capacity_bytes()).sum();
        let resize_hot = || {
            for shard in &self.hot {
                shard.lock().resize(hot / SHARDS);
            }
        };
        if hot <= hot_now {
            resize_hot();
            self.blocks.resize(warm);
        } else {
            self.blocks.resize(warm);
            resize_hot();
        }
    }

    /// Offers a value just read from a table; kept if hot enough and no flush happened since
    /// the read began.
    pub fn offer(&self, stored_key: &[u8], hash: u64, value: &[u8], generation: u64) {
        let Some(shard) = self.hot.get(hot_shard(hash)) else { return };
        let weight = stored_key.len() + value.len() + ENTRY_OVERHEAD_BYTES;
        let mut shard = shard.lock();
        let cold = is_cold(&shard, hash, weight);
        if self.generation() != generation {
            return;
        }
        if cold {
            shard.refused(hash);
            return;
        }
        if weight > shard.capacity_bytes() {
            // Hot enough, but larger than a HOT shard now (a small share of a small budget, or
            // none): an exit, so HOT's share grows if such keys keep coming, unless not even
            // HOT's largest share could hold the entry.
            shard.no_room(hash, weight <= self.hot_entry_bytes_max);
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

    /// Changes the budget of both tiers (HOT keeps its current share); shrinking evicts at
    /// once.
    pub fn resize(&self, capacity_bytes: usize) {
        let mut split = self.split.lock();
        split.capacity_bytes = capacity_bytes;
        self.apply(*split);
    }

    /// Counters. The split is held, so the tiers' capacities and bytes are read between
    /// rebalancing steps.
    #[must_use]
    pub fn stats(&self) -> HeatStats {
        let split = self.split.lock();
        let hot = self.hot.iter().map(|s| s.lock().stats()).fold(PolicyStats::default(), add_stats);
        let hot_sketch: usize = self.hot.iter().map(|s| s.lock().sketch_bytes()).sum();
        let hot_capacity: usize = self.hot.iter().map(|s| s.lock().capacity_bytes()).sum();
        HeatStats {
            hot,
            warm: self.blocks.stats(),
            sketch_bytes: (hot_sketch + self.blocks.sketch_bytes()) as u64,
            capacity_bytes: split.capacity_bytes as u64,
            hot_capacity_bytes: hot_capacity as u64,
            warm_capacity_bytes: self.blocks.capacity_bytes() as u64,
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
        let entries = Split { capacity_bytes: 16 << 20, hot_share: HOT_SHARE, adapts: true }.bytes().0
            / SHARDS
            / ENTRY_BYTES_TYPICAL;
        let exits = policy::exit_ghost_bytes(entries);
        assert_eq!(hot_sketch, (entries * (8 + 4) + 2 * entries.div_ceil(100).max(8) * 8 + exits) * SHARDS);
    }

    /// `lookup` refuses a key read once as `offer` would once HOT has no room left for it,
    /// and says to offer it while HOT has room, and from its second read on.
    #[test]
    fn lookup_says_whether_an_offer_could_be_taken() {
        let heat = HeatMap::new(1 << 20);
        let key = |n: u64| format!("\0history:{n:09}").into_bytes();
        let hash = |k: &[u8]| crate::engine::table::filter::key_hash(k);
        let value = [7u8; 150];
        // An empty HOT keeps anything: every miss may be offered.
        let first = key(0);
        assert!(matches!(heat.lookup(&first, hash(&first)), HotLookup::Miss { offer: true }));
        // Fill HOT with keys read once (a one-pass workload), until its shards have less room
        // left than the smallest entry (300-byte values: 12 entries a shard leave ~120 bytes).
        for n in 1..20_000u64 {
            let k = key(n);
            if let HotLookup::Miss { offer: true } = heat.lookup(&k, hash(&k)) {
                heat.offer(&k, hash(&k), &[7u8; 300], heat.generation());
            }
        }
        // New keys read once, now that HOT is full: each one `lookup` refuses, `offer` refuses
        // too; the others it may take.
        let mut refused = 0;
        for n in 50_000..51_000u64 {
            let k = key(n);
            let offer = matches!(heat.lookup(&k, hash(&k)), HotLookup::Miss { offer: true });
            heat.offer(&k, hash(&k), &value, heat.generation());
            if !offer {
                refused += 1;
                assert!(!matches!(heat.lookup(&k, hash(&k)), HotLookup::Hit(_)), "offer took a key lookup refused");
            }
        }
        assert!(refused > 500, "a full HOT refuses most keys read once ({refused} of 1000)");
        // Read twice, a key may be offered.
        let k = key(60_000);
        heat.lookup(&k, hash(&k));
        assert!(matches!(heat.lookup(&k, hash(&k)), HotLookup::Miss { offer: true }));
    }

    fn block(bytes: usize) -> Arc<crate::engine::table::block::Block> {
        let mut b = crate::engine::table::block::BlockBuilder::default();
        b.add(b"k", 1, crate::engine::key::Kind::Put, 0, &vec![0u8; bytes]);
        Arc::new(crate::engine::table::block::Block::new(b.finish()).unwrap())
    }

    /// One latest-state read of key `k` as `Db::read_layers` makes it: HOT, else its block
    /// (`KEYS_PER_BLOCK` keys each) through WARM, then the value offered to HOT. Checks the
    /// budget after every read.
    fn read(heat: &HeatMap, k: u64, blocks: &mut Vec<Arc<crate::engine::table::block::Block>>, budget: Option<u64>) {
        const KEYS_PER_BLOCK: u64 = 16;
        let key = format!("key{k:08}");
        let hash = crate::engine::table::filter::key_hash(key.as_bytes());
        let generation = heat.generation();
        if let HotLookup::Miss { offer } = heat.lookup(key.as_bytes(), hash) {
            let at = (1, k / KEYS_PER_BLOCK * 4096);
            if heat.blocks().get(at).is_none() {
                let b = blocks.pop().unwrap_or_else(|| block(4000));
                heat.blocks().insert(at, b);
            }
            if offer {
                heat.offer(key.as_bytes(), hash, &[7u8; 180], generation);
            }
        }
        let Some(budget) = budget else { return };
        let s = heat.stats();
        assert!(s.hot.bytes <= s.hot_capacity_bytes && s.warm.bytes <= s.warm_capacity_bytes, "{s:?}");
        assert_eq!(s.capacity_bytes, budget);
        // The tiers' parts add up to the budget (less what dividing it over shards rounds off).
        let parts = s.hot_capacity_bytes + s.warm_capacity_bytes;
        assert!(parts <= budget && parts > budget - 2 * SHARDS as u64, "{s:?}");
    }

    fn xorshift(x: &mut u64) -> u64 {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x
    }

    #[test]
    fn readers_rebalancing_and_resizes_at_once_keep_the_budget() {
        let heat = Arc::new(HeatMap::new(1 << 20));
        let readers: Vec<_> = (0..3u64)
            .map(|t| {
                let heat = Arc::clone(&heat);
                std::thread::spawn(move || {
                    let mut x = 0x9e37_79b9_7f4a_7c15_u64 ^ t;
                    let mut spare = Vec::new();
                    for _ in 0..30_000 {
                        read(&heat, xorshift(&mut x) % 4800, &mut spare, None);
                    }
                })
            })
            .collect();
        let mut round = 0;
        while round < 200 || !readers.iter().all(std::thread::JoinHandle::is_finished) {
            round += 1;
            let budget = [1 << 20, 3 << 19, 1 << 19, 0][round % 4];
            heat.resize(budget);
            let s = heat.stats();
            assert_eq!(s.capacity_bytes, budget as u64);
            assert!(s.hot_capacity_bytes + s.warm_capacity_bytes <= budget as u64, "{s:?}");
            assert!(s.hot.bytes <= s.hot_capacity_bytes && s.warm.bytes <= s.warm_capacity_bytes, "{s:?}");
            std::thread::yield_now();
        }
        for r in readers {
            r.join().unwrap();
        }
    }

    #[test]
    fn the_split_follows_the_reads_within_the_budget() {
        let tenth = |bytes: u64| bytes / 10 / SHARDS as u64 * SHARDS as u64;
        let heat = HeatMap::new(1 << 20);
        assert_eq!(heat.stats().hot_capacity_bytes, tenth(1 << 20));
        let mut spare = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        // Uniform reads over 300 blocks (1.2 MB) while WARM holds about 210: WARM's evicted
        // blocks come back (each a file read), HOT's few entries rarely do. WARM gets all but
        // HOT's smallest share.
        for _ in 0..200_000 {
            read(&heat, xorshift(&mut x) % 4800, &mut spare, Some(1 << 20));
        }
        let s = heat.stats();
        let least = |bytes: u64| (bytes as f64 * HOT_SHARE_MIN) as u64 / SHARDS as u64 * SHARDS as u64;
        assert_eq!(s.hot_capacity_bytes, least(1 << 20), "{s:?}");
        let warm_misses = s.warm.misses;
        // Then reads of 1,200 keys whose 75 blocks WARM holds with room to spare, and whose
        // entries HOT keeps evicting (room for a few dozen): HOT's share comes back, to a tenth.
        for _ in 0..100_000 {
            read(&heat, xorshift(&mut x) % 1200, &mut spare, Some(1 << 20));
        }
        let s = heat.stats();
        assert_eq!(s.hot_capacity_bytes, tenth(1 << 20), "{s:?}");
        assert!(s.hot.entries > 0 && s.hot.hits > 0, "{s:?}");
        assert!(s.warm.misses - warm_misses < 1_000, "the 75 blocks stay in WARM: {s:?}");
        // With no budget (`resizeCache(0)`) nothing moves the split, though every block read
        // again was turned away; the budget given back comes with the same split.
        heat.resize(0);
        for _ in 0..50_000 {
            let k = xorshift(&mut x) % 4800;
            let key = format!("key{k:08}");
            let hash = crate::engine::table::filter::key_hash(key.as_bytes());
            let generation = heat.generation();
            let HotLookup::Miss { offer } = heat.lookup(key.as_bytes(), hash) else { panic!("HOT holds nothing") };
            assert!(heat.blocks().get((1, k / 16 * 4096)).is_none());
            heat.blocks().insert((1, k / 16 * 4096), block(4000));
            if offer {
                heat.offer(key.as_bytes(), hash, &[7u8; 180], generation);
            }
        }
        assert_eq!(heat.stats().hot_capacity_bytes, 0, "a tenth of nothing");
        heat.resize(1 << 21);
        assert_eq!(heat.stats().hot_capacity_bytes, tenth(1 << 21));
    }
}

//! The block cache: decoded, checked data blocks kept in memory within a byte budget, so a
//! read whose block is cached touches no file and can be answered on the JS thread.
//!
//! Sixteen shards (by key hash), each guarded by its own mutex, so readers on the JS thread
//! and the libuv pool rarely meet. Eviction is CLOCK (second chance): a hit sets a
//! reference bit; the hand clears bits and evicts the first unreferenced block. The budget
//! covers block bytes plus a per-entry overhead; a block larger than a shard's budget is not
//! cached. The HeatMap (issue "HeatMap cache") replaces this policy behind the same seam.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::table::block::Block;

const SHARDS: usize = 16;
/// Bookkeeping bytes charged per cached block, beyond its data.
const ENTRY_OVERHEAD_BYTES: usize = 96;

/// Identifies a block: the table's file number and the block's offset in it.
pub type BlockKey = (u64, u64);

/// Block keys are two integers; a multiply-mix hash is enough and far cheaper than SipHash
/// (the keys are not attacker-controlled).
#[derive(Default, Clone, Copy)]
struct BlockKeyHasher(u64);

impl std::hash::Hasher for BlockKeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

type BlockKeyMap = HashMap<BlockKey, usize, std::hash::BuildHasherDefault<BlockKeyHasher>>;

struct Slot {
    key: BlockKey,
    block: Arc<Block>,
    charge: usize,
    referenced: bool,
}

#[derive(Default)]
struct Shard {
    slots: Vec<Slot>,
    index: BlockKeyMap,
    hand: usize,
    used_bytes: usize,
}

impl Shard {
    fn evict_one(&mut self) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        loop {
            if self.hand >= self.slots.len() {
                self.hand = 0;
            }
            let Some(slot) = self.slots.get_mut(self.hand) else { return false };
            if slot.referenced {
                slot.referenced = false;
                self.hand += 1;
                continue;
            }
            let removed = self.slots.swap_remove(self.hand);
            self.index.remove(&removed.key);
            self.used_bytes -= removed.charge;
            if let Some(moved) = self.slots.get(self.hand) {
                self.index.insert(moved.key, self.hand);
            }
            return true;
        }
    }
}

/// A sharded, byte-bounded cache of decoded blocks.
pub struct BlockCache {
    shards: Vec<Mutex<Shard>>,
    shard_capacity_bytes: usize,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Cache counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Lookups that found their block.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Bytes charged now.
    pub used_bytes: u64,
    /// Blocks cached now.
    pub blocks: u64,
    /// The budget.
    pub capacity_bytes: u64,
}

fn shard_of(key: BlockKey) -> usize {
    let mixed = (key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    (mixed >> 60) as usize % SHARDS
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` (0 disables it).
    #[must_use]
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_capacity_bytes: capacity_bytes / SHARDS,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cached block, marking it recently used.
    pub fn get(&self, key: BlockKey) -> Option<Arc<Block>> {
        let found = self.shards.get(shard_of(key)).and_then(|shard| {
            let mut shard = shard.lock();
            let at = *shard.index.get(&key)?;
            let slot = shard.slots.get_mut(at)?;
            slot.referenced = true;
            Some(Arc::clone(&slot.block))
        });
        let counter = if found.is_some() { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Caches a block, evicting others to stay within budget.
    pub fn insert(&self, key: BlockKey, block: Arc<Block>) {
        let charge = block.size_bytes() + ENTRY_OVERHEAD_BYTES;
        if charge > self.shard_capacity_bytes {
            return;
        }
        let Some(shard) = self.shards.get(shard_of(key)) else { return };
        let mut shard = shard.lock();
        if shard.index.contains_key(&key) {
            return;
        }
        while shard.used_bytes + charge > self.shard_capacity_bytes && shard.evict_one() {}
        let at = shard.slots.len();
        shard.slots.push(Slot { key, block, charge, referenced: false });
        shard.index.insert(key, at);
        shard.used_bytes += charge;
        debug_assert!(shard.used_bytes <= self.shard_capacity_bytes);
    }

    /// Drops every block of a table (when the table is deleted).
    pub fn forget_table(&self, table_number: u64) {
        for shard in &self.shards {
            let mut shard = shard.lock();
            let mut i = 0;
            while i < shard.slots.len() {
                if shard.slots.get(i).is_some_and(|s| s.key.0 == table_number) {
                    let removed = shard.slots.swap_remove(i);
                    shard.index.remove(&removed.key);
                    shard.used_bytes -= removed.charge;
                    if let Some(moved) = shard.slots.get(i) {
                        let key = moved.key;
                        shard.index.insert(key, i);
                    }
                } else {
                    i += 1;
                }
            }
        }
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        let (mut used, mut blocks) = (0u64, 0u64);
        for shard in &self.shards {
            let shard = shard.lock();
            used += shard.used_bytes as u64;
            blocks += shard.slots.len() as u64;
        }
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            used_bytes: used,
            blocks,
            capacity_bytes: (self.shard_capacity_bytes * SHARDS) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::key::Kind;
    use crate::engine::table::block::BlockBuilder;

    fn block(bytes: usize) -> Arc<Block> {
        let mut b = BlockBuilder::default();
        b.add(b"k", 1, Kind::Put, 0, &vec![0u8; bytes]);
        Arc::new(Block::new(b.finish()).unwrap())
    }

    #[test]
    fn stays_within_budget_and_keeps_hot_blocks() {
        let cache = BlockCache::new(16 * 64 * 1024);
        for i in 0..10_000u64 {
            cache.insert((1, i * 4096), block(4000));
            // Block 0 of table 2 is read all the time.
            if i == 0 {
                cache.insert((2, 0), block(4000));
            }
            assert!(cache.get((2, 0)).is_some() || i == 0, "the hot block was evicted at {i}");
            assert!(cache.stats().used_bytes <= cache.stats().capacity_bytes);
        }
        assert!(cache.stats().blocks > 100);
        cache.forget_table(2);
        assert!(cache.get((2, 0)).is_none());
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = BlockCache::new(0);
        cache.insert((1, 0), block(10));
        assert!(cache.get((1, 0)).is_none());
        assert_eq!(cache.stats().used_bytes, 0);
    }
}

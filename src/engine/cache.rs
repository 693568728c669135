//! The WARM tier of the HeatMap: decoded, checked data blocks within a byte budget, so a
//! read whose block is cached touches no file and can be answered on the JS thread.
//!
//! Sixteen shards (by block), each a W-TinyLFU policy behind its own mutex, so readers on
//! the JS thread and the libuv pool rarely meet, and a scan's one-time blocks pass through
//! the admission window without pushing hot blocks out (heatmap/policy.rs).

use std::sync::Arc;

use parking_lot::Mutex;

use super::heatmap::policy::{entry_bookkeeping_bytes, PolicyStats, WTinyLfu, ALLOCATION_OVERHEAD_BYTES};
use super::memtable::malloc_bytes;
use super::table::block::Block;

const SHARDS: usize = 16;
/// Bookkeeping bytes charged per cached block beyond its data, from the types' sizes: the
/// policy's node and index entry, the `Arc<Block>` allocation (the `Block` with its restart
/// probes, behind two reference counts) and the allocator's overhead on the data. ~370 bytes
/// on 64-bit targets (tests/cache_accounting.rs); a fixed 96 undercounted them by ~5% of a
/// 4 KiB block.
pub const ENTRY_OVERHEAD_BYTES: usize = entry_bookkeeping_bytes::<BlockKey, Arc<Block>>()
    + malloc_bytes(std::mem::size_of::<Block>() + 2 * std::mem::size_of::<usize>())
    + ALLOCATION_OVERHEAD_BYTES;
/// Typical decoded block, for sizing the frequency sketches and the exit ghosts.
pub const BLOCK_BYTES_TYPICAL: usize = 4096;

/// Identifies a block: the table's file number and the block's offset in it.
pub type BlockKey = (u64, u64);

/// Cache counters (the WARM tier).
pub type CacheStats = PolicyStats;

fn shard_hash(key: BlockKey) -> u64 {
    let mixed = (key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ key.1).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    mixed ^ (mixed >> 31)
}

fn shard_of(hash: u64) -> usize {
    (hash >> 60) as usize % SHARDS
}

/// A sharded, byte-bounded cache of decoded blocks.
pub struct BlockCache {
    shards: Vec<Mutex<WTinyLfu<BlockKey, Arc<Block>>>>,
}

impl BlockCache {
    /// A cache holding at most `capacity_bytes` (0 disables it).
    #[must_use]
    pub fn new(capacity_bytes: usize) -> Self {
        let shard_bytes = capacity_bytes / SHARDS;
        Self {
            shards: (0..SHARDS)
                .map(|_| Mutex::new(WTinyLfu::new(shard_bytes, BLOCK_BYTES_TYPICAL, shard_bytes / 100)))
                .collect(),
        }
    }

    /// The cached block, counting the access.
    pub fn get(&self, key: BlockKey) -> Option<Arc<Block>> {
        let hash = shard_hash(key);
        self.shards.get(shard_of(hash)).and_then(|s| s.lock().get(&key, hash))
    }

    /// The cached block without counting an access (compaction reads).
    pub fn peek(&self, key: BlockKey) -> Option<Arc<Block>> {
        let hash = shard_hash(key);
        self.shards.get(shard_of(hash)).and_then(|s| s.lock().peek(&key))
    }

    /// Offers a block; the admission filter may refuse it.
    pub fn insert(&self, key: BlockKey, block: Arc<Block>) {
        let hash = shard_hash(key);
        let charge = block.size_bytes() + ENTRY_OVERHEAD_BYTES;
        if let Some(shard) = self.shards.get(shard_of(hash)) {
            shard.lock().insert(key, hash, block, charge);
        }
    }

    /// Caches a block whose keys were read lately elsewhere (in blocks a compaction merged
    /// away, or in the memtable a flush wrote), first warming its key in the frequency sketch
    /// to `heat`, so admission weighs it as it weighed those reads rather than as a block
    /// never read.
    pub fn insert_with_heat(&self, key: BlockKey, block: Arc<Block>, heat: u8) {
        let hash = shard_hash(key);
        let charge = block.size_bytes() + ENTRY_OVERHEAD_BYTES;
        if let Some(shard) = self.shards.get(shard_of(hash)) {
            let mut shard = shard.lock();
            for _ in shard.heat(hash)..heat {
                shard.touch(hash);
            }
            shard.insert(key, hash, block, charge);
        }
    }

    /// Takes every cached block of a table out of the cache, with its heat (a compaction
    /// replaced the table: its blocks serve only readers of older versions now).
    pub fn take_table(&self, table_number: u64) -> Vec<(Arc<Block>, u8)> {
        let mut out = Vec::new();
        for shard in &self.shards {
            let taken = shard.lock().drain(|k| k.0 == table_number);
            out.extend(taken.into_iter().map(|(_, block, heat)| (block, heat)));
        }
        out
    }

    /// Remembers about the latest `blocks` blocks that leave for want of room (spread over
    /// the shards), so `take_exit_hits` can say how many misses a larger budget would have
    /// served.
    pub fn track_exits(&self, blocks: usize) {
        for shard in &self.shards {
            shard.lock().track_exits(blocks.div_ceil(SHARDS));
        }
    }

    /// Misses on blocks that had lately left for want of room, since the last call.
    pub fn take_exit_hits(&self) -> u64 {
        self.shards.iter().map(|s| s.lock().take_exit_hits()).sum()
    }

    /// Drops every block of a table (when the table is deleted).
    pub fn forget_table(&self, table_number: u64) {
        for shard in &self.shards {
            shard.lock().retain(|k| k.0 != table_number);
        }
    }

    /// Changes the budget; shrinking evicts at once.
    pub fn resize(&self, capacity_bytes: usize) {
        for shard in &self.shards {
            shard.lock().resize(capacity_bytes / SHARDS);
        }
    }

    /// Counters summed over shards.
    #[must_use]
    pub fn stats(&self) -> CacheStats {
        self.shards.iter().map(|s| s.lock().stats()).fold(CacheStats::default(), add_stats)
    }

    /// Bytes of the frequency sketches.
    #[must_use]
    pub fn sketch_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().sketch_bytes()).sum()
    }

    /// The budget.
    #[must_use]
    pub fn capacity_bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().capacity_bytes()).sum()
    }
}

/// Sums two counter sets.
#[must_use]
pub fn add_stats(a: PolicyStats, b: PolicyStats) -> PolicyStats {
    PolicyStats {
        hits: a.hits + b.hits,
        misses: a.misses + b.misses,
        evictions: a.evictions + b.evictions,
        entries: a.entries + b.entries,
        bytes: a.bytes + b.bytes,
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
        cache.get((2, 0));
        cache.insert((2, 0), block(4000));
        for i in 0..10_000u64 {
            if cache.get((1, i * 4096)).is_none() {
                cache.insert((1, i * 4096), block(4000));
            }
            // Block 0 of table 2 is read all the time.
            assert!(cache.get((2, 0)).is_some(), "the hot block was evicted at {i}");
            assert!(cache.stats().bytes <= cache.capacity_bytes() as u64);
        }
        cache.forget_table(2);
        assert!(cache.get((2, 0)).is_none());
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let cache = BlockCache::new(0);
        cache.insert((1, 0), block(10));
        assert!(cache.get((1, 0)).is_none());
        assert_eq!(cache.stats().bytes, 0);
    }
}

//! The memtable: an ordered in-memory table of the newest writes, keyed by stored key.
//! Each key holds its versions newest first; versions no snapshot can see are dropped on
//! overwrite, so a key rewritten a million times keeps one version (its old values' bytes
//! stay in the arena until the memtable is flushed, as in LevelDB).
//!
//! Memory: keys and values live in an append-only arena (`arena.rs`); each key has one
//! fixed-size slot holding its newest version inline. Older versions (kept only for
//! snapshots) live in a side list.
//!
//! Threads: the group-commit leader inserts (write lock), readers on the JS thread and the
//! libuv pool look up (read lock), the flush thread iterates an immutable memtable.

mod arena;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use hashbrown::HashTable;
use parking_lot::RwLock;

use self::arena::{Arena, ArenaKey, Span};
use super::batch::Op;
use super::key::{resolve, Kind, Lookup};
use super::range_del::RangeTombstone;
use super::table::filter::key_hash;

/// Bytes the allocator (glibc malloc) really takes for a request of `n` bytes: the request
/// plus its 8-byte chunk header, rounded up to 16, at least 32.
#[must_use]
pub const fn malloc_bytes(n: usize) -> usize {
    let chunk = (n + 8 + 15) & !15;
    if chunk < 32 {
        32
    } else {
        chunk
    }
}

/// Per key, the ordered map's share of its B-tree nodes: a leaf holds up to 11 keys (an
/// `ArenaKey`, pointer and length, and a `u32` slot number each) in a ~240-byte allocation
/// and is about 70% full under random inserts; internal nodes add an eighth. Measured with
/// tests/memtable_accounting.rs.
const ORDER_BYTES_PER_KEY: usize = 36;

/// Slots are stored in chunks of at most this many, so the slot array grows by a chunk, never
/// by doubling (a doubled array would leave up to half its bytes unused and uncounted).
const SLOTS_PER_CHUNK: usize = 1024;

/// Slots of the first chunk. The first chunks grow from this size to `SLOTS_PER_CHUNK` (32,
/// 32, 64, 128, 256, 512, then 1024 each), so a memtable of a few keys does not take a full
/// chunk: a small per-site database's `writeBufferSize` may be 64 KiB (docs/design.md
/// "Memory").
const SLOTS_FIRST_CHUNK: usize = 32;

/// Chunks before the first full one; together they hold `SLOTS_PER_CHUNK` slots.
const GROWING_CHUNKS: usize = (SLOTS_PER_CHUNK.trailing_zeros() - SLOTS_FIRST_CHUNK.trailing_zeros()) as usize + 1;

/// Bytes of the entries one `collect_range` call copies out at most (it always takes at
/// least one key): an iterator's memtable buffer stays small whatever the value sizes.
const COLLECT_BYTES_MAX: usize = 64 * 1024;

/// The chunk and the position in it of slot `i` (chunk sizes: see `SLOTS_FIRST_CHUNK`).
const fn slot_position(i: usize) -> (usize, usize) {
    if i < SLOTS_FIRST_CHUNK {
        (0, i)
    } else if i < SLOTS_PER_CHUNK {
        // Chunk k >= 1 starts at SLOTS_FIRST_CHUNK << (k - 1), the highest power of two not
        // above i.
        let start = 1 << (usize::BITS - 1 - i.leading_zeros());
        ((start / SLOTS_FIRST_CHUNK).trailing_zeros() as usize + 1, i - start)
    } else {
        // The growing chunks hold SLOTS_PER_CHUNK slots together; full chunks follow them.
        (i / SLOTS_PER_CHUNK + GROWING_CHUNKS - 1, i % SLOTS_PER_CHUNK)
    }
}

/// Slots chunk `k` holds.
const fn chunk_slots(k: usize) -> usize {
    if k == 0 {
        SLOTS_FIRST_CHUNK
    } else if k < GROWING_CHUNKS {
        SLOTS_FIRST_CHUNK << (k - 1)
    } else {
        SLOTS_PER_CHUNK
    }
}

/// What a batch of `count` operations with `data_bytes` of keys and values adds to a
/// memtable's structures at most, each op a new key (or an older version kept for a
/// snapshot), besides the chunks it may open (`Memtable::charge_bound`).
#[must_use]
const fn charge_estimate(count: usize, data_bytes: usize) -> usize {
    let per_op = std::mem::size_of::<Slot>()
        + std::mem::size_of::<Version>()
        + ORDER_BYTES_PER_KEY
        + 2 * (std::mem::size_of::<u32>() + 1)
        + 16;
    data_bytes + count * per_op
}

/// One version of a key; its value is in the arena.
#[derive(Debug, Clone, Copy)]
struct Version {
    seq: u64,
    expiry_ms: u64,
    value: Span,
    kind: Kind,
}

/// One version of a key, as the memtable hands it out.
#[derive(Debug, Clone, Copy)]
pub struct VersionRef<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Put, delete, ...
    pub kind: Kind,
    /// Expiry for `PutWithExpiry`.
    pub expiry_ms: u64,
    /// The value (empty for tombstones).
    pub value: &'a [u8],
}

/// One key: its newest version, and the older ones some snapshot still sees.
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// `key_hash(key)`, kept so growing the hash index rehashes nothing.
    hash: u64,
    key: Span,
    /// 1 + its index in `Contents::older`; 0 when it never had an older version kept.
    older: u32,
    newest: Version,
}

/// Point versions by key, and range tombstones, under one lock so a batch holding both is
/// seen whole or not at all. Each key lives in one slot, reached two ways: `by_hash` for point
/// reads (one probe and one key comparison, instead of a dozen comparisons down a B-tree, each
/// chasing a pointer to its key) and `order` for ordered scans and flush. Keys are never removed
/// from a memtable (only old versions are), so slot numbers stay valid.
#[derive(Default)]
struct Contents {
    /// Keys and values. Declared first, but no field's drop reads it: `order`'s keys point
    /// into it and are plain pointers.
    arena: Arena,
    slots: Slots,
    read_marks: ReadMarks,
    by_hash: HashTable<u32>,
    order: BTreeMap<ArenaKey, u32>,
    /// Older versions of a key, newest first, kept while a snapshot may read them.
    older: Vec<Vec<Version>>,
    /// Allocator bytes of the `older` lists' arrays.
    older_bytes: usize,
    /// Range tombstones in arrival order. Scanned linearly by point reads, and only when not
    /// empty: a memtable rarely holds more than a few (one per `clear`).
    ranges: Vec<RangeTombstone>,
    /// Allocator bytes of the tombstones' start and end keys.
    range_key_bytes: usize,
    /// Key and value bytes of the versions a newer one replaced: still in the arena and in
    /// the WAL, but dead to every read without a snapshot, so a flush drops them.
    superseded_bytes: usize,
}

/// One bit per slot: whether a point read found the key in this memtable. A flush caches the
/// table blocks that take such keys (db.rs `flush_oldest`), so a key read while it was a
/// recent write is still read from memory after it moves to a table. A bit per key (an eighth
/// of a byte; a flag in the slot would grow each slot by 8 bytes of padding), set by readers
/// under the read lock, grown by the writer under the write lock.
#[derive(Default)]
struct ReadMarks {
    words: Vec<AtomicU64>,
}

impl ReadMarks {
    const SLOTS_PER_WORD: usize = u64::BITS as usize;

    /// Makes room for `slots` slots (the writer, under the write lock).
    fn grow_to(&mut self, slots: usize) {
        let words = slots.div_ceil(Self::SLOTS_PER_WORD);
        if words > self.words.len() {
            // A power of two of words, as `growth_bound` counts (a `Vec` left to itself
            // starts at 4).
            self.words.reserve_exact(words.next_power_of_two() - self.words.len());
            self.words.resize_with(words, || AtomicU64::new(0));
        }
    }

    /// Marks slot `i` as read; a slot already marked costs a load, not a write to a shared
    /// cache line.
    fn mark(&self, i: u32) {
        let (word, bit) = Self::position(i);
        if let Some(word) = self.words.get(word) {
            if word.load(Ordering::Relaxed) & bit == 0 {
                word.fetch_or(bit, Ordering::Relaxed);
            }
        }
    }

    fn is_marked(&self, i: u32) -> bool {
        let (word, bit) = Self::position(i);
        self.words.get(word).is_some_and(|w| w.load(Ordering::Relaxed) & bit != 0)
    }

    const fn position(i: u32) -> (usize, u64) {
        (i as usize / Self::SLOTS_PER_WORD, 1 << (i as usize % Self::SLOTS_PER_WORD))
    }

    fn size_bytes(&self) -> usize {
        Self::array_bytes(self.words.capacity())
    }

    /// Bytes `slots` slots in all may take at most (the array doubles as it grows).
    fn growth_bound(&self, slots: usize) -> usize {
        let words = slots.div_ceil(Self::SLOTS_PER_WORD);
        if words > self.words.capacity() {
            Self::array_bytes(words.next_power_of_two())
        } else {
            0
        }
    }

    const fn array_bytes(words: usize) -> usize {
        if words == 0 {
            0
        } else {
            malloc_bytes(words * std::mem::size_of::<AtomicU64>())
        }
    }
}

/// The slots, in chunks that grow to `SLOTS_PER_CHUNK` (`slot_position`).
#[derive(Default)]
struct Slots {
    chunks: Vec<Vec<Slot>>,
    len: usize,
}

impl std::ops::Index<usize> for Slots {
    type Output = Slot;
    fn index(&self, i: usize) -> &Slot {
        let (chunk, at) = slot_position(i);
        &self.chunks[chunk][at]
    }
}

impl std::ops::IndexMut<usize> for Slots {
    fn index_mut(&mut self, i: usize) -> &mut Slot {
        let (chunk, at) = slot_position(i);
        &mut self.chunks[chunk][at]
    }
}

impl Slots {
    const fn len(&self) -> usize {
        self.len
    }

    const fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn push(&mut self, slot: Slot) {
        match self.chunks.last_mut() {
            Some(chunk) if chunk.len() < chunk.capacity() => chunk.push(slot),
            _ => {
                let mut chunk = Vec::with_capacity(chunk_slots(self.chunks.len()));
                chunk.push(slot);
                self.chunks.push(chunk);
            }
        }
        self.len += 1;
    }

    /// Bytes `count` more slots may add at most: the chunks they would open, and the array
    /// of chunks growing.
    fn growth_bound(&self, count: usize) -> usize {
        let free = self.chunks.last().map_or(0, |c| c.capacity() - c.len());
        let mut needed = count.saturating_sub(free);
        let mut bytes = 0;
        let mut k = self.chunks.len();
        while needed > 0 {
            bytes += malloc_bytes(chunk_slots(k) * std::mem::size_of::<Slot>());
            needed = needed.saturating_sub(chunk_slots(k));
            k += 1;
        }
        let array =
            if k > self.chunks.capacity() { k.next_power_of_two() * std::mem::size_of::<Vec<Slot>>() } else { 0 };
        bytes + array
    }

    /// Bytes of the chunk arrays.
    fn size_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<Slot>>()
            + self.chunks.iter().map(|c| malloc_bytes(c.capacity() * std::mem::size_of::<Slot>())).sum::<usize>()
    }
}

/// Allocator bytes of an array of `capacity` versions.
const fn versions_bytes(capacity: usize) -> usize {
    if capacity == 0 {
        0
    } else {
        malloc_bytes(capacity * std::mem::size_of::<Version>())
    }
}

impl Contents {
    /// Every byte the memtable's allocations take: the arena, the slot chunks, the hash index
    /// (a `u32` and a control byte per bucket, buckets = capacity × 8/7), the ordered map's
    /// nodes (estimated per key), older versions, and range tombstones.
    fn size_bytes(&self) -> usize {
        let buckets = self.by_hash.capacity() * 8 / 7;
        self.arena.size_bytes()
            + self.slots.size_bytes()
            + self.read_marks.size_bytes()
            + if buckets > 0 { malloc_bytes(buckets * (std::mem::size_of::<u32>() + 1) + 16) } else { 0 }
            + self.order.len() * ORDER_BYTES_PER_KEY
            + self.older.capacity() * std::mem::size_of::<Vec<Version>>()
            + self.older_bytes
            + self.ranges.capacity() * std::mem::size_of::<RangeTombstone>()
            + self.range_key_bytes
    }

    /// The newest tombstone visible at `seq` covering `key`; 0 if none.
    fn covering_seq(&self, key: &[u8], seq: u64) -> u64 {
        self.ranges.iter().filter(|t| t.seq <= seq && t.covers(key)).map(|t| t.seq).max().unwrap_or(0)
    }

    /// The slot number of `key`, whose hash is `hash`.
    fn find(&self, key: &[u8], hash: u64) -> Option<u32> {
        let (arena, slots) = (&self.arena, &self.slots);
        self.by_hash.find(hash, |&i| arena.get(slots[i as usize].key) == key).copied()
    }

    /// The versions of slot `i`, newest first.
    fn versions(&self, i: u32) -> impl DoubleEndedIterator<Item = &Version> {
        let slot = &self.slots[i as usize];
        let older: &[Version] = if slot.older == 0 { &[] } else { &self.older[slot.older as usize - 1] };
        std::iter::once(&slot.newest).chain(older)
    }

    fn version_ref(&self, v: &Version) -> VersionRef<'_> {
        VersionRef { seq: v.seq, kind: v.kind, expiry_ms: v.expiry_ms, value: self.arena.get(v.value) }
    }

    /// Adds a point version (`op` is not a range tombstone).
    fn insert(&mut self, op: &Op<'_>, seq: u64, oldest_snapshot_seq: u64) {
        let hash = key_hash(op.stored_key);
        match self.find(op.stored_key, hash) {
            Some(i) => {
                let value = self.arena.push(op.value);
                self.add_version(
                    i,
                    Version { seq, expiry_ms: op.expiry_ms, value, kind: op.kind },
                    oldest_snapshot_seq,
                );
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("a memtable holds fewer than 2^32 keys");
                // Key and value side by side: a read compares the key, then copies the value.
                let key = self.arena.push(op.stored_key);
                let value = self.arena.push(op.value);
                self.order.insert(self.arena.key(key), i);
                let newest = Version { seq, expiry_ms: op.expiry_ms, value, kind: op.kind };
                self.slots.push(Slot { hash, key, older: 0, newest });
                self.read_marks.grow_to(self.slots.len());
                let slots = &self.slots;
                self.by_hash.insert_unique(hash, i, |&j| slots[j as usize].hash);
            }
        }
    }

    /// Makes `version` slot `i`'s newest, and keeps of the versions before it only those a
    /// snapshot may read: every one newer than the oldest snapshot, plus the newest one it
    /// sees.
    fn add_version(&mut self, i: u32, version: Version, oldest_snapshot_seq: u64) {
        let slot = &mut self.slots[i as usize];
        assert!(slot.newest.seq < version.seq, "sequence numbers must grow");
        let previous = std::mem::replace(&mut slot.newest, version);
        self.superseded_bytes += slot.key.len() + previous.value.len();
        if version.seq <= oldest_snapshot_seq && slot.older == 0 {
            return; // nothing to keep, nothing kept before
        }
        if slot.older == 0 {
            self.older.push(Vec::new());
            slot.older = u32::try_from(self.older.len()).expect("fewer than 2^32 keys");
        }
        let list = &mut self.older[slot.older as usize - 1];
        let capacity_before = list.capacity();
        if version.seq <= oldest_snapshot_seq {
            *list = Vec::new(); // the oldest snapshot sees the new version: keep none before it
        } else {
            list.insert(0, previous);
            if let Some(visible) = list.iter().position(|v| v.seq <= oldest_snapshot_seq) {
                list.truncate(visible + 1);
            }
        }
        self.older_bytes = self.older_bytes + versions_bytes(list.capacity()) - versions_bytes(capacity_before);
    }
}

/// The table.
#[derive(Default)]
pub struct Memtable {
    map: RwLock<Contents>,
    approximate_bytes: std::sync::atomic::AtomicUsize,
    /// `Contents::superseded_bytes` as of the last batch, readable without the lock (the
    /// commit path checks it after every group).
    superseded_bytes: std::sync::atomic::AtomicUsize,
    entries: std::sync::atomic::AtomicU64,
}

impl Memtable {
    /// An empty memtable.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Inserts the operations of one batch, numbered from `first_seq`, atomically for
    /// readers. Versions older than `oldest_snapshot_seq` that no snapshot needs are dropped.
    pub fn apply(&self, first_seq: u64, ops: &[Op<'_>], oldest_snapshot_seq: u64) {
        let mut contents = self.map.write();
        for (i, op) in ops.iter().enumerate() {
            let seq = first_seq + i as u64;
            if op.kind == Kind::RangeDelete {
                contents.range_key_bytes += malloc_bytes(op.stored_key.len()) + malloc_bytes(op.value.len());
                let tombstone = RangeTombstone { start: op.stored_key.to_vec(), end: op.value.to_vec(), seq };
                contents.ranges.push(tombstone);
            } else {
                contents.insert(op, seq, oldest_snapshot_seq);
            }
        }
        let (bytes, superseded) = (contents.size_bytes(), contents.superseded_bytes);
        drop(contents);
        self.approximate_bytes.store(bytes, std::sync::atomic::Ordering::Relaxed);
        self.superseded_bytes.store(superseded, std::sync::atomic::Ordering::Relaxed);
        self.entries.fetch_add(ops.len() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// Looks up the newest version visible at `seq` and hands the result to `f` while the
    /// read lock is held, so a hit copies the value once, straight into its destination. A
    /// visible range tombstone newer than that version (or covering a key with no version
    /// here) reads as `Deleted`.
    /// `hash` is `key_hash(stored_key)` (the reader computes it once for every layer); `now_ms`
    /// is called only for a value with an expiry time.
    pub fn get<R>(
        &self,
        stored_key: &[u8],
        hash: u64,
        seq: u64,
        now_ms: impl FnOnce() -> u64,
        f: impl FnOnce(Lookup<&[u8]>) -> R,
    ) -> R {
        debug_assert_eq!(hash, key_hash(stored_key));
        let contents = self.map.read();
        let slot = contents.find(stored_key, hash);
        if let Some(i) = slot {
            contents.read_marks.mark(i);
        }
        let found = slot.and_then(|i| contents.versions(i).find(|v| v.seq <= seq));
        let range_seq = if contents.ranges.is_empty() { 0 } else { contents.covering_seq(stored_key, seq) };
        match found {
            Some(v) if v.seq > range_seq => f(resolve(v.kind, v.expiry_ms, contents.arena.get(v.value), now_ms)),
            _ if range_seq > 0 => f(Lookup::Deleted),
            _ => f(Lookup::Absent),
        }
    }

    /// What applying a batch of `count` operations with `data_bytes` of keys and values may
    /// add to `approximate_bytes` at most: `charge_estimate`, plus the arena chunk, slot chunk
    /// and hash-index growth the batch may set off (for `maxMemory` checks before a write).
    #[must_use]
    pub fn charge_bound(&self, count: usize, data_bytes: usize) -> usize {
        let contents = self.map.read();
        let keys = contents.slots.len() + count;
        let slots = contents.slots.growth_bound(count) + contents.read_marks.growth_bound(keys);
        let index = if keys > contents.by_hash.capacity() {
            // hashbrown doubles to the next power of two of buckets at 7/8 load.
            let buckets = (keys * 8 / 7 + 1).next_power_of_two();
            malloc_bytes(buckets * (std::mem::size_of::<u32>() + 1) + 16)
        } else {
            0
        };
        charge_estimate(count, data_bytes) + contents.arena.growth_bound(data_bytes) + slots + index
    }

    /// The range tombstones (copied; empty for nearly every memtable).
    #[must_use]
    pub fn range_tombstones(&self) -> Vec<RangeTombstone> {
        let contents = self.map.read();
        if contents.ranges.is_empty() {
            return Vec::new();
        }
        contents.ranges.clone()
    }

    /// Replaces `out` with copies of every version of up to `keys_max` keys in the range (and
    /// about `COLLECT_BYTES_MAX` of bytes, at least one key), in iteration order: forward is
    /// key ascending with versions newest first; reverse is key descending with versions
    /// oldest first (the reverse of internal-key order). Returns whether the range is
    /// exhausted (no key in it was left out).
    pub fn collect_range(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        keys_max: usize,
        out: &mut MemEntries,
    ) -> bool {
        out.clear();
        if range_is_empty(lower, upper) {
            return true; // BTreeMap::range panics on such ranges
        }
        let contents = self.map.read();
        let range = contents.order.range::<[u8], _>((lower, upper));
        let mut take = |key: &ArenaKey, &i: &u32| {
            let key = out.push_key(key.bytes());
            let versions = contents.versions(i).map(|v| contents.version_ref(v));
            if reverse {
                versions.rev().for_each(|v| out.push_version(key, v));
            } else {
                versions.for_each(|v| out.push_version(key, v));
            }
            out.keys < keys_max && out.bytes.len() < COLLECT_BYTES_MAX
        };
        if reverse {
            range.rev().all(|(key, i)| take(key, i))
        } else {
            range.into_iter().all(|(key, i)| take(key, i))
        }
    }

    /// Key and value bytes of every version whose stored key lies in `[start, end)`: what a
    /// clear of that range leaves dead here. Walks the range (a memtable is bounded).
    #[must_use]
    pub fn bytes_in_range(&self, start: &[u8], end: &[u8]) -> u64 {
        if start >= end {
            return 0;
        }
        let contents = self.map.read();
        let range = contents.order.range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
        range
            .flat_map(|(key, &i)| contents.versions(i).map(move |v| key.bytes().len() + v.value.len()))
            .map(|b| b as u64)
            .sum()
    }

    /// Key and value bytes of the versions newer ones replaced (dead to reads without a
    /// snapshot; a flush drops them, until then the WAL holds them).
    #[must_use]
    pub fn superseded_bytes(&self) -> u64 {
        self.superseded_bytes.load(std::sync::atomic::Ordering::Relaxed) as u64
    }

    /// Memory used, in bytes: every allocation the memtable owns (arena, slot chunks, hash
    /// index, ordered-map nodes, older versions, range tombstones), counted at the size the
    /// allocator really takes (`malloc_bytes`); the ordered map's nodes are estimated per key.
    #[must_use]
    pub fn approximate_bytes(&self) -> usize {
        self.approximate_bytes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Whether nothing was ever inserted (no version and no range tombstone).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        let contents = self.map.read();
        contents.slots.is_empty() && contents.ranges.is_empty()
    }

    /// Calls `f(stored_key)` for every key.
    pub fn for_each_key(&self, mut f: impl FnMut(&[u8])) {
        for key in self.map.read().order.keys() {
            f(key.bytes());
        }
    }

    /// Calls `f(stored_key, version, read)` for every version in internal-key order (key
    /// ascending, newest first); `read` says whether a point read found the key here. Used by
    /// flush on an immutable memtable.
    pub fn for_each(
        &self,
        mut f: impl FnMut(&[u8], VersionRef<'_>, bool) -> super::error::Result<()>,
    ) -> super::error::Result<()> {
        let contents = self.map.read();
        for (key, &i) in &contents.order {
            let read = contents.read_marks.is_marked(i);
            for v in contents.versions(i) {
                f(key.bytes(), contents.version_ref(v), read)?;
            }
        }
        Ok(())
    }
}

/// Versions copied out of a memtable for an iterator: keys and values packed in one buffer,
/// reused from one `collect_range` to the next (no allocation per entry, no lock held between
/// calls).
#[derive(Debug, Default)]
pub struct MemEntries {
    bytes: Vec<u8>,
    entries: Vec<MemEntry>,
    keys: usize,
}

/// One version in `MemEntries`: offsets of its key and value in the buffer.
#[derive(Debug, Clone, Copy)]
struct MemEntry {
    key_start: u32,
    key_end: u32,
    value_end: u32,
    seq: u64,
    kind: Kind,
    expiry_ms: u64,
}

impl MemEntries {
    fn clear(&mut self) {
        self.bytes.clear();
        self.entries.clear();
        self.keys = 0;
    }

    /// Copies a key in; returns its offsets.
    fn push_key(&mut self, key: &[u8]) -> (u32, u32) {
        let start = self.offset();
        self.bytes.extend_from_slice(key);
        self.keys += 1;
        (start, self.offset())
    }

    fn push_version(&mut self, (key_start, key_end): (u32, u32), v: VersionRef<'_>) {
        self.bytes.extend_from_slice(v.value);
        let value_end = self.offset();
        self.entries.push(MemEntry { key_start, key_end, value_end, seq: v.seq, kind: v.kind, expiry_ms: v.expiry_ms });
    }

    fn offset(&self) -> u32 {
        u32::try_from(self.bytes.len()).expect("a collected chunk is smaller than 4 GiB")
    }

    /// Number of versions.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no version was collected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Version `i`: its stored key and the version.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<(&[u8], VersionRef<'_>)> {
        let e = self.entries.get(i)?;
        let key = &self.bytes[e.key_start as usize..e.key_end as usize];
        // A key's versions follow it; each value ends where the next version's begins.
        let value_start = if i > 0 && self.entries[i - 1].key_start == e.key_start {
            self.entries[i - 1].value_end
        } else {
            e.key_end
        };
        let value = &self.bytes[value_start as usize..e.value_end as usize];
        Some((key, VersionRef { seq: e.seq, kind: e.kind, expiry_ms: e.expiry_ms, value }))
    }
}

/// Whether no key can lie between the bounds (start after end, or equal and not both
/// included).
#[must_use]
pub fn range_is_empty(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l) | Bound::Excluded(l), Bound::Excluded(u)) | (Bound::Excluded(l), Bound::Included(u)) => {
            l >= u
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_chunks_grow_to_their_full_size_and_every_slot_has_one_place() {
        let mut expected = Vec::new();
        for k in 0..8 {
            for at in 0..chunk_slots(k) {
                expected.push((k, at));
            }
        }
        let got: Vec<_> = (0..expected.len()).map(slot_position).collect();
        assert_eq!(got, expected);
        assert_eq!((0..GROWING_CHUNKS).map(chunk_slots).sum::<usize>(), SLOTS_PER_CHUNK);
        assert_eq!(chunk_slots(7), SLOTS_PER_CHUNK);
    }

    #[test]
    fn a_small_memtable_takes_a_small_slot_chunk() {
        let m = Memtable::new();
        m.apply(1, &[op(Kind::Put, b"\x01history:000000001", &[b'v'; 150])], u64::MAX);
        // Key and value (in a 1 KiB arena chunk), ordered-map share, hash index and a 32-slot
        // chunk (1.8 KiB); a 1024-slot chunk alone was 48 KiB.
        assert!(m.approximate_bytes() < 4 * 1024, "one key charged {} B", m.approximate_bytes());
        // Keys across chunk boundaries all read back.
        let keys: Vec<Vec<u8>> = (0..5000u32).map(|i| format!("k{i:05}").into_bytes()).collect();
        for (i, k) in keys.iter().enumerate() {
            m.apply(2 + i as u64, &[op(Kind::Put, k, k)], u64::MAX);
        }
        for k in &keys {
            assert_eq!(read(&m, k, u64::MAX, 0), Lookup::Value(k.clone()));
        }
        let mut n = 0;
        m.for_each(|_, _, _| {
            n += 1;
            Ok(())
        })
        .unwrap_or_default();
        assert_eq!(n, 5001);
    }

    /// The newest version of `key` visible at `seq`, expiry judged at `now_ms`, copied out.
    fn read(m: &Memtable, key: &[u8], seq: u64, now_ms: u64) -> Lookup<Vec<u8>> {
        m.get(key, key_hash(key), seq, || now_ms, |l| l.map_value())
    }

    fn op<'a>(kind: Kind, key: &'a [u8], value: &'a [u8]) -> Op<'a> {
        Op { kind, stored_key: key, expiry_ms: 0, value }
    }

    #[test]
    fn for_each_says_which_keys_a_point_read_found() {
        let m = Memtable::new();
        // 200 keys: the marks span several words.
        let keys: Vec<Vec<u8>> = (0..200u32).map(|i| format!("k{i:03}").into_bytes()).collect();
        for (i, k) in keys.iter().enumerate() {
            m.apply(1 + i as u64, &[op(Kind::Put, k, b"v")], u64::MAX);
        }
        m.apply(1000, &[op(Kind::Put, b"k007", b"w")], 500); // a snapshot at 500 keeps k007 twice
        for i in [7, 63, 64, 199] {
            read(&m, &keys[i], u64::MAX, 0);
        }
        read(&m, b"missing", u64::MAX, 0);
        let mut read_keys = Vec::new();
        m.for_each(|k, _, read| {
            if read {
                read_keys.push(String::from_utf8_lossy(k).into_owned());
            }
            Ok(())
        })
        .unwrap_or_default();
        // Both versions of k007 come with the mark.
        assert_eq!(read_keys, ["k007", "k007", "k063", "k064", "k199"]);
    }

    #[test]
    fn read_marks_never_grow_past_their_growth_bound() {
        let mut marks = ReadMarks::default();
        for slots in 1..5000 {
            let (bound, before) = (marks.growth_bound(slots), marks.size_bytes());
            marks.grow_to(slots);
            let grew = marks.size_bytes() - before;
            assert!(grew <= bound, "{slots} slots: grew {grew} B, bound {bound} B");
        }
    }

    #[test]
    fn newest_version_wins_and_tombstones_hide() {
        let m = Memtable::new();
        m.apply(1, &[op(Kind::Put, b"k", b"1")], u64::MAX);
        m.apply(2, &[op(Kind::Put, b"k", b"2")], u64::MAX);
        assert_eq!(read(&m, b"k", u64::MAX, 0), Lookup::Value(b"2".to_vec()));
        m.apply(3, &[op(Kind::Delete, b"k", b"")], u64::MAX);
        assert_eq!(read(&m, b"k", u64::MAX, 0), Lookup::Deleted);
        assert_eq!(read(&m, b"x", u64::MAX, 0), Lookup::Absent);
    }

    #[test]
    fn snapshots_keep_the_versions_they_see() {
        let m = Memtable::new();
        m.apply(1, &[op(Kind::Put, b"k", b"1")], u64::MAX);
        m.apply(2, &[op(Kind::Put, b"k", b"2")], 1);
        m.apply(3, &[op(Kind::Put, b"k", b"3")], 1);
        assert_eq!(read(&m, b"k", 1, 0), Lookup::Value(b"1".to_vec()));
        assert_eq!(read(&m, b"k", 2, 0), Lookup::Value(b"2".to_vec()));
        m.apply(4, &[op(Kind::Put, b"k", b"4")], u64::MAX);
        assert_eq!(read(&m, b"k", 1, 0), Lookup::Absent);
    }

    #[test]
    fn range_tombstones_hide_older_versions_only() {
        let m = Memtable::new();
        m.apply(1, &[op(Kind::Put, b"b", b"1"), op(Kind::Put, b"d", b"1")], u64::MAX);
        m.apply(3, &[op(Kind::RangeDelete, b"a", b"c")], u64::MAX);
        m.apply(4, &[op(Kind::Put, b"a", b"2")], u64::MAX);
        assert!(!m.is_empty());
        assert_eq!(read(&m, b"b", u64::MAX, 0), Lookup::Deleted);
        assert_eq!(read(&m, b"b", 2, 0), Lookup::Value(b"1".to_vec()), "a snapshot below it");
        assert_eq!(read(&m, b"bz", u64::MAX, 0), Lookup::Deleted, "no version here, covered");
        assert_eq!(read(&m, b"a", u64::MAX, 0), Lookup::Value(b"2".to_vec()), "written after");
        assert_eq!(read(&m, b"c", u64::MAX, 0), Lookup::Absent, "the end is exclusive");
        assert_eq!(read(&m, b"d", u64::MAX, 0), Lookup::Value(b"1".to_vec()));
        assert_eq!(m.range_tombstones().len(), 1);
        let only_range = Memtable::new();
        only_range.apply(1, &[op(Kind::RangeDelete, b"a", b"c")], u64::MAX);
        assert!(!only_range.is_empty());
    }

    #[test]
    fn expired_values_read_as_deleted() {
        let m = Memtable::new();
        m.apply(1, &[Op { kind: Kind::PutWithExpiry, stored_key: b"k", expiry_ms: 100, value: b"v" }], u64::MAX);
        assert_eq!(read(&m, b"k", u64::MAX, 99), Lookup::Value(b"v".to_vec()));
        assert_eq!(read(&m, b"k", u64::MAX, 100), Lookup::Deleted);
    }

    #[test]
    fn point_reads_and_ordered_scans_agree_over_many_keys() {
        // Enough keys to grow the hash index many times; keys that share long prefixes and
        // differ in one byte, and one key that is a prefix of another.
        let m = Memtable::new();
        let keys: Vec<Vec<u8>> = (0..5000u32).rev().map(|i| format!("history:{i:09}").into_bytes()).collect();
        for (seq, key) in (1..).zip(&keys) {
            m.apply(seq, &[op(Kind::Put, key, key)], u64::MAX);
        }
        m.apply(9000, &[op(Kind::Put, b"history:", b"prefix")], u64::MAX);
        for key in &keys {
            assert_eq!(read(&m, key, u64::MAX, 0), Lookup::Value(key.clone()));
        }
        let missing = b"history:000005000";
        assert_eq!(read(&m, missing, u64::MAX, 0), Lookup::Absent);
        let mut scanned = Vec::new();
        m.for_each(|k, _, _| {
            scanned.push(k.to_vec());
            Ok(())
        })
        .unwrap();
        let mut expected = keys.clone();
        expected.push(b"history:".to_vec());
        expected.sort();
        assert_eq!(scanned, expected);
    }

    /// Every (key, seq, value) `collect_range` yields over the whole table, chunk by chunk.
    fn collect_all(m: &Memtable, reverse: bool, keys_max: usize) -> Vec<(Vec<u8>, u64, Vec<u8>)> {
        let mut out = Vec::new();
        let mut buf = MemEntries::default();
        let mut resume: Option<Vec<u8>> = None;
        loop {
            let near = resume.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
            let (lower, upper) = if reverse { (Bound::Unbounded, near) } else { (near, Bound::Unbounded) };
            let exhausted = m.collect_range(lower, upper, reverse, keys_max, &mut buf);
            for i in 0..buf.len() {
                let (key, v) = buf.get(i).unwrap();
                out.push((key.to_vec(), v.seq, v.value.to_vec()));
            }
            if exhausted || buf.is_empty() {
                return out;
            }
            resume = buf.get(buf.len() - 1).map(|(k, _)| k.to_vec());
        }
    }

    #[test]
    fn collected_chunks_keep_each_version_with_its_key_and_stay_within_their_byte_budget() {
        let m = Memtable::new();
        // Snapshot at 0: every version is kept. Keys with 1-3 versions, some values large.
        let mut seq = 0;
        let mut model: BTreeMap<Vec<u8>, Vec<(u64, Vec<u8>)>> = BTreeMap::new();
        for round in 0..3u8 {
            for k in 0..200u32 {
                if k % 3 < u32::from(round) {
                    continue;
                }
                seq += 1;
                let key = format!("key{k:04}").into_bytes();
                let len = if k % 50 == 7 { 40_000 } else { (k as usize * 7 + usize::from(round)) % 100 };
                let value = vec![b'a' + round; len];
                m.apply(seq, &[op(Kind::Put, &key, &value)], 0);
                model.entry(key).or_default().insert(0, (seq, value));
            }
        }
        let forward: Vec<_> =
            model.iter().flat_map(|(k, vs)| vs.iter().map(move |(s, v)| (k.clone(), *s, v.clone()))).collect();
        let mut reverse = forward.clone();
        reverse.reverse();
        for keys_max in [1, 7, 64, 1000] {
            assert_eq!(collect_all(&m, false, keys_max), forward, "forward, {keys_max} keys a chunk");
            assert_eq!(collect_all(&m, true, keys_max), reverse, "reverse, {keys_max} keys a chunk");
        }
        // Large values end a chunk early: at most one key past the byte budget.
        let mut buf = MemEntries::default();
        m.collect_range(Bound::Unbounded, Bound::Unbounded, false, 1000, &mut buf);
        assert!(buf.bytes.len() < COLLECT_BYTES_MAX + 3 * 40_100, "{} B collected", buf.bytes.len());
        assert!(buf.keys < 200);
    }

    #[test]
    fn overwrites_without_snapshots_keep_one_version_and_free_the_older_lists() {
        let m = Memtable::new();
        m.apply(1, &[op(Kind::Put, b"k", b"1")], 0);
        m.apply(2, &[op(Kind::Put, b"k", b"2")], 1); // a snapshot at 1 keeps "1"
        assert_eq!(read(&m, b"k", 1, 0), Lookup::Value(b"1".to_vec()));
        let with_older = m.approximate_bytes();
        m.apply(3, &[op(Kind::Put, b"k", b"3")], u64::MAX); // no snapshot: "1" and "2" go
        assert_eq!(read(&m, b"k", 2, 0), Lookup::Absent);
        assert_eq!(read(&m, b"k", u64::MAX, 0), Lookup::Value(b"3".to_vec()));
        assert!(m.approximate_bytes() < with_older, "the older list's array is freed");
        assert_eq!(collect_all(&m, false, 64), vec![(b"k".to_vec(), 3, b"3".to_vec())]);
    }

    #[test]
    fn a_batch_never_adds_more_than_its_charge_bound() {
        let m = Memtable::new();
        let mut seq = 0;
        for batch in 0..400u32 {
            let size = 1 + (batch as usize * 37) % 300;
            let keys: Vec<Vec<u8>> = (0..size).map(|i| format!("k{batch:04}:{i:04}").into_bytes()).collect();
            let value = vec![b'v'; (batch as usize * 13) % 700];
            let ops: Vec<Op<'_>> = keys.iter().map(|k| op(Kind::Put, k, &value)).collect();
            let data: usize = ops.iter().map(|o| o.stored_key.len() + o.value.len()).sum();
            let bound = m.charge_bound(ops.len(), data);
            let before = m.approximate_bytes();
            m.apply(seq + 1, &ops, 0);
            seq += ops.len() as u64;
            let grew = m.approximate_bytes() - before;
            assert!(grew <= bound, "batch {batch} of {size}: grew {grew} B, bound {bound} B");
        }
    }
}

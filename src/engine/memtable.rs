//! The memtable: an ordered in-memory table of the newest writes, keyed by stored key.
//! Each key holds its versions newest first; versions no snapshot can see are dropped on
//! overwrite, so a key rewritten a million times costs one version.
//!
//! Threads: the group-commit leader inserts (write lock), readers on the JS thread and the
//! libuv pool look up (read lock), the flush thread iterates an immutable memtable.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use hashbrown::HashTable;
use parking_lot::RwLock;

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

/// Bytes of an `Arc<[u8]>` of `len` bytes: its two counters and the bytes, in one allocation.
const fn arc_bytes(len: usize) -> usize {
    malloc_bytes(16 + len)
}

/// Per key, the ordered map's share of its B-tree nodes: a leaf holds up to 11 keys (an
/// `Arc<[u8]>` pointer and a `u32` slot number each) in a ~240-byte allocation and is about
/// 70% full under random inserts; internal nodes add an eighth. Measured with
/// examples/memory_breakdown.rs (`memtable`).
const ORDER_BYTES_PER_KEY: usize = 36;

/// Slots are stored in chunks of at most this many, so the slot array grows by a chunk, never
/// by doubling (a doubled array would leave up to half its bytes unused and uncounted).
const SLOTS_PER_CHUNK: usize = 1024;

/// Slots of the first chunk. The first chunks grow from this size to `SLOTS_PER_CHUNK` (64,
/// 64, 128, 256, 512, then 1024 each), so a memtable of a few keys does not take a 48 KiB
/// chunk: that was three quarters of a 64 KiB `writeBufferSize` (a small per-site database's),
/// so such a memtable was frozen after about 40 keys (docs/design.md "Memory").
const SLOTS_FIRST_CHUNK: usize = 64;

/// The chunk and the position in it of slot `i` (chunk sizes: see `SLOTS_FIRST_CHUNK`).
const fn slot_position(i: usize) -> (usize, usize) {
    if i < SLOTS_FIRST_CHUNK {
        (0, i)
    } else if i < SLOTS_PER_CHUNK {
        // Chunk k >= 1 starts at 64 << (k - 1), the highest power of two not above i.
        let start = 1 << (usize::BITS - 1 - i.leading_zeros());
        ((start / SLOTS_FIRST_CHUNK).trailing_zeros() as usize + 1, i - start)
    } else {
        // Chunks 0..=4 hold 1024 slots together; chunk 5 starts at 1024.
        (i / SLOTS_PER_CHUNK + 4, i % SLOTS_PER_CHUNK)
    }
}

/// Slots chunk `k` holds.
const fn chunk_slots(k: usize) -> usize {
    if k == 0 {
        SLOTS_FIRST_CHUNK
    } else if k < 5 {
        SLOTS_FIRST_CHUNK << (k - 1)
    } else {
        SLOTS_PER_CHUNK
    }
}

/// What a batch of `count` operations with `data_bytes` of keys and values may add to a
/// memtable at most (for `maxMemory` checks before a write): each op a new key.
#[must_use]
pub const fn charge_estimate(count: usize, data_bytes: usize) -> usize {
    let per_op = 2 * (16 + 8 + 15)
        + std::mem::size_of::<Version>()
        + std::mem::size_of::<Slot>()
        + ORDER_BYTES_PER_KEY
        + 2 * std::mem::size_of::<u32>()
        + 8;
    data_bytes + count * per_op
}

/// One version of a key.
#[derive(Debug, Clone)]
pub struct Version {
    /// Sequence number.
    pub seq: u64,
    /// Put, delete, ...
    pub kind: Kind,
    /// Expiry for `PutWithExpiry`.
    pub expiry_ms: u64,
    /// The value (empty for tombstones); shared, so iterators copy no bytes.
    pub value: Arc<[u8]>,
}

/// One version of one key, as an iterator takes it out of the memtable.
#[derive(Debug, Clone)]
pub struct MemEntry {
    /// The stored key (shared with the memtable).
    pub key: Arc<[u8]>,
    /// The version.
    pub version: Version,
}

/// One key and its versions, newest first.
struct Slot {
    /// `key_hash(key)`, kept so growing the hash index rehashes nothing.
    hash: u64,
    key: Arc<[u8]>,
    versions: Vec<Version>,
}

/// Point versions by key, and range tombstones, under one lock so a batch holding both is
/// seen whole or not at all. Each key lives in one slot, reached two ways: `by_hash` for point
/// reads (one probe and one key comparison, instead of a dozen comparisons down a B-tree, each
/// chasing a pointer to its key) and `order` for ordered scans and flush. Keys are never removed
/// from a memtable (only old versions are), so slot numbers stay valid.
#[derive(Default)]
struct Contents {
    slots: Slots,
    by_hash: HashTable<u32>,
    order: BTreeMap<Arc<[u8]>, u32>,
    /// Range tombstones in arrival order. Scanned linearly by point reads, and only when not
    /// empty: a memtable rarely holds more than a few (one per `clear`).
    ranges: Vec<RangeTombstone>,
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

    /// Bytes of the chunk arrays (the keys and versions they point to not included).
    fn size_bytes(&self) -> usize {
        self.chunks.capacity() * std::mem::size_of::<Vec<Slot>>()
            + self.chunks.iter().map(|c| malloc_bytes(c.capacity() * std::mem::size_of::<Slot>())).sum::<usize>()
    }
}

impl Contents {
    /// Bytes of the structures whose size follows their capacity: the slot chunks, the hash
    /// index (a `u32` and a control byte per bucket, buckets = capacity × 8/7), the ordered
    /// map's nodes, and the range tombstones.
    fn structure_bytes(&self) -> usize {
        let buckets = self.by_hash.capacity() * 8 / 7;
        self.slots.size_bytes()
            + if buckets > 0 { malloc_bytes(buckets * (std::mem::size_of::<u32>() + 1) + 16) } else { 0 }
            + self.order.len() * ORDER_BYTES_PER_KEY
            + self.ranges.capacity() * std::mem::size_of::<RangeTombstone>()
    }

    /// The newest tombstone visible at `seq` covering `key`; 0 if none.
    fn covering_seq(&self, key: &[u8], seq: u64) -> u64 {
        self.ranges.iter().filter(|t| t.seq <= seq && t.covers(key)).map(|t| t.seq).max().unwrap_or(0)
    }

    /// The slot of `key`, whose hash is `hash`.
    fn find(&self, key: &[u8], hash: u64) -> Option<&Slot> {
        let slots = &self.slots;
        self.by_hash.find(hash, |&i| *slots[i as usize].key == *key).map(|&i| &slots[i as usize])
    }

    /// The versions of `key`, a new empty slot if the key is new here.
    fn versions_mut(&mut self, key: &[u8], hash: u64) -> (&mut Vec<Version>, bool) {
        let slots = &self.slots;
        if let Some(&i) = self.by_hash.find(hash, |&i| *slots[i as usize].key == *key) {
            return (&mut self.slots[i as usize].versions, false);
        }
        let i = u32::try_from(self.slots.len()).expect("a memtable holds fewer than 2^32 keys");
        let key: Arc<[u8]> = key.into();
        self.order.insert(Arc::clone(&key), i);
        // Most keys keep one version: room for exactly one (`Vec::push` would make room for 4).
        self.slots.push(Slot { hash, key, versions: Vec::with_capacity(1) });
        let slots = &self.slots;
        self.by_hash.insert_unique(hash, i, |&j| slots[j as usize].hash);
        (&mut self.slots[i as usize].versions, true)
    }

    /// The keys and their versions in key order.
    fn in_order(&self) -> impl Iterator<Item = &Slot> {
        self.order.values().map(|&i| &self.slots[i as usize])
    }
}

/// The table.
#[derive(Default)]
pub struct Memtable {
    map: RwLock<Contents>,
    approximate_bytes: std::sync::atomic::AtomicUsize,
    entries: std::sync::atomic::AtomicU64,
}

/// Bytes of the allocations one key owns besides its slot: the key, and the versions array
/// of `capacity`.
const fn key_bytes(key_len: usize, capacity: usize) -> usize {
    arc_bytes(key_len) + if capacity > 0 { malloc_bytes(capacity * std::mem::size_of::<Version>()) } else { 0 }
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
        // Allocation bytes owned by keys, values and range tombstones, as they change; the
        // structures that grow by capacity are measured after the batch.
        let mut added = 0usize;
        let mut freed = 0usize;
        let structure_before = contents.structure_bytes();
        for (i, op) in ops.iter().enumerate() {
            let seq = first_seq + i as u64;
            if op.kind == Kind::RangeDelete {
                added += malloc_bytes(op.stored_key.len()) + malloc_bytes(op.value.len());
                let tombstone = RangeTombstone { start: op.stored_key.to_vec(), end: op.value.to_vec(), seq };
                contents.ranges.push(tombstone);
                continue;
            }
            let version = Version { seq, kind: op.kind, expiry_ms: op.expiry_ms, value: op.value.into() };
            added += arc_bytes(op.value.len());
            let (versions, new_key) = contents.versions_mut(op.stored_key, key_hash(op.stored_key));
            let capacity_before = versions.capacity();
            if new_key {
                versions.push(version);
            } else {
                assert!(versions.first().is_none_or(|v| v.seq < version.seq), "sequence numbers must grow");
                versions.insert(0, version);
                freed += prune(versions, oldest_snapshot_seq);
            }
            let capacity_after = versions.capacity();
            if new_key {
                added += key_bytes(op.stored_key.len(), capacity_after);
            } else if capacity_after != capacity_before {
                let unchanged = key_bytes(op.stored_key.len(), 0);
                added += key_bytes(op.stored_key.len(), capacity_after) - unchanged;
                freed += key_bytes(op.stored_key.len(), capacity_before) - unchanged;
            }
        }
        let structure_after = contents.structure_bytes();
        drop(contents);
        added += structure_after.saturating_sub(structure_before);
        freed += structure_before.saturating_sub(structure_after);
        // Accounting only ever moves by whole allocations, so `freed` never exceeds what was
        // added.
        let bytes = &self.approximate_bytes;
        let _ = bytes.fetch_update(std::sync::atomic::Ordering::Relaxed, std::sync::atomic::Ordering::Relaxed, |b| {
            Some((b + added).saturating_sub(freed))
        });
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
        let found = contents.find(stored_key, hash).and_then(|slot| slot.versions.iter().find(|v| v.seq <= seq));
        let range_seq = if contents.ranges.is_empty() { 0 } else { contents.covering_seq(stored_key, seq) };
        match found {
            Some(v) if v.seq > range_seq => f(resolve(v.kind, v.expiry_ms, &v.value[..], now_ms)),
            _ if range_seq > 0 => f(Lookup::Deleted),
            _ => f(Lookup::Absent),
        }
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

    /// Appends to `out` every version of up to `keys_max` keys in the range, in iteration
    /// order: forward is key ascending with versions newest first; reverse is key descending
    /// with versions oldest first (the reverse of internal-key order). Returns the number of
    /// keys taken; fewer than `keys_max` means the range is exhausted.
    pub fn collect_range(
        &self,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        keys_max: usize,
        out: &mut Vec<MemEntry>,
    ) -> usize {
        if range_is_empty(lower, upper) {
            return 0; // BTreeMap::range panics on such ranges
        }
        let contents = self.map.read();
        let range = contents.order.range::<[u8], _>((lower, upper));
        let mut taken = 0;
        let mut take = |key: &Arc<[u8]>, &i: &u32| {
            let entries = contents.slots[i as usize]
                .versions
                .iter()
                .map(|v| MemEntry { key: Arc::clone(key), version: v.clone() });
            if reverse {
                out.extend(entries.rev());
            } else {
                out.extend(entries);
            }
        };
        if reverse {
            for (key, versions) in range.rev().take(keys_max) {
                take(key, versions);
                taken += 1;
            }
        } else {
            for (key, versions) in range.take(keys_max) {
                take(key, versions);
                taken += 1;
            }
        }
        taken
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
            .flat_map(|(key, &i)| contents.slots[i as usize].versions.iter().map(move |v| key.len() + v.value.len()))
            .map(|b| b as u64)
            .sum()
    }

    /// Memory used, in bytes: every allocation the memtable owns (keys, values, version
    /// arrays, slot chunks, hash index, ordered-map nodes), counted at the size the allocator
    /// really takes (`malloc_bytes`); the ordered map's nodes are estimated per key.
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
            f(key);
        }
    }

    /// Calls `f(stored_key, version)` for every version in internal-key order (key
    /// ascending, newest first). Used by flush on an immutable memtable.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &Version) -> super::error::Result<()>) -> super::error::Result<()> {
        let contents = self.map.read();
        for slot in contents.in_order() {
            for v in &slot.versions {
                f(&slot.key, v)?;
            }
        }
        Ok(())
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

/// Keeps every version newer than the oldest snapshot plus the newest one it can see;
/// returns the accounted bytes of the values dropped. A value still shared with an
/// iterator is freed when the iterator lets go; it is not counted here after that.
fn prune(versions: &mut Vec<Version>, oldest_snapshot_seq: u64) -> usize {
    let Some(visible) = versions.iter().position(|v| v.seq <= oldest_snapshot_seq) else { return 0 };
    versions.drain(visible + 1..).map(|v| arc_bytes(v.value.len())).sum()
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
        assert_eq!((0..5).map(chunk_slots).sum::<usize>(), SLOTS_PER_CHUNK);
        assert_eq!(chunk_slots(7), SLOTS_PER_CHUNK);
    }

    #[test]
    fn a_small_memtable_takes_a_small_slot_chunk() {
        let m = Memtable::new();
        m.apply(1, &[op(Kind::Put, b"\x01history:000000001", &[b'v'; 150])], u64::MAX);
        // Key, value, versions, ordered-map share, hash index and a 64-slot chunk (3 KiB);
        // a 1024-slot chunk alone was 48 KiB.
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
        m.for_each(|_, _| {
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
        m.for_each(|k, _| {
            scanned.push(k.to_vec());
            Ok(())
        })
        .unwrap();
        let mut expected = keys.clone();
        expected.push(b"history:".to_vec());
        expected.sort();
        assert_eq!(scanned, expected);
    }
}

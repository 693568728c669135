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

/// Per-entry bookkeeping estimate, in bytes, added to key and value sizes for accounting.
const ENTRY_OVERHEAD_BYTES: usize = 64;

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
    slots: Vec<Slot>,
    by_hash: HashTable<u32>,
    order: BTreeMap<Arc<[u8]>, u32>,
    /// Range tombstones in arrival order. Scanned linearly by point reads, and only when not
    /// empty: a memtable rarely holds more than a few (one per `clear`).
    ranges: Vec<RangeTombstone>,
}

impl Contents {
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
        self.slots.push(Slot { hash, key, versions: Vec::new() });
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
        let mut added = 0usize;
        let mut freed = 0usize;
        for (i, op) in ops.iter().enumerate() {
            let seq = first_seq + i as u64;
            if op.kind == Kind::RangeDelete {
                added += op.stored_key.len() + op.value.len() + ENTRY_OVERHEAD_BYTES;
                let tombstone = RangeTombstone { start: op.stored_key.to_vec(), end: op.value.to_vec(), seq };
                contents.ranges.push(tombstone);
                continue;
            }
            let version = Version { seq, kind: op.kind, expiry_ms: op.expiry_ms, value: op.value.into() };
            added += op.value.len() + ENTRY_OVERHEAD_BYTES;
            let (versions, new_key) = contents.versions_mut(op.stored_key, key_hash(op.stored_key));
            if new_key {
                added += op.stored_key.len();
                versions.push(version);
            } else {
                assert!(versions.first().is_none_or(|v| v.seq < version.seq), "sequence numbers must grow");
                versions.insert(0, version);
                freed += prune(versions, oldest_snapshot_seq);
            }
        }
        drop(contents);
        // Accounting only ever moves by whole entries, so `freed` never exceeds what was added.
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

    /// Approximate memory used, in bytes (keys, values, per-entry overhead).
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
/// returns the accounted bytes of the versions dropped.
fn prune(versions: &mut Vec<Version>, oldest_snapshot_seq: u64) -> usize {
    let Some(visible) = versions.iter().position(|v| v.seq <= oldest_snapshot_seq) else { return 0 };
    versions.drain(visible + 1..).map(|v| v.value.len() + ENTRY_OVERHEAD_BYTES).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

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

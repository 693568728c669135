//! Data and index blocks (docs/format.md "Blocks").
//!
//! An uncompressed block is a run of entries followed by a restart array:
//! ```text
//! entry   := shared: varint | unshared: varint | value_len: varint | tag: varint
//!            | [expiry_ms: u64 if kind = 3] | key_delta: unshared bytes | value: value_len bytes
//! tag     := seq × 8 + kind
//! block   := entry* | restart_offset: u32 * n | n_and_encoding: u32
//! ```
//! `n_and_encoding` is the restart count `n` with bit 31 (`PACKED_TAGS`) set. Blocks written
//! before the packed tag had bit 31 clear and `kind: u8 | seq: u64` in place of `tag`; they
//! are still read. A table compacted to the bottom level stores sequence number 0 for most
//! entries, so the tag is then one byte where the fixed form took nine.
//! Every `RESTART_INTERVAL`-th entry stores its full key (shared = 0) and is listed in the
//! restart array, so a seek binary-searches restarts and then scans at most `RESTART_INTERVAL`
//! entries.
//!
//! On disk a block is stored (maybe compressed) and followed by a 5-byte trailer:
//! `compression: u8 | crc32: u32` with the CRC over the stored bytes and the compression byte.

use std::cmp::Ordering;

use crate::engine::coding::{put_varint, u32_at, Reader};
use crate::engine::key::{compare_internal, Kind, SEQUENCE_MAX};
use crate::engine::options::Compression;

/// Entries between restart points: 4, not LevelDB's 16, because browser values are ~150 bytes
/// (few entries per block, little to gain from prefix compression) and a point lookup scans up
/// to this many entries after its binary search (docs/format.md "Data blocks").
pub const RESTART_INTERVAL: usize = 4;

/// Bit 31 of a block's last word: its entries carry a packed `tag` (seq × 8 + kind, a varint)
/// instead of a kind byte and a fixed 8-byte sequence number.
pub const PACKED_TAGS: u32 = 1 << 31;

/// Kinds take the tag's low 3 bits.
const TAG_KIND_BITS: u32 = 3;

/// How a block's entries store kind and sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EntryEncoding {
    /// `tag: varint` = seq × 8 + kind (what every writer uses).
    #[default]
    PackedTag,
    /// `kind: u8 | seq: u64 LE`, blocks written before the packed tag (read; written only by
    /// tests that prove those blocks still read).
    FixedSeq,
}

impl EntryEncoding {
    fn put(self, out: &mut Vec<u8>, kind: Kind, seq: u64) {
        match self {
            Self::PackedTag => put_varint(out, (seq << TAG_KIND_BITS) | u64::from(kind as u8)),
            Self::FixedSeq => {
                out.push(kind as u8);
                out.extend_from_slice(&seq.to_le_bytes());
            }
        }
    }

    /// `None` for a kind outside 1–4 or a sequence number above `SEQUENCE_MAX` (malformed).
    fn read(self, r: &mut Reader<'_>) -> Option<(Kind, u64)> {
        let (kind, seq) = match self {
            Self::PackedTag => {
                let tag = r.varint()?;
                (u8::try_from(tag & ((1 << TAG_KIND_BITS) - 1)).ok()?, tag >> TAG_KIND_BITS)
            }
            Self::FixedSeq => (r.u8()?, r.u64()?),
        };
        (seq <= SEQUENCE_MAX).then_some((Kind::from_byte(kind)?, seq))
    }
}

/// Builds one block.
#[derive(Debug, Default)]
pub struct BlockBuilder {
    buf: Vec<u8>,
    restarts: Vec<u32>,
    entries_since_restart: usize,
    last_key: Vec<u8>,
    last_seq: u64,
    entries: usize,
    encoding: EntryEncoding,
}

impl BlockBuilder {
    /// A builder writing the given entry encoding (`default()` writes packed tags).
    #[must_use]
    pub fn with_encoding(encoding: EntryEncoding) -> Self {
        Self { encoding, ..Self::default() }
    }

    /// Appends an entry; internal keys must arrive in strictly increasing order.
    pub fn add(&mut self, key: &[u8], seq: u64, kind: Kind, expiry_ms: u64, value: &[u8]) {
        assert!(
            self.entries == 0 || compare_internal(&self.last_key, self.last_seq, key, seq) == Ordering::Less,
            "block entries must be added in internal-key order"
        );
        let shared = if self.entries_since_restart == RESTART_INTERVAL || self.entries == 0 {
            self.restarts.push(u32::try_from(self.buf.len()).unwrap_or(u32::MAX));
            self.entries_since_restart = 0;
            0
        } else {
            self.last_key.iter().zip(key).take_while(|(a, b)| a == b).count()
        };
        let delta = key.get(shared..).unwrap_or_default();
        put_varint(&mut self.buf, shared as u64);
        put_varint(&mut self.buf, delta.len() as u64);
        put_varint(&mut self.buf, value.len() as u64);
        self.encoding.put(&mut self.buf, kind, seq);
        if kind.has_expiry() {
            self.buf.extend_from_slice(&expiry_ms.to_le_bytes());
        }
        self.buf.extend_from_slice(delta);
        self.buf.extend_from_slice(value);
        self.last_key.truncate(shared);
        self.last_key.extend_from_slice(delta);
        self.last_seq = seq;
        self.entries_since_restart += 1;
        self.entries += 1;
    }

    /// Size of the block if finished now.
    #[must_use]
    pub fn estimated_bytes(&self) -> usize {
        self.buf.len() + 4 * self.restarts.len() + 4
    }

    /// Whether no entry was added.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// The last key added.
    #[must_use]
    pub fn last_key(&self) -> &[u8] {
        &self.last_key
    }

    /// The last sequence number added.
    #[must_use]
    pub const fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// Finishes the block and returns its uncompressed bytes; the builder is reset.
    pub fn finish(&mut self) -> Vec<u8> {
        for r in &self.restarts {
            self.buf.extend_from_slice(&r.to_le_bytes());
        }
        let count = u32::try_from(self.restarts.len()).unwrap_or(0);
        let marker = if self.encoding == EntryEncoding::PackedTag { PACKED_TAGS } else { 0 };
        self.buf.extend_from_slice(&(count | marker).to_le_bytes());
        let out = std::mem::take(&mut self.buf);
        *self = Self::with_encoding(self.encoding);
        out
    }
}

/// Compresses a finished block (when that saves at least 1/8) and appends stored bytes +
/// trailer to `out`; returns the stored size (trailer excluded).
pub fn encode_stored(raw: &[u8], compression: Compression, out: &mut Vec<u8>) -> usize {
    let start = out.len();
    let used = match super::compress::compress(raw, compression) {
        Some(packed) => {
            out.extend_from_slice(&packed);
            compression
        }
        None => {
            out.extend_from_slice(raw);
            Compression::None
        }
    };
    let stored = out.len() - start;
    out.push(used as u8);
    let crc = crc32fast::hash(out.get(start..).unwrap_or_default());
    out.extend_from_slice(&crc.to_le_bytes());
    stored
}

/// Checks the trailer of `stored_with_trailer` and returns the uncompressed block.
pub fn decode_stored(stored_with_trailer: &[u8]) -> Result<Vec<u8>, &'static str> {
    let crc_at = stored_with_trailer.len().checked_sub(4).ok_or("block truncated")?;
    let covered = stored_with_trailer.get(..crc_at).ok_or("block truncated")?;
    if u32_at(stored_with_trailer, crc_at) != Some(crc32fast::hash(covered)) {
        return Err("block checksum mismatch");
    }
    let (&compression, stored) = covered.split_last().ok_or("block truncated")?;
    let compression = Compression::from_byte(compression).ok_or("unknown block compression")?;
    super::compress::decompress(stored, compression)
}

/// The 8 bytes of `key` after `skip`, big-endian, zero padded: ordered like the keys (a
/// strictly smaller probe means a smaller key; equal probes need the keys compared).
/// Big-endian on purpose: an in-memory sort key (never stored), whose integer order must be
/// the byte order.
#[allow(clippy::big_endian_bytes)]
#[must_use]
pub fn probe_of(key: &[u8], skip: usize) -> u64 {
    let mut window = [0u8; 8];
    let rest = key.get(skip..).unwrap_or_default();
    let n = rest.len().min(8);
    window[..n].copy_from_slice(&rest[..n]);
    u64::from_be_bytes(window)
}

/// Where `key` falls among sorted keys that all start with `prefix` and are summarized by
/// probes (`probe_of` after the prefix): `(lo, hi)` from `search(probe of key)` when `key`
/// starts with `prefix`, else everything above (`(0, 0)`) or below (`(count, count)`) it.
pub fn probe_candidates(
    key: &[u8],
    prefix: &[u8],
    count: usize,
    search: impl FnOnce(u64) -> (usize, usize),
) -> (usize, usize) {
    match key.get(..prefix.len()) {
        Some(head) if head == prefix => search(probe_of(key, prefix.len())),
        _ if key < prefix => (0, 0),
        _ => (count, count),
    }
}

/// Restart points a block keeps probes for; a block with more (an index block, a block of
/// small entries) seeks by decoding restart keys only.
const RESTART_PROBES_MAX: usize = 8;
/// Longest prefix of the restart keys a block keeps; a longer shared prefix is cut there
/// (the probes then hold the 8 bytes after the cut, which all keys still share a prefix up to).
const PROBE_PREFIX_MAX_BYTES: usize = 24;

/// What a seek needs to pick its restart point without touching the block's bytes: the
/// prefix all restart keys share and, per restart, the next 8 key bytes (`probe_of`). A point
/// read's binary search over restart keys missed the CPU cache at each step (the restart
/// array, then each restart entry: 16% of a cached random `getSync` in a profile); these
/// live in the `Block` itself, next to its reference count, which the cache lookup touched.
#[derive(Debug)]
struct RestartProbes {
    prefix: [u8; PROBE_PREFIX_MAX_BYTES],
    prefix_len: u8,
    count: u8,
    probes: [u64; RESTART_PROBES_MAX],
    /// Where each restart entry starts: the seek jumps there without reading the restart
    /// array at the block's end, another cache miss (half of a seek's own time in a profile).
    offsets: [u16; RESTART_PROBES_MAX],
}

impl RestartProbes {
    /// `None` for blocks with no or too many restarts, or a malformed restart entry (the
    /// seek then decodes restart keys and reports the damage).
    fn of(block: &Block) -> Option<Self> {
        if block.restart_count == 0 || block.restart_count > RESTART_PROBES_MAX {
            return None;
        }
        let key_at = |i: usize| block.restart(i).and_then(|at| block.restart_key(at)).map(|(k, _)| k);
        let (first, last) = (key_at(0)?, key_at(block.restart_count - 1)?);
        let shared = first.iter().zip(last).take_while(|(a, b)| a == b).count().min(PROBE_PREFIX_MAX_BYTES);
        let mut probes = Self {
            prefix: [0; PROBE_PREFIX_MAX_BYTES],
            prefix_len: u8::try_from(shared).ok()?,
            count: u8::try_from(block.restart_count).ok()?,
            probes: [0; RESTART_PROBES_MAX],
            offsets: [0; RESTART_PROBES_MAX],
        };
        probes.prefix[..shared].copy_from_slice(first.get(..shared)?);
        for i in 0..block.restart_count {
            *probes.probes.get_mut(i)? = probe_of(key_at(i)?, shared);
            *probes.offsets.get_mut(i)? = u16::try_from(block.restart(i)?).ok()?;
        }
        Some(probes)
    }

    /// `(lo, hi)`: restarts before `lo` hold keys below `key`, restarts from `hi` on keys
    /// above it; those between tie on the probe and need their keys compared.
    fn candidates(&self, key: &[u8]) -> (usize, usize) {
        let (len, count) = (usize::from(self.prefix_len), usize::from(self.count));
        let prefix = self.prefix.get(..len).unwrap_or_default();
        let probes = self.probes.get(..count).unwrap_or_default();
        probe_candidates(key, prefix, count, |wanted| {
            (probes.partition_point(|&p| p < wanted), probes.partition_point(|&p| p <= wanted))
        })
    }
}

/// Bytes of the entry at which a seek's walk stops that the walk reads: its header and the
/// head of its key.
const WALK_END_BYTES: usize = 32;

/// Asks the CPU to bring `bytes` into its cache. A seek walks from a restart point, each
/// entry found from the one before (~190 bytes apart in a browser block): without this, each
/// entry's cache miss waits for the one before; with it, they overlap. A hint: it reads
/// nothing and changes nothing.
#[inline]
fn prefetch(bytes: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(CACHE_LINE_BYTES) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: SSE, which every x86_64 CPU has; a prefetch of an address inside `bytes`,
        // which never faults and has no effect besides the CPU cache.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

/// Most bytes a seek prefetches: a browser block's walk (four ~190-byte entries) fits; a walk
/// past large values reads few of their bytes, so fetching them all would only evict others.
const PREFETCH_BYTES_MAX: usize = 1024;

/// The CPU cache's line (64 bytes on x86_64 and most ARM cores).
const CACHE_LINE_BYTES: usize = 64;

/// A decoded, checked block.
#[derive(Debug)]
pub struct Block {
    data: Vec<u8>,
    restarts_offset: usize,
    restart_count: usize,
    encoding: EntryEncoding,
    probes: Option<RestartProbes>,
}

impl Block {
    /// Validates the restart array of an uncompressed block.
    pub fn new(data: Vec<u8>) -> Result<Self, &'static str> {
        let count_at = data.len().checked_sub(4).ok_or("block too short")?;
        let last_word = u32_at(&data, count_at).ok_or("block too short")?;
        let encoding = if last_word & PACKED_TAGS == 0 { EntryEncoding::FixedSeq } else { EntryEncoding::PackedTag };
        let restart_count = (last_word & !PACKED_TAGS) as usize;
        let restarts_offset =
            restart_count.checked_mul(4).and_then(|b| count_at.checked_sub(b)).ok_or("bad restart count")?;
        if restart_count == 0 && restarts_offset != 0 {
            return Err("entries without restart points");
        }
        let mut block = Self { data, restarts_offset, restart_count, encoding, probes: None };
        for i in 0..restart_count {
            if block.restart(i).is_none_or(|r| r >= restarts_offset) {
                return Err("restart point out of range");
            }
        }
        block.probes = RestartProbes::of(&block);
        Ok(block)
    }

    /// The full key and sequence number of the entry at a restart point (shared = 0), read
    /// in place without copying; `None` if malformed.
    fn restart_key(&self, offset: usize) -> Option<(&[u8], u64)> {
        let mut r = Reader::new(self.data.get(offset..self.restarts_offset)?);
        let shared = r.varint_len()?;
        let unshared = r.varint_len()?;
        let _value_len = r.varint_len()?;
        let (kind, seq) = self.encoding.read(&mut r)?;
        if kind.has_expiry() {
            r.u64()?;
        }
        if shared != 0 {
            return None;
        }
        Some((r.take(unshared)?, seq))
    }

    /// Where `slice` (borrowed from this block) starts in the block's bytes.
    #[must_use]
    pub fn offset_of(&self, slice: &[u8]) -> usize {
        (slice.as_ptr() as usize).saturating_sub(self.data.as_ptr() as usize)
    }

    /// The bytes at `start..start + len` (values located by `offset_of`).
    #[must_use]
    pub fn bytes(&self, start: usize, len: usize) -> &[u8] {
        self.data.get(start..start + len).unwrap_or_default()
    }

    /// Bytes of the decoded block (what the cache charges).
    #[must_use]
    pub fn size_bytes(&self) -> usize {
        self.data.len()
    }

    /// Where restart entry `i` starts (from the probes when the block keeps them); the end of
    /// the entries for a block without restarts.
    fn restart_offset(&self, i: usize) -> usize {
        match &self.probes {
            Some(probes) => probes.offsets.get(i).map_or(self.restarts_offset, |&at| usize::from(at)),
            None => self.restart(i).unwrap_or(self.restarts_offset),
        }
    }

    fn restart(&self, i: usize) -> Option<usize> {
        u32_at(&self.data, self.restarts_offset + 4 * i).map(|r| r as usize)
    }

    /// The first and last stored keys of its entries (`None` for a block without entries, or
    /// one whose walk stops at a malformed entry).
    #[must_use]
    pub fn key_span(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut it = self.iter();
        it.next_entry()?;
        let first = it.key().to_vec();
        while it.next_entry().is_some() {}
        if it.is_corrupt() {
            return None;
        }
        Some((first, it.key().to_vec()))
    }

    /// An iterator positioned before the first entry.
    #[must_use]
    pub fn iter(&self) -> BlockIter<'_> {
        BlockIter { block: self, next_offset: 0, key: Vec::new(), entry: None, corrupt: false }
    }
}

/// One decoded entry; `value` borrows from the block.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Kind byte.
    pub kind: Kind,
    /// Expiry for `PutWithExpiry`.
    pub expiry_ms: u64,
    /// The value bytes.
    pub value: &'a [u8],
}

/// Walks a block's entries in order.
#[derive(Debug)]
pub struct BlockIter<'a> {
    block: &'a Block,
    next_offset: usize,
    key: Vec<u8>,
    entry: Option<EntryRef<'a>>,
    corrupt: bool,
}

impl<'a> BlockIter<'a> {
    /// Whether a malformed entry stopped the walk (the caller reports corruption).
    #[must_use]
    pub const fn is_corrupt(&self) -> bool {
        self.corrupt
    }

    /// The current key (valid after `next` returned an entry).
    #[must_use]
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The current entry.
    #[must_use]
    pub const fn entry(&self) -> Option<EntryRef<'a>> {
        self.entry
    }

    /// Advances; `None` at the end or on a malformed entry (see `is_corrupt`).
    pub fn next_entry(&mut self) -> Option<EntryRef<'a>> {
        self.entry = None;
        if self.corrupt || self.next_offset >= self.block.restarts_offset {
            return None;
        }
        let region = self.block.data.get(self.next_offset..self.block.restarts_offset)?;
        let mut r = Reader::new(region);
        let parsed = (|| {
            let shared = r.varint_len()?;
            let unshared = r.varint_len()?;
            let value_len = r.varint_len()?;
            let (kind, seq) = self.block.encoding.read(&mut r)?;
            let expiry_ms = if kind.has_expiry() { r.u64()? } else { 0 };
            let delta = r.take(unshared)?;
            let value = r.take(value_len)?;
            if shared > self.key.len() {
                return None;
            }
            self.key.truncate(shared);
            self.key.extend_from_slice(delta);
            Some(EntryRef { seq, kind, expiry_ms, value })
        })();
        match parsed {
            Some(e) => {
                self.next_offset += r.position();
                self.entry = Some(e);
                Some(e)
            }
            None => {
                self.corrupt = true;
                None
            }
        }
    }

    /// Positions at the first entry whose internal key is `>= (key, seq)` and returns it.
    pub fn seek(&mut self, key: &[u8], seq: u64) -> Option<EntryRef<'a>> {
        // Scan from the last restart point whose key is < target (or the first one).
        let Some(below) = self.restarts_below(key, seq) else {
            self.corrupt = true;
            return None;
        };
        self.next_offset = self.block.restart_offset(below.saturating_sub(1));
        // The walk ends at the latest at restart `below`'s entry, whose key is not below the
        // target; its header and the start of its key are enough to see that.
        let walk_end = if below < self.block.restart_count {
            self.block.restart_offset(below) + WALK_END_BYTES
        } else {
            self.block.restarts_offset
        };
        let walk_end = walk_end.min(self.block.restarts_offset).min(self.next_offset + PREFETCH_BYTES_MAX);
        prefetch(self.block.data.get(self.next_offset..walk_end).unwrap_or_default());
        self.key.clear();
        while let Some(e) = self.next_entry() {
            if compare_internal(&self.key, e.seq, key, seq) != Ordering::Less {
                return Some(e);
            }
        }
        None
    }

    /// How many restart points hold internal keys below `(key, seq)`: the probes narrow the
    /// search, restart keys settle ties. `None` if a restart entry is malformed.
    fn restarts_below(&self, key: &[u8], seq: u64) -> Option<usize> {
        let block = self.block;
        let (mut lo, mut hi) = block.probes.as_ref().map_or((0, block.restart_count), |p| p.candidates(key));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (restart_key, restart_seq) = block.restart_key(block.restart_offset(mid))?;
            if compare_internal(restart_key, restart_seq, key, seq) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(n: u32) -> Block {
        let mut b = BlockBuilder::default();
        for i in 0..n {
            b.add(format!("key{i:05}").as_bytes(), 100, Kind::Put, 0, format!("v{i}").as_bytes());
        }
        Block::new(b.finish()).unwrap()
    }

    #[test]
    fn iterates_and_seeks() {
        let block = build(100);
        let mut it = block.iter();
        let mut n = 0;
        while it.next_entry().is_some() {
            assert_eq!(it.key(), format!("key{n:05}").as_bytes());
            n += 1;
        }
        assert_eq!(n, 100);
        assert!(!it.is_corrupt());
        for i in 0..100u32 {
            let mut it = block.iter();
            let e = it.seek(format!("key{i:05}").as_bytes(), u64::MAX).unwrap();
            assert_eq!(e.value, format!("v{i}").as_bytes());
        }
        assert!(block.iter().seek(b"zzz", u64::MAX).is_none());
        let mut it = block.iter();
        it.seek(b"key00010x", u64::MAX).unwrap();
        assert_eq!(it.key(), b"key00011");
    }

    proptest::proptest! {
        /// Both entry encodings give back every entry as written (kinds with and without an
        /// expiry, sequence numbers from 0 to the largest allowed), and the block says which
        /// one it holds; the packed one is never larger.
        #[test]
        fn both_entry_encodings_read_back_what_was_written(
            entries in proptest::collection::btree_map(
                proptest::collection::vec(proptest::num::u8::ANY, 1..12),
                (0u64..=crate::engine::key::SEQUENCE_MAX, 1u8..=4, proptest::num::u64::ANY, proptest::collection::vec(proptest::num::u8::ANY, 0..20)),
                1..40,
            ),
        ) {
            let mut sizes = Vec::new();
            for encoding in [EntryEncoding::PackedTag, EntryEncoding::FixedSeq] {
                let mut builder = BlockBuilder::with_encoding(encoding);
                for (key, (seq, kind, expiry_ms, value)) in &entries {
                    let kind = Kind::from_byte(*kind).unwrap();
                    builder.add(key, *seq, kind, if kind.has_expiry() { *expiry_ms } else { 0 }, value);
                }
                let raw = builder.finish();
                sizes.push(raw.len());
                let block = Block::new(raw).unwrap();
                proptest::prop_assert_eq!(block.encoding, encoding);
                let mut it = block.iter();
                for (key, (seq, kind, expiry_ms, value)) in &entries {
                    let e = it.next_entry().unwrap();
                    let kind = Kind::from_byte(*kind).unwrap();
                    proptest::prop_assert_eq!(it.key(), key.as_slice());
                    proptest::prop_assert_eq!((e.seq, e.kind, e.value), (*seq, kind, value.as_slice()));
                    proptest::prop_assert_eq!(e.expiry_ms, if kind.has_expiry() { *expiry_ms } else { 0 });
                }
                proptest::prop_assert!(it.next_entry().is_none() && !it.is_corrupt());
                let (last_key, (last_seq, _, _, _)) = entries.iter().next_back().unwrap();
                proptest::prop_assert_eq!(block.iter().seek(last_key, u64::MAX).map(|e| e.seq), Some(*last_seq));
            }
            proptest::prop_assert!(sizes[0] <= sizes[1], "a tag takes at most the 9 bytes of kind + seq");
        }

        /// A seek lands where a walk over every entry says, whether the block keeps restart
        /// probes (up to 8 restarts) or not, with shared prefixes shorter and longer than the
        /// kept 24 bytes, keys that are prefixes of others, and several versions per key.
        #[test]
        fn seek_finds_the_first_entry_at_or_after_the_target(
            prefix_len in 0usize..40,
            suffixes in proptest::collection::btree_set(proptest::collection::vec(0u8..4, 0..6), 1..60),
            versions in 1u64..4,
            targets in proptest::collection::vec(
                (0usize..48, proptest::bool::ANY, proptest::collection::vec(0u8..4, 0..7), 0u64..5),
                1..20,
            ),
        ) {
            let prefix = vec![b'p'; prefix_len];
            let mut entries = Vec::new();
            for suffix in &suffixes {
                let key = [prefix.as_slice(), suffix.as_slice()].concat();
                for seq in (1..=versions).rev() {
                    entries.push((key.clone(), seq));
                }
            }
            let mut builder = BlockBuilder::default();
            for (key, seq) in &entries {
                builder.add(key, *seq, Kind::Put, 0, format!("{seq}").as_bytes());
            }
            let block = Block::new(builder.finish()).unwrap();
            proptest::prop_assert_eq!(block.probes.is_some(), entries.len().div_ceil(RESTART_INTERVAL) <= RESTART_PROBES_MAX);
            for (cut, above, suffix, seq) in targets {
                // Targets with the whole prefix, a cut one (below every key) or another (above).
                let head = if above { b"q".as_slice() } else { prefix.get(..cut).unwrap_or(&prefix) };
                let key = [head, suffix.as_slice()].concat();
                let want = entries.iter().find(|(k, s)| compare_internal(k, *s, &key, seq) != Ordering::Less);
                let mut it = block.iter();
                let got = it.seek(&key, seq).map(|e| (it.key().to_vec(), e.seq));
                proptest::prop_assert_eq!(got, want.cloned());
                proptest::prop_assert!(!it.is_corrupt());
            }
        }
    }

    /// Restart points past 64 KiB (large values) do not fit the probes' 16-bit offsets: such
    /// a block seeks through its restart array, and every key is still found.
    #[test]
    fn blocks_with_restarts_past_64_kib_seek_without_probes() {
        let value = vec![b'v'; 30_000];
        let mut b = BlockBuilder::default();
        for i in 0..12u32 {
            b.add(format!("key{i:02}").as_bytes(), 1, Kind::Put, 0, &value);
        }
        let block = Block::new(b.finish()).unwrap();
        assert!(block.restart_count <= RESTART_PROBES_MAX && block.probes.is_none());
        for i in 0..12u32 {
            let mut it = block.iter();
            assert!(it.seek(format!("key{i:02}").as_bytes(), u64::MAX).is_some());
            assert_eq!(it.key(), format!("key{i:02}").as_bytes());
        }
        let small = build(20);
        assert!(small.probes.is_some());
        for i in 0..small.restart_count {
            assert_eq!(small.restart_offset(i), small.restart(i).unwrap());
        }
    }

    /// A tag or fixed field naming a sequence number above 2^56 − 1 makes the entry malformed.
    #[test]
    fn sequence_numbers_above_the_maximum_are_malformed() {
        for encoding in [EntryEncoding::PackedTag, EntryEncoding::FixedSeq] {
            for (seq, ok) in [(SEQUENCE_MAX, true), (SEQUENCE_MAX + 1, false), (u64::MAX >> TAG_KIND_BITS, false)] {
                let mut b = BlockBuilder::with_encoding(encoding);
                b.add(b"k", seq, Kind::Put, 0, b"v");
                let block = Block::new(b.finish()).unwrap();
                let mut it = block.iter();
                assert_eq!(it.next_entry().map(|e| e.seq), ok.then_some(seq), "{encoding:?} seq {seq}");
                assert_eq!(it.is_corrupt(), !ok);
            }
        }
    }

    #[test]
    fn stored_form_round_trips_and_detects_flips() {
        let mut raw = BlockBuilder::default();
        for i in 0..50u32 {
            raw.add(format!("history:{i:09}").as_bytes(), 1, Kind::Put, 0, b"{\"url\":\"https://example.com\"}");
        }
        let raw = raw.finish();
        for compression in [Compression::None, Compression::Lz4] {
            let mut out = Vec::new();
            encode_stored(&raw, compression, &mut out);
            assert_eq!(decode_stored(&out).unwrap(), raw);
            for i in 0..out.len() {
                let mut bad = out.clone();
                bad[i] ^= 0x10;
                assert!(decode_stored(&bad).is_err(), "flip at {i} not detected");
            }
        }
    }
}

//! Reads a table: header and footer checked at open, index (and, unless the database's
//! filter budget leaves it out, the filter) loaded into memory, data blocks read with
//! `pread` and checked (CRC) on every read.

use std::cmp::Ordering;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::block::{decode_stored, probe_candidates, probe_of, Block};
use super::filter;
use super::format::{
    BlockHandle, Footer, Header, BLOCK_TRAILER_BYTES, FILE_KIND_TABLE, FLAG_HAS_RANGE_DELETES, FOOTER_BYTES,
    HEADER_BYTES,
};
use crate::engine::cache::BlockCache;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::key::{compare_internal, resolve, Kind, Lookup};
use crate::engine::range_del::{RangeDeletes, RangeTombstone};
use crate::engine::storage::{ReadableFile, Storage};

/// The decoded index: per data block, its last internal key and where the block is, in
/// arrays (no per-entry struct, no padding). Memory matters here: every open table keeps its
/// index for its whole life, and at 10M keys the indexes were ~22 MB of the process. So each
/// key byte is kept once (the shared prefix, the next 8 bytes in `probes`, the rest, which
/// most keys lack, in `tails`) and back-to-back blocks by their starts alone: an entry of a
/// `\x01history:…` index costs 12.5 bytes, where whole suffixes, offsets and sizes cost 31.5.
#[derive(Debug, Default)]
struct Index {
    /// The prefix every index key shares (`\x01history:000` in a history table), held
    /// once; what follows it in each key (its suffix) is its head, then its tail.
    prefix: Vec<u8>,
    /// Per entry, the first 8 suffix bytes (its head, zero padded) as a big-endian number: a
    /// binary search compares these integers in one contiguous array and touches the rest of
    /// the keys only among entries whose 8 bytes tie with the sought key's.
    probes: Vec<u64>,
    /// Per entry, how many bytes its head has (up to 8): the zero padding hides whether a
    /// suffix `a` is `a`, `a\0` or `a\0\0`. Empty when every head ends at its probe's last
    /// non-zero byte (`implied_head_len`), as in text keys: when no suffix ends in a zero byte
    /// within its first 8 or has a zero 8th byte.
    head_lens: Vec<u8>,
    /// The suffix bytes after the head (only suffixes longer than 8 have any), back to back.
    tails: Vec<u8>,
    /// Where each entry's tail ends in `tails` (it starts where the previous one ends);
    /// empty when every tail is empty.
    tail_ends: Vec<u32>,
    /// Each entry's last sequence number; empty when all are 0, as in the tables a
    /// bottommost compaction writes (most of a large database's).
    last_seqs: Vec<u64>,
    positions: Positions,
    /// Every `PROBE_GROUP`th probe: a search first picks a group here (a few cache lines that
    /// stay cached across reads), then searches that group's two cache lines of `probes`,
    /// instead of a binary search whose every late step misses the CPU cache.
    group_firsts: Vec<u64>,
}

/// Probes per group of the two-step index search: 16 × 8 bytes = two cache lines.
const PROBE_GROUP: usize = 16;

/// Where the data blocks are.
#[derive(Debug)]
enum Positions {
    /// The builder's layout: blocks back to back, in a file under 4 GiB. Where each block
    /// starts, then where the last one ends (trailer included): a block's size is the
    /// distance to the next start less the trailer, so 4 bytes a block instead of 12.
    Contiguous(Vec<u32>),
    /// Any other layout: each block's handle as the index block stores it.
    Listed { offsets: Vec<u64>, sizes: Vec<u32> },
}

impl Default for Positions {
    fn default() -> Self {
        Self::Contiguous(Vec::new())
    }
}

impl Positions {
    fn of(handles: &[BlockHandle]) -> Self {
        Self::starts(handles).map_or_else(
            || Self::Listed {
                offsets: handles.iter().map(|h| h.offset).collect(),
                sizes: handles.iter().map(|h| h.size).collect(),
            },
            Self::Contiguous,
        )
    }

    /// The blocks' starts and the end of the last, if each block starts where the one
    /// before ends and all fit in `u32`.
    fn starts(handles: &[BlockHandle]) -> Option<Vec<u32>> {
        let mut starts = Vec::with_capacity(handles.len() + 1);
        let mut end = handles.first()?.offset;
        for h in handles {
            if h.offset != end {
                return None;
            }
            starts.push(u32::try_from(h.offset).ok()?);
            end = h.offset.checked_add(u64::from(h.size) + BLOCK_TRAILER_BYTES as u64)?;
        }
        starts.push(u32::try_from(end).ok()?);
        Some(starts)
    }

    fn handle(&self, i: usize) -> Option<BlockHandle> {
        match self {
            Self::Contiguous(starts) => {
                let &[start, next] = starts.get(i..i.checked_add(2)?)? else { return None };
                let size = next.checked_sub(start)?.checked_sub(BLOCK_TRAILER_BYTES as u32)?;
                Some(BlockHandle { offset: u64::from(start), size })
            }
            Self::Listed { offsets, sizes } => Some(BlockHandle { offset: *offsets.get(i)?, size: *sizes.get(i)? }),
        }
    }

    fn size_bytes(&self) -> usize {
        match self {
            Self::Contiguous(starts) => starts.capacity() * std::mem::size_of::<u32>(),
            Self::Listed { offsets, sizes } => {
                offsets.capacity() * std::mem::size_of::<u64>() + sizes.capacity() * std::mem::size_of::<u32>()
            }
        }
    }
}

/// A probe's bytes, the head of its entry's suffix: `probe_of` reads them big-endian so that
/// integer order is key order.
#[allow(clippy::big_endian_bytes)]
const fn probe_bytes(probe: u64) -> [u8; 8] {
    probe.to_be_bytes()
}

/// The head length a probe implies when its suffix does not end in zero bytes: up to its
/// last non-zero byte.
const fn implied_head_len(probe: u64) -> usize {
    8 - (probe.trailing_zeros() / 8) as usize
}

impl Index {
    /// Builds the index from its entries, in order: their last keys back to back in `keys`,
    /// where each ends (`key_ends`), their last sequence numbers and block handles. Takes
    /// `keys` and cuts the shared prefix and heads out of it in place (a table's open
    /// allocates no buffer per entry: a 10M-key database opens ~400k index entries).
    fn build(mut keys: Vec<u8>, key_ends: &[u32], mut last_seqs: Vec<u64>, handles: &[BlockHandle]) -> Option<Self> {
        let count = key_ends.len();
        if count == 0 {
            return Some(Self::default());
        }
        if handles.len() != count {
            return None;
        }
        let key = |i: usize| -> Option<std::ops::Range<usize>> {
            let start = i.checked_sub(1).map_or(Some(0), |j| key_ends.get(j).map(|&e| e as usize))?;
            Some(start..*key_ends.get(i)? as usize)
        };
        let (first, last) = (key(0)?, key(count - 1)?);
        // Keys are sorted, so what the first and last share, all share.
        let prefix_len = keys.get(first.clone())?.iter().zip(keys.get(last)?).take_while(|(x, y)| x == y).count();
        // Pushed one per entry into vectors of their final size; only `last_seqs` (grown by
        // the caller) can hold spare capacity.
        last_seqs.shrink_to_fit();
        let mut index = Self {
            prefix: keys.get(first.start..first.start + prefix_len)?.to_vec(),
            probes: Vec::with_capacity(count),
            head_lens: Vec::with_capacity(count),
            tail_ends: Vec::with_capacity(count),
            // All 0 (bottommost tables): none kept.
            last_seqs: if last_seqs.iter().all(|&s| s == 0) { Vec::new() } else { last_seqs },
            positions: Positions::of(handles),
            ..Self::default()
        };
        let mut written = 0usize;
        for i in 0..count {
            let range = key(i)?;
            let suffix = keys.get(range.start.checked_add(prefix_len)?..range.end)?;
            let head = suffix.len().min(8);
            index.probes.push(probe_of(suffix, 0));
            index.head_lens.push(u8::try_from(head).ok()?);
            // Never ahead of what it reads: the tails move towards the front.
            let tail = range.end - (suffix.len() - head)..range.end;
            keys.copy_within(tail.clone(), written);
            written += tail.len();
            index.tail_ends.push(u32::try_from(written).ok()?);
        }
        keys.truncate(written);
        keys.shrink_to_fit();
        index.tails = keys;
        index.drop_redundant_lengths();
        index.group_probes();
        Some(index)
    }

    /// Frees the head lengths when every one is what its probe implies, and the tail ends
    /// when every tail is empty: then neither says anything.
    fn drop_redundant_lengths(&mut self) {
        if self.head_lens.iter().zip(&self.probes).all(|(&n, &p)| usize::from(n) == implied_head_len(p)) {
            self.head_lens = Vec::new();
        }
        if self.tails.is_empty() {
            self.tail_ends = Vec::new();
        }
    }

    /// Entry `i`'s head length, given its probe.
    fn head_len(&self, i: usize, probe: u64) -> usize {
        self.head_lens.get(i).map_or(implied_head_len(probe), |&n| usize::from(n))
    }

    /// Entry `i`'s suffix bytes after its head.
    fn tail(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).and_then(|j| self.tail_ends.get(j)).map_or(0, |&e| e as usize);
        let end = self.tail_ends.get(i).map_or(start, |&e| e as usize);
        self.tails.get(start..end).unwrap_or_default()
    }

    /// Entry `i`'s suffix and the sought `key_suffix`, both tying on `probe` (whose bytes
    /// are `head`), each cut past the bytes they share through it: up to the shorter of the
    /// two heads. What is left orders as the whole suffixes do (a common start decides
    /// nothing), and comparing it needs no suffix rebuilt from head and tail (no copy, no
    /// allocation, no more of the index read than the tail).
    fn tied_pair<'a>(&'a self, i: usize, probe: u64, head: &'a [u8; 8], key_suffix: &'a [u8]) -> (&'a [u8], &'a [u8]) {
        let head_len = self.head_len(i, probe);
        let shared = head_len.min(key_suffix.len());
        // A full head shared: the rest is the tail. Else the key ends within the entry's head
        // or the entry (tailless) within the key's: the rest of the head decides.
        let rest = if shared == 8 { self.tail(i) } else { head.get(shared..head_len).unwrap_or_default() };
        (rest, key_suffix.get(shared..).unwrap_or_default())
    }

    /// Entry `i`'s key without the shared prefix.
    #[cfg(test)]
    fn suffix(&self, i: usize) -> Vec<u8> {
        let probe = self.probes.get(i).copied().unwrap_or(0);
        [probe_bytes(probe).get(..self.head_len(i, probe)).unwrap_or_default(), self.tail(i)].concat()
    }

    fn last_seq(&self, i: usize) -> u64 {
        self.last_seqs.get(i).copied().unwrap_or(0)
    }

    fn handle(&self, i: usize) -> Option<BlockHandle> {
        self.positions.handle(i)
    }

    fn len(&self) -> usize {
        self.probes.len()
    }

    /// Bytes the allocator holds for the index.
    fn size_bytes(&self) -> usize {
        self.prefix.capacity()
            + self.head_lens.capacity()
            + self.tails.capacity()
            + self.tail_ends.capacity() * std::mem::size_of::<u32>()
            + self.last_seqs.capacity() * std::mem::size_of::<u64>()
            + self.positions.size_bytes()
            + (self.probes.capacity() + self.group_firsts.capacity()) * std::mem::size_of::<u64>()
    }

    fn group_probes(&mut self) {
        self.group_firsts = self.probes.iter().step_by(PROBE_GROUP).copied().collect();
    }

    /// The first position whose probe is not below `wanted` (`probes.partition_point(|p| p <
    /// wanted)`), found group first.
    fn first_probe_not_below(&self, wanted: u64) -> usize {
        let group = self.group_firsts.partition_point(|&p| p < wanted);
        // Group `group` starts at or above `wanted`, so the answer is in the group before it
        // (or is that group's first position).
        let Some(before) = group.checked_sub(1) else { return 0 };
        let start = before * PROBE_GROUP;
        let end = (start + PROBE_GROUP).min(self.probes.len());
        start + self.probes.get(start..end).unwrap_or_default().partition_point(|&p| p < wanted)
    }

    /// The first position at or after `lo` whose probe is above `wanted`; ties are few (a
    /// key's versions spanning blocks), so it steps before it searches.
    fn first_probe_above(&self, lo: usize, wanted: u64) -> usize {
        let rest = self.probes.get(lo..).unwrap_or_default();
        match rest.iter().take(PROBE_GROUP).position(|&p| p > wanted) {
            Some(at) => lo + at,
            None => lo + rest.partition_point(|&p| p <= wanted),
        }
    }

    /// `partition_point` for a predicate `below(entry_rest, key_rest, i)` that is true for
    /// every entry whose key is less than `key`, false for every greater one, and monotone
    /// among equal ones. It sees the two keys past a start they share (the index's prefix,
    /// and up to 8 bytes more that tie on the probe), so it must judge them by their order
    /// alone, which that cut keeps. Integer probes narrow the search before any key is
    /// compared.
    fn partition_point(&self, key: &[u8], mut below: impl FnMut(&[u8], &[u8], usize) -> bool) -> usize {
        let mut tied_probe = 0;
        let (mut lo, mut hi) = probe_candidates(key, &self.prefix, self.len(), |wanted| {
            tied_probe = wanted;
            let lo = self.first_probe_not_below(wanted);
            (lo, self.first_probe_above(lo, wanted))
        });
        let key_suffix = key.get(self.prefix.len()..).unwrap_or_default();
        let head = probe_bytes(tied_probe);
        // Binary search among the ties (many when keys share 8 bytes past the prefix).
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let (entry_rest, key_rest) = self.tied_pair(mid, tied_probe, &head, key_suffix);
            if below(entry_rest, key_rest, mid) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;
    use proptest::prelude::*;

    /// Where the test blocks lie: as the builder writes them, with a gap, or past 4 GiB.
    #[derive(Debug, Clone, Copy)]
    enum Layout {
        BackToBack,
        Gap,
        Past4GiB,
    }

    /// Handles of blocks of `sizes`, laid out as `layout` says.
    fn handles_of(sizes: &[u32], layout: Layout) -> Vec<BlockHandle> {
        let mut offset = match layout {
            // The first block starts below 4 GiB, the last ends past it.
            Layout::Past4GiB => u64::from(u32::MAX) - 4,
            _ => HEADER_BYTES as u64,
        };
        let mut handles = Vec::new();
        for (i, &size) in sizes.iter().enumerate() {
            handles.push(BlockHandle { offset, size });
            offset += u64::from(size) + BLOCK_TRAILER_BYTES as u64;
            if matches!(layout, Layout::Gap) && i == (sizes.len() - 1) / 2 {
                offset += 1;
            }
        }
        handles
    }

    fn build(entries: &[(Vec<u8>, u64, BlockHandle)]) -> Index {
        let (mut keys, mut key_ends) = (Vec::new(), Vec::new());
        for (key, _, _) in entries {
            keys.extend_from_slice(key);
            key_ends.push(keys.len() as u32);
        }
        let seqs = entries.iter().map(|(_, s, _)| *s).collect();
        let handles: Vec<BlockHandle> = entries.iter().map(|(_, _, h)| *h).collect();
        Index::build(keys, &key_ends, seqs, &handles).expect("index")
    }

    /// Checks every entry and search of `index` against `entries`, the full keys it was built
    /// from, searched plainly.
    fn check(index: &Index, entries: &[(Vec<u8>, u64, BlockHandle)], sought: &[Vec<u8>], seq: u64) {
        assert_eq!(index.len(), entries.len());
        for (i, (key, last_seq, handle)) in entries.iter().enumerate() {
            assert_eq!([index.prefix.as_slice(), &index.suffix(i)].concat(), *key, "entry {i}");
            assert_eq!(index.last_seq(i), *last_seq);
            assert_eq!(index.handle(i), Some(*handle));
        }
        assert_eq!(index.handle(entries.len()), None);
        for key in sought {
            let internal = index.partition_point(key, |k, sought, i| {
                compare_internal(k, index.last_seq(i), sought, seq) == Ordering::Less
            });
            let plain = entries.partition_point(|(k, s, _)| compare_internal(k, *s, key, seq) == Ordering::Less);
            assert_eq!(internal, plain, "{key:?} at {seq}");
            assert_eq!(
                index.partition_point(key, |k, sought, _| k < sought),
                entries.partition_point(|(k, _, _)| k < key)
            );
            assert_eq!(
                index.partition_point(key, |k, sought, _| k <= sought),
                entries.partition_point(|(k, _, _)| k <= key)
            );
        }
    }

    /// Sought keys around the entries': each, one byte shorter, longer by a zero byte and by
    /// 0xff, and keys below and above all.
    fn around(entries: &[(Vec<u8>, u64, BlockHandle)], extra: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut sought = vec![Vec::new(), b"\x00".to_vec(), b"\xff\xff".to_vec()];
        for (key, _, _) in entries {
            sought.push(key.clone());
            sought.push(key.get(..key.len().saturating_sub(1)).unwrap_or_default().to_vec());
            sought.push([key.as_slice(), b"\x00"].concat());
            sought.push([key.as_slice(), b"\xff"].concat());
        }
        sought.extend_from_slice(extra);
        sought
    }

    /// Keys of few distinct bytes (zeros among them, so suffixes end in zero bytes and
    /// probes tie), short (under 8 bytes past any prefix), around 8, or longer than the
    /// stack scratch.
    fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
        let byte = proptest::sample::select(vec![0u8, 1, b'a', 0xff]);
        prop_oneof![
            proptest::collection::vec(byte.clone(), 0..8),
            proptest::collection::vec(byte.clone(), 7..11),
            proptest::collection::vec(byte, 60..80),
        ]
    }

    proptest! {
        /// An index keeps each key as prefix, probe and tail, and each block as its start,
        /// yet every entry reads back and every search answers as over the full entries.
        #[test]
        fn the_index_answers_as_its_full_entries(
            keys in proptest::collection::vec(key_strategy(), 1..60),
            versions in proptest::collection::vec(1usize..3, 60),
            sizes in proptest::collection::vec(0u32..5000, 60 * 3),
            prefix in proptest::sample::select(vec![&b""[..], b"a", b"\x01history:"]),
            layout in proptest::sample::select(vec![Layout::BackToBack, Layout::Gap, Layout::Past4GiB]),
            with_seqs: bool,
            extra in proptest::collection::vec(key_strategy(), 0..10),
            seq in 0u64..20,
        ) {
            let mut keys: Vec<Vec<u8>> = keys.into_iter().map(|k| [prefix, &k].concat()).collect();
            keys.sort();
            keys.dedup();
            // A key's versions may span blocks: repeats, newest first.
            let mut entries: Vec<(Vec<u8>, u64)> = Vec::new();
            for (key, &n) in keys.iter().zip(&versions) {
                let n = if with_seqs { n } else { 1 };
                entries.extend((0..n).rev().map(|v| (key.clone(), if with_seqs { 3 * v as u64 + 5 } else { 0 })));
            }
            let handles = handles_of(&sizes[..entries.len()], layout);
            let entries: Vec<_> = entries.into_iter().zip(handles).map(|((k, s), h)| (k, s, h)).collect();
            let index = build(&entries);
            let contiguous = matches!(index.positions, Positions::Contiguous(_));
            prop_assert_eq!(contiguous, matches!(layout, Layout::BackToBack) || entries.len() == 1 && matches!(layout, Layout::Gap));
            let extra: Vec<Vec<u8>> = extra.into_iter().map(|k| [prefix, &k].concat()).collect();
            check(&index, &entries, &around(&entries, &extra), seq);
        }
    }

    /// Suffixes that differ only in trailing zero bytes have one probe: their head lengths
    /// tell them apart.
    #[test]
    fn suffixes_ending_in_zero_bytes_keep_their_lengths() {
        let keys: [&[u8]; 6] =
            [b"a", b"a\0", b"a\0\0", b"a\0\0\0\0\0\0\0", b"a\0\0\0\0\0\0\0\0", b"a\0\0\0\0\0\0\0\0\x01"];
        let handles = handles_of(&[100; 6], Layout::BackToBack);
        let entries: Vec<_> = keys.iter().zip(handles).map(|(k, h)| (k.to_vec(), 0, h)).collect();
        let index = build(&entries);
        assert_eq!(index.prefix, b"a");
        assert!(index.probes.iter().all(|&p| p == 0));
        assert_eq!(index.head_lens, [0, 1, 2, 7, 8, 8]);
        assert_eq!(index.tails, [1]);
        check(&index, &entries, &around(&entries, &[]), 0);
    }

    /// Text keys of one length, blocks back to back: neither head lengths nor tails are kept,
    /// and an entry costs its probe, its block start and its share of the group probes (it
    /// was 31.5 bytes with each suffix, offset and size kept).
    #[test]
    fn a_history_index_entry_costs_under_13_bytes() {
        let last_keys: Vec<Vec<u8>> =
            (0..10_000).map(|b| format!("\x01history:{:09}", b * 25 + 24).into_bytes()).collect();
        let index = index_of_last_keys(&last_keys);
        assert!(index.head_lens.is_empty() && index.tails.is_empty() && index.tail_ends.is_empty());
        let per_entry = index.size_bytes() as f64 / last_keys.len() as f64;
        assert!(per_entry <= 13.0, "{per_entry} bytes an entry");
    }

    /// The index of a table whose blocks end at `last_keys` (sorted), written back to back.
    fn index_of_last_keys(last_keys: &[Vec<u8>]) -> Index {
        let (mut keys, mut key_ends, mut handles) = (Vec::new(), Vec::new(), Vec::new());
        let mut offset = HEADER_BYTES as u64;
        for (i, key) in last_keys.iter().enumerate() {
            keys.extend_from_slice(key);
            key_ends.push(keys.len() as u32);
            let size = 3000 + (i * 7919 % 1000) as u32;
            handles.push(BlockHandle { offset, size });
            offset += u64::from(size) + BLOCK_TRAILER_BYTES as u64;
        }
        Index::build(keys, &key_ends, vec![0; last_keys.len()], &handles).expect("index")
    }

    /// Times point-read (`locate`) and iterator (`first_block_reaching`) searches for
    /// `sought` keys, each followed by the handle lookup they lead to.
    fn time_searches(what: &str, index: &Index, sought: &[Vec<u8>]) {
        println!("{what}: index bytes per entry {:.2}", index.size_bytes() as f64 / index.len() as f64);
        for round in 0..3 {
            let started = std::time::Instant::now();
            let mut sum = 0u64;
            for key in sought {
                let at = index.partition_point(key, |k, sought, i| {
                    compare_internal(k, index.last_seq(i), sought, 1 << 40) == Ordering::Less
                });
                sum = sum.wrapping_add(index.handle(at).map_or(0, |h| h.offset + u64::from(h.size)));
            }
            let locate = started.elapsed().as_nanos() as f64 / sought.len() as f64;
            let started = std::time::Instant::now();
            for key in sought {
                let at = index.partition_point(key, |k, sought, _| k < sought);
                sum = sum.wrapping_add(index.handle(at).map_or(0, |h| h.offset));
            }
            let reaching = started.elapsed().as_nanos() as f64 / sought.len() as f64;
            println!("  round {round}: locate {locate:.1} ns, first_block_reaching+handle {reaching:.1} ns ({sum})");
        }
    }

    /// Speed of the searches reads make, for short keys and for long keys that tie on their
    /// probes, over an index of a few tables (in the CPU cache) and over one as large as a
    /// 10M-key database's (all its tables' indexes together, mostly not):
    /// `cargo test --release index_search_speed -- --ignored --nocapture`. Prints, asserts
    /// nothing about time.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn index_search_speed() {
        let keys_per_block = 25;
        for blocks in [2_000u64, 20_000, 400_000] {
            let spread = |i: u64| i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % (blocks * keys_per_block);
            let history = |n: u64| format!("\x01history:{n:09}").into_bytes();
            let last_keys: Vec<Vec<u8>> = (0..blocks).map(|b| history((b + 1) * keys_per_block - 1)).collect();
            let sought: Vec<Vec<u8>> = (0..1_000_000).map(|i| history(spread(i))).collect();
            time_searches(&format!("{blocks} blocks, history keys"), &index_of_last_keys(&last_keys), &sought);
            let url = |n: u64| format!("\x01bookmark:https://www.example{}.com/articles/{n}", n % 97).into_bytes();
            let mut urls: Vec<Vec<u8>> =
                (0..blocks * keys_per_block).step_by(keys_per_block as usize).map(url).collect();
            urls.sort();
            let sought: Vec<Vec<u8>> = (0..1_000_000).map(|i| url(spread(i))).collect();
            time_searches(&format!("{blocks} blocks, url keys"), &index_of_last_keys(&urls), &sought);
        }
    }
}

/// Stored blocks up to this size are read into a per-thread buffer that is kept between
/// reads (no allocation, no zeroing per read: the decoded block is the only new memory).
/// Larger ones (a block holding one big value) get a buffer of their own, so no thread keeps
/// more than this much.
const READ_BUFFER_KEPT_BYTES_MAX: usize = 256 * 1024;

thread_local! {
    static READ_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` on a `len`-byte buffer to read a stored block into.
fn with_read_buffer<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    if len > READ_BUFFER_KEPT_BYTES_MAX {
        return f(&mut vec![0u8; len]);
    }
    READ_BUFFER.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0);
            }
            f(buf.get_mut(..len).unwrap_or_default())
        }
        // Re-entered on this thread (never expected): fall back to a buffer of its own.
        Err(_) => f(&mut vec![0u8; len]),
    })
}

/// Where the range-delete block of a table with `FLAG_HAS_RANGE_DELETES` is: right after the
/// index block's trailer, up to the footer (its handle is implied, so the footer keeps its
/// v1 layout). `None` if there is no room for a block there.
#[must_use]
pub fn range_delete_handle(footer: &Footer, footer_at: u64) -> Option<BlockHandle> {
    let offset = footer.index.offset.checked_add(u64::from(footer.index.size) + BLOCK_TRAILER_BYTES as u64)?;
    let size = footer_at.checked_sub(offset)?.checked_sub(BLOCK_TRAILER_BYTES as u64)?;
    Some(BlockHandle { offset, size: u32::try_from(size).ok()? })
}

/// The tombstones of a decoded range-delete block; `None` if an entry is not a range delete,
/// is empty (`end <= start`) or the block is malformed or out of order.
#[must_use]
pub fn decode_range_deletes(block: &Block) -> Option<Vec<RangeTombstone>> {
    let mut it = block.iter();
    let mut out: Vec<RangeTombstone> = Vec::new();
    while let Some(e) = it.next_entry() {
        let start = it.key();
        if e.kind != Kind::RangeDelete || e.value <= start {
            return None;
        }
        if let Some(last) = out.last() {
            if compare_internal(&last.start, last.seq, start, e.seq) != Ordering::Less {
                return None;
            }
        }
        out.push(RangeTombstone { start: start.to_vec(), end: e.value.to_vec(), seq: e.seq });
    }
    (!it.is_corrupt()).then_some(out)
}

/// An open table.
pub struct Table {
    number: u64,
    cache: Arc<BlockCache>,
    name: String,
    file: Arc<dyn ReadableFile>,
    index: Index,
    /// The Bloom filter, once loaded. A table of the deepest level of a large database is
    /// opened without it (`FilterBudget`): a read of a key it holds needs no filter, and
    /// the filter of a large database's deepest level is most of its metadata. Set at most
    /// once, later, if the table stops being the deepest (one atomic load on the read path).
    filter: OnceLock<Vec<u8>>,
    footer: Footer,
    /// The range-delete block, fragmented; empty for tables without one.
    range_deletes: RangeDeletes,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").field("name", &self.name).field("blocks", &self.index.len()).finish_non_exhaustive()
    }
}

impl Table {
    /// Opens and checks a table file; reads its filter into memory if `load_filter`.
    pub fn open(
        storage: &dyn Storage,
        path: &Path,
        number: u64,
        cache: Arc<BlockCache>,
        load_filter: bool,
    ) -> Result<Self> {
        let name = path.display().to_string();
        let file = storage.open_read(path).ctx(|| format!("opening table {name}"))?;
        let len = file.len_bytes();
        if len < (HEADER_BYTES + FOOTER_BYTES) as u64 {
            return Err(Error::corruption(name, 0, "table file too short"));
        }
        let mut head = [0u8; HEADER_BYTES];
        file.read_exact_at(&mut head, 0).ctx(|| format!("reading header of {name}"))?;
        let header = Header::decode(&head).map_err(|what| Error::corruption(&name, 0, what))?;
        if header.file_kind != FILE_KIND_TABLE || header.table_number != number {
            return Err(Error::corruption(name, 0, "header names another file"));
        }
        let footer_at = len - FOOTER_BYTES as u64;
        let mut foot = [0u8; FOOTER_BYTES];
        file.read_exact_at(&mut foot, footer_at).ctx(|| format!("reading footer of {name}"))?;
        let footer = Footer::decode(&foot).map_err(|what| Error::corruption(&name, footer_at, what))?;
        let mut table = Self {
            number,
            cache,
            name,
            file,
            index: Index::default(),
            filter: OnceLock::new(),
            footer,
            range_deletes: RangeDeletes::default(),
        };
        for h in [table.footer.filter, table.footer.index] {
            if h.offset.saturating_add(u64::from(h.size) + BLOCK_TRAILER_BYTES as u64) > footer_at {
                return Err(Error::corruption(&table.name, footer_at, "block handle past the footer"));
            }
        }
        if load_filter {
            table.load_filter()?;
        }
        table.index = table.load_index()?;
        if header.flags & FLAG_HAS_RANGE_DELETES != 0 {
            let handle = range_delete_handle(&table.footer, footer_at)
                .ok_or_else(|| Error::corruption(&table.name, footer_at, "range-delete block missing"))?;
            let block = table.read_block(handle)?;
            let tombstones = decode_range_deletes(&block)
                .ok_or_else(|| Error::corruption(&table.name, handle.offset, "malformed range-delete block"))?;
            table.range_deletes = RangeDeletes::new(tombstones);
        }
        Ok(table)
    }

    /// Reads the filter into memory if it is not there yet (a background thread's work: it
    /// reads the file).
    pub fn load_filter(&self) -> Result<()> {
        if self.filter.get().is_none() {
            let filter = self.read_raw(self.footer.filter)?;
            // Two loads racing both read it; the first one set stays.
            let _ = self.filter.set(filter);
        }
        Ok(())
    }

    /// Whether the filter is in memory (reads of absent keys may then skip the table).
    #[must_use]
    pub fn has_filter(&self) -> bool {
        self.filter.get().is_some()
    }

    /// The table's range tombstones (empty for most tables).
    #[must_use]
    pub const fn range_deletes(&self) -> &RangeDeletes {
        &self.range_deletes
    }

    fn load_index(&self) -> Result<Index> {
        let block = self.read_block(self.footer.index)?;
        let mut it = block.iter();
        let (mut keys, mut key_ends, mut last_seqs, mut handles) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let bad = || Error::corruption(&self.name, self.footer.index.offset, "bad block handle in index");
        while let Some(e) = it.next_entry() {
            handles.push(BlockHandle::decode(e.value).ok_or_else(bad)?);
            keys.extend_from_slice(it.key());
            key_ends.push(u32::try_from(keys.len()).map_err(|_| bad())?);
            last_seqs.push(e.seq);
        }
        if it.is_corrupt() {
            return Err(Error::corruption(&self.name, self.footer.index.offset, "malformed index block"));
        }
        Index::build(keys, &key_ends, last_seqs, &handles).ok_or_else(bad)
    }

    fn read_raw(&self, handle: BlockHandle) -> Result<Vec<u8>> {
        self.read_raw_from(handle, false)?.ok_or_else(|| Error::Internal("a blocking read did not read".into()))
    }

    /// Reads and checks a block's stored bytes; with `nowait`, `Ok(None)` unless the bytes
    /// come straight from the OS page cache.
    fn read_raw_from(&self, handle: BlockHandle, nowait: bool) -> Result<Option<Vec<u8>>> {
        let len = handle.size as usize + BLOCK_TRAILER_BYTES;
        if handle.offset.saturating_add(len as u64) > self.file.len_bytes() {
            return Err(Error::corruption(&self.name, handle.offset, "block extends past the end of the file"));
        }
        with_read_buffer(len, |buf| {
            let context = || format!("reading {} at {}", self.name, handle.offset);
            if nowait {
                if !self.file.read_exact_at_nowait(buf, handle.offset).ctx(context)? {
                    return Ok(None);
                }
            } else {
                self.file.read_exact_at(buf, handle.offset).ctx(context)?;
            }
            decode_stored(buf).map(Some).map_err(|what| Error::corruption(&self.name, handle.offset, what))
        })
    }

    fn read_block(&self, handle: BlockHandle) -> Result<Block> {
        let raw = self.read_raw(handle)?;
        Block::new(raw).map_err(|what| Error::corruption(&self.name, handle.offset, what))
    }

    /// The data block that may hold `key` at `seq`; `None` when the filter or the index
    /// rules the key out (no block needs reading).
    #[must_use]
    /// `key_hash` is `filter::key_hash(key)`, computed once per read for every table.
    pub fn locate(&self, key: &[u8], key_hash: u64, seq: u64) -> Option<BlockHandle> {
        if self.filter.get().is_some_and(|f| !filter::may_contain(f, key_hash)) {
            return None;
        }
        let index = &self.index;
        let at = index
            .partition_point(key, |k, sought, i| compare_internal(k, index.last_seq(i), sought, seq) == Ordering::Less);
        index.handle(at)
    }

    /// About how many bytes of data blocks hold stored keys in `[start, end)`, from the index
    /// alone (no block read): the distance between the blocks where `start` and `end` would
    /// go, so a range inside one block counts as nothing.
    #[must_use]
    pub fn approximate_bytes_in_range(&self, start: &[u8], end: &[u8]) -> u64 {
        let data_end = HEADER_BYTES as u64 + self.footer.data_size;
        let offset_of = |key: &[u8]| {
            let index = &self.index;
            let at = index.partition_point(key, |k, sought, i| {
                compare_internal(k, index.last_seq(i), sought, u64::MAX) == Ordering::Less
            });
            index.handle(at).map_or(data_end, |h| h.offset)
        };
        offset_of(end).saturating_sub(offset_of(start))
    }

    /// The block at `handle`, from the cache or read, checked and cached. With `cache_only`
    /// it reads only what is in memory (block cache or OS page cache) and answers `Ok(None)`
    /// when the disk would be needed (the caller must then read off the JS thread).
    pub fn block(&self, handle: BlockHandle, cache_only: bool) -> Result<Option<Arc<Block>>> {
        self.block_with(handle, cache_only, true)
    }

    /// `block`, choosing whether a block read from the file is cached (compaction reads each
    /// block once and must not push hot blocks out).
    pub fn block_with(&self, handle: BlockHandle, cache_only: bool, fill_cache: bool) -> Result<Option<Arc<Block>>> {
        let key = (self.number, handle.offset);
        let cached = if fill_cache { self.cache.get(key) } else { self.cache.peek(key) };
        if let Some(block) = cached {
            return Ok(Some(block));
        }
        let block = if cache_only {
            // Memory only: the block cache, else the OS page cache without waiting for a disk.
            let Some(raw) = self.read_raw_from(handle, true)? else { return Ok(None) };
            Arc::new(Block::new(raw).map_err(|what| Error::corruption(&self.name, handle.offset, what))?)
        } else {
            Arc::new(self.read_block(handle)?)
        };
        if fill_cache {
            self.cache.insert(key, Arc::clone(&block));
        }
        Ok(Some(block))
    }

    /// Looks up `key` at `seq` in a block `locate` chose; also says whether the version found
    /// carries an expiry time, and its sequence number (`u64::MAX` when absent).
    pub fn lookup<'b>(
        &self,
        block: &'b Block,
        handle: BlockHandle,
        key: &[u8],
        seq: u64,
        now_ms: impl FnOnce() -> u64,
    ) -> Result<(Lookup<&'b [u8]>, bool, u64)> {
        let mut it = block.iter();
        let found = it.seek(key, seq);
        if it.is_corrupt() {
            return Err(Error::corruption(&self.name, handle.offset, "malformed data block"));
        }
        Ok(match found {
            Some(e) if it.key() == key => (resolve(e.kind, e.expiry_ms, e.value, now_ms), e.kind.has_expiry(), e.seq),
            _ => (Lookup::Absent, false, u64::MAX),
        })
    }

    /// Looks up the newest version of `key` visible at `seq`, reading from disk if needed;
    /// the table's own range tombstones apply.
    pub fn get<R>(&self, key: &[u8], seq: u64, now_ms: u64, f: impl FnOnce(Lookup<&[u8]>) -> R) -> Result<R> {
        let range_seq = self.range_deletes.covering_seq(key, seq);
        let Some(handle) = self.locate(key, filter::key_hash(key), seq) else {
            return Ok(f(if range_seq > 0 { Lookup::Deleted } else { Lookup::Absent }));
        };
        let block = self.block(handle, false)?.ok_or_else(|| Error::Internal("uncached block after a read".into()))?;
        let (found, _, version_seq) = self.lookup(&block, handle, key, seq, || now_ms)?;
        Ok(f(match found {
            Lookup::Absent if range_seq == 0 => Lookup::Absent,
            Lookup::Absent => Lookup::Deleted,
            _ if version_seq < range_seq => Lookup::Deleted,
            found => found,
        }))
    }

    /// Heap bytes the open table keeps besides cached blocks: filter, index keys, entries,
    /// probes (allocated capacity, what the allocator holds).
    #[must_use]
    pub fn metadata_bytes(&self) -> usize {
        self.filter.get().map_or(0, Vec::capacity) + self.index.size_bytes()
    }

    /// Number of data blocks.
    #[must_use]
    pub fn block_count(&self) -> usize {
        self.index.len()
    }

    /// The handle of data block `i`.
    #[must_use]
    pub fn block_handle(&self, i: usize) -> Option<BlockHandle> {
        self.index.handle(i)
    }

    /// The index of the first data block whose last stored key is `>= key` (or `> key` when
    /// `inclusive` is false); `block_count()` if none.
    #[must_use]
    pub fn first_block_reaching(&self, key: &[u8], inclusive: bool) -> usize {
        if inclusive {
            self.index.partition_point(key, |k, sought, _| k < sought)
        } else {
            self.index.partition_point(key, |k, sought, _| k <= sought)
        }
    }

    /// Takes this table's blocks out of the block cache, each with its heat (a compaction
    /// merged the table away; `Db::carry_heat`).
    #[must_use]
    pub fn take_cached_blocks(&self) -> Vec<(Arc<Block>, u8)> {
        self.cache.take_table(self.number)
    }

    /// Reads data block `i` and caches it as if read `heat` times lately: it holds keys of
    /// blocks that were that hot before a compaction rewrote them (`Db::carry_heat`), or keys
    /// read while in the memtable a flush just wrote (`Db::warm_read_blocks`). Returns the
    /// block's decoded bytes (0 when there is no block `i`).
    pub fn warm_block(&self, i: usize, heat: u8) -> Result<usize> {
        let Some(handle) = self.index.handle(i) else { return Ok(0) };
        let Some(block) = self.block_with(handle, false, false)? else { return Ok(0) };
        let bytes = block.size_bytes();
        self.cache.insert_with_heat((self.number, handle.offset), block, heat);
        Ok(bytes)
    }

    /// Reports a malformed block found by an iterator.
    #[must_use]
    pub fn corrupt_block(&self, handle: BlockHandle) -> Error {
        Error::corruption(&self.name, handle.offset, "malformed data block")
    }

    /// The table's file number.
    #[must_use]
    pub const fn number(&self) -> u64 {
        self.number
    }

    /// Entries in the table.
    #[must_use]
    pub const fn entry_count(&self) -> u64 {
        self.footer.entry_count
    }

    /// File name, for errors.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn index_of_probes(mut probes: Vec<u64>) -> Index {
        probes.sort_unstable();
        let mut index = Index { probes, ..Index::default() };
        index.group_probes();
        index
    }

    /// Sorted distinct keys from `seeds`, each given a handle and a sequence number.
    fn entries_of(seeds: &[(u16, u8)], prefix: &[u8], seqs: bool) -> Vec<(Vec<u8>, u64, BlockHandle)> {
        let mut keys: Vec<Vec<u8>> = seeds
            .iter()
            .map(|&(n, len)| [prefix, format!("{n:05}").as_bytes(), &vec![b'z'; usize::from(len % 12)]].concat())
            .collect();
        keys.sort();
        keys.dedup();
        let handle = |i: usize| BlockHandle { offset: 100 * i as u64, size: 90 + i as u32 };
        keys.into_iter().enumerate().map(|(i, k)| (k, if seqs { 7 + i as u64 } else { 0 }, handle(i))).collect()
    }

    proptest! {
        /// The index keeps only what follows the shared prefix and drops all-zero sequence
        /// numbers, yet every search answers as a plain binary search over the full entries.
        #[test]
        fn the_compact_index_searches_like_its_full_entries(
            seeds in proptest::collection::vec((0u16..400, 0u8..40), 1..120),
            sought in (0u16..420, 0u8..40),
            seq in 0u64..200,
            with_seqs: bool,
            prefix in proptest::sample::select(vec![&b""[..], b"\x01history:", b"\x01bookmark:http://"]),
        ) {
            let entries = entries_of(&seeds, prefix, with_seqs);
            let mut keys = Vec::new();
            let mut key_ends = Vec::new();
            for (key, _, _) in &entries {
                keys.extend_from_slice(key);
                key_ends.push(keys.len() as u32);
            }
            let seqs = entries.iter().map(|(_, s, _)| *s).collect();
            let handles: Vec<BlockHandle> = entries.iter().map(|(_, _, h)| *h).collect();
            let index = Index::build(keys, &key_ends, seqs, &handles).expect("index");
            prop_assert_eq!(index.len(), entries.len());
            prop_assert_eq!(index.last_seqs.is_empty(), !with_seqs);
            for (i, (key, last_seq, handle)) in entries.iter().enumerate() {
                prop_assert_eq!([index.prefix.as_slice(), index.suffix(i).as_slice()].concat(), key.clone());
                prop_assert_eq!(index.last_seq(i), *last_seq);
                prop_assert_eq!(index.handle(i), Some(*handle));
            }
            let mut sought_keys = vec![
                [prefix, format!("{:05}", sought.0).as_bytes(), &vec![b'z'; usize::from(sought.1 % 12)]].concat(),
                b"\x00".to_vec(),
                b"\xff".to_vec(),
            ];
            sought_keys.extend(entries.iter().map(|(k, _, _)| k.clone()));
            for key in &sought_keys {
                let internal = index.partition_point(key, |k, sought, i| {
                    compare_internal(k, index.last_seq(i), sought, seq) == Ordering::Less
                });
                let plain = entries.partition_point(|(k, s, _)| compare_internal(k, *s, key, seq) == Ordering::Less);
                prop_assert_eq!(internal, plain);
                prop_assert_eq!(index.partition_point(key, |k, sought, _| k < sought), entries.partition_point(|(k, _, _)| k < key));
                prop_assert_eq!(index.partition_point(key, |k, sought, _| k <= sought), entries.partition_point(|(k, _, _)| k <= key));
            }
        }

        /// The two-step search finds what one binary search over all probes finds, with ties
        /// (few or many, inside a group or across groups) and sought values inside, between,
        /// below and above the probes.
        #[test]
        fn grouped_probe_search_matches_a_plain_binary_search(
            probes in proptest::collection::vec(0u64..64, 0..200),
            wanted in 0u64..70,
        ) {
            let index = index_of_probes(probes);
            let lo = index.first_probe_not_below(wanted);
            prop_assert_eq!(lo, index.probes.partition_point(|&p| p < wanted));
            prop_assert_eq!(index.first_probe_above(lo, wanted), index.probes.partition_point(|&p| p <= wanted));
        }
    }
}

//! The memtable's byte arena: keys and values appended to chunks, as LevelDB's memtable keeps
//! them. A version then costs its bytes and a fixed-size slot, instead of two reference-counted
//! allocations with their counters and malloc headers (about 370 B for a 17-byte key with a
//! 150-byte value before, against about 200 B for LevelDB's arena; docs/design.md "Memory").
//!
//! Bytes once written never move and are never freed until the arena is dropped: a chunk is
//! allocated at its full capacity and only ever appended to within it. That is what lets the
//! memtable's ordered map hold keys as pointers into the arena (`ArenaKey`).

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ptr::NonNull;

use super::malloc_bytes;

/// The first chunk's capacity: a memtable of a few keys (a small per-site database's, whose
/// `writeBufferSize` may be 64 KiB) takes a few KiB, not a full chunk.
const FIRST_CHUNK_BYTES: usize = 1024;

/// Chunks double from `FIRST_CHUNK_BYTES` up to this capacity.
const CHUNK_BYTES_MAX: usize = 256 * 1024;

/// An item larger than this gets a chunk of its own, so the unused tail a chunk is left with
/// when the next item does not fit stays under a quarter of it (LevelDB: 1 KiB of 4 KiB).
const OWN_CHUNK_BYTES_MIN: usize = CHUNK_BYTES_MAX / 4;

/// Where an item lies in the arena. A zero-length span names no chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Span {
    chunk: u32,
    start: u32,
    len: u32,
}

impl Span {
    /// The item's length in bytes.
    pub const fn len(self) -> usize {
        self.len as usize
    }
}

/// Append-only byte storage in chunks.
#[derive(Default)]
pub struct Arena {
    chunks: Vec<Vec<u8>>,
    /// The chunk items are appended to; items of `OWN_CHUNK_BYTES_MIN` and more get chunks of
    /// their own beside it.
    current: Option<usize>,
    /// Capacity of the last chunk made for small items (the next one doubles it).
    last_shared_chunk_bytes: usize,
    /// Bytes the allocator takes for the chunks (`malloc_bytes` of each capacity).
    chunk_bytes: usize,
}

impl Arena {
    /// Copies `bytes` into the arena.
    pub fn push(&mut self, bytes: &[u8]) -> Span {
        if bytes.is_empty() {
            return Span::default();
        }
        let len = bytes.len();
        let chunk = if len >= OWN_CHUNK_BYTES_MIN {
            self.new_chunk(len)
        } else {
            match self.current {
                Some(c) if self.chunks[c].capacity() - self.chunks[c].len() >= len => c,
                _ => {
                    let capacity = self.next_shared_chunk_bytes();
                    self.last_shared_chunk_bytes = capacity;
                    let c = self.new_chunk(capacity.max(len));
                    self.current = Some(c);
                    c
                }
            }
        };
        let buf = &mut self.chunks[chunk];
        let start = buf.len();
        // Within capacity, so the buffer is not reallocated: bytes written earlier stay where
        // `ArenaKey`s point.
        assert!(buf.capacity() - start >= len, "an arena chunk never grows");
        buf.extend_from_slice(bytes);
        Span {
            chunk: u32::try_from(chunk).expect("an arena has fewer than 2^32 chunks"),
            start: u32::try_from(start).expect("a chunk is smaller than 4 GiB"),
            len: u32::try_from(len).expect("an item is smaller than 4 GiB"),
        }
    }

    /// Allocator bytes `data_bytes` more of items may add at most: nothing when they fit in
    /// the current chunk's free bytes (and none can be large enough for a chunk of its own),
    /// else a new shared chunk, chunks of their own, and the array of chunks growing.
    pub fn growth_bound(&self, data_bytes: usize) -> usize {
        let free = self.current.map_or(0, |c| self.chunks[c].capacity() - self.chunks[c].len());
        if data_bytes <= free && data_bytes < OWN_CHUNK_BYTES_MIN {
            return 0;
        }
        let next = self.next_shared_chunk_bytes();
        // A shared chunk and chunks of their own (together at most the data), and the array of
        // chunks, which may double.
        let array = (self.chunks.len() + 2).next_power_of_two().max(4) * std::mem::size_of::<Vec<u8>>();
        malloc_bytes(next) + malloc_bytes(data_bytes) + malloc_bytes(array)
    }

    /// Capacity of the next chunk for small items: double the last one's, within bounds.
    fn next_shared_chunk_bytes(&self) -> usize {
        (self.last_shared_chunk_bytes * 2).clamp(FIRST_CHUNK_BYTES, CHUNK_BYTES_MAX)
    }

    fn new_chunk(&mut self, capacity: usize) -> usize {
        self.chunks.push(Vec::with_capacity(capacity));
        self.chunk_bytes += malloc_bytes(capacity);
        self.chunks.len() - 1
    }

    /// The bytes of an item.
    pub fn get(&self, span: Span) -> &[u8] {
        if span.len == 0 {
            return &[];
        }
        let start = span.start as usize;
        &self.chunks[span.chunk as usize][start..start + span.len as usize]
    }

    /// A pointer to an item, for the ordered map (see `ArenaKey`).
    pub fn key(&self, span: Span) -> ArenaKey {
        let bytes = self.get(span);
        ArenaKey { ptr: NonNull::from(bytes).cast::<u8>(), len: bytes.len() }
    }

    /// Bytes the allocator takes for the arena: the chunks and the array of them.
    pub fn size_bytes(&self) -> usize {
        let array = self.chunks.capacity() * std::mem::size_of::<Vec<u8>>();
        self.chunk_bytes + if array > 0 { malloc_bytes(array) } else { 0 }
    }
}

/// An item of an arena, held by pointer so an ordered map can compare keys without owning a
/// copy of each (a `BTreeMap` cannot consult the arena for them).
///
/// Valid only while its arena lives: the memtable keeps every `ArenaKey` in the ordered map
/// that sits beside its arena in one struct, and never hands one out.
#[derive(Clone, Copy)]
pub struct ArenaKey {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: an `ArenaKey` is a read-only view of bytes that no one writes after they were
// appended; sharing or sending it shares only reads of immutable bytes.
#[allow(unsafe_code)]
unsafe impl Send for ArenaKey {}
// SAFETY: as for `Send`.
#[allow(unsafe_code)]
unsafe impl Sync for ArenaKey {}

impl ArenaKey {
    /// The key's bytes.
    #[allow(unsafe_code)]
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` and `len` came from a live slice of an arena chunk (`Arena::key`). The
        // chunk's buffer is never reallocated (appends stay within its capacity), never
        // written at those bytes again, and freed only with the arena, which outlives every
        // key made from it (module docs).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl PartialEq for ArenaKey {
    fn eq(&self, other: &Self) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for ArenaKey {}

impl PartialOrd for ArenaKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for ArenaKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.bytes().cmp(other.bytes())
    }
}

impl Borrow<[u8]> for ArenaKey {
    fn borrow(&self) -> &[u8] {
        self.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_back_after_the_chunks_fill_and_keys_keep_pointing_at_them() {
        let mut arena = Arena::default();
        let items: Vec<Vec<u8>> =
            (0..20_000u32).map(|i| format!("item {i} {}", "x".repeat((i % 300) as usize)).into_bytes()).collect();
        let spans: Vec<Span> = items.iter().map(|b| arena.push(b)).collect();
        let keys: Vec<ArenaKey> = spans.iter().map(|&s| arena.key(s)).collect();
        // A large item gets its own chunk; small items keep filling the shared one.
        let big = vec![7u8; OWN_CHUNK_BYTES_MIN + 1];
        let big_span = arena.push(&big);
        let after = arena.push(b"after the big one");
        assert_eq!(arena.get(big_span), &big[..]);
        assert_eq!(arena.get(after), b"after the big one");
        for ((item, &span), key) in items.iter().zip(&spans).zip(&keys) {
            assert_eq!(arena.get(span), &item[..]);
            assert_eq!(key.bytes(), &item[..]);
        }
        assert_eq!(arena.push(b""), Span::default());
        assert_eq!(arena.get(Span::default()), b"");
        // Chunks grow to CHUNK_BYTES_MAX: the waste of the shared chunks' tails is small.
        let stored: usize = items.iter().map(Vec::len).sum::<usize>() + big.len() + 17;
        let taken = arena.size_bytes();
        assert!(taken < stored + stored / 10 + CHUNK_BYTES_MAX, "{taken} B for {stored} B");
    }

    #[test]
    fn growth_stays_within_its_bound() {
        let mut arena = Arena::default();
        let mut rng = 7u64;
        for _ in 0..5000 {
            rng = rng.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = if rng.is_multiple_of(97) { OWN_CHUNK_BYTES_MIN + 10 } else { (rng >> 40) as usize % 3000 };
            let bound = arena.growth_bound(len);
            let before = arena.size_bytes();
            arena.push(&vec![1u8; len]);
            assert!(arena.size_bytes() - before <= bound, "{len} B grew {} > {bound}", arena.size_bytes() - before);
        }
    }

    #[test]
    fn a_small_arena_takes_a_small_chunk() {
        let mut arena = Arena::default();
        arena.push(b"\x01history:000000001");
        assert!(arena.size_bytes() <= FIRST_CHUNK_BYTES + 256, "{}", arena.size_bytes());
    }
}

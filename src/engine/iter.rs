//! Ordered reads: a merging iterator over the memtables and tables at a snapshot.
//!
//! Each layer is a [`Source`] that walks its entries in internal-key order (stored key
//! ascending, sequence descending) or exactly backwards. [`DbIterator`] merges the sources,
//! keeps only the newest version of each key visible at its snapshot, hides tombstones and
//! expired values, and stops at the range bounds.
//!
//! Pages: the binding asks for a page of entries at a time (bounded by count and bytes). A
//! page may run `cache_only` on the JS thread; when it would need a block from the file it
//! stops, and the next page (on the libuv pool) re-seeks every source just past the last key
//! it finished, so no state is lost. `seek` and direction changes work the same way.
//!
//! Lifetime: an iterator holds `Arc`s of the memtables and tables it reads and a snapshot
//! registration, so later flushes neither free what it reads nor prune versions it can see.

use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use super::db::{Db, Snapshot};
use super::error::{Error, Result};
use super::key::{compare_internal, Keyspace, Kind};
use super::memtable::{MemEntry, Memtable};
use super::range_del::RangeDeletes;
use super::table::block::Block;
use super::version::{Levels, LiveTable};

/// Keys a memtable source copies out per lock acquisition.
const MEM_CHUNK_KEYS: usize = 64;

/// One entry as a source exposes it; borrows from the source.
#[derive(Debug, Clone, Copy)]
pub struct EntryRef<'a> {
    /// Stored key.
    pub key: &'a [u8],
    /// Sequence number.
    pub seq: u64,
    /// Kind.
    pub kind: Kind,
    /// Expiry for `PutWithExpiry`.
    pub expiry_ms: u64,
    /// Value bytes.
    pub value: &'a [u8],
}

impl EntryRef<'_> {
    /// Whether this version is a live value at `now_ms`.
    fn is_live(&self, now_ms: u64) -> bool {
        match self.kind {
            Kind::Put => true,
            Kind::PutWithExpiry => self.expiry_ms > now_ms,
            Kind::Delete | Kind::RangeDelete => false,
        }
    }
}

/// Whether a step could finish from memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Done,
    NeedsDisk,
}

/// One layer of the database, walked in one direction.
trait Source: Send {
    /// Positions at the first entry in walking order at or past `target`: forward, the first
    /// entry whose key is `>= target` (`>` if excluded); reverse, the last whose key is
    /// `<= target` (`<`). Unbounded means the first (last) entry.
    fn seek(&mut self, target: Bound<&[u8]>, cache_only: bool) -> Result<Step>;
    /// The current entry, `None` when exhausted.
    fn current(&self) -> Option<EntryRef<'_>>;
    /// Moves one entry on in walking order.
    fn advance(&mut self, cache_only: bool) -> Result<Step>;
}

// ---------------------------------------------------------------------------------------------
// Memtable source

/// Walks a memtable by copying out chunks of entries (keys and values are shared `Arc`s), so
/// no lock is held between calls and writers are never blocked for long.
struct MemSource {
    mem: Arc<Memtable>,
    reverse: bool,
    /// The iterator's far bound: upper when walking forward, lower when walking backwards.
    far: Bound<Arc<[u8]>>,
    buf: Vec<MemEntry>,
    pos: usize,
    exhausted: bool,
}

impl MemSource {
    fn fill(&mut self, near: Bound<&[u8]>) {
        self.buf.clear();
        self.pos = 0;
        let far = as_ref_bound(&self.far);
        let (lower, upper) = if self.reverse { (far, near) } else { (near, far) };
        let taken = self.mem.collect_range(lower, upper, self.reverse, MEM_CHUNK_KEYS, &mut self.buf);
        self.exhausted = taken < MEM_CHUNK_KEYS;
    }
}

impl Source for MemSource {
    fn seek(&mut self, target: Bound<&[u8]>, _cache_only: bool) -> Result<Step> {
        self.fill(target);
        Ok(Step::Done)
    }

    fn current(&self) -> Option<EntryRef<'_>> {
        self.buf.get(self.pos).map(|e| EntryRef {
            key: &e.key,
            seq: e.version.seq,
            kind: e.version.kind,
            expiry_ms: e.version.expiry_ms,
            value: &e.version.value,
        })
    }

    fn advance(&mut self, _cache_only: bool) -> Result<Step> {
        self.pos += 1;
        if self.pos >= self.buf.len() && !self.exhausted {
            if let Some(last) = self.buf.last().map(|e| Arc::clone(&e.key)) {
                self.fill(Bound::Excluded(&last));
            }
        }
        Ok(Step::Done)
    }
}

// ---------------------------------------------------------------------------------------------
// Table source

/// One decoded entry of a block: its key is `keys[previous key_end..key_end]`.
#[derive(Debug, Clone, Copy)]
struct Item {
    key_end: u32,
    seq: u64,
    kind: Kind,
    expiry_ms: u64,
    value_start: u32,
    value_len: u32,
}

/// A data block decoded into a random-access list (prefix-compressed entries can only be
/// decoded forwards; the list lets a reverse walk step back).
struct Decoded {
    block: Arc<Block>,
    keys: Vec<u8>,
    items: Vec<Item>,
}

impl Decoded {
    fn new(block: Arc<Block>) -> Option<Self> {
        let mut keys = Vec::new();
        let mut items = Vec::new();
        let mut it = block.iter();
        while let Some(e) = it.next_entry() {
            keys.extend_from_slice(it.key());
            items.push(Item {
                key_end: u32::try_from(keys.len()).ok()?,
                seq: e.seq,
                kind: e.kind,
                expiry_ms: e.expiry_ms,
                value_start: u32::try_from(block.offset_of(e.value)).ok()?,
                value_len: u32::try_from(e.value.len()).ok()?,
            });
        }
        if it.is_corrupt() {
            return None;
        }
        Some(Self { block, keys, items })
    }

    fn key(&self, i: usize) -> &[u8] {
        let start = i.checked_sub(1).and_then(|p| self.items.get(p)).map_or(0, |p| p.key_end as usize);
        let end = self.items.get(i).map_or(start, |it| it.key_end as usize);
        self.keys.get(start..end).unwrap_or_default()
    }

    fn entry(&self, i: usize) -> Option<EntryRef<'_>> {
        let it = self.items.get(i)?;
        Some(EntryRef {
            key: self.key(i),
            seq: it.seq,
            kind: it.kind,
            expiry_ms: it.expiry_ms,
            value: self.block.bytes(it.value_start as usize, it.value_len as usize),
        })
    }

    /// First item whose key is `>= key` (`> key` when not inclusive).
    fn first_reaching(&self, key: &[u8], inclusive: bool) -> usize {
        let (mut lo, mut hi) = (0, self.items.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let below = if inclusive { self.key(mid) < key } else { self.key(mid) <= key };
            if below {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// Walks one table block by block.
struct TableSource {
    table: Arc<LiveTable>,
    reverse: bool,
    /// Whether blocks read from the file go into the block cache (not for compaction).
    fill_cache: bool,
    block_index: usize,
    decoded: Option<Decoded>,
    pos: usize,
}

impl TableSource {
    /// Loads block `i`; `Ok(false)` when `cache_only` and it is not cached.
    fn load(&mut self, i: usize, cache_only: bool) -> Result<bool> {
        self.decoded = None;
        let Some(handle) = self.table.block_handle(i) else { return Ok(true) };
        let Some(block) = self.table.block_with(handle, cache_only, self.fill_cache)? else { return Ok(false) };
        let decoded = Decoded::new(block).ok_or_else(|| self.table.corrupt_block(handle))?;
        self.block_index = i;
        self.decoded = Some(decoded);
        Ok(true)
    }

    fn step_of(loaded: bool) -> Step {
        if loaded {
            Step::Done
        } else {
            Step::NeedsDisk
        }
    }

    /// Forward: from block `i`, the first item at or past the target (or the next block's first).
    fn seek_forward(&mut self, target: Bound<&[u8]>, cache_only: bool) -> Result<Step> {
        let i = match target {
            Bound::Unbounded => 0,
            Bound::Included(k) => self.table.first_block_reaching(k, true),
            Bound::Excluded(k) => self.table.first_block_reaching(k, false),
        };
        if i >= self.table.block_count() {
            self.decoded = None;
            return Ok(Step::Done);
        }
        if !self.load(i, cache_only)? {
            return Ok(Step::NeedsDisk);
        }
        self.pos = match (target, &self.decoded) {
            (Bound::Included(k), Some(d)) => d.first_reaching(k, true),
            (Bound::Excluded(k), Some(d)) => d.first_reaching(k, false),
            _ => 0,
        };
        if self.decoded.as_ref().is_some_and(|d| self.pos >= d.items.len()) {
            return self.next_block(cache_only);
        }
        Ok(Step::Done)
    }

    /// Reverse: the last item at or before the target.
    fn seek_reverse(&mut self, target: Bound<&[u8]>, cache_only: bool) -> Result<Step> {
        let count = self.table.block_count();
        // The first block whose last key passes the target may still start before it.
        let i = match target {
            Bound::Unbounded => count,
            Bound::Included(k) => self.table.first_block_reaching(k, false),
            Bound::Excluded(k) => self.table.first_block_reaching(k, true),
        };
        let i = i.min(count.saturating_sub(1));
        if count == 0 {
            self.decoded = None;
            return Ok(Step::Done);
        }
        if !self.load(i, cache_only)? {
            return Ok(Step::NeedsDisk);
        }
        let before = match (target, &self.decoded) {
            (Bound::Included(k), Some(d)) => d.first_reaching(k, false),
            (Bound::Excluded(k), Some(d)) => d.first_reaching(k, true),
            (_, Some(d)) => d.items.len(),
            (_, None) => 0,
        };
        if before == 0 {
            return self.previous_block(cache_only);
        }
        self.pos = before - 1;
        Ok(Step::Done)
    }

    fn next_block(&mut self, cache_only: bool) -> Result<Step> {
        let next = self.block_index + 1;
        if next >= self.table.block_count() {
            self.decoded = None;
            return Ok(Step::Done);
        }
        let loaded = self.load(next, cache_only)?;
        self.pos = 0;
        Ok(Self::step_of(loaded))
    }

    fn previous_block(&mut self, cache_only: bool) -> Result<Step> {
        let Some(previous) = self.block_index.checked_sub(1) else {
            self.decoded = None;
            return Ok(Step::Done);
        };
        let loaded = self.load(previous, cache_only)?;
        self.pos = self.decoded.as_ref().map_or(0, |d| d.items.len().saturating_sub(1));
        Ok(Self::step_of(loaded))
    }
}

impl Source for TableSource {
    fn seek(&mut self, target: Bound<&[u8]>, cache_only: bool) -> Result<Step> {
        if self.reverse {
            self.seek_reverse(target, cache_only)
        } else {
            self.seek_forward(target, cache_only)
        }
    }

    fn current(&self) -> Option<EntryRef<'_>> {
        self.decoded.as_ref().and_then(|d| d.entry(self.pos))
    }

    fn advance(&mut self, cache_only: bool) -> Result<Step> {
        let Some(len) = self.decoded.as_ref().map(|d| d.items.len()) else { return Ok(Step::Done) };
        if self.reverse {
            if self.pos == 0 {
                return self.previous_block(cache_only);
            }
            self.pos -= 1;
        } else {
            self.pos += 1;
            if self.pos >= len {
                return self.next_block(cache_only);
            }
        }
        Ok(Step::Done)
    }
}

/// Walks one level of disjoint, key-ordered tables as a single source, opening one table at a
/// time.
struct LevelSource {
    tables: Vec<Arc<LiveTable>>,
    reverse: bool,
    fill_cache: bool,
    index: usize,
    current: Option<TableSource>,
}

impl LevelSource {
    /// Opens table `i` (if any) and positions it at `target`.
    fn open_at(&mut self, i: usize, target: Bound<&[u8]>, cache_only: bool) -> Result<Step> {
        self.index = i;
        let Some(table) = self.tables.get(i) else {
            self.current = None;
            return Ok(Step::Done);
        };
        let mut source = TableSource {
            table: Arc::clone(table),
            reverse: self.reverse,
            fill_cache: self.fill_cache,
            block_index: 0,
            decoded: None,
            pos: 0,
        };
        let step = source.seek(target, cache_only)?;
        self.current = Some(source);
        Ok(step)
    }

    /// Moves past an exhausted table to the next one in walking order.
    fn skip_exhausted(&mut self, cache_only: bool) -> Result<Step> {
        while self.current.as_ref().is_some_and(|c| c.current().is_none()) {
            let next = if self.reverse { self.index.checked_sub(1) } else { Some(self.index + 1) };
            let Some(next) = next.filter(|&n| n < self.tables.len()) else {
                self.current = None;
                return Ok(Step::Done);
            };
            if self.open_at(next, Bound::Unbounded, cache_only)? == Step::NeedsDisk {
                return Ok(Step::NeedsDisk);
            }
        }
        Ok(Step::Done)
    }
}

impl Source for LevelSource {
    fn seek(&mut self, target: Bound<&[u8]>, cache_only: bool) -> Result<Step> {
        let count = self.tables.len();
        let i = if self.reverse {
            // The last table whose smallest key is at or before the target.
            let after = match target {
                Bound::Unbounded => count,
                Bound::Included(k) => self.tables.partition_point(|t| t.meta.smallest.as_slice() <= k),
                Bound::Excluded(k) => self.tables.partition_point(|t| t.meta.smallest.as_slice() < k),
            };
            match after.checked_sub(1) {
                Some(i) => i,
                None => {
                    self.current = None;
                    return Ok(Step::Done);
                }
            }
        } else {
            match target {
                Bound::Unbounded => 0,
                Bound::Included(k) => self.tables.partition_point(|t| t.meta.largest.as_slice() < k),
                Bound::Excluded(k) => self.tables.partition_point(|t| t.meta.largest.as_slice() <= k),
            }
        };
        if self.open_at(i, target, cache_only)? == Step::NeedsDisk {
            return Ok(Step::NeedsDisk);
        }
        self.skip_exhausted(cache_only)
    }

    fn current(&self) -> Option<EntryRef<'_>> {
        self.current.as_ref().and_then(TableSource::current)
    }

    fn advance(&mut self, cache_only: bool) -> Result<Step> {
        let Some(current) = self.current.as_mut() else { return Ok(Step::Done) };
        if current.advance(cache_only)? == Step::NeedsDisk {
            return Ok(Step::NeedsDisk);
        }
        self.skip_exhausted(cache_only)
    }
}

// ---------------------------------------------------------------------------------------------
// The database iterator

/// Key range and direction of an iterator, in user keys.
#[derive(Debug, Clone)]
pub struct IterOptions {
    /// Lower bound.
    pub lower: Bound<Vec<u8>>,
    /// Upper bound.
    pub upper: Bound<Vec<u8>>,
    /// Walk from the upper end down.
    pub reverse: bool,
}

impl Default for IterOptions {
    fn default() -> Self {
        Self { lower: Bound::Unbounded, upper: Bound::Unbounded, reverse: false }
    }
}

impl IterOptions {
    /// All keys starting with `prefix` (and within the other bounds, if any).
    #[must_use]
    pub fn with_prefix(mut self, prefix: &[u8]) -> Self {
        self.lower = max_lower(self.lower, Bound::Included(prefix.to_vec()));
        if let Some(end) = prefix_end(prefix) {
            self.upper = min_upper(self.upper, Bound::Excluded(end));
        }
        self
    }
}

/// The smallest key greater than every key starting with `prefix`; `None` if there is none
/// (the prefix is all 0xff bytes).
#[must_use]
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

fn bound_key<T>(b: &Bound<T>) -> Option<&T> {
    match b {
        Bound::Included(k) | Bound::Excluded(k) => Some(k),
        Bound::Unbounded => None,
    }
}

/// The tighter of two lower bounds.
pub(crate) fn max_lower(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    tighter(a, b, Ordering::Greater)
}

/// The tighter of two upper bounds.
pub(crate) fn min_upper(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>) -> Bound<Vec<u8>> {
    tighter(a, b, Ordering::Less)
}

/// The tighter of two bounds on the same side: the one whose key compares `inward` to the
/// other's (greater for lower bounds, less for upper), or the excluded one on equal keys.
fn tighter(a: Bound<Vec<u8>>, b: Bound<Vec<u8>>, inward: Ordering) -> Bound<Vec<u8>> {
    match (bound_key(&a), bound_key(&b)) {
        (None, _) => b,
        (_, None) => a,
        (Some(x), Some(y)) => match x.cmp(y) {
            Ordering::Equal if matches!(a, Bound::Excluded(_)) => a,
            Ordering::Equal => b,
            order if order == inward => a,
            _ => b,
        },
    }
}

fn as_ref_bound<K: AsRef<[u8]>>(b: &Bound<K>) -> Bound<&[u8]> {
    match b {
        Bound::Included(k) => Bound::Included(k.as_ref()),
        Bound::Excluded(k) => Bound::Excluded(k.as_ref()),
        Bound::Unbounded => Bound::Unbounded,
    }
}

fn stored(b: Bound<Vec<u8>>, unbounded: Bound<Vec<u8>>, keyspace: Keyspace) -> Bound<Vec<u8>> {
    let tag = |k: Vec<u8>| {
        let mut s = Vec::with_capacity(k.len() + 1);
        s.push(keyspace as u8);
        s.extend_from_slice(&k);
        s
    };
    match b {
        Bound::Included(k) => Bound::Included(tag(k)),
        Bound::Excluded(k) => Bound::Excluded(tag(k)),
        Bound::Unbounded => unbounded,
    }
}

/// How a page ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageEnd {
    /// The page reached its entry or byte budget; more may follow.
    Full,
    /// The range is exhausted.
    Exhausted,
    /// (`cache_only`) a block must be read from the file; ask again off the JS thread.
    NeedsDisk,
}

/// Counts an iterator as live for `stats()`; decremented when the iterator is dropped.
struct LiveIterator(Db);

impl Drop for LiveIterator {
    fn drop(&mut self) {
        self.0.iterator_dropped();
    }
}

/// An ordered walk over the keys of one keyspace (the user's, unless the engine walks index
/// entries or metadata) at one snapshot.
pub struct DbIterator {
    live: LiveIterator,
    keyspace: Keyspace,
    snapshot: Snapshot,
    sources: Vec<Box<dyn Source>>,
    lower: Bound<Vec<u8>>,
    upper: Bound<Vec<u8>>,
    reverse: bool,
    /// Where the sources must be positioned before the next step, if anywhere.
    pending_seek: Option<Bound<Vec<u8>>>,
    /// Just past the last key fully processed (resume point after an interrupted page).
    resume: Bound<Vec<u8>>,
    finished: bool,
    /// A source stopped for an uncached block during this step (`cache_only`).
    interrupted: bool,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
    /// Every range tombstone of the iterator's memtables and tables visible at its snapshot
    /// (empty, and never consulted, when there is none).
    range_deletes: RangeDeletes,
}

/// The result of one step of the merge.
enum Advance {
    Emitted(usize),
    Skipped,
    End,
    NeedsDisk,
}

impl DbIterator {
    pub(crate) fn new(
        db: Db,
        snapshot: Snapshot,
        memtables: Vec<Arc<Memtable>>,
        levels: &Levels,
        options: IterOptions,
        keyspace: Keyspace,
    ) -> Self {
        db.iterator_created();
        let visible = snapshot.sequence();
        let mut tombstones = Vec::new();
        for mem in &memtables {
            tombstones.extend(mem.range_tombstones().into_iter().filter(|t| t.seq <= visible));
        }
        for table in levels.all().filter(|t| !t.range_deletes().is_empty()) {
            tombstones.extend(table.range_deletes().tombstones().filter(|t| t.seq <= visible));
        }
        let range_deletes = RangeDeletes::new(tombstones);
        let lower = stored(options.lower, Bound::Included(vec![keyspace as u8]), keyspace);
        let upper = stored(options.upper, Bound::Excluded(vec![keyspace as u8 + 1]), keyspace);
        let reverse = options.reverse;
        let far: Bound<Arc<[u8]>> = match if reverse { &lower } else { &upper } {
            Bound::Included(k) => Bound::Included(k.as_slice().into()),
            Bound::Excluded(k) => Bound::Excluded(k.as_slice().into()),
            Bound::Unbounded => Bound::Unbounded,
        };
        let mut sources: Vec<Box<dyn Source>> = Vec::with_capacity(memtables.len() + levels.len());
        for mem in memtables {
            sources.push(Box::new(MemSource {
                mem,
                reverse,
                far: far.clone(),
                buf: Vec::new(),
                pos: 0,
                exhausted: true,
            }));
        }
        for table in levels.level(0) {
            sources.push(Box::new(TableSource {
                fill_cache: true,
                table: Arc::clone(table),
                reverse,
                block_index: 0,
                decoded: None,
                pos: 0,
            }));
        }
        for level in 1..levels.depth() {
            let tables = levels.level(level);
            if !tables.is_empty() {
                sources.push(Box::new(LevelSource {
                    tables: tables.to_vec(),
                    reverse,
                    fill_cache: true,
                    index: 0,
                    current: None,
                }));
            }
        }
        let start = if reverse { upper.clone() } else { lower.clone() };
        let empty = super::memtable::range_is_empty(as_ref_bound(&lower), as_ref_bound(&upper));
        Self {
            live: LiveIterator(db),
            keyspace,
            snapshot,
            sources,
            lower,
            upper,
            reverse,
            pending_seek: Some(start.clone()),
            resume: start,
            finished: empty,
            interrupted: false,
            key_buf: Vec::new(),
            value_buf: Vec::new(),
            range_deletes,
        }
    }

    /// Repositions: forward, at the first key `>= target`; reverse, at the last `<= target`;
    /// never outside the iterator's bounds.
    pub fn seek(&mut self, target: &[u8]) {
        let mut key = Vec::with_capacity(target.len() + 1);
        key.push(self.keyspace as u8);
        key.extend_from_slice(target);
        let position = if self.reverse {
            min_upper(self.upper.clone(), Bound::Included(key))
        } else {
            max_lower(self.lower.clone(), Bound::Included(key))
        };
        self.resume = position.clone();
        self.pending_seek = Some(position);
        self.finished = false;
    }

    /// Emits up to `entries_max` entries (or about `bytes_max` bytes) to `f(user_key, value)`.
    /// With `cache_only`, stops with `NeedsDisk` before reading a block from a file.
    pub fn next_page(
        &mut self,
        entries_max: usize,
        bytes_max: usize,
        cache_only: bool,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<PageEnd> {
        self.next_page_with_expiry(entries_max, bytes_max, cache_only, |k, v, _| f(k, v))
    }

    /// `next_page`, also handing over each entry's expiry time (unix ms, 0 for none), so a
    /// copy of the database keeps its TTLs.
    pub fn next_page_with_expiry(
        &mut self,
        entries_max: usize,
        bytes_max: usize,
        cache_only: bool,
        mut f: impl FnMut(&[u8], &[u8], u64),
    ) -> Result<PageEnd> {
        self.live.0.check_open()?;
        if self.finished {
            return Ok(PageEnd::Exhausted);
        }
        if let Some(target) = self.pending_seek.take() {
            for source in &mut self.sources {
                if source.seek(as_ref_bound(&target), cache_only)? == Step::NeedsDisk {
                    self.pending_seek = Some(target);
                    return Ok(PageEnd::NeedsDisk);
                }
            }
        }
        let now = self.live.0.now_ms();
        let (mut entries, mut bytes) = (0usize, 0usize);
        while entries < entries_max && bytes < bytes_max {
            let step = if self.reverse {
                self.step_reverse(now, cache_only, &mut f)?
            } else {
                self.step_forward(now, cache_only, &mut f)?
            };
            match step {
                Advance::Emitted(size) => {
                    entries += 1;
                    bytes += size;
                }
                Advance::Skipped => {}
                Advance::End => {
                    self.finished = true;
                    return Ok(PageEnd::Exhausted);
                }
                Advance::NeedsDisk => self.interrupted = true,
            }
            if self.interrupted {
                // Sources may be half-moved: re-seek all of them past the last finished key.
                self.interrupted = false;
                self.pending_seek = Some(self.resume.clone());
                return Ok(PageEnd::NeedsDisk);
            }
        }
        Ok(PageEnd::Full)
    }

    /// The next entry as owned bytes (convenience for tests and maintenance code).
    pub fn next_entry(&mut self) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let mut out = None;
        self.next_page(1, usize::MAX, false, |k, v| out = Some((k.to_vec(), v.to_vec())))?;
        Ok(out)
    }

    /// The snapshot sequence number this iterator reads at.
    #[must_use]
    pub fn sequence(&self) -> u64 {
        self.snapshot.sequence()
    }

    /// The snapshot this iterator reads at.
    #[must_use]
    pub const fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    fn top(&self) -> Option<usize> {
        top_index(&self.sources, self.reverse)
    }

    fn out_of_range(&self, key: &[u8]) -> bool {
        if self.reverse {
            match &self.lower {
                Bound::Included(l) => key < l.as_slice(),
                Bound::Excluded(l) => key <= l.as_slice(),
                Bound::Unbounded => false,
            }
        } else {
            match &self.upper {
                Bound::Included(u) => key > u.as_slice(),
                Bound::Excluded(u) => key >= u.as_slice(),
                Bound::Unbounded => false,
            }
        }
    }

    fn advance(&mut self, i: usize, cache_only: bool) -> Result<bool> {
        let source = self.sources.get_mut(i).ok_or_else(|| Error::Internal("iterator source index".into()))?;
        let done = source.advance(cache_only)? == Step::Done;
        if !done {
            self.interrupted = true;
        }
        Ok(done)
    }

    /// Skips every remaining version of `key` in every source; false if a block is needed.
    fn skip_key(&mut self, key: &[u8], cache_only: bool) -> Result<bool> {
        while let Some(i) = self.top() {
            let same = self.sources.get(i).and_then(|s| s.current()).is_some_and(|e| e.key == key);
            if !same {
                break;
            }
            if !self.advance(i, cache_only)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Forward: versions of a key arrive newest first, so the first visible one decides.
    fn step_forward(&mut self, now: u64, cache_only: bool, f: &mut impl FnMut(&[u8], &[u8], u64)) -> Result<Advance> {
        let seq = self.snapshot.sequence();
        let Some(i) = self.top() else { return Ok(Advance::End) };
        let mut key = std::mem::take(&mut self.key_buf);
        let mut emitted = None;
        {
            let Some(e) = self.sources.get(i).and_then(|s| s.current()) else { return Ok(Advance::End) };
            if self.out_of_range(e.key) {
                self.key_buf = key;
                return Ok(Advance::End);
            }
            if e.seq > seq {
                self.key_buf = key;
                return Ok(if self.advance(i, cache_only)? { Advance::Skipped } else { Advance::NeedsDisk });
            }
            key.clear();
            key.extend_from_slice(e.key);
            if e.is_live(now) && !self.range_deletes.deletes(e.key, e.seq, seq) {
                f(user_key(e.key), e.value, if e.kind.has_expiry() { e.expiry_ms } else { 0 });
                emitted = Some(e.key.len() + e.value.len());
            }
        }
        let complete = self.skip_key(&key, cache_only)?;
        self.resume = Bound::Excluded(key.clone());
        self.key_buf = key;
        Ok(match (emitted, complete) {
            (Some(size), _) => Advance::Emitted(size),
            (None, true) => Advance::Skipped,
            (None, false) => Advance::NeedsDisk,
        })
    }

    /// Reverse: versions of a key arrive oldest first, so the last visible one decides.
    fn step_reverse(&mut self, now: u64, cache_only: bool, f: &mut impl FnMut(&[u8], &[u8], u64)) -> Result<Advance> {
        let seq = self.snapshot.sequence();
        let Some(i) = self.top() else { return Ok(Advance::End) };
        let mut key = std::mem::take(&mut self.key_buf);
        let mut value = std::mem::take(&mut self.value_buf);
        key.clear();
        match self.sources.get(i).and_then(|s| s.current()) {
            Some(e) if !self.out_of_range(e.key) => key.extend_from_slice(e.key),
            _ => {
                self.key_buf = key;
                self.value_buf = value;
                return Ok(Advance::End);
            }
        }
        let mut live = None;
        let mut expiry = 0;
        while let Some(i) = self.top() {
            let Some(e) = self.sources.get(i).and_then(|s| s.current()) else { break };
            if e.key != key.as_slice() {
                break;
            }
            if e.seq <= seq {
                live = Some(e.is_live(now) && !self.range_deletes.deletes(e.key, e.seq, seq));
                expiry = if e.kind.has_expiry() { e.expiry_ms } else { 0 };
                value.clear();
                value.extend_from_slice(e.value);
            }
            if !self.advance(i, cache_only)? {
                self.key_buf = key;
                self.value_buf = value;
                return Ok(Advance::NeedsDisk);
            }
        }
        let result = if live == Some(true) {
            f(user_key(&key), &value, expiry);
            Advance::Emitted(key.len() + value.len())
        } else {
            Advance::Skipped
        };
        self.resume = Bound::Excluded(key.clone());
        self.key_buf = key;
        self.value_buf = value;
        Ok(result)
    }
}

/// Index of the source holding the smallest (forward) or largest (reverse) entry.
fn top_index(sources: &[Box<dyn Source>], reverse: bool) -> Option<usize> {
    let mut best: Option<(usize, EntryRef<'_>)> = None;
    for (i, source) in sources.iter().enumerate() {
        let Some(e) = source.current() else { continue };
        let better = best.as_ref().is_none_or(|(_, b)| {
            let order = compare_internal(e.key, e.seq, b.key, b.seq);
            if reverse {
                order == Ordering::Greater
            } else {
                order == Ordering::Less
            }
        });
        if better {
            best = Some((i, e));
        }
    }
    best.map(|(i, _)| i)
}

/// Every version of every key of a set of tables, in internal-key order: the input of a
/// compaction. Level-0 tables are separate sources; a deeper level's tables are one.
pub(crate) struct TableMerge {
    sources: Vec<Box<dyn Source>>,
    positioned: bool,
}

impl TableMerge {
    /// Merges `overlapping` tables (each its own source) and `runs` (each a key-ordered,
    /// disjoint run of tables).
    pub(crate) fn new(overlapping: &[Arc<LiveTable>], runs: Vec<Vec<Arc<LiveTable>>>) -> Self {
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        for table in overlapping {
            sources.push(Box::new(TableSource {
                fill_cache: false,
                table: Arc::clone(table),
                reverse: false,
                block_index: 0,
                decoded: None,
                pos: 0,
            }));
        }
        for tables in runs.into_iter().filter(|r| !r.is_empty()) {
            sources.push(Box::new(LevelSource { tables, reverse: false, fill_cache: false, index: 0, current: None }));
        }
        Self { sources, positioned: false }
    }

    /// Hands the next entry to `f`; `None` at the end.
    pub(crate) fn next_entry<R>(&mut self, f: impl FnOnce(EntryRef<'_>) -> R) -> Result<Option<R>> {
        if !self.positioned {
            for source in &mut self.sources {
                source.seek(Bound::Unbounded, false)?;
            }
            self.positioned = true;
        }
        let Some(i) = top_index(&self.sources, false) else { return Ok(None) };
        let Some(source) = self.sources.get_mut(i) else { return Ok(None) };
        let result = source.current().map(f);
        source.advance(false)?;
        Ok(result)
    }
}

/// Strips the keyspace tag.
fn user_key(stored: &[u8]) -> &[u8] {
    stored.get(1..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_increments_with_carry() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff, 0xff]), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn bounds_take_the_tighter_side() {
        let inc = |k: &[u8]| Bound::Included(k.to_vec());
        let exc = |k: &[u8]| Bound::Excluded(k.to_vec());
        assert_eq!(max_lower(inc(b"a"), inc(b"b")), inc(b"b"));
        assert_eq!(max_lower(inc(b"b"), exc(b"b")), exc(b"b"));
        assert_eq!(max_lower(Bound::Unbounded, inc(b"a")), inc(b"a"));
        assert_eq!(min_upper(inc(b"a"), inc(b"b")), inc(b"a"));
        assert_eq!(min_upper(inc(b"b"), exc(b"b")), exc(b"b"));
    }
}

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
use super::memtable::{MemEntries, Memtable};
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

/// Walks a memtable by copying out chunks of entries, so no lock is held between calls and
/// writers are never blocked for long.
struct MemSource {
    mem: Arc<Memtable>,
    reverse: bool,
    /// The iterator's far bound: upper when walking forward, lower when walking backwards.
    far: Bound<Arc<[u8]>>,
    buf: MemEntries,
    pos: usize,
    exhausted: bool,
    /// The last key of the chunk walked, to resume after it (reused buffer).
    resume: Vec<u8>,
}

impl MemSource {
    fn fill(&mut self, near: Bound<&[u8]>) {
        self.pos = 0;
        let far = as_ref_bound(&self.far);
        let (lower, upper) = if self.reverse { (far, near) } else { (near, far) };
        self.exhausted = self.mem.collect_range(lower, upper, self.reverse, MEM_CHUNK_KEYS, &mut self.buf);
    }
}

impl Source for MemSource {
    fn seek(&mut self, target: Bound<&[u8]>, _cache_only: bool) -> Result<Step> {
        self.fill(target);
        Ok(Step::Done)
    }

    fn current(&self) -> Option<EntryRef<'_>> {
        self.buf.get(self.pos).map(|(key, v)| EntryRef {
            key,
            seq: v.seq,
            kind: v.kind,
            expiry_ms: v.expiry_ms,
            value: v.value,
        })
    }

    fn advance(&mut self, _cache_only: bool) -> Result<Step> {
        self.pos += 1;
        if self.pos >= self.buf.len() && !self.exhausted && !self.buf.is_empty() {
            let mut resume = std::mem::take(&mut self.resume);
            resume.clear();
            if let Some((last, _)) = self.buf.get(self.buf.len() - 1) {
                resume.extend_from_slice(last);
            }
            self.fill(Bound::Excluded(&resume));
            self.resume = resume;
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
    /// Decodes `block` into `keys` and `items` (emptied first: a source reuses the buffers of
    /// the block it leaves, so a scan allocates nothing per block).
    fn new(block: Arc<Block>, mut keys: Vec<u8>, mut items: Vec<Item>) -> Option<Self> {
        keys.clear();
        items.clear();
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
    /// The buffers of the last block left, for the next one.
    spare: (Vec<u8>, Vec<Item>),
}

impl TableSource {
    const fn new(table: Arc<LiveTable>, reverse: bool, fill_cache: bool) -> Self {
        Self { table, reverse, fill_cache, block_index: 0, decoded: None, pos: 0, spare: (Vec::new(), Vec::new()) }
    }

    /// Loads block `i`; `Ok(false)` when `cache_only` and it is not cached.
    fn load(&mut self, i: usize, cache_only: bool) -> Result<bool> {
        if let Some(old) = self.decoded.take() {
            self.spare = (old.keys, old.items);
        }
        let Some(handle) = self.table.block_handle(i) else { return Ok(true) };
        let Some(block) = self.table.block_with(handle, cache_only, self.fill_cache)? else { return Ok(false) };
        let (keys, items) = std::mem::take(&mut self.spare);
        let decoded = Decoded::new(block, keys, items).ok_or_else(|| self.table.corrupt_block(handle))?;
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
        let mut source = TableSource::new(Arc::clone(table), self.reverse, self.fill_cache);
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
    merge: Merge,
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
                buf: MemEntries::default(),
                pos: 0,
                exhausted: true,
                resume: Vec::new(),
            }));
        }
        for table in levels.level(0) {
            sources.push(Box::new(TableSource::new(Arc::clone(table), reverse, true)));
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
            merge: Merge::new(sources, reverse),
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
            if self.merge.seek(as_ref_bound(&target), cache_only)? == Step::NeedsDisk {
                self.pending_seek = Some(target);
                return Ok(PageEnd::NeedsDisk);
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

    fn top(&mut self) -> Option<usize> {
        self.merge.front()
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
        let done = self.merge.advance(i, cache_only)? == Step::Done;
        if !done {
            self.interrupted = true;
        }
        Ok(done)
    }

    /// Records `key` as fully processed (the resume point); its buffer and the previous
    /// resume key's swap places, so no entry allocates.
    fn finish_key(&mut self, key: Vec<u8>) {
        self.key_buf = match std::mem::replace(&mut self.resume, Bound::Excluded(key)) {
            Bound::Included(k) | Bound::Excluded(k) => k,
            Bound::Unbounded => Vec::new(),
        };
    }

    /// Skips every remaining version of `key` in every source; false if a block is needed.
    fn skip_key(&mut self, key: &[u8], cache_only: bool) -> Result<bool> {
        while let Some(i) = self.top() {
            let same = self.merge.current(i).is_some_and(|e| e.key == key);
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
            let Some(e) = self.merge.current(i) else { return Ok(Advance::End) };
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
        // Source `i` holds this key's first version: move it on, then skip the others.
        let complete = self.advance(i, cache_only)? && self.skip_key(&key, cache_only)?;
        self.finish_key(key);
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
        match self.merge.current(i) {
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
            let Some(e) = self.merge.current(i) else { break };
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
        self.finish_key(key);
        self.value_buf = value;
        Ok(result)
    }
}

/// Whether `a` comes before `b` in walking order (strictly).
fn precedes(a: &EntryRef<'_>, b: &EntryRef<'_>, reverse: bool) -> bool {
    let order = compare_internal(a.key, a.seq, b.key, b.seq);
    if reverse {
        order == Ordering::Greater
    } else {
        order == Ordering::Less
    }
}

/// The sources of a merge and which of them is in front.
///
/// Finding the front source takes a comparison with every source; a scan did that two or three
/// times per entry (the largest engine item of its profile). So the front source and the
/// runner-up (the first among the others) are remembered: when the front source moves on and
/// its next entry still precedes the runner-up's, it stays in front after one comparison.
/// Otherwise (or after any other move) the front is found again from scratch, with the same
/// result as always: the first source, in source order, holding the first entry.
struct Merge {
    sources: Vec<Box<dyn Source>>,
    reverse: bool,
    /// Whether `front` and `runner_up` are current.
    known: bool,
    front: Option<usize>,
    runner_up: Option<usize>,
}

impl Merge {
    const fn new(sources: Vec<Box<dyn Source>>, reverse: bool) -> Self {
        Self { sources, reverse, known: false, front: None, runner_up: None }
    }

    /// The current entry of source `i`.
    fn current(&self, i: usize) -> Option<EntryRef<'_>> {
        self.sources.get(i).and_then(|s| s.current())
    }

    /// Index of the source holding the smallest (forward) or largest (reverse) entry.
    fn front(&mut self) -> Option<usize> {
        if !self.known {
            self.find_front();
        }
        self.front
    }

    fn find_front(&mut self) {
        let mut best: Option<(usize, EntryRef<'_>)> = None;
        let mut second: Option<(usize, EntryRef<'_>)> = None;
        for (i, source) in self.sources.iter().enumerate() {
            let Some(e) = source.current() else { continue };
            if best.as_ref().is_none_or(|(_, b)| precedes(&e, b, self.reverse)) {
                second = best.replace((i, e));
            } else if second.as_ref().is_none_or(|(_, r)| precedes(&e, r, self.reverse)) {
                second = Some((i, e));
            }
        }
        self.front = best.map(|(i, _)| i);
        self.runner_up = second.map(|(i, _)| i);
        self.known = true;
    }

    /// Positions every source at `target`; stops at the first that needs the disk.
    fn seek(&mut self, target: Bound<&[u8]>, cache_only: bool) -> Result<Step> {
        self.known = false;
        for source in &mut self.sources {
            if source.seek(target, cache_only)? == Step::NeedsDisk {
                return Ok(Step::NeedsDisk);
            }
        }
        Ok(Step::Done)
    }

    /// Moves source `i` one entry on.
    fn advance(&mut self, i: usize, cache_only: bool) -> Result<Step> {
        let source = self.sources.get_mut(i).ok_or_else(|| Error::Internal("iterator source index".into()))?;
        let step = source.advance(cache_only)?;
        self.known = self.known && step == Step::Done && self.front == Some(i) && self.still_in_front(i);
        Ok(step)
    }

    /// Whether source `i`, in front before it moved, still is: its entry precedes the
    /// runner-up's (the others did not move).
    fn still_in_front(&self, i: usize) -> bool {
        let Some(e) = self.current(i) else { return false };
        self.runner_up.and_then(|r| self.current(r)).is_none_or(|r| precedes(&e, &r, self.reverse))
    }
}

/// Every version of every key of a set of tables, in internal-key order: the input of a
/// compaction. Level-0 tables are separate sources; a deeper level's tables are one.
pub(crate) struct TableMerge {
    merge: Merge,
    positioned: bool,
}

impl TableMerge {
    /// Merges `overlapping` tables (each its own source) and `runs` (each a key-ordered,
    /// disjoint run of tables).
    pub(crate) fn new(overlapping: &[Arc<LiveTable>], runs: Vec<Vec<Arc<LiveTable>>>) -> Self {
        let mut sources: Vec<Box<dyn Source>> = Vec::new();
        for table in overlapping {
            sources.push(Box::new(TableSource::new(Arc::clone(table), false, false)));
        }
        for tables in runs.into_iter().filter(|r| !r.is_empty()) {
            sources.push(Box::new(LevelSource { tables, reverse: false, fill_cache: false, index: 0, current: None }));
        }
        Self { merge: Merge::new(sources, false), positioned: false }
    }

    /// Hands the next entry to `f`; `None` at the end.
    pub(crate) fn next_entry<R>(&mut self, f: impl FnOnce(EntryRef<'_>) -> R) -> Result<Option<R>> {
        if !self.positioned {
            self.merge.seek(Bound::Unbounded, false)?;
            self.positioned = true;
        }
        let Some(i) = self.merge.front() else { return Ok(None) };
        let result = self.merge.current(i).map(f);
        self.merge.advance(i, false)?;
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

    /// A source over a sorted list of (key, seq), for the merge's bookkeeping.
    struct ListSource {
        entries: Vec<(Vec<u8>, u64)>,
        pos: usize,
    }

    impl Source for ListSource {
        fn seek(&mut self, _target: Bound<&[u8]>, _cache_only: bool) -> Result<Step> {
            self.pos = 0;
            Ok(Step::Done)
        }
        fn current(&self) -> Option<EntryRef<'_>> {
            self.entries.get(self.pos).map(|(key, seq)| EntryRef {
                key,
                seq: *seq,
                kind: Kind::Put,
                expiry_ms: 0,
                value: b"",
            })
        }
        fn advance(&mut self, _cache_only: bool) -> Result<Step> {
            self.pos += 1;
            Ok(Step::Done)
        }
    }

    /// The front source found from scratch: the first source holding the first entry.
    fn front_from_scratch(merge: &Merge) -> Option<usize> {
        let mut best: Option<(usize, EntryRef<'_>)> = None;
        for i in 0..merge.sources.len() {
            let Some(e) = merge.current(i) else { continue };
            if best.as_ref().is_none_or(|(_, b)| precedes(&e, b, merge.reverse)) {
                best = Some((i, e));
            }
        }
        best.map(|(i, _)| i)
    }

    #[test]
    fn the_remembered_front_source_is_always_the_one_found_from_scratch() {
        // Disjoint runs, interleaved keys, versions of one key in several sources and within
        // one source, an empty source; walked forward and backwards to the end.
        let lists: Vec<Vec<(&[u8], u64)>> = vec![
            vec![(b"a", 9), (b"a", 3), (b"b", 5), (b"d", 1), (b"k", 2)],
            vec![(b"a", 7), (b"c", 4), (b"d", 8), (b"e", 1)],
            vec![],
            vec![(b"f", 1), (b"g", 1), (b"h", 1)],
            vec![(b"a", 1), (b"d", 5), (b"h", 6), (b"z", 1)],
        ];
        for reverse in [false, true] {
            let sources: Vec<Box<dyn Source>> = lists
                .iter()
                .map(|list| {
                    let mut entries: Vec<(Vec<u8>, u64)> = list.iter().map(|(k, s)| (k.to_vec(), *s)).collect();
                    if reverse {
                        entries.reverse();
                    }
                    Box::new(ListSource { entries, pos: 0 }) as Box<dyn Source>
                })
                .collect();
            let mut merge = Merge::new(sources, reverse);
            merge.seek(Bound::Unbounded, false).unwrap();
            let mut walked = Vec::new();
            while let Some(i) = merge.front() {
                assert_eq!(Some(i), front_from_scratch(&merge));
                let e = merge.current(i).unwrap();
                walked.push((e.key.to_vec(), e.seq));
                merge.advance(i, false).unwrap();
            }
            assert_eq!(front_from_scratch(&merge), None);
            let mut all: Vec<(Vec<u8>, u64)> = lists.iter().flatten().map(|(k, s)| (k.to_vec(), *s)).collect();
            all.sort_by(|a, b| compare_internal(&a.0, a.1, &b.0, b.1));
            if reverse {
                all.reverse();
            }
            assert_eq!(walked, all, "reverse: {reverse}");
        }
    }

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

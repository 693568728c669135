//! The live set of tables, by level (an LSM "version"), and the tables' lifetimes.
//!
//! Level 0 holds flushed tables, newest first; their key ranges may overlap. Levels 1 and up
//! each hold tables sorted by smallest key with disjoint ranges, so a point read checks every
//! level-0 table but at most one table per deeper level. A `Levels` value is immutable: flush
//! and compaction build a new one and publish it under the state lock, so readers always see
//! a whole version.
//!
//! A table that a compaction replaced is marked obsolete; its file is deleted when the last
//! reference (a version, an iterator, a read in flight) lets go of it, never before.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::cache::BlockCache;
use super::options::Options;
use super::storage::Storage;
use super::table::{filter, Table, TableMeta};

/// Deepest level (levels are 0..LEVELS_MAX).
pub const LEVELS_MAX: usize = 7;

/// An open table of the database with its MANIFEST record.
pub struct LiveTable {
    table: Table,
    /// What the MANIFEST says about it (level, key range, size).
    pub meta: TableMeta,
    obsolete: AtomicBool,
    storage: Arc<dyn Storage>,
    path: PathBuf,
    cache: Arc<BlockCache>,
}

impl LiveTable {
    /// Wraps an opened table.
    pub fn new(
        table: Table,
        meta: TableMeta,
        storage: Arc<dyn Storage>,
        path: PathBuf,
        cache: Arc<BlockCache>,
    ) -> Self {
        Self { table, meta, obsolete: AtomicBool::new(false), storage, path, cache }
    }

    /// Marks the table replaced: its file goes when the last reference drops.
    pub fn retire(&self) {
        self.obsolete.store(true, Ordering::SeqCst);
    }

    /// Whether `key` may lie in this table's key range.
    #[must_use]
    pub fn may_hold(&self, key: &[u8]) -> bool {
        self.meta.smallest.as_slice() <= key && key <= self.meta.largest.as_slice()
    }

    /// Whether the table's key range meets `[lower, upper]` (stored keys, inclusive).
    #[must_use]
    pub fn overlaps(&self, lower: &[u8], upper: &[u8]) -> bool {
        self.meta.smallest.as_slice() <= upper && lower <= self.meta.largest.as_slice()
    }
}

impl Deref for LiveTable {
    type Target = Table;
    fn deref(&self) -> &Table {
        &self.table
    }
}

impl Drop for LiveTable {
    fn drop(&mut self) {
        if self.obsolete.load(Ordering::SeqCst) {
            self.cache.forget_table(self.meta.number);
            // Best effort: a leftover is not in the MANIFEST and is removed at the next open.
            let _ = self.storage.remove(&self.path);
        }
    }
}

/// Which tables keep their Bloom filter in memory.
///
/// A filter saves a read of a table that does not hold the key. For the deepest level that
/// is only a read of a key the database does not hold at all: a key it holds is found there
/// (or above), so the filter answers "maybe" anyway. And the deepest level holds ~90% of a
/// large database's keys, so its filters are ~90% of all filter memory (10 bits per key:
/// ~12 MB at 10M keys, beside a 16 MiB cache). So once the filters of all tables would
/// exceed the budget, the deepest level's tables go without (RocksDB's
/// `optimize_filters_for_hits`); level 0 and every level above the deepest keep theirs.
/// Tiered compaction keeps every run in level 0, so it keeps every filter.
#[derive(Clone, Copy, Debug)]
pub struct FilterBudget {
    bytes_max: u64,
}

/// The budget's floor: below it every table keeps its filter (about 840k keys).
const FILTER_MEMORY_BYTES_MIN: u64 = 1024 * 1024;

impl FilterBudget {
    /// The budget `options` set, or a quarter of the cache (at least 1 MiB).
    #[must_use]
    pub fn of(options: &Options) -> Self {
        let default = (options.cache_size_bytes as u64 / 4).max(FILTER_MEMORY_BYTES_MIN);
        Self { bytes_max: options.filter_memory_bytes_max.unwrap_or(default) }
    }

    /// Whether a table of `level` keeps its filter among tables of `shape` (it may be
    /// deeper than any of them).
    #[must_use]
    pub fn wants_filter(self, level: u8, shape: FilterShape) -> bool {
        let filters_bytes = shape.entries_total.saturating_mul(filter::BITS_PER_KEY as u64) / 8;
        level == 0 || level < shape.deepest_level.max(level) || filters_bytes <= self.bytes_max
    }
}

/// What `FilterBudget` needs to know of a set of tables: the deepest level holding one, and
/// their entries (versions and tombstones included).
#[derive(Clone, Copy, Debug, Default)]
pub struct FilterShape {
    deepest_level: u8,
    entries_total: u64,
}

impl FilterShape {
    /// The shape of the tables `metas` describe.
    pub fn of<'a>(metas: impl IntoIterator<Item = &'a TableMeta>) -> Self {
        metas.into_iter().fold(Self::default(), |shape, meta| Self {
            deepest_level: shape.deepest_level.max(meta.level),
            entries_total: shape.entries_total.saturating_add(meta.entry_count),
        })
    }
}

/// The tables of one version, by level.
#[derive(Clone, Default)]
pub struct Levels {
    levels: Vec<Vec<Arc<LiveTable>>>,
    /// File bytes of every table (kept, since writers read it after every group).
    total_bytes: u64,
}

impl Levels {
    /// Builds a version from tables in MANIFEST order (level 0 newest first).
    #[must_use]
    pub fn from_tables(tables: Vec<Arc<LiveTable>>) -> Self {
        let mut levels = vec![Vec::new(); LEVELS_MAX];
        for t in tables {
            let level = usize::from(t.meta.level).min(LEVELS_MAX - 1);
            if let Some(l) = levels.get_mut(level) {
                l.push(t);
            }
        }
        for level in levels.iter_mut().skip(1) {
            level.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
        }
        let mut this = Self { levels, total_bytes: 0 };
        this.total_bytes = this.all().fold(0, |sum, t| sum.saturating_add(t.meta.file_size));
        this
    }

    /// File bytes of every table.
    #[must_use]
    pub const fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    /// Tables of `level` (level 0 newest first, others by key).
    #[must_use]
    pub fn level(&self, level: usize) -> &[Arc<LiveTable>] {
        self.levels.get(level).map_or(&[], Vec::as_slice)
    }

    /// Number of levels (including empty ones).
    #[must_use]
    pub fn depth(&self) -> usize {
        self.levels.len()
    }

    /// Every table, level 0 first (newest first), then each deeper level by key.
    pub fn all(&self) -> impl Iterator<Item = &Arc<LiveTable>> {
        self.levels.iter().flatten()
    }

    /// Number of tables.
    #[must_use]
    pub fn len(&self) -> usize {
        self.levels.iter().map(Vec::len).sum()
    }

    /// Whether there are no tables.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `f` on each table that may hold `key`, newest data first; stops when `f`
    /// returns `Some`.
    pub fn for_each_candidate<R>(&self, key: &[u8], mut f: impl FnMut(&Arc<LiveTable>) -> Option<R>) -> Option<R> {
        for t in self.level(0).iter().filter(|t| t.may_hold(key)) {
            if let Some(r) = f(t) {
                return Some(r);
            }
        }
        for level in self.levels.iter().skip(1) {
            let at = level.partition_point(|t| t.meta.largest.as_slice() < key);
            if let Some(t) = level.get(at).filter(|t| t.may_hold(key)) {
                if let Some(r) = f(t) {
                    return Some(r);
                }
            }
        }
        None
    }

    /// This version plus a freshly flushed level-0 table.
    #[must_use]
    pub fn with_flushed(&self, table: Arc<LiveTable>) -> Self {
        let mut next = self.clone();
        next.total_bytes = next.total_bytes.saturating_add(table.meta.file_size);
        if let Some(l0) = next.levels.get_mut(0) {
            l0.insert(0, table);
        }
        next
    }

    /// This version with `removed` tables (by number) gone and `added` put in their levels.
    /// Added level-0 tables take the place of the newest removed level-0 table, so level 0
    /// stays ordered by age (a tiered merge of adjacent runs).
    #[must_use]
    pub fn with_compaction(&self, removed: &[u64], added: Vec<Arc<LiveTable>>) -> Self {
        let mut next = self.clone();
        let l0_slot = next.level(0).iter().position(|t| removed.contains(&t.meta.number)).unwrap_or(0);
        for level in &mut next.levels {
            level.retain(|t| !removed.contains(&t.meta.number));
        }
        let (l0_added, deeper): (Vec<_>, Vec<_>) = added.into_iter().partition(|t| t.meta.level == 0);
        if let Some(l0) = next.levels.get_mut(0) {
            let slot = l0_slot.min(l0.len());
            l0.splice(slot..slot, l0_added);
        }
        for t in deeper {
            let level = usize::from(t.meta.level).min(LEVELS_MAX - 1);
            if let Some(l) = next.levels.get_mut(level) {
                l.push(t);
            }
        }
        for level in next.levels.iter_mut().skip(1) {
            level.sort_by(|a, b| a.meta.smallest.cmp(&b.meta.smallest));
        }
        next.total_bytes = next.all().fold(0, |sum, t| sum.saturating_add(t.meta.file_size));
        next
    }

    /// What `FilterBudget` needs to know of this version's tables.
    #[must_use]
    pub fn filter_shape(&self) -> FilterShape {
        FilterShape::of(self.all().map(|t| &t.meta))
    }

    /// MANIFEST records of every table, in MANIFEST order.
    #[must_use]
    pub fn metas(&self) -> Vec<TableMeta> {
        self.all().map(|t| t.meta.clone()).collect()
    }

    /// Bytes of tables in `level`.
    #[must_use]
    pub fn level_bytes(&self, level: usize) -> u64 {
        self.level(level).iter().map(|t| t.meta.file_size).sum()
    }
}

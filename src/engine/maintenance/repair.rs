//! `repair`: rebuilds a usable database from whatever is intact (LevelDB's `RepairDB`, with
//! a full merge instead of trusting levels).
//!
//! 1. Every table is checked byte by byte. A perfect table is used as it is; from a damaged
//!    one, every data block whose CRC and key order hold is salvaged into a new table.
//! 2. Every WAL is replayed up to its first invalid record (the valid prefix).
//!
//!    When the MANIFEST is intact, tables it does not name and WALs below its log number are
//!    leftovers (inputs of a finished compaction whose removal failed, outputs of an unfinished
//!    one, the table of an import that never committed, flushed WALs) and are removed, not
//!    merged, exactly as an open would: a leftover may hold a value whose tombstone a later
//!    compaction dropped, and merging it would bring a deleted key back.
//! 3. Everything is merged by sequence number into fresh level-1 tables (newest version of
//!    each key wins, tombstones and shadowed versions go), and a new MANIFEST names them.
//! 4. Only then are damaged files moved into `lost/` (never deleted) and superseded ones
//!    removed. A crash at any step leaves either the old MANIFEST or the new one; rerunning
//!    repair is always safe (duplicate versions merge away).
//!
//! Lost data stays lost: a tombstone in a damaged block may let an older value reappear.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::check::{check_table, Problem, ProblemKind};
use crate::engine::cache::BlockCache;
use crate::engine::compaction::{Merger, Plan};
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::files::{self, FileKind, LOCK_FILE_NAME};
use crate::engine::manifest::{self, Manifest};
use crate::engine::memtable::Memtable;
use crate::engine::options::Options;
use crate::engine::storage::Storage;
use crate::engine::table::{ExpiryProfile, Table, TableBuilder, TableMeta};
use crate::engine::version::LiveTable;
use crate::engine::wal;

/// Where damaged files go, inside the database directory.
pub const LOST_DIR_NAME: &str = "lost";
/// Block cache of the tables read during a repair (one pass; little reuse).
const REPAIR_CACHE_BYTES: usize = 4 * 1024 * 1024;

/// What `repair` kept and what it set aside.
#[derive(Debug, Default, Clone)]
pub struct RepairReport {
    /// Tables read whole (no damage).
    pub tables_intact: u64,
    /// Damaged tables whose intact blocks were salvaged.
    pub tables_salvaged: u64,
    /// WAL records replayed.
    pub wal_records: u64,
    /// Live keys (and their versions) in the rebuilt tables.
    pub entries: u64,
    /// Tables the rebuilt database consists of.
    pub tables: u64,
    /// Files moved into `lost/` (names relative to the database directory).
    pub lost: Vec<String>,
    /// What was wrong.
    pub problems: Vec<Problem>,
    /// Indexes registered again for a rebuild from the repaired data (after damage only).
    pub indexes_restarted: u64,
}

/// Shared state of one repair.
struct Repair<'a> {
    storage: &'a Arc<dyn Storage>,
    dir: &'a Path,
    options: &'a Options,
    cache: Arc<BlockCache>,
    next_number: AtomicU64,
    max_seq: u64,
    /// Inputs of the final merge.
    sources: Vec<Arc<LiveTable>>,
    /// Files to move into `lost/` once the new MANIFEST is durable.
    damaged: Vec<String>,
    /// Files to delete once the new MANIFEST is durable.
    superseded: Vec<String>,
    /// The intact MANIFEST's live tables and log number (`None` when missing or damaged).
    live: Option<(Vec<u64>, u64)>,
    report: RepairReport,
}

/// Repairs the database in `dir` (which must not be open anywhere).
pub fn repair(dir: &Path, options: &Options, storage: Arc<dyn Storage>) -> Result<RepairReport> {
    let mut names = match storage.list_dir(dir) {
        Ok(n) => n,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound(dir.to_path_buf())),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
    };
    names.sort();
    let ours = |n: &String| n == manifest::FILE_NAME || files::parse(n).is_some();
    if names.is_empty() {
        return Err(Error::NotFound(dir.to_path_buf()));
    }
    if !names.iter().any(ours) {
        return Err(Error::NotADatabase(dir.to_path_buf()));
    }
    let _lock = storage
        .lock(&dir.join(LOCK_FILE_NAME))
        .ctx(|| format!("locking {}", dir.display()))?
        .ok_or_else(|| Error::Locked { path: dir.to_path_buf() })?;
    // New files are numbered after every file here that a writer could have made; a name
    // beyond that (no writer gets there) is set aside as damaged below, not counted.
    let highest = names
        .iter()
        .filter_map(|n| files::parse(n))
        .map(|(n, _)| n)
        .filter(|&n| n <= manifest::FILE_NUMBER_MAX)
        .max()
        .unwrap_or(0);
    let mut r = Repair {
        storage: &storage,
        dir,
        options,
        cache: Arc::new(BlockCache::new(REPAIR_CACHE_BYTES)),
        next_number: AtomicU64::new(highest + 1),
        max_seq: 0,
        sources: Vec::new(),
        damaged: Vec::new(),
        superseded: Vec::new(),
        live: None,
        report: RepairReport::default(),
    };
    r.read_manifest();
    let tables: Vec<u64> =
        names.iter().filter_map(|n| files::parse(n)).filter(|p| p.1 == FileKind::Table).map(|p| p.0).collect();
    for number in tables {
        if r.is_leftover(number, FileKind::Table) {
            r.superseded.push(format!("{number:06}.sst"));
        } else {
            r.take_table(number)?;
        }
    }
    let mut wals = Vec::new();
    for number in names.iter().filter_map(|n| files::parse(n)).filter(|p| p.1 == FileKind::Wal).map(|p| p.0) {
        if r.is_leftover(number, FileKind::Wal) {
            r.superseded.push(format!("{number:06}.wal"));
        } else {
            wals.push(number);
        }
    }
    r.take_wals(&wals)?;
    let outputs = r.merge()?;
    r.set_aside_manifest()?;
    r.install(&outputs)?;
    r.set_aside()?;
    let damaged = !r.report.problems.is_empty() || !r.report.lost.is_empty();
    let mut report = r.report;
    drop(_lock);
    if damaged {
        report.indexes_restarted = restart_indexes(dir, options, storage)?;
    }
    Ok(report)
}

/// After damage, data and index entries may have been salvaged unevenly: every index is
/// registered again to be rebuilt from the repaired data (the build runs at the next open).
fn restart_indexes(dir: &Path, options: &Options, storage: Arc<dyn Storage>) -> Result<u64> {
    let db = crate::engine::Db::open_with_storage(dir, options.clone(), storage)?;
    let restarted = db.as_sole_writer(|| db.restart_indexes());
    let closed = db.close();
    let restarted = restarted?;
    closed?;
    Ok(restarted)
}

impl Repair<'_> {
    fn allocate(&self) -> u64 {
        self.next_number.fetch_add(1, Ordering::SeqCst)
    }

    /// Notes the old MANIFEST's counters, or sets it aside if it is damaged.
    fn read_manifest(&mut self) {
        let path = self.dir.join(manifest::FILE_NAME);
        let Ok(bytes) = self.storage.read_all(&path) else { return };
        match Manifest::decode(&bytes) {
            Ok(m) => {
                self.max_seq = self.max_seq.max(m.last_sequence);
                self.next_number.fetch_max(m.next_file_number, Ordering::SeqCst);
                self.live = Some((m.tables.iter().map(|t| t.number).collect(), m.log_number));
            }
            Err((offset, what)) => {
                self.report.problems.push(Problem::new(manifest::FILE_NAME, offset, ProblemKind::Checksum, what));
                self.damaged.push(manifest::FILE_NAME.to_owned());
            }
        }
    }

    /// Whether an intact MANIFEST says the file is obsolete (what an open would remove).
    fn is_leftover(&self, number: u64, kind: FileKind) -> bool {
        self.live.as_ref().is_some_and(|(tables, log_number)| match kind {
            FileKind::Table => !tables.contains(&number),
            FileKind::Wal => number < *log_number,
        })
    }

    /// Uses a perfect table as a merge input; salvages the intact blocks of a damaged one.
    fn take_table(&mut self, number: u64) -> Result<()> {
        let name = format!("{number:06}.sst");
        let path = files::path(self.dir, number, FileKind::Table);
        let checked = check_table(self.storage.as_ref(), &path, &name, &mut |_| Ok(()), &mut |_| {})?;
        self.max_seq = self.max_seq.max(checked.max_seq);
        let mut problems = checked.problems;
        let has_data = checked.entries > 0 || !checked.range_deletes.is_empty();
        if problems.is_empty() && has_data {
            // A table whose bytes hold but that is not this file's table (a renamed file, an
            // export) is salvaged like a damaged one.
            match Table::open(self.storage.as_ref(), &path, number, Arc::clone(&self.cache), true) {
                Ok(table) => {
                    let meta = TableMeta {
                        number,
                        level: 0,
                        file_size: checked.bytes,
                        entry_count: checked.entries,
                        smallest: checked.smallest,
                        largest: checked.largest,
                        max_seq: checked.max_seq,
                        // An input of the repair's merge only: the outputs get their own.
                        expiry: ExpiryProfile::default(),
                    };
                    let live = LiveTable::new(table, meta, Arc::clone(self.storage), path, Arc::clone(&self.cache));
                    self.sources.push(Arc::new(live));
                    self.report.tables_intact += 1;
                    self.superseded.push(name);
                    return Ok(());
                }
                Err(e) => problems.push(Problem::new(&name, 0, ProblemKind::Format, e.to_string())),
            }
        }
        if problems.is_empty() {
            // An empty table: nothing to keep.
            self.superseded.push(name);
            return Ok(());
        }
        self.report.problems.extend(problems);
        self.damaged.push(name.clone());
        let salvage_number = self.allocate();
        let salvage_path = files::path(self.dir, salvage_number, FileKind::Table);
        let file = self.storage.create(&salvage_path).ctx(|| format!("creating table {salvage_number:06}"))?;
        let mut builder =
            TableBuilder::new(file, salvage_number, self.options.compression, self.options.block_size_bytes);
        // An intact range-delete block is salvaged with the intact data blocks.
        for t in &checked.range_deletes {
            builder.add_range_delete(&t.start, &t.end, t.seq)?;
        }
        let mut salvaged = checked.range_deletes.len() as u64;
        check_table(
            self.storage.as_ref(),
            &path,
            &name,
            &mut |e| {
                salvaged += 1;
                builder.add(e.key, e.seq, e.kind, e.expiry_ms, e.value)
            },
            &mut |_| {},
        )?;
        self.add_built(builder, salvaged)?;
        self.report.tables_salvaged += 1;
        Ok(())
    }

    /// Finishes a table built during the repair and makes it a merge input (removes it when
    /// empty). It is superseded by the merge's output.
    fn add_built(&mut self, builder: TableBuilder, entries: u64) -> Result<()> {
        let number = builder.number();
        let path = files::path(self.dir, number, FileKind::Table);
        if entries == 0 {
            drop(builder);
            self.storage.remove(&path).ctx(|| format!("removing empty table {number:06}"))?;
            return Ok(());
        }
        let meta = builder.finish()?;
        let table = Table::open(self.storage.as_ref(), &path, number, Arc::clone(&self.cache), true)?;
        self.sources.push(Arc::new(LiveTable::new(
            table,
            meta,
            Arc::clone(self.storage),
            path,
            Arc::clone(&self.cache),
        )));
        self.superseded.push(format!("{number:06}.sst"));
        Ok(())
    }

    /// Replays every WAL's valid prefix into one memtable and writes it to a table; a WAL
    /// damaged before its end is set aside (its prefix is kept).
    fn take_wals(&mut self, numbers: &[u64]) -> Result<()> {
        let mem = Memtable::new();
        // Sequence numbers grow across WALs as within one: a later WAL whose records go back
        // (crafted or mixed-up files) stops there as damage instead of reaching the memtable
        // out of order.
        let mut min_seq = 0;
        for (i, &number) in numbers.iter().enumerate() {
            let name = format!("{number:06}.wal");
            let path = files::path(self.dir, number, FileKind::Wal);
            let bytes = self.storage.read_all(&path).ctx(|| format!("reading {name}"))?;
            let is_newest = i + 1 == numbers.len();
            let scanned =
                wal::scan(&bytes, number, is_newest, min_seq, |first_seq, ops| mem.apply(first_seq, ops, u64::MAX));
            if scanned.records > 0 {
                min_seq = scanned.last_seq + 1;
            }
            self.report.wal_records += scanned.records;
            self.max_seq = self.max_seq.max(scanned.last_seq);
            match scanned.stop {
                Some(stop) if !stop.torn => {
                    self.report.problems.push(Problem::new(&name, stop.offset, ProblemKind::Checksum, stop.what));
                    self.damaged.push(name);
                }
                _ => self.superseded.push(name),
            }
        }
        let number = self.allocate();
        let path = files::path(self.dir, number, FileKind::Table);
        let file = self.storage.create(&path).ctx(|| format!("creating table {number:06}"))?;
        let mut builder = TableBuilder::new(file, number, self.options.compression, self.options.block_size_bytes);
        let ranges = mem.range_tombstones();
        for t in &ranges {
            builder.add_range_delete(&t.start, &t.end, t.seq)?;
        }
        let mut entries = ranges.len() as u64;
        mem.for_each(|key, v, _| {
            entries += 1;
            builder.add(key, v.seq, v.kind, v.expiry_ms, v.value)
        })?;
        self.add_built(builder, entries)
    }

    /// Merges every input into level-1 tables, keeping the newest version of each key.
    fn merge(&mut self) -> Result<Vec<TableMeta>> {
        let plan = Plan { overlapping: self.sources.clone(), runs: Vec::new(), output_level: 1, bottommost: true };
        let next = || self.allocate();
        let merger =
            Merger { storage: self.storage, dir: self.dir, options: self.options, next_number: &next, cancel: None };
        let outputs = merger.run(&plan, u64::MAX, (self.options.clock)())?.unwrap_or_default();
        self.storage.sync_dir(self.dir).ctx(|| "syncing the database directory".into())?;
        self.report.tables = outputs.len() as u64;
        self.report.entries = outputs.iter().map(|t| t.entry_count).sum();
        Ok(outputs)
    }

    /// Stores the MANIFEST naming only the merged tables (no WAL is live).
    fn install(&mut self, outputs: &[TableMeta]) -> Result<()> {
        let log_number = self.allocate();
        let max_seq = outputs.iter().map(|t| t.max_seq).max().unwrap_or(0).max(self.max_seq);
        let m = Manifest {
            next_file_number: self.allocate(),
            last_sequence: max_seq,
            log_number,
            tables: outputs.to_vec(),
        };
        m.store(self.storage.as_ref(), self.dir)
    }

    /// Moves damaged files into `lost/` and removes superseded ones.
    fn set_aside(&mut self) -> Result<()> {
        for source in self.sources.drain(..) {
            drop(source);
        }
        let lost_dir = self.dir.join(LOST_DIR_NAME);
        for name in std::mem::take(&mut self.damaged) {
            self.move_to_lost(&name)?;
        }
        for name in std::mem::take(&mut self.superseded) {
            let _ = self.storage.remove(&self.dir.join(name));
        }
        if self.storage.list_dir(&lost_dir).is_ok() {
            self.storage.sync_dir(&lost_dir).ctx(|| "syncing lost/".into())?;
        }
        self.storage.sync_dir(self.dir).ctx(|| "syncing the database directory".into())
    }
}

impl Repair<'_> {
    /// A damaged MANIFEST goes to `lost/` before the new one takes its name.
    fn set_aside_manifest(&mut self) -> Result<()> {
        if let Some(i) = self.damaged.iter().position(|n| n == manifest::FILE_NAME) {
            self.damaged.remove(i);
            self.move_to_lost(manifest::FILE_NAME)?;
        }
        Ok(())
    }

    fn move_to_lost(&mut self, name: &str) -> Result<()> {
        let lost_dir = self.dir.join(LOST_DIR_NAME);
        self.storage.create_dir_all(&lost_dir).ctx(|| format!("creating {}", lost_dir.display()))?;
        let target = unused_name(self.storage.as_ref(), &lost_dir, name);
        self.storage.rename(&self.dir.join(name), &lost_dir.join(&target)).ctx(|| format!("moving {name} to lost/"))?;
        self.report.lost.push(format!("{LOST_DIR_NAME}/{target}"));
        Ok(())
    }
}

/// `name`, or `name.1`, `name.2`, ... if an earlier repair already set aside a file so named.
fn unused_name(storage: &dyn Storage, dir: &Path, name: &str) -> String {
    let taken = storage.list_dir(dir).unwrap_or_default();
    let mut candidate = name.to_owned();
    let mut n = 1;
    while taken.contains(&candidate) {
        candidate = format!("{name}.{n}");
        n += 1;
    }
    candidate
}

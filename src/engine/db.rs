//! The database: open and recovery, the group-commit write path, the read path, flush
//! scheduling and close. This is the engine's public face (with `Options` and `Error`).
//!
//! Threads: any number of readers (the JS thread's memory-only fast path, libuv pool
//! threads), writers from the libuv pool (grouped: one leader writes for all), and one
//! background flush per database at a time on the shared pool.

use std::collections::{HashMap, VecDeque};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};

use super::background;
use super::batch::{decode_payload, Op, WriteBatch, USER_KEYSPACE_END};
use super::compaction;
use super::error::{Error, IoContext, Result};
use super::files::{self, FileKind};
use super::heatmap::{HeatMap, HeatStats, HotLookup};
use super::index;
use super::index::catalog::{definition_name, IndexDef, IndexState};
use super::index::IndexWork;
use super::iter::{DbIterator, IterOptions, PageEnd};
use super::key::{Keyspace, Kind, Lookup, KEY_SIZE_BYTES_MAX};
use super::manifest::{self, Manifest};
use super::memtable::Memtable;
use super::options::Options;
use super::storage::{FsStorage, LockHandle, Storage};
use super::table::{Table, TableBuilder, TableMeta};
use super::version::{FilterBudget, Levels, LiveTable, LEVELS_MAX};
use super::wal::{self, WalWriter};

/// Bytes of batches one group commit writes at most (the leader's own batch always goes).
const GROUP_COMMIT_BYTES_MAX: usize = 1024 * 1024;
/// Writers one group commit serves at most.
const GROUP_COMMIT_WRITERS_MAX: usize = 512;
/// A WAL this many times `write_buffer_size` is rotated (and its memtable flushed) even if
/// the memtable itself stayed small.
const WAL_SIZE_FACTOR: usize = 2;
/// A WAL of at least this many bytes is also rotated once half of it is overwritten
/// versions, or (and at least a quarter of `writeBufferSize`) once it holds more than half
/// the bytes of all tables (`active_is_full`).
const WAL_SMALL_DATABASE_FLOOR_BYTES: u64 = 1 << 20;

/// Room a WAL reserves past its records for in-memory appends (in-place commits on the JS
/// thread), and how much of it one preparation readies at most: up to the size at which the
/// WAL is rotated, an eighth of the write buffer at a time (64-256 KiB; mapped_log.rs starts
/// at 64 KiB and doubles). The prepared pages are resident, so the window is memory the
/// process holds (docs/design.md "In-place commits").
pub(crate) fn wal_room(options: &Options) -> (u64, u64) {
    let buffer = options.write_buffer_size_bytes as u64;
    let window = (buffer / 8).clamp(64 * 1024, 256 * 1024);
    (WAL_SIZE_FACTOR as u64 * buffer + window, window)
}
/// Keys of databases' background timers.
static NEXT_TIMER_KEY: AtomicU64 = AtomicU64::new(1);
/// A database's expiry timer sleeps at most this long before it looks at the clock again
/// (the clock may be set, and a far-off time need not be trusted to an `Instant`).
const EXPIRY_TIMER_MAX_MS: u64 = 60 * 60 * 1000;
/// How long a stalled writer sleeps between checks for a finished flush.
const STALL_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// A memtable with the WAL that holds its writes.
#[derive(Clone)]
struct MemWithWal {
    mem: Arc<Memtable>,
    wal_number: u64,
}

/// What reads see: the active memtable, frozen ones waiting for flush (oldest first) and
/// tables (newest first). Replaced as a whole under the `state` lock, so a reader never sees
/// a memtable both frozen and flushed, or neither.
#[derive(Clone)]
struct State {
    active: MemWithWal,
    immutable: Vec<MemWithWal>,
    levels: Arc<Levels>,
}

/// Events kept for listeners at most; older ones are dropped (a listener that never drains
/// costs bounded memory).
const EVENTS_KEPT_MAX: usize = 1024;

/// Something the background work did, for `on('flush')` / `on('compaction')` listeners.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A memtable became a level-0 table.
    Flush {
        /// The new table's number.
        table: u64,
        /// Its size in bytes.
        bytes: u64,
        /// Entries in it.
        entries: u64,
    },
    /// Tables were merged into a level.
    Compaction {
        /// Input tables.
        input_tables: u64,
        /// Bytes of the inputs.
        input_bytes: u64,
        /// Output tables.
        output_tables: u64,
        /// Bytes written.
        output_bytes: u64,
        /// Level of the outputs.
        output_level: u8,
    },
}

/// A database's background jobs on the shared pool: one flush and one compaction at most, so
/// a long compaction never holds up the flushes that keep writers going.
#[derive(Debug, Default)]
struct BackgroundJobs {
    flush: bool,
    compaction: bool,
}

impl BackgroundJobs {
    const fn any(&self) -> bool {
        self.flush || self.compaction
    }
}

/// A range of user keys: start (inclusive), end (exclusive; `None`: unbounded).
type UserRange = (Vec<u8>, Option<Vec<u8>>);

/// The two kinds of background job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BackgroundKind {
    Flush,
    Compaction,
}

/// How a group's WAL records are written (`log_and_apply`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LogWrite {
    /// `write` (and `fdatasync` if asked), then room prepared for in-memory appends: the pool.
    Append,
    /// A copy into the WAL's prepared memory, or nothing if it has none ready: the JS thread.
    InMemory,
}

/// A write queued by `Db::enqueue_write`, to be finished by `Db::finish_write`; counts as
/// an operation in flight (close waits for it) until dropped. Dropped unfinished (its task
/// never ran), the write stays queued and the next leader commits it.
pub struct QueuedWrite {
    db: Db,
    me: Arc<PendingWrite>,
}

impl Drop for QueuedWrite {
    fn drop(&mut self) {
        self.db.inner.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The leader role taken by `lead_if_idle`, given up when dropped.
struct LeaderRole<'a>(&'a Inner);

impl Drop for LeaderRole<'_> {
    fn drop(&mut self) {
        self.0.queue.lock().leader_active = false;
        self.0.queue_cv.notify_all();
    }
}

/// One writer waiting in the group-commit queue.
struct PendingWrite {
    batch: WriteBatch,
    sync: bool,
    result: Mutex<Option<Result<()>>>,
}

#[derive(Default)]
struct WriteQueue {
    pending: VecDeque<Arc<PendingWrite>>,
    leader_active: bool,
}

/// One level's share of the tables.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LevelStats {
    /// Tables in the level.
    pub tables: u64,
    /// Bytes of those tables.
    pub bytes: u64,
    /// Tables whose Bloom filter is in memory (the deepest level of a database over its
    /// filter budget goes without: `FilterBudget`).
    pub filters: u64,
}

/// Engine counters for `stats()`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Sequence number of the newest write.
    pub last_sequence: u64,
    /// Bytes in the active memtable.
    pub memtable_bytes: u64,
    /// Frozen memtables waiting for flush.
    pub immutable_memtables: u64,
    /// Live tables.
    pub tables: u64,
    /// Entries in live tables.
    pub table_entries: u64,
    /// Flushes completed since open.
    pub flushes: u64,
    /// WAL group commits since open.
    pub wal_writes: u64,
    /// WAL fdatasyncs since open.
    pub wal_syncs: u64,
    /// Of `wal_writes`, the in-place commits: records copied into the WAL's prepared memory
    /// on the calling thread (docs/design.md "In-place commits").
    pub wal_in_memory_writes: u64,
    /// HeatMap counters (HOT entries, WARM blocks).
    pub cache: HeatStats,
    /// Tables and bytes per level (index = level).
    pub levels: Vec<LevelStats>,
    /// Compactions run since open.
    pub compactions: u64,
    /// Bytes of keys and values written by users since open.
    pub user_bytes_written: u64,
    /// Bytes of tables written by flushes since open.
    pub flush_bytes_written: u64,
    /// Bytes of tables written by compactions since open.
    pub compaction_bytes_written: u64,
    /// Compactions a `clear` scheduled to reclaim its range's space, queued or running.
    pub clear_compactions_pending: u64,
    /// Bytes of live table files and the current WAL.
    pub disk_bytes: u64,
    /// Memory the open tables keep outside the block cache: their filters and indexes.
    pub table_metadata_bytes: u64,
    /// Estimate of the live data's size on disk: the deepest non-empty level (leveled) or
    /// the oldest run (tiered), where merged data settles (RocksDB's estimate).
    pub live_bytes_estimate: u64,
    /// Write groups delayed because level 0 was over its slowdown threshold.
    pub write_slowdowns: u64,
    /// Times writers waited because level 0 was over its stop threshold.
    pub write_stops: u64,
    /// Iterators not yet dropped.
    pub live_iterators: u64,
    /// Snapshots (including iterators' own) not yet dropped.
    pub live_snapshots: u64,
}

/// Dropping the last handle without `close` (a terminated worker) lets go of the WAL before
/// the directory lock: the WAL's drop trims its reserved tail, which must not happen after a
/// new owner (a reopen in this process) took the lock and appends to that file.
impl Drop for Inner {
    fn drop(&mut self) {
        *self.wal.get_mut() = None;
    }
}

struct Inner {
    dir: PathBuf,
    storage: Arc<dyn Storage>,
    options: Options,
    lock: Mutex<Option<Box<dyn LockHandle>>>,
    heat: Arc<HeatMap>,
    state: RwLock<State>,
    queue: Mutex<WriteQueue>,
    queue_cv: Condvar,
    wal: Mutex<Option<WalWriter>>,
    /// Bytes in the live WAL, for `stats()`: read without the WAL lock, which a commit holds
    /// across its write and fsync (and `rotate_wal` while it takes the state lock).
    wal_bytes: AtomicU64,
    last_seq: AtomicU64,
    next_file_number: AtomicU64,
    manifest: Mutex<Manifest>,
    /// Held by a flush or compaction from reading the current version to publishing the
    /// next, so version changes never interleave.
    version_lock: Mutex<()>,
    /// Held by a compaction (background or manual) for its whole run, so two never merge the
    /// same tables; the version lock is held only to pick and to install, so flushes go on
    /// while a compaction merges.
    compaction_lock: Mutex<()>,
    /// The table numbers the running compaction merges (empty when none runs). Registered
    /// under the version lock in the same critical section as the pick, so `drop_dead_tables`
    /// (which holds the version lock too) can leave exactly those alone instead of waiting
    /// for the compaction lock.
    compacting_inputs: Mutex<Vec<u64>>,
    /// Set by `drop_dead_tables` when it dropped inputs of the running compaction: that merge
    /// only rewrites dead data, so it stops, removes its outputs and lets go of its inputs
    /// (whose files then go at once). Cleared when a compaction is picked.
    compaction_cancel: AtomicBool,
    /// When (database clock, unix ms) a table becomes mostly expired and a compaction should
    /// be looked for (`u64::MAX`: none will); the writer checks it, since no flush may come.
    expiry_due_ms: AtomicU64,
    /// Serializes `note_next_expiry`.
    expiry_note_lock: Mutex<()>,
    /// This database's key for its background timer (process-unique).
    timer_key: u64,
    flush_bytes: AtomicU64,
    compaction_bytes: AtomicU64,
    compactions: AtomicU64,
    user_bytes: AtomicU64,
    write_slowdowns: AtomicU64,
    write_stops: AtomicU64,
    compact_pointers: Mutex<[Vec<u8>; LEVELS_MAX]>,
    close_lock: Mutex<()>,
    /// The user-key range a queued compaction after a large `clear` will compact (end `None`:
    /// unbounded); `None` when no such job is queued.
    cleared_range: Mutex<Option<UserRange>>,
    /// Cleanup compactions `clear` scheduled that have not ended (`Stats`).
    clear_compactions_pending: AtomicU32,
    /// Which background jobs are queued or running (at most one flush and one compaction).
    bg_jobs: Mutex<BackgroundJobs>,
    flush_cv: Condvar,
    /// Live snapshots (sequence → count). The commit leader holds this lock while it applies
    /// a group, so a snapshot is taken either wholly before or wholly after a group.
    snapshots: Mutex<std::collections::BTreeMap<u64, u32>>,
    live_iterators: AtomicU64,
    poison: RwLock<Option<(String, bool)>>,
    poisoned: AtomicBool,
    closed: AtomicBool,
    in_flight: AtomicUsize,
    flushes: AtomicU64,
    wal_writes: AtomicU64,
    wal_syncs: AtomicU64,
    wal_in_memory_writes: AtomicU64,
    /// Recent flushes and compactions for listeners (`drain_events`); oldest dropped first.
    events: Mutex<VecDeque<Event>>,
    /// Whether events are recorded (`record_events`; on by default): the JS binding turns it
    /// on only while a listener waits, so a database nobody listens to keeps no events (a full
    /// queue is 48 KiB, kept for ever; docs/design.md "Memory").
    events_recorded: AtomicBool,
    /// Index definitions as of the last committed group (replaced whole, read per commit).
    indexes: RwLock<Arc<Vec<IndexDef>>>,
    /// Index builds and drops: whether a worker runs, and progress for waiters.
    index_work: Mutex<IndexWork>,
    index_cv: Condvar,
}

/// An open database. Cheap to clone; all clones share one engine.
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

/// Marks an operation in flight so `close` can wait for it.
pub(crate) struct OpGuard<'a>(&'a Inner);

impl Drop for OpGuard<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Builds the stored key (keyspace tag + user key) on the stack for short keys.
fn with_stored_key<R>(key: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut small = [0u8; 128];
    if let Some(slot) = small.get_mut(1..=key.len()) {
        slot.copy_from_slice(key);
        small[0] = Keyspace::User as u8;
        f(&small[..=key.len()])
    } else {
        let mut big = Vec::with_capacity(key.len() + 1);
        big.push(Keyspace::User as u8);
        big.extend_from_slice(key);
        f(&big)
    }
}

fn check_read_key(key: &[u8]) -> Result<()> {
    if key.is_empty() || key.len() > KEY_SIZE_BYTES_MAX {
        return Err(Error::InvalidArgument(format!("key must be 1 to {KEY_SIZE_BYTES_MAX} bytes, got {}", key.len())));
    }
    Ok(())
}

/// Rebuilds an error for each writer of a failed group (errors are not `Clone`).
fn share_error(e: &Error) -> Error {
    match e {
        Error::Io { context, source } => {
            Error::Io { context: context.clone(), source: std::io::Error::new(source.kind(), source.to_string()) }
        }
        Error::Poisoned { cause, disk_full } => Error::Poisoned { cause: cause.clone(), disk_full: *disk_full },
        Error::Corruption { file, offset, what } => {
            Error::Corruption { file: file.clone(), offset: *offset, what: what.clone() }
        }
        Error::Closed => Error::Closed,
        Error::InvalidArgument(m) => Error::InvalidArgument(m.clone()),
        other => Error::Internal(other.to_string()),
    }
}

impl Db {
    /// Opens (or creates) the database in `dir` on the real file system.
    pub fn open(dir: impl AsRef<Path>, options: Options) -> Result<Self> {
        Self::open_with_storage(dir, options, Arc::new(FsStorage))
    }

    /// Opens with a chosen storage (tests use `MemStorage`).
    pub fn open_with_storage(dir: impl AsRef<Path>, options: Options, storage: Arc<dyn Storage>) -> Result<Self> {
        options.validate()?;
        let db = super::recovery::open(dir.as_ref(), options, storage)?;
        db.load_indexes()?;
        // A database closed (or crashed) with compaction debt starts paying it now.
        db.schedule_background();
        Ok(db)
    }

    /// Puts one key.
    pub fn put(&self, key: &[u8], value: &[u8], sync: bool) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.put(key, value)?;
        self.write(batch, sync)
    }

    /// Deletes one key.
    pub fn delete(&self, key: &[u8], sync: bool) -> Result<()> {
        let mut batch = WriteBatch::new();
        batch.delete(key)?;
        self.write(batch, sync)
    }

    /// Applies a batch atomically. Without `sync` the batch has reached the OS when this
    /// returns; with `sync` it has been fdatasynced. Concurrent callers share one WAL write
    /// and one fdatasync (group commit).
    pub fn write(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        match self.enqueue_write(batch, sync)? {
            Some(queued) => self.finish_write(queued),
            None => Ok(()),
        }
    }

    /// Queues a batch for the next group commit and returns at once (memory only: for the JS
    /// thread). Writes are committed in the order they were queued, whichever thread then
    /// calls `finish_write`: a later tick's write, handed to another pool thread, never lands
    /// before an earlier one. `None` for an empty batch (nothing to do).
    pub fn enqueue_write(&self, batch: WriteBatch, sync: bool) -> Result<Option<QueuedWrite>> {
        let guard = self.begin()?;
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(None);
        }
        self.check_poison()?;
        self.check_memory(&batch)?;
        let me = Arc::new(PendingWrite { batch, sync, result: Mutex::new(None) });
        self.inner.queue.lock().pending.push_back(Arc::clone(&me));
        // The operation stays in flight (close waits for it) until the `QueuedWrite` drops.
        std::mem::forget(guard);
        Ok(Some(QueuedWrite { db: self.clone(), me }))
    }

    /// Waits until a queued write is committed, leading group commits meanwhile: whenever no
    /// leader is active, this thread commits the group at the front of the queue, its own
    /// write in it or not (so writers waiting on pool threads never wait for a write whose
    /// own task has not started).
    pub fn finish_write(&self, queued: QueuedWrite) -> Result<()> {
        let inner = &self.inner;
        let mut queue = inner.queue.lock();
        loop {
            if let Some(result) = queued.me.result.lock().take() {
                return result;
            }
            if queue.leader_active || queue.pending.is_empty() {
                inner.queue_cv.wait(&mut queue);
                continue;
            }
            queue.leader_active = true;
            let group = take_group(&queue.pending);
            drop(queue);
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit_group(&group)))
                .unwrap_or_else(|_| Err(self.poison_with("a panic during group commit".into())));
            queue = inner.queue.lock();
            for w in queue.pending.drain(..group.len()) {
                let r = match &outcome {
                    Ok(()) => Ok(()),
                    Err(e) => Err(share_error(e)),
                };
                *w.result.lock() = Some(r);
            }
            queue.leader_active = false;
            inner.queue_cv.notify_all();
        }
    }

    /// Commits `batch` on the calling thread (the JS thread) when that cannot wait, and hands
    /// it back otherwise (the caller then uses `write`, off the JS thread). It cannot wait
    /// when no other writer is active or queued, nothing stalls (a full memtable, level 0 at
    /// its slowdown threshold) and its WAL record goes into memory: an in-memory (ultra)
    /// database has no log, and a WAL on disk takes the record as a copy into its mapped,
    /// prepared pages (`WritableFile::append_in_memory`; docs/design.md "In-place commits").
    /// Not with maintained secondary indexes (their entries need old values, which may be on
    /// disk). A memtable it fills is frozen by a pool job, not here.
    pub fn try_write_now(&self, batch: WriteBatch) -> Result<Option<WriteBatch>> {
        let inner = &self.inner;
        let on_disk = !inner.options.wal_disabled;
        let _guard = self.begin()?;
        self.check_writable()?;
        if batch.is_empty() {
            return Ok(None);
        }
        self.check_poison()?;
        self.check_memory(&batch)?;
        {
            let st = inner.state.read();
            let full = st.active.mem.approximate_bytes() >= inner.options.write_buffer_size_bytes
                && st.immutable.len() >= inner.options.immutable_memtables_max;
            let (slowdown, _) = compaction::l0_thresholds(inner.options.compaction_style);
            if full || st.levels.level(0).len() >= slowdown {
                return Ok(Some(batch));
            }
        }
        if on_disk && self.active_is_full() {
            return Ok(Some(batch));
        }
        let Some(_leader) = self.lead_if_idle() else { return Ok(Some(batch)) };
        if on_disk {
            self.commit_in_place(batch)
        } else {
            self.commit_as_leader(batch, false).map(|()| None)
        }
    }

    /// The in-place commit of a database on disk, by the caller holding the leader role: the
    /// record copied into the WAL's prepared memory and applied, or, if the WAL has no room
    /// ready, the batch handed back untouched.
    fn commit_in_place(&self, batch: WriteBatch) -> Result<Option<WriteBatch>> {
        // Checked as the leader: index definitions change only by a commit.
        if self.inner.indexes.read().iter().any(IndexDef::is_maintained) {
            return Ok(Some(batch));
        }
        let data_bytes = batch.data_bytes() as u64;
        let logged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.check_poison()?;
            self.schedule_if_expiry_due();
            self.log_and_apply(&[&batch], data_bytes, false, LogWrite::InMemory)
        }))
        .unwrap_or_else(|_| Err(self.poison_with("a panic during an in-place commit".into())))?;
        if !logged {
            return Ok(Some(batch));
        }
        if self.active_is_full() {
            // Freezing means a new WAL file: a pool job does it (`freeze_if_full_and_idle`).
            self.schedule_job(|_| true);
        }
        Ok(None)
    }

    /// Commits one batch by a caller that already holds the leader role (`try_write_now`,
    /// or a caller inside `as_sole_writer` that must read and write with no writer between).
    pub(crate) fn commit_as_leader(&self, batch: WriteBatch, sync: bool) -> Result<()> {
        let group = [Arc::new(PendingWrite { batch, sync, result: Mutex::new(None) })];
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.commit_group(&group)))
            .unwrap_or_else(|_| Err(self.poison_with("a panic during group commit".into())))
    }

    /// Writes a group's records with one `write` (and one fdatasync if any asked), then
    /// applies them to the memtable. Runs on the leader only.
    fn commit_group(&self, group: &[Arc<PendingWrite>]) -> Result<()> {
        self.check_poison()?;
        self.throttle_for_level0()?;
        self.make_room_for_write()?;
        self.schedule_if_expiry_due();
        let expanded = self.with_index_entries(group)?;
        let batches: Vec<&WriteBatch> = group
            .iter()
            .enumerate()
            .map(|(i, w)| expanded.get(i).and_then(Option::as_ref).unwrap_or(&w.batch))
            .collect();
        let data_bytes = group.iter().map(|w| w.batch.data_bytes() as u64).sum();
        let sync = group.iter().any(|w| w.sync);
        self.log_and_apply(&batches, data_bytes, sync, LogWrite::Append)?;
        // The group is durable and applied; a failed rotation poisons the database (the next
        // operation reports it) but does not undo this group.
        let _ = self.freeze_if_full();
        Ok(())
    }

    /// Writes the batches' WAL records as `how` says (then `fdatasync` if `sync`), and applies
    /// the batches to the active memtable. `Ok(false)` when an in-memory write found no room
    /// ready: then nothing was written or applied. `data_bytes` counts the users' bytes.
    fn log_and_apply(&self, batches: &[&WriteBatch], data_bytes: u64, sync: bool, how: LogWrite) -> Result<bool> {
        let inner = &self.inner;
        // In place (the JS thread) never waits for the lock: `sync_wal` holds it across an
        // fdatasync. Pooled writers are not a concern: the caller leads the queue.
        let mut wal_guard = match how {
            LogWrite::Append => inner.wal.lock(),
            LogWrite::InMemory => match inner.wal.try_lock() {
                Some(guard) => guard,
                None => return Ok(false),
            },
        };
        let wal = wal_guard.as_mut().ok_or(Error::Closed)?;
        let records_bytes: usize = batches.iter().map(|b| b.payload().len() + wal::RECORD_HEADER_BYTES).sum();
        if how == LogWrite::InMemory && !inner.options.wal_disabled && wal.room_in_memory() < records_bytes as u64 {
            return Ok(false);
        }
        let first = inner.last_seq.load(Ordering::SeqCst) + 1;
        let mut records = Vec::with_capacity(records_bytes);
        let mut seq = first;
        for batch in batches {
            wal::encode_record(&mut records, wal.number(), seq, batch.payload());
            seq += u64::from(batch.count());
        }
        if !inner.options.wal_disabled {
            match how {
                LogWrite::InMemory if !wal.append_in_memory(&records) => return Ok(false),
                LogWrite::InMemory => {
                    inner.wal_in_memory_writes.fetch_add(1, Ordering::Relaxed);
                }
                LogWrite::Append => {
                    if let Err(e) = wal.append(&records) {
                        return Err(self.poison_by(&e, e.to_string()));
                    }
                }
            }
        }
        inner.wal_writes.fetch_add(1, Ordering::Relaxed);
        inner.wal_bytes.store(wal.len_bytes(), Ordering::Relaxed);
        inner.user_bytes.fetch_add(data_bytes, Ordering::Relaxed);
        if !inner.options.wal_disabled && sync {
            if let Err(e) = wal.sync() {
                return Err(self.poison_by(&e, e.to_string()));
            }
            inner.wal_syncs.fetch_add(1, Ordering::Relaxed);
        }
        if !inner.options.wal_disabled && how == LogWrite::Append && !sync {
            // On the pool: room for the JS thread's next in-place commits. Not after a sync:
            // the prepared pages are dirty zeros the next sync would write to the disk, a
            // cost a run of synced writes (which never commit in place) must not pay.
            wal.prepare_in_memory();
        }
        drop(wal_guard);
        let mem = Arc::clone(&inner.state.read().active.mem);
        let snapshots = inner.snapshots.lock();
        let oldest_snapshot = snapshots.keys().next().copied().unwrap_or(u64::MAX);
        let mut seq = first;
        let mut definitions_changed = false;
        for batch in batches {
            let ops = decode_payload(batch.payload())
                .ok_or_else(|| Error::Internal("batch payload does not decode".into()))?;
            mem.apply(seq, &ops, oldest_snapshot);
            seq += ops.len() as u64;
            inner.last_seq.store(seq - 1, Ordering::SeqCst);
            definitions_changed |= ops.iter().any(|op| definition_name(op.stored_key).is_some());
        }
        drop(snapshots);
        if definitions_changed {
            self.apply_definition_changes(batches);
        }
        Ok(true)
    }

    /// Each batch of the group with the index entries its writes imply (`None` where a batch
    /// touches no indexed key), reading old values as the group's earlier batches left them.
    fn with_index_entries(&self, group: &[Arc<PendingWrite>]) -> Result<Vec<Option<WriteBatch>>> {
        let defs = Arc::clone(&self.inner.indexes.read());
        if !defs.iter().any(IndexDef::is_maintained) {
            return Ok(Vec::new());
        }
        let decoded: Vec<Vec<Op<'_>>> = group
            .iter()
            .map(|w| {
                decode_payload(w.batch.payload()).ok_or_else(|| Error::Internal("batch payload does not decode".into()))
            })
            .collect::<Result<_>>()?;
        let mut overlay = index::maintain::Overlay::new();
        let mut read_latest = |sk: &[u8]| self.read_latest_stored(sk);
        let mut scan_latest =
            |lo: &[u8], hi: &[u8], f: &mut dyn FnMut(&[u8], &[u8])| self.scan_latest_stored(lo, hi, f);
        group
            .iter()
            .zip(&decoded)
            .map(|(w, ops)| {
                index::maintain::expand(&defs, &w.batch, ops, &mut overlay, &mut read_latest, &mut scan_latest)
            })
            .collect()
    }

    /// The newest value of a stored key (any keyspace), as the commit leader sees it.
    pub(crate) fn read_latest_stored(&self, stored_key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut f = Some(|v: Option<&[u8]>| v.map(<[u8]>::to_vec));
        match self.read_layers(stored_key, u64::MAX, false, &mut f)? {
            Walk::Decided(r) => Ok(r),
            Walk::Absent => Ok(None),
            Walk::NeedsDisk => Err(Error::Internal("a disk read stopped at an uncached block".into())),
        }
    }

    /// Every live user key in the stored range `[lo, hi)` with its value, at the newest state
    /// (the commit leader's view), handed to `f` with its keyspace tag.
    fn scan_latest_stored(&self, lo: &[u8], hi: &[u8], f: &mut dyn FnMut(&[u8], &[u8])) -> Result<()> {
        let user = |k: &[u8]| k.get(1..).unwrap_or_default().to_vec();
        let upper = if hi == USER_KEYSPACE_END.as_slice() { Bound::Unbounded } else { Bound::Excluded(user(hi)) };
        let options = IterOptions { lower: Bound::Included(user(lo)), upper, reverse: false };
        let mut iter = self.iter(options, None)?;
        let mut stored = Vec::new();
        while iter.next_page(4096, usize::MAX, false, |key, value| {
            stored.clear();
            stored.push(Keyspace::User as u8);
            stored.extend_from_slice(key);
            f(&stored, value);
        })? != PageEnd::Exhausted
        {}
        Ok(())
    }

    /// Updates the in-memory index definitions from the definition records a group wrote.
    fn apply_definition_changes(&self, batches: &[&WriteBatch]) {
        let mut defs: Vec<IndexDef> = self.inner.indexes.read().as_ref().clone();
        // The group is applied and no other can start: snapshots from now on see all of it.
        let group_end = self.inner.last_seq.load(Ordering::SeqCst);
        for batch in batches {
            for op in decode_payload(batch.payload()).unwrap_or_default() {
                let Some(name) = definition_name(op.stored_key) else { continue };
                let previous = defs.iter().position(|d| d.name.as_bytes() == name).map(|i| defs.remove(i));
                if op.kind == Kind::Put {
                    if let Some(mut def) = IndexDef::decode(op.stored_key, op.value) {
                        def.ready_seq = previous
                            .filter(|p| p.id == def.id && p.state == IndexState::Ready)
                            .map_or(group_end, |p| p.ready_seq);
                        defs.push(def);
                    }
                }
            }
        }
        defs.sort_by_key(|d| d.id);
        *self.inner.indexes.write() = Arc::new(defs);
        self.inner.index_cv.notify_all();
    }

    /// Index definitions as of now.
    pub(crate) fn index_definitions(&self) -> Arc<Vec<IndexDef>> {
        Arc::clone(&self.inner.indexes.read())
    }

    /// Replaces the in-memory definitions (at open, from the metadata keyspace).
    pub(crate) fn set_index_definitions(&self, defs: Vec<IndexDef>) {
        *self.inner.indexes.write() = Arc::new(defs);
    }

    /// The index worker's shared state and the condition variable waiters sleep on.
    pub(crate) fn index_work(&self) -> (&Mutex<IndexWork>, &Condvar) {
        (&self.inner.index_work, &self.inner.index_cv)
    }

    /// If the active memtable is full, freezes it behind a new WAL and schedules a flush;
    /// waits (bounded per check, re-checking poison) while too many frozen ones wait.
    fn make_room_for_write(&self) -> Result<()> {
        let inner = &self.inner;
        loop {
            if !self.active_is_full() {
                return Ok(());
            }
            if inner.state.read().immutable.len() >= inner.options.immutable_memtables_max {
                self.schedule_background();
                let mut jobs = inner.bg_jobs.lock();
                if jobs.flush {
                    inner.flush_cv.wait_for(&mut jobs, STALL_CHECK_INTERVAL);
                }
                drop(jobs);
                self.check_poison()?;
                // Close stops background work: a writer stalled here would wait forever.
                self.check_open()?;
                continue;
            }
            self.rotate_wal()?;
            self.schedule_background();
            return Ok(());
        }
    }

    /// Whether the active memtable (or its WAL) has reached the size at which it is frozen.
    /// The WAL's own size also counts (it once grew without bound under overwrites while the
    /// memtable pruned them), and so does what of it is dead: a log of at least
    /// `WAL_SMALL_DATABASE_FLOOR_BYTES` that is half overwritten versions is flushed, so a
    /// small database that rewrites a few keys (settings, bookmarks) keeps its disk near its
    /// live data instead of megabytes of dead log (tests/compaction.rs: 250 KB live, rewritten
    /// 60 times, peaked at 1.1 MB on disk, and at 4.3 MB without it). So is a log of at least
    /// a quarter of the write buffer (and 1 MiB) once it outgrows half of all tables (there
    /// are some): in a database smaller than the write buffer, the log's newer
    /// versions (rewritten bookmarks) make the tables' older ones dead, and expired values
    /// sit in it, none of which a flush and merge could give back while the log kept growing
    /// (docs/design.md "Small databases on disk").
    fn active_is_full(&self) -> bool {
        let inner = &self.inner;
        let (active, table_bytes) = {
            let st = inner.state.read();
            (Arc::clone(&st.active.mem), st.levels.total_bytes())
        };
        // The counter, not the WAL's lock: the JS thread asks this before an in-place commit,
        // and the lock is held across a pooled group's write and fdatasync.
        let wal_bytes = inner.wal_bytes.load(Ordering::Relaxed);
        let outgrew_tables = table_bytes > 0
            && wal_bytes * 2 > table_bytes
            && wal_bytes >= WAL_SMALL_DATABASE_FLOOR_BYTES.max(inner.options.write_buffer_size_bytes as u64 / 4);
        active.approximate_bytes() >= inner.options.write_buffer_size_bytes
            || wal_bytes >= (WAL_SIZE_FACTOR * inner.options.write_buffer_size_bytes) as u64
            || (wal_bytes >= WAL_SMALL_DATABASE_FLOOR_BYTES && active.superseded_bytes() * 2 >= wal_bytes)
            || outgrew_tables
    }

    /// Freezes the active memtable as soon as a group has filled it, instead of at the next
    /// write, when a frozen slot is free (never stalls); the caller holds the leader role.
    /// Otherwise a database that stops writing keeps a full memtable — with a small
    /// `writeBufferSize`, one batch larger than the buffer left it at several times its budget
    /// (a 1000-key batch: 370 KB against 64 KiB) for as long as no write came (docs/design.md
    /// "Memory").
    fn freeze_if_full(&self) -> Result<()> {
        let inner = &self.inner;
        if inner.options.read_only || inner.state.read().immutable.len() >= inner.options.immutable_memtables_max {
            return Ok(());
        }
        if !self.active_is_full() {
            return Ok(());
        }
        self.rotate_wal()?;
        self.schedule_background();
        Ok(())
    }

    /// After a flush freed a frozen slot: freezes an active memtable that filled while no slot
    /// was free, if no writer is active or waiting (a waiting writer does it itself in
    /// `make_room_for_write`).
    fn freeze_if_full_and_idle(&self) {
        let inner = &self.inner;
        // An operation in flight: `close` waits for it before it freezes and flushes.
        let Ok(_guard) = self.begin() else { return };
        if inner.poisoned.load(Ordering::SeqCst) || !self.active_is_full() {
            return;
        }
        let Some(_leader) = self.lead_if_idle() else { return };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.freeze_if_full()));
    }

    /// Takes the leader role if no writer is active or queued; given up when the role drops
    /// (on every way out, a panic included: writers and `close` wait for it).
    fn lead_if_idle(&self) -> Option<LeaderRole<'_>> {
        let mut queue = self.inner.queue.lock();
        if queue.leader_active || !queue.pending.is_empty() {
            return None;
        }
        queue.leader_active = true;
        Some(LeaderRole(&self.inner))
    }

    /// Slows writers while level 0 is over its slowdown threshold (one short sleep per write
    /// group), and makes them wait while it is over its stop threshold, re-checking as each
    /// flush or compaction ends; never for ever: a failed compaction poisons and wakes them.
    fn throttle_for_level0(&self) -> Result<()> {
        let inner = &self.inner;
        let (slowdown, stop) = compaction::l0_thresholds(inner.options.compaction_style);
        let mut slowed = false;
        loop {
            let l0 = inner.state.read().levels.level(0).len();
            if l0 < slowdown {
                return Ok(());
            }
            self.schedule_background();
            if l0 < stop {
                if !slowed {
                    inner.write_slowdowns.fetch_add(1, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(compaction::SLOWDOWN_DELAY_MS));
                }
                return Ok(());
            }
            slowed = true;
            inner.write_stops.fetch_add(1, Ordering::Relaxed);
            let mut jobs = inner.bg_jobs.lock();
            if jobs.any() {
                inner.flush_cv.wait_for(&mut jobs, STALL_CHECK_INTERVAL);
            }
            drop(jobs);
            self.check_poison()?;
            self.check_open()?;
        }
    }

    /// Syncs the current WAL, starts a new one, and freezes the active memtable.
    fn rotate_wal(&self) -> Result<()> {
        let inner = &self.inner;
        let number = inner.next_file_number.fetch_add(1, Ordering::SeqCst);
        let mut wal = inner.wal.lock();
        let result = (|| {
            if let Some(old) = wal.as_mut() {
                old.finish()?;
            }
            let path = files::path(&inner.dir, number, FileKind::Wal);
            let (reserve, window) = wal_room(&inner.options);
            let file =
                inner.storage.open_log(&path, false, reserve, window).ctx(|| format!("creating WAL {number:06}"))?;
            inner.storage.sync_dir(&inner.dir).ctx(|| "syncing the database directory".into())?;
            Ok(WalWriter::new(file, number))
        })();
        let new_wal = result.map_err(|e: Error| self.poison_by(&e, e.to_string()))?;
        inner.wal_bytes.store(new_wal.len_bytes(), Ordering::Relaxed);
        *wal = Some(new_wal);
        let mut st = inner.state.write();
        let frozen =
            std::mem::replace(&mut st.active, MemWithWal { mem: Arc::new(Memtable::new()), wal_number: number });
        st.immutable.push(frozen);
        Ok(())
    }

    /// Queues the background jobs that have work: a flush job when a frozen memtable waits, a
    /// compaction job when a compaction is due; never a second job of a kind that is queued
    /// or running. Each job does one unit of work and then schedules again, so it goes to
    /// the back of the shared pool's queue: a busy database cannot hold the pool's threads
    /// while other databases wait.
    fn schedule_background(&self) {
        let inner = &self.inner;
        if inner.closed.load(Ordering::SeqCst) || inner.options.read_only {
            return;
        }
        let moment = self.moment();
        let (flush_due, compaction_due) = self.background_work_due(moment);
        if !compaction_due {
            self.note_next_expiry(moment);
        }
        let mut jobs = inner.bg_jobs.lock();
        if flush_due && !jobs.flush {
            jobs.flush = true;
            self.schedule_job(|db| db.background_job(BackgroundKind::Flush));
        }
        if compaction_due && !jobs.compaction {
            jobs.compaction = true;
            self.schedule_job(|db| db.background_job(BackgroundKind::Compaction));
        }
    }

    /// Queues `job` on the shared pool with a weak reference to the database: one whose last
    /// handle is dropped without `close()` (a worker thread terminated) is let go, its files
    /// closed and its lock released, once the job running then ends, not after every flush
    /// and compaction that was due (its WAL keeps what was not flushed). When `job` returns
    /// true, the next jobs are looked for only after its own reference is gone, so a job it
    /// would queue cannot take the database over from it on another pool thread.
    fn schedule_job(&self, job: impl FnOnce(&Self) -> bool + Send + 'static) {
        let weak = Arc::downgrade(&self.inner);
        background::schedule(move || {
            let follow_up = weak.upgrade().is_some_and(|inner| job(&Self { inner }));
            if let Some(inner) = weak.upgrade().filter(|_| follow_up) {
                let db = Self { inner };
                // A flush freed a frozen slot; a compaction may have lifted a stall.
                db.freeze_if_full_and_idle();
                db.schedule_background();
            }
        });
    }

    /// Whether a flush is due, and whether a compaction is due.
    fn background_work_due(&self, moment: compaction::Moment) -> (bool, bool) {
        let st = self.inner.state.read();
        let mut scratch = self.inner.compact_pointers.lock().clone();
        (!st.immutable.is_empty(), compaction::pick(&st.levels, &self.inner.options, &mut scratch, moment).is_some())
    }

    /// The clock and the oldest snapshot, for a compaction pick.
    fn moment(&self) -> compaction::Moment {
        let oldest_snapshot = self.inner.snapshots.lock().keys().next().copied().unwrap_or(u64::MAX);
        compaction::Moment { now_ms: (self.inner.options.clock)(), oldest_snapshot }
    }

    /// Records when the writer should next look for a compaction of expired values (see
    /// `schedule_if_expiry_due`). Notes are serialized and each reads the current version, so
    /// one computed from an older version cannot overwrite one from a newer; a table already
    /// due (the clock moved since the pick) makes the next write look again.
    fn note_next_expiry(&self, moment: compaction::Moment) {
        let inner = &self.inner;
        let _noting = inner.expiry_note_lock.lock();
        let levels = Arc::clone(&inner.state.read().levels);
        let due = compaction::next_expiry_due_ms(&levels, &inner.options, moment);
        let previous = inner.expiry_due_ms.swap(due.unwrap_or(u64::MAX), Ordering::Relaxed);
        // The timer is set already when the time did not change (most notes, after each
        // flush and compaction).
        match due {
            Some(due) if due != previous => self.arm_expiry_timer(due),
            None if previous != u64::MAX => background::cancel_timer(inner.timer_key),
            _ => {}
        }
    }

    /// Sets the database's background timer to look at `due_ms` (database clock) even if
    /// nothing is written: an idle database gives its expired data back too.
    fn arm_expiry_timer(&self, due_ms: u64) {
        let wait_ms = due_ms.saturating_sub((self.inner.options.clock)()).min(EXPIRY_TIMER_MAX_MS);
        let weak = Arc::downgrade(&self.inner);
        let at = std::time::Instant::now() + Duration::from_millis(wait_ms);
        background::schedule_at(self.inner.timer_key, at, move || {
            if let Some(inner) = weak.upgrade() {
                Self { inner }.expiry_timer_fired();
            }
        });
    }

    /// The timer's turn: ask for a compaction if the time has come (as a write would), else
    /// sleep again until it does.
    fn expiry_timer_fired(&self) {
        let inner = &self.inner;
        if inner.closed.load(Ordering::SeqCst) {
            return;
        }
        let due = inner.expiry_due_ms.load(Ordering::Relaxed);
        if due == u64::MAX {
            return;
        }
        if (inner.options.clock)() >= due {
            self.schedule_if_expiry_due();
        } else {
            self.arm_expiry_timer(due);
        }
    }

    /// Looks for a compaction once a table has become mostly expired: without it, a database
    /// that writes too little to flush would keep its expired data on disk. One atomic load
    /// per write group when no table holds values with an expiry time.
    fn schedule_if_expiry_due(&self) {
        let inner = &self.inner;
        let due = inner.expiry_due_ms.load(Ordering::Relaxed);
        if due == u64::MAX || (inner.options.clock)() < due {
            return;
        }
        // One writer asks; `schedule_background` (or the job it queues) notes the next time.
        if inner.expiry_due_ms.compare_exchange(due, u64::MAX, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.schedule_background();
        }
    }

    /// One flush or one compaction; returns whether the next jobs should be looked for (not
    /// when the database is closed or poisoned).
    fn background_job(&self, kind: BackgroundKind) -> bool {
        let inner = &self.inner;
        let stopped = || inner.poisoned.load(Ordering::SeqCst) || inner.closed.load(Ordering::SeqCst);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if stopped() {
                return Ok(false);
            }
            match kind {
                BackgroundKind::Flush => self.flush_oldest(),
                BackgroundKind::Compaction => self.compact_once(),
            }
        }));
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                self.poison_by(&e, format!("background flush or compaction failed: {e}"));
            }
            Err(_) => {
                self.poison_with("a panic in the background flush or compaction".into());
            }
        }
        {
            let mut jobs = inner.bg_jobs.lock();
            match kind {
                BackgroundKind::Flush => jobs.flush = false,
                BackgroundKind::Compaction => jobs.compaction = false,
            }
        }
        inner.flush_cv.notify_all();
        !stopped()
    }

    /// Runs one due compaction; returns whether there was one.
    fn compact_once(&self) -> Result<bool> {
        let _compacting = self.inner.compaction_lock.lock();
        let moment = self.moment();
        let plan = self.pick_compaction(|levels| {
            compaction::pick(levels, &self.inner.options, &mut self.inner.compact_pointers.lock(), moment)
        });
        match plan {
            // Cancelled or not, there was one: the job looks for more.
            Some(plan) => self.run_compaction(&plan).map(|_| true),
            None => Ok(false),
        }
    }

    /// Picks a compaction from the current version and registers its inputs as being merged,
    /// both under the version lock. The caller holds the compaction lock and runs the plan
    /// with `run_compaction`, which unregisters the inputs when it ends.
    fn pick_compaction(&self, pick: impl FnOnce(&Levels) -> Option<compaction::Plan>) -> Option<compaction::Plan> {
        let _version = self.inner.version_lock.lock();
        let levels = Arc::clone(&self.inner.state.read().levels);
        let plan = pick(&levels)?;
        let mut inputs = self.inner.compacting_inputs.lock();
        debug_assert!(inputs.is_empty(), "one compaction at a time");
        *inputs = plan.inputs().map(|t| t.meta.number).collect();
        self.inner.compaction_cancel.store(false, Ordering::SeqCst);
        Some(plan)
    }

    /// Merges a plan's inputs (no version lock: flushes go on meanwhile), then, under the
    /// version lock, swaps the MANIFEST, publishes the new version (the current one, with any
    /// tables flushed meanwhile, minus the inputs plus the outputs) and retires the inputs.
    /// The caller holds the compaction lock.
    /// Returns false when a `clear` cancelled it (nothing installed, its outputs removed).
    fn run_compaction(&self, plan: &compaction::Plan) -> Result<bool> {
        /// Unregisters the inputs however the run ends (a panic included).
        struct Unregister<'a>(&'a Mutex<Vec<u64>>);
        impl Drop for Unregister<'_> {
            fn drop(&mut self) {
                self.0.lock().clear();
            }
        }
        let _unregister = Unregister(&self.inner.compacting_inputs);
        self.merge_and_install(plan)
    }

    fn merge_and_install(&self, plan: &compaction::Plan) -> Result<bool> {
        let inner = &self.inner;
        let oldest_snapshot = inner.snapshots.lock().keys().next().copied().unwrap_or(u64::MAX);
        let next_number = || inner.next_file_number.fetch_add(1, Ordering::SeqCst);
        let merger = compaction::Merger {
            storage: &inner.storage,
            dir: &inner.dir,
            options: &inner.options,
            next_number: &next_number,
            cancel: Some(&inner.compaction_cancel),
        };
        let Some(metas) = merger.run(plan, oldest_snapshot, (inner.options.clock)())? else { return Ok(false) };
        if !metas.is_empty() {
            inner.storage.sync_dir(&inner.dir).ctx(|| "syncing the database directory".into())?;
        }
        let output_bytes: u64 = metas.iter().map(|m| m.file_size).sum();
        let event = Event::Compaction {
            input_tables: plan.inputs().count() as u64,
            input_bytes: plan.inputs().map(|t| t.meta.file_size).sum(),
            output_tables: metas.len() as u64,
            output_bytes,
            output_level: plan.output_level,
        };
        inner.compaction_bytes.fetch_add(output_bytes, Ordering::Relaxed);
        let added = metas.into_iter().map(|m| self.open_live_table(m)).collect::<Result<Vec<_>>>()?;
        let outputs = added.clone();
        let removed: Vec<u64> = plan.inputs().map(|t| t.meta.number).collect();
        let version_guard = inner.version_lock.lock();
        // A clear dropped inputs while this merged (it sets the flag under the version lock):
        // the outputs would put their data where the dropped inputs were (a level-0 output of
        // a tiered merge, in front of tables flushed since), so they are abandoned instead.
        if inner.compaction_cancel.load(Ordering::SeqCst) {
            for t in &added {
                t.retire();
            }
            return Ok(false);
        }
        let levels = inner.state.read().levels.with_compaction(&removed, added);
        self.store_manifest(&levels, None, None)?;
        inner.state.write().levels = Arc::new(levels);
        for t in plan.inputs() {
            t.retire();
        }
        inner.compactions.fetch_add(1, Ordering::Relaxed);
        self.record_event(event);
        inner.flush_cv.notify_all();
        drop(version_guard);
        self.load_wanted_filters();
        carry_heat(plan.inputs(), &outputs);
        Ok(true)
    }

    /// Loads the filters a merge left wanted: when a merge opens a deeper level, the tables
    /// of the level that was the deepest had been opened without theirs (`FilterBudget`).
    /// It reads files, on the thread that ran the merge.
    fn load_wanted_filters(&self) {
        let levels = Arc::clone(&self.inner.state.read().levels);
        let (budget, shape) = (FilterBudget::of(&self.inner.options), levels.filter_shape());
        for t in levels.all().filter(|t| !t.has_filter() && budget.wants_filter(t.meta.level, shape)) {
            // A filter that fails to read or check stays out: reads then read the table's
            // blocks, whose own checks report any damage.
            let _ = t.load_filter();
        }
    }

    /// Flushes the memtable, then merges every table that holds keys in `[lower, upper]`
    /// (all tables when unbounded) down into one sorted run, dropping overwritten versions
    /// and tombstones nobody needs.
    pub fn compact(&self, lower: Option<&[u8]>, upper: Option<&[u8]>) -> Result<()> {
        self.flush()?;
        let _guard = self.begin()?;
        let compacting = self.inner.compaction_lock.lock();
        self.merge_range(lower, upper, &compacting)
    }

    /// The merge of `compact`, under the compaction lock (`_compacting`, its guard).
    fn merge_range(
        &self,
        lower: Option<&[u8]>,
        upper: Option<&[u8]>,
        _compacting: &parking_lot::MutexGuard<'_, ()>,
    ) -> Result<()> {
        let tag = |k: Option<&[u8]>, default: Vec<u8>| {
            k.map_or(default, |k| {
                let mut s = vec![Keyspace::User as u8];
                s.extend_from_slice(k);
                s
            })
        };
        let lower = tag(lower, vec![Keyspace::User as u8]);
        // Unbounded: everything up to the next keyspace's tag (no user key reaches it).
        let upper = tag(upper, vec![Keyspace::User as u8 + 1]);
        // A `clear` may cancel the merge (its inputs died): then plan again over what is left.
        loop {
            let plan =
                self.pick_compaction(|levels| compaction::plan_manual(levels, &self.inner.options, &lower, &upper));
            let Some(plan) = plan else { return Ok(()) };
            match self.run_compaction(&plan) {
                Ok(true) => {
                    // Its outputs set when a table next becomes mostly expired.
                    self.note_next_expiry(self.moment());
                    return Ok(());
                }
                Ok(false) => {}
                Err(e) => return Err(self.poison_by(&e, format!("compaction failed: {e}"))),
            }
        }
    }

    /// Flushes the oldest frozen memtable into a table and records it in the MANIFEST.
    /// Returns whether there was one.
    fn flush_oldest(&self) -> Result<bool> {
        let inner = &self.inner;
        let version = inner.version_lock.lock();
        let Some(oldest) = inner.state.read().immutable.first().cloned() else {
            return Ok(false);
        };
        let ranges = oldest.mem.range_tombstones();
        // The data blocks that take keys a point read found in the memtable (ascending).
        let mut read_blocks: Vec<usize> = Vec::new();
        let table = if oldest.mem.is_empty() {
            None
        } else {
            let number = inner.next_file_number.fetch_add(1, Ordering::SeqCst);
            let path = files::path(&inner.dir, number, FileKind::Table);
            let file = inner.storage.create(&path).ctx(|| format!("creating table {number:06}"))?;
            let mut builder =
                TableBuilder::new(file, number, inner.options.compression, inner.options.block_size_bytes);
            for t in &ranges {
                builder.add_range_delete(&t.start, &t.end, t.seq)?;
            }
            oldest.mem.for_each(|key, v, read| {
                let block = builder.next_data_block();
                if read && read_blocks.last() != Some(&block) {
                    read_blocks.push(block);
                }
                builder.add(key, v.seq, v.kind, v.expiry_ms, v.value)
            })?;
            let meta = builder.finish()?;
            inner.flush_bytes.fetch_add(meta.file_size, Ordering::Relaxed);
            // The table's directory entry must be durable before a MANIFEST names it; do not
            // rely on the file system ordering the create before the MANIFEST rename.
            inner.storage.sync_dir(&inner.dir).ctx(|| "syncing the database directory".into())?;
            Some(self.open_live_table(meta)?)
        };
        let (log_number, levels) = {
            let st = inner.state.read();
            let log_number = st.immutable.get(1).map_or(st.active.wal_number, |m| m.wal_number);
            let levels = match &table {
                Some(t) => st.levels.with_flushed(Arc::clone(t)),
                None => (*st.levels).clone(),
            };
            (log_number, levels)
        };
        self.store_manifest(&levels, Some(log_number), table.as_ref().map(|t| t.meta.max_seq))?;
        // The flushed memtable no longer masks HOT once it is gone: drop its keys from HOT
        // first (heatmap/mod.rs "Consistency").
        inner.heat.invalidate(|remove| oldest.mem.for_each_key(remove));
        // Its range tombstones too: HOT may hold older values of keys they cover.
        if !ranges.is_empty() {
            inner.heat.invalidate_ranges(&ranges);
        }
        {
            let mut st = inner.state.write();
            st.immutable.remove(0);
            st.levels = Arc::new(levels);
        }
        inner.flushes.fetch_add(1, Ordering::Relaxed);
        if let Some(t) = &table {
            self.record_event(Event::Flush {
                table: t.meta.number,
                bytes: t.meta.file_size,
                entries: t.meta.entry_count,
            });
        }
        inner.flush_cv.notify_all();
        files::remove_obsolete_wals(inner.storage.as_ref(), &inner.dir, log_number);
        // Writers stalled for this flush were woken above, and a merge need not wait for the
        // warming: it only reads the new table, which `table` keeps alive (if a merge replaces
        // it meanwhile, its blocks leave the cache when it is dropped). The next background
        // flush does wait: this job ends with the warming.
        drop(version);
        if let Some(t) = &table {
            self.warm_read_blocks(t, &read_blocks);
        }
        Ok(true)
    }

    /// After a flush: caches the new table's blocks that hold keys point reads found in the
    /// memtable (`blocks`, ascending), at the heat of a block read twice lately
    /// (`CARRY_HEAT_MIN`), so admission weighs them against the blocks already cached. A key
    /// read while it was a recent write is likely read again (a page visited, then its history
    /// entry shown); without this its next read misses once on the new table. Keys nobody read
    /// stay on disk, so a bulk load does not crowd the cache. At most half the cache's worth (a
    /// huge memtable read whole would read back more than the cache keeps) and none at close
    /// (the cache is let go right after); read back from the page cache the flush just filled;
    /// best effort, as `carry_heat`.
    fn warm_read_blocks(&self, table: &LiveTable, blocks: &[usize]) {
        let inner = &self.inner;
        // Counted in the bytes read back: a block holding a large value is that value's size,
        // not `block_size_bytes`; one that fails to read counts as a block of that size.
        let mut bytes_left = inner.heat.blocks().capacity_bytes() / 2;
        for &i in blocks {
            // A close that began meanwhile waits for this job: stop at once.
            if bytes_left == 0 || inner.closed.load(Ordering::SeqCst) {
                return;
            }
            let bytes = table.warm_block(i, CARRY_HEAT_MIN).unwrap_or(0);
            bytes_left = bytes_left.saturating_sub(bytes.max(inner.options.block_size_bytes));
        }
    }

    /// Opens a table just written (checking it as any later open would), with its filter
    /// unless it joins the deepest level of a database over its filter budget.
    pub(crate) fn open_live_table(&self, meta: TableMeta) -> Result<Arc<LiveTable>> {
        let inner = &self.inner;
        let path = files::path(&inner.dir, meta.number, FileKind::Table);
        let blocks = inner.heat.blocks();
        let shape = inner.state.read().levels.filter_shape();
        let load_filter = FilterBudget::of(&inner.options).wants_filter(meta.level, shape);
        let table = Table::open(inner.storage.as_ref(), &path, meta.number, Arc::clone(blocks), load_filter)?;
        Ok(Arc::new(LiveTable::new(table, meta, Arc::clone(&inner.storage), path, Arc::clone(blocks))))
    }

    /// Swaps in a MANIFEST naming `levels`' tables (and the new oldest live WAL, if given).
    pub(crate) fn store_manifest(&self, levels: &Levels, log_number: Option<u64>, max_seq: Option<u64>) -> Result<()> {
        let inner = &self.inner;
        let mut m = inner.manifest.lock();
        let mut next = m.clone();
        next.tables = levels.metas();
        if let Some(log_number) = log_number {
            next.log_number = log_number;
        }
        if let Some(max_seq) = max_seq {
            next.last_sequence = next.last_sequence.max(max_seq);
        }
        next.next_file_number = inner.next_file_number.load(Ordering::SeqCst);
        next.store(inner.storage.as_ref(), &inner.dir)?;
        *m = next;
        Ok(())
    }

    /// Freezes the active memtable (if it holds anything) and writes every frozen memtable
    /// to a table before returning.
    pub fn flush(&self) -> Result<()> {
        let _guard = self.begin()?;
        self.check_writable()?;
        self.check_poison()?;
        self.as_sole_writer(|| {
            if self.inner.state.read().active.mem.is_empty() {
                return Ok(());
            }
            self.rotate_wal()
        })?;
        while self.flush_oldest().map_err(|e| self.poison_by(&e, format!("flush failed: {e}")))? {}
        // The new level-0 tables may make a compaction due; writes would only look again
        // when the memtable fills.
        self.schedule_background();
        Ok(())
    }

    /// Runs `f` while no group commit is in progress and none can start (index builds read
    /// and write with no writer in between).
    pub(crate) fn as_sole_writer<R>(&self, f: impl FnOnce() -> R) -> R {
        let inner = &self.inner;
        let mut queue = inner.queue.lock();
        while queue.leader_active {
            inner.queue_cv.wait(&mut queue);
        }
        queue.leader_active = true;
        drop(queue);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        inner.queue.lock().leader_active = false;
        inner.queue_cv.notify_all();
        result.unwrap_or_else(|payload| std::panic::resume_unwind(payload))
    }

    /// Reads a key: memtables, then tables newest first. `f` sees the value (borrowed) or
    /// `None`, so the caller copies it once into its destination.
    pub fn get_with<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<R> {
        self.get_at_with(key, None, f)
    }

    /// Reads a key as of `snapshot` (the newest state when `None`).
    pub fn get_at_with<R>(
        &self,
        key: &[u8],
        snapshot: Option<&Snapshot>,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<R> {
        let _guard = self.begin()?;
        check_read_key(key)?;
        let seq = self.read_sequence(snapshot)?;
        with_stored_key(key, |sk| {
            let mut f = Some(f);
            match self.read_layers(sk, seq, false, &mut f)? {
                Walk::Decided(r) => Ok(r),
                Walk::Absent => take_callback(&mut f).map(|f| f(None)),
                Walk::NeedsDisk => Err(Error::Internal("a disk read stopped at an uncached block".into())),
            }
        })
    }

    /// Reads a key into an owned vector.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.get_with(key, |v| v.map(<[u8]>::to_vec))
    }

    /// Reads a key as of `snapshot` into an owned vector.
    pub fn get_at(&self, key: &[u8], snapshot: Option<&Snapshot>) -> Result<Option<Vec<u8>>> {
        self.get_at_with(key, snapshot, |v| v.map(<[u8]>::to_vec))
    }

    /// The JS thread's fast path: answers only from memory (memtables and cached blocks).
    /// `Ok(None)` means a block must be read and the caller must read off the JS thread.
    pub fn get_in_memory<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> Result<Option<R>> {
        self.get_in_memory_at(key, None, f)
    }

    /// `get_in_memory` as of `snapshot`.
    pub fn get_in_memory_at<R>(
        &self,
        key: &[u8],
        snapshot: Option<&Snapshot>,
        f: impl FnOnce(Option<&[u8]>) -> R,
    ) -> Result<Option<R>> {
        let _guard = self.begin()?;
        check_read_key(key)?;
        let seq = self.read_sequence(snapshot)?;
        with_stored_key(key, |sk| {
            let mut f = Some(f);
            match self.read_layers(sk, seq, true, &mut f)? {
                Walk::Decided(r) => Ok(Some(r)),
                Walk::Absent => take_callback(&mut f).map(|f| Some(f(None))),
                Walk::NeedsDisk => Ok(None),
            }
        })
    }

    /// The sequence a read sees: the snapshot's, or everything written so far.
    fn read_sequence(&self, snapshot: Option<&Snapshot>) -> Result<u64> {
        match snapshot {
            None => Ok(u64::MAX),
            Some(s) if Arc::ptr_eq(&s.db.inner, &self.inner) => Ok(s.seq),
            Some(_) => Err(Error::InvalidArgument("the snapshot belongs to another database".into())),
        }
    }

    /// Takes a snapshot: reads through it see the database as it is now, whatever is
    /// written later. Released when dropped.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let _guard = self.begin()?;
        let mut snapshots = self.inner.snapshots.lock();
        let seq = self.inner.last_seq.load(Ordering::SeqCst);
        *snapshots.entry(seq).or_insert(0) += 1;
        Ok(Snapshot { db: self.clone(), seq })
    }

    fn release_snapshot(&self, seq: u64) {
        let mut snapshots = self.inner.snapshots.lock();
        if let Some(count) = snapshots.get_mut(&seq) {
            *count -= 1;
            if *count == 0 {
                snapshots.remove(&seq);
            }
        }
    }

    /// An ordered iterator over user keys, at `snapshot` (or a new one).
    pub fn iter(&self, options: IterOptions, snapshot: Option<&Snapshot>) -> Result<DbIterator> {
        self.iter_in(Keyspace::User, options, snapshot)
    }

    /// An ordered iterator over the keys of `keyspace` (bounds and keys without the tag).
    pub(crate) fn iter_in(
        &self,
        keyspace: Keyspace,
        options: IterOptions,
        snapshot: Option<&Snapshot>,
    ) -> Result<DbIterator> {
        let _guard = self.begin()?;
        self.read_sequence(snapshot)?;
        let snapshot = match snapshot {
            Some(s) => s.clone_registration(),
            None => self.snapshot()?,
        };
        let (memtables, levels) = {
            let st = self.inner.state.read();
            let memtables: Vec<Arc<Memtable>> =
                std::iter::once(&st.active).chain(st.immutable.iter().rev()).map(|m| Arc::clone(&m.mem)).collect();
            (memtables, Arc::clone(&st.levels))
        };
        Ok(DbIterator::new(self.clone(), snapshot, memtables, &levels, options, keyspace))
    }

    /// Deletes every key in the range (all keys with default options).
    ///
    /// Without a `limit` (and unless `clear_needs_per_key_deletes` says otherwise) this is one
    /// write of one range tombstone, however many keys the range holds: it takes effect at its
    /// commit (every key of the range written before it is gone, every later write stays), and
    /// returns `None` because the number of keys it deleted is not known. With a `limit` it
    /// deletes the first `limit` keys of the range (in the iterator's direction) one by one,
    /// in batches, keys written after the call started are not touched, and it returns
    /// `Some(number deleted)`.
    pub fn clear(&self, options: IterOptions, limit: Option<u64>) -> Result<Option<u64>> {
        if limit.is_none() && !self.clear_needs_per_key_deletes(&options.lower, &options.upper) {
            return self.clear_range(&options.lower, &options.upper).map(|()| None);
        }
        self.clear_per_key(options, limit).map(Some)
    }

    /// Whether `clear` of `[lower, upper]` (user keys) must delete key by key instead of
    /// writing one range tombstone: when the range holds keys an index covers.
    fn clear_needs_per_key_deletes(&self, lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> bool {
        // Indexed keys: each delete must also delete the key's index entries, which only a
        // per-key delete finds cheaply (docs/design.md "Secondary indexes").
        let Some((start, stored_end)) = range_delete_bounds(lower, upper) else { return false };
        let stored_start = [&[Keyspace::User as u8], start.as_slice()].concat();
        self.index_definitions().iter().any(|d| d.is_maintained() && d.clip(&stored_start, &stored_end).is_some())
    }

    /// Writes one range tombstone covering the user keys between the bounds.
    fn clear_range(&self, lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> Result<()> {
        let mut batch = WriteBatch::new();
        let Some((start, stored_end)) = range_delete_bounds(lower, upper) else { return Ok(()) };
        batch.push_range(&start, &stored_end)?;
        // Every table holding only sequence numbers up to here is older than the tombstone,
        // if it was written before it: a bottommost compaction stores sequence 0 for values,
        // so a table made after the write might hold a newer value that reads as 0.
        let older_than_tombstone = self.inner.last_seq.load(Ordering::SeqCst);
        let first_table_after = self.inner.next_file_number.load(Ordering::SeqCst);
        self.write(batch, false)?;
        // Dead tables go now (a running compaction that merges some of them is cancelled);
        // when a snapshot needs them, a compaction of the range reclaims the space later.
        let stored_start = [&[Keyspace::User as u8], start.as_slice()].concat();
        let dropped = self.drop_dead_tables(&stored_start, &stored_end, older_than_tombstone, first_table_after)?;
        self.compact_cleared_range_soon(start, stored_end, !dropped);
        Ok(())
    }

    /// After a range tombstone at a sequence above `older_than`: removes from the version the
    /// tables that lie wholly inside `[start, end)`, were numbered before `first_table_after`
    /// and hold only sequences up to `older_than` (the tombstone already hides every entry of
    /// them), with one MANIFEST swap, so the space
    /// of a cleared history comes back at once (RocksDB's `DeleteFilesInRange`, made safe by
    /// the tombstone: a crash before the swap still finds the tombstone in the WAL). Not while
    /// a snapshot older than the tombstone lives: it may still read those tables. Returns
    /// whether it could decide (false: a snapshot needs them).
    fn drop_dead_tables(&self, start: &[u8], end: &[u8], older_than: u64, first_table_after: u64) -> Result<bool> {
        let inner = &self.inner;
        let _guard = self.begin()?;
        if inner.snapshots.lock().keys().next().is_some_and(|&oldest| oldest <= older_than) {
            return Ok(false);
        }
        let _version = inner.version_lock.lock();
        let levels = Arc::clone(&inner.state.read().levels);
        let dead: Vec<Arc<LiveTable>> = levels
            .all()
            .filter(|t| {
                t.meta.number < first_table_after
                    && t.meta.max_seq <= older_than
                    && t.meta.smallest.as_slice() >= start
                    && t.meta.largest.as_slice() < end
            })
            .cloned()
            .collect();
        if dead.is_empty() {
            return Ok(true);
        }
        // Inputs of the running compaction go too, and it is cancelled (flag set under the
        // version lock, which its install takes and checks): it would only rewrite dead data,
        // and it lets go of their files when it stops.
        let compacting = inner.compacting_inputs.lock();
        if dead.iter().any(|t| compacting.contains(&t.meta.number)) {
            inner.compaction_cancel.store(true, Ordering::SeqCst);
        }
        drop(compacting);
        let removed: Vec<u64> = dead.iter().map(|t| t.meta.number).collect();
        let next = levels.with_compaction(&removed, Vec::new());
        self.store_manifest(&next, None, None)
            .map_err(|e| self.poison_by(&e, format!("dropping cleared tables: {e}")))?;
        inner.state.write().levels = Arc::new(next);
        for t in &dead {
            t.retire();
        }
        inner.flush_cv.notify_all();
        Ok(true)
    }

    /// After a clear: compacts the range in the background when much of what it made dead is
    /// still on disk, so the space comes back now rather than whenever size-triggered
    /// compaction reaches it (RocksDB marks such files for compaction the same way; browsers
    /// vacuum after "clear history" for the same reason). Dead: whole tables in the range that
    /// `drop_dead_tables` could not drop (`whole_tables_kept`, a snapshot needs them), the
    /// covered blocks of tables the range cuts through (level 0's span every key), and the
    /// covered entries of the memtables, whose log stays on disk until they are flushed (and,
    /// among what the cleanup gives back, the versions overwritten in the memtables). Not
    /// when the merge would rewrite more than `CLEAR_COMPACTION_REWRITE_PER_DEAD_BYTE_MAX`
    /// bytes per dead byte: reclaiming a few keys from large tables is not worth the I/O. A
    /// merge of at most `CLEAR_INLINE_MERGE_BYTES_MAX` after a clear that left more dead bytes
    /// than live ones runs at once, before the clear returns.
    fn compact_cleared_range_soon(&self, start: Vec<u8>, stored_end: Vec<u8>, whole_tables_kept: bool) {
        let stored_start = [&[Keyspace::User as u8], start.as_slice()].concat();
        let (cleared_bytes, merged_bytes) = self.cleared_bytes_on_disk(&stored_start, &stored_end, whole_tables_kept);
        // Dead also counts the memtables' overwritten versions, which the flush drops: in a
        // small database that rewrites a few keys daily (bookmarks, settings) they are most
        // of the log, and "clear all history" left 4.9 MB on disk for 0.8 MB live, queued.
        // The clear itself must still have made enough dead to be worth the merge.
        let dead_bytes = cleared_bytes + self.superseded_bytes_in_memtables();
        if cleared_bytes < CLEAR_COMPACTION_MIN_BYTES
            || merged_bytes > dead_bytes.saturating_mul(CLEAR_COMPACTION_REWRITE_PER_DEAD_BYTE_MAX)
        {
            return;
        }
        let end = (stored_end != USER_KEYSPACE_END).then(|| stored_end.get(1..).unwrap_or_default().to_vec());
        // One such job at a time: a clear while one is queued widens its range instead.
        let mut pending = self.inner.cleared_range.lock();
        // When the clear left at least half as many dead bytes as live ones (the disk would
        // hold over 1.5 times the live data; `memory_bytes`: tables, and memtables, whose logs
        // hold as much), a small merge runs before the clear returns
        // (`reclaim_cleared_range_now`). Half, not as many: the count misses the tables'
        // versions that newer ones in other tables replaced (rewritten bookmarks), and at the
        // 100k-key churn's "clear all history" 2.6 MB counted dead of 5.2 MB held while 4.4 MB
        // were. Not otherwise: it waits for a flush, which under steady writes took up to
        // 1.4 s for "clear the last day" at 10M keys.
        let inline = pending.is_none()
            && merged_bytes <= CLEAR_INLINE_MERGE_BYTES_MAX
            && dead_bytes.saturating_mul(3) >= self.memory_bytes();
        if inline {
            drop(pending);
            if self.reclaim_cleared_range_now(&start, end.as_deref()) {
                return;
            }
            pending = self.inner.cleared_range.lock();
        }
        if let Some((queued_start, queued_end)) = pending.as_mut() {
            if start < *queued_start {
                *queued_start = start;
            }
            *queued_end = match (queued_end.take(), end) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
            return;
        }
        *pending = Some((start, end));
        drop(pending);
        self.inner.clear_compactions_pending.fetch_add(1, Ordering::SeqCst);
        self.schedule_job(|db| {
            if let Some((start, end)) = db.inner.cleared_range.lock().take() {
                // A failure here poisons the database like any compaction failure; a close
                // that began meanwhile makes it return `Closed`, which is fine to drop.
                let _ = db.compact(Some(&start), end.as_deref());
            }
            db.inner.clear_compactions_pending.fetch_sub(1, Ordering::SeqCst);
            false
        });
    }

    /// A clear's cleanup compaction run before the clear returns (on the pool, like the
    /// clear): the space is back when `clear()` resolves, instead of a moment later, when the
    /// disk held many times the live data (benchmark/scale.js, "clear all history"). It flushes
    /// the memtables, then merges only if no compaction holds the lock: behind one (or behind
    /// the compaction its own flush made due) it would wait seconds at scale, so it leaves the
    /// merge to the background then. Not the lock first: its flush may wait for a writer
    /// stalled until a compaction lowers level 0, which would then wait for the lock.
    /// Returns whether it merged. A failed flush or merge poisons the database like any; the
    /// clear itself has taken effect, so it is not reported as the clear's.
    fn reclaim_cleared_range_now(&self, start: &[u8], end: Option<&[u8]>) -> bool {
        let Ok(_guard) = self.begin() else { return true };
        if self.flush().is_err() {
            return true;
        }
        let Some(compacting) = self.inner.compaction_lock.try_lock() else { return false };
        let _ = self.merge_range(Some(start), end, &compacting);
        true
    }

    /// Bytes of the versions the memtables hold that newer ones replaced.
    fn superseded_bytes_in_memtables(&self) -> u64 {
        let st = self.inner.state.read();
        st.active.mem.superseded_bytes() + st.immutable.iter().map(|m| m.mem.superseded_bytes()).sum::<u64>()
    }

    /// What a clear of `[stored_start, stored_end)` left dead on disk, and what a compaction
    /// of the range would read: `(dead bytes, bytes of the tables and memtables it merges)`.
    fn cleared_bytes_on_disk(&self, stored_start: &[u8], stored_end: &[u8], whole_tables_kept: bool) -> (u64, u64) {
        let (levels, memtables) = {
            let st = self.inner.state.read();
            let mut memtables = vec![Arc::clone(&st.active.mem)];
            memtables.extend(st.immutable.iter().map(|m| Arc::clone(&m.mem)));
            (Arc::clone(&st.levels), memtables)
        };
        let (mut dead, mut merged) = (0u64, 0u64);
        for mem in &memtables {
            dead += mem.bytes_in_range(stored_start, stored_end);
            merged += mem.approximate_bytes() as u64;
        }
        for t in levels
            .all()
            .filter(|t| t.meta.smallest.as_slice() < stored_end && stored_start <= t.meta.largest.as_slice())
        {
            let inside = t.meta.smallest.as_slice() >= stored_start && t.meta.largest.as_slice() < stored_end;
            if inside && !whole_tables_kept {
                continue; // dropped already
            }
            dead += if inside { t.meta.file_size } else { t.approximate_bytes_in_range(stored_start, stored_end) };
            merged += t.meta.file_size;
        }
        (dead, merged)
    }

    fn clear_per_key(&self, options: IterOptions, limit: Option<u64>) -> Result<u64> {
        let mut iter = self.iter(options, None)?;
        let mut deleted = 0u64;
        loop {
            let room = limit.map_or(CLEAR_BATCH_KEYS, |l| (l - deleted).min(CLEAR_BATCH_KEYS as u64) as usize);
            if room == 0 {
                return Ok(deleted);
            }
            let mut batch = WriteBatch::new();
            let mut failed = None;
            let end = iter.next_page(room, usize::MAX, false, |key, _| {
                if let Err(e) = batch.delete(key) {
                    failed.get_or_insert(e);
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            deleted += u64::from(batch.count());
            self.write(batch, false)?;
            if end == PageEnd::Exhausted {
                return Ok(deleted);
            }
        }
    }

    /// Copies every live key, with its value and expiry, as of now, into `target`, in
    /// batches of about 4 MiB; the last batch is synced (with `sync`), so the copy is durable
    /// when this returns. The source is only read. Used to switch modes.
    pub fn copy_into(&self, target: &Self, sync: bool) -> Result<u64> {
        let mut iter = self.iter(IterOptions::default(), None)?;
        let mut copied = 0u64;
        loop {
            let mut batch = WriteBatch::new();
            let mut failed = None;
            let end = iter.next_page_with_expiry(usize::MAX, COPY_BATCH_BYTES, false, |key, value, expiry_ms| {
                let queued =
                    if expiry_ms == 0 { batch.put(key, value) } else { batch.put_expiring(key, value, expiry_ms) };
                if let Err(e) = queued {
                    failed.get_or_insert(e);
                }
            })?;
            if let Some(e) = failed {
                return Err(e);
            }
            copied += u64::from(batch.count());
            let last = end == PageEnd::Exhausted;
            let was_empty = batch.is_empty();
            target.write(batch, last && sync)?;
            if last {
                if sync && was_empty {
                    target.sync_wal()?;
                }
                return Ok(copied);
            }
        }
    }

    /// fdatasyncs the live WAL: every write acknowledged so far survives power loss.
    pub fn sync_wal(&self) -> Result<()> {
        let _guard = self.begin()?;
        self.check_poison()?;
        if self.inner.options.wal_disabled || self.inner.options.read_only {
            return Ok(());
        }
        self.as_sole_writer(|| {
            let mut wal = self.inner.wal.lock();
            let wal = wal.as_mut().ok_or(Error::Closed)?;
            wal.sync().map_err(|e| self.poison_by(&e, e.to_string()))
        })
    }

    /// Fails with `Closed` once `close` has begun (iterators check this per page).
    pub fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        Ok(())
    }

    /// The database's clock (unix ms), for expiry.
    pub(crate) fn now_ms(&self) -> u64 {
        (self.inner.options.clock)()
    }

    pub(crate) fn iterator_created(&self) {
        self.inner.live_iterators.fetch_add(1, Ordering::SeqCst);
    }

    pub(crate) fn iterator_dropped(&self) {
        self.inner.live_iterators.fetch_sub(1, Ordering::SeqCst);
    }

    /// Looks in memtables, then tables newest first; with `cache_only`, stops at the first
    /// block that is not cached.
    fn read_layers<R, F: FnOnce(Option<&[u8]>) -> R>(
        &self,
        sk: &[u8],
        seq: u64,
        cache_only: bool,
        f: &mut Option<F>,
    ) -> Result<Walk<R>> {
        let now = self.inner.options.clock;
        let latest = seq == u64::MAX;
        let heat = &self.inner.heat;
        let generation = heat.generation();
        let key_hash = super::table::filter::key_hash(sk);
        let levels = {
            let st = self.inner.state.read();
            if let Some(r) = lookup_memtables(&st, sk, key_hash, seq, now, f) {
                return Ok(Walk::Decided(r));
            }
            Arc::clone(&st.levels)
        };
        // HOT holds only newest versions, so only latest-state reads may use it.
        let offer = latest && {
            match heat.lookup(sk, key_hash) {
                HotLookup::Hit(value) => return take_callback(f).map(|f| Walk::Decided(f(Some(&value)))),
                HotLookup::Miss { offer } => offer,
            }
        };
        let decided = levels.for_each_candidate(sk, |table| {
            // A range tombstone of this table covering the key (0: none, the usual case at the
            // cost of one length check). Tables are visited newest data first, so a tombstone
            // here is newer than any version of the key in an older table.
            let ranges = table.range_deletes();
            let range_seq = if ranges.is_empty() { 0 } else { ranges.covering_seq(sk, seq) };
            let Some(handle) = table.locate(sk, key_hash, seq) else {
                return (range_seq > 0).then(|| take_callback(f).map(|f| Walk::Decided(f(None))));
            };
            let block = match table.block(handle, cache_only) {
                Ok(Some(block)) => block,
                Ok(None) => return Some(Ok(Walk::NeedsDisk)),
                Err(e) => return Some(Err(e)),
            };
            let (value, expires) = match table.lookup(&block, handle, sk, seq, now) {
                // `range_seq == 0` first: a bottommost table stores sequence 0 for values.
                Ok((Lookup::Value(v), expires, version_seq)) if range_seq == 0 || version_seq > range_seq => {
                    (Some(v), expires)
                }
                Ok((Lookup::Absent, _, _)) if range_seq == 0 => return None,
                Ok((Lookup::Value(_) | Lookup::Deleted | Lookup::Absent, _, _)) => (None, false),
                Err(e) => return Some(Err(e)),
            };
            // HOT keeps no expiry time, so a value that expires is never put there.
            if let (true, false, Some(v)) = (offer, expires, value) {
                heat.offer(sk, key_hash, v, generation);
            }
            Some(take_callback(f).map(|f| Walk::Decided(f(value))))
        });
        decided.unwrap_or(Ok(Walk::Absent))
    }

    /// Bytes the data itself occupies: memtables (estimated) plus tables. For an in-memory
    /// (ultra) database this is its RAM, besides the cache.
    #[must_use]
    pub fn memory_bytes(&self) -> u64 {
        let st = self.inner.state.read();
        let memtables: usize =
            st.active.mem.approximate_bytes() + st.immutable.iter().map(|m| m.mem.approximate_bytes()).sum::<usize>();
        memtables as u64 + st.levels.all().map(|t| t.meta.file_size).sum::<u64>()
    }

    /// Refuses a batch that would take the database past `memory_bytes_max`.
    fn check_memory(&self, batch: &WriteBatch) -> Result<()> {
        let Some(limit_bytes) = self.inner.options.memory_bytes_max else { return Ok(()) };
        let used_bytes = self.memory_bytes();
        // What the memtable will charge for the batch at most (each op a new key, and the
        // chunks and index growth that may set off).
        let active = Arc::clone(&self.inner.state.read().active.mem);
        let wanted_bytes = active.charge_bound(batch.count() as usize, batch.data_bytes()) as u64;
        if used_bytes + wanted_bytes > limit_bytes {
            return Err(Error::Full { limit_bytes, used_bytes, wanted_bytes });
        }
        Ok(())
    }

    /// Changes the cache budget at run time; shrinking evicts at once.
    pub fn resize_cache(&self, capacity_bytes: usize) -> Result<()> {
        let _guard = self.begin()?;
        self.inner.heat.resize(capacity_bytes);
        Ok(())
    }

    /// The hottest cached keys (user keys) with their heat (0..=15), hottest first.
    pub fn hottest(&self, limit: usize) -> Result<Vec<(Vec<u8>, u8)>> {
        let _guard = self.begin()?;
        Ok(self
            .inner
            .heat
            .hottest(limit.saturating_mul(2).max(limit))
            .into_iter()
            .filter(|(k, _)| k.first() == Some(&(Keyspace::User as u8)))
            .map(|(k, heat)| (k.get(1..).unwrap_or_default().to_vec(), heat))
            .take(limit)
            .collect())
    }

    /// Counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        let inner = &self.inner;
        // No other lock is taken while the state lock is held (rotate_wal takes the WAL lock,
        // then the state lock: the reverse order here deadlocked against a writer).
        let live_snapshots = inner.snapshots.lock().values().map(|&c| u64::from(c)).sum();
        let st = inner.state.read();
        Stats {
            last_sequence: inner.last_seq.load(Ordering::SeqCst),
            memtable_bytes: st.active.mem.approximate_bytes() as u64,
            immutable_memtables: st.immutable.len() as u64,
            tables: st.levels.len() as u64,
            table_entries: st.levels.all().map(|t| t.entry_count()).sum(),
            flushes: inner.flushes.load(Ordering::Relaxed),
            wal_writes: inner.wal_writes.load(Ordering::Relaxed),
            wal_syncs: inner.wal_syncs.load(Ordering::Relaxed),
            wal_in_memory_writes: inner.wal_in_memory_writes.load(Ordering::Relaxed),
            cache: inner.heat.stats(),
            levels: (0..st.levels.depth())
                .map(|l| LevelStats {
                    tables: st.levels.level(l).len() as u64,
                    bytes: st.levels.level_bytes(l),
                    filters: st.levels.level(l).iter().filter(|t| t.has_filter()).count() as u64,
                })
                .collect(),
            compactions: inner.compactions.load(Ordering::Relaxed),
            user_bytes_written: inner.user_bytes.load(Ordering::Relaxed),
            flush_bytes_written: inner.flush_bytes.load(Ordering::Relaxed),
            compaction_bytes_written: inner.compaction_bytes.load(Ordering::Relaxed),
            clear_compactions_pending: u64::from(inner.clear_compactions_pending.load(Ordering::SeqCst)),
            disk_bytes: st.levels.total_bytes() + inner.wal_bytes.load(Ordering::Relaxed),
            table_metadata_bytes: st.levels.all().map(|t| t.metadata_bytes() as u64).sum(),
            live_bytes_estimate: live_bytes_estimate(&st.levels),
            write_slowdowns: inner.write_slowdowns.load(Ordering::Relaxed),
            write_stops: inner.write_stops.load(Ordering::Relaxed),
            live_iterators: inner.live_iterators.load(Ordering::SeqCst),
            live_snapshots,
        }
    }

    /// The database directory.
    #[must_use]
    pub fn location(&self) -> &Path {
        &self.inner.dir
    }

    /// Whether an earlier I/O failure poisoned the database.
    #[must_use]
    pub fn is_poisoned(&self) -> bool {
        self.inner.poisoned.load(Ordering::SeqCst)
    }

    /// Closes: refuses new calls, waits for in-flight ones, flushes the memtable (so the next
    /// open replays no WAL) unless poisoned, and releases the lock. Idempotent.
    pub fn close(&self) -> Result<()> {
        let inner = &self.inner;
        // A second caller waits here until the first close has finished.
        let _closing = inner.close_lock.lock();
        if inner.closed.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        background::cancel_timer(inner.timer_key);
        while inner.in_flight.load(Ordering::SeqCst) != 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // An in-memory (ultra) database is dropped with its storage: nothing to flush.
        // A read-only database writes nothing, not even at close.
        let nothing_to_write = self.is_poisoned() || inner.options.wal_disabled || inner.options.read_only;
        let result = if nothing_to_write { Ok(()) } else { self.flush_all_for_close() };
        {
            let mut jobs = inner.bg_jobs.lock();
            while jobs.any() {
                inner.flush_cv.wait(&mut jobs);
            }
        }
        *inner.wal.lock() = None;
        *inner.lock.lock() = None;
        // Let go now of what the database holds in memory, not when its last handle is
        // dropped (a JS object may outlive `close` until a distant gc): the tables (their
        // indexes, filters and open files) and the cache. Iterators still open keep the
        // tables they read; their next page fails with `Closed`.
        {
            let mut st = inner.state.write();
            st.immutable.clear();
            st.levels = Arc::new(Levels::from_tables(Vec::new()));
        }
        inner.heat.resize(0);
        result
    }

    fn flush_all_for_close(&self) -> Result<()> {
        let inner = &self.inner;
        {
            let mut st = inner.state.write();
            if !st.active.mem.is_empty() {
                let number = inner.next_file_number.fetch_add(1, Ordering::SeqCst);
                let frozen = std::mem::replace(
                    &mut st.active,
                    MemWithWal { mem: Arc::new(Memtable::new()), wal_number: number },
                );
                st.immutable.push(frozen);
            }
        }
        let flushed = (|| {
            while self.flush_oldest()? {}
            Ok(())
        })();
        flushed.map_err(|e: Error| self.poison_by(&e, format!("flush at close failed: {e}")))
    }

    pub(crate) fn begin(&self) -> Result<OpGuard<'_>> {
        let inner = &self.inner;
        inner.in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = OpGuard(inner);
        if inner.closed.load(Ordering::SeqCst) {
            return Err(Error::Closed);
        }
        Ok(guard)
    }

    /// Fails for a database opened read-only.
    pub(crate) fn check_writable(&self) -> Result<()> {
        if self.inner.options.read_only {
            return Err(Error::InvalidArgument("the database is open read-only".into()));
        }
        Ok(())
    }

    pub(crate) fn check_poison(&self) -> Result<()> {
        if !self.inner.poisoned.load(Ordering::SeqCst) {
            return Ok(());
        }
        let (cause, disk_full) = self.inner.poison.read().clone().unwrap_or_default();
        Err(Error::Poisoned { cause, disk_full })
    }

    /// Records the first failure and returns the error every writer gets.
    fn poison_with(&self, cause: String) -> Error {
        self.record_poison(cause, false)
    }

    /// `poison_with` for a failure caused by `e` (remembering whether the disk was full).
    fn poison_by(&self, e: &Error, cause: String) -> Error {
        self.record_poison(cause, e.is_disk_full())
    }

    fn record_poison(&self, cause: String, disk_full: bool) -> Error {
        let mut poison = self.inner.poison.write();
        let (first, full) = poison.get_or_insert((cause, disk_full)).clone();
        self.inner.poisoned.store(true, Ordering::SeqCst);
        Error::Poisoned { cause: first, disk_full: full }
    }
}

/// One live table as `Db::tables` describes it (for inspection).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// Level in the LSM tree.
    pub level: u8,
    /// File number (`NNNNNN.sst`).
    pub number: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// Entries (every version and tombstone).
    pub entries: u64,
    /// Smallest user key in the table (keyspace tag removed).
    pub smallest: Vec<u8>,
    /// Largest user key in the table.
    pub largest: Vec<u8>,
}

impl Db {
    /// The live tables, level by level (level 0 newest first), with their key ranges. Memory
    /// only (the MANIFEST's records).
    pub fn tables(&self) -> Result<Vec<TableInfo>> {
        let _guard = self.begin()?;
        let levels = Arc::clone(&self.inner.state.read().levels);
        let user_key = |stored: &[u8]| stored.get(1..).unwrap_or_default().to_vec();
        Ok(levels
            .all()
            .map(|t| TableInfo {
                level: t.meta.level,
                number: t.meta.number,
                bytes: t.meta.file_size,
                entries: t.meta.entry_count,
                smallest: user_key(&t.meta.smallest),
                largest: user_key(&t.meta.largest),
            })
            .collect())
    }
}

/// A consistent view of a database's files for maintenance (`verify`, `backup`): taken under
/// the version lock, so the MANIFEST and the tables agree; the tables stay on disk while the
/// view lives (they are pinned by `levels`).
pub(crate) struct FileView {
    /// The live tables.
    pub levels: Arc<Levels>,
    /// The MANIFEST as last stored.
    pub manifest: Manifest,
    /// The MANIFEST file's bytes as read now (`Err` if it could not be read).
    pub manifest_bytes: std::io::Result<Vec<u8>>,
}

impl Db {
    fn record_event(&self, event: Event) {
        if !self.inner.events_recorded.load(Ordering::SeqCst) {
            return;
        }
        let mut events = self.inner.events.lock();
        if events.len() == EVENTS_KEPT_MAX {
            events.pop_front();
        }
        events.push_back(event);
    }

    /// Starts or stops recording flush and compaction events; stopping drops those not
    /// drained and their memory.
    pub fn record_events(&self, on: bool) {
        self.inner.events_recorded.store(on, Ordering::SeqCst);
        if !on {
            *self.inner.events.lock() = VecDeque::new();
        }
    }

    /// Takes the flush and compaction events recorded since the last call (at most the
    /// newest `EVENTS_KEPT_MAX`), oldest first. Memory only.
    pub fn drain_events(&self) -> Vec<Event> {
        self.inner.events.lock().drain(..).collect()
    }

    /// The storage the database lives on.
    pub(crate) fn storage(&self) -> &Arc<dyn Storage> {
        &self.inner.storage
    }

    /// The options it was opened with.
    pub(crate) fn options(&self) -> &Options {
        &self.inner.options
    }

    /// Pins the current tables and reads the MANIFEST beside them.
    pub(crate) fn file_view(&self) -> Result<FileView> {
        let _guard = self.begin()?;
        let inner = &self.inner;
        let _version = inner.version_lock.lock();
        let levels = Arc::clone(&inner.state.read().levels);
        let manifest = inner.manifest.lock().clone();
        let manifest_bytes = inner.storage.read_all(&inner.dir.join(manifest::FILE_NAME));
        Ok(FileView { levels, manifest, manifest_bytes })
    }

    /// Adds a table of new entries atomically (`import`): as the only writer, flushes the
    /// memtables, then writes the entries `fill` yields (stored keys in strictly ascending
    /// order) into one level-0 table with fresh sequence numbers and installs it with one
    /// MANIFEST swap. A crash before the swap leaves an unnamed table that the next open
    /// removes. Writers wait while it runs. Returns the entries added.
    pub(crate) fn ingest(
        &self,
        fill: impl FnOnce(&mut dyn FnMut(&[u8], Kind, u64, &[u8]) -> Result<()>) -> Result<()>,
    ) -> Result<u64> {
        let _guard = self.begin()?;
        self.check_writable()?;
        self.check_poison()?;
        let mut indexes_restarted = false;
        let added = self.as_sole_writer(|| {
            indexes_restarted = self.restart_indexes()? > 0;
            if !self.inner.state.read().active.mem.is_empty() {
                self.rotate_wal()?;
            }
            while self.flush_oldest().map_err(|e| self.poison_by(&e, format!("flush failed: {e}")))? {}
            self.ingest_as_sole_writer(fill)
        })?;
        if indexes_restarted {
            self.start_index_worker();
        }
        self.schedule_background();
        Ok(added)
    }

    fn ingest_as_sole_writer(
        &self,
        fill: impl FnOnce(&mut dyn FnMut(&[u8], Kind, u64, &[u8]) -> Result<()>) -> Result<()>,
    ) -> Result<u64> {
        let inner = &self.inner;
        let _version = inner.version_lock.lock();
        let number = inner.next_file_number.fetch_add(1, Ordering::SeqCst);
        let path = files::path(&inner.dir, number, FileKind::Table);
        let file = inner.storage.create(&path).ctx(|| format!("creating table {number:06}"))?;
        let mut builder = TableBuilder::new(file, number, inner.options.compression, inner.options.block_size_bytes);
        let first_seq = inner.last_seq.load(Ordering::SeqCst) + 1;
        let mut seq = first_seq;
        // An in-memory database's `memory_bytes_max` holds for an import as for any write.
        let used_bytes = if inner.options.memory_bytes_max.is_some() { self.memory_bytes() } else { 0 };
        let within_limit = |wanted_bytes: u64| match inner.options.memory_bytes_max {
            Some(limit_bytes) if used_bytes + wanted_bytes > limit_bytes => {
                Err(Error::Full { limit_bytes, used_bytes, wanted_bytes })
            }
            _ => Ok(()),
        };
        let filled = fill(&mut |key, kind, expiry_ms, value| {
            builder.add(key, seq, kind, expiry_ms, value)?;
            seq += 1;
            within_limit(builder.bytes_so_far())
        });
        if filled.is_err() || seq == first_seq {
            drop(builder);
            let _ = inner.storage.remove(&path);
            return filled.map(|()| 0);
        }
        let meta = builder.finish()?;
        if let Err(e) = within_limit(meta.file_size) {
            let _ = inner.storage.remove(&path);
            return Err(e);
        }
        inner.storage.sync_dir(&inner.dir).ctx(|| "syncing the database directory".into())?;
        let table = self.open_live_table(meta)?;
        let levels = inner.state.read().levels.with_flushed(Arc::clone(&table));
        self.store_manifest(&levels, None, Some(seq - 1))
            .map_err(|e| self.poison_by(&e, format!("storing the MANIFEST of an import failed: {e}")))?;
        // HOT may hold older values of imported keys: drop them (and bump the generation)
        // before the table is published, so latest reads switch to it at once ...
        let invalidate = || {
            inner.heat.invalidate(|remove| {
                let mut merge = super::iter::TableMerge::new(&[Arc::clone(&table)], Vec::new());
                while let Ok(Some(())) = merge.next_entry(|e| remove(e.key)) {}
            });
        };
        invalidate();
        inner.state.write().levels = Arc::new(levels);
        // ... and again after: a read that missed HOT meanwhile still saw the old tables and
        // may have offered an old value under the then-current generation; the new generation
        // refuses such offers from now on. (No memtable masks HOT here, unlike a flush.)
        invalidate();
        // Only now may new snapshots include the import: one taken earlier reads the new
        // table through its older sequence number and skips it.
        inner.last_seq.store(seq - 1, Ordering::SeqCst);
        Ok(seq - first_seq)
    }
}

/// Looks in the active and frozen memtables (newest first). `Some` when one of them decided.
fn lookup_memtables<R>(
    st: &State,
    sk: &[u8],
    key_hash: u64,
    seq: u64,
    now: fn() -> u64,
    f: &mut Option<impl FnOnce(Option<&[u8]>) -> R>,
) -> Option<R> {
    let layers = std::iter::once(&st.active).chain(st.immutable.iter().rev());
    for layer in layers {
        let decided = layer.mem.get(sk, key_hash, seq, now, |l| match l {
            Lookup::Value(v) => f.take().map(|f| f(Some(v))),
            Lookup::Deleted => f.take().map(|f| f(None)),
            Lookup::Absent => None,
        });
        if decided.is_some() {
            return decided;
        }
    }
    None
}

fn live_bytes_estimate(levels: &Levels) -> u64 {
    match (1..levels.depth()).rev().find(|&l| !levels.level(l).is_empty()) {
        Some(deepest) => levels.level_bytes(deepest),
        None => levels.level(0).last().map_or(0, |t| t.meta.file_size),
    }
}

/// The range tombstone `[start, stored_end)` covering exactly the user keys between the
/// bounds: the start as a user key, the end as a stored key (`USER_KEYSPACE_END` when
/// unbounded). `None` when no key lies between them.
fn range_delete_bounds(lower: &Bound<Vec<u8>>, upper: &Bound<Vec<u8>>) -> Option<(Vec<u8>, Vec<u8>)> {
    // The smallest user key is the one byte 0x00 (keys are never empty).
    let smallest = vec![0u8];
    let start = match lower {
        Bound::Unbounded => smallest,
        Bound::Included(k) if k.is_empty() => smallest,
        Bound::Included(k) => k.clone(),
        Bound::Excluded(k) if k.is_empty() => smallest,
        // The next key after `k`: `k` + 0x00, or for a key of the largest size (which no
        // longer key extends) the next key that does not start with it.
        Bound::Excluded(k) if k.len() < KEY_SIZE_BYTES_MAX => [k.as_slice(), &[0]].concat(),
        Bound::Excluded(k) => super::iter::prefix_end(k)?,
    };
    let tag = Keyspace::User as u8;
    let stored_end = match upper {
        Bound::Unbounded => USER_KEYSPACE_END.to_vec(),
        Bound::Excluded(k) => [&[tag], k.as_slice()].concat(),
        Bound::Included(k) => [&[tag], k.as_slice(), &[0]].concat(),
    };
    (stored_end.get(1..).unwrap_or_default() > start.as_slice() || stored_end == USER_KEYSPACE_END)
        .then_some((start, stored_end))
}

/// Bytes of keys and values per batch when copying a database (each batch is one WAL record).
const COPY_BATCH_BYTES: usize = 1024 * 1024;

/// Bytes a `clear` must leave dead on disk (tables and memtables) before it compacts the range.
const CLEAR_COMPACTION_MIN_BYTES: u64 = 1 << 20;
/// A clear's cleanup compaction merging at most this many bytes (tables and memtables) runs
/// before the clear returns when the clear left more dead bytes than live ones; any other runs
/// in the background (`compact_cleared_range_soon`).
const CLEAR_INLINE_MERGE_BYTES_MAX: u64 = 32 << 20;
/// A clear's cleanup compaction runs only if it rewrites at most this many bytes per byte it
/// reclaims (`compact_cleared_range_soon`).
const CLEAR_COMPACTION_REWRITE_PER_DEAD_BYTE_MAX: u64 = 4;

/// Keys `clear` deletes per batch.
const CLEAR_BATCH_KEYS: usize = 10_000;

/// A consistent view of the database at one moment; reads through it never see later
/// writes. Dropping it releases the versions it kept alive.
pub struct Snapshot {
    db: Db,
    seq: u64,
}

impl Snapshot {
    /// The sequence number of the newest write this snapshot sees.
    #[must_use]
    pub const fn sequence(&self) -> u64 {
        self.seq
    }

    /// A second registration of the same snapshot (iterators and tasks hold their own).
    pub fn clone_registration(&self) -> Self {
        *self.db.inner.snapshots.lock().entry(self.seq).or_insert(0) += 1;
        Self { db: self.db.clone(), seq: self.seq }
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        self.db.release_snapshot(self.seq);
    }
}

/// Where a read through the layers ended.
enum Walk<R> {
    /// A layer held the key (value or tombstone); the callback ran.
    Decided(R),
    /// No layer knows the key.
    Absent,
    /// A block that may hold the key is not cached (cache-only reads).
    NeedsDisk,
}

fn take_callback<F>(f: &mut Option<F>) -> Result<F> {
    f.take().ok_or_else(|| Error::Internal("a read callback ran twice".into()))
}

fn take_group(pending: &VecDeque<Arc<PendingWrite>>) -> Vec<Arc<PendingWrite>> {
    let mut bytes = 0usize;
    let mut group = Vec::new();
    for w in pending.iter().take(GROUP_COMMIT_WRITERS_MAX) {
        let size = w.batch.payload().len();
        if !group.is_empty() && bytes + size > GROUP_COMMIT_BYTES_MAX {
            break;
        }
        bytes += size;
        group.push(Arc::clone(w));
    }
    group
}

/// Pieces `recovery` assembles into a `Db`.
pub(crate) struct Recovered {
    pub dir: PathBuf,
    pub storage: Arc<dyn Storage>,
    pub options: Options,
    pub lock: Box<dyn LockHandle>,
    pub heat: Arc<HeatMap>,
    pub manifest: Manifest,
    pub tables: Vec<Arc<LiveTable>>,
    pub mem: Memtable,
    /// `None` when opened read-only.
    pub wal: Option<WalWriter>,
    /// Number of the newest WAL (the active memtable's).
    pub wal_number: u64,
    pub last_seq: u64,
    pub next_file_number: u64,
}

impl Db {
    pub(crate) fn from_recovered(r: Recovered) -> Self {
        let wal_number = r.wal_number;
        let inner = Inner {
            dir: r.dir,
            storage: r.storage,
            options: r.options,
            lock: Mutex::new(Some(r.lock)),
            heat: r.heat,
            state: RwLock::new(State {
                active: MemWithWal { mem: Arc::new(r.mem), wal_number },
                immutable: Vec::new(),
                levels: Arc::new(Levels::from_tables(r.tables)),
            }),
            queue: Mutex::new(WriteQueue::default()),
            queue_cv: Condvar::new(),
            wal_bytes: AtomicU64::new(r.wal.as_ref().map_or(0, WalWriter::len_bytes)),
            wal: Mutex::new(r.wal),
            last_seq: AtomicU64::new(r.last_seq),
            next_file_number: AtomicU64::new(r.next_file_number),
            manifest: Mutex::new(r.manifest),
            version_lock: Mutex::new(()),
            compaction_lock: Mutex::new(()),
            compacting_inputs: Mutex::new(Vec::new()),
            compaction_cancel: AtomicBool::new(false),
            expiry_due_ms: AtomicU64::new(u64::MAX),
            expiry_note_lock: Mutex::new(()),
            timer_key: NEXT_TIMER_KEY.fetch_add(1, Ordering::Relaxed),
            flush_bytes: AtomicU64::new(0),
            compaction_bytes: AtomicU64::new(0),
            compactions: AtomicU64::new(0),
            user_bytes: AtomicU64::new(0),
            write_slowdowns: AtomicU64::new(0),
            write_stops: AtomicU64::new(0),
            compact_pointers: Mutex::new(Default::default()),
            close_lock: Mutex::new(()),
            bg_jobs: Mutex::new(BackgroundJobs::default()),
            cleared_range: Mutex::new(None),
            clear_compactions_pending: AtomicU32::new(0),
            flush_cv: Condvar::new(),
            snapshots: Mutex::new(std::collections::BTreeMap::new()),
            live_iterators: AtomicU64::new(0),
            poison: RwLock::new(None),
            poisoned: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            in_flight: AtomicUsize::new(0),
            flushes: AtomicU64::new(0),
            wal_writes: AtomicU64::new(0),
            wal_syncs: AtomicU64::new(0),
            wal_in_memory_writes: AtomicU64::new(0),
            events: Mutex::new(VecDeque::new()),
            events_recorded: AtomicBool::new(true),
            indexes: RwLock::new(Arc::new(Vec::new())),
            index_work: Mutex::new(IndexWork::default()),
            index_cv: Condvar::new(),
        };
        Self { inner: Arc::new(inner) }
    }
}

/// Names of the manifest files (re-exported for recovery's directory check).
pub(crate) const MANIFEST_FILES: [&str; 2] = [manifest::FILE_NAME, manifest::TEMP_FILE_NAME];

/// Blocks a merge read must be at least this hot (sketch count or resident hits) to pass
/// their heat on: a block read once lately may well not be read again.
const CARRY_HEAT_MIN: u8 = 2;

/// After a merge: the inputs' cached blocks leave the cache (only readers of older versions
/// could use them), and the output blocks that now hold the keys of the hot ones are read
/// and cached at their heat, so the next reads of those keys find them in memory rather than
/// each missing once on the new tables. Without it the browser mix read a file ~18-20k times
/// in 1.47M reads even with every block fitting the cache (benchmark/cache's whole_cache),
/// most of them first reads of blocks a compaction had just rewritten. Best effort: a block
/// that fails to read is left to the reads that need it, which report the damage.
fn carry_heat<'a>(inputs: impl Iterator<Item = &'a Arc<LiveTable>>, outputs: &[Arc<LiveTable>]) {
    let mut wanted: HashMap<(usize, usize), u8> = HashMap::new();
    for input in inputs {
        for (block, heat) in input.take_cached_blocks() {
            if heat < CARRY_HEAT_MIN {
                continue;
            }
            let Some((first, last)) = block.key_span() else { continue };
            for (o, output) in outputs.iter().enumerate() {
                if !output.overlaps(&first, &last) || output.block_count() == 0 {
                    continue;
                }
                let from = output.first_block_reaching(&first, true);
                let to = output.first_block_reaching(&last, true).min(output.block_count() - 1);
                for i in from..=to {
                    let h = wanted.entry((o, i)).or_insert(heat);
                    *h = (*h).max(heat);
                }
            }
        }
    }
    for ((o, i), heat) in wanted {
        if let Some(output) = outputs.get(o) {
            let _ = output.warm_block(i, heat);
        }
    }
}

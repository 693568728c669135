//! `NativeDb`: the binding of `engine::Db`. Each method converts arguments and calls the
//! engine: memory-only reads answer on the JS thread, everything else becomes a `Job` on the
//! libuv pool. Writes made in one JS tick are queued here and committed by one `Job`.

use napi::bindgen_prelude::{AsyncTask, Either, Env, Uint8Array};
use napi_derive::napi;

use super::convert::{arg_bytes, null, option_to_js, BytesArg, ItemsArg, RawValue};
use super::error::{internal, no_panic, to_js};
use super::iter::{NativeIterator, PageShape, Walker};
use super::point_read::{self, HandleArg};
use super::snapshot::NativeSnapshot;
use super::tasks::{Job, Output};
use crate::engine::key::BATCH_SIZE_BYTES_MAX;
use crate::engine::{CompactionStyle, Compression, Db, Error, IterOptions, Options, QueuedWrite, Snapshot, WriteBatch};
use std::ops::Bound;

/// Open options the engine understands (the JS face validates the rest).
#[napi(object)]
pub struct NativeOpenOptions {
    pub create_if_missing: Option<bool>,
    pub error_if_exists: Option<bool>,
    pub write_buffer_size: Option<f64>,
    pub cache_size: Option<f64>,
    pub compression: Option<String>,
    pub compaction_style: Option<String>,
    /// Ultra mode: RAM only, no file or directory touched, no lock.
    pub in_memory: Option<bool>,
    /// Ultra mode's bound, in bytes.
    pub max_memory: Option<f64>,
    /// Open for reading only: the directory is left exactly as it was.
    pub read_only: Option<bool>,
}

/// A key range: bounds, prefix and direction (already encoded by the JS face).
#[napi(object)]
pub struct NativeRange {
    pub gt: Option<Either<String, Uint8Array>>,
    pub gte: Option<Either<String, Uint8Array>>,
    pub lt: Option<Either<String, Uint8Array>>,
    pub lte: Option<Either<String, Uint8Array>>,
    pub prefix: Option<Either<String, Uint8Array>>,
    pub reverse: Option<bool>,
}

fn owned_bytes(value: Option<&Either<String, Uint8Array>>) -> Option<Vec<u8>> {
    value.map(|v| match v {
        Either::A(s) => s.as_bytes().to_vec(),
        Either::B(b) => b.to_vec(),
    })
}

pub(super) fn iter_options(range: &NativeRange) -> IterOptions {
    let lower = match (owned_bytes(range.gt.as_ref()), owned_bytes(range.gte.as_ref())) {
        (Some(gt), _) => Bound::Excluded(gt),
        (None, Some(gte)) => Bound::Included(gte),
        (None, None) => Bound::Unbounded,
    };
    let upper = match (owned_bytes(range.lt.as_ref()), owned_bytes(range.lte.as_ref())) {
        (Some(lt), _) => Bound::Excluded(lt),
        (None, Some(lte)) => Bound::Included(lte),
        (None, None) => Bound::Unbounded,
    };
    let options = IterOptions { lower, upper, reverse: range.reverse.unwrap_or(false) };
    match owned_bytes(range.prefix.as_ref()) {
        Some(prefix) => options.with_prefix(&prefix),
        None => options,
    }
}

/// `a / b`, or 0 when nothing was measured yet.
#[allow(clippy::cast_precision_loss)]
fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The engine snapshot behind an optional JS snapshot argument.
pub(super) fn snapshot_of(snapshot: Option<&NativeSnapshot>) -> Result<Option<Snapshot>, Error> {
    snapshot.map(NativeSnapshot::hold).transpose()
}

/// Engine counters.
#[napi(object)]
pub struct NativeStats {
    pub last_sequence: f64,
    pub memtable_bytes: f64,
    pub immutable_memtables: f64,
    pub tables: f64,
    pub table_entries: f64,
    pub flushes: f64,
    pub wal_writes: f64,
    pub wal_syncs: f64,
    pub wal_in_memory_writes: f64,
    pub cache: NativeCacheStats,
    pub live_iterators: f64,
    pub live_snapshots: f64,
    pub levels: Vec<NativeLevelStats>,
    pub compactions: f64,
    pub user_bytes_written: f64,
    pub flush_bytes_written: f64,
    pub compaction_bytes_written: f64,
    pub clear_compactions_pending: f64,
    pub write_amplification: f64,
    pub disk_bytes: f64,
    pub table_metadata_bytes: f64,
    pub live_bytes_estimate: f64,
    pub space_amplification: f64,
    pub write_slowdowns: f64,
    pub write_stops: f64,
    pub memory_bytes: f64,
}

/// The HeatMap's counters.
#[napi(object)]
pub struct NativeCacheStats {
    pub hits: f64,
    pub misses: f64,
    pub hit_rate: f64,
    pub bytes: f64,
    pub capacity_bytes: f64,
    pub sketch_bytes: f64,
    pub hot: NativeTierStats,
    pub warm: NativeTierStats,
}

/// One tier's counters.
#[napi(object)]
pub struct NativeTierStats {
    pub hits: f64,
    pub misses: f64,
    pub entries: f64,
    pub bytes: f64,
    pub evictions: f64,
    pub capacity_bytes: f64,
}

#[allow(clippy::cast_precision_loss)]
fn tier(p: crate::engine::heatmap::policy::PolicyStats, capacity_bytes: u64) -> NativeTierStats {
    NativeTierStats {
        hits: p.hits as f64,
        misses: p.misses as f64,
        entries: p.entries as f64,
        bytes: p.bytes as f64,
        evictions: p.evictions as f64,
        capacity_bytes: capacity_bytes as f64,
    }
}

/// Tables and bytes of one level.
#[napi(object)]
pub struct NativeLevelStats {
    pub tables: f64,
    pub bytes: f64,
    pub filters: f64,
}

fn size_option(value: Option<f64>, name: &str, default: usize) -> Result<usize, Error> {
    match value {
        None => Ok(default),
        Some(v) if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= 9_007_199_254_740_991.0 =>
        {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(v as usize)
        }
        Some(_) => Err(Error::InvalidArgument(format!("{name} must be a non-negative integer number of bytes"))),
    }
}

fn parse_options(o: &NativeOpenOptions) -> Result<Options, Error> {
    let defaults = Options::default();
    let write_buffer = size_option(o.write_buffer_size, "writeBufferSize", defaults.write_buffer_size_bytes)?;
    let options = Options {
        create_if_missing: o.create_if_missing.unwrap_or(defaults.create_if_missing),
        error_if_exists: o.error_if_exists.unwrap_or(defaults.error_if_exists),
        write_buffer_size_bytes: write_buffer,
        // Level 1 holds about four memtables' worth, so a level-0 compaction rewrites a level
        // 1 of comparable size whatever the write buffer (16 MiB at the default 4 MiB).
        level1_size_bytes_target: 4 * write_buffer as u64,
        cache_size_bytes: size_option(o.cache_size, "cacheSize", defaults.cache_size_bytes)?,
        compression: o.compression.as_deref().map_or(Ok(defaults.compression), Compression::parse)?,
        compaction_style: o
            .compaction_style
            .as_deref()
            .map_or(Ok(defaults.compaction_style), CompactionStyle::parse)?,
        wal_disabled: o.in_memory.unwrap_or(false),
        memory_bytes_max: o.max_memory.map(|m| size_option(Some(m), "maxMemory", 0)).transpose()?.map(|m| m as u64),
        read_only: o.read_only.unwrap_or(false),
        ..defaults
    };
    options.validate()?;
    Ok(options)
}

/// Opens a database off the JS thread; resolves to a `NativeDb`.
#[napi(ts_return_type = "Promise<NativeDb>")]
pub fn open_db(location: String, options: NativeOpenOptions) -> AsyncTask<Job> {
    let parsed = parse_options(&options);
    let in_memory = options.in_memory.unwrap_or(false);
    AsyncTask::new(Job::new(move || {
        let options = parsed?;
        let db = if in_memory {
            // Ultra: the whole engine on an in-memory file system of its own.
            let ram = crate::engine::storage::MemStorage::new();
            // Every "file" is RAM: reads never wait, so the JS thread's fast paths always apply.
            ram.set_page_cache_hits(true);
            Db::open_with_storage(location, options, std::sync::Arc::new(ram))?
        } else {
            Db::open(location, options)?
        };
        Ok(Output::Opened(db))
    }))
}

/// The binding of one open database.
#[napi]
pub struct NativeDb {
    pub(super) db: Db,
    /// Writes queued in the current JS tick, committed together by `commit`. A lock rather
    /// than `&mut self` methods: napi-rs refuses a mutable borrow of an object while one of
    /// its async tasks holds a borrow. Only the JS thread takes it, so it is never contended.
    pending: parking_lot::Mutex<Vec<WriteBatch>>,
}

impl NativeDb {
    pub(super) fn new(db: Db) -> Self {
        Self { db, pending: parking_lot::Mutex::new(Vec::new()) }
    }

    /// Runs `f` on the batch the next queued write goes into: a new one when the last would
    /// overflow.
    fn with_batch<R>(&self, extra_bytes: usize, f: impl FnOnce(&mut WriteBatch) -> R) -> R {
        let mut pending = self.pending.lock();
        let full = pending.last().is_none_or(|b| b.data_bytes() + extra_bytes > BATCH_SIZE_BYTES_MAX);
        if full {
            pending.push(WriteBatch::new());
        }
        let last = pending.len() - 1;
        f(&mut pending[last])
    }
}

/// The point reads without a snapshot, `{ getFast, getSync }` (`point_read`): made once, when
/// the module loads.
#[napi(ts_return_type = "{ getFast: Function, getSync: Function }")]
pub fn point_reads(env: Env) -> napi::Result<RawValue> {
    point_read::functions(env.raw())
}

/// Memory-only read through a snapshot on the JS thread: the value, `undefined` if absent, or
/// `null` when the answer may be in a table (the caller then uses `NativeDb.get`). Reads
/// without a snapshot call `point_read`'s `getFast`.
#[napi(ts_return_type = "string | Buffer | undefined | null")]
pub fn db_get_fast(
    env: Env,
    db: HandleArg<'_>,
    key: BytesArg<'_>,
    as_string: bool,
    snapshot: Option<&NativeSnapshot>,
) -> napi::Result<RawValue, String> {
    let raw = env.raw();
    let found = no_panic(|| {
        db.0.get_in_memory_at(arg_bytes(&key), snapshot_of(snapshot)?.as_ref(), |v| option_to_js(raw, v, as_string))
    })
    .map_err(|e| to_js(&e))?;
    match found {
        Some(value) => value.map_err(internal),
        None => null(raw).map_err(internal),
    }
}

/// Full read through a snapshot on the JS thread (may read a table: the documented
/// exception). Reads without a snapshot call `point_read`'s `getSync`.
#[napi(ts_return_type = "string | Buffer | undefined")]
pub fn db_get_sync(
    env: Env,
    db: HandleArg<'_>,
    key: BytesArg<'_>,
    as_string: bool,
    snapshot: Option<&NativeSnapshot>,
) -> napi::Result<RawValue, String> {
    let raw = env.raw();
    let value = no_panic(|| {
        db.0.get_at_with(arg_bytes(&key), snapshot_of(snapshot)?.as_ref(), |v| option_to_js(raw, v, as_string))
    })
    .map_err(|e| to_js(&e))?;
    value.map_err(internal)
}

#[napi]
impl NativeDb {
    /// The handle the point reads take (`pointReads()`, `dbGetFast`, `dbGetSync`).
    #[napi(ts_return_type = "ExternalObject<DbHandle>")]
    pub fn handle(&self, env: Env) -> napi::Result<RawValue> {
        point_read::create_handle(env.raw(), self.db.clone())
    }

    /// Read off the JS thread.
    #[napi(ts_return_type = "Promise<string | Buffer | undefined>")]
    pub fn get(&self, key: BytesArg<'_>, as_string: bool, snapshot: Option<&NativeSnapshot>) -> AsyncTask<Job> {
        let db = self.db.clone();
        let key = arg_bytes(&key).to_vec();
        let held = snapshot_of(snapshot);
        AsyncTask::new(Job::new(move || Ok(Output::Value(db.get_at(&key, held?.as_ref())?, as_string))))
    }

    /// Reads many keys off the JS thread.
    #[napi(ts_return_type = "Promise<Array<string | Buffer | undefined>>")]
    pub fn get_many(&self, keys: ItemsArg, as_string: bool, snapshot: Option<&NativeSnapshot>) -> AsyncTask<Job> {
        let db = self.db.clone();
        let held = snapshot_of(snapshot);
        AsyncTask::new(Job::new(move || {
            let held = held?;
            let values = keys.iter().map(|k| db.get_at(k, held.as_ref())).collect::<Result<Vec<_>, _>>()?;
            Ok(Output::Values(values, as_string))
        }))
    }

    /// Queues a put for this tick's commit; throws on bad input (nothing queued).
    #[napi]
    pub fn queue_put(&self, key: BytesArg<'_>, value: BytesArg<'_>) -> napi::Result<(), String> {
        let (key, value) = (arg_bytes(&key), arg_bytes(&value));
        self.with_batch(key.len() + value.len(), |b| b.put(key, value)).map_err(|e| to_js(&e))
    }

    /// Queues a put that expires at `expiry_ms` (unix ms) for this tick's commit.
    #[napi]
    pub fn queue_put_expiring(
        &self,
        key: BytesArg<'_>,
        value: BytesArg<'_>,
        expiry_ms: f64,
    ) -> napi::Result<(), String> {
        let (key, value) = (arg_bytes(&key), arg_bytes(&value));
        let expiry = expiry_of(expiry_ms).map_err(|e| to_js(&e))?;
        self.with_batch(key.len() + value.len(), |b| b.put_expiring(key, value, expiry)).map_err(|e| to_js(&e))
    }

    /// Queues a delete for this tick's commit.
    #[napi]
    pub fn queue_del(&self, key: BytesArg<'_>) -> napi::Result<(), String> {
        let key = arg_bytes(&key);
        self.with_batch(key.len(), |b| b.delete(key)).map_err(|e| to_js(&e))
    }

    /// Queues an atomic batch: `kinds` has one letter per op (`p` put, `d` delete); `items`
    /// holds key, value for a put and key for a delete. All ops are checked before any is
    /// queued, and they land in one WAL record.
    #[napi]
    pub fn queue_batch(&self, kinds: String, items: ItemsArg, expiries: Option<Vec<f64>>) -> napi::Result<(), String> {
        let batch = build_batch(&kinds, &items, expiries.as_deref().unwrap_or_default()).map_err(|e| to_js(&e))?;
        if !self.with_batch(batch.data_bytes(), |target| target.append(&batch)) {
            return Err(to_js(&Error::Internal("queued batch does not fit".into())));
        }
        Ok(())
    }

    /// Commits the writes queued this tick right here, on the JS thread, if nothing would
    /// make it wait (`Db::try_write_now`: ultra mode's memory, or a disk WAL's prepared
    /// memory); returns false (keeping what is left queued) when `commit` must do it off the
    /// JS thread. Never while an earlier tick's `commit` is still queued (`try_write_now`).
    #[napi]
    pub fn commit_now(&self) -> napi::Result<bool, String> {
        let batches = std::mem::take(&mut *self.pending.lock());
        let mut rest = batches.into_iter();
        while let Some(batch) = rest.next() {
            match no_panic(|| self.db.try_write_now(batch)).map_err(|e| to_js(&e))? {
                None => {}
                Some(batch) => {
                    let mut pending = self.pending.lock();
                    let mut left: Vec<WriteBatch> = std::iter::once(batch).chain(rest).collect();
                    left.append(&mut pending);
                    *pending = left;
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    /// Commits the writes queued this tick (one group commit); resolves when they reached the
    /// OS, or were fdatasynced when `sync`. They join the engine's write queue here, on the JS
    /// thread, so ticks commit in the order they were made, whichever pool thread runs which.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn commit(&self, sync: bool) -> AsyncTask<Job> {
        let db = self.db.clone();
        let batches = std::mem::take(&mut *self.pending.lock());
        // A batch that cannot be queued (closed, poisoned, over `maxMemory`) fails the tick;
        // the ones queued before it are still committed, as they would have been one by one.
        let mut queued: Vec<QueuedWrite> = Vec::with_capacity(batches.len());
        let mut refused = None;
        for batch in batches {
            match no_panic(|| db.enqueue_write(batch, sync)) {
                Ok(write) => queued.extend(write),
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        AsyncTask::new(Job::new(move || {
            // Every queued write is finished, whatever happens to an earlier one: a write
            // left queued would be committed by some later leader after its tick rejected.
            let mut first_error = refused;
            for write in queued {
                if let Err(e) = db.finish_write(write) {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(Output::Unit), Err)
        }))
    }

    /// Closes the database off the JS thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close(&self) -> AsyncTask<Job> {
        let db = self.db.clone();
        self.pending.lock().clear();
        AsyncTask::new(Job::new(move || {
            db.close()?;
            Ok(Output::Unit)
        }))
    }

    /// Copies every live key (with expiry) into `target` off the JS thread, syncing at the
    /// end; resolves to the number of keys copied (the core of `setMode`).
    #[napi(ts_return_type = "Promise<number>")]
    pub fn copy_into(&self, target: &NativeDb, sync: bool) -> AsyncTask<Job> {
        let (source, target) = (self.db.clone(), target.db.clone());
        AsyncTask::new(Job::new(move || Ok(Output::Count(source.copy_into(&target, sync)?))))
    }

    /// Takes a snapshot (memory only).
    #[napi]
    pub fn snapshot(&self) -> napi::Result<NativeSnapshot, String> {
        no_panic(|| self.db.snapshot()).map(NativeSnapshot::new).map_err(|e| to_js(&e))
    }

    /// Creates an iterator over `range` (memory only: no page is read yet).
    #[napi]
    pub fn iterator(
        &self,
        range: NativeRange,
        keys: bool,
        values: bool,
        key_as_string: bool,
        value_as_string: bool,
        snapshot: Option<&NativeSnapshot>,
    ) -> napi::Result<NativeIterator, String> {
        let shape = PageShape { keys, values, key_as_string, value_as_string };
        no_panic(|| self.db.iter(iter_options(&range), snapshot_of(snapshot)?.as_ref()))
            .map(|iter| NativeIterator::new(Walker::Data(iter), shape))
            .map_err(|e| to_js(&e))
    }

    /// Deletes the keys in `range` (at most `limit`) off the JS thread. Resolves to the count
    /// when keys were deleted one by one (with a `limit`), to `undefined` when the whole range
    /// went with one range tombstone (no count is known then).
    #[napi(ts_return_type = "Promise<number | undefined>")]
    pub fn clear(&self, range: NativeRange, limit: Option<f64>) -> AsyncTask<Job> {
        let db = self.db.clone();
        let options = iter_options(&range);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let limit = limit.filter(|l| l.is_finite() && *l >= 0.0).map(|l| l as u64);
        AsyncTask::new(Job::new(move || Ok(db.clear(options, limit)?.map_or(Output::Unit, Output::Count))))
    }

    /// Flushes and compacts the tables holding keys in `range` off the JS thread.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn compact(&self, range: NativeRange) -> AsyncTask<Job> {
        let db = self.db.clone();
        let options = iter_options(&range);
        AsyncTask::new(Job::new(move || {
            let lower = match &options.lower {
                Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
                Bound::Unbounded => None,
            };
            let upper = match &options.upper {
                Bound::Included(k) | Bound::Excluded(k) => Some(k.as_slice()),
                Bound::Unbounded => None,
            };
            db.compact(lower, upper)?;
            Ok(Output::Unit)
        }))
    }

    /// Changes the cache budget (memory only); shrinking evicts at once.
    #[napi]
    pub fn resize_cache(&self, bytes: f64) -> napi::Result<(), String> {
        let bytes = size_option(Some(bytes), "cacheSize", 0).map_err(|e| to_js(&e))?;
        no_panic(|| self.db.resize_cache(bytes)).map_err(|e| to_js(&e))
    }

    /// The hottest cached keys as `[key, heat, key, heat, ...]` (memory only).
    #[napi(ts_return_type = "Array<string | Buffer | number>")]
    pub fn hottest(&self, env: Env, limit: u32, key_as_string: bool) -> napi::Result<Vec<RawValue>, String> {
        let raw = env.raw();
        let keys = no_panic(|| self.db.hottest(limit as usize)).map_err(|e| to_js(&e))?;
        let mut out = Vec::with_capacity(keys.len() * 2);
        for (key, heat) in keys {
            out.push(super::convert::bytes_to_js(raw, &key, key_as_string).map_err(internal)?);
            out.push(super::convert::number_to_js(raw, f64::from(heat)).map_err(internal)?);
        }
        Ok(out)
    }

    /// Engine counters (memory only).
    #[napi]
    pub fn stats(&self) -> NativeStats {
        let s = self.db.stats();
        #[allow(clippy::cast_precision_loss)]
        NativeStats {
            last_sequence: s.last_sequence as f64,
            memtable_bytes: s.memtable_bytes as f64,
            immutable_memtables: s.immutable_memtables as f64,
            tables: s.tables as f64,
            table_entries: s.table_entries as f64,
            flushes: s.flushes as f64,
            wal_writes: s.wal_writes as f64,
            wal_syncs: s.wal_syncs as f64,
            wal_in_memory_writes: s.wal_in_memory_writes as f64,
            cache: NativeCacheStats {
                // A read that misses HOT goes on to WARM: a lookup hits if either tier does.
                hits: (s.cache.hot.hits + s.cache.warm.hits) as f64,
                misses: s.cache.warm.misses as f64,
                hit_rate: ratio(
                    s.cache.hot.hits + s.cache.warm.hits,
                    s.cache.hot.hits + s.cache.warm.hits + s.cache.warm.misses,
                ),
                bytes: (s.cache.hot.bytes + s.cache.warm.bytes) as f64,
                capacity_bytes: s.cache.capacity_bytes as f64,
                sketch_bytes: s.cache.sketch_bytes as f64,
                hot: tier(s.cache.hot, s.cache.hot_capacity_bytes),
                warm: tier(s.cache.warm, s.cache.warm_capacity_bytes),
            },
            live_iterators: s.live_iterators as f64,
            live_snapshots: s.live_snapshots as f64,
            levels: s
                .levels
                .iter()
                .map(|l| NativeLevelStats { tables: l.tables as f64, bytes: l.bytes as f64, filters: l.filters as f64 })
                .collect(),
            compactions: s.compactions as f64,
            user_bytes_written: s.user_bytes_written as f64,
            flush_bytes_written: s.flush_bytes_written as f64,
            compaction_bytes_written: s.compaction_bytes_written as f64,
            clear_compactions_pending: s.clear_compactions_pending as f64,
            write_amplification: ratio(s.flush_bytes_written + s.compaction_bytes_written, s.user_bytes_written),
            disk_bytes: s.disk_bytes as f64,
            table_metadata_bytes: s.table_metadata_bytes as f64,
            live_bytes_estimate: s.live_bytes_estimate as f64,
            space_amplification: ratio(s.disk_bytes, s.live_bytes_estimate),
            write_slowdowns: s.write_slowdowns as f64,
            write_stops: s.write_stops as f64,
            memory_bytes: self.db.memory_bytes() as f64,
        }
    }
}

fn item_bytes(item: Option<&[u8]>) -> Result<&[u8], Error> {
    item.ok_or_else(|| Error::InvalidArgument("batch items do not match their kinds".into()))
}

/// An expiry time from JS (unix ms, a whole number).
fn expiry_of(expiry_ms: f64) -> Result<u64, Error> {
    if expiry_ms.is_finite() && expiry_ms >= 0.0 && expiry_ms.fract() == 0.0 && expiry_ms <= 9_007_199_254_740_991.0 {
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        Ok(expiry_ms as u64)
    } else {
        Err(Error::InvalidArgument("expiry must be a whole number of unix milliseconds".into()))
    }
}

fn build_batch(kinds: &str, items: &ItemsArg, expiries: &[f64]) -> Result<WriteBatch, Error> {
    let mut batch = WriteBatch::new();
    let mut items = items.iter();
    let mut expiries = expiries.iter();
    for kind in kinds.bytes() {
        match kind {
            b'p' => {
                let key = item_bytes(items.next())?;
                batch.put(key, item_bytes(items.next())?)?;
            }
            b'e' => {
                let key = item_bytes(items.next())?;
                let value = item_bytes(items.next())?;
                let expiry = expiries.next().ok_or_else(|| Error::InvalidArgument("missing expiry".into()))?;
                batch.put_expiring(key, value, expiry_of(*expiry)?)?;
            }
            b'd' => batch.delete(item_bytes(items.next())?)?,
            _ => return Err(Error::InvalidArgument("unknown batch op kind".into())),
        }
    }
    if items.next().is_some() {
        return Err(Error::InvalidArgument("batch items do not match their kinds".into()));
    }
    Ok(batch)
}

/// Test hook: panics inside an `AsyncTask`, to prove a panic becomes a rejected promise with
/// code `BROWSERDB_INTERNAL` and never aborts Node (`__test__/panic.test.js`).
#[napi(js_name = "__testPanicAsync", ts_return_type = "Promise<void>")]
pub fn test_panic_async() -> AsyncTask<Job> {
    AsyncTask::new(Job::new(|| panic!("deliberate panic in a pool task (test hook)")))
}

/// Test hook: panics inside a synchronous native call; it throws `BROWSERDB_INTERNAL`.
#[napi(js_name = "__testPanicSync")]
pub fn test_panic_sync() -> napi::Result<(), String> {
    no_panic(|| -> Result<(), Error> { panic!("deliberate panic in a sync call (test hook)") }).map_err(|e| to_js(&e))
}

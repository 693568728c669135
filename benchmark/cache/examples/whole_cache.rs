//! The whole HeatMap (HOT entries + WARM blocks) on the browser mix, through the real engine:
//! a database on disk (the real file system, behind a storage wrapper that counts reads),
//! loaded with the mix's initial data, then driven by the same trace as the policy tables
//! (`trace::browser_mix`, seed 3): reads are `get`s, writes `put`s, and each full history
//! scan is one iterator over the `history:` keys.
//!
//! `cargo run --release --example whole_cache` (about a minute per size here). Prints, per
//! `cacheSize`, where every point read was answered:
//! - **memtable**: the key's newest version was still in a memtable (a recent write); HOT
//!   is not asked, so these count for no tier and are reported apart;
//! - **HOT**: the HOT tier held the entry (its hit counter moved);
//! - **WARM**: HOT missed, and no file was read: every block the read needed was cached;
//! - **file**: at least one block was read from a table file (`pread`; the OS page cache
//!   may have served it, which is still a miss of the HeatMap).
//!
//! The whole-cache hit rate is (HOT + WARM) / (HOT + WARM + file): the reads the cache was
//! asked for and answered. Reads are counted on this thread only (a thread-local counter),
//! so background flushes and compactions reading tables do not count.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss, missing_docs)]

#[allow(dead_code)]
#[path = "../src/trace.rs"]
mod trace;

use std::cell::Cell;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use browserdb::engine::storage::{FsStorage, LockHandle, ReadableFile, Storage, WritableFile};
use browserdb::engine::{Db, IterOptions, Options};
use trace::{browser_entry_bytes, BrowserMix, BOOKMARK_BASE, SETTINGS_THEME};

thread_local! {
    /// Table-file reads made by this thread.
    static FILE_READS: Cell<u64> = const { Cell::new(0) };
}

fn file_reads() -> u64 {
    FILE_READS.with(Cell::get)
}

/// The real file system, counting positional reads per thread.
struct Counting;

struct CountingFile(Arc<dyn ReadableFile>);

impl ReadableFile for CountingFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FILE_READS.with(|c| c.set(c.get() + 1));
        self.0.read_exact_at(buf, offset)
    }
    fn len_bytes(&self) -> u64 {
        self.0.len_bytes()
    }
    fn read_exact_at_nowait(&self, buf: &mut [u8], offset: u64) -> io::Result<bool> {
        let read = self.0.read_exact_at_nowait(buf, offset)?;
        if read {
            FILE_READS.with(|c| c.set(c.get() + 1));
        }
        Ok(read)
    }
}

impl Storage for Counting {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        FsStorage.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        FsStorage.list_dir(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        FsStorage.create(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        FsStorage.open_append(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadableFile>> {
        Ok(Arc::new(CountingFile(FsStorage.open_read(path)?)))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        FsStorage.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        FsStorage.remove(path)
    }
    fn truncate(&self, path: &Path, len_bytes: u64) -> io::Result<()> {
        FsStorage.truncate(path, len_bytes)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        FsStorage.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn LockHandle>>> {
        FsStorage.lock(path)
    }
}

/// The user key of a trace id: `history:`, `bookmarks:` or `settings:theme`, then the id in
/// big-endian (so history is in visit order, as a time-keyed history is), padded with `.` to
/// the trace's key length for that id.
fn user_key(id: u64) -> Vec<u8> {
    let (len, _) = browser_entry_bytes(id);
    let mut k = if id == SETTINGS_THEME {
        b"settings:theme".to_vec()
    } else if id >= BOOKMARK_BASE {
        [b"bookmarks:".as_slice(), &(id - BOOKMARK_BASE).to_be_bytes()].concat()
    } else {
        [b"history:".as_slice(), &id.to_be_bytes()].concat()
    };
    k.resize(len.max(k.len()), b'.');
    k
}

/// A JSON-like value of the trace's length for `id`; `version` changes it on every write.
fn value(id: u64, version: u64) -> Vec<u8> {
    let (_, len) = browser_entry_bytes(id);
    let mut v =
        format!("{{\"id\":{id},\"url\":\"https://example.com/{:x}\",\"v\":{version},\"title\":\"", id * 2_654_435_761)
            .into_bytes();
    v.resize(len.saturating_sub(2), b'a' + (id % 26) as u8);
    v.extend_from_slice(b"\"}");
    v.truncate(len);
    v
}

#[derive(Default, Debug)]
struct Tally {
    memtable: u64,
    hot: u64,
    warm: u64,
    file: u64,
    scan_entries: u64,
    scan_entries_file: u64,
    scan_file_reads: u64,
    writes: u64,
}

fn pct(a: u64, of: u64) -> f64 {
    100.0 * a as f64 / of.max(1) as f64
}

fn run(t: &trace::Trace, cache_bytes: usize) -> Tally {
    let dir = std::env::temp_dir().join(format!("browserdb-whole-cache-{}-{cache_bytes}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let options = Options { cache_size_bytes: cache_bytes, ..Options::default() };
    let db = Db::open_with_storage(&dir, options, Arc::new(Counting)).unwrap();
    // The data that exists before the trace: every id the trace reads before writing it.
    let writes = t.writes.as_ref().unwrap();
    let scan = t.scan.as_ref().unwrap();
    let mut written = std::collections::HashSet::new();
    let mut initial = Vec::new();
    for (i, &id) in t.keys.iter().enumerate() {
        if written.insert(id) && !writes[i] {
            initial.push(id);
        }
    }
    // (A history append is the trace's first access of that id and is a write.)
    initial.sort_unstable();
    for &id in &initial {
        db.put(&user_key(id), &value(id, 0), false).unwrap();
    }
    db.flush().unwrap();
    db.compact(None, None).unwrap();

    let mut tally = Tally::default();
    let mut version = 1u64;
    let mut i = 0;
    while i < t.keys.len() {
        let id = t.keys[i];
        if scan[i] {
            // One full history scan: the run of scan requests, read by one iterator.
            let mut end = i;
            while end < t.keys.len() && scan[end] {
                end += 1;
            }
            let before_scan = file_reads();
            let mut it = db.iter(IterOptions::default().with_prefix(b"history:"), None).unwrap();
            loop {
                let before = file_reads();
                let Some(_) = it.next_entry().unwrap() else { break };
                tally.scan_entries += 1;
                tally.scan_entries_file += u64::from(file_reads() > before);
            }
            drop(it);
            tally.scan_file_reads += file_reads() - before_scan;
            i = end;
            continue;
        }
        let key = user_key(id);
        if writes[i] {
            db.put(&key, &value(id, version), false).unwrap();
            version += 1;
            tally.writes += 1;
        } else {
            let hot_before = db.stats().cache.hot;
            let reads_before = file_reads();
            let found = db.get(&key).unwrap();
            assert!(found.is_some(), "every read key exists");
            let hot = db.stats().cache.hot;
            if hot.hits > hot_before.hits {
                tally.hot += 1;
            } else if hot.misses == hot_before.misses {
                tally.memtable += 1;
            } else if file_reads() == reads_before {
                tally.warm += 1;
            } else {
                tally.file += 1;
            }
        }
        i += 1;
    }
    let s = db.stats();
    eprintln!(
        "  (end: HOT {} entries / {} B, WARM {} blocks / {} B, {} tables, {} flushes, {} compactions)",
        s.cache.hot.entries,
        s.cache.hot.bytes,
        s.cache.warm.entries,
        s.cache.warm.bytes,
        s.tables,
        s.flushes,
        s.compactions
    );
    db.close().unwrap();
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
    tally
}

fn main() {
    let t = trace::browser_mix(
        &BrowserMix::standard(|n| n),
        trace::BROWSER_MIX_SEED + std::env::var("CACHE_BENCH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0),
    );
    println!("Browser mix through the engine: {}\n", t.name);
    println!(
        "| `cacheSize` | point reads | memtable | HOT | WARM | file | whole-cache hit rate % (HOT+WARM of reads past the memtables) | in memory % (memtable+HOT+WARM of all point reads) | HOT alone % | scan entries | of which read a block from a file | scan block reads |"
    );
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let sizes = if sizes.is_empty() { vec![4, 8, 16] } else { sizes };
    for mib in sizes {
        let start = Instant::now();
        let r = run(&t, mib << 20);
        let reads = r.memtable + r.hot + r.warm + r.file;
        let asked = r.hot + r.warm + r.file;
        println!(
            "| {mib} MiB | {reads} | {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {} | {} | {} |",
            r.memtable,
            r.hot,
            r.warm,
            r.file,
            pct(r.hot + r.warm, asked),
            pct(r.memtable + r.hot + r.warm, reads),
            pct(r.hot, asked),
            r.scan_entries,
            r.scan_entries_file,
            r.scan_file_reads
        );
        eprintln!("  {mib} MiB: {:.0} s, {} writes", start.elapsed().as_secs_f64(), r.writes);
    }
}

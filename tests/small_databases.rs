//! Claim: a small database (a browser's per-site storage: 64 KiB `writeBufferSize`) holds no
//! more memtable memory than its budget once its writes stop (docs/design.md "Memory"):
//! a group that fills the active memtable freezes it at once instead of at the next write,
//! also when the group came while no frozen slot was free (the freeze waits for the flush).
#![allow(clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Options, WriteBatch};

const WRITE_BUFFER: usize = 64 * 1024;

fn options() -> Options {
    Options { write_buffer_size_bytes: WRITE_BUFFER, ..Options::default() }
}

/// A batch of `n` keys from `from`, 150-byte values: ~370 B of memtable each.
fn batch(from: u32, n: u32) -> WriteBatch {
    let mut b = WriteBatch::new();
    for i in from..from + n {
        b.put(&common::key(i), &[b'v'; 150]).unwrap();
    }
    b
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn all_there(db: &Db, n: u32) {
    for i in 0..n {
        assert_eq!(db.get(&common::key(i)).unwrap().as_deref(), Some(&[b'v'; 150][..]), "key {i}");
    }
}

#[test]
fn a_batch_larger_than_the_write_buffer_does_not_stay_in_memory() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options()).unwrap();
    // 1000 keys: about 370 KB of memtable, almost six times the buffer.
    db.write(batch(0, 1000), false).unwrap();
    let st = db.stats();
    assert_eq!(st.memtable_bytes, 0, "the full memtable was frozen by the write that filled it");
    wait_until("the frozen memtable is flushed", || db.stats().immutable_memtables == 0);
    assert_eq!(db.stats().flushes, 1);
    all_there(&db, 1000);
    // A write that leaves the memtable under the buffer keeps it.
    db.write(batch(1000, 10), false).unwrap();
    assert!(db.stats().memtable_bytes > 0);
    db.close().unwrap();
}

#[test]
fn a_memtable_filled_while_no_frozen_slot_was_free_is_frozen_after_the_flush() {
    let storage = MemStorage::new();
    // One frozen slot, and flushes that take a while: the second batch fills the active
    // memtable while the first one is still being flushed.
    let db = common::open(&storage, Options { immutable_memtables_max: 1, ..options() }).unwrap();
    storage.set_table_sync_delay_ms(1_000);
    db.write(batch(0, 1000), false).unwrap();
    db.write(batch(1000, 1000), false).unwrap();
    let st = db.stats();
    assert_eq!(st.immutable_memtables, 1, "the first memtable is still being flushed");
    assert!(st.memtable_bytes >= WRITE_BUFFER as u64, "the second could not be frozen yet");
    // No further write comes: the end of the first flush freezes the second memtable.
    wait_until("both memtables are flushed", || {
        let st = db.stats();
        st.memtable_bytes == 0 && st.immutable_memtables == 0
    });
    assert_eq!(db.stats().flushes, 2);
    storage.set_table_sync_delay_ms(0);
    all_there(&db, 2000);
    db.close().unwrap();
    // Nothing was lost or duplicated on the way: a reopen reads the same.
    let db = common::open(&storage, options()).unwrap();
    all_there(&db, 2000);
    assert_eq!(common::dump(&db).len(), 2000);
    db.close().unwrap();
}

#[test]
fn events_are_kept_only_while_recorded() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options()).unwrap();
    // Recorded by default (the engine's API); the JS binding turns recording off until a
    // 'flush' or 'compaction' listener is attached.
    db.record_events(false);
    for round in 0..3 {
        db.write(batch(round * 1000, 1000), false).unwrap();
        db.flush().unwrap();
    }
    assert!(db.drain_events().is_empty(), "nothing is kept while nobody listens");
    db.record_events(true);
    db.write(batch(3000, 10), false).unwrap();
    db.flush().unwrap();
    // A background compaction the flushes made due may be recorded too: count the flushes.
    let flushes = db.drain_events().iter().filter(|e| matches!(e, browserdb::engine::Event::Flush { .. })).count();
    assert_eq!(flushes, 1, "the flush after recording started");
    // Stopping drops what was not drained.
    db.write(batch(4000, 10), false).unwrap();
    db.flush().unwrap();
    db.record_events(false);
    db.record_events(true);
    assert!(db.drain_events().is_empty());
    db.close().unwrap();
}

/// Files of `dir` this process has open.
#[cfg(target_os = "linux")]
fn open_files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn close_lets_go_of_tables_and_the_cache_while_the_handle_lives_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().canonicalize().unwrap();
    let db = Db::open(&path, options()).unwrap();
    for round in 0..4 {
        db.write(batch(round * 1000, 1000), false).unwrap();
    }
    db.flush().unwrap();
    all_there(&db, 4000);
    all_there(&db, 4000);
    // A background compaction the flushes made due may install its outputs and delete its
    // inputs' files between `stats()` and the count of open files (the count then fell below
    // the tables `stats()` saw: CI flake). A table's file is deleted only after the
    // compaction that replaced it is counted, so count again until no compaction was counted
    // from before `stats()` to after the count (nothing is written, so compactions end).
    let (st, open_files) = loop {
        let compactions = db.stats().compactions;
        let st = db.stats();
        let open_files = open_files_in(&path);
        if db.stats().compactions == compactions {
            break (st, open_files);
        }
    };
    // Something is cached (WARM, or only HOT when a background compaction the flush made due
    // replaced the table the first pass read), so the zeros after close prove something.
    let cached = st.cache.warm.bytes + st.cache.hot.bytes;
    assert!(st.tables >= 1 && cached > 0, "tables {} cache {:?}", st.tables, st.cache);
    assert!(open_files > st.tables as usize, "tables, the WAL and the LOCK are open: {open_files} files");
    db.close().unwrap();
    // `db` is still alive (as a JS object may be long after close()).
    assert_eq!(open_files_in(&path), 0, "no file of the database stays open");
    let st = db.stats();
    assert_eq!((st.tables, st.cache.warm.bytes, st.cache.hot.bytes), (0, 0, 0));
    assert!(db.get(&common::key(0)).is_err(), "reads after close fail");
    drop(db);
    let db = Db::open(&path, options()).unwrap();
    all_there(&db, 4000);
    db.close().unwrap();
}

/// A database dropped without `close()` (a worker thread terminated) while a flush runs lets
/// go of its directory once that flush ends: the flush of the next frozen memtable, queued
/// behind it, does not run for a database nobody holds (its WAL keeps those writes, replayed
/// by the next open).
#[test]
fn a_dropped_database_is_let_go_after_the_job_running_then() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options()).unwrap();
    storage.set_table_sync_delay_ms(1_500);
    db.write(batch(0, 1000), false).unwrap();
    db.write(batch(1000, 1000), false).unwrap();
    assert_eq!(db.stats().immutable_memtables, 2, "one being flushed, one waiting");
    // The first flush has begun (its table exists; its sync waits 1.5 s, long enough that a
    // descheduled test thread still drops the database while it runs) before the drop.
    wait_until("the first flush begins", || common::files_with(&storage, ".sst").len() == 1);
    drop(db);
    let mut reopened = None;
    wait_until("the directory's lock is released", || {
        reopened = common::open(&storage, options()).ok();
        reopened.is_some()
    });
    storage.set_table_sync_delay_ms(0);
    assert_eq!(common::files_with(&storage, ".sst").len(), 1, "only the flush that was running ran");
    let db = reopened.unwrap();
    assert_eq!(common::dump(&db).len(), 2000);
    db.close().unwrap();
}

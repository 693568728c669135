//! Claim (issue 10, in-place commits): a write without `sync` can commit on the calling thread
//! (the JS thread) by copying its WAL record into the WAL's mapped, prepared memory, with no
//! hop to a pool thread, and keeps every promise a pooled write makes: it survives a killed
//! process, batches stay whole, later writes never land before earlier ones, and a WAL with
//! no room ready hands the write back untouched (docs/design.md "In-place commits").
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::Arc;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Options, WriteBatch};

fn batch_of(pairs: &[(&[u8], &[u8])]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for (k, v) in pairs {
        batch.put(k, v).unwrap();
    }
    batch
}

/// Commits in place where it can, else as a pooled write would.
fn write_now_or_later(db: &Db, batch: WriteBatch) -> browserdb::engine::Result<bool> {
    match db.try_write_now(batch)? {
        None => Ok(true),
        Some(batch) => db.write(batch, false).map(|()| false),
    }
}

/// Copies every file of `from` into `to` as they are at this instant: what a killed process
/// leaves on disk (the page cache holds the mapped WAL's copies like any write's bytes).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Whether the newest WAL in `dir` ends in zeros (the room reserved past its records).
fn newest_wal_has_zero_tail(dir: &Path) -> bool {
    let mut wals: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wal"))
        .collect();
    wals.sort();
    let bytes = std::fs::read(wals.last().unwrap()).unwrap();
    bytes.len() >= 4096 && bytes.iter().rev().take(4096).all(|&b| b == 0)
}

fn history_entry(i: u32) -> (String, String) {
    (format!("history:{i:09}"), format!("{{\"url\":\"https://example.com/{i}\",\"visits\":{}}}", i % 7))
}

/// Commits entries `range` (in place where it can); returns how many went in place.
fn write_entries(db: &Db, range: std::ops::Range<u32>) -> u32 {
    let mut in_place = 0;
    for i in range {
        let (key, value) = history_entry(i);
        if write_now_or_later(db, batch_of(&[(key.as_bytes(), value.as_bytes())])).unwrap() {
            in_place += 1;
        }
    }
    in_place
}

/// Whether the running kernel is 5.14 or later (`MADV_POPULATE_WRITE`, which preparing the
/// WAL's pages needs; an older kernel keeps a plain WAL).
#[cfg(target_os = "linux")]
fn kernel_populates_writes() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release.trim().split(|c: char| !c.is_ascii_digit()).map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (5, 14)
}

/// On the real file system (Linux): in-place commits land in the WAL; a copy of the files
/// taken while the database is open (what a killed process leaves: the page cache holds the
/// mapped copies) reopens with every one of them past the zero tail; the reopened WAL, whose
/// length is no longer a multiple of anything, takes in-place commits again; and a second
/// killed process loses none of either run. The write buffer is large enough that no flush
/// runs, so the copy is a consistent picture of the directory.
#[cfg(target_os = "linux")]
#[test]
fn in_place_commits_survive_killed_processes_and_a_reopened_wal_takes_them_again() {
    let root = tempfile::tempdir().unwrap();
    if !browserdb::engine::storage::in_place_commits_in(root.path()) {
        eprintln!("skipped: the temp directory's file system keeps a plain WAL");
        return;
    }
    if !kernel_populates_writes() {
        eprintln!("skipped: a kernel before 5.14 has no MADV_POPULATE_WRITE, so no in-place commits");
        return;
    }
    let live = root.path().join("live");
    let options = || Options { write_buffer_size_bytes: 64 * 1024 * 1024, ..Options::default() };
    let db = Db::open(&live, options()).unwrap();
    let in_place = write_entries(&db, 0..3000);
    let stats = db.stats();
    assert!(in_place > 2900, "in place: {in_place} of 3000");
    assert_eq!(stats.wal_in_memory_writes, u64::from(in_place));
    assert_eq!((stats.wal_writes, stats.flushes), (3000, 0));
    assert!(newest_wal_has_zero_tail(&live), "the open WAL keeps room past its records");

    let first_crash = root.path().join("first");
    copy_dir(&live, &first_crash);
    drop(db);
    let reopened = Db::open(&first_crash, options()).unwrap();
    let in_place_again = write_entries(&reopened, 3000..4000);
    assert!(in_place_again > 950, "in place after the reopen: {in_place_again} of 1000");
    let second_crash = root.path().join("second");
    copy_dir(&first_crash, &second_crash);
    drop(reopened);

    let db = Db::open(&second_crash, options()).unwrap();
    for i in 0..4000u32 {
        let (key, value) = history_entry(i);
        assert_eq!(db.get(key.as_bytes()).unwrap(), Some(value.into_bytes()), "{key}");
    }
    db.close().unwrap();
}

/// With no room ready (the storage takes no in-memory appends), the write comes back
/// untouched: nothing logged, nothing applied, no sequence number spent.
#[test]
fn a_wal_with_no_room_ready_hands_the_write_back_untouched() {
    let storage = MemStorage::new();
    let db = common::open(&storage, Options::default()).unwrap();
    let before = db.stats();
    let back = db.try_write_now(batch_of(&[(b"k", b"v")])).unwrap();
    let back = back.expect("handed back");
    assert_eq!(back.count(), 1);
    assert_eq!(db.get(b"k").unwrap(), None);
    let after = db.stats();
    assert_eq!((after.last_sequence, after.wal_writes), (before.last_sequence, before.wal_writes));
    db.write(back, false).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"v".to_vec()));
}

/// With room ready, a batch commits in place whole, reads back at once, and a reopen after a
/// killed process replays it; a write queued on the pool keeps later ones from passing it.
#[test]
fn in_place_batches_are_whole_and_replayed_after_a_killed_process() {
    let storage = MemStorage::new();
    storage.set_in_memory_appends(true);
    let db = common::open(&storage, Options::default()).unwrap();
    let batch = batch_of(&[(b"a", b"1"), (b"b", b"2"), (b"c", b"3")]);
    assert!(db.try_write_now(batch).unwrap().is_none());
    assert_eq!(db.get(b"b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(db.stats().wal_in_memory_writes, 1);
    let crashed = storage.process_crash();
    drop(db);
    let db = common::open(&crashed, Options::default()).unwrap();
    for (k, v) in [(b"a", b"1"), (b"b", b"2"), (b"c", b"3")] {
        assert_eq!(db.get(k).unwrap(), Some(v.to_vec()));
    }
}

/// Writes that would find the active memtable full (a new WAL file to make, perhaps a wait
/// for a frozen slot) are handed back to go to the pool.
#[test]
fn writes_that_would_fill_the_memtable_are_handed_back() {
    let storage = MemStorage::new();
    storage.set_in_memory_appends(true);
    let options = Options { write_buffer_size_bytes: 64 * 1024, immutable_memtables_max: 1, ..Options::default() };
    storage.set_table_sync_delay_ms(300);
    let db = Arc::new(common::open(&storage, options).unwrap());
    // Fill the active memtable and freeze it; its flush is slow, so the next fill has no slot.
    let mut handed_back = 0;
    for i in 0..3000u32 {
        let batch = batch_of(&[(&common::key(i), &common::value(i, 0))]);
        if let Some(batch) = db.try_write_now(batch).unwrap() {
            handed_back += 1;
            db.write(batch, false).unwrap();
        }
    }
    assert!(handed_back > 0, "a full memtable with no frozen slot free hands writes back");
    for i in (0..3000u32).step_by(7) {
        assert_eq!(db.get(&common::key(i)).unwrap(), Some(common::value(i, 0)));
    }
}

/// A kill at any file-system call of a workload committing in place where it can (flushes
/// and compactions included) reopens with every acknowledged write.
#[test]
fn in_place_commits_survive_a_kill_at_every_call() {
    let options = || Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 32 * 1024,
        level1_size_bytes_target: 128 * 1024,
        ..Options::default()
    };
    let storage = || {
        let storage = MemStorage::new();
        storage.set_in_memory_appends(true);
        storage
    };
    common::kill_at_every_call_on(storage, options, 80, |db, acked| {
        for round in 0..4u32 {
            for i in 0..400u32 {
                let k = format!("k{:05}", (i * 37 + round) % 900).into_bytes();
                let v = format!("{round}-{i}-{}", "x".repeat(60)).into_bytes();
                match write_now_or_later(db, batch_of(&[(&k, &v)])) {
                    Ok(_) => {
                        acked.insert(k, Some(v));
                    }
                    Err(_) => return,
                }
            }
            if db.flush().is_err() || (round % 2 == 1 && db.compact(None, None).is_err()) {
                return;
            }
        }
    });
}

//! Claim: a range delete (`WriteBatch::delete_range`, `Db::clear` without a limit) is one
//! record that deletes every older version of every key in its range, for every read path
//! (point reads from memtables, the HOT cache and tables at every level, reads at snapshots,
//! memory-only reads, iterators both ways and after `seek`), across flush, compaction, WAL
//! replay, a crash at any file-system call, `verify`, `repair` and export/import; a snapshot
//! older than the tombstone still sees the keys; later writes are visible; and compaction
//! returns the space of a cleared range.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use browserdb::engine::maintenance::{export, import, repair, verify, ExchangeFormat};
use browserdb::engine::storage::{MemStorage, Storage};
use browserdb::engine::{CompactionStyle, Compression, Db, IterOptions, Options, WriteBatch};
use common::{dir, dump, open};

fn k(i: u32) -> Vec<u8> {
    format!("k{i:06}").into_bytes()
}

fn v(i: u32, round: u32) -> Vec<u8> {
    format!("v{i}-{round}-{}", "x".repeat(40)).into_bytes()
}

fn options() -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 16 * 1024,
        level1_size_bytes_target: 64 * 1024,
        block_size_bytes: 512,
        compression: Compression::None,
        ..Options::default()
    }
}

/// The keys `k(start)..k(end)`, ascending.
fn keys_between(start: u32, end: u32) -> IterOptions {
    IterOptions { lower: Bound::Included(k(start)), upper: Bound::Excluded(k(end)), reverse: false }
}

fn fill(db: &Db, range: std::ops::Range<u32>, round: u32) {
    let mut batch = WriteBatch::new();
    for i in range {
        batch.put(&k(i), &v(i, round)).unwrap();
    }
    db.write(batch, false).unwrap();
}

fn delete_range(db: &Db, start: u32, end: u32) {
    let mut batch = WriteBatch::new();
    batch.delete_range(&k(start), &k(end)).unwrap();
    db.write(batch, false).unwrap();
}

/// Point reads of every key of `0..n` against what is expected: present (round) or absent.
fn check_gets(db: &Db, n: u32, expect: impl Fn(u32) -> Option<u32>, at: &str) {
    for i in 0..n {
        assert_eq!(db.get(&k(i)).unwrap(), expect(i).map(|r| v(i, r)), "{at}: get {}", String::from_utf8_lossy(&k(i)));
    }
}

/// Forward and reverse scans of everything, and a bounded scan in both directions.
fn check_scans(db: &Db, n: u32, expect: impl Fn(u32) -> Option<u32>, at: &str) {
    let all: Vec<(Vec<u8>, Vec<u8>)> = (0..n).filter_map(|i| expect(i).map(|r| (k(i), v(i, r)))).collect();
    let scanned: Vec<(Vec<u8>, Vec<u8>)> = dump(db).into_iter().map(|(k, v, _)| (k, v)).collect();
    assert_eq!(scanned, all, "{at}: forward scan");
    let mut rev = db.iter(IterOptions { reverse: true, ..IterOptions::default() }, None).unwrap();
    let mut reversed = Vec::new();
    while let Some(e) = rev.next_entry().unwrap() {
        reversed.push(e);
    }
    reversed.reverse();
    assert_eq!(reversed, all, "{at}: reverse scan");
    let bounded = IterOptions { lower: Bound::Included(k(n / 4)), upper: Bound::Excluded(k(3 * n / 4)), reverse: true };
    let mut it = db.iter(bounded, None).unwrap();
    let mut got = Vec::new();
    while let Some(e) = it.next_entry().unwrap() {
        got.push(e);
    }
    let want: Vec<_> = all.iter().rev().filter(|(key, _)| *key >= k(n / 4) && *key < k(3 * n / 4)).cloned().collect();
    assert_eq!(got, want, "{at}: bounded reverse scan");
}

#[test]
fn point_reads_and_scans_honour_a_range_delete_from_memtable_to_the_last_level() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    let n = 2000;
    fill(&db, 0..n, 0);
    db.flush().unwrap();
    db.compact(None, None).unwrap(); // the values now sit in level 1
    fill(&db, 0..n / 2, 1); // newer versions of the first half in level 0
    db.flush().unwrap();
    fill(&db, 0..100, 2); // and in the memtable
    delete_range(&db, 50, 1500);
    fill(&db, 1000..1010, 3); // written after the range delete: visible
    let expect = |i: u32| match i {
        1000..1010 => Some(3),
        50..1500 => None,
        0..50 => Some(2),
        _ => Some(0),
    };
    check_gets(&db, n, expect, "memtable");
    check_scans(&db, n, expect, "memtable");
    db.flush().unwrap();
    check_gets(&db, n, expect, "level 0");
    check_scans(&db, n, expect, "level 0");
    db.compact(None, None).unwrap();
    check_gets(&db, n, expect, "after compaction");
    check_scans(&db, n, expect, "after compaction");
    // The tables of each level stay disjoint (a tombstone's extent counts as part of a table).
    let tables = db.tables().unwrap();
    for level in 1..7u8 {
        let mut ranges: Vec<_> =
            tables.iter().filter(|t| t.level == level).map(|t| (&t.smallest, &t.largest)).collect();
        ranges.sort();
        for pair in ranges.windows(2) {
            assert!(pair[0].1 < pair[1].0, "level {level}: {pair:?} overlap");
        }
    }
    let report = verify(&db, &mut |_, _| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    db.close().unwrap();
    let db = open(&storage, options()).unwrap();
    check_gets(&db, n, expect, "reopened");
    check_scans(&db, n, expect, "reopened");
}

#[test]
fn snapshots_older_than_the_tombstone_keep_seeing_the_keys() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    let n = 1500;
    fill(&db, 0..n, 0);
    db.flush().unwrap();
    let before = db.snapshot().unwrap();
    delete_range(&db, 100, 1400);
    let after = db.snapshot().unwrap();
    fill(&db, 200..210, 1);
    for step in ["memtable", "flushed", "compacted"] {
        match step {
            "flushed" => db.flush().unwrap(),
            "compacted" => db.compact(None, None).unwrap(),
            _ => {}
        }
        for i in (0..n).step_by(7) {
            assert_eq!(db.get_at(&k(i), Some(&before)).unwrap(), Some(v(i, 0)), "{step}: old snapshot, key {i}");
            let hidden = (100..1400).contains(&i);
            assert_eq!(db.get_at(&k(i), Some(&after)).unwrap().is_none(), hidden, "{step}: new snapshot, key {i}");
        }
        let mut it = db.iter(IterOptions::default(), Some(&before)).unwrap();
        let mut count = 0;
        while it.next_entry().unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, n, "{step}: a scan at the old snapshot");
        let mut it = db.iter(IterOptions { reverse: true, ..IterOptions::default() }, Some(&after)).unwrap();
        let mut count = 0;
        while it.next_entry().unwrap().is_some() {
            count += 1;
        }
        assert_eq!(count, n - 1300, "{step}: a reverse scan at the new snapshot");
        assert_eq!(db.get(&k(205)).unwrap(), Some(v(205, 1)), "{step}: a later put");
        let report = verify(&db, &mut |_, _| {}).unwrap();
        assert!(report.problems.is_empty(), "{step}: {:?}", report.problems);
    }
    // The snapshot kept the covered values through compaction, over several level-1 tables
    // that each carry their piece of the tombstone, without overlapping.
    let level1: Vec<_> = db.tables().unwrap().into_iter().filter(|t| t.level == 1).collect();
    assert!(level1.len() > 3, "{} level-1 tables", level1.len());
    for pair in level1.windows(2) {
        assert!(pair[0].largest < pair[1].smallest, "{:?} and {:?} overlap", pair[0], pair[1]);
    }
    drop((before, after));
    db.compact(None, None).unwrap();
    check_gets(
        &db,
        n,
        |i| if (200..210).contains(&i) { Some(1) } else { (!(100..1400).contains(&i)).then_some(0) },
        "end",
    );
}

#[test]
fn a_range_delete_survives_a_crash_through_wal_replay_and_is_atomic_with_its_batch() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    fill(&db, 0..500, 0);
    db.flush().unwrap();
    let mut batch = WriteBatch::new();
    batch.delete_range(&k(10), &k(400)).unwrap();
    batch.put(&k(20), b"in the same batch").unwrap();
    db.write(batch, true).unwrap();
    drop(db);
    let crashed = storage.process_crash();
    let db = open(&crashed, options()).unwrap();
    assert_eq!(db.get(&k(9)).unwrap(), Some(v(9, 0)));
    assert_eq!(db.get(&k(10)).unwrap(), None);
    assert_eq!(db.get(&k(20)).unwrap(), Some(b"in the same batch".to_vec()), "a put after it in its batch");
    assert_eq!(db.get(&k(399)).unwrap(), None);
    assert_eq!(db.get(&k(400)).unwrap(), Some(v(400, 0)), "the end is exclusive");
    assert_eq!(dump(&db).len(), 500 - 390 + 1);
}

/// Which keys a `clear` case deletes.
type Doomed = Box<dyn Fn(&[u8]) -> bool>;

#[test]
fn clear_writes_one_tombstone_for_bounds_and_prefixes() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
    let mut batch = WriteBatch::new();
    for i in 0..3000 {
        batch.put(&k(i), &v(i, 0)).unwrap();
        model.insert(k(i), v(i, 0));
    }
    db.write(batch, false).unwrap();
    db.flush().unwrap();
    let writes = db.stats().wal_writes;
    let cases: Vec<(IterOptions, Doomed)> = vec![
        (IterOptions::default().with_prefix(b"k0001"), Box::new(|key: &[u8]| key.starts_with(b"k0001"))),
        (
            IterOptions { lower: Bound::Excluded(k(500)), upper: Bound::Included(k(600)), reverse: false },
            Box::new(|key: &[u8]| key > k(500).as_slice() && key <= k(600).as_slice()),
        ),
        (
            IterOptions { lower: Bound::Included(k(2900)), upper: Bound::Unbounded, reverse: true },
            Box::new(|key: &[u8]| key >= k(2900).as_slice()),
        ),
        (keys_between(700, 700), Box::new(|_: &[u8]| false)),
    ];
    for (options, doomed) in cases {
        assert_eq!(db.clear(options, None).unwrap(), None);
        model.retain(|key, _| !doomed(key));
        let got: BTreeMap<Vec<u8>, Vec<u8>> = dump(&db).into_iter().map(|(k, v, _)| (k, v)).collect();
        assert_eq!(got, model);
    }
    assert_eq!(db.stats().wal_writes - writes, 3, "one write per non-empty clear");
    db.clear(IterOptions::default(), None).unwrap();
    assert!(dump(&db).is_empty());
    assert_eq!(db.get(&k(1)).unwrap(), None);
    db.put(b"\0", b"smallest key", false).unwrap();
    db.put(&[0xff; 8], b"large key", false).unwrap();
    db.clear(IterOptions::default(), None).unwrap();
    assert!(dump(&db).is_empty(), "unbounded clear covers the smallest and largest keys");
}

#[test]
fn hot_cache_entries_under_a_range_delete_are_not_served() {
    let storage = MemStorage::new();
    let db = open(&storage, Options { cache_size_bytes: 1 << 20, ..options() }).unwrap();
    fill(&db, 0..200, 0);
    db.flush().unwrap();
    for _ in 0..8 {
        for i in 0..200 {
            assert_eq!(db.get(&k(i)).unwrap(), Some(v(i, 0)));
        }
    }
    assert!(db.stats().cache.hot.entries > 0, "reads filled HOT");
    delete_range(&db, 0, 150);
    for i in 0..200 {
        let want = (i >= 150).then(|| v(i, 0));
        assert_eq!(db.get(&k(i)).unwrap(), want, "memtable masks HOT, key {i}");
        assert_eq!(db.get_in_memory(&k(i), |x| x.map(<[u8]>::to_vec)).unwrap().flatten(), want);
    }
    db.flush().unwrap(); // the tombstone moves to a table, below HOT
    for round in 0..3 {
        for i in 0..200 {
            let want = (i >= 150).then(|| v(i, 0));
            assert_eq!(db.get(&k(i)).unwrap(), want, "round {round}, key {i}");
            if let Some(found) = db.get_in_memory(&k(i), |x| x.map(<[u8]>::to_vec)).unwrap() {
                assert_eq!(found, want, "memory-only read, key {i}");
            }
        }
    }
}

fn table_bytes(db: &Db) -> u64 {
    db.tables().unwrap().iter().map(|t| t.bytes).sum()
}

#[test]
fn compaction_returns_the_space_of_a_cleared_range() {
    let storage = MemStorage::new();
    let db = open(&storage, Options { write_buffer_size_bytes: 1 << 20, ..Options::default() }).unwrap();
    for chunk in 0..100 {
        fill(&db, chunk * 1000..(chunk + 1) * 1000, 0);
    }
    db.put(b"zz-live", b"stays", false).unwrap();
    db.flush().unwrap();
    db.compact(None, None).unwrap();
    let full = table_bytes(&db);
    assert!(full > 1_000_000, "100k keys take {full} bytes");
    db.clear(IterOptions { lower: Bound::Unbounded, upper: Bound::Excluded(b"zz".to_vec()), reverse: false }, None)
        .unwrap();
    assert_eq!(db.get(&k(5)).unwrap(), None);
    db.compact(None, None).unwrap();
    let after = table_bytes(&db);
    assert!(after < 4096, "after clear and compaction the tables hold {after} bytes (were {full})");
    assert_eq!(db.get(b"zz-live").unwrap(), Some(b"stays".to_vec()));
    assert_eq!(dump(&db).len(), 1);
    assert_eq!(db.stats().table_entries, 1, "the tombstone went at the bottom");
}

#[test]
fn tiered_compaction_honours_range_deletes() {
    let storage = MemStorage::new();
    let db = open(&storage, Options { compaction_style: CompactionStyle::Tiered, ..options() }).unwrap();
    for round in 0..6 {
        fill(&db, 0..600, round);
        delete_range(&db, round * 50, round * 50 + 75);
        db.flush().unwrap();
    }
    let expect = |i: u32| if (250..325).contains(&i) { None } else { Some(5) };
    check_gets(&db, 600, expect, "tiered");
    db.compact(None, None).unwrap();
    check_gets(&db, 600, expect, "tiered, compacted");
    check_scans(&db, 600, expect, "tiered, compacted");
}

#[test]
fn verify_repair_and_export_accept_tables_with_range_deletes() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    fill(&db, 0..1000, 0);
    db.flush().unwrap();
    delete_range(&db, 100, 900);
    db.flush().unwrap(); // a level-0 table holding only a tombstone
    let expected = dump(&db);
    assert_eq!(expected.len(), 200);
    let report = verify(&db, &mut |_, _| {}).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let out = Path::new("/export.bdb");
    export(&db, &storage, out, ExchangeFormat::Bdb, &mut |_| {}).unwrap();
    db.close().unwrap();
    // Repair rebuilds from the tables: the tombstone still applies.
    let report = repair(&dir(), &options(), Arc::new(storage.clone())).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let db = open(&storage, options()).unwrap();
    assert_eq!(dump(&db), expected);
    db.close().unwrap();
    // The export holds live data only, and imports into an empty database.
    let other = MemStorage::new();
    let target = open(&other, options()).unwrap();
    let bytes = storage.file_bytes(out).unwrap();
    let mut file = other.create(out).unwrap();
    file.append(&bytes).unwrap();
    file.sync_data().unwrap();
    import(&target, &other, out, None, &mut |_| {}).unwrap();
    assert_eq!(dump(&target), expected);
}

#[test]
fn a_wal_holding_range_deletes_is_repaired() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    fill(&db, 0..300, 0);
    db.flush().unwrap();
    delete_range(&db, 0, 200);
    drop(db);
    let crashed = storage.process_crash();
    let report = repair(&dir(), &options(), Arc::new(crashed.clone())).unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let db = open(&crashed, options()).unwrap();
    assert_eq!(dump(&db).len(), 100);
    assert_eq!(db.get(&k(0)).unwrap(), None);
}

/// Writes, range deletes, flushes and compactions; records what was acknowledged.
fn workload(db: &Db, acked: &mut common::Acked) {
    for round in 0..6u32 {
        let mut batch = WriteBatch::new();
        for i in 0..300u32 {
            let i = (i * 37 + round) % 600;
            batch.put(&k(i), &v(i, round)).unwrap();
        }
        if db.write(batch.clone(), false).is_err() {
            return;
        }
        for i in 0..300u32 {
            let i = (i * 37 + round) % 600;
            acked.insert(k(i), Some(v(i, round)));
        }
        let (start, end) = (round * 90, round * 90 + 130);
        let mut batch = WriteBatch::new();
        batch.delete_range(&k(start), &k(end)).unwrap();
        if db.write(batch, false).is_err() {
            return;
        }
        for i in start..end {
            acked.insert(k(i), None);
        }
        if db.flush().is_err() || (round % 2 == 1 && db.compact(None, None).is_err()) {
            return;
        }
    }
}

fn kill_at_every_call(style: CompactionStyle) {
    common::kill_at_every_call(|| Options { compaction_style: style, ..options() }, 100, workload);
}

#[test]
fn leveled_flush_and_compaction_of_range_deletes_survive_a_kill_at_every_call() {
    kill_at_every_call(CompactionStyle::Leveled);
}

#[test]
fn tiered_flush_and_compaction_of_range_deletes_survive_a_kill_at_every_call() {
    kill_at_every_call(CompactionStyle::Tiered);
}

#[test]
fn a_clear_that_kills_whole_tables_compacts_them_away_without_being_asked() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    fill(&db, 0..40_000, 0);
    fill(&db, 40_000..40_100, 0);
    db.compact(None, None).unwrap();
    let table_bytes = |db: &Db| db.tables().unwrap().iter().map(|t| t.bytes).sum::<u64>();
    let before = table_bytes(&db);
    assert!(before > 2 << 20, "enough data for whole tables: {before}");
    // Clear all but the last 100 keys: most tables lie wholly inside the range.
    let options = IterOptions { lower: Bound::Unbounded, upper: Bound::Excluded(k(40_000)), reverse: false };
    assert_eq!(db.clear(options, None).unwrap(), None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while table_bytes(&db) > before / 10 {
        assert!(std::time::Instant::now() < deadline, "still {} of {before} bytes", table_bytes(&db));
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(dump(&db).len(), 100);
    // A small clear inside large tables leaves them alone (nothing is compacted for it).
    let compactions = db.stats().compactions;
    let few = keys_between(40_010, 40_020);
    db.clear(few, None).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(db.stats().compactions, compactions);
    assert_eq!(dump(&db).len(), 90);
}

/// Bytes of the files with extension `ext` in the database directory.
fn file_bytes(storage: &MemStorage, ext: &str) -> u64 {
    // A background flush or compaction may delete a listed file before it is opened: it holds
    // no bytes any more.
    common::files_with(storage, ext).iter().filter_map(|p| storage.open_read(p).ok()).map(|f| f.len_bytes()).sum()
}

/// Waits (at most 20 s) until `done` holds, describing what it waits for with `what`.
fn wait_until(mut done: impl FnMut() -> bool, what: impl Fn() -> String) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {}", what());
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One large table spanning the range to clear (keys on both sides stay, so no table is dead
/// as a whole) and more of the range in the memtable, in the WAL until it is flushed.
fn cleared_through_a_table_and_the_memtable(storage: &MemStorage, opts: &dyn Fn() -> Options) -> (Db, u64, u64) {
    let db = open(storage, opts()).unwrap();
    fill(&db, 0..30_000, 0);
    db.compact(None, None).unwrap();
    assert_eq!(db.tables().unwrap().len(), 1);
    let tables_before = table_bytes(&db);
    fill(&db, 30_000..60_000, 0);
    let wal_before = file_bytes(storage, "wal");
    assert!(tables_before > 1 << 20 && wal_before > 1 << 20, "tables {tables_before}, WAL {wal_before} bytes");
    (db, tables_before, wal_before)
}

/// Large tables and memtables, and a level-1 target no table reaches: no compaction comes
/// due in the background, where it could hold the compaction lock when a clear looks.
fn quiet_options() -> Options {
    Options {
        table_size_bytes_target: 64 << 20,
        write_buffer_size_bytes: 16 << 20,
        level1_size_bytes_target: 1 << 30,
        ..options()
    }
}

const CLEARED_MOST: fn() -> IterOptions = || keys_between(100, 59_900);

#[test]
fn a_clear_through_tables_and_the_memtable_gives_the_space_back_before_it_returns() {
    let storage = MemStorage::new();
    let opts = quiet_options;
    let (db, tables_before, wal_before) = cleared_through_a_table_and_the_memtable(&storage, &opts);
    let compactions = db.stats().compactions;
    db.clear(CLEARED_MOST(), None).unwrap();
    // No waiting: the merge (a few MB) ran before clear returned.
    assert_eq!(db.stats().clear_compactions_pending, 0);
    let (tables, wal) = (table_bytes(&db), file_bytes(&storage, "wal"));
    assert!(tables < tables_before / 10, "tables {tables} of {tables_before} bytes");
    assert!(wal < wal_before / 10, "WAL {wal} of {wal_before} bytes");
    assert!(db.stats().compactions > compactions);
    assert_eq!(dump(&db).len(), 200);
    drop(db);
    let db = open(&storage.process_crash(), opts()).unwrap();
    assert_eq!(dump(&db).len(), 200, "what the cleanup compaction installed survives a crash");
}

#[test]
fn a_clear_that_leaves_more_live_bytes_than_dead_leaves_its_cleanup_to_the_background() {
    // A third of one table cleared: worth a merge (it rewrites under 4 bytes per dead byte),
    // but not one the clear waits for (it would wait for a flush under steady writes).
    let storage = MemStorage::new();
    let db = open(&storage, quiet_options()).unwrap();
    fill(&db, 0..120_000, 0);
    db.compact(None, None).unwrap();
    assert_eq!(db.tables().unwrap().len(), 1);
    let before = table_bytes(&db);
    storage.set_table_sync_delay_ms(1_500);
    let third = keys_between(40_000, 80_000);
    db.clear(third, None).unwrap();
    assert_eq!(db.stats().clear_compactions_pending, 1, "queued, not run before the clear returned");
    storage.set_table_sync_delay_ms(0);
    wait_until(|| db.stats().clear_compactions_pending == 0, || "the cleanup compaction to end".into());
    assert!(table_bytes(&db) < before * 3 / 4, "{} of {before} bytes", table_bytes(&db));
    assert_eq!(dump(&db).len(), 80_000);
}

#[test]
fn a_clear_counts_the_overwrites_a_flush_drops_among_what_it_gives_back_at_once() {
    // A small profile as a browser keeps it: a few keys rewritten again and again
    // (bookmarks, settings) beside history that is then cleared, all in the memtable and
    // its WAL. The cleared history alone is under half of what the database holds, but with
    // the overwritten versions the WAL keeps, most of the disk is dead: the clear gives it
    // back before it returns (it used to be queued, leaving the disk at 6x the live data).
    let storage = MemStorage::new();
    let db = open(&storage, quiet_options()).unwrap();
    fill(&db, 100_000..125_000, 0);
    // Fewer than half the log's bytes overwritten, or the log is flushed before the clear.
    for round in 0..12 {
        fill(&db, 0..2_000, round);
    }
    let history = keys_between(100_000, 125_000);
    let wal_before = file_bytes(&storage, "wal");
    let live_bytes: u64 = (0..2_000).map(|i| (k(i).len() + v(i, 11).len()) as u64).sum();
    assert_eq!(db.tables().unwrap().len(), 0, "all in the memtable");
    db.clear(history, None).unwrap();
    assert_eq!(db.stats().clear_compactions_pending, 0, "run before the clear returned, not queued");
    let (tables, wal) = (table_bytes(&db), file_bytes(&storage, "wal"));
    assert!(wal < wal_before / 10, "WAL {wal} of {wal_before} bytes");
    assert!(tables + wal < 2 * live_bytes, "{tables} B of tables and {wal} B of WAL for {live_bytes} B live");
    let kept = dump(&db);
    assert_eq!(kept.len(), 2_000);
    assert!(kept.iter().zip(0..2_000).all(|((key, value, _), i)| *key == k(i) && *value == v(i, 11)));
}

#[test]
fn behind_a_running_compaction_a_clear_queues_its_cleanup_and_it_gives_the_space_back() {
    let storage = MemStorage::new();
    let opts = || Options { table_size_bytes_target: 64 << 20, write_buffer_size_bytes: 16 << 20, ..options() };
    let (db, tables_before, wal_before) = cleared_through_a_table_and_the_memtable(&storage, &opts);
    // A manual compaction of the other end of the key space holds the compaction lock, its
    // table's sync held for a while.
    let db = Arc::new(db);
    let sst_before = common::files_with(&storage, "sst").len();
    storage.set_table_sync_delay_ms(300);
    let running = {
        let db = Arc::clone(&db);
        std::thread::spawn(move || db.compact(Some(&k(59_950)), None))
    };
    // Its flush of the memtable writes one table, then its merge (lock held) a second.
    wait_until(|| common::files_with(&storage, "sst").len() > sst_before + 1, || "the merge to start".into());
    let compactions = db.stats().compactions;
    db.clear(CLEARED_MOST(), None).unwrap();
    assert_eq!(db.stats().clear_compactions_pending, 1, "queued, not run behind the running one");
    storage.set_table_sync_delay_ms(0);
    running.join().unwrap().unwrap();
    wait_until(|| db.stats().clear_compactions_pending == 0, || "the cleanup compaction to end".into());
    wait_until(
        || table_bytes(&db) < tables_before / 10 && file_bytes(&storage, "wal") < wal_before / 10,
        || {
            format!(
                "tables {} of {tables_before}, WAL {} of {wal_before} bytes",
                table_bytes(&db),
                file_bytes(&storage, "wal")
            )
        },
    );
    assert!(db.stats().compactions > compactions);
    assert_eq!(dump(&db).len(), 200);
}

#[test]
fn clear_drops_whole_dead_tables_at_once_unless_an_older_snapshot_reads_them() {
    let table_bytes = |db: &Db| db.tables().unwrap().iter().map(|t| t.bytes).sum::<u64>();
    let all_before = |n: u32| IterOptions { lower: Bound::Unbounded, upper: Bound::Excluded(k(n)), reverse: false };

    // No snapshot: the tables inside the range leave the version before clear returns.
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    fill(&db, 0..20_100, 0);
    db.compact(None, None).unwrap();
    let before = table_bytes(&db);
    let sst_before = common::files_with(&storage, "sst").len();
    db.clear(all_before(20_000), None).unwrap();
    assert!(table_bytes(&db) < before / 5, "{} of {before} bytes left", table_bytes(&db));
    assert!(common::files_with(&storage, "sst").len() < sst_before / 5, "the dropped files are deleted");
    assert_eq!(dump(&db).len(), 100);
    drop(db);
    let db = open(&storage.process_crash(), options()).unwrap();
    assert_eq!(dump(&db).len(), 100, "the MANIFEST without the dropped tables survives a crash");

    // An older snapshot: it keeps reading every key, so nothing is dropped for it.
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    fill(&db, 0..20_100, 0);
    db.compact(None, None).unwrap();
    let snapshot = db.snapshot().unwrap();
    db.clear(all_before(20_000), None).unwrap();
    let mut iter = db.iter(IterOptions::default(), Some(&snapshot)).unwrap();
    let mut seen = 0;
    while iter.next_entry().unwrap().is_some() {
        seen += 1;
    }
    assert_eq!(seen, 20_100);
    assert_eq!(dump(&db).len(), 100);
}

/// Tables wholly before `k(end)` (all dead after a clear of that range).
fn tables_before(db: &Db, end: u32) -> Vec<u64> {
    db.tables().unwrap().iter().filter(|t| t.largest < k(end)).map(|t| t.number).collect()
}

#[test]
fn clear_drops_dead_tables_at_once_and_cancels_a_compaction_merging_some_of_them() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    fill(&db, 0..20_100, 0);
    db.compact(None, None).unwrap();
    assert!(tables_before(&db, 20_000).len() > 10);
    // A compaction of the first keys, held in the middle (its output table's sync sleeps).
    storage.set_table_sync_delay_ms(1_000);
    let compacted = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sst_before = common::files_with(&storage, "sst");
    let compaction = {
        let (db, compacted) = (db.clone(), Arc::clone(&compacted));
        std::thread::spawn(move || {
            db.compact(Some(&k(0)), Some(&k(10))).unwrap();
            compacted.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let started = std::time::Instant::now();
    while common::files_with(&storage, "sst") == sst_before {
        assert!(started.elapsed().as_secs() < 10, "the compaction never wrote its output");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let compactions = db.stats().compactions;
    db.clear(IterOptions { lower: Bound::Unbounded, upper: Bound::Excluded(k(20_000)), reverse: false }, None).unwrap();
    // Every dead table left the version before clear returned, the compaction's input too,
    // while the compaction still ran (before, the drop waited for it to end).
    assert!(!compacted.load(std::sync::atomic::Ordering::SeqCst), "the compaction is still running");
    assert_eq!(tables_before(&db, 20_000), Vec::<u64>::new());
    assert_eq!(dump(&db).len(), 100);
    // The compaction was cancelled: nothing installed, its output removed, and the dead
    // input's file deleted once it let go of it.
    compaction.join().unwrap();
    storage.set_table_sync_delay_ms(0);
    assert_eq!(db.stats().compactions, compactions, "the cancelled compaction installed nothing");
    let on_disk = common::files_with(&storage, "sst").len();
    assert_eq!(on_disk, db.tables().unwrap().len(), "no dead or abandoned table file is left");
    assert_eq!(dump(&db).len(), 100);
    drop(db);
    let db = open(&storage.process_crash(), options()).unwrap();
    assert_eq!(dump(&db).len(), 100);
}

//! Claim (issue 5): compaction keeps the database small and its reads correct as it grows:
//! level 0 stays bounded, overwritten and deleted data is reclaimed (disk within 2× of the
//! live data after `compact`), snapshots and iterators keep seeing what they saw, and a
//! replaced table's file is deleted only after the last reader lets go of it.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use browserdb::engine::cache::BlockCache;
use browserdb::engine::key::Kind;
use browserdb::engine::storage::MemStorage;
use browserdb::engine::table::Table;
use browserdb::engine::{CompactionStyle, Db, IterOptions, Options, PageEnd};

fn options(style: CompactionStyle) -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 64 * 1024,
        level1_size_bytes_target: 256 * 1024,
        compaction_style: style,
        ..Options::default()
    }
}

fn value(i: u32, round: u32) -> Vec<u8> {
    format!("{round:04}:{i:06}:{}", "v".repeat(100)).into_bytes()
}

fn key(i: u32) -> Vec<u8> {
    format!("key{i:06}").into_bytes()
}

fn check(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>, keys: u32) {
    for i in 0..keys {
        assert_eq!(db.get(&key(i)).unwrap().as_ref(), model.get(&key(i)), "key {i}");
    }
    let mut iter = db.iter(IterOptions::default(), None).unwrap();
    let mut seen = Vec::new();
    loop {
        let end = iter.next_page(1000, usize::MAX, false, |k, v| seen.push((k.to_vec(), v.to_vec()))).unwrap();
        if end == PageEnd::Exhausted {
            break;
        }
    }
    let want: Vec<_> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(seen, want);
}

fn wait_for_background(db: &Db) {
    // Flush and compaction run on the background pool; wait until level 0 settles.
    for _ in 0..2000 {
        let s = db.stats();
        if s.immutable_memtables == 0 && s.levels[0].tables < 4 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn churn(style: CompactionStyle) {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(style)).unwrap();
    let mut model = BTreeMap::new();
    let keys = 3000;
    for round in 0..8 {
        for i in (0..keys).filter(|i| (i + round) % 7 != 0) {
            db.put(&key(i), &value(i, round), false).unwrap();
            model.insert(key(i), value(i, round));
        }
        for i in (0..keys).filter(|i| (i + round) % 7 == 0) {
            db.delete(&key(i), false).unwrap();
            model.remove(&key(i));
        }
    }
    wait_for_background(&db);
    let stats = db.stats();
    assert!(stats.compactions > 0, "{stats:?}");
    let (_, stop) = match style {
        CompactionStyle::Leveled => (8, 12),
        CompactionStyle::Tiered => (20, 30),
    };
    assert!(stats.levels[0].tables < stop as u64, "level 0 grew past its stop threshold: {stats:?}");
    check(&db, &model, keys);
    db.close().unwrap();
    let db = common::open(&storage, options(style)).unwrap();
    check(&db, &model, keys);
}

#[test]
fn leveled_churn_reads_back_and_builds_levels() {
    churn(CompactionStyle::Leveled);
}

#[test]
fn tiered_churn_reads_back() {
    churn(CompactionStyle::Tiered);
}

fn live_bytes(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> u64 {
    model.iter().map(|(k, v)| (k.len() + v.len()) as u64).sum()
}

#[test]
fn overwriting_ten_thousand_keys_a_hundred_times_stays_within_twice_the_live_data() {
    for style in [CompactionStyle::Leveled, CompactionStyle::Tiered] {
        let storage = MemStorage::new();
        let db =
            common::open(&storage, Options { compression: browserdb::engine::Compression::None, ..options(style) })
                .unwrap();
        let mut model = BTreeMap::new();
        for round in 0..100 {
            let mut batch = browserdb::engine::WriteBatch::new();
            for i in 0..10_000 {
                let v = format!("{round:03}{i:05}").into_bytes();
                batch.put(&key(i), &v).unwrap();
                if round == 99 {
                    model.insert(key(i), v);
                }
            }
            db.write(batch, false).unwrap();
        }
        db.compact(None, None).unwrap();
        let stats = db.stats();
        let disk = stats.disk_bytes;
        assert!(disk <= 2 * live_bytes(&model), "{style:?}: {disk} bytes on disk for {} live", live_bytes(&model));
        assert_eq!(db.get(&key(1234)).unwrap(), model.get(&key(1234)).cloned());
    }
}

#[test]
fn writing_then_deleting_everything_leaves_almost_nothing_after_compaction() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    for i in 0..10_000 {
        db.put(&key(i), &value(i, 0), false).unwrap();
    }
    for i in 0..10_000 {
        db.delete(&key(i), false).unwrap();
    }
    db.compact(None, None).unwrap();
    let stats = db.stats();
    assert_eq!(stats.levels.iter().map(|l| l.tables).sum::<u64>(), 0, "tombstones and values all dropped: {stats:?}");
    assert!(stats.disk_bytes < 64 * 1024, "{stats:?}");
    assert_eq!(db.get(&key(5)).unwrap(), None);
}

#[test]
fn snapshots_and_iterators_outlive_the_tables_compaction_replaces() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..3000 {
        db.put(&key(i), &value(i, 0), false).unwrap();
        model.insert(key(i), value(i, 0));
    }
    db.flush().unwrap();
    let snapshot = db.snapshot().unwrap();
    // The tables of the iterator's version: a background compaction may install between two
    // looks, so look before and after creating the iterator until both agree (files on disk
    // would also list a running compaction's outputs, which no iterator holds yet).
    let live_tables = |db: &browserdb::engine::Db| {
        db.tables().unwrap().iter().map(|t| format!("{:06}.sst", t.number)).collect::<Vec<_>>()
    };
    let (mut iter, tables_before) = loop {
        let before = live_tables(&db);
        let iter = db.iter(IterOptions::default(), None).unwrap();
        if live_tables(&db) == before {
            break (iter, before);
        }
    };
    for i in 0..3000 {
        db.put(&key(i), &value(i, 1), false).unwrap();
    }
    db.compact(None, None).unwrap();
    // The old tables are retired but the iterator still holds them: their files remain.
    let files_now: Vec<String> = common::files_with(&storage, ".sst").iter().map(|p| common::path_str(p)).collect();
    assert!(
        tables_before.iter().all(|t| files_now.iter().any(|f| f.ends_with(t.as_str()))),
        "a table was deleted under a live iterator"
    );
    for i in (0..3000).step_by(97) {
        assert_eq!(db.get_at(&key(i), Some(&snapshot)).unwrap(), Some(value(i, 0)), "snapshot lost key {i}");
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 1)));
    }
    let mut seen = 0;
    loop {
        let end = iter
            .next_page(500, usize::MAX, false, |k, v| {
                assert_eq!(model.get(k).map(Vec::as_slice), Some(v));
                seen += 1;
            })
            .unwrap();
        if end == PageEnd::Exhausted {
            break;
        }
    }
    assert_eq!(seen, 3000);
    drop(iter);
    drop(snapshot);
    let files_after: Vec<String> = common::files_with(&storage, ".sst").iter().map(|p| common::path_str(p)).collect();
    assert!(
        tables_before.iter().all(|t| !files_after.iter().any(|f| f.ends_with(t.as_str()))),
        "retired tables were not deleted after release"
    );
}

#[test]
fn compaction_keeps_versions_a_snapshot_needs() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    db.put(b"k", b"old", false).unwrap();
    db.flush().unwrap();
    let snapshot = db.snapshot().unwrap();
    db.put(b"k", b"new", false).unwrap();
    db.delete(b"gone", false).unwrap();
    db.flush().unwrap();
    db.compact(None, None).unwrap();
    assert_eq!(db.get_at(b"k", Some(&snapshot)).unwrap(), Some(b"old".to_vec()));
    assert_eq!(db.get(b"k").unwrap(), Some(b"new".to_vec()));
    drop(snapshot);
    db.compact(None, None).unwrap();
    assert_eq!(db.get(b"k").unwrap(), Some(b"new".to_vec()));
    assert_eq!(db.stats().levels.iter().map(|l| l.tables).sum::<u64>(), 1);
}

#[test]
fn overwrites_of_few_keys_still_rotate_the_wal() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    for round in 0..200u32 {
        let mut batch = browserdb::engine::WriteBatch::new();
        for i in 0..100 {
            batch.put(&key(i), &value(i, round)).unwrap();
        }
        db.write(batch, false).unwrap();
    }
    // 200 × 100 overwrites of 100 keys: the memtable stays tiny, the WAL would not.
    // A background flush may delete a listed WAL before it is read: a deleted log holds no bytes.
    let wal_bytes: usize = common::files_with(&storage, ".wal")
        .iter()
        .filter_map(|w| storage.file_bytes(w).map(|bytes| bytes.len()))
        .sum();
    // At most the live WAL and those of two frozen memtables awaiting flush, each rotated at
    // twice the write buffer (without the size trigger: ~2.6 MB in one WAL).
    assert!(wal_bytes <= 8 * 64 * 1024, "{wal_bytes} bytes of WAL for 100 live keys");
    assert!(db.stats().flushes > 0);
    assert_eq!(db.get(&key(7)).unwrap(), Some(value(7, 199)));
}

/// Writes keys `from..to` (new keys, no overwrites) in batches of 200, waiting for the
/// background after each; returns the largest WAL size seen on disk.
fn write_new_keys_watching_the_log(storage: &MemStorage, db: &Db, from: u32, to: u32) -> usize {
    let mut max_wal_bytes = 0;
    for start in (from..to).step_by(200) {
        let mut batch = browserdb::engine::WriteBatch::new();
        for i in start..(start + 200).min(to) {
            batch.put(&key(i), &value(i, 0)).unwrap();
        }
        db.write(batch, false).unwrap();
        wait_for_background(db);
        let wal_bytes: usize = common::files_with(storage, ".wal")
            .iter()
            .filter_map(|w| storage.file_bytes(w).map(|bytes| bytes.len()))
            .sum();
        max_wal_bytes = max_wal_bytes.max(wal_bytes);
    }
    max_wal_bytes
}

#[test]
fn a_small_databases_log_is_flushed_once_it_outgrows_half_its_tables() {
    // The default 4 MiB write buffer and a database of a few hundred KB: its log would grow
    // to 4 MiB before a flush, holding newer versions that make the tables' older ones dead.
    // Once it passes 1 MiB and half the tables' bytes, it is flushed.
    let storage = MemStorage::new();
    let db = common::open(&storage, Options::default()).unwrap();
    write_new_keys_watching_the_log(&storage, &db, 0, 2_000);
    db.flush().unwrap();
    let tables_bytes = db.stats().disk_bytes;
    assert!(tables_bytes < 512 * 1024, "{tables_bytes} B of tables");
    let flushes = db.stats().flushes;
    // ~1.8 MB of new keys.
    let max_wal_bytes = write_new_keys_watching_the_log(&storage, &db, 2_000, 17_000);
    assert!(db.stats().flushes > flushes, "the log was flushed");
    assert!(max_wal_bytes < 1_300_000, "the log reached {max_wal_bytes} B");
    assert_eq!(db.get(&key(16_999)).unwrap(), Some(value(16_999, 0)));
}

#[test]
fn without_tables_a_log_of_new_keys_fills_the_write_buffer() {
    // Nothing for the log to make dead: the same 1.8 MB stay in the memtable.
    let storage = MemStorage::new();
    let db = common::open(&storage, Options::default()).unwrap();
    let max_wal_bytes = write_new_keys_watching_the_log(&storage, &db, 2_000, 17_000);
    assert_eq!(db.stats().flushes, 0);
    assert!(max_wal_bytes > 1_500_000, "the log reached {max_wal_bytes} B");
}

#[test]
fn a_log_that_is_mostly_overwrites_is_flushed_long_before_the_write_buffer_fills() {
    // The default 4 MiB write buffer, and a small database that rewrites its 2000 keys
    // (~250 KB live) again and again: past 1 MiB, once half the log is overwritten versions,
    // the memtable is flushed, so the disk holds a few times the live data, not 8 MiB of log.
    let storage = MemStorage::new();
    let db = common::open(&storage, Options::default()).unwrap();
    let mut max_disk_bytes = 0u64;
    for round in 0..60u32 {
        let mut batch = browserdb::engine::WriteBatch::new();
        for i in 0..2_000 {
            batch.put(&key(i), &value(i, round)).unwrap();
        }
        db.write(batch, false).unwrap();
        wait_for_background(&db);
        max_disk_bytes = max_disk_bytes.max(db.stats().disk_bytes);
    }
    let live_bytes: u64 = (0..2_000).map(|i| (key(i).len() + value(i, 59).len()) as u64).sum();
    assert!(db.stats().flushes >= 5, "{} flushes", db.stats().flushes);
    assert!(max_disk_bytes < 8 * live_bytes, "disk reached {max_disk_bytes} B for {live_bytes} B live");
    assert_eq!(db.get(&key(7)).unwrap(), Some(value(7, 59)));
}

/// Every table file of the database, opened on its own (no cache).
fn open_tables(storage: &MemStorage) -> Vec<Table> {
    let open = |path: std::path::PathBuf| {
        let number = path.file_stem().and_then(|s| s.to_str()).unwrap().parse().unwrap();
        Table::open(storage, &path, number, Arc::new(BlockCache::new(0)), true).unwrap()
    };
    common::files_with(storage, ".sst").into_iter().map(open).collect()
}

/// Every (stored key, sequence number, kind) in the database's table files, in file order.
fn stored_versions(storage: &MemStorage) -> Vec<(Vec<u8>, u64, Kind)> {
    let mut versions = Vec::new();
    for table in open_tables(storage) {
        for i in 0..table.block_count() {
            let block = table.block(table.block_handle(i).unwrap(), false).unwrap().unwrap();
            let mut it = block.iter();
            while let Some(e) = it.next_entry() {
                versions.push((it.key().to_vec(), e.seq, e.kind));
            }
            assert!(!it.is_corrupt());
        }
    }
    versions
}

/// A bottommost compaction stores sequence number 0 for the values every reader sees (one
/// byte of packed tag instead of nine), keeps the real number of a version a snapshot must
/// tell apart, and reads stay the same; a clear after it still hides those values, and a
/// value written after the clear survives the next compaction.
#[test]
fn a_bottommost_compaction_stores_sequence_zero_for_values_every_reader_sees() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    for i in 0..300 {
        db.put(&key(i), &value(i, 0), false).unwrap();
    }
    db.delete(&key(7), false).unwrap();
    db.flush().unwrap();
    let snapshot = db.snapshot().unwrap();
    db.put(&key(1), &value(1, 1), false).unwrap();
    db.flush().unwrap();
    db.compact(None, None).unwrap();

    let versions = stored_versions(&storage);
    let of = |i: u32| -> Vec<u64> {
        let stored = [&[0u8][..], &key(i)].concat();
        versions.iter().filter(|(k, _, _)| *k == stored).map(|(_, s, _)| *s).collect()
    };
    let after_snapshot = versions.iter().map(|(_, s, _)| *s).max().unwrap();
    assert!(after_snapshot > 300, "the overwrite made after the snapshot keeps its number");
    assert_eq!(of(1), vec![after_snapshot, 0], "key 1: the newer version for readers, the older one as 0");
    assert_eq!(of(2), vec![0]);
    assert!(of(7).is_empty(), "the delete and the value it hid are gone");
    assert_eq!(versions.iter().filter(|(_, s, _)| *s == 0).count(), 299, "298 other keys and key 1's older version");
    assert_eq!(db.get_at(&key(1), Some(&snapshot)).unwrap(), Some(value(1, 0)));
    assert_eq!(db.get(&key(1)).unwrap(), Some(value(1, 1)));
    assert_eq!(db.get(&key(7)).unwrap(), None);

    drop(snapshot);
    db.compact(None, None).unwrap();
    assert!(stored_versions(&storage).iter().all(|(_, s, k)| *s == 0 && *k == Kind::Put));
    let mut model = BTreeMap::new();
    for i in (0..300).filter(|&i| i != 7) {
        model.insert(key(i), value(i, u32::from(i == 1)));
    }
    check(&db, &model, 300);

    let cleared = IterOptions { lower: Bound::Included(key(100)), upper: Bound::Excluded(key(200)), reverse: false };
    db.clear(cleared, None).unwrap();
    db.put(&key(150), &value(150, 2), false).unwrap();
    db.compact(None, None).unwrap();
    for i in 100..200 {
        model.remove(&key(i));
    }
    model.insert(key(150), value(150, 2));
    check(&db, &model, 300);
    db.close().unwrap();
}

/// A database compacted leveled and reopened tiered keeps its deeper levels; the tiered merges
/// of the runs above them are not the bottom: deletes made in tiered mode keep hiding the
/// values below (a bottommost merge would drop the tombstones and bring them back), and the
/// newer values keep their order against the older ones.
#[test]
fn tiered_merges_above_levels_left_by_leveled_compaction_keep_their_tombstones() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..400 {
        db.put(&key(i), &value(i, 0), false).unwrap();
        model.insert(key(i), value(i, 0));
    }
    db.compact(None, None).unwrap();
    assert!(db.stats().levels[1..].iter().any(|l| l.tables > 0));
    db.close().unwrap();

    let db = common::open(&storage, options(CompactionStyle::Tiered)).unwrap();
    for round in 1..=6u32 {
        for i in (0..400).filter(|i| i % 6 == round - 1) {
            db.delete(&key(i), false).unwrap();
            model.remove(&key(i));
        }
        for i in (0..400).filter(|i| i % 5 == round % 5) {
            db.put(&key(i), &value(i, round), false).unwrap();
            model.insert(key(i), value(i, round));
        }
        db.flush().unwrap();
    }
    wait_for_background(&db);
    assert!(db.stats().compactions > 0, "the runs were merged: {:?}", db.stats());
    check(&db, &model, 400);
    db.close().unwrap();
}

/// An open table keeps its filter and index at their size: the index, decoded entry by entry,
/// is not left with the spare capacity of its growth (up to half of it).
#[test]
fn an_open_table_keeps_no_spare_index_capacity() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    for i in 0..3000 {
        db.put(&key(i), &value(i, 0), false).unwrap();
    }
    db.compact(None, None).unwrap();
    db.close().unwrap();
    for table in open_tables(&storage) {
        let blocks = table.block_count();
        assert!(blocks > 20, "{blocks} blocks");
        // Per block: its last key past the prefix all share (at most 10 bytes + tag), where
        // that ends (4 bytes), the block's offset and size (8 + 4), its last sequence number
        // (8; none when all are 0), a probe (8), and a sixteenth of a group probe; the filter:
        // 10 bits per key, in 64-byte lines, + 1. (An entry struct per block took 32 bytes.)
        let keys = table.entry_count() as usize;
        let filter = (keys * 10).div_ceil(512) * 64 + 1;
        let exact = 11 + blocks * (11 + 4 + 8 + 4 + 8 + 8) + blocks.div_ceil(16) * 8 + filter;
        assert!(table.metadata_bytes() <= exact, "{} bytes kept for {exact} needed", table.metadata_bytes());
    }
}

/// Claim (issue 6): a compaction does not cost the hot set its cache. The output blocks that
/// hold the keys of hot input blocks are cached when the merge installs, so the next reads of
/// those keys read no file; blocks nobody read are not.
#[test]
fn hot_blocks_stay_cached_across_a_compaction_and_cold_ones_are_not_loaded() {
    let storage = MemStorage::new();
    let db = common::open(&storage, options(CompactionStyle::Leveled)).unwrap();
    for i in 0..4000 {
        db.put(&common::key(i), VALUE, false).unwrap();
    }
    db.compact(None, None).unwrap();
    // Reads through a snapshot go to the blocks (HOT answers only latest-state reads).
    let read_all = |keys: std::ops::Range<u32>| {
        let snapshot = db.snapshot().unwrap();
        for i in keys {
            assert_eq!(db.get_at(&common::key(i), Some(&snapshot)).unwrap().as_deref(), Some(VALUE));
        }
    };
    for _ in 0..4 {
        read_all(0..400);
    }
    // Overwrites across the range, so the next merge rewrites every table (new blocks).
    let tables_before: Vec<u64> = db.tables().unwrap().iter().map(|t| t.number).collect();
    for i in (0..4000).step_by(97) {
        db.put(&common::key(i), VALUE, false).unwrap();
    }
    db.compact(None, None).unwrap();
    let tables_after: Vec<u64> = db.tables().unwrap().iter().map(|t| t.number).collect();
    assert!(tables_after.iter().all(|n| !tables_before.contains(n)), "{tables_before:?} -> {tables_after:?}");
    assert_eq!(reads_during(&storage, || read_all(0..400)), 0, "the hot keys' new blocks were cached");
    assert!(reads_during(&storage, || read_all(3000..3400)) > 5, "keys nobody read are on disk");
}

/// A database (in `storage`) whose memtable holds keys 0..4000 with `VALUE` values, and the
/// keys in `read` read once each.
fn memtable_with_reads(storage: &MemStorage, options: Options, read: std::ops::Range<u32>) -> Db {
    let db = common::open(storage, Options { write_buffer_size_bytes: 4 << 20, ..options }).unwrap();
    for i in 0..4000 {
        db.put(&common::key(i), VALUE, false).unwrap();
    }
    read_range(&db, read);
    db
}

const VALUE: &[u8] = &[b'v'; 100];

/// Reads each key of `keys`, checking it holds `VALUE`.
fn read_range(db: &Db, keys: std::ops::Range<u32>) {
    for i in keys {
        assert_eq!(db.get(&common::key(i)).unwrap().as_deref(), Some(VALUE));
    }
}

/// The table-file reads `f` makes.
fn reads_during(storage: &MemStorage, f: impl FnOnce()) -> u64 {
    let before = storage.read_calls();
    f();
    storage.read_calls() - before
}

/// Claim (issue 6): a flush does not cost a recently written key its place in memory if it
/// was read while in the memtable: the new table's blocks that hold such keys are cached
/// when the flush installs; blocks of keys nobody read are not.
#[test]
fn keys_read_in_the_memtable_stay_cached_after_their_flush_and_unread_ones_do_not() {
    let storage = MemStorage::new();
    let db = memtable_with_reads(&storage, Options::default(), 0..400);
    assert_eq!(db.tables().unwrap().len(), 0, "still in the memtable");
    db.flush().unwrap();
    assert_eq!(db.tables().unwrap().len(), 1);
    assert_eq!(
        reads_during(&storage, || read_range(&db, 0..400)),
        0,
        "the blocks of keys read in the memtable were cached"
    );
    assert!(reads_during(&storage, || read_range(&db, 3000..3400)) > 5, "keys nobody read are on disk");
}

/// A flush reads back at most half the block cache's worth of blocks to cache, however many
/// of its keys were read in the memtable (the cache could not keep more).
#[test]
fn a_flush_warms_no_more_blocks_than_half_the_cache_holds() {
    let storage = MemStorage::new();
    let db = memtable_with_reads(&storage, Options { cache_size_bytes: 64 * 1024, ..Options::default() }, 0..4000);
    let flush_reads = reads_during(&storage, || db.flush().unwrap());
    // ~110 blocks hold a read key; half of 64 KiB is 8 blocks, plus the table's own opening
    // reads (footer, index, filter).
    assert!((8..=16).contains(&flush_reads), "{flush_reads} reads during the flush");
}

/// Closing flushes the memtable but caches nothing: the cache is let go right after, so
/// reading blocks back would only make `close` slower.
#[test]
fn the_flush_at_close_warms_no_blocks() {
    let storage = MemStorage::new();
    let db = memtable_with_reads(&storage, Options::default(), 0..4000);
    let close_reads = reads_during(&storage, || db.close().unwrap());
    // The new table's opening reads (footer, index, filter) only; ~110 blocks hold a read key.
    assert!(close_reads <= 8, "{close_reads} reads during close");
}

/// The bound is on bytes, not on blocks of the nominal size: a block holding a large value is
/// that value's size, so counting blocks let a flush of large values read back several times
/// half the cache (28 blocks of 20 KiB, 560 KiB, for a 256 KiB cache).
#[test]
fn a_flush_of_large_values_reads_back_no_more_than_half_the_cache_in_bytes() {
    let storage = MemStorage::new();
    let options = Options { cache_size_bytes: 256 * 1024, write_buffer_size_bytes: 4 << 20, ..Options::default() };
    let db = common::open(&storage, options).unwrap();
    let value = vec![b'v'; 20 * 1024];
    for i in 0..150 {
        db.put(&common::key(i), &value, false).unwrap();
    }
    for i in 0..150 {
        assert_eq!(db.get(&common::key(i)).unwrap().as_deref(), Some(value.as_slice()));
    }
    let flush_reads = reads_during(&storage, || db.flush().unwrap());
    // Half the cache's block share (under 128 KiB) is used up by the 6th block of 20 KiB; plus
    // the table's own 4 opening reads (header, footer, filter, index).
    assert!(flush_reads <= 6 + 4, "{flush_reads} reads during the flush");
}

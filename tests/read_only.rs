//! Claim: a database opened with `read_only` serves everything acknowledged (WAL included)
//! and changes nothing in its directory: no file created, removed, truncated or rewritten,
//! not even at close; every write path fails with `InvalidArgument`.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use browserdb::engine::storage::{MemStorage, Storage};
use browserdb::engine::{Error, Options, WriteBatch};
use common::{dir, files_with, key, open, small_options, value};

fn read_only() -> Options {
    Options { read_only: true, ..small_options() }
}

/// Every file of the directory with its bytes.
fn directory(storage: &MemStorage) -> BTreeMap<PathBuf, Vec<u8>> {
    let names = storage.list_dir(&dir()).unwrap();
    names.into_iter().map(|n| dir().join(n)).filter_map(|p| storage.file_bytes(&p).map(|b| (p, b))).collect()
}

/// A database with tables, unflushed WAL data, a deletion and a torn record at the WAL's end,
/// left as a crashed process leaves it.
fn crashed_database() -> MemStorage {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    for i in 0..3000 {
        db.put(&key(i), &value(i, 0), false).unwrap();
    }
    db.flush().unwrap();
    for i in 0..50 {
        db.put(&key(i), &value(i, 1), false).unwrap();
    }
    db.delete(&key(60), false).unwrap();
    let crashed = storage.process_crash();
    drop(db);
    let wal = files_with(&crashed, ".wal").pop().unwrap();
    let mut bytes = crashed.file_bytes(&wal).unwrap();
    bytes.extend_from_slice(&[0x40, 0, 0, 0, 1, 2, 3]); // a torn record: a header cut short
    crashed.set_file_bytes(&wal, bytes);
    crashed
}

#[test]
fn reads_everything_and_changes_nothing() {
    let storage = crashed_database();
    let before = directory(&storage);
    let db = open(&storage, read_only()).unwrap();
    assert_eq!(db.get(&key(10)).unwrap(), Some(value(10, 1)), "a WAL-only overwrite is served");
    assert_eq!(db.get(&key(2000)).unwrap(), Some(value(2000, 0)), "a table value is served");
    assert_eq!(db.get(&key(60)).unwrap(), None, "a WAL-only delete is served");
    let mut iter = db.iter(Default::default(), None).unwrap();
    let mut count = 0;
    iter.next_page(usize::MAX, usize::MAX, false, |_, _| count += 1).unwrap();
    assert_eq!(count, 2999);
    drop(iter);

    let refused = |r: Result<(), Error>, what: &str| {
        assert!(matches!(r, Err(Error::InvalidArgument(ref m)) if m.contains("read-only")), "{what}: {r:?}");
    };
    refused(db.put(&key(1), b"x", false), "put");
    refused(db.delete(&key(1), false), "delete");
    let mut batch = WriteBatch::new();
    batch.put(&key(1), b"x").unwrap();
    refused(db.write(batch, true), "batch");
    refused(db.flush(), "flush");
    refused(db.compact(None, None), "compact");
    refused(db.clear(Default::default(), None).map(drop), "clear");
    db.sync_wal().unwrap();
    assert_eq!(db.get(&key(1)).unwrap(), Some(value(1, 1)), "nothing was written");
    let report = browserdb::engine::maintenance::verify(&db, &mut |_, _| {}).unwrap();
    assert!(report.ok(), "{:?}", report.problems);
    db.close().unwrap();
    assert_eq!(directory(&storage), before, "the directory is byte for byte as it was (torn tail included)");

    // A normal open afterwards recovers the same data (and may now truncate the torn tail).
    let db = open(&storage, small_options()).unwrap();
    assert_eq!(db.get(&key(10)).unwrap(), Some(value(10, 1)));
    assert_eq!(db.get(&key(60)).unwrap(), None);
}

#[test]
fn a_missing_database_is_not_created() {
    let storage = MemStorage::new();
    assert!(matches!(open(&storage, read_only()), Err(Error::NotFound(_))));
    assert!(storage.list_dir(&dir()).is_err(), "no directory was created");
}

#[test]
fn damage_before_the_wal_end_is_still_corruption() {
    let storage = crashed_database();
    let wal = files_with(&storage, ".wal").pop().unwrap();
    let mut bytes = storage.file_bytes(&wal).unwrap();
    bytes[30] ^= 0xff; // inside the first record, with valid records after it
    storage.set_file_bytes(&wal, bytes);
    assert!(matches!(open(&storage, read_only()), Err(Error::Corruption { .. })));
}

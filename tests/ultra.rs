//! Claim (issue 7, ultra mode): an in-memory database keeps no log, and a write that would
//! take it past its memory limit fails with `Full` and changes nothing.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Error, Options, WriteBatch};

fn ultra(limit: u64) -> (MemStorage, Db) {
    let storage = MemStorage::new();
    let options = Options { wal_disabled: true, memory_bytes_max: Some(limit), ..Options::default() };
    let db = Db::open_with_storage("/ultra", options, Arc::new(storage.clone())).unwrap();
    (storage, db)
}

#[test]
fn writes_past_the_limit_fail_with_full_and_change_nothing() {
    let (_, db) = ultra(256 * 1024);
    let mut written = 0u32;
    let err = loop {
        let mut batch = WriteBatch::new();
        for j in 0..10 {
            batch.put(format!("k{written:06}:{j}").as_bytes(), &[b'v'; 100]).unwrap();
        }
        match db.write(batch, false) {
            Ok(()) => written += 1,
            Err(e) => break e,
        }
        assert!(written < 10_000, "the limit never stopped a write");
    };
    assert!(matches!(err, Error::Full { .. }), "{err:?}");
    assert_eq!(err.code(), "BROWSERDB_FULL");
    assert!(db.memory_bytes() <= 256 * 1024);
    // The refused batch left no trace; everything before it reads back.
    assert_eq!(db.get(format!("k{written:06}:0").as_bytes()).unwrap(), None);
    assert_eq!(db.get(format!("k{:06}:9", written - 1).as_bytes()).unwrap(), Some(vec![b'v'; 100]));
    // Deleting makes room again once the tombstones meet the values in a compaction.
    for i in 0..written {
        let mut batch = WriteBatch::new();
        for j in 0..10 {
            batch.delete(format!("k{i:06}:{j}").as_bytes()).unwrap();
        }
        let _ = db.write(batch, false);
    }
    db.compact(None, None).unwrap();
    db.put(b"after", b"room", false).unwrap();
}

#[test]
fn no_log_is_written() {
    let (storage, db) = ultra(64 * 1024 * 1024);
    for i in 0..1000u32 {
        db.put(format!("k{i}").as_bytes(), b"value", true).unwrap();
    }
    let wal_bytes: usize =
        storage.file_bytes(&std::path::Path::new("/ultra").join("000002.wal")).map_or(0, |b| b.len());
    assert_eq!(wal_bytes, 0);
    assert_eq!(db.stats().wal_syncs, 0);
    assert_eq!(db.get(b"k999").unwrap(), Some(b"value".to_vec()));
}

#[test]
fn in_memory_writes_commit_on_the_calling_thread_unless_they_would_wait() {
    let (_, db) = ultra(64 * 1024 * 1024);
    let mut batch = WriteBatch::new();
    batch.put(b"now", b"here").unwrap();
    assert!(db.try_write_now(batch).unwrap().is_none(), "an idle in-memory database commits in place");
    assert_eq!(db.get(b"now").unwrap(), Some(b"here".to_vec()));
    for i in 0..20_000u32 {
        let mut batch = WriteBatch::new();
        batch.put(format!("k{i:06}").as_bytes(), &[b'v'; 300]).unwrap();
        if let Some(back) = db.try_write_now(batch).unwrap() {
            // It would have waited (a stall): the caller commits it the usual way.
            db.write(back, false).unwrap();
        }
    }
    assert_eq!(db.get(b"k019999").unwrap(), Some(vec![b'v'; 300]));
    // A persistent database never commits on the caller's thread this way.
    let disk = Db::open_with_storage("/disk", Options::default(), Arc::new(MemStorage::new())).unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"k", b"v").unwrap();
    assert!(disk.try_write_now(batch).unwrap().is_some());
}

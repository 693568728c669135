//! Claim: what is written reads back, across memtables, flushed tables and reopen; deletes
//! hide older values wherever those live.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Error, Options, WriteBatch};
use common::{key, open, small_options, value};

#[test]
fn put_get_delete_overwrite() {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).unwrap();
    assert_eq!(db.get(b"a").unwrap(), None);
    db.put(b"a", b"1", false).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"1".to_vec()));
    db.put(b"a", b"2", false).unwrap();
    assert_eq!(db.get(b"a").unwrap(), Some(b"2".to_vec()));
    db.put(b"empty", b"", false).unwrap();
    assert_eq!(db.get(b"empty").unwrap(), Some(Vec::new()));
    db.delete(b"a", false).unwrap();
    assert_eq!(db.get(b"a").unwrap(), None);
    db.close().unwrap();
}

#[test]
fn batch_is_visible_at_once_and_survives_reopen() {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).unwrap();
    let mut batch = WriteBatch::new();
    for i in 0..100 {
        batch.put(&key(i), &value(i, 0)).unwrap();
    }
    batch.delete(&key(5)).unwrap();
    db.write(batch, true).unwrap();
    assert_eq!(db.get(&key(5)).unwrap(), None);
    assert_eq!(db.get(&key(99)).unwrap(), Some(value(99, 0)));
    drop(db); // no close: the next open replays the WAL
    let db = open(&storage.process_crash(), Options::default()).unwrap();
    assert_eq!(db.get(&key(5)).unwrap(), None);
    for i in (0..100).filter(|&i| i != 5) {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 0)), "key {i}");
    }
}

#[test]
fn flushed_tables_serve_reads_and_tombstones_hide_older_tables() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    for i in 0..3000 {
        db.put(&key(i), &value(i, 0), false).unwrap();
    }
    db.flush().unwrap();
    for i in (0..3000).step_by(3) {
        db.delete(&key(i), false).unwrap();
    }
    for i in (1..3000).step_by(3) {
        db.put(&key(i), &value(i, 1), false).unwrap();
    }
    db.flush().unwrap();
    assert!(db.stats().flushes >= 2, "expected several flushes, got {:?}", db.stats());
    let check = |db: &Db| {
        for i in 0..3000 {
            let expected = match i % 3 {
                0 => None,
                1 => Some(value(i, 1)),
                _ => Some(value(i, 0)),
            };
            assert_eq!(db.get(&key(i)).unwrap(), expected, "key {i}");
        }
    };
    check(&db);
    db.close().unwrap();
    let db = open(&storage, small_options()).unwrap();
    check(&db);
    assert_eq!(common::files_with(&storage, ".wal").len(), 1, "close flushed, one fresh WAL");
}

#[test]
fn memory_fast_path_defers_to_tables() {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).unwrap();
    db.put(b"k", b"v", false).unwrap();
    assert_eq!(db.get_in_memory(b"k", |v| v.map(<[u8]>::to_vec)).unwrap(), Some(Some(b"v".to_vec())));
    assert_eq!(
        db.get_in_memory(b"missing", |v| v.map(<[u8]>::to_vec)).unwrap(),
        Some(None),
        "no tables: a miss is final"
    );
    db.flush().unwrap();
    // "k" was read while in the memtable, so the flush cached its block.
    assert_eq!(db.get_in_memory(b"k", |v| v.map(<[u8]>::to_vec)).unwrap(), Some(Some(b"v".to_vec())));
    // A key nobody read in the memtable is on disk only.
    db.put(b"j", b"v", false).unwrap();
    db.flush().unwrap();
    assert_eq!(
        db.get_in_memory(b"j", |v| v.map(<[u8]>::to_vec)).unwrap(),
        None,
        "in a table: not answered from memory"
    );
    assert_eq!(db.get(b"j").unwrap(), Some(b"v".to_vec()));
    // That read cached the block, so memory now answers, hits and misses alike.
    assert_eq!(db.get_in_memory(b"j", |v| v.map(<[u8]>::to_vec)).unwrap(), Some(Some(b"v".to_vec())));
    assert_eq!(db.get_in_memory(b"missing", |v| v.map(<[u8]>::to_vec)).unwrap(), Some(None), "the filter rules it out");
    assert!(db.stats().cache.warm.hits + db.stats().cache.hot.hits >= 1);
}

#[test]
fn calls_after_close_are_refused() {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).unwrap();
    db.close().unwrap();
    assert!(matches!(db.get(b"a"), Err(Error::Closed)));
    assert!(matches!(db.put(b"a", b"b", false), Err(Error::Closed)));
    db.close().unwrap();
}

#[test]
fn bad_keys_are_rejected_and_nothing_is_written() {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).unwrap();
    assert!(matches!(db.put(b"", b"v", false), Err(Error::InvalidArgument(_))));
    assert!(matches!(db.get(&vec![0; 65 * 1024]), Err(Error::InvalidArgument(_))));
    assert_eq!(db.stats().last_sequence, 0);
}

#[test]
fn large_values_and_keys_round_trip_through_tables() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    let big_key = vec![7u8; 64 * 1024];
    let big_value: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    db.put(&big_key, &big_value, false).unwrap();
    db.flush().unwrap();
    assert_eq!(db.get(&big_key).unwrap(), Some(big_value));
}

#[test]
fn concurrent_writers_all_land() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    let threads: Vec<_> = (0..4u32)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    db.put(&key(t * 1000 + i), &value(i, t), i % 50 == 0).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for t in 0..4 {
        for i in 0..500 {
            assert_eq!(db.get(&key(t * 1000 + i)).unwrap(), Some(value(i, t)));
        }
    }
    let stats = db.stats();
    assert_eq!(stats.last_sequence, 2000);
    db.close().unwrap();
}

//! Claim (issue 7, TTL): a value written with an expiry reads as absent from that moment on,
//! in memtables, tables, iterators and the HOT cache alike, keeps its expiry across reopen,
//! and its space is reclaimed by compaction. A controllable clock drives time.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicU64, Ordering};

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{IterOptions, Options, PageEnd, WriteBatch};

// One clock per test: tests run in parallel threads.
static NOW: AtomicU64 = AtomicU64::new(1_000_000);
static NOW_2: AtomicU64 = AtomicU64::new(5_000_000);

fn clock() -> u64 {
    NOW.load(Ordering::SeqCst)
}

fn clock_2() -> u64 {
    NOW_2.load(Ordering::SeqCst)
}

fn options() -> Options {
    Options { clock, write_buffer_size_bytes: 64 * 1024, ..Options::default() }
}

fn put_expiring(db: &browserdb::engine::Db, key: &[u8], value: &[u8], expiry_ms: u64) {
    let mut batch = WriteBatch::new();
    batch.put_expiring(key, value, expiry_ms).unwrap();
    db.write(batch, false).unwrap();
}

fn keys(db: &browserdb::engine::Db) -> Vec<Vec<u8>> {
    let mut iter = db.iter(IterOptions::default(), None).unwrap();
    let mut out = Vec::new();
    while iter.next_page(100, usize::MAX, false, |k, _| out.push(k.to_vec())).unwrap() != PageEnd::Exhausted {}
    out
}

#[test]
fn expired_values_vanish_everywhere_and_stay_expired_across_reopen() {
    NOW.store(1_000_000, Ordering::SeqCst);
    let storage = MemStorage::new();
    let db = common::open(&storage, options()).unwrap();
    put_expiring(&db, b"session", b"token", 1_000_500);
    db.put(b"settings", b"dark", false).unwrap();
    assert_eq!(db.get(b"session").unwrap(), Some(b"token".to_vec()));
    NOW.store(1_000_499, Ordering::SeqCst);
    assert_eq!(db.get(b"session").unwrap(), Some(b"token".to_vec()));
    // Flushed to a table, and read often enough to be hot: still expires.
    db.flush().unwrap();
    for _ in 0..5 {
        assert_eq!(db.get(b"session").unwrap(), Some(b"token".to_vec()));
    }
    NOW.store(1_000_500, Ordering::SeqCst);
    assert_eq!(db.get(b"session").unwrap(), None, "expired at its expiry time");
    assert_eq!(db.get_in_memory(b"session", |v| v.map(<[u8]>::to_vec)).unwrap(), Some(None));
    assert_eq!(keys(&db), vec![b"settings".to_vec()]);
    db.close().unwrap();
    NOW.store(1_000_000, Ordering::SeqCst);
    let db = common::open(&storage, options()).unwrap();
    assert_eq!(db.get(b"session").unwrap(), Some(b"token".to_vec()), "the stored expiry, not a reset");
    NOW.store(2_000_000, Ordering::SeqCst);
    assert_eq!(db.get(b"session").unwrap(), None);
}

#[test]
fn compaction_reclaims_expired_values() {
    NOW_2.store(5_000_000, Ordering::SeqCst);
    let storage = MemStorage::new();
    let db = common::open(&storage, Options { clock: clock_2, ..options() }).unwrap();
    for i in 0..5000u32 {
        put_expiring(&db, format!("cache:{i:05}").as_bytes(), &[b'x'; 200], 5_000_100);
    }
    db.put(b"keep", b"me", false).unwrap();
    db.compact(None, None).unwrap();
    let before = db.stats().disk_bytes;
    NOW_2.store(5_000_100, Ordering::SeqCst);
    db.compact(None, None).unwrap();
    let after = db.stats().disk_bytes;
    assert!(after * 10 < before, "expired values still on disk: {before} -> {after}");
    assert_eq!(keys(&db), vec![b"keep".to_vec()]);
}

//! Claim: the JS thread's memory-only reads may take a block straight from the OS page cache
//! (`preadv2(RWF_NOWAIT)`), never waiting for the disk; when the bytes are not cached the
//! read reports "needs disk" instead of blocking.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::{FsStorage, MemStorage, Storage};
use browserdb::engine::{Db, Options};

#[test]
fn memory_reads_use_the_page_cache_only_when_it_has_the_bytes() {
    let storage = MemStorage::new();
    let db = common::open(&storage, Options::default()).unwrap();
    db.put(b"k", b"v", false).unwrap();
    db.close().unwrap();
    // Reopened: the block cache is cold. With nothing in the "page cache", memory cannot answer.
    let db = common::open(&storage, Options::default()).unwrap();
    assert_eq!(db.get_in_memory(b"k", |v| v.map(<[u8]>::to_vec)).unwrap(), None);
    let reads = storage.read_calls();
    storage.set_page_cache_hits(true);
    assert_eq!(db.get_in_memory(b"k", |v| v.map(<[u8]>::to_vec)).unwrap(), Some(Some(b"v".to_vec())));
    assert!(storage.read_calls() > reads, "the block came from a (page-cache) read");
}

#[test]
fn the_real_file_system_serves_cached_pages_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let probe = dir.path().join("probe");
    let mut file = FsStorage.create(&probe).unwrap();
    file.append(&[7u8; 4096]).unwrap();
    drop(file);
    let mut buf = [0u8; 4096];
    if !FsStorage.open_read(&probe).unwrap().read_exact_at_nowait(&mut buf, 0).unwrap() {
        eprintln!("this file system cannot do RWF_NOWAIT reads; memory-only reads stop at uncached blocks");
        return;
    }
    assert_eq!(buf, [7u8; 4096]);
    let path = dir.path().join("db");
    let db = Db::open(&path, Options::default()).unwrap();
    for i in 0..1000u32 {
        db.put(format!("key{i:05}").as_bytes(), format!("value{i}").as_bytes(), false).unwrap();
    }
    db.close().unwrap();
    let db = Db::open(&path, Options::default()).unwrap();
    // The table was just written, so its pages are cached: memory answers, hits and misses.
    let hit = db.get_in_memory(b"key00500", |v| v.map(<[u8]>::to_vec)).unwrap();
    assert_eq!(hit, Some(Some(b"value500".to_vec())));
    assert_eq!(db.get_in_memory(b"key99999", |v| v.map(<[u8]>::to_vec)).unwrap(), Some(None));
}

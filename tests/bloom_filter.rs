//! Claim (issue 5): a `get` of a missing key reads no data block from a table whose Bloom
//! filter rules the key out (about 10 bits per key, ~1% false positives).
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::Options;

#[test]
fn missing_keys_read_almost_no_blocks() {
    let storage = MemStorage::new();
    // Three level-0 tables (below the compaction trigger), each spanning the whole key range.
    // No block cache: every block a lookup touches is a counted read.
    let options = Options { write_buffer_size_bytes: 1024 * 1024, cache_size_bytes: 0, ..Options::default() };
    let db = common::open(&storage, options.clone()).unwrap();
    for table in 0..3u32 {
        for i in 0..2000u32 {
            db.put(format!("key{:06}", i * 6 + table * 2).as_bytes(), b"present", false).unwrap();
        }
        db.flush().unwrap();
    }
    db.close().unwrap();
    let db = common::open(&storage, options).unwrap();
    let tables = db.stats().tables;
    assert_eq!(tables, 3);
    let before = storage.read_calls();
    // Odd keys fall inside every table's key range but are in none of them.
    assert!(db.stats().levels[0].tables == 3);
    for i in 0..2000u32 {
        assert_eq!(db.get(format!("key{:06}", i * 6 + 1).as_bytes()).unwrap(), None);
    }
    let block_reads = storage.read_calls() - before;
    assert!(block_reads <= 2000 * tables / 30, "{block_reads} block reads for 2000 missing keys over {tables} tables");
    // A present key does read its block (the counter would catch a filter that lies).
    db.close().unwrap();
    let db = common::open(&storage, Options { write_buffer_size_bytes: 1024 * 1024, ..Options::default() }).unwrap();
    let before = storage.read_calls();
    assert_eq!(db.get(b"key000002").unwrap(), Some(b"present".to_vec()));
    assert!(storage.read_calls() > before);
}

//! Measures `clear` of a large range (one range tombstone against one delete per key), and
//! point reads and scans of a database without range tombstones (the fast path range deletes
//! must not slow down). Figures in docs/design.md "Range deletes".
//!
//! `cargo run --release --example clear_range [keys]` (default 1 000 000 keys of ~100 bytes,
//! in a temporary directory on the real file system).
#![allow(clippy::unwrap_used, clippy::print_stdout, clippy::cast_precision_loss)]

use std::time::Instant;

use browserdb::engine::{Db, IterOptions, Options, PageEnd, WriteBatch};

fn key(i: u64) -> Vec<u8> {
    format!("history:{i:010}").into_bytes()
}

fn load(dir: &std::path::Path, n: u64) -> Db {
    let db = Db::open(dir, Options::default()).unwrap();
    let value = vec![b'v'; 100];
    for chunk in (0..n).step_by(1000) {
        let mut batch = WriteBatch::new();
        for i in chunk..(chunk + 1000).min(n) {
            batch.put(&key(i), &value).unwrap();
        }
        db.write(batch, false).unwrap();
    }
    db.flush().unwrap();
    db.compact(None, None).unwrap();
    db
}

fn scan_all(db: &Db) -> u64 {
    let mut iter = db.iter(IterOptions::default(), None).unwrap();
    let mut count = 0u64;
    while iter.next_page(1000, usize::MAX, false, |_, _| count += 1).unwrap() != PageEnd::Exhausted {}
    count
}

fn main() {
    let n: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let root = tempfile::tempdir().unwrap();

    let db = load(&root.path().join("reads"), n);
    let gets = 500_000u64;
    let mut best_get = f64::MAX;
    let mut best_scan = f64::MAX;
    for _ in 0..3 {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let started = Instant::now();
        let mut found = 0u64;
        for _ in 0..gets {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            found += u64::from(db.get_with(&key(x % n), |v| v.is_some()).unwrap());
        }
        assert_eq!(found, gets);
        best_get = best_get.min(started.elapsed().as_secs_f64());
        let started = Instant::now();
        assert_eq!(scan_all(&db), n);
        best_scan = best_scan.min(started.elapsed().as_secs_f64());
    }
    println!(
        "no tombstones: point get {:.0} k/s, scan {:.2} M entries/s",
        gets as f64 / best_get / 1e3,
        n as f64 / best_scan / 1e6
    );

    let started = Instant::now();
    let _ = db.clear(IterOptions::default(), None).unwrap();
    let tombstone = started.elapsed().as_secs_f64();
    let started = Instant::now();
    assert_eq!(scan_all(&db), 0);
    let scan_after = started.elapsed().as_secs_f64();
    db.compact(None, None).unwrap();
    let bytes: u64 = db.tables().unwrap().iter().map(|t| t.bytes).sum();
    println!(
        "clear {n} keys with one range tombstone: {:.3} ms; scan of the cleared range before compaction {:.0} ms; tables after compaction {bytes} bytes",
        tombstone * 1e3,
        scan_after * 1e3
    );
    db.close().unwrap();

    let db = load(&root.path().join("per-key"), n);
    let started = Instant::now();
    let _ = db.clear(IterOptions::default(), Some(u64::MAX)).unwrap();
    println!("clear {n} keys one delete per key: {:.0} ms", started.elapsed().as_secs_f64() * 1e3);
    db.close().unwrap();
}

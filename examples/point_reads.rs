//! Random point reads and iterator seeks over a compacted database, and what its open tables
//! keep in memory (filters and indexes): run with
//! `cargo run --release --example point_reads -- [keys] [cache MiB]` (default 1M keys and a
//! 256 MiB cache that holds every block). Written to check that a smaller in-memory table
//! index does not slow reads. Not a test: timings are noisy, so nothing here asserts them;
//! compare several alternating runs.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use std::time::Instant;

use browserdb::engine::{Db, IterOptions, Options, WriteBatch};

const READS: u64 = 500_000;
const SEEKS: u64 = 200_000;
const ROUNDS: usize = 4;

fn key(n: u64) -> Vec<u8> {
    format!("history:{n:09}").into_bytes()
}

/// ~100 bytes that compress about as well as a JSON record.
fn value(n: u64) -> Vec<u8> {
    format!(
        r#"{{"url":"https://www.example{}.com/articles/{n}/index.html","title":"Article {n}","at":{}}}"#,
        n % 997,
        n * 7919
    )
    .into_bytes()
}

/// xorshift: the same random sequence in every run.
fn randoms(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

fn fill(db: &Db, keys: u64) {
    for chunk in (0..keys).step_by(1000) {
        let mut batch = WriteBatch::new();
        for n in chunk..(chunk + 1000).min(keys) {
            batch.put(&key(n), &value(n)).unwrap();
        }
        db.write(batch, false).unwrap();
    }
    db.compact(None, None).unwrap();
}

/// Nanoseconds per `get` of a random stored key.
fn gets(db: &Db, keys: u64, round: u64) -> f64 {
    let mut next = randoms(0x9e37_79b9_7f4a_7c15 + round);
    let started = Instant::now();
    let mut found = 0u64;
    for _ in 0..READS {
        found += u64::from(db.get_with(&key(next() % keys), |v| v.is_some()).unwrap());
    }
    assert_eq!(found, READS);
    started.elapsed().as_nanos() as f64 / READS as f64
}

/// Nanoseconds per iterator seek to a random key and read of the entry there.
fn seeks(db: &Db, keys: u64, round: u64) -> f64 {
    let mut next = randoms(0x2545_f491_4f6c_dd1d + round);
    let mut it = db.iter(IterOptions::default(), None).unwrap();
    let started = Instant::now();
    for _ in 0..SEEKS {
        it.seek(&key(next() % keys));
        assert!(it.next_entry().unwrap().is_some());
    }
    started.elapsed().as_nanos() as f64 / SEEKS as f64
}

fn main() {
    let keys: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let cache_mib: usize = std::env::args().nth(2).and_then(|a| a.parse().ok()).unwrap_or(256);
    let db = Db::open(dir.path(), Options { cache_size_bytes: cache_mib << 20, ..Options::default() }).unwrap();
    fill(&db, keys);
    let stats = db.stats();
    println!(
        "{keys} keys in {} tables: table metadata (filters + indexes) {} bytes",
        stats.tables, stats.table_metadata_bytes
    );
    for round in 0..ROUNDS {
        let r = round as u64;
        println!("round {round}: get {:.0} ns, seek+next {:.0} ns", gets(&db, keys, r), seeks(&db, keys, r));
    }
    db.close().unwrap();
}

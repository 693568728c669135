//! Claim: `stats()` (called on the JS thread) never waits on a writer and never deadlocks
//! against one. It used to take the state lock, then the WAL lock, while `rotate_wal` takes
//! the WAL lock, then the state lock: a writer rotating its WAL and a `stats()` caller froze
//! each other (found by benchmark/scale.js polling `stats()` during a load).
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Options, WriteBatch};

#[test]
fn stats_and_rotating_writers_never_deadlock() {
    let storage = MemStorage::new();
    // The smallest memtable: a rotation every few batches.
    let options = Options { write_buffer_size_bytes: 64 * 1024, ..Options::default() };
    let db = common::open(&storage, options).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (done_tx, done_rx) = mpsc::channel();
    let writer = {
        let (db, stop, done) = (db.clone(), Arc::clone(&stop), done_tx.clone());
        std::thread::spawn(move || {
            let mut n = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let mut batch = WriteBatch::new();
                for i in 0..200 {
                    batch.put(format!("key{:08}", n * 200 + i).as_bytes(), &[7u8; 100]).unwrap();
                }
                db.write(batch, false).unwrap();
                n += 1;
            }
            done.send(n).unwrap();
        })
    };
    let reader = {
        let (db, stop, done) = (db.clone(), Arc::clone(&stop), done_tx);
        std::thread::spawn(move || {
            let mut calls = 0u32;
            while !stop.load(Ordering::SeqCst) {
                std::hint::black_box(db.stats());
                calls += 1;
            }
            done.send(calls).unwrap();
        })
    };
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        let finished = done_rx.recv_timeout(Duration::from_secs(10));
        assert!(finished.is_ok(), "a writer and stats() deadlocked");
    }
    writer.join().unwrap();
    reader.join().unwrap();
    assert!(db.stats().flushes > 2, "the writer rotated its WAL while stats() ran");
}

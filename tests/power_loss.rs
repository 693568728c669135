//! Claim (DESIGN promise 1): every write acknowledged with `sync: true` survives a power
//! loss at any later moment, and the database opens. The in-memory storage drops unsynced
//! bytes and directory entries that no directory sync made durable.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::WriteBatch;
use common::{open, small_options};

#[test]
fn synced_writes_survive_power_loss_at_every_sync_point() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    let mut synced: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for i in 0..600u32 {
        // Unsynced noise that overflows memtables, so flushes and WAL rotations interleave.
        for j in 0..8 {
            db.put(format!("noise:{i}:{j}").as_bytes(), &[b'n'; 200], false).unwrap();
        }
        if i % 3 == 0 {
            let mut batch = WriteBatch::new();
            batch.put(format!("synced:{i}:a").as_bytes(), format!("A{i}").as_bytes()).unwrap();
            batch.put(format!("synced:{i}:b").as_bytes(), format!("B{i}").as_bytes()).unwrap();
            db.write(batch, true).unwrap();
            synced.push((format!("synced:{i}:a").into_bytes(), format!("A{i}").into_bytes()));
            synced.push((format!("synced:{i}:b").into_bytes(), format!("B{i}").into_bytes()));
        } else {
            let (k, v) = (format!("synced:{i}").into_bytes(), format!("S{i}").into_bytes());
            db.put(&k, &v, true).unwrap();
            synced.push((k, v));
        }
        if i % 20 == 0 || i > 590 {
            let after_loss = storage.power_loss();
            let reopened =
                open(&after_loss, small_options()).unwrap_or_else(|e| panic!("after sync {i}: open failed: {e:?}"));
            for (k, v) in &synced {
                assert_eq!(
                    reopened.get(k).unwrap().as_ref(),
                    Some(v),
                    "after sync {i}: lost {}",
                    String::from_utf8_lossy(k)
                );
            }
            reopened.close().unwrap();
        }
    }
    assert!(db.stats().flushes > 3, "the workload should flush several times: {:?}", db.stats());
}

#[test]
fn unsynced_writes_may_be_lost_but_never_half_a_batch() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    for i in 0..300u32 {
        let mut batch = WriteBatch::new();
        for j in 0..10 {
            batch.put(format!("b:{i}:{j}").as_bytes(), format!("{i}").as_bytes()).unwrap();
        }
        db.write(batch, i % 50 == 49).unwrap();
    }
    let after_loss = storage.power_loss();
    let reopened = open(&after_loss, small_options()).unwrap();
    for i in 0..300u32 {
        let present: Vec<bool> =
            (0..10).map(|j| reopened.get(format!("b:{i}:{j}").as_bytes()).unwrap().is_some()).collect();
        assert!(present.iter().all(|&p| p) || present.iter().all(|&p| !p), "batch {i} is torn: {present:?}");
        if i <= 249 {
            assert!(present[0], "batch {i} came before a synced batch and must survive");
        }
    }
}

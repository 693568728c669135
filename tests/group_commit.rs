//! Claim (DESIGN "Threads"): concurrent writers share one WAL write and, when any asked for
//! `sync`, one fdatasync. With a slow disk, eight threads doing synced puts need far fewer
//! syncs than puts, and every put is durable.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::MemStorage;
use common::{key, open, small_options, value};

#[test]
fn concurrent_synced_writers_share_fsyncs() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    storage.set_sync_delay_ms(20);
    let (threads, puts) = (8u32, 5u32);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let db = db.clone();
            std::thread::spawn(move || {
                for i in 0..puts {
                    db.put(&key(t * 100 + i), &value(i, t), true).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let stats = db.stats();
    let total = u64::from(threads * puts);
    assert_eq!(stats.last_sequence, total);
    assert!(stats.wal_syncs < total, "no group commit: {} syncs for {total} synced puts", stats.wal_syncs);
    assert!(stats.wal_writes < total, "no group commit: {} WAL writes for {total} puts", stats.wal_writes);
    // Every acknowledged synced put survives a power loss.
    let after = open(&storage.power_loss(), small_options()).unwrap();
    for t in 0..threads {
        for i in 0..puts {
            assert_eq!(after.get(&key(t * 100 + i)).unwrap(), Some(value(i, t)));
        }
    }
}

/// Writes commit in the order they were queued, whichever thread finishes which and in
/// whatever order the threads run; a thread finishing a later write commits the earlier ones
/// queued before it (it never waits for a thread that has not started).
#[test]
fn queued_writes_commit_in_queue_order_whichever_thread_finishes_them() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    storage.set_sync_delay_ms(5);
    for round in 0..20u32 {
        let k = key(round);
        let queued: Vec<_> = (0..4u32)
            .map(|version| {
                let mut batch = browserdb::engine::WriteBatch::new();
                batch.put(&k, &value(round, version)).unwrap();
                db.enqueue_write(batch, version == 0).unwrap().unwrap()
            })
            .collect();
        // The last write is finished first, alone: it commits all four, in order.
        let mut queued = queued.into_iter().rev();
        let last = queued.next().unwrap();
        db.finish_write(last).unwrap();
        assert_eq!(db.get(&k).unwrap(), Some(value(round, 3)), "round {round}");
        let handles: Vec<_> = queued
            .map(|write| {
                let db = db.clone();
                std::thread::spawn(move || db.finish_write(write))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        assert_eq!(db.get(&k).unwrap(), Some(value(round, 3)), "round {round}");
    }
    db.close().unwrap();
}

//! Claim (DESIGN "Errors"): when a write, fsync, or any other mutating I/O call fails, the
//! caller gets an error, the database poisons itself (later writes fail with the cause,
//! reads go on, close succeeds), and a reopen finds every acknowledged write.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Error, WriteBatch};
use common::{key, open, small_options, value};

#[test]
fn a_failed_fsync_is_an_error_and_poisons_the_database() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    db.put(b"before", b"1", true).unwrap();
    storage.fail_syncs(true);
    let err = db.put(b"failed", b"2", true).unwrap_err();
    assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
    assert_eq!(err.code(), "BROWSERDB_IO");
    storage.fail_syncs(false);
    // Poisoned: writes refused even though the disk works again; reads go on.
    assert!(matches!(db.put(b"after", b"3", false), Err(Error::Poisoned { .. })));
    assert!(db.is_poisoned());
    assert_eq!(db.get(b"before").unwrap(), Some(b"1".to_vec()));
    db.close().unwrap();
    let db = open(&storage.process_crash(), small_options()).unwrap();
    assert_eq!(db.get(b"before").unwrap(), Some(b"1".to_vec()));
    assert_eq!(db.get(b"after").unwrap(), None);
}

/// A workload of single puts, batches, deletes and flushes; returns the acknowledged state
/// and the first error.
fn workload(db: &Db, acked: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>) -> Result<(), Error> {
    for i in 0..400u32 {
        match i % 10 {
            0..=5 => db.put(&key(i), &value(i, 0), i % 7 == 0).map(|()| {
                acked.insert(key(i), Some(value(i, 0)));
            })?,
            6 => db.delete(&key(i - 3), false).map(|()| {
                acked.insert(key(i - 3), None);
            })?,
            7 | 8 => {
                let mut batch = WriteBatch::new();
                for j in 0..5 {
                    batch.put(&key(10_000 + i * 10 + j), &value(i, j))?;
                }
                db.write(batch, i % 3 == 0)?;
                for j in 0..5 {
                    acked.insert(key(10_000 + i * 10 + j), Some(value(i, j)));
                }
            }
            _ => {
                if i % 50 == 9 {
                    db.flush()?;
                }
            }
        }
    }
    Ok(())
}

#[test]
fn failing_the_nth_io_call_never_loses_an_acknowledged_write() {
    // Count the calls of a clean run first, then fail each one in turn.
    let clean = MemStorage::new();
    let db = open(&clean, small_options()).unwrap();
    let mut acked = BTreeMap::new();
    workload(&db, &mut acked).unwrap();
    let total_calls = clean.mutating_calls();
    assert!(total_calls > 100, "workload too small: {total_calls} calls");
    let step = (total_calls / 150).max(1);
    for n in (1..=total_calls).step_by(step as usize) {
        let storage = MemStorage::new();
        storage.fail_call(n);
        let mut acked = BTreeMap::new();
        let outcome = open(&storage, small_options()).and_then(|db| {
            let r = workload(&db, &mut acked);
            if r.is_err() {
                assert!(
                    db.is_poisoned() || matches!(r, Err(Error::Io { .. })),
                    "call {n}: error without poison: {r:?}"
                );
            }
            let _ = db.close();
            r
        });
        if let Err(e) = &outcome {
            assert!(matches!(e, Error::Io { .. } | Error::Poisoned { .. }), "call {n}: unexpected error {e:?}");
        }
        let reopened = open(&storage.process_crash(), small_options())
            .unwrap_or_else(|e| panic!("call {n}: reopen failed: {e:?}"));
        for (k, v) in &acked {
            assert_eq!(&reopened.get(k).unwrap(), v, "call {n}: key {}", String::from_utf8_lossy(k));
        }
        reopened.close().unwrap();
    }
}

#[test]
fn a_failed_background_flush_poisons_and_reopen_recovers() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    let mut acked = BTreeMap::new();
    // Fail everything from a point on: the next flush (table write) fails.
    for i in 0..200u32 {
        db.put(&key(i), &value(i, 0), false).unwrap();
        acked.insert(key(i), value(i, 0));
    }
    storage.fail_from_call(3);
    let mut saw_error = false;
    for i in 200..3000u32 {
        match db.put(&key(i), &value(i, 0), false) {
            Ok(()) => {
                acked.insert(key(i), value(i, 0));
            }
            Err(e) => {
                assert_eq!(e.code(), "BROWSERDB_IO");
                saw_error = true;
                break;
            }
        }
    }
    assert!(saw_error, "no write failed although every I/O call fails");
    assert!(db.is_poisoned());
    db.close().unwrap();
    storage.clear_faults();
    let db = open(&storage.process_crash(), small_options()).unwrap();
    for (k, v) in &acked {
        assert_eq!(db.get(k).unwrap().as_ref(), Some(v));
    }
}

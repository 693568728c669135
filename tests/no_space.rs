//! Claim (issue 9; DESIGN "Errors"): when the disk fills up (ENOSPC) at any point of a
//! workload of writes, batches, deletes, flushes and compactions, the caller gets an error
//! that says so, the database poisons itself (later writes refuse with the cause, reads go on
//! and serve exactly the acknowledged state, close succeeds), and a reopen — after a process
//! crash, or after a power loss for writes acknowledged with `sync` — finds every
//! acknowledged write, no batch torn, and nothing that was not acknowledged.
//!
//! `MemStorage::set_free_space_bytes` models the full disk: an append that does not fit
//! stores the part that fits and fails with `ErrorKind::StorageFull`, as `write(2)` does.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Error, IterOptions, Options, PageEnd, WriteBatch};
use common::open;

/// The state the acknowledged operations left: key → value.
type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn options() -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 32 * 1024,
        level1_size_bytes_target: 128 * 1024,
        ..Options::default()
    }
}

fn dump(db: &Db) -> Model {
    let mut iter = db.iter(IterOptions::default(), None).expect("iter");
    let mut out = Model::new();
    while iter
        .next_page_with_expiry(256, usize::MAX, false, |k, v, _| {
            out.insert(k.to_vec(), v.to_vec());
        })
        .expect("page")
        != PageEnd::Exhausted
    {}
    out
}

/// What a run acknowledged: the whole state, every value each key was given (`None` for a
/// delete), and for writes acknowledged with `sync` the position of that value in the key's
/// history.
#[derive(Default)]
struct Acked {
    model: Model,
    history: BTreeMap<Vec<u8>, Vec<Option<Vec<u8>>>>,
    synced: BTreeMap<Vec<u8>, usize>,
}

impl Acked {
    fn put(&mut self, k: Vec<u8>, v: Vec<u8>, sync: bool) {
        let history = self.history.entry(k.clone()).or_default();
        history.push(Some(v.clone()));
        if sync {
            self.synced.insert(k.clone(), history.len() - 1);
        }
        self.model.insert(k, v);
    }
    fn delete(&mut self, k: Vec<u8>) {
        self.history.entry(k.clone()).or_default().push(None);
        self.model.remove(&k);
    }
}

/// Overwrites, deletes, batches (unique values, so a torn batch would show), synced writes,
/// flushes and compactions. Stops at the first error and returns it.
fn workload(db: &Db, acked: &mut Acked) -> Result<(), Error> {
    for i in 0..900u32 {
        let k = format!("k{:04}", (i * 37) % 300).into_bytes();
        match i % 12 {
            0..=5 => {
                let v = format!("put-{i}-{}", "x".repeat((i % 90) as usize)).into_bytes();
                db.put(&k, &v, false)?;
                acked.put(k, v, false);
            }
            6 => {
                db.delete(&k, false)?;
                acked.delete(k);
            }
            7 | 8 => {
                let mut batch = WriteBatch::new();
                let mut ops = Vec::new();
                for j in 0..6u32 {
                    let bk = format!("b{:03}:{j}", i % 150).into_bytes();
                    let bv = format!("batch-{i}-{j}-{}", "y".repeat(40)).into_bytes();
                    batch.put(&bk, &bv)?;
                    ops.push((bk, bv));
                }
                db.write(batch, i % 5 == 0)?;
                for (bk, bv) in ops {
                    acked.put(bk, bv, i % 5 == 0);
                }
            }
            9 => {
                let (sk, sv) = (format!("synced:{i}").into_bytes(), format!("S{i}").into_bytes());
                db.put(&sk, &sv, true)?;
                acked.put(sk, sv, true);
            }
            10 => {
                if i % 120 == 10 {
                    db.flush()?;
                }
            }
            _ => {
                if i % 300 == 11 {
                    db.compact(None, None)?;
                }
            }
        }
    }
    Ok(())
}

/// Batches `b<NNN>:0..6` are whole: every key present with values of the same write, or none.
fn assert_batches_whole(state: &Model, label: &str) {
    let mut batches: BTreeMap<&[u8], Vec<&[u8]>> = BTreeMap::new();
    for (k, v) in state {
        if k.first() == Some(&b'b') {
            let stem = &k[..k.iter().position(|&c| c == b':').unwrap()];
            let writer = &v[..v.iter().skip(6).position(|&c| c == b'-').unwrap() + 6];
            batches.entry(stem).or_default().push(writer);
        }
    }
    for (stem, writers) in batches {
        assert_eq!(writers.len(), 6, "{label}: batch {} is torn", String::from_utf8_lossy(stem));
        assert!(
            writers.iter().all(|w| *w == writers[0]),
            "{label}: batch {} mixes writes",
            String::from_utf8_lossy(stem)
        );
    }
}

/// Bytes the whole workload appends when the disk never fills.
fn bytes_needed() -> u64 {
    let storage = MemStorage::new();
    storage.set_free_space_bytes(Some(u64::MAX));
    let db = open(&storage, options()).unwrap();
    workload(&db, &mut Acked::default()).unwrap();
    assert!(db.stats().compactions > 0, "the workload should compact");
    db.close().unwrap();
    u64::MAX - storage.free_space_bytes().unwrap()
}

/// A clear error: poisoned (the database refuses writes until reopened), and it says why.
fn assert_no_space(err: &Error, free: u64) {
    assert!(matches!(err, Error::Poisoned { disk_full: true, .. }), "free {free}: {err:?}");
    assert_eq!(err.code(), "BROWSERDB_FULL");
    assert!(err.to_string().contains("No space left on device"), "free {free}: the error does not say why: {err}");
}

fn run_with_free_space(free: u64) {
    let storage = MemStorage::new();
    storage.set_free_space_bytes(Some(free));
    let db = match open(&storage, options()) {
        Ok(db) => db,
        Err(e) => {
            // Open itself ran out of room: a plain I/O error, and a later open works.
            match &e {
                Error::Io { source, .. } => assert_eq!(source.kind(), std::io::ErrorKind::StorageFull, "{e}"),
                other => panic!("free {free}: open failed with {other:?}"),
            }
            assert_eq!(e.code(), "BROWSERDB_FULL");
            let db = open(&storage.process_crash(), options()).unwrap();
            assert!(dump(&db).is_empty());
            return;
        }
    };
    let mut acked = Acked::default();
    let power_loss = match workload(&db, &mut acked) {
        Ok(()) => {
            // The workload fitted; the flush at close may still run out of room.
            let power_loss = storage.power_loss();
            match db.close() {
                Ok(()) => return,
                Err(err) => assert_no_space(&err, free),
            }
            power_loss
        }
        Err(err) => {
            assert_no_space(&err, free);
            assert!(db.is_poisoned());
            // Reads go on and serve exactly what was acknowledged; writes refuse, also with
            // room again; close succeeds.
            assert_eq!(dump(&db), acked.model, "free {free}: live reads after the failure");
            storage.set_free_space_bytes(None);
            assert!(matches!(db.put(b"after", b"x", true), Err(Error::Poisoned { .. })));
            let power_loss = storage.power_loss();
            db.close().unwrap();
            power_loss
        }
    };

    // A process crash keeps everything that reached the OS: exactly the acknowledged state.
    let reopened = open(&storage.process_crash(), options()).unwrap_or_else(|e| panic!("free {free}: reopen: {e:?}"));
    let state = dump(&reopened);
    assert_eq!(state, acked.model, "free {free}: after reopen");
    assert_batches_whole(&state, &format!("free {free}, reopen"));
    reopened.put(b"after-reopen", b"ok", true).unwrap();
    reopened.close().unwrap();

    // A power loss keeps every write acknowledged with sync, and batches whole.
    let reopened = open(&power_loss, options()).unwrap_or_else(|e| panic!("free {free}: open after power loss: {e:?}"));
    let state = dump(&reopened);
    for (k, &at) in &acked.synced {
        // The synced value, or one acknowledged after it (later unsynced writes may survive).
        let got = state.get(k).cloned();
        assert!(
            acked.history[k][at..].contains(&got),
            "free {free}: synced {} lost after power loss: {:?}",
            String::from_utf8_lossy(k),
            got.map(|g| String::from_utf8_lossy(&g).into_owned())
        );
    }
    for (k, v) in &state {
        let written = acked.history.get(k).is_some_and(|h| h.contains(&Some(v.clone())));
        assert!(written, "free {free}: {} holds a value never acknowledged", String::from_utf8_lossy(k));
    }
    assert_batches_whole(&state, &format!("free {free}, power loss"));
    reopened.close().unwrap();
}

#[test]
fn a_full_disk_at_any_point_loses_no_acknowledged_write() {
    let needed = bytes_needed();
    assert!(needed > 100_000, "workload too small: {needed} bytes");
    // Every budget from "open fails" to "everything fits", plus odd offsets so the disk fills
    // mid-record, mid-table and mid-MANIFEST.
    let mut budgets: Vec<u64> = (0..=160).map(|i| needed * i / 150).collect();
    budgets.extend([0, 1, 7, 24, 100, 200, 1000, 4096].iter().copied());
    budgets.extend((1..60).map(|i| (needed / 61) * i + (i * 7919) % 4093));
    for free in budgets {
        run_with_free_space(free);
    }
}

#[test]
fn a_full_disk_in_a_background_flush_poisons_and_is_reported_to_the_next_writer() {
    let storage = MemStorage::new();
    let db = open(&storage, options()).unwrap();
    let mut model = Model::new();
    // Leave room for the WAL appends of many writes but not for the table a flush writes.
    storage.set_free_space_bytes(Some(200 * 1024));
    let mut failure = None;
    for i in 0..20_000u32 {
        let (k, v) = (format!("key{i:06}").into_bytes(), vec![b'v'; 100]);
        match db.put(&k, &v, false) {
            Ok(()) => {
                model.insert(k, v);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let err = failure.expect("a full disk must fail a write");
    assert!(matches!(err, Error::Poisoned { .. }), "{err:?}");
    assert!(err.to_string().contains("No space left on device"), "{err}");
    assert_eq!(dump(&db), model);
    db.close().unwrap();
    // Freed space and a reopen: everything is there and the database takes writes again.
    storage.set_free_space_bytes(None);
    let db = open(&storage, options()).unwrap();
    assert_eq!(dump(&db), model);
    db.put(b"more", b"room", true).unwrap();
    db.flush().unwrap();
    db.close().unwrap();
}

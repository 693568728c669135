//! Claim (issue 7, mode switches): copying a database into another (the core of `setMode`)
//! carries every live key with its value and expiry, is durable when it returns, and when an
//! I/O call of the target fails at any point it reports the error and leaves the source
//! exactly as it was.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Options, WriteBatch};

fn source() -> (Db, BTreeMap<Vec<u8>, Vec<u8>>) {
    let options = Options { wal_disabled: true, write_buffer_size_bytes: 64 * 1024, ..Options::default() };
    let db = Db::open_with_storage("/ultra", options, Arc::new(MemStorage::new())).unwrap();
    let mut model = BTreeMap::new();
    for i in 0..3000u32 {
        let (k, v) = (format!("k{i:05}").into_bytes(), format!("value {i} {}", "x".repeat(500)).into_bytes());
        db.put(&k, &v, false).unwrap();
        model.insert(k, v);
    }
    for i in (0..3000u32).step_by(7) {
        let k = format!("k{i:05}").into_bytes();
        db.delete(&k, false).unwrap();
        model.remove(&k);
    }
    let mut batch = WriteBatch::new();
    batch.put_expiring(b"session", b"token", u64::MAX / 2).unwrap();
    db.write(batch, false).unwrap();
    model.insert(b"session".to_vec(), b"token".to_vec());
    (db, model)
}

fn check(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    for i in 0..3000u32 {
        let k = format!("k{i:05}").into_bytes();
        assert_eq!(db.get(&k).unwrap().as_ref(), model.get(&k), "key {i}");
    }
    assert_eq!(db.get(b"session").unwrap(), Some(b"token".to_vec()));
}

#[test]
fn a_copy_is_whole_durable_and_keeps_expiry() {
    let (src, model) = source();
    let disk = MemStorage::new();
    let target = Db::open_with_storage("/db", Options::default(), Arc::new(disk.clone())).unwrap();
    let copied = src.copy_into(&target, true).unwrap();
    assert_eq!(copied as usize, model.len());
    // Durable: a power loss right after the copy keeps all of it.
    let after = Db::open_with_storage("/db", Options::default(), Arc::new(disk.power_loss())).unwrap();
    check(&after, &model);
    // The expiry came along: a database whose clock is past it does not see the key.
    drop(after);
    let late = Options { clock: || u64::MAX - 1, ..Options::default() };
    let late = Db::open_with_storage("/db", late, Arc::new(disk.power_loss())).unwrap();
    assert_eq!(late.get(b"session").unwrap(), None);
    check(&src, &model);
}

#[test]
fn a_failing_target_at_every_call_leaves_the_source_untouched() {
    let (src, model) = source();
    // A small write buffer, so the copy rotates WALs and flushes tables as it goes.
    let target_options = || Options { write_buffer_size_bytes: 64 * 1024, ..Options::default() };
    let clean = MemStorage::new();
    let target = Db::open_with_storage("/db", target_options(), Arc::new(clean.clone())).unwrap();
    let start = clean.mutating_calls();
    src.copy_into(&target, true).unwrap();
    let calls = clean.mutating_calls() - start;
    assert!(calls >= 5, "{calls} calls");
    drop(target);
    let mut failures = 0;
    for n in 1..=calls {
        let disk = MemStorage::new();
        let target = Db::open_with_storage("/db", target_options(), Arc::new(disk.clone())).unwrap();
        disk.fail_from_call(n);
        match src.copy_into(&target, true) {
            Err(e) => {
                assert_eq!(e.code(), "BROWSERDB_IO", "call {n}: {e:?}");
                failures += 1;
            }
            // The failing call came after the last synced write (a background flush): the
            // copy is already durable in the synced WAL.
            Ok(_) => {
                drop(target);
                let after = Db::open_with_storage("/db", target_options(), Arc::new(disk.power_loss())).unwrap();
                check(&after, &model);
            }
        }
        check(&src, &model);
    }
    assert!(failures > 0);
}

#[test]
fn a_copy_past_max_memory_fails_with_full() {
    let (src, _) = source();
    let options = Options { wal_disabled: true, memory_bytes_max: Some(64 * 1024), ..Options::default() };
    let small = Db::open_with_storage("/small", options, Arc::new(MemStorage::new())).unwrap();
    let err = src.copy_into(&small, false).unwrap_err();
    assert_eq!(err.code(), "BROWSERDB_FULL");
}

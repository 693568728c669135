//! Claim (issue 5): a kill at any point of a flush or a compaction reopens to the same data.
//! The process "dies" at the Nth file-system call (that call and every later one fail, so
//! nothing after it reaches the disk), for every N of a workload of writes, flushes and
//! compactions; the copy of the disk it leaves must reopen with every acknowledged write.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{CompactionStyle, Db, Options};

fn options(style: CompactionStyle) -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 32 * 1024,
        level1_size_bytes_target: 128 * 1024,
        compaction_style: style,
        ..Options::default()
    }
}

/// Writes, deletes, flushes and compacts; records what was acknowledged. Stops at the first
/// error (the "dead" process cannot do more).
fn workload(db: &Db, acked: &mut BTreeMap<Vec<u8>, Option<Vec<u8>>>) {
    for round in 0..6u32 {
        for i in 0..400u32 {
            let k = format!("k{:05}", (i * 37 + round) % 900).into_bytes();
            let result = if (i + round) % 9 == 0 {
                db.delete(&k, false).map(|()| None)
            } else {
                let v = format!("{round}-{i}-{}", "x".repeat(60)).into_bytes();
                db.put(&k, &v, false).map(|()| Some(v))
            };
            match result {
                Ok(v) => {
                    acked.insert(k, v);
                }
                Err(_) => return,
            }
        }
        if db.flush().is_err() || (round % 2 == 1 && db.compact(None, None).is_err()) {
            return;
        }
    }
}

fn kill_at_every_call(style: CompactionStyle) {
    let clean = MemStorage::new();
    let db = common::open(&clean, options(style)).unwrap();
    let start = clean.mutating_calls();
    workload(&db, &mut BTreeMap::new());
    let total = clean.mutating_calls() - start;
    assert!(db.stats().compactions > 0);
    drop(db);
    let step = (total / 120).max(1);
    for n in (1..=total).step_by(usize::try_from(step).unwrap()) {
        let storage = MemStorage::new();
        let db = common::open(&storage, options(style)).unwrap();
        storage.fail_from_call(n);
        let mut acked = BTreeMap::new();
        workload(&db, &mut acked);
        let _ = db.close();
        let after = storage.process_crash();
        let db =
            common::open(&after, options(style)).unwrap_or_else(|e| panic!("kill at call {n}: open failed: {e:?}"));
        for (k, v) in &acked {
            assert_eq!(&db.get(k).unwrap(), v, "kill at call {n}: key {}", String::from_utf8_lossy(k));
        }
        db.close().unwrap();
    }
}

#[test]
fn leveled_flush_and_compaction_survive_a_kill_at_every_call() {
    kill_at_every_call(CompactionStyle::Leveled);
}

#[test]
fn tiered_flush_and_compaction_survive_a_kill_at_every_call() {
    kill_at_every_call(CompactionStyle::Tiered);
}

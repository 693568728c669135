//! Claim: under any sequence of puts, deletes, range deletes, batches, flushes, reopens and process
//! crashes, the database reads exactly like a `BTreeMap` that applied the same acknowledged
//! operations. proptest shrinks a failing sequence and prints it; cases are seeded, so a
//! failure replays. `BROWSERDB_MODEL_CASES` raises the case count for long runs.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Options, WriteBatch};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Step {
    Put(u8, u16),
    Delete(u8),
    Batch(Vec<(u8, Option<u16>)>),
    DeleteRange(u8, u8),
    Flush,
    Reopen,
    Crash,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        8 => (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Step::Put(k, v)),
        3 => any::<u8>().prop_map(Step::Delete),
        3 => proptest::collection::vec((any::<u8>(), proptest::option::of(any::<u16>())), 1..20).prop_map(Step::Batch),
        2 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Step::DeleteRange(a, b)),
        1 => Just(Step::Flush),
        1 => Just(Step::Reopen),
        1 => Just(Step::Crash),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("k{:03}", k % 64).into_bytes()
}

fn value(v: u16) -> Vec<u8> {
    // Sizes from 0 to ~1.5 KB so small memtables fill and flush.
    let len = usize::from(v % 1500);
    let mut out = format!("{v}:").into_bytes();
    out.resize(out.len() + len, b'a' + (v % 26) as u8);
    out
}

fn options() -> Options {
    Options { write_buffer_size_bytes: 64 * 1024, block_size_bytes: 512, ..Options::default() }
}

fn check(db: &Db, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
    for k in 0..64u8 {
        let k = key(k);
        assert_eq!(db.get(&k).unwrap().as_ref(), model.get(&k), "key {}", String::from_utf8_lossy(&k));
    }
}

fn run(steps: &[Step]) {
    let mut storage = MemStorage::new();
    let mut db = common::open(&storage, options()).unwrap();
    let mut model = BTreeMap::new();
    for s in steps {
        match s {
            Step::Put(k, v) => {
                db.put(&key(*k), &value(*v), false).unwrap();
                model.insert(key(*k), value(*v));
            }
            Step::Delete(k) => {
                db.delete(&key(*k), false).unwrap();
                model.remove(&key(*k));
            }
            Step::Batch(ops) => {
                let mut batch = WriteBatch::new();
                for (k, v) in ops {
                    match v {
                        Some(v) => batch.put(&key(*k), &value(*v)).unwrap(),
                        None => batch.delete(&key(*k)).unwrap(),
                    }
                }
                db.write(batch, false).unwrap();
                for (k, v) in ops {
                    match v {
                        Some(v) => model.insert(key(*k), value(*v)),
                        None => model.remove(&key(*k)),
                    };
                }
            }
            Step::DeleteRange(a, b) => {
                let (lo, hi) = if key(*a) <= key(*b) { (key(*a), key(*b)) } else { (key(*b), key(*a)) };
                if lo < hi {
                    let mut batch = WriteBatch::new();
                    batch.delete_range(&lo, &hi).unwrap();
                    db.write(batch, false).unwrap();
                    model.retain(|k: &Vec<u8>, _| k < &lo || k >= &hi);
                }
            }
            Step::Flush => db.flush().unwrap(),
            Step::Reopen => {
                db.close().unwrap();
                db = common::open(&storage, options()).unwrap();
            }
            Step::Crash => {
                drop(db);
                storage = storage.process_crash();
                db = common::open(&storage, options()).unwrap();
            }
        }
    }
    check(&db, &model);
    db.close().unwrap();
    let db = common::open(&storage, options()).unwrap();
    check(&db, &model);
}

fn cases() -> u32 {
    std::env::var("BROWSERDB_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(48)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_btreemap(steps in proptest::collection::vec(step(), 1..300)) {
        run(&steps);
    }
}

//! Claim (issue 9): under any sequence of puts (some with a TTL), deletes, batches, flushes,
//! compactions, reopens, process crashes, clock moves, snapshots, range scans (both ways) and
//! mode switches (the engine half of `setMode`: copy into an in-memory database, and back
//! into a persistent one), range deletes (in a batch with a later put, and `clear`), the database reads exactly like a `BTreeMap` of the acknowledged
//! operations: point reads, reads at every live snapshot, and scans. `tests/model.rs` is the
//! smaller model without snapshots, scans, TTL, compaction or mode switches.
//! `BROWSERDB_MODEL_CASES` raises the case count for long runs.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, IterOptions, Options, PageEnd, Snapshot, WriteBatch};
use proptest::prelude::*;

/// The test's clock (one test in this file, so one clock).
static NOW: AtomicU64 = AtomicU64::new(START_MS);
const START_MS: u64 = 1_000_000;

fn clock() -> u64 {
    NOW.load(Ordering::SeqCst)
}

/// A batch operation: key, and a value with an optional TTL (None: a delete).
type BatchOp = (u8, Option<(u16, Option<u16>)>);

#[derive(Debug, Clone)]
enum Step {
    Put(u8, u16, Option<u16>),
    Delete(u8),
    Batch(Vec<BatchOp>),
    Flush,
    Compact(Option<(u8, u8)>),
    Reopen,
    Crash,
    Advance(u16),
    TakeSnapshot,
    DropSnapshot(u8),
    Scan(u8, u8, bool),
    ToMemory,
    ToDisk,
    /// A range delete of `[key(a), key(b))`, then optionally a put in the same batch.
    DeleteRange(u8, u8, Option<(u8, u16)>),
    /// `clear` of `[key(a), key(b))` (one range tombstone).
    Clear(u8, u8),
}

fn step() -> impl Strategy<Value = Step> {
    let ttl = proptest::option::weighted(0.25, 1..3000u16);
    prop_oneof![
        10 => (any::<u8>(), any::<u16>(), ttl.clone()).prop_map(|(k, v, t)| Step::Put(k, v, t)),
        3 => any::<u8>().prop_map(Step::Delete),
        3 => proptest::collection::vec((any::<u8>(), proptest::option::of((any::<u16>(), ttl))), 1..12).prop_map(Step::Batch),
        1 => Just(Step::Flush),
        1 => proptest::option::of((any::<u8>(), any::<u8>())).prop_map(Step::Compact),
        1 => Just(Step::Reopen),
        1 => Just(Step::Crash),
        2 => (0..2000u16).prop_map(Step::Advance),
        2 => Just(Step::TakeSnapshot),
        1 => any::<u8>().prop_map(Step::DropSnapshot),
        2 => (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(a, b, r)| Step::Scan(a, b, r)),
        1 => Just(Step::ToMemory),
        1 => Just(Step::ToDisk),
        2 => (any::<u8>(), any::<u8>(), proptest::option::of((any::<u8>(), any::<u16>())))
            .prop_map(|(a, b, put)| Step::DeleteRange(a, b, put)),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(a, b)| Step::Clear(a, b)),
    ]
}

fn key(k: u8) -> Vec<u8> {
    format!("k{:03}", k % 80).into_bytes()
}

/// The keys of `a` and `b`, smaller first.
fn ordered(a: u8, b: u8) -> (Vec<u8>, Vec<u8>) {
    let (a, b) = (key(a), key(b));
    if a <= b {
        (a, b)
    } else {
        (b, a)
    }
}

fn value(v: u16) -> Vec<u8> {
    // 0 to ~1.2 KB, so small memtables fill, flush and compact.
    let len = usize::from(v % 1200);
    let mut out = format!("{v}:").into_bytes();
    out.resize(out.len() + len, b'a' + (v % 26) as u8);
    out
}

/// Key → (value, expiry in unix ms or 0).
type Model = BTreeMap<Vec<u8>, (Vec<u8>, u64)>;

fn live(model: &Model, k: &[u8]) -> Option<Vec<u8>> {
    model.get(k).filter(|(_, e)| *e == 0 || *e > clock()).map(|(v, _)| v.clone())
}

fn disk_options() -> Options {
    Options {
        clock,
        write_buffer_size_bytes: 64 * 1024,
        block_size_bytes: 512,
        table_size_bytes_target: 16 * 1024,
        level1_size_bytes_target: 64 * 1024,
        ..Options::default()
    }
}

fn memory_options() -> Options {
    Options { wal_disabled: true, ..disk_options() }
}

struct State {
    storage: MemStorage,
    db: Db,
    in_memory: bool,
    /// Live snapshots with the model as it was when each was taken.
    snapshots: Vec<(Snapshot, Model)>,
    /// Next directory number for a mode switch back to disk.
    next_dir: u32,
    dir: String,
}

fn open_disk(storage: &MemStorage, dir: &str) -> Db {
    Db::open_with_storage(dir, disk_options(), Arc::new(storage.clone())).unwrap()
}

fn put_op(batch: &mut WriteBatch, k: &[u8], v: &[u8], ttl: Option<u16>) -> u64 {
    match ttl {
        Some(ttl) => {
            let expiry = clock() + u64::from(ttl);
            batch.put_expiring(k, v, expiry).unwrap();
            expiry
        }
        None => {
            batch.put(k, v).unwrap();
            0
        }
    }
}

fn check_reads(state: &State, model: &Model, when: &str) {
    for k in 0..80u8 {
        let k = key(k);
        assert_eq!(state.db.get(&k).unwrap(), live(model, &k), "{when}: key {}", String::from_utf8_lossy(&k));
    }
    for (i, (snapshot, at)) in state.snapshots.iter().enumerate() {
        for k in 0..80u8 {
            let k = key(k);
            assert_eq!(
                state.db.get_at(&k, Some(snapshot)).unwrap(),
                live(at, &k),
                "{when}: snapshot {i}, key {}",
                String::from_utf8_lossy(&k)
            );
        }
    }
}

fn scan(db: &Db, options: IterOptions, snapshot: Option<&Snapshot>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut iter = db.iter(options, snapshot).unwrap();
    let mut out = Vec::new();
    while iter.next_page(7, usize::MAX, false, |k, v| out.push((k.to_vec(), v.to_vec()))).unwrap() != PageEnd::Exhausted
    {
    }
    out
}

fn expected_scan(model: &Model, lo: &[u8], hi: &[u8], reverse: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = model
        .range::<[u8], _>((Bound::Included(lo), Bound::Excluded(hi)))
        .filter_map(|(k, _)| live(model, k).map(|v| (k.clone(), v)))
        .collect();
    if reverse {
        out.reverse();
    }
    out
}

fn run(steps: &[Step]) {
    NOW.store(START_MS, Ordering::SeqCst);
    let storage = MemStorage::new();
    let mut state = State {
        db: open_disk(&storage, "/db0"),
        storage,
        in_memory: false,
        snapshots: Vec::new(),
        next_dir: 1,
        dir: "/db0".into(),
    };
    let mut model = Model::new();
    for (n, s) in steps.iter().enumerate() {
        let when = format!("step {n} ({s:?})");
        match s {
            Step::Put(k, v, ttl) => {
                let mut batch = WriteBatch::new();
                let expiry = put_op(&mut batch, &key(*k), &value(*v), *ttl);
                state.db.write(batch, false).unwrap();
                model.insert(key(*k), (value(*v), expiry));
            }
            Step::Delete(k) => {
                state.db.delete(&key(*k), false).unwrap();
                model.remove(&key(*k));
            }
            Step::Batch(ops) => {
                let mut batch = WriteBatch::new();
                let mut after = model.clone();
                for (k, op) in ops {
                    match op {
                        Some((v, ttl)) => {
                            let expiry = put_op(&mut batch, &key(*k), &value(*v), *ttl);
                            after.insert(key(*k), (value(*v), expiry));
                        }
                        None => {
                            batch.delete(&key(*k)).unwrap();
                            after.remove(&key(*k));
                        }
                    }
                }
                state.db.write(batch, false).unwrap();
                model = after;
            }
            Step::DeleteRange(a, b, put) => {
                let (lo, hi) = ordered(*a, *b);
                let mut batch = WriteBatch::new();
                if lo == hi {
                    assert!(batch.delete_range(&lo, &hi).is_err(), "{when}: an empty range is refused");
                    continue;
                }
                batch.delete_range(&lo, &hi).unwrap();
                let mut after = model.clone();
                after.retain(|k, _| k < &lo || k >= &hi);
                if let Some((k, v)) = put {
                    batch.put(&key(*k), &value(*v)).unwrap();
                    after.insert(key(*k), (value(*v), 0));
                }
                state.db.write(batch, false).unwrap();
                model = after;
            }
            Step::Clear(a, b) => {
                let (lo, hi) = ordered(*a, *b);
                let options = IterOptions {
                    lower: Bound::Included(lo.clone()),
                    upper: Bound::Excluded(hi.clone()),
                    reverse: false,
                };
                state.db.clear(options, None).unwrap();
                model.retain(|k, _| k < &lo || k >= &hi);
            }
            Step::Flush => state.db.flush().unwrap(),
            Step::Compact(range) => {
                let (lo, hi) = range.map(|(a, b)| ordered(a, b)).unzip();
                state.db.compact(lo.as_deref(), hi.as_deref()).unwrap();
            }
            Step::Reopen | Step::Crash if state.in_memory => {} // an in-memory database has no disk to reopen
            Step::Reopen => {
                state.snapshots.clear();
                state.db.close().unwrap();
                state.db = open_disk(&state.storage, &state.dir);
            }
            Step::Crash => {
                state.snapshots.clear();
                let crashed = state.storage.process_crash();
                drop(std::mem::replace(&mut state.db, open_disk(&crashed, &state.dir)));
                state.storage = crashed;
            }
            Step::Advance(ms) => {
                NOW.fetch_add(u64::from(*ms), Ordering::SeqCst);
            }
            Step::TakeSnapshot => {
                if state.snapshots.len() >= 4 {
                    state.snapshots.remove(0);
                }
                state.snapshots.push((state.db.snapshot().unwrap(), model.clone()));
            }
            Step::DropSnapshot(i) => {
                if !state.snapshots.is_empty() {
                    let at = usize::from(*i) % state.snapshots.len();
                    state.snapshots.remove(at);
                }
            }
            Step::Scan(a, b, reverse) => {
                let (lo, hi) = ordered(*a, *b);
                let options = IterOptions {
                    lower: Bound::Included(lo.clone()),
                    upper: Bound::Excluded(hi.clone()),
                    reverse: *reverse,
                };
                assert_eq!(
                    scan(&state.db, options.clone(), None),
                    expected_scan(&model, &lo, &hi, *reverse),
                    "{when}: scan"
                );
                if let Some((snapshot, at)) = state.snapshots.last() {
                    assert_eq!(
                        scan(&state.db, options, Some(snapshot)),
                        expected_scan(at, &lo, &hi, *reverse),
                        "{when}: scan at a snapshot"
                    );
                }
            }
            Step::ToMemory | Step::ToDisk => {
                // A mode switch: copy every live key (with its expiry) into a new database of the
                // other kind, durably, then use that one (snapshots belong to the old one).
                let to_memory = matches!(s, Step::ToMemory);
                if to_memory == state.in_memory {
                    continue;
                }
                state.snapshots.clear();
                let (storage, dir) = if to_memory {
                    (MemStorage::new(), "/ultra".to_string())
                } else {
                    state.next_dir += 1;
                    (state.storage.clone(), format!("/db{}", state.next_dir))
                };
                let options = if to_memory { memory_options() } else { disk_options() };
                let target = Db::open_with_storage(&dir, options, Arc::new(storage.clone())).unwrap();
                state.db.copy_into(&target, !to_memory).unwrap();
                state.db.close().unwrap();
                state.db = target;
                state.in_memory = to_memory;
                if !to_memory {
                    state.storage = storage;
                    state.dir = dir;
                }
                // Expired entries are not copied; the model drops them too.
                let now = clock();
                model.retain(|_, (_, expiry)| *expiry == 0 || *expiry > now);
            }
        }
        if n % 8 == 7 {
            check_reads(&state, &model, &when);
        }
    }
    check_reads(&state, &model, "at the end");
    let all = scan(&state.db, IterOptions::default(), None);
    assert_eq!(all, expected_scan(&model, b"", b"\xff", false), "full scan at the end");
    if !state.in_memory {
        state.snapshots.clear();
        state.db.close().unwrap();
        state.db = open_disk(&state.storage, &state.dir);
        state.snapshots.clear();
        check_reads(&state, &model, "after a final reopen");
    }
}

fn cases() -> u32 {
    std::env::var("BROWSERDB_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn matches_a_btreemap_with_snapshots_scans_ttl_compaction_and_mode_switches(steps in proptest::collection::vec(step(), 1..250)) {
        run(&steps);
    }
}

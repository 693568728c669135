//! Claim (issue 4): iterators walk user keys in bytewise order, forwards and backwards,
//! within any bounds, at one snapshot: they hide tombstones and older versions, never see
//! later writes, and keep reading what they started with across flushes. Pages answered from
//! memory (`cache_only`) stop before any file read and resume exactly where they stopped.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, DbIterator, IterOptions, Options, PageEnd, WriteBatch};
use proptest::prelude::*;

fn collect(iter: &mut DbIterator, page: usize, cache_only_first: bool) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::new();
    let mut cache_only = cache_only_first;
    loop {
        let end = iter.next_page(page, usize::MAX, cache_only, |k, v| out.push((k.to_vec(), v.to_vec()))).unwrap();
        match end {
            PageEnd::Exhausted => return out,
            PageEnd::Full => cache_only = cache_only_first,
            PageEnd::NeedsDisk => cache_only = false,
        }
    }
}

fn expected(model: &BTreeMap<Vec<u8>, Vec<u8>>, options: &IterOptions) -> Vec<(Vec<u8>, Vec<u8>)> {
    let in_range = |k: &Vec<u8>| {
        let above = match &options.lower {
            Bound::Included(l) => k >= l,
            Bound::Excluded(l) => k > l,
            Bound::Unbounded => true,
        };
        let below = match &options.upper {
            Bound::Included(u) => k <= u,
            Bound::Excluded(u) => k < u,
            Bound::Unbounded => true,
        };
        above && below
    };
    let mut v: Vec<_> = model.iter().filter(|(k, _)| in_range(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    if options.reverse {
        v.reverse();
    }
    v
}

fn small() -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        block_size_bytes: 512,
        cache_size_bytes: 64 * 1024,
        ..Options::default()
    }
}

fn fill(db: &Db, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, n: u32, version: u32) {
    for i in 0..n {
        let k = format!("k{:05}", (i * 7919) % n).into_bytes();
        let v = format!("v{version}-{i}-{}", "x".repeat((i % 40) as usize)).into_bytes();
        if i % 5 == 4 {
            db.delete(&k, false).unwrap();
            model.remove(&k);
        } else {
            db.put(&k, &v, false).unwrap();
            model.insert(k, v);
        }
    }
}

#[test]
fn full_scans_both_ways_across_memtables_and_tables() {
    let storage = MemStorage::new();
    let db = common::open(&storage, small()).unwrap();
    let mut model = BTreeMap::new();
    fill(&db, &mut model, 3000, 0);
    db.flush().unwrap();
    fill(&db, &mut model, 2000, 1); // overwrites and deletes over the flushed table, some in memory
    assert!(db.stats().flushes >= 2);
    for reverse in [false, true] {
        for cache_only in [false, true] {
            let options = IterOptions { reverse, ..IterOptions::default() };
            let mut iter = db.iter(options.clone(), None).unwrap();
            assert_eq!(collect(&mut iter, 97, cache_only), expected(&model, &options), "reverse {reverse}");
        }
    }
}

#[test]
fn a_snapshot_and_an_iterator_ignore_later_writes_and_flushes() {
    let storage = MemStorage::new();
    let db = common::open(&storage, small()).unwrap();
    let mut model = BTreeMap::new();
    fill(&db, &mut model, 2000, 0);
    let snapshot = db.snapshot().unwrap();
    let mut iter = db.iter(IterOptions::default(), None).unwrap();
    let first = {
        let mut out = Vec::new();
        iter.next_page(10, usize::MAX, false, |k, v| out.push((k.to_vec(), v.to_vec()))).unwrap();
        out
    };
    let frozen = model.clone();
    // Later writes: overwrite everything, delete some, and flush several times.
    let mut later = model.clone();
    fill(&db, &mut later, 2000, 1);
    db.flush().unwrap();
    fill(&db, &mut later, 2000, 2);
    db.flush().unwrap();
    for (k, v) in &frozen {
        assert_eq!(db.get_at(k, Some(&snapshot)).unwrap().as_ref(), Some(v));
        assert_eq!(db.get(k).unwrap().as_ref(), later.get(k));
    }
    let mut rest = collect(&mut iter, 50, false);
    let mut all = first;
    all.append(&mut rest);
    assert_eq!(all, expected(&frozen, &IterOptions::default()));
    assert_eq!(db.stats().live_iterators, 1);
    drop(iter);
    drop(snapshot);
    let stats = db.stats();
    assert_eq!((stats.live_iterators, stats.live_snapshots), (0, 0));
}

#[test]
fn seek_moves_within_bounds_in_both_directions() {
    let storage = MemStorage::new();
    let db = common::open(&storage, small()).unwrap();
    let mut model = BTreeMap::new();
    fill(&db, &mut model, 1000, 0);
    db.flush().unwrap();
    let options = IterOptions {
        lower: Bound::Included(b"k00100".to_vec()),
        upper: Bound::Excluded(b"k00900".to_vec()),
        reverse: false,
    };
    let mut iter = db.iter(options.clone(), None).unwrap();
    iter.seek(b"k00500");
    let (k, _) = iter.next_entry().unwrap().unwrap();
    assert!(k.as_slice() >= b"k00500".as_slice());
    iter.seek(b"a"); // before the range: clamps to the lower bound
    assert!(iter.next_entry().unwrap().unwrap().0.as_slice() >= b"k00100".as_slice());
    let mut rev = db.iter(IterOptions { reverse: true, ..options }, None).unwrap();
    rev.seek(b"k00500");
    let (k, _) = rev.next_entry().unwrap().unwrap();
    assert!(k.as_slice() <= b"k00500".as_slice());
    rev.seek(b"z"); // past the range: clamps to the upper bound
    assert!(rev.next_entry().unwrap().unwrap().0.as_slice() < b"k00900".as_slice());
}

#[test]
fn clear_deletes_a_range_or_everything() {
    let storage = MemStorage::new();
    let db = common::open(&storage, small()).unwrap();
    let mut model = BTreeMap::new();
    fill(&db, &mut model, 3000, 0);
    db.flush().unwrap();
    let range = IterOptions::default().with_prefix(b"k01");
    // Without a limit: one range tombstone, no count.
    assert_eq!(db.clear(range.clone(), None).unwrap(), None);
    model.retain(|k, _| !k.starts_with(b"k01"));
    let mut iter = db.iter(IterOptions::default(), None).unwrap();
    assert_eq!(collect(&mut iter, 500, false), expected(&model, &IterOptions::default()));
    // With a limit: key by key, counted.
    assert_eq!(db.clear(IterOptions::default(), Some(10)).unwrap(), Some(10));
    db.clear(IterOptions::default(), None).unwrap();
    let mut iter = db.iter(IterOptions::default(), None).unwrap();
    assert!(collect(&mut iter, 500, false).is_empty());
}

#[test]
fn iterators_of_a_closed_database_refuse_pages() {
    let storage = MemStorage::new();
    let db = common::open(&storage, small()).unwrap();
    db.put(b"a", b"1", false).unwrap();
    let mut iter = db.iter(IterOptions::default(), None).unwrap();
    db.close().unwrap();
    assert!(matches!(iter.next_entry(), Err(browserdb::engine::Error::Closed)));
}

#[derive(Debug, Clone)]
enum Op {
    Put(u16, u8),
    Del(u16),
    Batch(Vec<(u16, Option<u8>)>),
    Flush,
    Scan { lo: Option<(u16, bool)>, hi: Option<(u16, bool)>, reverse: bool, page: usize, cache_only: bool },
}

fn key(k: u16) -> Vec<u8> {
    // Keys of varying length that share prefixes, so bounds fall between and on keys.
    format!("{}{}", k % 7, k).into_bytes()
}

fn op() -> impl Strategy<Value = Op> {
    let bound = proptest::option::of((0u16..400, any::<bool>()));
    prop_oneof![
        6 => (0u16..400, any::<u8>()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => (0u16..400).prop_map(Op::Del),
        2 => proptest::collection::vec((0u16..400, proptest::option::of(any::<u8>())), 1..30).prop_map(Op::Batch),
        1 => Just(Op::Flush),
        2 => (bound.clone(), bound, any::<bool>(), 1usize..50, any::<bool>())
            .prop_map(|(lo, hi, reverse, page, cache_only)| Op::Scan { lo, hi, reverse, page, cache_only }),
    ]
}

fn to_bound(b: Option<(u16, bool)>) -> Bound<Vec<u8>> {
    match b {
        None => Bound::Unbounded,
        Some((k, true)) => Bound::Included(key(k)),
        Some((k, false)) => Bound::Excluded(key(k)),
    }
}

fn run(ops: &[Op]) {
    let storage = MemStorage::new();
    let db = common::open(&storage, small()).unwrap();
    let mut model = BTreeMap::new();
    for op in ops {
        match op {
            Op::Put(k, v) => {
                let value = vec![*v; usize::from(*v)];
                db.put(&key(*k), &value, false).unwrap();
                model.insert(key(*k), value);
            }
            Op::Del(k) => {
                db.delete(&key(*k), false).unwrap();
                model.remove(&key(*k));
            }
            Op::Batch(items) => {
                let mut batch = WriteBatch::new();
                for (k, v) in items {
                    match v {
                        Some(v) => batch.put(&key(*k), &vec![*v; usize::from(*v)]).unwrap(),
                        None => batch.delete(&key(*k)).unwrap(),
                    }
                }
                db.write(batch, false).unwrap();
                for (k, v) in items {
                    match v {
                        Some(v) => model.insert(key(*k), vec![*v; usize::from(*v)]),
                        None => model.remove(&key(*k)),
                    };
                }
            }
            Op::Flush => db.flush().unwrap(),
            Op::Scan { lo, hi, reverse, page, cache_only } => {
                let options = IterOptions { lower: to_bound(*lo), upper: to_bound(*hi), reverse: *reverse };
                let want = expected(&model, &options);
                let mut iter = db.iter(options, None).unwrap();
                assert_eq!(collect(&mut iter, *page, *cache_only), want, "{op:?}");
            }
        }
    }
}

fn cases() -> u32 {
    std::env::var("BROWSERDB_MODEL_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scans_match_a_sorted_map(ops in proptest::collection::vec(op(), 1..200)) {
        run(&ops);
    }
}

#[test]
fn scans_see_whole_batches_while_writers_and_flushes_run() {
    let storage = MemStorage::new();
    let db = common::open(&storage, small()).unwrap();
    let keys = 200u32;
    let write_round = move |db: &Db, round: u32| {
        let mut batch = WriteBatch::new();
        for k in 0..keys {
            batch.put(format!("g{k:04}").as_bytes(), format!("{round:08}{}", "p".repeat(100)).as_bytes()).unwrap();
        }
        db.write(batch, false).unwrap();
    };
    write_round(&db, 0);
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for round in 1..150 {
                write_round(&db, round);
                if round % 20 == 0 {
                    db.flush().unwrap();
                }
            }
        })
    };
    for scan in 0..60 {
        for reverse in [false, true] {
            let mut iter = db.iter(IterOptions { reverse, ..IterOptions::default() }, None).unwrap();
            let entries = collect(&mut iter, 37, scan % 2 == 0);
            assert_eq!(entries.len(), keys as usize, "scan {scan}: every key, once");
            let version = &entries[0].1[..8];
            assert!(entries.iter().all(|(_, v)| &v[..8] == version), "scan {scan} saw a torn batch");
        }
    }
    writer.join().unwrap();
}

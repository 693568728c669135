//! Claims (issue 12): an index holds exactly one entry per key under its prefix whose JSON
//! value has the field as a scalar, ordered by value then key, after any sequence of puts,
//! deletes, batches, TTLs, reopens, process crashes and power losses; a build over existing
//! data (with writers running) and an interrupted build end in the same entries; a dropped
//! index leaves nothing behind; queries see one snapshot.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};

use browserdb::engine::index::value::extract;
use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, IndexRange, IndexValue, Options, PageEnd, WaitFor, WriteBatch};
use common::{dump, open, small_options};
use proptest::prelude::*;

type Row = (IndexValue, Vec<u8>, Vec<u8>);

/// Every entry of an index in `range`, with primary values.
fn rows(db: &Db, name: &str, range: &IndexRange) -> Vec<Row> {
    drain(db.index_iter(name, range, true, None).unwrap())
}

/// The remaining entries of an index iterator, read in small pages.
fn drain(mut iter: browserdb::engine::IndexIterator) -> Vec<Row> {
    let mut out = Vec::new();
    while iter
        .next_page(7, usize::MAX, false, |entry, value| {
            let (v, pk) = IndexValue::decode(entry).unwrap();
            out.push((v, pk.to_vec(), value.to_vec()));
        })
        .unwrap()
        != PageEnd::Exhausted
    {}
    out
}

/// What the index must hold: recomputed from the data.
fn oracle(db: &Db, prefix: &[u8], field: &str) -> Vec<Row> {
    let path: Vec<String> = field.split('.').map(str::to_owned).collect();
    let mut rows: Vec<(Vec<u8>, Row)> = dump(db)
        .into_iter()
        .filter(|(k, _, _)| k.starts_with(prefix))
        .filter_map(|(k, v, _)| {
            let value = extract(&v, &path)?;
            let mut sort = value.encode();
            sort.extend_from_slice(&k);
            Some((sort, (value, k, v)))
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter().map(|(_, r)| r).collect()
}

fn ready(db: &Db, name: &str) {
    db.wait_index(name, WaitFor::Ready, &mut |_| {}).unwrap();
}

fn visit(db: &Db, n: u32, at: u32) {
    let key = format!("history:{n:05}");
    let value = format!(r#"{{"url":"https://site{n}.example","lastVisit":{at},"meta":{{"folder":"f{}"}}}}"#, n % 3);
    db.put(key.as_bytes(), value.as_bytes(), false).unwrap();
}

fn memory_db() -> (MemStorage, Db) {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    (storage, db)
}

#[test]
fn writes_keep_the_index_in_step_and_queries_order_by_value() {
    let (_s, db) = memory_db();
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    ready(&db, "byVisit");
    for n in 0..50 {
        visit(&db, n, 1000 - n * 10);
    }
    // Overwrites move the entry; deletes remove it; values without the field have none.
    visit(&db, 3, 5000);
    db.delete(b"history:00004", false).unwrap();
    db.put(b"history:00005", b"not json", false).unwrap();
    db.put(b"history:00006", br#"{"lastVisit":[1,2]}"#, false).unwrap();
    db.put(b"bookmarks:1", br#"{"lastVisit":1}"#, false).unwrap();
    let all = rows(&db, "byVisit", &IndexRange::default());
    assert_eq!(all, oracle(&db, b"history:", "lastVisit"));
    assert_eq!(all.len(), 47);
    assert_eq!(all.last().unwrap().1, b"history:00003");
    assert_eq!(all.first().unwrap().0, IndexValue::Number(510.0));

    let newest = IndexRange { reverse: true, ..IndexRange::default() };
    let top: Vec<_> = rows(&db, "byVisit", &newest).into_iter().take(3).map(|r| r.1).collect();
    assert_eq!(top, [b"history:00003".to_vec(), b"history:00000".to_vec(), b"history:00001".to_vec()]);

    let n = |x: f64| IndexValue::Number(x);
    let between = IndexRange { lower: Bound::Excluded(n(600.0)), upper: Bound::Included(n(700.0)), reverse: false };
    let got: Vec<_> = rows(&db, "byVisit", &between).into_iter().map(|r| r.0).collect();
    assert_eq!(got, (0..10).map(|i| n(610.0 + f64::from(i) * 10.0)).collect::<Vec<_>>());
    assert_eq!(db.index_count("byVisit", &between, None).unwrap(), 10);
    let below = IndexRange { upper: Bound::Excluded(n(530.0)), ..IndexRange::default() };
    assert_eq!(db.index_count("byVisit", &below, None).unwrap(), 2);
    assert!(db.check_indexes().unwrap().is_empty());
}

/// The clock of the TTL test (the only test in this file that moves time).
static NOW: AtomicU64 = AtomicU64::new(1_000_000);

fn clock() -> u64 {
    NOW.load(Ordering::SeqCst)
}

#[test]
fn nested_fields_batches_and_ttls() {
    let storage = MemStorage::new();
    let options = Options { clock, ..small_options() };
    let db = open(&storage, options).unwrap();
    db.create_index("byFolder", b"history:", "meta.folder").unwrap();
    ready(&db, "byFolder");
    let mut batch = WriteBatch::new();
    for n in 0..9u32 {
        let value = format!(r#"{{"meta":{{"folder":"f{}"}}}}"#, n % 3);
        let key = format!("history:{n}");
        if n == 8 {
            batch.put_expiring(key.as_bytes(), value.as_bytes(), 1_000_500).unwrap();
        } else {
            batch.put(key.as_bytes(), value.as_bytes()).unwrap();
        }
    }
    // Within one batch, a later op on the same key sees the earlier one.
    batch.put(b"history:0", br#"{"meta":{"folder":"f9"}}"#).unwrap();
    batch.delete(b"history:1").unwrap();
    db.write(batch, false).unwrap();
    assert_eq!(rows(&db, "byFolder", &IndexRange::default()), oracle(&db, b"history:", "meta.folder"));
    let f2 = IndexValue::String("f2".into());
    let only = IndexRange { lower: Bound::Included(f2.clone()), upper: Bound::Included(f2), reverse: false };
    assert_eq!(db.index_count("byFolder", &only, None).unwrap(), 3);
    NOW.store(1_000_600, Ordering::SeqCst);
    // The TTL'd key's entry expired with it.
    assert_eq!(db.index_count("byFolder", &only, None).unwrap(), 2);
    assert_eq!(rows(&db, "byFolder", &IndexRange::default()), oracle(&db, b"history:", "meta.folder"));
    assert!(db.check_indexes().unwrap().is_empty());
}

#[test]
fn a_build_over_existing_data_with_writers_running_matches_a_rebuild() {
    let (_s, db) = memory_db();
    for n in 0..20_000 {
        visit(&db, n, n * 7 % 10_000);
    }
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    let writer = {
        let db = db.clone();
        std::thread::spawn(move || {
            for round in 0..3_000u32 {
                let n = round * 7 % 20_000;
                if round.is_multiple_of(5) {
                    db.delete(format!("history:{n:05}").as_bytes(), false).unwrap();
                } else {
                    visit(&db, n, 50_000 + round);
                }
            }
        })
    };
    let mut progress = Vec::new();
    db.wait_index("byVisit", WaitFor::Ready, &mut |n| progress.push(n)).unwrap();
    writer.join().unwrap();
    assert!(progress.len() > 2, "progress was reported as the build went: {progress:?}");
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()), oracle(&db, b"history:", "lastVisit"));
    assert!(db.check_indexes().unwrap().is_empty());
    let info = db.indexes().unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].state, "ready");
}

#[test]
fn an_interrupted_build_resumes_at_open_and_definitions_survive_reopen() {
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    for n in 0..30_000 {
        visit(&db, n, n);
    }
    db.flush().unwrap();
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    db.create_index("byFolder", b"history:", "meta.folder").unwrap();
    // Closing at once stops the build between chunks.
    db.close().unwrap();
    let db = open(&storage, small_options()).unwrap();
    let states: Vec<_> = db.indexes().unwrap().into_iter().map(|i| (i.name, i.state)).collect();
    assert_eq!(states.len(), 2);
    ready(&db, "byVisit");
    ready(&db, "byFolder");
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()), oracle(&db, b"history:", "lastVisit"));
    assert_eq!(rows(&db, "byFolder", &IndexRange::default()), oracle(&db, b"history:", "meta.folder"));
    db.close().unwrap();
    let db = open(&storage, small_options()).unwrap();
    assert!(db.indexes().unwrap().iter().all(|i| i.state == "ready"));
    assert!(db.check_indexes().unwrap().is_empty());
    // Creating it again with the same definition is a no-op; another definition is refused.
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    assert!(db.create_index("byVisit", b"history:", "other").is_err());
}

#[test]
fn a_dropped_index_leaves_no_entries_behind() {
    let (_s, db) = memory_db();
    for n in 0..5_000 {
        visit(&db, n, n);
    }
    db.create_index("a", b"history:", "lastVisit").unwrap();
    ready(&db, "a");
    db.drop_index("a").unwrap();
    db.wait_index("a", WaitFor::Gone, &mut |_| {}).unwrap();
    assert!(db.indexes().unwrap().is_empty());
    assert!(db.index_iter("a", &IndexRange::default(), false, None).is_err());
    // The same name (and so the same internal id) over another field: a leftover entry of
    // the old index would show up as a mismatch here.
    db.create_index("a", b"history:", "meta.folder").unwrap();
    ready(&db, "a");
    assert_eq!(rows(&db, "a", &IndexRange::default()), oracle(&db, b"history:", "meta.folder"));
    assert!(db.check_indexes().unwrap().is_empty());
    assert!(db.drop_index("missing").is_err());
}

#[test]
fn queries_read_one_snapshot() {
    let (_s, db) = memory_db();
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    ready(&db, "byVisit");
    for n in 0..100 {
        visit(&db, n, n);
    }
    let snapshot = db.snapshot().unwrap();
    let before = rows(&db, "byVisit", &IndexRange::default());
    let iter = db.index_iter("byVisit", &IndexRange::default(), true, Some(&snapshot)).unwrap();
    for n in 0..100 {
        visit(&db, n, 1000 + n);
    }
    assert_eq!(drain(iter), before);
    assert_eq!(db.index_count("byVisit", &IndexRange::default(), Some(&snapshot)).unwrap(), 100);
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()), oracle(&db, b"history:", "lastVisit"));
}

/// A snapshot taken before an index was complete (or existed) holds none or only some of its
/// entries: a query through it would silently miss keys, or (with an id freed by a drop and
/// given again) see another index's entries. Such a query is refused.
#[test]
fn a_query_at_a_snapshot_older_than_the_index_is_refused() {
    let (_s, db) = memory_db();
    for n in 0..50 {
        visit(&db, n, n);
    }
    let before = db.snapshot().unwrap();
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    ready(&db, "byVisit");
    let old = db.index_iter("byVisit", &IndexRange::default(), true, Some(&before));
    assert!(matches!(old, Err(browserdb::engine::Error::InvalidArgument(_))), "a query at an older snapshot");
    let count = db.index_count("byVisit", &IndexRange::default(), Some(&before));
    assert!(matches!(count, Err(browserdb::engine::Error::InvalidArgument(_))), "a count at an older snapshot");
    // From readiness on, snapshots work; after a reopen every ready index predates them all.
    let after = db.snapshot().unwrap();
    assert_eq!(db.index_count("byVisit", &IndexRange::default(), Some(&after)).unwrap(), 50);

    // A dropped index's id is given to the next index once its entries are gone: a snapshot
    // that still sees the old entries must not be read as the new index.
    db.create_index("old", b"history:", "url").unwrap();
    ready(&db, "old");
    let with_old_entries = db.snapshot().unwrap();
    db.drop_index("old").unwrap();
    db.wait_index("old", WaitFor::Gone, &mut |_| {}).unwrap();
    db.create_index("new", b"history:", "meta.folder").unwrap();
    ready(&db, "new");
    assert!(db.index_iter("new", &IndexRange::default(), false, Some(&with_old_entries)).is_err());
}

#[derive(Debug, Clone)]
enum Step {
    Put(u8, u8),
    Delete(u8),
    DeleteRange(u8, u8, Option<u8>),
    Clear(u8, u8),
    Batch(Vec<(u8, Option<u8>)>),
    Flush,
    Reopen,
    Crash,
    PowerLoss,
}

/// Field values drawn from a small set, including values that are not indexed.
fn value_of(choice: u8, key: u8) -> Vec<u8> {
    match choice % 8 {
        0 => b"plain text".to_vec(),
        1 => format!(r#"{{"other":{key}}}"#).into_bytes(),
        2 => br#"{"v":null}"#.to_vec(),
        3 => format!(r#"{{"v":"s{}"}}"#, choice % 5).into_bytes(),
        4 => br#"{"v":{"deep":1}}"#.to_vec(),
        5 => format!(r#"{{"v":{}}}"#, choice.is_multiple_of(3)).into_bytes(),
        _ => format!(r#"{{"v":{}}}"#, i32::from(choice) - 100).into_bytes(),
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        10 => (0..40u8, any::<u8>()).prop_map(|(k, v)| Step::Put(k, v)),
        3 => (0..40u8).prop_map(Step::Delete),
        1 => (0..40u8, 0..40u8, proptest::option::of(any::<u8>())).prop_map(|(a, b, v)| Step::DeleteRange(a, b, v)),
        1 => (0..40u8, 0..40u8).prop_map(|(a, b)| Step::Clear(a, b)),
        3 => proptest::collection::vec((0..40u8, proptest::option::of(any::<u8>())), 1..8).prop_map(Step::Batch),
        1 => Just(Step::Flush),
        1 => Just(Step::Reopen),
        1 => Just(Step::Crash),
        1 => Just(Step::PowerLoss),
    ]
}

fn key_of(k: u8) -> Vec<u8> {
    // Keys outside the prefix too: they must never get entries.
    if k % 10 == 9 {
        format!("other:{k}").into_bytes()
    } else {
        format!("item:{k:03}").into_bytes()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn the_index_always_equals_a_rebuild_from_the_data(steps in proptest::collection::vec(step(), 1..60)) {
        let mut storage = MemStorage::new();
        let mut db = open(&storage, small_options()).unwrap();
        db.create_index("v", b"item:", "v").unwrap();
        ready(&db, "v");
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for step in steps {
            match step {
                Step::Put(k, v) => {
                    db.put(&key_of(k), &value_of(v, k), true).unwrap();
                    model.insert(key_of(k), value_of(v, k));
                }
                Step::Delete(k) => {
                    db.delete(&key_of(k), true).unwrap();
                    model.remove(&key_of(k));
                }
                Step::Batch(ops) => {
                    let mut batch = WriteBatch::new();
                    for (k, v) in &ops {
                        match v {
                            Some(v) => batch.put(&key_of(*k), &value_of(*v, *k)).unwrap(),
                            None => batch.delete(&key_of(*k)).unwrap(),
                        }
                    }
                    db.write(batch, true).unwrap();
                    for (k, v) in ops {
                        match v {
                            Some(v) => { model.insert(key_of(k), value_of(v, k)); }
                            None => { model.remove(&key_of(k)); }
                        }
                    }
                }
                Step::DeleteRange(a, b, put_first) => {
                    // A range delete, after a put of a key in the range in the same batch.
                    let (lo, hi) = (key_of(a.min(b)), key_of(a.max(b)));
                    if lo < hi {
                        let mut batch = WriteBatch::new();
                        if let Some(v) = put_first {
                            batch.put(&lo, &value_of(v, a.min(b))).unwrap();
                        }
                        batch.delete_range(&lo, &hi).unwrap();
                        db.write(batch, true).unwrap();
                        model.retain(|k, _| !(lo.as_slice() <= k.as_slice() && k.as_slice() < hi.as_slice()));
                    }
                }
                Step::Clear(a, b) => {
                    let (lo, hi) = (key_of(a.min(b)), key_of(a.max(b)));
                    let options = browserdb::engine::IterOptions { lower: Bound::Included(lo.clone()), upper: Bound::Excluded(hi.clone()), reverse: false };
                    db.clear(options, None).unwrap();
                    db.sync_wal().unwrap();
                    model.retain(|k, _| !(lo.as_slice() <= k.as_slice() && k.as_slice() < hi.as_slice()));
                }
                Step::Flush => db.flush().unwrap(),
                Step::Reopen => {
                    db.close().unwrap();
                    db = open(&storage, small_options()).unwrap();
                }
                Step::Crash | Step::PowerLoss => {
                    // Every write was synced, so both keep everything acknowledged.
                    storage = if matches!(step, Step::Crash) { storage.process_crash() } else { storage.power_loss() };
                    db = open(&storage, small_options()).unwrap();
                }
            }
            let data: Vec<(Vec<u8>, Vec<u8>)> = dump(&db).into_iter().map(|(k, v, _)| (k, v)).collect();
            prop_assert_eq!(&data, &model.clone().into_iter().collect::<Vec<_>>());
            prop_assert_eq!(rows(&db, "v", &IndexRange::default()), oracle(&db, b"item:", "v"));
        }
        prop_assert!(db.check_indexes().unwrap().is_empty());
    }
}

#[test]
fn an_import_rebuilds_the_indexes_it_bypasses() {
    use browserdb::engine::maintenance::exchange::{export, import, ExchangeFormat};
    use std::path::Path;
    let storage = MemStorage::new();
    let source = open(&storage, small_options()).unwrap();
    for n in 0..3_000 {
        visit(&source, n, 100_000 + n);
    }
    export(&source, &storage, Path::new("/history.ndjson"), ExchangeFormat::Ndjson, &mut |_| {}).unwrap();
    source.close().unwrap();

    let target_storage = MemStorage::new();
    let db = open(&target_storage, small_options()).unwrap();
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    ready(&db, "byVisit");
    // Existing keys the import overwrites (their old entries must go) and keys it leaves alone.
    for n in 2_000..4_000 {
        visit(&db, n, n);
    }
    import(&db, &storage, Path::new("/history.ndjson"), None, &mut |_| {}).unwrap();
    ready(&db, "byVisit");
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()), oracle(&db, b"history:", "lastVisit"));
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()).len(), 4_000);
    assert!(db.check_indexes().unwrap().is_empty());
    // The retired entries are deleted in the background; once they are, one index is listed.
    let listed: Vec<_> = db.indexes().unwrap().into_iter().map(|i| i.name).collect();
    assert_eq!(listed, ["byVisit"]);
}

#[test]
fn clear_of_an_indexed_range_deletes_key_by_key_and_elsewhere_writes_one_tombstone() {
    let (_s, db) = memory_db();
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    ready(&db, "byVisit");
    for n in 0..200 {
        visit(&db, n, n);
        db.put(format!("cache:{n:05}").as_bytes(), b"{}", false).unwrap();
    }
    let range = |lo: &str, hi: &str| browserdb::engine::IterOptions {
        lower: Bound::Included(lo.as_bytes().to_vec()),
        upper: Bound::Excluded(hi.as_bytes().to_vec()),
        reverse: false,
    };
    // Overlaps the indexed prefix: per-key deletes, counted.
    assert_eq!(db.clear(range("history:00050", "history:00150"), None).unwrap(), Some(100));
    // Outside every indexed prefix: one range tombstone, count unknown.
    assert_eq!(db.clear(range("cache:", "cache:~"), None).unwrap(), None);
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()), oracle(&db, b"history:", "lastVisit"));
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()).len(), 100);
    // A range delete written directly (the Rust API) also removes entries, including those
    // of a key put earlier in the same batch.
    let mut batch = WriteBatch::new();
    batch.put(b"history:00199", br#"{"lastVisit": 7777}"#).unwrap();
    batch.delete_range(b"history:00190", b"history:00200").unwrap();
    db.write(batch, false).unwrap();
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()), oracle(&db, b"history:", "lastVisit"));
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()).len(), 90);
    assert!(db.check_indexes().unwrap().is_empty());
}

#[test]
fn repair_after_damage_rebuilds_the_indexes_from_the_salvaged_data() {
    use browserdb::engine::maintenance::repair::repair;
    let storage = MemStorage::new();
    let db = open(&storage, small_options()).unwrap();
    db.create_index("byVisit", b"history:", "lastVisit").unwrap();
    ready(&db, "byVisit");
    for n in 0..3_000 {
        visit(&db, n, n);
    }
    db.close().unwrap();
    // Damage the first data block of the largest table: data and index entries are lost
    // unevenly (the index entries of the lost keys may live in another table).
    let tables = common::files_with(&storage, "sst");
    let largest = tables.iter().max_by_key(|p| storage.file_bytes(p).unwrap().len()).unwrap().clone();
    let mut bytes = storage.file_bytes(&largest).unwrap();
    bytes[100] ^= 0x5a;
    storage.set_file_bytes(&largest, bytes);
    let report = repair(&common::dir(), &small_options(), std::sync::Arc::new(storage.clone())).unwrap();
    assert!(report.tables_salvaged >= 1, "{report:?}");
    assert_eq!(report.indexes_restarted, 1);
    let db = open(&storage, small_options()).unwrap();
    ready(&db, "byVisit");
    let data = dump(&db);
    assert!(data.len() < 3_000, "the damaged block's keys are gone");
    assert_eq!(rows(&db, "byVisit", &IndexRange::default()), oracle(&db, b"history:", "lastVisit"));
    assert!(db.check_indexes().unwrap().is_empty());
    assert_eq!(db.indexes().unwrap().len(), 1);
}

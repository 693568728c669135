//! Claim (issues 5 and 14): values put with an expiry time leave the disk once most of their
//! table has expired, even when nothing else would merge that table again (a history store's
//! oldest tables), and even when the database writes too little to flush, or nothing; never while a
//! snapshot could still need them; and reads stay those of a model throughout (an expired
//! value rewritten away never lets an older version of its key show again).
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use browserdb::engine::manifest::Manifest;
use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Options, Stats, WriteBatch};

const T0_MS: u64 = 1_700_000_000_000;

/// One clock per test (tests run in parallel threads): the database reads it through a plain
/// `fn`, so each test gets its own static.
macro_rules! test_clock {
    ($name:ident, $read:ident) => {
        static $name: AtomicU64 = AtomicU64::new(T0_MS);
        fn $read() -> u64 {
            $name.load(Ordering::SeqCst)
        }
    };
}

fn options(clock: fn() -> u64) -> Options {
    Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 64 * 1024,
        level1_size_bytes_target: 1024 * 1024 * 1024,
        clock,
        ..Options::default()
    }
}

fn visit_key(i: u32) -> Vec<u8> {
    format!("visit:{i:06}").into_bytes()
}

fn bookmark_key(i: u32) -> Vec<u8> {
    format!("bookmark:{i:04}").into_bytes()
}

/// ~140 bytes of JSON whose title does not compress away.
fn payload(i: u32) -> Vec<u8> {
    let title: String =
        (0..120u32).map(|j| char::from(b'a' + (i.wrapping_mul(31).wrapping_add(j * j * 7) % 26) as u8)).collect();
    format!("{{\"id\":{i},\"title\":\"{title}\"}}").into_bytes()
}

/// The MANIFEST's tables now: (level, entries, expiry profile).
fn manifest_tables(storage: &MemStorage) -> Vec<browserdb::engine::table::TableMeta> {
    Manifest::load(storage, &common::dir()).unwrap().unwrap().tables
}

/// Waits (at most 20 s) until `done` holds.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..4000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("timed out waiting for {what}");
}

/// Whether some table is mostly expired at `now_ms` (what the compaction is for).
fn mostly_expired_tables(storage: &MemStorage, now_ms: u64) -> usize {
    manifest_tables(storage).iter().filter(|t| t.expiry.mostly_expired(t.entry_count, now_ms)).count()
}

/// Writes 100 bookmarks and, in the key range after them, 2000 visits that expire at
/// `expiry_ms`, and compacts them below level 0.
fn write_bookmarks_and_visits(db: &Db, expiry_ms: u64) {
    let mut batch = WriteBatch::new();
    for i in 0..100 {
        batch.put(&bookmark_key(i), &payload(i)).unwrap();
    }
    for i in 0..2000 {
        batch.put_expiring(&visit_key(i), &payload(i), expiry_ms).unwrap();
    }
    db.write(batch, false).unwrap();
    db.compact(None, None).unwrap();
}

/// Waits until a compaction after `before` left only the bookmarks in the tables. Polls the
/// database's own view: once the compaction is counted, its version is the current one (the
/// MANIFEST is written before either).
fn wait_for_only_bookmarks_after(db: &Db, before: &Stats) {
    wait_until("the expired visits to leave the tables", || {
        let st = db.stats();
        st.compactions > before.compactions && st.table_entries == 100
    });
}

#[test]
fn a_table_whose_values_expired_is_rewritten_without_them_at_the_next_write() {
    test_clock!(CLOCK, clock);
    let storage = MemStorage::new();
    let db = common::open(&storage, options(clock)).unwrap();
    // Visits kept for an hour.
    write_bookmarks_and_visits(&db, T0_MS + 3_600_000);
    let before = db.stats();
    let tables = manifest_tables(&storage);
    assert!(tables.iter().all(|t| t.level >= 1), "compacted below level 0");
    assert_eq!(tables.iter().map(|t| t.expiry.entries).sum::<u64>(), 2000, "every visit is profiled");
    assert!(tables.iter().all(|t| t.expiry.quartiles_ms == [0; 4] || t.expiry.quartiles_ms == [T0_MS + 3_600_000; 4]));

    // Before the hour is up, writes leave the tables alone.
    CLOCK.store(T0_MS + 3_599_999, Ordering::SeqCst);
    db.put(b"settings:theme", b"dark", false).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(db.stats().compactions, before.compactions);

    // After it, the next write (one small put: no flush is due) has the visits' tables
    // rewritten without them.
    CLOCK.store(T0_MS + 3_600_000, Ordering::SeqCst);
    db.put(b"settings:font", b"serif", false).unwrap();
    wait_for_only_bookmarks_after(&db, &before);
    let after = db.stats();
    assert_eq!(after.flushes, before.flushes, "no flush was needed");
    assert!(after.disk_bytes * 5 < before.disk_bytes, "disk {} B, was {} B", after.disk_bytes, before.disk_bytes);
    assert_eq!(mostly_expired_tables(&storage, clock()), 0);
    assert_eq!(db.get(&visit_key(7)).unwrap(), None);
    assert_eq!(db.get(&bookmark_key(7)).unwrap(), Some(payload(7)));
    assert_eq!(db.get(b"settings:font").unwrap(), Some(b"serif".to_vec()));
    db.close().unwrap();

    // The profiles are in the MANIFEST: a reopened database knows them.
    let db = common::open(&storage, options(clock)).unwrap();
    assert_eq!(db.get(&bookmark_key(99)).unwrap(), Some(payload(99)));
    db.close().unwrap();
}

#[test]
fn an_idle_database_gives_expired_values_back_without_a_write() {
    // The background timer looks when the visits' time comes (here 300 ms of real time after
    // the compaction noted it); nothing is written after the compaction.
    test_clock!(CLOCK, clock);
    let storage = MemStorage::new();
    let db = common::open(&storage, options(clock)).unwrap();
    write_bookmarks_and_visits(&db, T0_MS + 300);
    let before = db.stats();
    assert_eq!(before.table_entries, 2100);
    CLOCK.store(T0_MS + 300, Ordering::SeqCst);
    wait_for_only_bookmarks_after(&db, &before);
    assert_eq!(db.stats().flushes, before.flushes);
    assert_eq!(db.stats().last_sequence, before.last_sequence, "nothing was written");
    assert_eq!(db.get(&bookmark_key(3)).unwrap(), Some(payload(3)));
    db.close().unwrap();
}

/// Writes 1500 visits and compacts them below level 0: a third expire after a minute, the
/// rest an hour later.
fn write_visits_expiring_in_two_steps(db: &Db) {
    let mut batch = WriteBatch::new();
    for i in 0..1500 {
        let expiry = if i % 3 == 0 { T0_MS + 60_000 } else { T0_MS + 3_660_000 };
        batch.put_expiring(&visit_key(i), &payload(i), expiry).unwrap();
    }
    db.write(batch, false).unwrap();
    db.compact(None, None).unwrap();
}

#[test]
fn a_table_less_than_half_expired_stays() {
    test_clock!(CLOCK, clock);
    let storage = MemStorage::new();
    let db = common::open(&storage, options(clock)).unwrap();
    write_visits_expiring_in_two_steps(&db);
    let compactions = db.stats().compactions;

    CLOCK.store(T0_MS + 60_000, Ordering::SeqCst);
    db.put(b"a", b"1", false).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(db.stats().compactions, compactions, "a third expired: not worth a rewrite");
    assert_eq!(db.get(&visit_key(3)).unwrap(), None);
    assert_eq!(db.get(&visit_key(4)).unwrap(), Some(payload(4)));

    CLOCK.store(T0_MS + 3_660_000, Ordering::SeqCst);
    db.put(b"b", b"2", false).unwrap();
    wait_until("every visit to leave the tables", || db.stats().table_entries == 0);
    assert!(db.stats().compactions > compactions);
    assert_eq!(mostly_expired_tables(&storage, clock()), 0);
    db.close().unwrap();
}

#[test]
fn a_snapshot_that_predates_the_expired_values_holds_off_their_rewrite() {
    test_clock!(CLOCK, clock);
    let storage = MemStorage::new();
    let db = common::open(&storage, options(clock)).unwrap();
    db.put(b"a", b"before", false).unwrap();
    let snapshot = db.snapshot().unwrap();
    write_visits_expiring_in_two_steps(&db);
    let compactions = db.stats().compactions;

    // All expired, but the snapshot is older than them: a rewrite would have to keep them,
    // and the table would be picked again and again.
    CLOCK.store(T0_MS + 3_660_000, Ordering::SeqCst);
    db.put(b"b", b"2", false).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(db.stats().compactions, compactions, "held off by the snapshot");
    assert!(mostly_expired_tables(&storage, clock()) > 0);

    // Once it is gone, the writer looks again after the retry interval and finds the table free.
    drop(snapshot);
    CLOCK.store(T0_MS + 3_660_000 + 9_999, Ordering::SeqCst);
    db.put(b"c", b"3", false).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(db.stats().compactions, compactions, "not before the retry interval");
    CLOCK.store(T0_MS + 3_670_000, Ordering::SeqCst);
    db.put(b"d", b"4", false).unwrap();
    // Left in the tables: "a" only (the later puts are in the memtable).
    wait_until("the expired visits to leave the tables", || db.stats().table_entries == 1);
    assert!(db.stats().compactions > compactions);
    assert_eq!(mostly_expired_tables(&storage, clock()), 0);
    assert_eq!(db.get(&visit_key(1)).unwrap(), None);
    assert_eq!(db.get(b"a").unwrap(), Some(b"before".to_vec()));
    db.close().unwrap();
}

/// A small xorshift, so the model test is the same on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What a read must see: key → (value, expiry or 0).
type Model = BTreeMap<Vec<u8>, (Vec<u8>, u64)>;

fn check_against_model(db: &Db, model: &Model, now_ms: u64) {
    let live: Vec<(Vec<u8>, Vec<u8>, u64)> = model
        .iter()
        .filter(|(_, (_, e))| *e == 0 || *e > now_ms)
        .map(|(k, (v, e))| (k.clone(), v.clone(), *e))
        .collect();
    assert_eq!(common::dump(db), live);
    for (k, (v, e)) in model {
        let expected = (*e == 0 || *e > now_ms).then(|| v.clone());
        assert_eq!(db.get(k).unwrap(), expected, "key {}", String::from_utf8_lossy(k));
    }
}

#[test]
fn reads_match_a_model_while_expired_tables_are_rewritten_across_levels() {
    test_clock!(CLOCK, clock);
    let storage = MemStorage::new();
    // Small tables and levels, so the keys spread over several levels and older versions
    // of a key sit below an expiring newer one.
    let small = Options {
        write_buffer_size_bytes: 64 * 1024,
        table_size_bytes_target: 4096,
        level1_size_bytes_target: 4096,
        ..options(clock)
    };
    let db = common::open(&storage, small.clone()).unwrap();
    let mut model = Model::new();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut now = T0_MS;
    for step in 0..20_000u32 {
        let i = rng.below(3000) as u32;
        let k = visit_key(i);
        let len = rng.below(150) as usize;
        let v: Vec<u8> = format!("{step}:").bytes().chain((0..len).map(|_| b'a' + rng.below(26) as u8)).collect();
        match rng.below(10) {
            0 => {
                db.delete(&k, false).unwrap();
                model.remove(&k);
            }
            1..=4 => {
                db.put(&k, &v, false).unwrap();
                model.insert(k, (v, 0));
            }
            _ => {
                let expiry = now + 1 + rng.below(120_000);
                let mut batch = WriteBatch::new();
                batch.put_expiring(&k, &v, expiry).unwrap();
                db.write(batch, false).unwrap();
                model.insert(k, (v, expiry));
            }
        }
        now += rng.below(10);
        CLOCK.store(now, Ordering::SeqCst);
        if step % 2500 == 2499 {
            check_against_model(&db, &model, now);
        }
    }
    let levels_used = db.stats().levels.iter().filter(|l| l.tables > 0).count();
    assert!(levels_used >= 2, "the data spans levels: {:?}", db.stats().levels);

    // Everything that expires has expired: each mostly expired table is rewritten, its
    // expired values dropped, and no older version shows through.
    now += 200_000;
    CLOCK.store(now, Ordering::SeqCst);
    db.put(b"z", b"last", false).unwrap();
    model.insert(b"z".to_vec(), (b"last".to_vec(), 0));
    wait_until("no table to be mostly expired", || mostly_expired_tables(&storage, now) == 0);
    check_against_model(&db, &model, now);
    db.close().unwrap();
    let db = common::open(&storage, small).unwrap();
    check_against_model(&db, &model, now);
    db.close().unwrap();
}

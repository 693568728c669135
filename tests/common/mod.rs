//! Shared helpers for the engine's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

pub mod counting;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Db, Error, IterOptions, Options, PageEnd};

/// Every live entry of a database: (user key, value, expiry or 0), in key order.
pub type Dump = Vec<(Vec<u8>, Vec<u8>, u64)>;

/// Reads every live entry through an iterator, in pages.
pub fn dump(db: &Db) -> Dump {
    let mut iter = db.iter(IterOptions::default(), None).expect("iter");
    let mut out = Vec::new();
    while iter
        .next_page_with_expiry(256, usize::MAX, false, |k, v, e| out.push((k.to_vec(), v.to_vec(), e)))
        .expect("page")
        != PageEnd::Exhausted
    {}
    out
}

/// The directory every in-memory database lives in.
pub fn dir() -> PathBuf {
    PathBuf::from("/db")
}

/// Small memtables so a few hundred writes produce tables.
pub fn small_options() -> Options {
    Options { write_buffer_size_bytes: 64 * 1024, ..Options::default() }
}

pub fn open(storage: &MemStorage, options: Options) -> Result<Db, Error> {
    Db::open_with_storage(dir(), options, Arc::new(storage.clone()))
}

pub fn key(i: u32) -> Vec<u8> {
    format!("key{i:08}").into_bytes()
}

pub fn value(i: u32, version: u32) -> Vec<u8> {
    format!("value-{i}-{version}-{}", "x".repeat((i % 64) as usize)).into_bytes()
}

/// Names of files in the database directory with the given extension, sorted.
pub fn files_with(storage: &MemStorage, ext: &str) -> Vec<PathBuf> {
    use browserdb::engine::storage::Storage;
    let mut names: Vec<PathBuf> =
        storage.list_dir(&dir()).unwrap().into_iter().filter(|n| n.ends_with(ext)).map(|n| dir().join(n)).collect();
    names.sort();
    names
}

pub fn assert_corruption(result: Result<impl std::fmt::Debug, Error>, file_part: &str) {
    match result {
        Err(Error::Corruption { file, .. }) => {
            assert!(file.contains(file_part), "corruption names {file}, expected {file_part}")
        }
        other => panic!("expected Corruption in {file_part}, got {other:?}"),
    }
}

pub fn path_str(p: &Path) -> String {
    p.display().to_string()
}

/// What a workload saw acknowledged: each key's value, or `None` for a delete.
pub type Acked = std::collections::BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// Kills the process at (about) `points` evenly spread file-system calls of `workload`: that
/// call and every later one fail, so nothing after it reaches the disk. The copy of the disk
/// each kill leaves must reopen with every write the workload saw acknowledged. The workload
/// must compact at least once and stop at its first error.
pub fn kill_at_every_call(options: impl Fn() -> Options, points: u64, workload: impl Fn(&Db, &mut Acked)) {
    kill_at_every_call_on(MemStorage::new, options, points, workload);
}

/// `kill_at_every_call` on storages made by `storage` (with settings of their own).
pub fn kill_at_every_call_on(
    storage: impl Fn() -> MemStorage,
    options: impl Fn() -> Options,
    points: u64,
    workload: impl Fn(&Db, &mut Acked),
) {
    let clean = storage();
    let db = open(&clean, options()).unwrap();
    let start = clean.mutating_calls();
    workload(&db, &mut Acked::new());
    let total = clean.mutating_calls() - start;
    assert!(db.stats().compactions > 0);
    drop(db);
    let step = (total / points).max(1);
    for n in (1..=total).step_by(usize::try_from(step).unwrap()) {
        let storage = storage();
        let db = open(&storage, options()).unwrap();
        storage.fail_from_call(n);
        let mut acked = Acked::new();
        workload(&db, &mut acked);
        let _ = db.close();
        let after = storage.process_crash();
        let db = open(&after, options()).unwrap_or_else(|e| panic!("kill at call {n}: open failed: {e:?}"));
        for (k, v) in &acked {
            assert_eq!(&db.get(k).unwrap(), v, "kill at call {n}: key {}", String::from_utf8_lossy(k));
        }
        db.close().unwrap();
    }
}

//! Claim (maintenance module): `verify` reads every byte and names the file, kind and offset
//! of any damage; `repair` rebuilds a database from what is intact, sets damaged files aside
//! in `lost/` and never serves a wrong value; `backup`/`restore` are incremental, consistent
//! while writes go on and refuse a damaged backup before writing anything; `export`/`import`
//! round-trip every key, value and expiry and import atomically (all or nothing, invisible to
//! older snapshots, within an in-memory database's memory limit, durable once it returns);
//! flushes and compactions are reported as events.

mod common;

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use browserdb::engine::files::{self, FileKind};
use browserdb::engine::maintenance::{
    backup, export, import, repair, restore, verify, ExchangeFormat, ProblemKind, VerifyReport,
};
use browserdb::engine::manifest::Manifest;
use browserdb::engine::storage::{FsStorage, LockHandle, MemStorage, ReadableFile, Storage, WritableFile};
use browserdb::engine::table::block::{decode_stored, Block};
use browserdb::engine::table::format::{BlockHandle, Footer, BLOCK_TRAILER_BYTES, FOOTER_BYTES};
use browserdb::engine::{Db, Error, Event, IterOptions, Options, WriteBatch};
use common::{dir, dump, files_with, key, open, value, Dump};

/// Every live entry: user key, value, expiry (0 for none).
/// A fixed clock, so TTL entries expire (or not) the same way in every database of a test.
const NOW_MS: u64 = 1_700_000_000_000;

fn fixed_clock() -> u64 {
    NOW_MS
}

fn dump_of(model: &BTreeMap<Vec<u8>, Vec<u8>>) -> Dump {
    model.iter().map(|(k, v)| (k.clone(), v.clone(), 0)).collect()
}

fn no_progress(_: u64) {}

fn verify_quietly(db: &Db) -> VerifyReport {
    verify(db, &mut |_, _| {}).expect("verify")
}

fn mem_arc(storage: &MemStorage) -> Arc<dyn Storage> {
    Arc::new(storage.clone())
}

/// Small memtables and tables: a few thousand keys make several tables.
fn many_table_options() -> Options {
    Options { write_buffer_size_bytes: 64 * 1024, table_size_bytes_target: 16 * 1024, ..Options::default() }
}

fn name_of(path: &Path) -> String {
    path.file_name().expect("file name").to_string_lossy().into_owned()
}

/// A table's data blocks: (offset, stored size, user keys), read through the index.
fn data_blocks(bytes: &[u8]) -> Vec<(u64, u32, Vec<Vec<u8>>)> {
    let footer = Footer::decode(&bytes[bytes.len() - FOOTER_BYTES..]).expect("footer");
    let block = |h: BlockHandle| {
        let start = usize::try_from(h.offset).expect("offset");
        let end = start + h.size as usize + BLOCK_TRAILER_BYTES;
        Block::new(decode_stored(&bytes[start..end]).expect("block bytes")).expect("block")
    };
    let index = block(footer.index);
    let mut handles = Vec::new();
    let mut it = index.iter();
    while let Some(e) = it.next_entry() {
        handles.push(BlockHandle::decode(e.value).expect("handle"));
    }
    handles
        .into_iter()
        .map(|h| {
            let b = block(h);
            let mut keys = Vec::new();
            let mut it = b.iter();
            while it.next_entry().is_some() {
                keys.push(it.key()[1..].to_vec()); // strip the keyspace tag
            }
            (h.offset, h.size, keys)
        })
        .collect()
}

/// The MANIFEST's tables (number, file size), read from the storage.
fn manifest_tables(storage: &MemStorage, dir: &Path) -> Vec<(u64, u64)> {
    let bytes = storage.file_bytes(&dir.join("MANIFEST")).expect("MANIFEST");
    Manifest::decode(&bytes).expect("MANIFEST decodes").tables.iter().map(|t| (t.number, t.file_size)).collect()
}

fn flip(storage: &MemStorage, path: &Path, offset: usize) -> Vec<u8> {
    let original = storage.file_bytes(path).expect("file to damage");
    let mut damaged = original.clone();
    damaged[offset] ^= 0x5a;
    storage.set_file_bytes(path, damaged);
    original
}

/// Puts keys `0..keys` one at a time into the WAL and returns it with where each record ends
/// (each put is one record, appended before `put` returns).
fn puts_with_wal_ends(db: &Db, storage: &MemStorage, keys: u32) -> (PathBuf, Vec<usize>) {
    let wal = files_with(storage, ".wal").pop().expect("a WAL");
    let ends = (0..keys)
        .map(|i| {
            db.put(&key(i), &value(i, 0), false).expect("put");
            storage.file_bytes(&wal).expect("wal").len()
        })
        .collect();
    (wal, ends)
}

fn highest_file_number(storage: &MemStorage, dir: &Path) -> u64 {
    storage.list_dir(dir).expect("list").iter().filter_map(|n| files::parse(n)).map(|(n, _)| n).max().unwrap_or(0)
}

fn assert_no_import_runs(storage: &dyn Storage, dir: &Path) {
    let leftovers: Vec<String> =
        storage.list_dir(dir).expect("list").into_iter().filter(|n| n.starts_with("import-run-")).collect();
    assert!(leftovers.is_empty(), "import left temporary runs behind: {leftovers:?}");
}

// ---------------------------------------------------------------------------------------------
// verify

#[test]
fn verify_passes_a_sound_database_and_names_damage_in_a_table_block_and_the_manifest() {
    const TABLE_KEYS: u32 = 3000;
    const WAL_KEYS: u32 = 40;
    let storage = MemStorage::new();
    let db = open(&storage, many_table_options()).expect("open");
    for i in 0..TABLE_KEYS {
        db.put(&key(i), &value(i, 0), false).expect("put");
    }
    // Everything into level-1 tables of ~16 KiB; nothing more is due afterwards, so the
    // table set stays put while the test damages and checks files.
    db.compact(None, None).expect("compact");
    for i in TABLE_KEYS..TABLE_KEYS + WAL_KEYS {
        db.put(&key(i), &value(i, 0), false).expect("put");
    }

    let mut calls: Vec<(u64, u64)> = Vec::new();
    let report = verify(&db, &mut |done, total| calls.push((done, total))).expect("verify");
    assert!(report.ok(), "a sound database: {:?}", report.problems);
    let tables = manifest_tables(&storage, &dir());
    assert!(tables.len() >= 2, "the workload should make several tables: {tables:?}");
    assert_eq!(report.tables, tables.len() as u64);
    assert_eq!(report.entries, u64::from(TABLE_KEYS), "every table entry is counted once");
    assert_eq!(report.wal_records, u64::from(WAL_KEYS), "one WAL record per unflushed put");
    let wal_bytes: u64 =
        files_with(&storage, ".wal").iter().map(|p| storage.file_bytes(p).expect("wal").len() as u64).sum();
    let manifest_bytes = storage.file_bytes(&dir().join("MANIFEST")).expect("MANIFEST").len() as u64;
    let table_bytes: u64 = tables.iter().map(|t| t.1).sum();
    assert!(wal_bytes > 0);
    assert_eq!(report.bytes, table_bytes + manifest_bytes + wal_bytes, "tables, MANIFEST and WALs are all read");
    let &(done, total) = calls.last().expect("progress is reported");
    assert_eq!((done, total), (report.bytes, report.bytes), "progress ends at the total");
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0 && w[0].1 == w[1].1), "progress only grows: {calls:?}");

    // One flipped byte inside a data block in the middle of a table.
    let (number, _) = tables[tables.len() / 2];
    let table = files::path(&dir(), number, FileKind::Table);
    let name = name_of(&table);
    let original = storage.file_bytes(&table).expect("table");
    let blocks = data_blocks(&original);
    assert!(blocks.len() >= 3, "the table should hold several blocks");
    let (block_offset, block_size, _) = blocks[blocks.len() / 2];
    flip(&storage, &table, usize::try_from(block_offset).expect("offset") + block_size as usize / 2);
    let report = verify_quietly(&db);
    assert!(!report.ok());
    assert!(report.problems.iter().all(|p| p.file == name), "only {name} is damaged: {:?}", report.problems);
    assert!(
        report.problems.iter().any(|p| p.kind == ProblemKind::Checksum && p.offset == block_offset),
        "the damaged block at {block_offset} is named: {:?}",
        report.problems
    );
    assert_eq!(ProblemKind::Checksum.as_str(), "checksum");
    assert!(report.entries < u64::from(TABLE_KEYS), "the damaged block's entries are not counted");
    storage.set_file_bytes(&table, original);
    assert!(verify_quietly(&db).ok(), "the same table undamaged passes again");

    // A flipped byte in the MANIFEST.
    let manifest = dir().join("MANIFEST");
    let original = flip(&storage, &manifest, 30);
    let report = verify_quietly(&db);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!((problem.file.as_str(), problem.kind), ("MANIFEST", ProblemKind::Checksum));
    assert_eq!(problem.offset, original.len() as u64 - 4, "the CRC covering the flipped byte");
    storage.set_file_bytes(&manifest, original);
    assert!(verify_quietly(&db).ok());

    // A table the MANIFEST names that is gone from the directory.
    let original = storage.file_bytes(&table).expect("table");
    storage.remove(&table).expect("remove");
    let report = verify_quietly(&db);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert_eq!((report.problems[0].file.as_str(), report.problems[0].kind), (name.as_str(), ProblemKind::Missing));
    write_file(&storage, &table, &original);
    assert!(verify_quietly(&db).ok());
    db.close().expect("close");
}

#[test]
fn verify_names_damage_in_the_middle_of_an_older_wal_but_not_a_torn_newest_tail() {
    const KEYS: u32 = 200;
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).expect("open");
    let (wal, ends) = puts_with_wal_ends(&db, &storage, KEYS);
    // A crash right after a WAL rotation: the full WAL and a new, empty one are both live.
    let crashed = storage.process_crash();
    drop(db);
    let newer = files::path(&dir(), highest_file_number(&crashed, &dir()) + 1, FileKind::Wal);
    drop(crashed.create(&newer).expect("create newer WAL"));
    crashed.sync_dir(&dir()).expect("sync");
    let db = open(&crashed, Options::default()).expect("open after the crash");
    assert_eq!(db.get(&key(KEYS - 1)).expect("get"), Some(value(KEYS - 1, 0)));
    let report = verify_quietly(&db);
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.wal_records, u64::from(KEYS));

    let record_start = ends[99];
    let original = flip(&crashed, &wal, record_start + 7);
    let report = verify_quietly(&db);
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let problem = &report.problems[0];
    assert_eq!(problem.file, name_of(&wal));
    assert_eq!(problem.kind, ProblemKind::Checksum);
    assert_eq!(problem.offset, record_start as u64, "the first damaged record is named");
    assert_eq!(report.wal_records, 100, "the records before the damage are counted");
    crashed.set_file_bytes(&wal, original);

    // A torn tail of the newest WAL is a write in progress, not damage.
    let mut torn = crashed.file_bytes(&newer).expect("newest WAL");
    torn.extend_from_slice(&[0x17; 11]);
    crashed.set_file_bytes(&newer, torn);
    assert!(verify_quietly(&db).ok());
}

// ---------------------------------------------------------------------------------------------
// repair

#[test]
fn repair_sets_a_damaged_table_aside_and_serves_every_other_key_correctly() {
    const KEYS: u32 = 3000;
    let storage = MemStorage::new();
    let options = many_table_options();
    let db = open(&storage, options.clone()).expect("open");
    for i in 0..KEYS {
        db.put(&key(i), &value(i, 0), false).expect("put");
    }
    db.compact(None, None).expect("compact");
    db.close().expect("close");

    let tables = manifest_tables(&storage, &dir());
    assert!(tables.len() >= 3, "{tables:?}");
    let table = files::path(&dir(), tables[tables.len() / 2].0, FileKind::Table);
    let name = name_of(&table);
    let original = storage.file_bytes(&table).expect("table");
    let blocks = data_blocks(&original);
    assert!(blocks.len() >= 3);
    let (block_offset, block_size, lost_keys) = blocks[1].clone();
    assert!(!lost_keys.is_empty());
    flip(&storage, &table, usize::try_from(block_offset).expect("offset") + block_size as usize / 2);
    let damaged = storage.file_bytes(&table).expect("table");

    let report = repair(&dir(), &options, mem_arc(&storage)).expect("repair");
    assert_eq!(report.lost, vec![format!("lost/{name}")]);
    assert_eq!(report.tables_salvaged, 1);
    assert_eq!(report.tables_intact, tables.len() as u64 - 1);
    assert_eq!(report.entries, u64::from(KEYS) - lost_keys.len() as u64);
    assert!(report.tables >= 1);
    assert!(
        report.problems.iter().any(|p| p.file == name && p.offset == block_offset && p.kind == ProblemKind::Checksum),
        "{:?}",
        report.problems
    );
    assert_eq!(storage.file_bytes(&dir().join("lost").join(&name)), Some(damaged), "set aside, not deleted");
    assert_eq!(storage.file_bytes(&table), None, "no longer in the database directory");

    let db = open(&storage, options).expect("open after repair");
    let mut expected = BTreeMap::new();
    for i in 0..KEYS {
        let lost = lost_keys.contains(&key(i));
        let got = db.get(&key(i)).expect("get after repair");
        if lost {
            assert_eq!(got, None, "key {i} was in the damaged block");
        } else {
            assert_eq!(got, Some(value(i, 0)), "key {i}");
            expected.insert(key(i), value(i, 0));
        }
    }
    assert_eq!(dump(&db), dump_of(&expected), "no key appears that should not");
    assert!(verify_quietly(&db).ok());
}

fn put_tracked(db: &Db, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, i: u32, v: u32) {
    db.put(&key(i), &value(i, v), false).expect("put");
    model.insert(key(i), value(i, v));
}

fn delete_tracked(db: &Db, model: &mut BTreeMap<Vec<u8>, Vec<u8>>, i: u32) {
    db.delete(&key(i), false).expect("delete");
    model.remove(&key(i));
}

/// A workload with overwrites and deletes, in three level-0 tables and the WAL; returns the
/// crashed copy (WAL not flushed) and the model of what it holds.
fn tables_and_wal_with_overwrites() -> (MemStorage, BTreeMap<Vec<u8>, Vec<u8>>) {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).expect("open");
    let mut model = BTreeMap::new();
    for i in 0..1500 {
        put_tracked(&db, &mut model, i, 0);
    }
    db.flush().expect("flush");
    for i in (0..1500).step_by(3) {
        put_tracked(&db, &mut model, i, 1);
    }
    db.flush().expect("flush");
    for i in (0..1500).step_by(7) {
        put_tracked(&db, &mut model, i, 2);
    }
    for i in (0..1500).step_by(5) {
        delete_tracked(&db, &mut model, i);
    }
    db.flush().expect("flush");
    for i in (0..1600).step_by(11) {
        put_tracked(&db, &mut model, i, 3);
    }
    for i in (0..1500).step_by(13) {
        delete_tracked(&db, &mut model, i);
    }
    assert_eq!(files_with(&storage, ".sst").len(), 3, "three level-0 tables, below the compaction trigger");
    let crashed = storage.process_crash();
    assert!(crashed.file_bytes(&files_with(&crashed, ".wal")[0]).expect("wal").len() > 1000, "data in the WAL");
    (crashed, model)
}

#[test]
fn repair_of_an_intact_database_keeps_newest_values_and_deletes() {
    let (storage, model) = tables_and_wal_with_overwrites();
    let report = repair(&dir(), &Options::default(), mem_arc(&storage)).expect("repair");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(report.lost.is_empty());
    assert_eq!((report.tables_intact, report.tables_salvaged), (3, 0));
    assert!(report.wal_records > 0);
    assert_eq!(report.entries, model.len() as u64, "tombstones and shadowed versions are merged away");
    let db = open(&storage, Options::default()).expect("open after repair");
    assert_eq!(dump(&db), dump_of(&model));
    db.close().expect("close");

    // Repairing again changes nothing.
    let again = repair(&dir(), &Options::default(), mem_arc(&storage)).expect("second repair");
    assert!(again.problems.is_empty() && again.lost.is_empty());
    let db = open(&storage, Options::default()).expect("open after the second repair");
    assert_eq!(dump(&db), dump_of(&model));
}

#[test]
fn repair_rebuilds_from_tables_and_wals_when_the_manifest_is_garbage() {
    let (storage, model) = tables_and_wal_with_overwrites();
    storage.set_file_bytes(&dir().join("MANIFEST"), b"this is no manifest at all".to_vec());
    assert!(open(&storage, Options::default()).is_err(), "a garbage MANIFEST is refused at open");
    let report = repair(&dir(), &Options::default(), mem_arc(&storage)).expect("repair");
    assert_eq!(report.lost, vec!["lost/MANIFEST".to_owned()]);
    assert!(report.problems.iter().any(|p| p.file == "MANIFEST" && p.kind == ProblemKind::Checksum));
    assert_eq!(report.tables_intact, 3);
    assert_eq!(
        storage.file_bytes(&dir().join("lost/MANIFEST")),
        Some(b"this is no manifest at all".to_vec()),
        "the damaged MANIFEST is kept"
    );
    let db = open(&storage, Options::default()).expect("open after repair");
    assert_eq!(dump(&db), dump_of(&model), "all data is back");
    // The rebuilt database takes new writes and keeps them.
    db.put(b"after", b"repair", false).expect("put");
    db.close().expect("close");
    let db = open(&storage, Options::default()).expect("reopen");
    assert_eq!(db.get(b"after").expect("get"), Some(b"repair".to_vec()));
}

#[test]
fn repair_keeps_the_valid_prefix_of_a_wal_damaged_in_the_middle() {
    const KEYS: u32 = 300;
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).expect("open");
    let (wal, ends) = puts_with_wal_ends(&db, &storage, KEYS);
    let crashed = storage.process_crash();
    drop(db);
    let damage_at = ends[KEYS as usize / 2] + 9; // inside record KEYS/2 + 1
    flip(&crashed, &wal, damage_at);
    let damaged = crashed.file_bytes(&wal).expect("wal");
    let kept = ends.iter().filter(|&&end| end <= damage_at).count();
    assert!(matches!(open(&crashed, Options::default()), Err(Error::Corruption { .. })));

    let report = repair(&dir(), &Options::default(), mem_arc(&crashed)).expect("repair");
    assert_eq!(report.wal_records, kept as u64);
    assert_eq!(report.lost, vec![format!("lost/{}", name_of(&wal))]);
    assert!(report.problems.iter().any(|p| p.offset == ends[kept - 1] as u64 && p.file == name_of(&wal)));
    assert_eq!(crashed.file_bytes(&dir().join("lost").join(name_of(&wal))), Some(damaged));
    let db = open(&crashed, Options::default()).expect("open after repair");
    for i in 0..KEYS {
        let expected = (i < kept as u32).then(|| value(i, 0));
        assert_eq!(db.get(&key(i)).expect("get"), expected, "key {i} (records before the damage: {kept})");
    }
}

#[test]
fn repair_refuses_a_foreign_a_missing_and_an_open_directory() {
    let storage = MemStorage::new();
    let foreign = PathBuf::from("/photos");
    storage.create_dir_all(&foreign).expect("mkdir");
    let mut file = storage.create(&foreign.join("cat.jpg")).expect("create");
    file.append(b"not a table").expect("append");
    drop(file);
    assert!(matches!(
        repair(&foreign, &Options::default(), mem_arc(&storage)),
        Err(Error::NotADatabase(p)) if p == foreign
    ));
    assert_eq!(storage.list_dir(&foreign).expect("list"), vec!["cat.jpg".to_owned()], "left as it was");
    assert_eq!(storage.file_bytes(&foreign.join("cat.jpg")), Some(b"not a table".to_vec()));

    let missing = PathBuf::from("/nowhere");
    assert!(
        matches!(repair(&missing, &Options::default(), mem_arc(&storage)), Err(Error::NotFound(p)) if p == missing)
    );
    assert!(storage.list_dir(&missing).is_err(), "not created");

    let db = open(&storage, Options::default()).expect("open");
    db.put(b"k", b"v", false).expect("put");
    db.flush().expect("flush");
    let before = storage.list_dir(&dir()).expect("list");
    assert!(matches!(repair(&dir(), &Options::default(), mem_arc(&storage)), Err(Error::Locked { .. })));
    assert_eq!(storage.list_dir(&dir()).expect("list"), before, "nothing touched");
    assert_eq!(db.get(b"k").expect("get"), Some(b"v".to_vec()));
    db.close().expect("close");
    assert!(repair(&dir(), &Options::default(), mem_arc(&storage)).is_ok(), "closed, it can be repaired");
}

#[test]
fn repair_does_not_resurrect_a_deleted_key_from_a_leftover_table() {
    let wrapped = Wrapped::new(MemStorage::new());
    let db = Db::open_with_storage(dir(), Options::default(), Arc::new(wrapped.clone())).expect("open");
    db.put(b"gone", b"old value", false).expect("put");
    db.put(b"kept", b"1", false).expect("put");
    db.flush().expect("flush");
    // Removing the flushed table after the compaction below fails (best effort: an I/O error,
    // or a file another process holds open on Windows), so it lingers, named by no MANIFEST.
    let flushed = files_with(&wrapped.inner, ".sst");
    assert_eq!(flushed.len(), 1);
    wrapped.keep.lock().push(name_of(&flushed[0]));
    db.compact(None, None).expect("compact");
    // The tombstone meets the value at the bottom level and both vanish.
    db.delete(b"gone", false).expect("delete");
    db.compact(None, None).expect("compact");
    assert_eq!(db.get(b"gone").expect("get"), None);
    db.close().expect("close");
    let storage = wrapped.inner.clone();
    assert!(storage.file_bytes(&flushed[0]).is_some(), "the leftover is still there");
    assert!(!manifest_tables(&storage, &dir()).iter().any(|t| files::path(&dir(), t.0, FileKind::Table) == flushed[0]));

    let report = repair(&dir(), &Options::default(), mem_arc(&storage)).expect("repair");
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let db = open(&storage, Options::default()).expect("open after repair");
    assert_eq!(db.get(b"gone").expect("get"), None, "a deleted key stays deleted");
    assert_eq!(db.get(b"kept").expect("get"), Some(b"1".to_vec()));
}

// ---------------------------------------------------------------------------------------------
// backup / restore

#[test]
fn backups_are_incremental_and_restore_the_state_of_the_last_one() {
    let temp = tempfile::tempdir().expect("tempdir");
    let backup_dir = temp.path().join("backup");
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).expect("open");
    let mut model = BTreeMap::new();
    for i in 0..1000 {
        put_tracked(&db, &mut model, i, 0);
    }
    db.flush().expect("flush");
    for i in 1000..2000 {
        put_tracked(&db, &mut model, i, 0);
    }
    // The second half is still in the memtable: backup flushes it.
    let mut last = (0, 0);
    let first = backup(&db, &FsStorage, &backup_dir, &mut |done, total| last = (done, total)).expect("backup");
    assert_eq!(first.tables, 2);
    assert_eq!((first.tables_copied, first.tables_reused), (2, 0));
    assert!(first.bytes_copied > 0);
    assert_eq!(first.bytes_copied, first.bytes_total);
    assert_eq!(last, (first.bytes_total, first.bytes_total));

    for i in (0..2000).step_by(4) {
        put_tracked(&db, &mut model, i, 1);
    }
    delete_tracked(&db, &mut model, 5);
    let second = backup(&db, &FsStorage, &backup_dir, &mut |_, _| {}).expect("second backup");
    assert_eq!(second.tables, 3);
    assert_eq!((second.tables_copied, second.tables_reused), (1, 2), "only the new table is copied");
    assert!(second.bytes_copied < second.bytes_total);
    let at_second_backup = dump_of(&model);

    db.put(b"after the backup", b"x", false).expect("put");
    db.put(&key(7), b"changed after the backup", false).expect("put");
    db.flush().expect("flush");

    let restored_dir = temp.path().join("restored");
    let tables = restore(&FsStorage, &backup_dir, &restored_dir, &mut |_, _| {}).expect("restore");
    assert_eq!(tables, 3);
    let restored = Db::open(&restored_dir, Options::default()).expect("open the restored database");
    assert_eq!(dump(&restored), at_second_backup);
    assert!(verify_quietly(&restored).ok());
    restored.put(b"new", b"write", false).expect("the restored database takes writes");
    restored.close().expect("close");
    let restored = Db::open(&restored_dir, Options { create_if_missing: false, ..Options::default() }).expect("reopen");
    assert_eq!(restored.get(b"new").expect("get"), Some(b"write".to_vec()));
    assert_eq!(restored.get(b"after the backup").expect("get"), None);
}

#[test]
fn a_damaged_backup_is_refused_before_anything_is_written() {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).expect("open");
    for i in 0..2000 {
        db.put(&key(i), &value(i, 0), false).expect("put");
    }
    let backup_dir = PathBuf::from("/backup");
    backup(&db, &storage, &backup_dir, &mut |_, _| {}).expect("backup");
    let expected = dump(&db);
    let table = storage
        .list_dir(&backup_dir)
        .expect("list")
        .into_iter()
        .find(|n| n.ends_with(".sst"))
        .map(|n| backup_dir.join(n))
        .expect("a table in the backup");
    let target = PathBuf::from("/restored");

    let len = storage.file_bytes(&table).expect("table").len();
    let original = flip(&storage, &table, len / 2);
    assert!(matches!(restore(&storage, &backup_dir, &target, &mut |_, _| {}), Err(Error::Corruption { .. })));
    assert!(storage.list_dir(&target).is_err(), "the target is not created");
    storage.set_file_bytes(&table, original);

    let description = backup_dir.join("BACKUP");
    let original = flip(&storage, &description, 10);
    assert!(matches!(restore(&storage, &backup_dir, &target, &mut |_, _| {}), Err(Error::Corruption { .. })));
    assert!(storage.list_dir(&target).is_err(), "the target is not created");
    storage.set_file_bytes(&description, original);

    let occupied = PathBuf::from("/occupied");
    storage.create_dir_all(&occupied).expect("mkdir");
    drop(storage.create(&occupied.join("notes.txt")).expect("create"));
    assert!(matches!(restore(&storage, &backup_dir, &occupied, &mut |_, _| {}), Err(Error::Exists(_))));
    assert_eq!(storage.list_dir(&occupied).expect("list"), vec!["notes.txt".to_owned()]);

    // Undamaged, the same backup restores.
    restore(&storage, &backup_dir, &target, &mut |_, _| {}).expect("restore");
    let restored = Db::open_with_storage(&target, Options::default(), mem_arc(&storage)).expect("open");
    assert_eq!(dump(&restored), expected);
}

/// Batches `i` put `k{i}a` and `k{i}b`: a restore holds both or neither, and a prefix of them.
fn check_pairs(db: &Db) -> u32 {
    let mut present = BTreeMap::<u32, u8>::new();
    for (k, v, _) in dump(db) {
        let text = String::from_utf8(k).expect("utf8 key");
        let (i, side) = text[1..].split_at(text.len() - 2);
        let i: u32 = i.parse().expect("batch number");
        assert_eq!(v, value(i, 0), "batch {i}{side}");
        *present.entry(i).or_default() += 1;
    }
    for (i, (&batch, &count)) in present.iter().enumerate() {
        assert_eq!(count, 2, "batch {batch} restored half");
        assert_eq!(batch, i as u32, "batches restored are a prefix of those written");
    }
    present.len() as u32
}

#[test]
fn a_backup_taken_while_writes_go_on_restores_a_consistent_state() {
    let storage = MemStorage::new();
    let db = open(&storage, common::small_options()).expect("open");
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicU32::new(0));
    let writer = {
        let (db, stop, written) = (db.clone(), Arc::clone(&stop), Arc::clone(&written));
        std::thread::spawn(move || {
            let mut i = 0u32;
            while !stop.load(Ordering::SeqCst) {
                let mut batch = WriteBatch::new();
                batch.put(format!("k{i:08}a").as_bytes(), &value(i, 0)).expect("put");
                batch.put(format!("k{i:08}b").as_bytes(), &value(i, 0)).expect("put");
                db.write(batch, false).expect("write");
                i += 1;
                written.store(i, Ordering::SeqCst);
            }
        })
    };
    let wait_for = |n: u32| {
        while written.load(Ordering::SeqCst) < n {
            std::thread::yield_now();
        }
    };
    let backup_dir = PathBuf::from("/backup");
    let mut restored = Vec::new();
    for (round, at_least) in [(1, 500), (2, 3000)] {
        wait_for(at_least);
        backup(&db, &storage, &backup_dir, &mut |_, _| {}).expect("backup");
        let target = PathBuf::from(format!("/restored-{round}"));
        restore(&storage, &backup_dir, &target, &mut |_, _| {}).expect("restore");
        let copy = Db::open_with_storage(&target, Options::default(), mem_arc(&storage)).expect("open");
        restored.push(check_pairs(&copy));
        copy.close().expect("close");
    }
    stop.store(true, Ordering::SeqCst);
    writer.join().expect("writer");
    assert!(restored[0] >= 500 && restored[1] >= 3000 && restored[1] >= restored[0], "{restored:?}");
}

// ---------------------------------------------------------------------------------------------
// export / import

fn exchange_options() -> Options {
    Options { clock: fixed_clock, write_buffer_size_bytes: 64 * 1024, ..Options::default() }
}

fn put_expiring(db: &Db, key: &[u8], value: &[u8], expiry_ms: u64) {
    let mut batch = WriteBatch::new();
    batch.put_expiring(key, value, expiry_ms).expect("put");
    db.write(batch, false).expect("write");
}

/// A database with awkward keys and values, TTLs, overwrites and deletes, spread over
/// tables and the memtable.
fn awkward_database(storage: &MemStorage) -> Db {
    let db = open(storage, exchange_options()).expect("open");
    for i in 0..1500 {
        db.put(&key(i), &value(i, 0), false).expect("put");
    }
    db.flush().expect("flush");
    db.put(&[0xff, 0x00, 0x80, 0xfe], &[0x00, 0xc3, 0x28, 0xff, 0x0a], false).expect("binary");
    db.put(b"empty", b"", false).expect("empty value");
    db.put(
        "quote \" backslash \\ newline \n tab \t snowman \u{2603} nul \0".as_bytes(),
        b"{\"json\": \"?\"}\r\n",
        false,
    )
    .expect("awkward");
    db.put("ключ".as_bytes(), "значение 🎉".as_bytes(), false).expect("unicode");
    put_expiring(&db, b"ttl:future", b"still here", NOW_MS + 3_600_000);
    put_expiring(&db, b"ttl:binary", &[0xfe; 3], NOW_MS + 1);
    put_expiring(&db, b"ttl:past", b"expired", NOW_MS - 1);
    for i in (0..1500).step_by(9) {
        db.put(&key(i), &value(i, 1), false).expect("overwrite");
    }
    for i in (0..1500).step_by(10) {
        db.delete(&key(i), false).expect("delete");
    }
    db
}

fn round_trip(format: ExchangeFormat, file_name: &str) {
    let storage = MemStorage::new();
    let db = awkward_database(&storage);
    let expected = dump(&db);
    assert!(expected.iter().any(|e| e.0 == b"ttl:future" && e.2 == NOW_MS + 3_600_000));
    assert!(!expected.iter().any(|e| e.0 == b"ttl:past"), "an expired entry is not live");
    let path = PathBuf::from("/exports").join(file_name);
    let exported = export(&db, &storage, &path, format, &mut no_progress).expect("export");
    assert_eq!(exported.entries, expected.len() as u64);
    assert_eq!(exported.bytes, storage.file_bytes(&path).expect("export file").len() as u64);

    let target = PathBuf::from("/imported");
    let fresh = Db::open_with_storage(&target, exchange_options(), mem_arc(&storage)).expect("open");
    // Without a format, the file's first bytes tell.
    let imported = import(&fresh, &storage, &path, None, &mut no_progress).expect("import");
    assert_eq!(imported.entries, expected.len() as u64);
    assert_eq!(dump(&fresh), expected, "identical keys, values and expiry times");
    assert_no_import_runs(&storage, &target);
    fresh.close().expect("close");
    let fresh = Db::open_with_storage(&target, exchange_options(), mem_arc(&storage)).expect("reopen");
    assert_eq!(dump(&fresh), expected, "after reopening");
}

#[test]
fn ndjson_export_and_import_round_trip_every_key_value_and_expiry() {
    round_trip(ExchangeFormat::Ndjson, "data.ndjson");
}

#[test]
fn bdb_export_and_import_round_trip_every_key_value_and_expiry() {
    round_trip(ExchangeFormat::Bdb, "data.bdb");
}

fn write_file(storage: &MemStorage, path: &Path, bytes: &[u8]) {
    let mut file = storage.create(path).expect("create");
    file.append(bytes).expect("append");
    file.sync_data().expect("sync");
}

#[test]
fn ndjson_import_sorts_and_the_last_line_for_a_key_wins() {
    let storage = MemStorage::new();
    let db = open(&storage, exchange_options()).expect("open");
    db.put(b"b", b"before the import", false).expect("put");
    db.put(b"z", b"untouched", false).expect("put");
    let path = PathBuf::from("/in.ndjson");
    let text = concat!(
        "{\"key\":\"b\",\"value\":\"first b\"}\n",
        "{\"key\":\"c\",\"value\":\"c\",\"expires\":1800000000000}\r\n",
        "\n",
        "{\"key\":\"a\",\"value\":\"a\"}\n",
        "{\"key\":\"AAE=\",\"keyEncoding\":\"base64\",\"value\":\"/wA=\",\"valueEncoding\":\"base64\"}\n",
        "{\"key\":\"b\",\"value\":\"last b\"}\n",
        "{\"key\":\"a\",\"value\":\"last a\",\"valueEncoding\":\"utf8\"}"
    );
    write_file(&storage, &path, text.as_bytes());
    let report = import(&db, &storage, &path, Some(ExchangeFormat::Ndjson), &mut no_progress).expect("import");
    assert_eq!(report.entries, 4, "one entry per distinct key");
    assert_eq!(report.bytes, text.len() as u64);
    let expected: Dump = vec![
        (vec![0x00, 0x01], vec![0xff, 0x00], 0),
        (b"a".to_vec(), b"last a".to_vec(), 0),
        (b"b".to_vec(), b"last b".to_vec(), 0),
        (b"c".to_vec(), b"c".to_vec(), 1_800_000_000_000),
        (b"z".to_vec(), b"untouched".to_vec(), 0),
    ];
    assert_eq!(dump(&db), expected);
}

#[test]
fn a_malformed_line_or_a_damaged_bdb_file_imports_nothing() {
    let storage = MemStorage::new();
    // One flushed table and no compaction due, so the table files change only by an import.
    let db = open(&storage, Options { write_buffer_size_bytes: 1 << 20, ..exchange_options() }).expect("open");
    for i in 0..300 {
        db.put(&key(i), &value(i, 0), false).expect("put");
    }
    // An import flushes the memtable first; flushed now, so any table after this is the import's.
    db.flush().expect("flush");
    let before = dump(&db);
    let tables_before = files_with(&storage, ".sst");

    let path = PathBuf::from("/bad.ndjson");
    let good = "{\"key\":\"new-1\",\"value\":\"x\"}\n{\"key\":\"key00000001\",\"value\":\"overwritten\"}\n";
    let bad_line = "{\"key\":\"new-2\",\"value\":}\n";
    let text = format!("{good}{bad_line}{{\"key\":\"new-3\",\"value\":\"y\"}}\n");
    write_file(&storage, &path, text.as_bytes());
    match import(&db, &storage, &path, None, &mut no_progress) {
        Err(Error::Corruption { file, offset, .. }) => {
            assert!(file.contains("bad.ndjson"), "{file}");
            assert_eq!(offset, good.len() as u64, "the offset of the malformed line");
        }
        other => panic!("expected Corruption, got {other:?}"),
    }
    assert_eq!(dump(&db), before, "nothing was written");
    assert_no_import_runs(&storage, &dir());

    // A line that is JSON but not an entry is refused just the same.
    write_file(&storage, &path, b"{\"key\":\"fine\",\"value\":\"v\"}\n{\"key\":\"\",\"value\":\"empty key\"}\n");
    assert!(matches!(import(&db, &storage, &path, None, &mut no_progress), Err(Error::Corruption { .. })));
    write_file(
        &storage,
        &path,
        b"{\"key\":\"fine\",\"value\":\"v\"}\n{\"key\":\"k\",\"value\":\"v\",\"expires\":-5}\n",
    );
    assert!(matches!(import(&db, &storage, &path, None, &mut no_progress), Err(Error::Corruption { .. })));
    assert_eq!(dump(&db), before);

    // A damaged .bdb export.
    let source = MemStorage::new();
    let other = awkward_database(&source);
    let bdb = PathBuf::from("/export.bdb");
    export(&other, &storage, &bdb, ExchangeFormat::Bdb, &mut no_progress).expect("export");
    let len = storage.file_bytes(&bdb).expect("bdb").len();
    for offset in [len / 3, len / 2, len - 50] {
        let original = flip(&storage, &bdb, offset);
        assert!(
            matches!(import(&db, &storage, &bdb, None, &mut no_progress), Err(Error::Corruption { .. })),
            "flip at {offset} of {len}"
        );
        storage.set_file_bytes(&bdb, original);
        assert_eq!(dump(&db), before, "nothing was written (flip at {offset})");
    }
    assert_eq!(files_with(&storage, ".sst"), tables_before, "no table was added");
    // Undamaged, it imports.
    let report = import(&db, &storage, &bdb, None, &mut no_progress).expect("import");
    assert_eq!(report.entries, dump(&other).len() as u64);
}

/// A `MemStorage` that records the names of files created through it (to see an import's
/// temporary runs) and fails to remove the files named in `keep`.
#[derive(Clone)]
struct Wrapped {
    inner: MemStorage,
    created: Arc<parking_lot::Mutex<Vec<String>>>,
    keep: Arc<parking_lot::Mutex<Vec<String>>>,
}

impl Wrapped {
    fn new(inner: MemStorage) -> Self {
        Self { inner, created: Arc::default(), keep: Arc::default() }
    }
}

impl Storage for Wrapped {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        self.inner.create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        self.inner.list_dir(dir)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.created.lock().push(name_of(path));
        self.inner.create(path)
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        self.inner.open_append(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadableFile>> {
        self.inner.open_read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.inner.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        if self.keep.lock().contains(&name_of(path)) {
            return Err(io::Error::other("injected: the file cannot be removed"));
        }
        self.inner.remove(path)
    }
    fn truncate(&self, path: &Path, len_bytes: u64) -> io::Result<()> {
        self.inner.truncate(path, len_bytes)
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.inner.sync_dir(dir)
    }
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn LockHandle>>> {
        self.inner.lock(path)
    }
}

fn big_value(i: u32) -> String {
    let unit = format!("<{i:05}:{}>", i.wrapping_mul(2_654_435_761));
    unit.repeat(64 * 1024 / unit.len())
}

#[test]
fn an_import_larger_than_a_sort_run_spills_and_merges_correctly() {
    const ENTRIES: u32 = 680; // ~44 MiB of values: more than one 32 MiB sort run
    let recording = Wrapped::new(MemStorage::new());
    let db = Db::open_with_storage(dir(), exchange_options(), Arc::new(recording.clone())).expect("open");
    let mut text = String::with_capacity(ENTRIES as usize * 66 * 1024);
    text.push_str("{\"key\":\"dup\",\"value\":\"from the first run\"}\n");
    for i in (0..ENTRIES).rev() {
        text.push_str(&format!("{{\"key\":\"big{i:05}\",\"value\":\"{}\"}}\n", big_value(i)));
    }
    text.push_str("{\"key\":\"dup\",\"value\":\"from the last run\"}\n");
    let path = PathBuf::from("/big.ndjson");
    write_file(&recording.inner, &path, text.as_bytes());
    drop(text);

    let report = import(&db, &recording, &path, None, &mut no_progress).expect("import");
    assert_eq!(report.entries, u64::from(ENTRIES) + 1);
    let runs = recording.created.lock().iter().filter(|n| n.starts_with("import-run-")).count();
    assert!(runs >= 2, "the import should spill several sorted runs, made {runs}");
    assert_no_import_runs(&recording, &dir());
    assert_eq!(db.get(b"dup").expect("get"), Some(b"from the last run".to_vec()), "the last line wins across runs");
    let mut count = 0;
    let mut iter = db.iter(IterOptions::default().with_prefix(b"big"), None).expect("iter");
    while let Some((k, v)) = iter.next_entry().expect("next") {
        assert_eq!(k, format!("big{count:05}").into_bytes());
        assert!(v == big_value(count).as_bytes(), "value of big{count:05}");
        count += 1;
    }
    assert_eq!(count, ENTRIES);
}

#[test]
fn an_import_is_invisible_to_older_snapshots_and_durable_once_it_returns() {
    let storage = MemStorage::new();
    let db = open(&storage, exchange_options()).expect("open");
    db.put(b"hot", b"old", false).expect("put");
    db.put(b"other", b"kept", false).expect("put");
    db.flush().expect("flush");
    for _ in 0..20 {
        assert_eq!(db.get(b"hot").expect("get"), Some(b"old".to_vec()), "read often: cached as hot");
    }
    db.put(b"unflushed", b"in the memtable", false).expect("put");
    let snapshot = db.snapshot().expect("snapshot");
    let before = dump(&db);

    let path = PathBuf::from("/in.ndjson");
    let mut text = String::from("{\"key\":\"hot\",\"value\":\"new\"}\n");
    for i in 0..500 {
        text.push_str(&format!("{{\"key\":\"imported{i:04}\",\"value\":\"{i}\"}}\n"));
    }
    write_file(&storage, &path, text.as_bytes());
    let report = import(&db, &storage, &path, Some(ExchangeFormat::Ndjson), &mut no_progress).expect("import");
    assert_eq!(report.entries, 501);

    assert_eq!(db.get(b"hot").expect("get"), Some(b"new".to_vec()), "the import replaces a hot value");
    assert_eq!(db.get(b"imported0499").expect("get"), Some(b"499".to_vec()));
    assert_eq!(db.get_at(b"hot", Some(&snapshot)).expect("get"), Some(b"old".to_vec()));
    assert_eq!(db.get_at(b"imported0000", Some(&snapshot)).expect("get"), None);
    let mut at_snapshot = Vec::new();
    let mut iter = db.iter(IterOptions::default(), Some(&snapshot)).expect("iter");
    while let Some((k, v)) = iter.next_entry().expect("next") {
        at_snapshot.push((k, v, 0));
    }
    assert_eq!(at_snapshot, before, "a snapshot from before the import sees none of it");
    drop(iter);
    drop(snapshot);

    let mut expected = before.clone();
    expected.retain(|e| e.0 != b"hot");
    expected.push((b"hot".to_vec(), b"new".to_vec(), 0));
    expected.extend((0..500).map(|i| (format!("imported{i:04}").into_bytes(), i.to_string().into_bytes(), 0)));
    expected.sort();
    assert_eq!(dump(&db), expected);

    // The import synced its table and the MANIFEST: a power loss right after keeps it all.
    let after_loss = storage.power_loss();
    let reopened = open(&after_loss, exchange_options()).expect("open after power loss");
    assert_eq!(dump(&reopened), expected);
    reopened.close().expect("close");
    db.close().expect("close");
    let reopened = open(&storage, exchange_options()).expect("reopen");
    assert_eq!(dump(&reopened), expected);
}

// ---------------------------------------------------------------------------------------------
// events

#[test]
fn flushes_and_compactions_are_reported_once_as_events() {
    const KEYS: u32 = 3000;
    let storage = MemStorage::new();
    let db = open(&storage, common::small_options()).expect("open");
    assert!(db.drain_events().is_empty(), "a new database has done nothing yet");
    for i in 0..KEYS {
        db.put(&key(i), &value(i, 0), false).expect("put");
    }
    db.flush().expect("flush");
    db.compact(None, None).expect("compact");
    let events = db.drain_events();
    let flushed: u64 = events
        .iter()
        .filter_map(|e| match e {
            Event::Flush { entries, bytes, .. } => {
                assert!(*bytes > 0);
                Some(*entries)
            }
            Event::Compaction { .. } => None,
        })
        .sum();
    assert_eq!(flushed, u64::from(KEYS), "every key was flushed exactly once: {events:?}");
    assert!(events.iter().filter(|e| matches!(e, Event::Flush { .. })).count() >= 2, "{events:?}");
    assert!(
        events.iter().any(|e| matches!(
            e,
            Event::Compaction { input_tables, output_tables, input_bytes, output_bytes, output_level }
                if *input_tables >= 2 && *output_tables >= 1 && *input_bytes > 0 && *output_bytes > 0 && *output_level >= 1
        )),
        "{events:?}"
    );
    assert!(db.drain_events().is_empty(), "a second drain is empty");
    db.put(b"one more", b"v", false).expect("put");
    db.flush().expect("flush");
    assert!(matches!(db.drain_events().as_slice(), [Event::Flush { entries: 1, .. }]));
}

#[test]
fn an_import_becomes_visible_to_new_snapshots_and_hot_reads_together() {
    const OTHERS: u32 = 40_000;
    let storage = MemStorage::new();
    let db = open(&storage, exchange_options()).expect("open");
    // Sorted first in the import, so HOT drops it early and the rest of the table takes long.
    let hot: &[u8] = b"a-hot";
    let mut text = String::new();
    for i in 0..OTHERS {
        text.push_str(&format!("{{\"key\":\"z{i:06}\",\"value\":\"{i}\"}}\n"));
    }
    let path = PathBuf::from("/in.ndjson");
    for round in 0..3u32 {
        let old = format!("old {round}").into_bytes();
        let new = format!("new {round}").into_bytes();
        db.put(hot, &old, false).expect("put");
        db.flush().expect("flush");
        for _ in 0..20 {
            assert_eq!(db.get(hot).expect("get"), Some(old.clone()));
        }
        write_file(&storage, &path, format!("{text}{{\"key\":\"a-hot\",\"value\":\"new {round}\"}}\n").as_bytes());
        let before = db.snapshot().expect("snapshot").sequence();
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (db, stop, old) = (db.clone(), Arc::clone(&stop), old.clone());
            std::thread::spawn(move || {
                let mut stale_snapshots = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let _ = db.get(hot).expect("get"); // keeps it hot, offers what it reads
                    let snapshot = db.snapshot().expect("snapshot");
                    if db.get_at(hot, Some(&snapshot)).expect("get") == Some(old.clone()) {
                        stale_snapshots.push(snapshot.sequence());
                    }
                }
                stale_snapshots
            })
        };
        import(&db, &storage, &path, None, &mut no_progress).expect("import");
        stop.store(true, Ordering::SeqCst);
        let stale = reader.join().expect("reader");
        let bad: Vec<u64> = stale.into_iter().filter(|&seq| seq > before).collect();
        assert!(bad.is_empty(), "round {round}: snapshots taken after the import began to count saw the old value");
        for _ in 0..5 {
            assert_eq!(db.get(hot).expect("get"), Some(new.clone()), "round {round}: a stale HOT value");
        }
    }
}

/// An NDJSON file of `count` entries `prefix{i}` with 100 incompressible letters each.
fn incompressible_ndjson(prefix: &str, count: u32) -> String {
    let mut text = String::new();
    for i in 0..count {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(i);
        let v: String = (0..100)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        text.push_str(&format!("{{\"key\":\"{prefix}{i:06}\",\"value\":\"{v}\"}}\n"));
    }
    text
}

#[test]
fn an_in_memory_database_keeps_its_memory_limit_through_an_import_and_backs_up() {
    const LIMIT: u64 = 256 * 1024;
    let storage = MemStorage::new();
    let options = Options { wal_disabled: true, memory_bytes_max: Some(LIMIT), ..Options::default() };
    let db = Db::open_with_storage("/ultra", options.clone(), mem_arc(&storage)).expect("open");
    db.put(b"a", b"b", false).expect("put");
    let path = PathBuf::from("/in.ndjson");
    write_file(&storage, &path, incompressible_ndjson("big", 5000).as_bytes()); // ~600 KB of tables
    let before = dump(&db);
    let tables_before =
        storage.list_dir(Path::new("/ultra")).expect("list").iter().filter(|n| n.ends_with(".sst")).count();
    match import(&db, &storage, &path, None, &mut no_progress) {
        Err(Error::Full { limit_bytes, .. }) => assert_eq!(limit_bytes, LIMIT),
        other => panic!("expected Full, got {other:?}"),
    }
    assert_eq!(dump(&db), before, "nothing was imported");
    assert!(db.memory_bytes() <= LIMIT);
    let tables_after =
        storage.list_dir(Path::new("/ultra")).expect("list").iter().filter(|n| n.ends_with(".sst")).count();
    assert!(tables_after <= tables_before + 1, "only the flushed memtable became a table");
    assert_no_import_runs(&storage, Path::new("/ultra"));

    write_file(&storage, &path, incompressible_ndjson("small", 500).as_bytes());
    let report = import(&db, &storage, &path, None, &mut no_progress).expect("an import that fits");
    assert_eq!(report.entries, 500);
    assert!(db.memory_bytes() <= LIMIT);
    let expected = dump(&db);
    assert_eq!(expected.len(), 501);

    // Backed up, it restores as an ordinary database.
    backup(&db, &storage, Path::new("/backup"), &mut |_, _| {}).expect("backup");
    restore(&storage, Path::new("/backup"), Path::new("/restored"), &mut |_, _| {}).expect("restore");
    let restored = Db::open_with_storage("/restored", Options::default(), mem_arc(&storage)).expect("open");
    assert_eq!(dump(&restored), expected);
}

/// A later WAL whose records go back in sequence (crafted, or files mixed up from another
/// database) is damage to report, not a reason to panic: repair stops that WAL there.
#[test]
fn repair_reports_a_later_wal_whose_sequence_numbers_go_back() {
    let storage = MemStorage::new();
    let db = open(&storage, Options::default()).unwrap();
    for i in 0..10 {
        db.put(&key(i), &value(i, 1), false).unwrap();
    }
    let crashed = storage.process_crash();
    drop(db);
    let mut batch = WriteBatch::new();
    batch.put(&key(3), b"from the past").unwrap();
    let number = highest_file_number(&crashed, &dir()) + 5;
    let mut bytes = Vec::new();
    browserdb::engine::wal::encode_record(&mut bytes, number, 1, batch.payload());
    let mut file = crashed.create(&files::path(&dir(), number, FileKind::Wal)).unwrap();
    file.append(&bytes).unwrap();
    file.sync_data().unwrap();
    drop(file);
    let report = repair(&dir(), &Options::default(), mem_arc(&crashed)).expect("repair reports, never panics");
    assert!(report.problems.iter().any(|p| p.file == format!("{number:06}.wal")), "{report:?}");
    let db = open(&crashed, Options::default()).unwrap();
    for i in 0..10 {
        assert_eq!(db.get(&key(i)).unwrap(), Some(value(i, 1)));
    }
}

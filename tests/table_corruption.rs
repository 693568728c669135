//! Claim (DESIGN promise 3): a damaged table never yields wrong data. A flipped byte anywhere
//! in a table is caught at open (header, footer, filter, index) or by the read that touches
//! the damaged block, as `Corruption` naming the table file.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Error, Options};
use common::{files_with, key, open, value};

const KEYS: u32 = 400;

fn build_table(compression: browserdb::engine::Compression) -> (MemStorage, std::path::PathBuf) {
    let storage = MemStorage::new();
    let options = Options { compression, ..Options::default() };
    let db = open(&storage, options).unwrap();
    for i in 0..KEYS {
        db.put(&key(i), &value(i, 0), false).unwrap();
    }
    db.close().unwrap();
    let table = files_with(&storage, ".sst").pop().unwrap();
    (storage, table)
}

/// Opens and reads every key; returns whether any corruption was reported.
fn detects_damage(storage: &MemStorage, table_name: &str, offset: usize) -> bool {
    let db = match open(storage, Options::default()) {
        Err(Error::Corruption { file, .. }) => {
            assert!(file.contains(table_name), "flip at {offset}: corruption names {file}");
            return true;
        }
        Err(e) => panic!("flip at {offset}: open failed with {e:?}, not Corruption"),
        Ok(db) => db,
    };
    let mut detected = false;
    for i in 0..KEYS {
        match db.get(&key(i)) {
            Ok(Some(v)) => assert_eq!(v, value(i, 0), "flip at {offset}: wrong value for key {i}"),
            Ok(None) => panic!("flip at {offset}: key {i} vanished without an error"),
            Err(Error::Corruption { file, .. }) => {
                assert!(file.contains(table_name));
                detected = true;
            }
            Err(e) => panic!("flip at {offset}: unexpected {e:?}"),
        }
    }
    detected
}

fn every_flip_is_detected(compression: browserdb::engine::Compression, stride: usize) {
    let (storage, table) = build_table(compression);
    let name = table.file_name().unwrap().to_str().unwrap().to_string();
    let original = storage.file_bytes(&table).unwrap();
    for offset in (0..original.len()).step_by(stride) {
        let mut damaged = original.clone();
        damaged[offset] ^= 0x20;
        let copy = storage.process_crash();
        copy.set_file_bytes(&table, damaged);
        assert!(detects_damage(&copy, &name, offset), "flip at {offset} of {} went unnoticed", original.len());
    }
}

#[test]
fn flips_in_an_lz4_table_are_detected() {
    every_flip_is_detected(browserdb::engine::Compression::Lz4, 7);
}

#[test]
fn flips_in_an_uncompressed_table_are_detected() {
    every_flip_is_detected(browserdb::engine::Compression::None, 11);
}

#[test]
fn a_truncated_table_is_refused_at_open() {
    let (storage, table) = build_table(browserdb::engine::Compression::Lz4);
    let original = storage.file_bytes(&table).unwrap();
    for cut in [0, 10, original.len() / 2, original.len() - 1] {
        let copy = storage.process_crash();
        copy.set_file_bytes(&table, original[..cut].to_vec());
        common::assert_corruption(open(&copy, Options::default()).map(|_| ()), ".sst");
    }
}

#[test]
fn a_missing_table_is_corruption() {
    use browserdb::engine::storage::Storage;
    let (storage, table) = build_table(browserdb::engine::Compression::Lz4);
    storage.remove(&table).unwrap();
    common::assert_corruption(open(&storage, Options::default()).map(|_| ()), ".sst");
}

#[test]
fn a_damaged_manifest_is_refused() {
    let (storage, _) = build_table(browserdb::engine::Compression::Lz4);
    let manifest = common::dir().join("MANIFEST");
    let original = storage.file_bytes(&manifest).unwrap();
    for offset in 0..original.len() {
        let copy = storage.process_crash();
        let mut damaged = original.clone();
        damaged[offset] ^= 0x04;
        copy.set_file_bytes(&manifest, damaged);
        common::assert_corruption(open(&copy, Options::default()).map(|_| ()), "MANIFEST");
    }
}

#[test]
fn every_header_and_footer_byte_is_checked() {
    let (storage, table) = build_table(browserdb::engine::Compression::Lz4);
    let name = table.file_name().unwrap().to_str().unwrap().to_string();
    let original = storage.file_bytes(&table).unwrap();
    let ends = (0..40).chain(original.len() - 96..original.len());
    for offset in ends {
        let mut damaged = original.clone();
        damaged[offset] ^= 0x01;
        let copy = storage.process_crash();
        copy.set_file_bytes(&table, damaged);
        match open(&copy, Options::default()) {
            Err(Error::Corruption { file, .. }) => assert!(file.contains(&name)),
            other => panic!("flip at {offset} of the header or footer: {:?}", other.map(|_| ())),
        }
    }
}

#[test]
fn a_failing_disk_is_an_io_error_not_corruption() {
    let (storage, _) = build_table(browserdb::engine::Compression::Lz4);
    let db = open(&storage, Options::default()).unwrap();
    storage.fail_reads(true);
    let err = db.get(&key(1)).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert_eq!(err.code(), "BROWSERDB_IO");
    storage.fail_reads(false);
    assert_eq!(db.get(&key(1)).unwrap(), Some(value(1, 0)));
}

//! Claim (DESIGN "On disk", WAL): a torn tail of the newest WAL is truncated and every
//! record before it survives; an invalid record followed by a valid one, or damage in an
//! older WAL, is corruption and `open` rejects.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Options, WriteBatch};
use common::{assert_corruption, files_with, key, open, value};

/// Writes 20 single puts and 5 batches of 4 (records 20..25) without closing.
fn write_records(storage: &MemStorage) -> Vec<usize> {
    let db = open(storage, Options::default()).unwrap();
    let wal = files_with(storage, ".wal").pop().unwrap();
    let mut ends = Vec::new();
    for i in 0..20 {
        db.put(&key(i), &value(i, 0), false).unwrap();
        ends.push(storage.file_bytes(&wal).unwrap().len());
    }
    for b in 0..5u32 {
        let mut batch = WriteBatch::new();
        for j in 0..4 {
            batch.put(&key(100 + b * 4 + j), &value(b, j)).unwrap();
        }
        db.write(batch, false).unwrap();
        ends.push(storage.file_bytes(&wal).unwrap().len());
    }
    drop(db);
    ends
}

#[test]
fn truncation_at_every_offset_of_the_last_records_keeps_the_prefix() {
    let storage = MemStorage::new();
    let ends = write_records(&storage);
    let wal = files_with(&storage, ".wal").pop().unwrap();
    let full = storage.file_bytes(&wal).unwrap();
    let first_checked = ends[15];
    for cut in first_checked..=full.len() {
        let crashed = storage.process_crash();
        crashed.set_file_bytes(&wal, full[..cut].to_vec());
        let db = open(&crashed, Options::default()).unwrap();
        let complete = ends.iter().filter(|&&e| e <= cut).count();
        for (record, _) in ends.iter().enumerate() {
            let present = record < complete;
            if record < 20 {
                let got = db.get(&key(record as u32)).unwrap();
                assert_eq!(got, present.then(|| value(record as u32, 0)), "cut {cut}, record {record}");
            } else {
                let b = (record - 20) as u32;
                for j in 0..4 {
                    let got = db.get(&key(100 + b * 4 + j)).unwrap();
                    assert_eq!(got, present.then(|| value(b, j)), "cut {cut}, batch {b} op {j}: batches are whole");
                }
            }
        }
        // The torn tail is gone from disk, so a second open agrees.
        assert_eq!(
            crashed.file_bytes(&wal).unwrap().len(),
            ends.iter().copied().filter(|&e| e <= cut).max().unwrap_or(0)
        );
        db.close().unwrap();
    }
}

#[test]
fn damage_followed_by_a_valid_record_is_corruption() {
    let storage = MemStorage::new();
    let ends = write_records(&storage);
    let wal = files_with(&storage, ".wal").pop().unwrap();
    let mut bytes = storage.file_bytes(&wal).unwrap();
    bytes[ends[3] + 30] ^= 0x40; // inside record 4's payload; records 5.. are valid
    storage.set_file_bytes(&wal, bytes);
    let result = open(&storage, Options::default());
    assert_corruption(result.map(|_| ()), ".wal");
}

#[test]
fn a_zeroed_tail_is_a_torn_tail() {
    let storage = MemStorage::new();
    let ends = write_records(&storage);
    let wal = files_with(&storage, ".wal").pop().unwrap();
    let mut bytes = storage.file_bytes(&wal).unwrap();
    bytes.extend_from_slice(&[0u8; 4096]);
    storage.set_file_bytes(&wal, bytes);
    let db = open(&storage, Options::default()).unwrap();
    assert_eq!(db.get(&key(19)).unwrap(), Some(value(19, 0)));
    assert_eq!(storage.file_bytes(&wal).unwrap().len(), *ends.last().unwrap());
}

#[test]
fn damage_in_an_older_wal_is_corruption() {
    use browserdb::engine::storage::Storage;
    let storage = MemStorage::new();
    write_records(&storage);
    let wal = files_with(&storage, ".wal").pop().unwrap();
    let number: u64 = wal.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    // A newer WAL with one valid record makes the damaged one an older, already synced WAL.
    let mut batch = WriteBatch::new();
    batch.put(b"newer", b"wal").unwrap();
    let mut record = Vec::new();
    browserdb::engine::wal::encode_record(&mut record, number + 1, 1000, batch.payload());
    let newer = browserdb::engine::files::path(&common::dir(), number + 1, browserdb::engine::files::FileKind::Wal);
    let mut file = storage.create(&newer).unwrap();
    file.append(&record).unwrap();
    drop(file);
    // Undamaged, both replay.
    let db = open(&storage.process_crash(), Options::default()).unwrap();
    assert_eq!(db.get(b"newer").unwrap(), Some(b"wal".to_vec()));
    assert_eq!(db.get(&key(0)).unwrap(), Some(value(0, 0)));
    drop(db);
    // A torn tail in the older WAL is not forgiven.
    let mut bytes = storage.file_bytes(&wal).unwrap();
    bytes.truncate(bytes.len() - 3);
    storage.set_file_bytes(&wal, bytes);
    assert_corruption(open(&storage, Options::default()).map(|_| ()), &common::path_str(&wal));
}

#[test]
fn a_whole_record_with_wrong_contents_at_the_tail_is_corruption_not_a_torn_tail() {
    let storage = MemStorage::new();
    write_records(&storage);
    let wal = files_with(&storage, ".wal").pop().unwrap();
    let number: u64 = wal.file_stem().unwrap().to_str().unwrap().parse().unwrap();
    let mut batch = WriteBatch::new();
    batch.put(b"late", b"record").unwrap();
    for (log, seq, why) in
        [(number + 7, 10_000, "another log's record"), (number, 1, "a sequence number going backwards")]
    {
        let mut bytes = storage.file_bytes(&wal).unwrap();
        browserdb::engine::wal::encode_record(&mut bytes, log, seq, batch.payload());
        let copy = storage.process_crash();
        copy.set_file_bytes(&wal, bytes);
        match open(&copy, Options::default()) {
            Err(browserdb::engine::Error::Corruption { .. }) => {}
            other => panic!("{why} at the tail was accepted: {:?}", other.map(|_| ())),
        }
    }
}

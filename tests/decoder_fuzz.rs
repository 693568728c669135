//! Claim (issue 9; DESIGN promise 3): every decoder of bytes that come from disk or from a
//! user's file — WAL records (`wal::scan`), batch payloads (`batch::decode_payload`), blocks
//! (`decode_stored`, `Block::new` and its iterator), table headers and footers, whole tables
//! (`Table::open`), the MANIFEST, the `BACKUP` description (through `restore`) and export
//! files (through `import`, NDJSON and `.bdb`) — answers an error or a valid value for any
//! input, never panics, never loops, and never allocates more than the input justifies.
//!
//! Inputs are arbitrary bytes, and valid encodings with random mutations (bit flips, byte
//! overwrites, huge length fields, truncation, insertion, removal). Mutated encodings are
//! tried twice: as they are (the checksum must catch the change), and with their checksum
//! recomputed, so the parser behind the checksum sees the damage too (a crafted file).
//!
//! A counting global allocator records the largest single allocation on the test's thread,
//! so "a huge length field in a short buffer is rejected without allocating it" is checked,
//! not assumed. `BROWSERDB_FUZZ_CASES` scales the case counts for long runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use browserdb::engine::batch::decode_payload;
use browserdb::engine::cache::BlockCache;
use browserdb::engine::key::{Kind, Lookup, KEY_SIZE_BYTES_MAX, SEQUENCE_MAX, VALUE_SIZE_BYTES_MAX};
use browserdb::engine::maintenance::{backup, export, import, restore, ExchangeFormat};
use browserdb::engine::manifest::{self, Manifest};
use browserdb::engine::storage::{MemStorage, Storage};
use browserdb::engine::table::block::{decode_stored, encode_stored, Block, BlockBuilder};
use browserdb::engine::table::compress::{decompress, BLOCK_RAW_BYTES_MAX};
use browserdb::engine::table::format::{
    BlockHandle, Footer, Header, BLOCK_TRAILER_BYTES, FLAGS_KNOWN, FOOTER_BYTES, HEADER_BYTES, MAGIC,
};
use browserdb::engine::table::{ExpiryProfile, Table, TableBuilder, TableMeta};
use browserdb::engine::wal::{encode_record, scan, RECORD_HEADER_BYTES};
use browserdb::engine::{Compression, Db, Error, IterOptions, Options, PageEnd, WriteBatch};
use common::{dump, Dump};
use proptest::prelude::*;
use proptest::sample::Index;

// ---------------------------------------------------------------------------------------------
// The largest allocation made by this thread while a decoder runs.

struct Tracking;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|largest| {
        if size > largest.get() {
            largest.set(size);
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; `note` only reads and
// writes a thread-local `Cell<usize>` (const-initialised, no destructor), which allocates nothing.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` and returns its result with the largest single allocation it made on this thread.
fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    let result = f();
    (result, LARGEST.with(Cell::get))
}

/// What a decoder of `input_len` bytes may allocate at once: a small multiple of its input.
fn proportional(input_len: usize) -> usize {
    64 * input_len + 64 * 1024
}

// ---------------------------------------------------------------------------------------------
// Mutations.

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Overwrite(Index, Vec<u8>),
    /// Four bytes of 0xff: a length or count field claiming ~4 GiB.
    HugeU32(Index),
    /// Eight bytes of 0xff.
    HugeU64(Index),
    /// A 9-byte varint encoding ~2^63.
    HugeVarint(Index),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Remove(Index, usize),
}

impl Mutation {
    /// Whether the mutation keeps every byte's offset (or only cuts the tail off).
    fn keeps_offsets(&self) -> bool {
        !matches!(self, Self::Insert(..) | Self::Remove(..))
    }
}

/// Mutations that change bytes in place (every offset stays valid).
fn in_place_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        3 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Mutation::Overwrite(i, b)),
        2 => any::<Index>().prop_map(Mutation::HugeU32),
        1 => any::<Index>().prop_map(Mutation::HugeU64),
        1 => any::<Index>().prop_map(Mutation::HugeVarint),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        15 => in_place_mutation(),
        2 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), proptest::collection::vec(any::<u8>(), 1..32)).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => (any::<Index>(), 1..64usize).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(mutation(), 1..4)
}

/// In-place mutations only (so handles and frames elsewhere in the file stay put).
fn offset_keeping_mutations() -> impl Strategy<Value = Vec<Mutation>> {
    proptest::collection::vec(in_place_mutation(), 1..4)
}

fn overwrite(bytes: &mut [u8], at: usize, with: &[u8]) {
    for (i, b) in with.iter().enumerate() {
        if let Some(slot) = bytes.get_mut(at + i) {
            *slot = *b;
        }
    }
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match m {
        Mutation::Insert(i, with) => {
            let at = i.index(len + 1);
            bytes.splice(at..at, with.iter().copied());
        }
        _ if len == 0 => {}
        Mutation::Flip(i, x) => bytes[i.index(len)] ^= x,
        Mutation::Set(i, b) => bytes[i.index(len)] = *b,
        Mutation::Overwrite(i, with) => overwrite(bytes, i.index(len), with),
        Mutation::HugeU32(i) => overwrite(bytes, i.index(len), &[0xff; 4]),
        Mutation::HugeU64(i) => overwrite(bytes, i.index(len), &[0xff; 8]),
        Mutation::HugeVarint(i) => {
            overwrite(bytes, i.index(len), &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        }
        Mutation::Truncate(i) => bytes.truncate(i.index(len)),
        Mutation::Remove(i, n) => {
            let at = i.index(len);
            bytes.drain(at..(at + n).min(len));
        }
    }
}

fn mutated(bytes: &[u8], ms: &[Mutation]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for m in ms {
        apply(&mut out, m);
    }
    out
}

fn cases(default: u32) -> u32 {
    std::env::var("BROWSERDB_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn config(default_cases: u32) -> ProptestConfig {
    ProptestConfig { cases: cases(default_cases), failure_persistence: None, ..ProptestConfig::default() }
}

// ---------------------------------------------------------------------------------------------
// Batch payloads and WAL records.

/// An operation as owned data: kind byte, stored key, expiry, value.
type OwnedOp = (u8, Vec<u8>, u64, Vec<u8>);

#[derive(Debug, Clone)]
enum UserOp {
    Put(Vec<u8>, Vec<u8>),
    Delete(Vec<u8>),
    PutExpiring(Vec<u8>, Vec<u8>, u64),
}

fn user_key() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![3 => b'a'..=b'd', 1 => any::<u8>()], 1..12)
}

fn user_op() -> impl Strategy<Value = UserOp> {
    let value = proptest::collection::vec(any::<u8>(), 0..40);
    prop_oneof![
        4 => (user_key(), value.clone()).prop_map(|(k, v)| UserOp::Put(k, v)),
        2 => user_key().prop_map(UserOp::Delete),
        1 => (user_key(), value, any::<u64>()).prop_map(|(k, v, e)| UserOp::PutExpiring(k, v, e)),
    ]
}

fn batch_of(ops: &[UserOp]) -> WriteBatch {
    let mut batch = WriteBatch::new();
    for op in ops {
        match op {
            UserOp::Put(k, v) => batch.put(k, v).unwrap(),
            UserOp::Delete(k) => batch.delete(k).unwrap(),
            UserOp::PutExpiring(k, v, e) => batch.put_expiring(k, v, *e).unwrap(),
        }
    }
    batch
}

fn expected_ops(ops: &[UserOp]) -> Vec<OwnedOp> {
    let stored = |k: &[u8]| [&[0u8][..], k].concat();
    ops.iter()
        .map(|op| match op {
            UserOp::Put(k, v) => (Kind::Put as u8, stored(k), 0, v.clone()),
            UserOp::Delete(k) => (Kind::Delete as u8, stored(k), 0, Vec::new()),
            UserOp::PutExpiring(k, v, e) => (Kind::PutWithExpiry as u8, stored(k), *e, v.clone()),
        })
        .collect()
}

fn owned(ops: &[browserdb::engine::batch::Op<'_>]) -> Vec<OwnedOp> {
    ops.iter().map(|o| (o.kind as u8, o.stored_key.to_vec(), o.expiry_ms, o.value.to_vec())).collect()
}

/// What any successfully decoded payload must satisfy.
fn check_decoded_ops(ops: &[browserdb::engine::batch::Op<'_>], payload_len: usize) -> Result<(), TestCaseError> {
    prop_assert!(ops.len() * 3 <= payload_len, "{} ops from {payload_len} bytes", ops.len());
    for op in ops {
        prop_assert!(
            (2..=KEY_SIZE_BYTES_MAX + 1).contains(&op.stored_key.len()),
            "stored key of {} bytes",
            op.stored_key.len()
        );
        prop_assert!(op.value.len() <= VALUE_SIZE_BYTES_MAX);
        if !op.kind.has_expiry() {
            prop_assert_eq!(op.expiry_ms, 0);
        }
        if !op.kind.has_value() {
            prop_assert!(op.value.is_empty());
        }
    }
    Ok(())
}

/// A WAL of several records: its bytes, each record's (offset, first_seq, ops).
struct Wal {
    bytes: Vec<u8>,
    records: Vec<(usize, u64, Vec<OwnedOp>)>,
    payloads: Vec<Vec<u8>>,
}

fn build_wal(log_number: u64, first_seq: u64, batches: &[Vec<UserOp>]) -> Wal {
    let mut wal = Wal { bytes: Vec::new(), records: Vec::new(), payloads: Vec::new() };
    let mut seq = first_seq;
    for ops in batches {
        let batch = batch_of(ops);
        let offset = wal.bytes.len();
        encode_record(&mut wal.bytes, log_number, seq, batch.payload());
        wal.records.push((offset, seq, expected_ops(ops)));
        wal.payloads.push(batch.payload().to_vec());
        seq += u64::from(batch.count());
    }
    wal
}

/// Scans and returns every applied record as (first_seq, ops), with the summary.
fn scan_all(
    bytes: &[u8],
    log: u64,
    newest: bool,
    min_seq: u64,
) -> (Vec<(u64, Vec<OwnedOp>)>, browserdb::engine::wal::WalScan) {
    let mut applied = Vec::new();
    let summary = scan(bytes, log, newest, min_seq, |seq, ops| applied.push((seq, owned(ops))));
    (applied, summary)
}

fn check_scan_summary(
    bytes: &[u8],
    applied: &[(u64, Vec<OwnedOp>)],
    s: &browserdb::engine::wal::WalScan,
    min_seq: u64,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(s.records as usize, applied.len());
    prop_assert!(s.valid_bytes as usize <= bytes.len());
    match &s.stop {
        None => prop_assert_eq!(s.valid_bytes as usize, bytes.len()),
        Some(stop) => prop_assert_eq!(stop.offset, s.valid_bytes),
    }
    let mut next = min_seq;
    for (seq, ops) in applied {
        prop_assert!(*seq >= next, "sequence numbers go backwards: {seq} < {next}");
        prop_assert!(!ops.is_empty());
        next = seq + ops.len() as u64;
        prop_assert!(next - 1 <= SEQUENCE_MAX);
    }
    Ok(())
}

fn batches() -> impl Strategy<Value = Vec<Vec<UserOp>>> {
    proptest::collection::vec(proptest::collection::vec(user_op(), 1..6), 1..8)
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn batch_payload_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let (ops, largest) = largest_allocation(|| decode_payload(&bytes));
        if let Some(ops) = ops {
            check_decoded_ops(&ops, bytes.len())?;
        }
        prop_assert!(largest <= proportional(bytes.len()), "allocated {largest} bytes for {} input bytes", bytes.len());
    }

    #[test]
    fn batch_payload_valid_then_mutated(ops in proptest::collection::vec(user_op(), 1..10), ms in mutations()) {
        let batch = batch_of(&ops);
        let decoded = decode_payload(batch.payload()).expect("a valid payload decodes");
        prop_assert_eq!(owned(&decoded), expected_ops(&ops));
        let bad = mutated(batch.payload(), &ms);
        let (result, largest) = largest_allocation(|| decode_payload(&bad));
        if let Some(ops) = result {
            check_decoded_ops(&ops, bad.len())?;
        }
        prop_assert!(largest <= proportional(bad.len()), "allocated {largest} bytes for {} input bytes", bad.len());
    }

    #[test]
    fn wal_scan_arbitrary_bytes(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
        log in 0..4u64,
        newest in any::<bool>(),
        min_seq in 0..4u64,
    ) {
        let ((applied, summary), largest) = largest_allocation(|| scan_all(&bytes, log, newest, min_seq));
        check_scan_summary(&bytes, &applied, &summary, min_seq)?;
        prop_assert!(largest <= proportional(bytes.len()));
    }

    /// Raw damage (no checksum fixed): what is applied is always original records, in order;
    /// when offsets are kept it is exactly a prefix of them.
    #[test]
    fn wal_scan_valid_then_mutated(
        batches in batches(),
        log in 1..1000u64,
        first_seq in 1..1000u64,
        newest in any::<bool>(),
        ms in mutations(),
    ) {
        let wal = build_wal(log, first_seq, &batches);
        let (applied, summary) = scan_all(&wal.bytes, log, newest, first_seq);
        prop_assert!(summary.stop.is_none());
        let originals: Vec<(u64, Vec<OwnedOp>)> = wal.records.iter().map(|(_, s, o)| (*s, o.clone())).collect();
        prop_assert_eq!(&applied, &originals);

        let bad = mutated(&wal.bytes, &ms);
        let ((applied, summary), largest) = largest_allocation(|| scan_all(&bad, log, newest, first_seq));
        check_scan_summary(&bad, &applied, &summary, first_seq)?;
        prop_assert!(largest <= proportional(bad.len()));
        if ms.iter().all(Mutation::keeps_offsets) {
            prop_assert_eq!(&applied[..], &originals[..applied.len()], "not a prefix of the original records");
        } else {
            let mut rest = originals.iter();
            for record in &applied {
                prop_assert!(rest.any(|o| o == record), "applied a record that was never written: {:?}", record);
            }
        }
    }

    /// One flipped byte: the records before it survive; it is a torn tail only in the newest
    /// WAL and only when no valid record follows.
    #[test]
    fn wal_single_flip_is_torn_only_at_the_tail(
        batches in batches(),
        at in any::<Index>(),
        x in 1..=255u8,
        newest in any::<bool>(),
    ) {
        let wal = build_wal(7, 1, &batches);
        let mut bad = wal.bytes.clone();
        let pos = at.index(bad.len());
        bad[pos] ^= x;
        let hit = wal.records.iter().rposition(|(offset, _, _)| *offset <= pos).unwrap();
        let (applied, summary) = scan_all(&bad, 7, newest, 1);
        prop_assert_eq!(applied.len(), hit);
        let stop = summary.stop.expect("damage stops the scan");
        prop_assert_eq!(stop.offset as usize, wal.records[hit].0);
        prop_assert_eq!(stop.torn, newest && hit + 1 == wal.records.len());
    }

    /// A record whose checksum was recomputed after its payload, log number or sequence
    /// number changed (written whole, but wrong): earlier records survive, it is accepted
    /// only if it decodes to valid operations in order, and it is never a torn tail.
    #[test]
    fn wal_scan_crafted_record(
        batches in batches(),
        which in any::<Index>(),
        ms in mutations(),
        other_log in prop::option::weighted(0.2, 0..10u64),
        seq_shift in prop::option::weighted(0.3, -3i64..3),
        huge_seq in prop::option::weighted(0.15, prop_oneof![
            Just(SEQUENCE_MAX - 1), Just(SEQUENCE_MAX), Just(SEQUENCE_MAX + 1), Just(u64::MAX - 1), Just(u64::MAX)
        ]),
        newest in any::<bool>(),
    ) {
        let log = 5;
        let wal = build_wal(log, 100, &batches);
        let i = which.index(wal.records.len());
        let mut bytes = wal.bytes[..wal.records[i].0].to_vec();
        let payload = mutated(&wal.payloads[i], &ms);
        let record_log = other_log.unwrap_or(log);
        let record_seq = huge_seq.unwrap_or_else(|| wal.records[i].1.saturating_add_signed(seq_shift.unwrap_or(0)));
        encode_record(&mut bytes, record_log, record_seq, &payload);
        let crafted_end = bytes.len();
        if let Some((next_offset, _, _)) = wal.records.get(i + 1) {
            bytes.extend_from_slice(&wal.bytes[*next_offset..]);
        }
        let ((applied, summary), largest) = largest_allocation(|| scan_all(&bytes, log, newest, 100));
        check_scan_summary(&bytes, &applied, &summary, 100)?;
        prop_assert!(largest <= proportional(bytes.len()));
        let originals: Vec<(u64, Vec<OwnedOp>)> = wal.records.iter().map(|(_, s, o)| (*s, o.clone())).collect();
        prop_assert!(applied.len() >= i);
        prop_assert_eq!(&applied[..i], &originals[..i]);
        if applied.len() == i {
            let stop = summary.stop.expect("the crafted record stops the scan");
            prop_assert_eq!(stop.offset as usize, wal.records[i].0);
            prop_assert!(!stop.torn, "a whole record with a valid checksum is damage, not a torn tail");
        } else {
            prop_assert_eq!(record_log, log);
            let ops = decode_payload(&payload).expect("an accepted record decodes");
            prop_assert_eq!(&applied[i], &(record_seq, owned(&ops)));
            prop_assert!(summary.valid_bytes as usize >= crafted_end);
        }
    }
}

#[test]
fn out_of_range_counters_are_corruption_not_a_wrap() {
    // A MANIFEST (checksum valid) whose counters no writer can reach.
    for (field_at, value) in [(20, SEQUENCE_MAX + 1), (20, u64::MAX), (12, u64::MAX), (28, u64::MAX)] {
        let mut bytes = sample_manifest(&[b"\0a".to_vec()]).encode();
        bytes[field_at..field_at + 8].copy_from_slice(&value.to_le_bytes());
        refix_manifest_crc(&mut bytes);
        assert!(Manifest::decode(&bytes).is_err(), "field at {field_at} = {value}");
    }
    // A WAL record (checksum valid) whose sequence numbers would pass the limit or wrap.
    for first_seq in [SEQUENCE_MAX, u64::MAX - 1, u64::MAX] {
        let mut wal = Vec::new();
        encode_record(
            &mut wal,
            1,
            first_seq,
            batch_of(&[UserOp::Delete(b"a".to_vec()), UserOp::Delete(b"b".to_vec())]).payload(),
        );
        let (applied, summary) = scan_all(&wal, 1, true, 1);
        assert!(applied.is_empty(), "first_seq {first_seq}");
        assert!(!summary.stop.unwrap().torn);
    }
    // A file in the database directory named with a number no writer can reach: open refuses
    // it; repair sets it aside and the repaired database opens with every key.
    let (storage, expected) = base_database(Compression::None);
    for name in ["18446744073709551615.wal", "18446744073709551615.sst", "72057594037927936.sst"] {
        let copy = storage.process_crash();
        let path = PathBuf::from("/db").join(name);
        drop(copy.create(&path).unwrap());
        match Db::open_with_storage("/db", options(), mem(&copy)) {
            Err(Error::Corruption { file, .. }) => assert!(file.contains(name), "{file}"),
            other => panic!("{name}: {:?}", other.map(|_| ())),
        }
        browserdb::engine::maintenance::repair(Path::new("/db"), &options(), mem(&copy)).expect("repair");
        assert_eq!(open_and_read(&copy, "/db").expect("the repaired database opens"), expected, "{name}");
    }
}

#[test]
fn a_huge_count_or_length_in_a_short_input_is_refused_without_allocating_it() {
    // A payload claiming 4 billion operations.
    let mut payload = u32::MAX.to_le_bytes().to_vec();
    payload.extend_from_slice(&[1, 2, 0, b'k', 0]);
    let (ops, largest) = largest_allocation(|| decode_payload(&payload));
    assert!(ops.is_none());
    assert!(largest < 4096, "allocated {largest} bytes");
    // A payload with one op whose key and value claim 2^63 bytes.
    let mut payload = 1u32.to_le_bytes().to_vec();
    payload.extend_from_slice(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0, b'k']);
    assert!(largest_allocation(|| decode_payload(&payload)).0.is_none());
    let mut payload = 1u32.to_le_bytes().to_vec();
    payload.extend_from_slice(&[1, 2, 0, b'k', 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, b'v']);
    let (ops, largest) = largest_allocation(|| decode_payload(&payload));
    assert!(ops.is_none());
    assert!(largest < 4096, "allocated {largest} bytes");
    // A WAL record header claiming a 4 GiB payload.
    let mut wal = u32::MAX.to_le_bytes().to_vec();
    wal.extend_from_slice(&[0; RECORD_HEADER_BYTES - 4]);
    wal.extend_from_slice(b"short");
    let ((applied, summary), largest) = largest_allocation(|| scan_all(&wal, 0, true, 0));
    assert!(applied.is_empty());
    assert!(summary.stop.unwrap().torn);
    assert!(largest < 4096, "allocated {largest} bytes");
    // A MANIFEST claiming 4 billion tables (checksum valid).
    let mut manifest = Manifest::default().encode();
    manifest.truncate(manifest.len() - 4);
    let count_at = manifest.len() - 4;
    manifest[count_at..].copy_from_slice(&u32::MAX.to_le_bytes());
    let crc = crc32fast::hash(&manifest);
    manifest.extend_from_slice(&crc.to_le_bytes());
    let (decoded, largest) = largest_allocation(|| Manifest::decode(&manifest));
    assert!(decoded.is_err());
    assert!(largest < 4096, "allocated {largest} bytes");
    // A MANIFEST table whose key claims 4 GiB.
    let mut m = sample_manifest(&[vec![0, b'a']]);
    m.tables[0].largest = b"\0zz".to_vec();
    let mut bytes = m.encode();
    // From the end: crc, the table's expiring_entries (0, so no quartiles), largest, its length.
    let largest_len_at = bytes.len() - 4 - 8 - 3 - 4;
    bytes[largest_len_at..largest_len_at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
    refix_manifest_crc(&mut bytes);
    let (decoded, largest) = largest_allocation(|| Manifest::decode(&bytes));
    assert!(decoded.is_err());
    assert!(largest < 4096, "allocated {largest} bytes");
}

// ---------------------------------------------------------------------------------------------
// Blocks.

/// Sorted entries for one block: (key, seq, kind, expiry, value).
type BlockEntry = (Vec<u8>, u64, Kind, u64, Vec<u8>);

fn block_entries() -> impl Strategy<Value = Vec<BlockEntry>> {
    let entry = (
        proptest::collection::vec(b'a'..=b'c', 1..10),
        1..SEQUENCE_MAX,
        prop_oneof![Just(Kind::Put), Just(Kind::Delete), Just(Kind::PutWithExpiry)],
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..30),
    );
    proptest::collection::btree_map(
        proptest::collection::vec(b'a'..=b'c', 1..10),
        entry.prop_map(|(_, seq, kind, expiry, value)| (seq, kind, expiry, value)),
        1..60,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(k, (seq, kind, expiry, value))| {
                let expiry = if kind.has_expiry() { expiry } else { 0 };
                let value = if kind.has_value() { value } else { Vec::new() };
                (k, seq, kind, expiry, value)
            })
            .collect()
    })
}

fn build_block(entries: &[BlockEntry]) -> Vec<u8> {
    let mut b = BlockBuilder::default();
    for (k, seq, kind, expiry, value) in entries {
        b.add(k, *seq, *kind, *expiry, value);
    }
    b.finish()
}

/// Walks a block that decoded: every entry, then seeks to each probe. Never loops: every
/// entry takes at least 11 bytes.
fn exercise_block(block: &Block, len: usize, probes: &[Vec<u8>]) -> Result<(), TestCaseError> {
    let mut it = block.iter();
    let mut n = 0;
    while it.next_entry().is_some() {
        n += 1;
        prop_assert!(n <= len / 11 + 1, "{n} entries from {len} bytes");
        prop_assert!(it.key().len() <= len);
    }
    for probe in probes {
        let mut it = block.iter();
        let _ = it.seek(probe, u64::MAX);
        let _ = it.seek(probe, 0);
    }
    Ok(())
}

fn compression() -> impl Strategy<Value = Compression> {
    prop_oneof![Just(Compression::None), Just(Compression::Lz4), Just(Compression::Zstd), Just(Compression::Zlib)]
}

/// Replaces the 5-byte trailer of a stored block with `compression` and a correct CRC.
fn with_trailer(stored: &[u8], compression: u8) -> Vec<u8> {
    let mut out = stored.to_vec();
    out.push(compression);
    let crc = crc32fast::hash(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

proptest! {
    #![proptest_config(config(768))]

    #[test]
    fn block_valid_round_trips(entries in block_entries()) {
        let block = Block::new(build_block(&entries)).expect("a built block decodes");
        let mut it = block.iter();
        for (k, seq, kind, expiry, value) in &entries {
            let e = it.next_entry().expect("entry");
            prop_assert_eq!(it.key(), &k[..]);
            prop_assert_eq!((e.seq, e.kind, e.expiry_ms, e.value), (*seq, *kind, *expiry, &value[..]));
        }
        prop_assert!(it.next_entry().is_none());
        prop_assert!(!it.is_corrupt());
        for (k, seq, _, _, value) in &entries {
            let mut it = block.iter();
            let e = it.seek(k, u64::MAX).expect("seek finds the key");
            prop_assert_eq!(it.key(), &k[..]);
            prop_assert_eq!((e.seq, e.value), (*seq, &value[..]));
        }
    }

    #[test]
    fn block_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400), probes in proptest::collection::vec(user_key(), 0..4)) {
        let len = bytes.len();
        let (r, largest) = largest_allocation(|| Block::new(bytes).map(|block| exercise_block(&block, len, &probes)));
        if let Ok(checked) = r {
            checked?;
        }
        prop_assert!(largest <= proportional(len));
    }

    #[test]
    fn block_valid_then_mutated(entries in block_entries(), ms in mutations(), probes in proptest::collection::vec(user_key(), 0..4)) {
        let bad = mutated(&build_block(&entries), &ms);
        let len = bad.len();
        let (r, largest) = largest_allocation(|| Block::new(bad).map(|block| exercise_block(&block, len, &probes)));
        if let Ok(checked) = r {
            checked?;
        }
        prop_assert!(largest <= proportional(len));
    }

    /// Stored blocks round-trip through every codec, and any change to the stored bytes is
    /// caught by the trailer's CRC.
    #[test]
    fn stored_block_round_trips_and_damage_is_caught(entries in block_entries(), c in compression(), ms in mutations()) {
        let raw = build_block(&entries);
        let mut stored = Vec::new();
        encode_stored(&raw, c, &mut stored);
        prop_assert_eq!(decode_stored(&stored).expect("decodes"), raw);
        let bad = mutated(&stored, &ms);
        if bad != stored {
            prop_assert!(decode_stored(&bad).is_err(), "a changed stored block passed its CRC");
        }
    }

    /// Crafted stored blocks (CRC recomputed): compressed bodies mutated or arbitrary, any
    /// compression byte. The codecs answer an error or exactly the length they claim, and
    /// nothing larger than the format's block limit is ever allocated.
    #[test]
    fn stored_block_crafted(
        entries in block_entries(),
        c in compression(),
        ms in mutations(),
        arbitrary in prop::option::weighted(0.3, proptest::collection::vec(any::<u8>(), 0..200)),
        compression_byte in prop::option::weighted(0.1, any::<u8>()),
        probes in proptest::collection::vec(user_key(), 0..3),
    ) {
        let raw = build_block(&entries);
        let mut stored = Vec::new();
        let body_len = encode_stored(&raw, c, &mut stored);
        let used = stored[body_len];
        let body = arbitrary.unwrap_or_else(|| mutated(&stored[..body_len], &ms));
        let crafted = with_trailer(&body, compression_byte.unwrap_or(used));
        let (r, largest) = largest_allocation(|| {
            decode_stored(&crafted).map(|raw| {
                let claimed = u32::from_le_bytes(body.get(..4).map_or([0; 4], |b| b.try_into().unwrap())) as usize;
                let len = raw.len();
                (len, claimed, Block::new(raw).map(|block| exercise_block(&block, len, &probes)))
            })
        });
        if let Ok((len, claimed, block)) = r {
            if crafted[crafted.len() - 5] != 0 {
                prop_assert_eq!(len, claimed, "a codec returned another length than the block claims");
            }
            if let Ok(checked) = block {
                checked?;
            }
        }
        prop_assert!(largest <= BLOCK_RAW_BYTES_MAX + proportional(crafted.len()), "allocated {largest} bytes");
    }
}

#[test]
fn absurd_decompressed_sizes_are_refused_and_claimed_sizes_are_capped() {
    for c in [Compression::Lz4, Compression::Zstd, Compression::Zlib] {
        // Over the limit: refused before any allocation.
        let mut stored = u32::try_from(BLOCK_RAW_BYTES_MAX + 1).unwrap().to_le_bytes().to_vec();
        stored.extend_from_slice(&[0x42; 16]);
        let (r, largest) = largest_allocation(|| decompress(&stored, c));
        assert!(r.is_err(), "{c:?}");
        assert!(largest < 64 * 1024, "{c:?}: allocated {largest} bytes");
        // At the limit, a 20-byte body may make the codec reserve the claimed size, never more.
        let mut stored = u32::try_from(BLOCK_RAW_BYTES_MAX).unwrap().to_le_bytes().to_vec();
        stored.extend_from_slice(&[0x42; 16]);
        let (r, largest) = largest_allocation(|| decompress(&stored, c));
        assert!(r.is_err(), "{c:?}");
        assert!(largest <= BLOCK_RAW_BYTES_MAX + 1024 * 1024, "{c:?}: allocated {largest} bytes");
    }
}

// ---------------------------------------------------------------------------------------------
// Table header, footer and whole tables.

fn header() -> impl Strategy<Value = Header> {
    (any::<u8>(), compression(), 0..=FLAGS_KNOWN, any::<u64>(), any::<u64>()).prop_map(
        |(file_kind, compression, flags, created_ms, table_number)| Header {
            file_kind,
            compression,
            flags,
            created_ms,
            table_number,
        },
    )
}

fn footer() -> impl Strategy<Value = Footer> {
    (any::<u64>(), any::<u64>(), any::<(u64, u32)>(), any::<(u64, u32)>(), any::<u64>(), any::<[u8; 32]>()).prop_map(
        |(entry_count, data_size, (fo, fs), (io, is), max_seq, sha256)| Footer {
            entry_count,
            data_size,
            filter: BlockHandle { offset: fo, size: fs },
            index: BlockHandle { offset: io, size: is },
            max_seq,
            sha256,
        },
    )
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn header_and_footer_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Header::decode(&bytes);
        let _ = Footer::decode(&bytes);
        let _ = BlockHandle::decode(&bytes);
        let mut fixed = bytes.clone();
        fixed.resize(FOOTER_BYTES, 0);
        let _ = Footer::decode(&fixed);
    }

    #[test]
    fn header_round_trips_and_checks(h in header(), ms in offset_keeping_mutations(), crafted in any::<bool>()) {
        let bytes = h.encode();
        prop_assert_eq!(bytes.len(), HEADER_BYTES);
        prop_assert_eq!(Header::decode(&bytes).expect("decodes"), h);
        let mut bad = mutated(&bytes, &ms);
        if crafted {
            let crc = crc32fast::hash(&bad[..36]);
            bad[36..40].copy_from_slice(&crc.to_le_bytes());
        }
        match Header::decode(&bad) {
            Ok(d) => {
                prop_assert!(crafted || bad == bytes, "a changed header passed its CRC");
                prop_assert_eq!(&bad[..9], &MAGIC[..]);
                prop_assert_eq!(d.flags & !FLAGS_KNOWN, 0);
                // Every field it reports is what the bytes hold (bytes 32..36 are reserved).
                prop_assert_eq!(&d.encode()[..32], &bad[..32]);
            }
            Err(_) => prop_assert!(bad != bytes),
        }
    }

    #[test]
    fn footer_round_trips_and_checks(f in footer(), ms in offset_keeping_mutations(), crafted in any::<bool>()) {
        let bytes = f.encode();
        prop_assert_eq!(bytes.len(), FOOTER_BYTES);
        prop_assert_eq!(Footer::decode(&bytes).expect("decodes"), f);
        let mut bad = mutated(&bytes, &ms);
        if crafted {
            let crc = crc32fast::hash(&bad[..80]);
            bad[80..84].copy_from_slice(&crc.to_le_bytes());
        }
        match Footer::decode(&bad) {
            // The footer has no byte it does not check: decoding is exact.
            Ok(d) => {
                prop_assert!(crafted || bad == bytes, "a changed footer passed its CRC");
                prop_assert_eq!(&d.encode(), &bad);
            }
            Err(_) => prop_assert!(bad != bytes),
        }
    }
}

const TABLE_NUMBER: u64 = 7;

fn table_path() -> PathBuf {
    PathBuf::from("/t/000007.sst")
}

/// A table of `n` keys written to a fresh in-memory file system.
fn build_table(n: u32, c: Compression, block_size: usize) -> (MemStorage, BTreeMap<Vec<u8>, Vec<u8>>) {
    let storage = MemStorage::new();
    storage.create_dir_all(Path::new("/t")).unwrap();
    let file = storage.create(&table_path()).unwrap();
    let mut builder = TableBuilder::new(file, TABLE_NUMBER, c, block_size);
    let mut model = BTreeMap::new();
    for i in 0..n {
        let key = format!("\0key{i:06}").into_bytes();
        let value = format!("value-{i}-{}", "x".repeat((i % 50) as usize)).into_bytes();
        builder.add(&key, u64::from(i) + 1, Kind::Put, 0, &value).unwrap();
        model.insert(key, value);
    }
    let _meta: TableMeta = builder.finish().unwrap();
    (storage, model)
}

proptest! {
    #![proptest_config(config(512))]

    /// A table with any damage (offsets kept or not) is refused at open, or each read gives
    /// the right value or `Corruption`: never a wrong value, never a silently missing key.
    #[test]
    fn table_with_random_damage_never_serves_a_wrong_value(
        n in 1..300u32,
        c in compression(),
        block_size in prop_oneof![Just(256usize), Just(4096)],
        ms in mutations(),
    ) {
        let (storage, model) = build_table(n, c, block_size);
        let original = storage.file_bytes(&table_path()).unwrap();
        let bad = mutated(&original, &ms);
        storage.set_file_bytes(&table_path(), bad.clone());
        let opened = Table::open(&storage, &table_path(), TABLE_NUMBER, Arc::new(BlockCache::new(1 << 20)), true);
        let table = match opened {
            Err(Error::Corruption { .. }) => {
                prop_assert!(bad != original, "an intact table was refused");
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("open failed with {e:?}, not Corruption"))),
            Ok(t) => t,
        };
        let mut detected = false;
        for (k, v) in &model {
            match table.get(k, u64::MAX, 0, |l| l.map_value()) {
                Ok(Lookup::Value(got)) => prop_assert_eq!(&got, v, "wrong value"),
                Ok(other) => return Err(TestCaseError::fail(format!("key vanished without an error: {other:?}"))),
                Err(Error::Corruption { .. }) => detected = true,
                Err(e) => return Err(TestCaseError::fail(format!("read failed with {e:?}, not Corruption"))),
            }
        }
        // A missing key is also answered correctly.
        if let Ok(found) = table.get(b"\0zzz", u64::MAX, 0, |l| l.map_value()) {
            prop_assert_eq!(found, Lookup::Absent);
        }
        if bad == original {
            prop_assert!(!detected, "an intact table reported corruption");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// MANIFEST.

fn sample_manifest(keys: &[Vec<u8>]) -> Manifest {
    Manifest {
        next_file_number: 40,
        last_sequence: 1000,
        log_number: 30,
        tables: keys
            .iter()
            .enumerate()
            .map(|(i, k)| TableMeta {
                number: 10 + i as u64,
                level: (i % 3) as u8,
                file_size: 4096 + i as u64,
                entry_count: 10,
                smallest: k.clone(),
                largest: [k.as_slice(), b"~"].concat(),
                max_seq: 900 + i as u64,
                expiry: ExpiryProfile { entries: i as u64, quartiles_ms: if i == 0 { [0; 4] } else { [5, 6, 7, 8] } },
            })
            .collect(),
    }
}

fn refix_manifest_crc(bytes: &mut Vec<u8>) {
    let body_len = bytes.len().saturating_sub(4);
    bytes.truncate(body_len);
    let crc = crc32fast::hash(bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
}

/// Whether `m`, decoded from `bytes`, encodes to them again; a version-1 MANIFEST is written
/// back as version 2 (the same content, expiry fields added), so it must decode to `m` again.
fn reencodes(m: &Manifest, bytes: &[u8]) -> bool {
    let version_1 = bytes.get(8..12) == Some(&manifest::VERSION_WITHOUT_EXPIRY.to_le_bytes()[..]);
    if version_1 {
        Manifest::decode(&m.encode()).as_ref() == Ok(m)
    } else {
        m.encode() == bytes
    }
}

fn manifest_strategy() -> impl Strategy<Value = Manifest> {
    let counter = prop_oneof![0..1000u64, 0..=SEQUENCE_MAX];
    (counter.clone(), counter.clone(), counter, proptest::collection::vec(user_key(), 0..6)).prop_map(
        |(n, s, l, keys)| Manifest { next_file_number: n, last_sequence: s, log_number: l, ..sample_manifest(&keys) },
    )
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn manifest_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..300), fix_crc in any::<bool>()) {
        let mut bytes = bytes;
        if fix_crc {
            refix_manifest_crc(&mut bytes);
        }
        let (r, largest) = largest_allocation(|| Manifest::decode(&bytes));
        if let Ok(m) = r {
            prop_assert!(reencodes(&m, &bytes));
        }
        prop_assert!(largest <= proportional(bytes.len()));
    }

    /// A MANIFEST decodes exactly (re-encoding gives the same bytes), and any change that
    /// keeps the CRC wrong is refused.
    #[test]
    fn manifest_valid_then_mutated(m in manifest_strategy(), ms in mutations(), crafted in any::<bool>()) {
        let bytes = m.encode();
        prop_assert_eq!(Manifest::decode(&bytes).expect("decodes"), m);
        let mut bad = mutated(&bytes, &ms);
        if crafted {
            refix_manifest_crc(&mut bad);
        }
        let (r, largest) = largest_allocation(|| Manifest::decode(&bad));
        match r {
            Ok(d) => {
                prop_assert!(crafted || bad == bytes, "a changed MANIFEST passed its CRC");
                prop_assert!(reencodes(&d, &bad));
            }
            Err((offset, _)) => prop_assert!(offset as usize <= bad.len()),
        }
        prop_assert!(largest <= proportional(bad.len()));
    }
}

// ---------------------------------------------------------------------------------------------
// Whole databases: a crafted MANIFEST, the BACKUP description, export files.

/// A fixed clock, so expiry is decided the same way in every database of a test.
const NOW_MS: u64 = 1_700_000_000_000;

fn fixed_clock() -> u64 {
    NOW_MS
}

fn options() -> Options {
    Options { clock: fixed_clock, write_buffer_size_bytes: 64 * 1024, ..Options::default() }
}

/// Entries of an export file: user key → (value, expiry or 0).
type Entries = BTreeMap<Vec<u8>, (Vec<u8>, u64)>;

fn mem(storage: &MemStorage) -> Arc<dyn Storage> {
    Arc::new(storage.clone())
}

/// A database at `/db` with keys in three tables and the memtable, closed.
fn base_database(compression: Compression) -> (MemStorage, Dump) {
    let storage = MemStorage::new();
    let db = Db::open_with_storage("/db", Options { compression, ..options() }, mem(&storage)).unwrap();
    for round in 0..3u32 {
        for i in 0..60u32 {
            let key = format!("key{:04}", i * 3 + round);
            db.put(key.as_bytes(), format!("v{round}-{i}").as_bytes(), false).unwrap();
        }
        db.flush().unwrap();
    }
    db.put(b"mem-only", b"in the WAL", false).unwrap();
    db.delete(b"key0003", false).unwrap();
    let expected = dump(&db);
    db.close().unwrap();
    (storage, expected)
}

/// Opens and reads everything; returns the dump if it all worked.
fn open_and_read(storage: &MemStorage, dir: &str) -> Result<Dump, Error> {
    let db = Db::open_with_storage(dir, options(), mem(storage))?;
    let mut iter = db.iter(IterOptions::default(), None)?;
    let mut out = Vec::new();
    while iter.next_page_with_expiry(256, usize::MAX, false, |k, v, e| out.push((k.to_vec(), v.to_vec(), e)))?
        != PageEnd::Exhausted
    {}
    for (k, _, _) in &out {
        db.get(k)?;
    }
    drop(iter);
    db.close()?;
    Ok(out)
}

proptest! {
    #![proptest_config(config(512))]

    /// A damaged MANIFEST is refused at open; a crafted one (CRC recomputed) opens or is
    /// refused, and never makes the engine panic, at open or on the reads after it.
    #[test]
    fn database_open_with_a_mutated_manifest(ms in mutations(), crafted in any::<bool>()) {
        let (storage, expected) = base_database(Compression::Lz4);
        let path = PathBuf::from("/db/MANIFEST");
        let original = storage.file_bytes(&path).unwrap();
        let mut bad = mutated(&original, &ms);
        if crafted {
            refix_manifest_crc(&mut bad);
        }
        storage.set_file_bytes(&path, bad.clone());
        match open_and_read(&storage, "/db") {
            Ok(got) => {
                prop_assert!(crafted || bad == original, "a damaged MANIFEST was accepted");
                if bad == original {
                    prop_assert_eq!(got, expected);
                }
            }
            Err(Error::Corruption { .. }) => prop_assert!(bad != original),
            Err(e) => prop_assert!(crafted, "a damaged MANIFEST gave {:?}, not Corruption", e),
        }
    }

    /// A damaged `BACKUP` is refused before anything is written; a crafted one (SHA-256
    /// recomputed) restores or is refused, and never makes the engine panic.
    #[test]
    fn restore_with_a_mutated_backup_description(ms in mutations(), crafted in any::<bool>()) {
        let (storage, expected) = base_database(Compression::None);
        let db = Db::open_with_storage("/db", options(), mem(&storage)).unwrap();
        let backup_dir = PathBuf::from("/backup");
        backup(&db, &storage, &backup_dir, &mut |_, _| {}).unwrap();
        db.close().unwrap();
        let description = backup_dir.join("BACKUP");
        let original = storage.file_bytes(&description).unwrap();
        let mut bad = mutated(&original, &ms);
        if crafted {
            let body_len = bad.len().saturating_sub(32);
            bad.truncate(body_len);
            let sha = <sha2::Sha256 as sha2::Digest>::digest(&bad);
            bad.extend_from_slice(&sha);
        }
        storage.set_file_bytes(&description, bad.clone());
        let target = PathBuf::from("/restored");
        let (result, largest) = largest_allocation(|| restore(&storage, &backup_dir, &target, &mut |_, _| {}));
        prop_assert!(largest <= 8 * 1024 * 1024 + proportional(bad.len()), "allocated {largest} bytes");
        match result {
            Ok(_) => {
                prop_assert!(crafted || bad == original, "a damaged BACKUP was restored");
                let restored = open_and_read(&storage, "/restored");
                if bad == original {
                    prop_assert_eq!(restored.expect("restored database opens"), expected);
                }
            }
            Err(e) => {
                prop_assert!(bad != original, "an intact backup was refused: {:?}", e);
                prop_assert!(matches!(e, Error::Corruption { .. }), "{:?}", e);
                prop_assert!(storage.list_dir(&target).is_err(), "a refused restore created the target");
            }
        }
    }
}

/// The entries an NDJSON file holds, by the documented rules (last line wins); `None` when
/// any line is not a valid entry. An independent reading of docs/format.md "Export files".
fn ndjson_oracle(bytes: &[u8]) -> Option<Entries> {
    use base64::Engine as _;
    let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    let mut out = BTreeMap::new();
    for line in lines {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let value: serde_json::Value = serde_json::from_slice(line).ok()?;
        let object = value.as_object()?;
        let field = |name: &str| -> Option<Vec<u8>> {
            let text = object.get(name)?.as_str()?;
            match object.get(&format!("{name}Encoding")) {
                None => Some(text.as_bytes().to_vec()),
                Some(serde_json::Value::String(e)) if e == "utf8" => Some(text.as_bytes().to_vec()),
                Some(serde_json::Value::String(e)) if e == "base64" => {
                    base64::engine::general_purpose::STANDARD.decode(text).ok()
                }
                Some(_) => None,
            }
        };
        let key = field("key")?;
        let data = field("value")?;
        let expires = match object.get("expires") {
            None | Some(serde_json::Value::Null) => 0,
            Some(v) => v.as_u64().filter(|&ms| ms > 0)?,
        };
        if key.is_empty() || key.len() > KEY_SIZE_BYTES_MAX {
            return None;
        }
        out.insert(key, (data, expires));
    }
    Some(out)
}

/// `before` with `entries` written over it, as a dump (expired entries read as absent).
fn overlay(before: &Dump, entries: &Entries) -> Dump {
    let mut map: BTreeMap<Vec<u8>, (Vec<u8>, u64)> =
        before.iter().map(|(k, v, e)| (k.clone(), (v.clone(), *e))).collect();
    for (k, (v, e)) in entries {
        if *e != 0 && *e <= NOW_MS {
            map.remove(k);
        } else {
            map.insert(k.clone(), (v.clone(), *e));
        }
    }
    map.into_iter().map(|(k, (v, e))| (k, v, e)).collect()
}

#[derive(Debug, Clone)]
enum LineEdit {
    Duplicate(Index),
    Drop(Index),
    Swap(Index, Index),
    Replace(Index, String),
}

fn json_line() -> impl Strategy<Value = String> {
    let key = "[a-c]{1,3}";
    prop_oneof![
        (key, "[a-z]{0,5}").prop_map(|(k, v)| format!("{{\"key\":\"{k}\",\"value\":\"{v}\"}}")),
        (key, prop_oneof![Just(1u64), Just(NOW_MS), Just(NOW_MS + 1), Just(u64::MAX)])
            .prop_map(|(k, e)| format!("{{\"key\":\"{k}\",\"value\":\"x\",\"expires\":{e}}}")),
        (
            key,
            prop_oneof![
                Just("0"),
                Just("-1"),
                Just("1.5"),
                Just("\"soon\""),
                Just("null"),
                Just("18446744073709551616")
            ]
        )
            .prop_map(|(k, e)| format!("{{\"key\":\"{k}\",\"value\":\"x\",\"expires\":{e}}}")),
        prop_oneof![Just("AAE="), Just("/w=="), Just("not base64!"), Just("")].prop_map(|k| format!(
            "{{\"key\":\"{k}\",\"keyEncoding\":\"base64\",\"value\":\"AA==\",\"valueEncoding\":\"base64\"}}"
        )),
        (key, prop_oneof![Just("hex"), Just("utf8"), Just("5")])
            .prop_map(|(k, e)| format!("{{\"key\":\"{k}\",\"value\":\"v\",\"valueEncoding\":\"{e}\"}}")),
        Just(String::from("{\"key\":\"\",\"value\":\"empty key\"}")),
        Just(String::from("{\"key\":1,\"value\":\"x\"}")),
        Just(String::from("{\"key\":\"k\"}")),
        Just(String::from("[\"key\",\"value\"]")),
        Just(String::from("null")),
        Just(String::from("   \t")),
        Just(String::from("{\"key\":\"dup\",\"key\":\"twice\",\"value\":\"v\"}")),
        Just(String::from("{\"key\":\"\\ud800\",\"value\":\"lone surrogate\"}")),
        Just(String::from("{\"key\":\"k\",\"value\":\"v\"} trailing")),
    ]
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    prop_oneof![
        any::<Index>().prop_map(LineEdit::Duplicate),
        any::<Index>().prop_map(LineEdit::Drop),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| LineEdit::Swap(a, b)),
        (any::<Index>(), json_line()).prop_map(|(i, l)| LineEdit::Replace(i, l)),
    ]
}

fn edit_lines(text: &[u8], edits: &[LineEdit]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = text.split(|&b| b == b'\n').filter(|l| !l.is_empty()).map(<[u8]>::to_vec).collect();
    for edit in edits {
        if lines.is_empty() {
            break;
        }
        let n = lines.len();
        match edit {
            LineEdit::Duplicate(i) => {
                let line = lines[i.index(n)].clone();
                lines.push(line);
            }
            LineEdit::Drop(i) => {
                lines.remove(i.index(n));
            }
            LineEdit::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
            LineEdit::Replace(i, l) => lines[i.index(n)] = l.clone().into_bytes(),
        }
    }
    lines.iter().flat_map(|l| l.iter().copied().chain([b'\n'])).collect()
}

/// A source database whose export has awkward entries: binary, empty, TTL, unicode.
fn export_source(format: ExchangeFormat, path: &Path) -> MemStorage {
    let storage = MemStorage::new();
    let db = Db::open_with_storage("/source", Options { compression: Compression::None, ..options() }, mem(&storage))
        .unwrap();
    for i in 0..40u32 {
        db.put(format!("k{i:03}").as_bytes(), format!("value {i}").as_bytes(), false).unwrap();
    }
    db.put(&[0xff, 0x00, 0x80], &[0x00, 0xc3, 0x28], false).unwrap();
    db.put(b"empty", b"", false).unwrap();
    db.put("ключ \" \\ \n".as_bytes(), "значение 🎉".as_bytes(), false).unwrap();
    let mut batch = WriteBatch::new();
    batch.put_expiring(b"ttl", b"later", NOW_MS + 60_000).unwrap();
    db.write(batch, false).unwrap();
    export(&db, &storage, path, format, &mut |_| {}).unwrap();
    db.close().unwrap();
    storage
}

/// A target database at `/db` with a few keys (some the import overwrites).
fn import_target(storage: &MemStorage) -> (Db, Dump) {
    let db = Db::open_with_storage("/db", options(), mem(storage)).unwrap();
    for i in (0..40u32).step_by(7) {
        db.put(format!("k{i:03}").as_bytes(), b"before", false).unwrap();
    }
    db.put(b"zz-untouched", b"kept", false).unwrap();
    let before = dump(&db);
    (db, before)
}

fn no_leftovers(storage: &MemStorage) -> Result<(), TestCaseError> {
    let names = storage.list_dir(Path::new("/db")).unwrap();
    prop_assert!(!names.iter().any(|n| n.starts_with("import-run-")), "temporary runs left behind: {:?}", names);
    Ok(())
}

/// The entries of a `.bdb` export as its blocks hold them (stored keys), read through the
/// block decoder; `None` if any block does not decode.
fn bdb_entries(bytes: &[u8]) -> Option<Entries> {
    let footer = Footer::decode(bytes.get(bytes.len().checked_sub(FOOTER_BYTES)?..)?).ok()?;
    let block = |h: BlockHandle| -> Option<Block> {
        let start = usize::try_from(h.offset).ok()?;
        Block::new(decode_stored(bytes.get(start..start + h.size as usize + BLOCK_TRAILER_BYTES)?).ok()?).ok()
    };
    let index = block(footer.index)?;
    let mut out = BTreeMap::new();
    let mut it = index.iter();
    while let Some(e) = it.next_entry() {
        let data = block(BlockHandle::decode(e.value)?)?;
        let mut d = data.iter();
        while let Some(entry) = d.next_entry() {
            out.insert(d.key().get(1..)?.to_vec(), (entry.value.to_vec(), entry.expiry_ms));
        }
    }
    Some(out)
}

proptest! {
    #![proptest_config(config(512))]

    /// An NDJSON import either fails and leaves the database exactly as it was, or succeeds
    /// and adds exactly what the file holds (last line wins, expired entries read absent).
    /// It fails exactly when some line is not a valid entry.
    #[test]
    fn ndjson_import_of_a_mutated_file_is_all_or_nothing(
        ms in prop::option::weighted(0.5, mutations()),
        edits in proptest::collection::vec(line_edit(), 0..4),
    ) {
        let file = PathBuf::from("/in.ndjson");
        let storage = export_source(ExchangeFormat::Ndjson, &file);
        let original = storage.file_bytes(&file).unwrap();
        let mut text = edit_lines(&original, &edits);
        if let Some(ms) = &ms {
            text = mutated(&text, ms);
        }
        storage.set_file_bytes(&file, text.clone());
        let (db, before) = import_target(&storage);
        let oracle = ndjson_oracle(&text);
        let (result, largest) = largest_allocation(|| import(&db, &storage, &file, Some(ExchangeFormat::Ndjson), &mut |_| {}));
        prop_assert!(largest <= 8 * 1024 * 1024 + proportional(text.len()), "allocated {largest} bytes");
        match (result, oracle) {
            (Ok(report), Some(entries)) => {
                prop_assert_eq!(report.entries, entries.len() as u64);
                prop_assert_eq!(dump(&db), overlay(&before, &entries));
            }
            (Err(e), None) => {
                prop_assert!(matches!(e, Error::Corruption { .. }), "{:?}", e);
                prop_assert_eq!(dump(&db), before);
            }
            (Ok(_), None) => return Err(TestCaseError::fail("an invalid NDJSON file was imported")),
            (Err(e), Some(_)) => return Err(TestCaseError::fail(format!("a valid NDJSON file was refused: {e:?}"))),
        }
        no_leftovers(&storage)?;
        // Whatever happened, the database reopens to the same state.
        let now = dump(&db);
        db.close().unwrap();
        prop_assert_eq!(open_and_read(&storage, "/db").unwrap(), now);
    }

    /// A `.bdb` import: damage is refused with the database unchanged; a crafted file (block
    /// CRC, SHA-256 and footer recomputed) either is refused, database unchanged, or imports
    /// exactly the entries its blocks hold.
    #[test]
    fn bdb_import_of_a_mutated_file_is_all_or_nothing(
        ms in mutations(),
        crafted_block in prop::option::weighted(0.5, (any::<Index>(), offset_keeping_mutations())),
        detect_format in any::<bool>(),
    ) {
        let file = PathBuf::from("/in.bdb");
        let storage = export_source(ExchangeFormat::Bdb, &file);
        let original = storage.file_bytes(&file).unwrap();
        let bad = match &crafted_block {
            None => mutated(&original, &ms),
            Some((which, block_ms)) => craft_bdb(&original, *which, block_ms),
        };
        storage.set_file_bytes(&file, bad.clone());
        let (db, before) = import_target(&storage);
        let format = if detect_format { None } else { Some(ExchangeFormat::Bdb) };
        let (result, largest) = largest_allocation(|| import(&db, &storage, &file, format, &mut |_| {}));
        prop_assert!(largest <= 8 * 1024 * 1024 + proportional(bad.len()), "allocated {largest} bytes");
        match result {
            // Without a format, an empty file is an empty NDJSON file: nothing to import.
            Ok(report) if detect_format && bad.is_empty() => {
                prop_assert_eq!(report.entries, 0);
                prop_assert_eq!(dump(&db), before);
            }
            Ok(report) => {
                prop_assert!(crafted_block.is_some() || bad == original, "a damaged .bdb was imported");
                let entries = bdb_entries(&bad).expect("an imported file decodes");
                prop_assert_eq!(report.entries, entries.len() as u64);
                prop_assert_eq!(dump(&db), overlay(&before, &entries));
            }
            Err(e) => {
                prop_assert!(bad != original, "an intact export was refused: {:?}", e);
                prop_assert!(matches!(e, Error::Corruption { .. } | Error::InvalidArgument(_)), "{:?}", e);
                prop_assert_eq!(dump(&db), before);
            }
        }
        no_leftovers(&storage)?;
        let now = dump(&db);
        db.close().unwrap();
        prop_assert_eq!(open_and_read(&storage, "/db").unwrap(), now);
    }
}

/// Mutates the stored bytes of one data block of an uncompressed `.bdb` export (offsets
/// kept), then recomputes that block's CRC, the file's SHA-256 and the footer's CRC.
fn craft_bdb(original: &[u8], which: Index, ms: &[Mutation]) -> Vec<u8> {
    let footer_at = original.len() - FOOTER_BYTES;
    let footer = Footer::decode(&original[footer_at..]).unwrap();
    let block_at = |h: BlockHandle| (h.offset as usize, h.size as usize);
    let (io, is) = block_at(footer.index);
    let index = Block::new(decode_stored(&original[io..io + is + BLOCK_TRAILER_BYTES]).unwrap()).unwrap();
    let mut handles = Vec::new();
    let mut it = index.iter();
    while let Some(e) = it.next_entry() {
        handles.push(BlockHandle::decode(e.value).unwrap());
    }
    let (offset, size) = block_at(handles[which.index(handles.len())]);
    let mut bytes = original.to_vec();
    let stored = mutated(&bytes[offset..offset + size], ms);
    bytes[offset..offset + size].copy_from_slice(&stored);
    let trailer = with_trailer(&stored, bytes[offset + size]);
    bytes[offset + size..offset + size + BLOCK_TRAILER_BYTES].copy_from_slice(&trailer[size..]);
    let sha: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(&bytes[..footer_at]).into();
    let fixed = Footer { sha256: sha, ..footer };
    bytes[footer_at..].copy_from_slice(&fixed.encode());
    bytes
}

//! Claim: `docs/format.md` describes the bytes the engine writes. Its worked examples (a table,
//! a WAL record, a MANIFEST) are rebuilt here with the engine's own encoders and compared byte
//! for byte with the hex in the document, read at test time. The table carries a SHA-256 and
//! CRC-32s over everything, so any change to the format changes the hex and fails this test:
//! change the document and its examples in the same commit as the code.
//!
//! The document's hex is also decoded back with the engine's readers, so the bytes printed in
//! the document are a valid table, WAL and MANIFEST, not just the output of the writers.
//!
//! Hex blocks in the document are fenced code blocks introduced by a line
//! `<!-- hex:NAME -->`. Every line inside is `offset | hex bytes | meaning`, with a decimal
//! offset that must equal the number of bytes before it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use browserdb::engine::batch::Op;
use browserdb::engine::cache::BlockCache;
use browserdb::engine::key::{
    Keyspace, Kind, Lookup, BATCH_SIZE_BYTES_MAX, KEY_SIZE_BYTES_MAX, SEQUENCE_MAX, VALUE_SIZE_BYTES_MAX,
};
use browserdb::engine::manifest::Manifest;
use browserdb::engine::storage::{MemStorage, Storage};
use browserdb::engine::table::{filter, format, Table, TableBuilder, TableMeta};
use browserdb::engine::{wal, Compression, Db, Options, WriteBatch};

const TABLE_NUMBER: u64 = 5;
const CREATED_MS: u64 = 1_700_000_000_000;
const BLOCK_SIZE_BYTES: usize = 4096;
const ENTRIES: [(&[u8], u64, &[u8]); 3] = [(b"a", 1, b"1"), (b"b", 2, b"2"), (b"c", 3, b"3")];

fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs").join("format.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The bytes of the fenced block after `<!-- hex:NAME -->`, checking every line's offset.
fn hex_block(doc: &str, name: &str) -> Vec<u8> {
    let marker = format!("<!-- hex:{name} -->");
    assert_eq!(doc.matches(&marker).count(), 1, "docs/format.md must contain exactly one `{marker}`");
    let after = doc.split_once(&marker).map(|(_, rest)| rest).unwrap_or_default();
    let mut lines = after.lines().skip_while(|l| l.trim().is_empty());
    let fence = lines.next().unwrap_or_default();
    assert!(fence.trim_start().starts_with("```"), "{marker} must be followed by a fenced block, got {fence:?}");
    let mut bytes = Vec::new();
    let mut closed = false;
    for line in lines {
        if line.trim_start().starts_with("```") {
            closed = true;
            break;
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('|');
        let offset = fields.next().unwrap_or_default().trim();
        let offset: usize = offset.parse().unwrap_or_else(|_| panic!("{name}: bad offset in line {line:?}"));
        assert_eq!(
            offset,
            bytes.len(),
            "{name}: line {line:?} says offset {offset}, but {} bytes precede it",
            bytes.len()
        );
        let hex = fields.next().unwrap_or_else(|| panic!("{name}: no `|` in line {line:?}"));
        for token in hex.split_whitespace() {
            assert_eq!(token.len(), 2, "{name}: {token:?} in line {line:?} is not one hex byte");
            let byte = u8::from_str_radix(token, 16).unwrap_or_else(|_| panic!("{name}: {token:?} is not hex"));
            bytes.push(byte);
        }
    }
    assert!(closed, "{name}: the fenced block is not closed");
    assert!(!bytes.is_empty(), "{name}: no bytes");
    bytes
}

/// Shows where two byte strings first differ, so a failure points at the doc line to fix.
fn assert_same_bytes(name: &str, built: &[u8], documented: &[u8]) {
    let first_difference = built.iter().zip(documented).position(|(a, b)| a != b);
    assert!(
        built == documented,
        "{name}: the engine writes {} bytes, docs/format.md shows {}; first difference at offset {:?}.\n\
         engine: {}\n\
         docs:   {}",
        built.len(),
        documented.len(),
        first_difference,
        hex(built),
        hex(documented)
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
}

fn stored_key(user_key: &[u8]) -> Vec<u8> {
    let mut key = vec![Keyspace::User as u8];
    key.extend_from_slice(user_key);
    key
}

fn write_file(storage: &MemStorage, path: &Path, bytes: &[u8]) {
    let mut file = storage.create(path).expect("create");
    file.append(bytes).expect("append");
    file.sync_data().expect("sync");
}

/// The example table, built by the engine: its bytes and what the MANIFEST records about it.
fn build_example_table() -> (Vec<u8>, TableMeta) {
    let storage = MemStorage::new();
    let path = PathBuf::from("/example/000005.sst");
    let file = storage.create(&path).expect("create table");
    let mut builder = TableBuilder::new_at(file, TABLE_NUMBER, Compression::None, BLOCK_SIZE_BYTES, CREATED_MS);
    for (key, seq, value) in ENTRIES {
        builder.add(&stored_key(key), seq, Kind::Put, 0, value).expect("add");
    }
    let meta = builder.finish().expect("finish");
    (storage.file_bytes(&path).expect("table bytes"), meta)
}

fn example_manifest(meta: TableMeta) -> Manifest {
    Manifest { next_file_number: 7, last_sequence: 3, log_number: 6, tables: vec![meta] }
}

#[test]
fn table_example_matches_the_doc() {
    let doc = doc();
    let (built, meta) = build_example_table();
    assert_same_bytes("table-example", &built, &hex_block(&doc, "table-example"));
    assert_same_bytes("table-example-dump", &built, &hex_block(&doc, "table-example-dump"));
    assert_eq!(meta.file_size, 269);
    assert_eq!(meta.file_size, built.len() as u64);
    assert_eq!(meta.entry_count, 3);
    assert_eq!(meta.max_seq, 3);
    assert_eq!((meta.smallest.as_slice(), meta.largest.as_slice()), (&b"\0a"[..], &b"\0c"[..]));
}

/// Both documented tables: the one this version writes, and the same data as written before
/// the packed tag, which this version must still read.
const TABLE_EXAMPLES: [&str; 2] = ["table-example", "table-example-fixed-seq"];

#[test]
fn table_examples_decode_with_the_table_reader() {
    for name in TABLE_EXAMPLES {
        table_example_decodes(&hex_block(&doc(), name));
    }
}

fn table_example_decodes(documented: &[u8]) {
    let storage = MemStorage::new();
    let path = PathBuf::from("/example/000005.sst");
    write_file(&storage, &path, documented);
    let table =
        Table::open(&storage, &path, TABLE_NUMBER, Arc::new(BlockCache::new(0)), true).expect("open the doc's table");
    assert_eq!(table.entry_count(), 3);
    for (key, _, value) in ENTRIES {
        let found = table.get(&stored_key(key), u64::MAX, 0, |l| l.map_value()).expect("read");
        assert_eq!(found, Lookup::Value(value.to_vec()), "key {key:?}");
    }
    let missing = table.get(&stored_key(b"d"), u64::MAX, 0, |l| l.map_value()).expect("read");
    assert_eq!(missing, Lookup::Absent);
}

#[test]
fn manifest_example_matches_the_doc() {
    let documented = hex_block(&doc(), "manifest-example");
    let (_, meta) = build_example_table();
    let manifest = example_manifest(meta);
    assert_same_bytes("manifest-example", &manifest.encode(), &documented);
    assert_eq!(Manifest::decode(&documented).expect("decode the doc's MANIFEST"), manifest);
}

/// The document's MANIFEST and either table, put in a directory, form a database the public
/// API reads.
#[test]
fn documented_manifest_and_tables_open_as_a_database() {
    for name in TABLE_EXAMPLES {
        documented_manifest_and_table_open(name);
    }
}

fn documented_manifest_and_table_open(table_example: &str) {
    let doc = doc();
    let storage = MemStorage::new();
    let dir = PathBuf::from("/db");
    storage.create_dir_all(&dir).expect("mkdir");
    write_file(&storage, &dir.join("MANIFEST"), &hex_block(&doc, "manifest-example"));
    write_file(&storage, &dir.join("000005.sst"), &hex_block(&doc, table_example));
    let db = Db::open_with_storage(&dir, Options::default(), Arc::new(storage.clone())).expect("open");
    for (key, _, value) in ENTRIES {
        assert_eq!(db.get(key).expect("get"), Some(value.to_vec()), "key {key:?}");
    }
    assert_eq!(db.get(b"d").expect("get"), None);
    assert_eq!(db.stats().last_sequence, 3);
    db.close().expect("close");
}

#[test]
fn wal_example_matches_the_doc() {
    let documented = hex_block(&doc(), "wal-example");
    let mut batch = WriteBatch::new();
    batch.put(b"k", b"v").expect("put");
    let mut built = Vec::new();
    wal::encode_record(&mut built, 1, 1, batch.payload());
    assert_same_bytes("wal-example", &built, &documented);
    assert_eq!(wal::RECORD_HEADER_BYTES, 24);
}

#[test]
fn wal_example_replays() {
    let documented = hex_block(&doc(), "wal-example");
    let storage = MemStorage::new();
    let path = PathBuf::from("/example/000001.wal");
    write_file(&storage, &path, &documented);
    let mut replayed = Vec::new();
    let summary = wal::replay(&storage, &path, 1, true, 1, wal::TornTail::Truncate, |first_seq, ops: &[Op<'_>]| {
        for (i, op) in ops.iter().enumerate() {
            replayed.push((first_seq + i as u64, op.kind, op.stored_key.to_vec(), op.value.to_vec()));
        }
    })
    .expect("replay the doc's WAL record");
    assert_eq!(replayed, vec![(1, Kind::Put, b"\0k".to_vec(), b"v".to_vec())]);
    assert_eq!((summary.records, summary.last_seq, summary.truncated_bytes), (1, 1, 0));
}

/// The range-delete block of the document is what the builder writes after the index block of
/// a table holding one tombstone, where the reader finds it; the table's key range spans the
/// tombstone and the tombstone applies to reads.
#[test]
fn range_delete_block_example_matches_the_doc() {
    let storage = MemStorage::new();
    let path = PathBuf::from("/example/000005.sst");
    let file = storage.create(&path).expect("create table");
    let mut builder = TableBuilder::new_at(file, TABLE_NUMBER, Compression::None, BLOCK_SIZE_BYTES, CREATED_MS);
    builder.add_range_delete(&stored_key(b"a"), &stored_key(b"c"), 4).expect("range delete");
    builder.add(&stored_key(b"b"), 2, Kind::Put, 0, b"2").expect("add");
    let meta = builder.finish().expect("finish");
    assert_eq!((meta.smallest.as_slice(), meta.largest.as_slice(), meta.max_seq), (&b"\0a"[..], &b"\0c"[..], 4));
    assert_eq!(meta.entry_count, 1, "tombstones are not counted as entries");
    let bytes = storage.file_bytes(&path).expect("table bytes");
    let header = format::Header::decode(&bytes[..format::HEADER_BYTES]).expect("header");
    assert_eq!(header.flags, format::FLAG_HAS_FILTER | format::FLAG_HAS_RANGE_DELETES | format::FLAG_PACKED_TAGS);
    let footer_at = bytes.len() - format::FOOTER_BYTES;
    let footer = format::Footer::decode(&bytes[footer_at..]).expect("footer");
    let handle = browserdb::engine::table::reader::range_delete_handle(&footer, footer_at as u64).expect("handle");
    let block = &bytes[handle.offset as usize..footer_at];
    assert_eq!(block.len(), handle.size as usize + format::BLOCK_TRAILER_BYTES);
    assert_same_bytes("range-delete-block-example", block, &hex_block(&doc(), "range-delete-block-example"));
    let table = Table::open(&storage, &path, TABLE_NUMBER, Arc::new(BlockCache::new(0)), true).expect("open");
    assert_eq!(table.get(&stored_key(b"b"), u64::MAX, 0, |l| l.map_value()).expect("read"), Lookup::Deleted);
    assert_eq!(table.get(&stored_key(b"b"), 3, 0, |l| l.map_value()).expect("read"), Lookup::Value(b"2".to_vec()));
    assert_eq!(table.get(&stored_key(b"c"), u64::MAX, 0, |l| l.map_value()).expect("read"), Lookup::Absent);
}

/// The numbers the document's prose and field tables state, as the code defines them.
#[test]
fn documented_constants() {
    assert_eq!(format::MAGIC, b"BROWSERDB");
    assert_eq!(format::FORMAT_VERSION, 1);
    assert_eq!((format::FILE_KIND_TABLE, format::FILE_KIND_EXPORT), (1, 2));
    assert_eq!((format::HEADER_BYTES, format::FOOTER_BYTES, format::BLOCK_TRAILER_BYTES), (40, 96, 5));
    let flags =
        (format::FLAG_HAS_FILTER, format::FLAG_HAS_RANGE_DELETES, format::FLAG_PACKED_TAGS, format::FLAGS_KNOWN);
    assert_eq!(flags, (1, 2, 4, 7));
    assert_eq!(browserdb::engine::table::block::PACKED_TAGS, 1 << 31);
    assert_eq!(format::BlockHandle::ENCODED_BYTES, 12);
    assert_eq!(browserdb::engine::table::block::RESTART_INTERVAL, 4);
    assert_eq!(filter::LINE_BYTES, 64);
    assert_eq!((filter::BITS_PER_KEY, filter::PROBES), (10, 7));
    assert_eq!(browserdb::engine::manifest::MAGIC, b"BDBMANIF");
    assert_eq!(browserdb::engine::manifest::VERSION, 2);
    assert_eq!(browserdb::engine::manifest::VERSION_WITHOUT_EXPIRY, 1);
    assert_eq!(browserdb::engine::table::expiry::SAMPLES_MAX, 1024);
    let kinds = [Kind::Put, Kind::Delete, Kind::PutWithExpiry, Kind::RangeDelete].map(|k| k as u8);
    assert_eq!(kinds, [1, 2, 3, 4]);
    assert_eq!([Keyspace::User, Keyspace::Index, Keyspace::Meta].map(|k| k as u8), [0, 1, 2]);
    let compressions = [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Zlib].map(|c| c as u8);
    assert_eq!(compressions, [0, 1, 2, 3]);
    assert_eq!(KEY_SIZE_BYTES_MAX, 64 * 1024);
    assert_eq!(VALUE_SIZE_BYTES_MAX, 64 * 1024 * 1024);
    assert_eq!(BATCH_SIZE_BYTES_MAX, 64 * 1024 * 1024 + 64 * 1024);
    assert_eq!(SEQUENCE_MAX, (1 << 56) - 1);
}

/// The filter hashes the document's worked example lists are the engine's.
#[test]
fn documented_filter_hashes() {
    let doc = doc();
    for key in [b"a", b"b", b"c"] {
        let h = filter::key_hash(&stored_key(key));
        let shown = format!("`{h:#018x}`");
        assert!(doc.contains(&shown), "docs/format.md should list key_hash(00 {key:02x?}) = {shown}");
    }
}

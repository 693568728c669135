//! Claim (issue 5): tables may be compressed with LZ4, zstd, zlib or not at all; each block
//! names its codec, so a database reopened with another setting reads every older table,
//! and compaction rewrites them with the new one. Flipped bytes in compressed blocks are
//! caught like any other damage.
#![allow(clippy::unwrap_used)]

mod common;

use browserdb::engine::storage::MemStorage;
use browserdb::engine::{Compression, Error, Options};

fn options(compression: Compression) -> Options {
    Options { compression, write_buffer_size_bytes: 64 * 1024, ..Options::default() }
}

fn value(i: u32) -> Vec<u8> {
    format!("{{\"url\":\"https://example.com/{i}\",\"title\":\"page {i}\",\"visits\":{}}}", i % 13).into_bytes()
}

#[test]
fn reopening_with_another_codec_reads_every_older_table() {
    let storage = MemStorage::new();
    let codecs = [Compression::Lz4, Compression::Zstd, Compression::Zlib, Compression::None];
    for (round, codec) in codecs.iter().enumerate() {
        let db = common::open(&storage, options(*codec)).unwrap();
        let base = u32::try_from(round).unwrap() * 1000;
        for i in base..base + 1000 {
            db.put(format!("k{i:06}").as_bytes(), &value(i), false).unwrap();
        }
        db.flush().unwrap();
        for i in 0..base + 1000 {
            assert_eq!(db.get(format!("k{i:06}").as_bytes()).unwrap(), Some(value(i)), "{codec:?} round, key {i}");
        }
        db.close().unwrap();
    }
    let db = common::open(&storage, options(Compression::Zstd)).unwrap();
    db.compact(None, None).unwrap();
    for i in 0..4000 {
        assert_eq!(db.get(format!("k{i:06}").as_bytes()).unwrap(), Some(value(i)));
    }
}

#[test]
fn each_codec_shrinks_json_like_values() {
    let mut sizes = Vec::new();
    for codec in [Compression::None, Compression::Lz4, Compression::Zstd, Compression::Zlib] {
        let storage = MemStorage::new();
        let db = common::open(&storage, options(codec)).unwrap();
        for i in 0..3000 {
            db.put(format!("k{i:06}").as_bytes(), &value(i), false).unwrap();
        }
        db.compact(None, None).unwrap();
        sizes.push((codec, db.stats().levels.iter().map(|l| l.bytes).sum::<u64>()));
    }
    let none = sizes[0].1;
    for (codec, size) in &sizes[1..] {
        assert!(*size < none * 3 / 4, "{codec:?} tables are {size} bytes; uncompressed {none}");
    }
}

#[test]
fn damage_in_zstd_and_zlib_blocks_is_corruption() {
    for codec in [Compression::Zstd, Compression::Zlib] {
        let storage = MemStorage::new();
        let db = common::open(&storage, options(codec)).unwrap();
        for i in 0..500 {
            db.put(format!("k{i:06}").as_bytes(), &value(i), false).unwrap();
        }
        db.close().unwrap();
        let table = common::files_with(&storage, ".sst").pop().unwrap();
        let original = storage.file_bytes(&table).unwrap();
        for offset in (40..original.len() / 2).step_by(101) {
            let copy = storage.process_crash();
            let mut damaged = original.clone();
            damaged[offset] ^= 0x08;
            copy.set_file_bytes(&table, damaged);
            let Ok(db) = common::open(&copy, options(codec)) else { continue };
            let mut detected = false;
            for i in 0..500 {
                match db.get(format!("k{i:06}").as_bytes()) {
                    Ok(v) => assert_eq!(v, Some(value(i)), "{codec:?} flip at {offset}: wrong value"),
                    Err(Error::Corruption { .. }) => detected = true,
                    Err(e) => panic!("{e:?}"),
                }
            }
            assert!(detected, "{codec:?}: flip at {offset} went unnoticed");
        }
    }
}

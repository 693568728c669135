//! Measures the two ways to read a table block: `pread` into a buffer (what browserdb does)
//! against copying it out of a `mmap` of the file. Run with
//! `cargo run --release --example read_paths`; the figures are in docs/design.md
//! ("Reads: pread or mmap"). Not a test: timings are noisy, so nothing here asserts them.
#![allow(clippy::unwrap_used, clippy::cast_precision_loss)]

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::Instant;

const FILE_BYTES: usize = 256 * 1024 * 1024;
const BLOCK_BYTES: usize = 4096;
const READS: usize = 1_000_000;

fn offsets() -> Vec<u64> {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    (0..READS)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % ((FILE_BYTES - BLOCK_BYTES) as u64)) & !63
        })
        .collect()
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks");
    let mut file = File::create(&path).unwrap();
    let chunk: Vec<u8> = (0..1024 * 1024).map(|i| (i * 31 % 251) as u8).collect();
    for _ in 0..FILE_BYTES / chunk.len() {
        file.write_all(&chunk).unwrap();
    }
    file.sync_all().unwrap();
    let file = File::open(&path).unwrap();
    let offsets = offsets();
    let mut sum = 0u64;

    for round in 0..2 {
        let start = Instant::now();
        for &o in &offsets {
            let mut buf = vec![0u8; BLOCK_BYTES];
            file.read_exact_at(&mut buf, o).unwrap();
            sum += u64::from(buf[7]);
        }
        let pread = start.elapsed();

        // SAFETY (example only): the file is not modified while mapped.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::Mmap::map(&file).unwrap() };
        let start = Instant::now();
        for &o in &offsets {
            let o = usize::try_from(o).unwrap();
            let buf = map[o..o + BLOCK_BYTES].to_vec();
            sum += u64::from(buf[7]);
        }
        let mmap = start.elapsed();
        println!(
            "round {round}: pread {:.0} ns/block, mmap copy {:.0} ns/block ({} random 4 KiB reads, page-cached {} MiB file)",
            pread.as_nanos() as f64 / READS as f64,
            mmap.as_nanos() as f64 / READS as f64,
            READS,
            FILE_BYTES >> 20
        );
    }
    println!("checksum {sum}");
}

//! The MANIFEST: which tables form the database, and the counters recovery needs
//! (docs/format.md "MANIFEST"). It is small and rewritten whole on every change, and only
//! by write-temp, fsync, rename, fsync-directory, so a crash leaves the old or the new one.
//!
//! ```text
//! 0   magic             8 bytes  "BDBMANIF"
//! 8   version           u32      2 (1 is read too: its tables have no expiry fields)
//! 12  next_file_number  u64
//! 20  last_sequence     u64      highest sequence number in any table
//! 28  log_number        u64      WALs numbered >= this are live and replayed
//! 36  table_count       u32
//! 40  tables            table_count × { level u8 | number u64 | file_size u64 | entry_count u64
//!                                       | max_seq u64 | smallest_len u32 | smallest
//!                                       | largest_len u32 | largest
//!                                       | expiring_entries u64 (version 2)
//!                                       | expiry_quartiles_ms 4 × u64 (version 2, only
//!                                         when expiring_entries > 0) }
//! end crc32             u32      of every byte before it
//! ```

use std::path::Path;

use super::coding::{len_u32, Reader};
use super::error::{Error, IoContext, Result};
use super::key::SEQUENCE_MAX;
use super::storage::Storage;
use super::table::{ExpiryProfile, TableMeta};

/// MANIFEST magic.
pub const MAGIC: &[u8; 8] = b"BDBMANIF";
/// MANIFEST version written by this code.
pub const VERSION: u32 = 2;
/// The version before per-table expiry profiles, still read.
pub const VERSION_WITHOUT_EXPIRY: u32 = 1;
/// The file name.
pub const FILE_NAME: &str = "MANIFEST";
/// The temporary name used while replacing it.
pub const TEMP_FILE_NAME: &str = "MANIFEST.tmp";
/// Largest `next_file_number` or `log_number` a reader accepts (like sequence numbers,
/// 56 bits: one new file per nanosecond would take two years to get there).
pub const FILE_NUMBER_MAX: u64 = SEQUENCE_MAX;

/// The decoded MANIFEST.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Next number for a WAL or table file.
    pub next_file_number: u64,
    /// Highest sequence number stored in tables.
    pub last_sequence: u64,
    /// Oldest live WAL number.
    pub log_number: u64,
    /// Live tables, newest first within level 0.
    pub tables: Vec<TableMeta>,
}

impl Manifest {
    /// Encodes with the trailing CRC.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.tables.len() * 80);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.next_file_number.to_le_bytes());
        out.extend_from_slice(&self.last_sequence.to_le_bytes());
        out.extend_from_slice(&self.log_number.to_le_bytes());
        out.extend_from_slice(&len_u32(self.tables.len()).to_le_bytes());
        for t in &self.tables {
            out.push(t.level);
            out.extend_from_slice(&t.number.to_le_bytes());
            out.extend_from_slice(&t.file_size.to_le_bytes());
            out.extend_from_slice(&t.entry_count.to_le_bytes());
            out.extend_from_slice(&t.max_seq.to_le_bytes());
            for key in [&t.smallest, &t.largest] {
                out.extend_from_slice(&len_u32(key.len()).to_le_bytes());
                out.extend_from_slice(key);
            }
            out.extend_from_slice(&t.expiry.entries.to_le_bytes());
            if t.expiry.entries > 0 {
                for q in t.expiry.quartiles_ms {
                    out.extend_from_slice(&q.to_le_bytes());
                }
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Decodes and checks; `Err((offset, what))` on any violation.
    pub fn decode(bytes: &[u8]) -> Result<Self, (u64, &'static str)> {
        let body_len = bytes.len().checked_sub(4).ok_or((0, "MANIFEST truncated"))?;
        let (body, crc) = bytes.split_at(body_len);
        if crc != crc32fast::hash(body).to_le_bytes() {
            return Err((body_len as u64, "MANIFEST checksum mismatch"));
        }
        let mut r = Reader::new(body);
        if r.take(8) != Some(&MAGIC[..]) {
            return Err((0, "bad MANIFEST magic"));
        }
        let version = r.u32();
        if version != Some(VERSION) && version != Some(VERSION_WITHOUT_EXPIRY) {
            return Err((8, "unsupported MANIFEST version"));
        }
        let with_expiry = version == Some(VERSION);
        let truncated = |r: &Reader<'_>| (r.position() as u64, "MANIFEST truncated");
        let mut m = Self {
            next_file_number: r.u64().ok_or_else(|| truncated(&r))?,
            last_sequence: r.u64().ok_or_else(|| truncated(&r))?,
            log_number: r.u64().ok_or_else(|| truncated(&r))?,
            tables: Vec::new(),
        };
        // Counters no writer can reach would wrap in recovery's arithmetic (and a wrapped
        // sequence number would make new writes read as older than old ones).
        if m.last_sequence > SEQUENCE_MAX {
            return Err((20, "MANIFEST last_sequence out of range"));
        }
        if m.next_file_number > FILE_NUMBER_MAX || m.log_number > FILE_NUMBER_MAX {
            return Err((12, "MANIFEST file number out of range"));
        }
        let count = r.u32().ok_or_else(|| truncated(&r))?;
        for _ in 0..count {
            let start = r.position() as u64;
            let table = decode_table(&mut r, with_expiry).ok_or_else(|| truncated(&r))?;
            if !table.expiry.is_consistent() {
                return Err((start, "MANIFEST expiry quartiles out of order"));
            }
            if table.expiry.entries > table.entry_count {
                return Err((start, "MANIFEST expiring entries exceed the table's entries"));
            }
            m.tables.push(table);
        }
        if r.remaining() != 0 {
            return Err((r.position() as u64, "trailing bytes in MANIFEST"));
        }
        Ok(m)
    }

    /// Reads and checks `dir/MANIFEST`; `Ok(None)` if it does not exist.
    pub fn load(storage: &dyn Storage, dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(FILE_NAME);
        let bytes = match storage.read_all(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading MANIFEST", e)),
        };
        Self::decode(&bytes)
            .map(Some)
            .map_err(|(offset, what)| Error::corruption(path.display().to_string(), offset, what))
    }

    /// Replaces `dir/MANIFEST` atomically: write temp, fsync, rename, fsync the directory.
    pub fn store(&self, storage: &dyn Storage, dir: &Path) -> Result<()> {
        let temp = dir.join(TEMP_FILE_NAME);
        let mut file = storage.create(&temp).ctx(|| "creating MANIFEST.tmp".into())?;
        file.append(&self.encode()).ctx(|| "writing MANIFEST.tmp".into())?;
        file.sync_data().ctx(|| "syncing MANIFEST.tmp".into())?;
        drop(file);
        storage.rename(&temp, &dir.join(FILE_NAME)).ctx(|| "renaming MANIFEST.tmp to MANIFEST".into())?;
        storage.sync_dir(dir).ctx(|| "syncing the database directory".into())
    }
}

fn decode_table(r: &mut Reader<'_>, with_expiry: bool) -> Option<TableMeta> {
    let level = r.u8()?;
    let number = r.u64()?;
    let file_size = r.u64()?;
    let entry_count = r.u64()?;
    let max_seq = r.u64()?;
    let len = r.u32()? as usize;
    let smallest = r.take(len)?.to_vec();
    let len = r.u32()? as usize;
    let largest = r.take(len)?.to_vec();
    let mut expiry = ExpiryProfile::default();
    if with_expiry {
        expiry.entries = r.u64()?;
        if expiry.entries > 0 {
            for q in &mut expiry.quartiles_ms {
                *q = r.u64()?;
            }
        }
    }
    Some(TableMeta { number, level, file_size, entry_count, smallest, largest, max_seq, expiry })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            next_file_number: 9,
            last_sequence: 1234,
            log_number: 7,
            tables: vec![
                TableMeta {
                    number: 5,
                    level: 0,
                    file_size: 4096,
                    entry_count: 10,
                    smallest: b"\0a".to_vec(),
                    largest: b"\0z".to_vec(),
                    max_seq: 1234,
                    expiry: ExpiryProfile::default(),
                },
                TableMeta {
                    number: 6,
                    level: 1,
                    file_size: 8192,
                    entry_count: 20,
                    smallest: b"\0b".to_vec(),
                    largest: b"\0y".to_vec(),
                    max_seq: 1000,
                    expiry: ExpiryProfile { entries: 12, quartiles_ms: [100, 200, 200, 400] },
                },
            ],
        }
    }

    /// A version-1 MANIFEST (written before expiry profiles): the same bytes without the
    /// tables' expiry fields.
    fn version_1_bytes(m: &Manifest) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION_WITHOUT_EXPIRY.to_le_bytes());
        for n in [m.next_file_number, m.last_sequence, m.log_number] {
            out.extend_from_slice(&n.to_le_bytes());
        }
        out.extend_from_slice(&len_u32(m.tables.len()).to_le_bytes());
        for t in &m.tables {
            out.push(t.level);
            for n in [t.number, t.file_size, t.entry_count, t.max_seq] {
                out.extend_from_slice(&n.to_le_bytes());
            }
            for key in [&t.smallest, &t.largest] {
                out.extend_from_slice(&len_u32(key.len()).to_le_bytes());
                out.extend_from_slice(key);
            }
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    #[test]
    fn a_version_1_manifest_reads_with_empty_expiry_profiles() {
        let m = sample();
        let mut expected = m.clone();
        for t in &mut expected.tables {
            t.expiry = ExpiryProfile::default();
        }
        assert_eq!(Manifest::decode(&version_1_bytes(&m)).unwrap(), expected);
    }

    #[test]
    fn more_expiring_entries_than_entries_are_corruption() {
        let mut m = sample();
        m.tables[1].expiry.entries = 21;
        assert_eq!(
            Manifest::decode(&m.encode()).unwrap_err().1,
            "MANIFEST expiring entries exceed the table's entries"
        );
    }

    #[test]
    fn quartiles_out_of_order_are_corruption() {
        let mut m = sample();
        m.tables[1].expiry.quartiles_ms = [300, 200, 200, 400];
        assert_eq!(Manifest::decode(&m.encode()).unwrap_err().1, "MANIFEST expiry quartiles out of order");
    }

    #[test]
    fn round_trips() {
        let m = sample();
        assert_eq!(Manifest::decode(&m.encode()).unwrap(), m);
    }

    #[test]
    fn every_flipped_byte_and_every_truncation_is_rejected() {
        let bytes = sample().encode();
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(Manifest::decode(&bad).is_err(), "flip at {i}");
            assert!(Manifest::decode(&bytes[..i]).is_err(), "cut at {i}");
        }
    }
}

//! The write-ahead log (docs/format.md "WAL files"). One record is one atomic batch:
//!
//! ```text
//! offset 0  payload_len  u32 LE
//!        4  crc32        u32 LE  CRC-32 (IEEE) of bytes 0..4 and 8..24+payload_len
//!        8  log_number   u64 LE  the number in the file's name (catches misplaced records)
//!       16  first_seq    u64 LE  sequence number of the batch's first operation
//!       24  payload      the batch (see batch.rs)
//! ```
//!
//! Recovery (docs/design.md "Recovery"): in the newest WAL, an invalid record that no valid
//! record follows is a torn tail and is truncated; anything else invalid is corruption.
//! Older WALs were fsynced before the next one started, so any damage in them is corruption.

use std::path::Path;

use super::batch::{decode_payload, Op};
use super::coding::{u32_at, u64_at};
use super::error::{Error, IoContext, Result};
use super::key::SEQUENCE_MAX;
use super::storage::{Storage, WritableFile};

/// Bytes of the record header.
pub const RECORD_HEADER_BYTES: usize = 24;

/// Appends one framed record to `out`.
pub fn encode_record(out: &mut Vec<u8>, log_number: u64, first_seq: u64, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    assert!(payload.len() <= u32::MAX as usize, "batch payload over 4 GiB");
    let start = out.len();
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&log_number.to_le_bytes());
    out.extend_from_slice(&first_seq.to_le_bytes());
    out.extend_from_slice(payload);
    let crc = record_crc(out.get(start..).unwrap_or_default());
    if let Some(slot) = out.get_mut(start + 4..start + 8) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
}

/// CRC of a framed record, skipping its own 4-byte slot.
fn record_crc(record: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(record.get(..4).unwrap_or_default());
    h.update(record.get(8..).unwrap_or_default());
    h.finalize()
}

/// An open WAL being appended to.
pub struct WalWriter {
    file: Box<dyn WritableFile>,
    number: u64,
    /// `len_bytes` when writeback was last started.
    written_back_bytes: u64,
}

/// Appended bytes after which the OS is asked to start writing a WAL to the disk (RocksDB's
/// `wal_bytes_per_sync`): the `fdatasync` that a rotation or a `sync: true` write waits for
/// then finds at most this much dirty, instead of a whole memtable's worth (docs/design.md
/// "WAL rotation").
pub const WRITEBACK_INTERVAL_BYTES: u64 = 512 * 1024;

impl WalWriter {
    /// Wraps a file opened for appending.
    pub fn new(file: Box<dyn WritableFile>, number: u64) -> Self {
        let written_back_bytes = file.len_bytes();
        Self { file, number, written_back_bytes }
    }

    /// The WAL's file number.
    #[must_use]
    pub const fn number(&self) -> u64 {
        self.number
    }

    /// Writes already framed records with one `write`.
    pub fn append(&mut self, records: &[u8]) -> Result<()> {
        self.file.append(records).ctx(|| format!("appending to WAL {:06}", self.number))?;
        if self.file.len_bytes() - self.written_back_bytes >= WRITEBACK_INTERVAL_BYTES {
            self.file.start_writeback();
            self.written_back_bytes = self.file.len_bytes();
        }
        Ok(())
    }

    /// Appends already framed records only if that cannot wait (a copy into the mapped,
    /// prepared WAL: storage.rs `append_in_memory`); `false` writes nothing.
    pub fn append_in_memory(&mut self, records: &[u8]) -> bool {
        self.file.append_in_memory(records)
    }

    /// Bytes an in-memory append would take now (0: it would decline).
    #[must_use]
    pub fn room_in_memory(&self) -> u64 {
        self.file.room_in_memory()
    }

    /// Readies room for later in-memory appends (off the JS thread).
    pub fn prepare_in_memory(&mut self) {
        self.file.prepare_in_memory();
    }

    /// The last sync of a WAL that no one appends to again (a rotation): the file cut back to
    /// its records (no reserved zero tail, which in an older WAL would read as damage), then
    /// `fdatasync`.
    pub fn finish(&mut self) -> Result<()> {
        self.file.trim().ctx(|| format!("trimming WAL {:06}", self.number))?;
        self.sync()
    }

    /// `fdatasync`.
    pub fn sync(&mut self) -> Result<()> {
        self.file.sync_data().ctx(|| format!("syncing WAL {:06}", self.number))?;
        self.written_back_bytes = self.file.len_bytes();
        Ok(())
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len_bytes(&self) -> u64 {
        self.file.len_bytes()
    }
}

/// What replaying one WAL found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ReplaySummary {
    /// Valid records applied.
    pub records: u64,
    /// Highest sequence number applied (0 if none).
    pub last_seq: u64,
    /// Bytes of torn tail removed (newest WAL only).
    pub truncated_bytes: u64,
}

/// What is at an offset of a WAL.
enum Framed {
    /// A record whose frame and CRC hold: payload range and first sequence number.
    Record { start: usize, end: usize, first_seq: u64 },
    /// No whole record with a matching CRC: a torn write, or damage (decided by what follows).
    Invalid,
}

/// Checks the frame and CRC of the record at `offset`.
fn frame_at(bytes: &[u8], offset: usize) -> Framed {
    let check = || {
        let len = u32_at(bytes, offset)? as usize;
        let end = offset.checked_add(RECORD_HEADER_BYTES)?.checked_add(len)?;
        let record = bytes.get(offset..end)?;
        (u32_at(record, 4)? == record_crc(record)).then_some((end, u64_at(record, 16)?))
    };
    match check() {
        Some((end, first_seq)) => Framed::Record { start: offset + RECORD_HEADER_BYTES, end, first_seq },
        None => Framed::Invalid,
    }
}

/// Whether a record of this log with a matching CRC starts after `offset` (distinguishes
/// damage from a torn tail). The cheap log-number test runs before the CRC.
fn valid_record_after(bytes: &[u8], offset: usize, log_number: u64) -> bool {
    let wanted = log_number.to_le_bytes();
    (offset + 1..bytes.len().saturating_sub(RECORD_HEADER_BYTES - 1))
        .filter(|p| bytes.get(p + 8..p + 16) == Some(&wanted[..]))
        .any(|p| matches!(frame_at(bytes, p), Framed::Record { .. }))
}

/// Where and why a walk over a WAL stopped before its end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalStop {
    /// Offset of the first byte not accepted.
    pub offset: u64,
    /// Whether it is a torn tail (newest WAL, nothing valid follows) rather than damage.
    pub torn: bool,
    /// What is wrong there.
    pub what: &'static str,
}

/// What a walk over a WAL's bytes found: the valid prefix, and where it stopped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WalScan {
    /// Valid records in the prefix.
    pub records: u64,
    /// Highest sequence number in the prefix (0 if none).
    pub last_seq: u64,
    /// Bytes of the valid prefix.
    pub valid_bytes: u64,
    /// `None` when every byte belongs to a valid record.
    pub stop: Option<WalStop>,
}

/// Walks a WAL's bytes, calling `apply(first_seq, ops)` for each record of the valid prefix.
/// Pure: recovery, `verify` and `repair` decide what a stop means. `min_seq` is the first
/// sequence number the first record may use (sequence numbers only grow).
pub fn scan(
    bytes: &[u8],
    log_number: u64,
    is_newest: bool,
    min_seq: u64,
    mut apply: impl FnMut(u64, &[Op<'_>]),
) -> WalScan {
    let mut summary = WalScan::default();
    let mut next_seq = min_seq;
    let mut offset = 0usize;
    while offset < bytes.len() {
        let stop = |torn: bool, what: &'static str| Some(WalStop { offset: offset as u64, torn, what });
        let Framed::Record { start, end, first_seq } = frame_at(bytes, offset) else {
            // Zeros to the end are the room a mapped WAL reserves past its records (after a
            // crash, before the trim); a record cut short there is a torn write like any.
            let zeros_to_end = bytes.get(offset..).is_some_and(|rest| rest.iter().all(|&b| b == 0));
            let torn = is_newest && (zeros_to_end || !valid_record_after(bytes, offset, log_number));
            summary.stop = stop(torn, "invalid WAL record");
            return summary;
        };
        // The CRC holds, so these bytes were written whole: anything wrong in them is damage
        // or a bug, never a torn write.
        if u64_at(bytes, offset + 8) != Some(log_number) {
            summary.stop = stop(false, "WAL record belongs to another log");
            return summary;
        }
        let Some(ops) = bytes.get(start..end).and_then(decode_payload) else {
            summary.stop = stop(false, "malformed WAL batch payload");
            return summary;
        };
        let count = ops.len() as u64;
        // Checked: a crafted record's `first_seq` near `u64::MAX` must not wrap past the limit.
        let last_seq = first_seq.checked_add(count.saturating_sub(1));
        if first_seq < next_seq || count == 0 || last_seq.is_none_or(|last| last > SEQUENCE_MAX) {
            summary.stop = stop(false, "WAL record sequence numbers out of order");
            return summary;
        }
        apply(first_seq, &ops);
        next_seq = first_seq + count;
        summary.last_seq = next_seq - 1;
        summary.records += 1;
        offset = end;
        summary.valid_bytes = end as u64;
    }
    summary
}

/// What replay does with a torn tail of the newest WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TornTail {
    /// Cut it off the file (a normal open: the next append starts on a record boundary).
    Truncate,
    /// Skip it in memory and leave the file as it is (a read-only open).
    Keep,
}

/// Replays a WAL, calling `apply(first_seq, ops)` for every valid record in order; a torn
/// tail of the newest WAL is handled as `torn` says, anything else invalid is corruption.
pub fn replay(
    storage: &dyn Storage,
    path: &Path,
    log_number: u64,
    is_newest: bool,
    min_seq: u64,
    torn: TornTail,
    apply: impl FnMut(u64, &[Op<'_>]),
) -> Result<ReplaySummary> {
    let name = path.display().to_string();
    let bytes = storage.read_all(path).ctx(|| format!("reading WAL {name}"))?;
    let scanned = scan(&bytes, log_number, is_newest, min_seq, apply);
    let mut summary = ReplaySummary { records: scanned.records, last_seq: scanned.last_seq, truncated_bytes: 0 };
    match scanned.stop {
        None => {}
        Some(stop) if stop.torn && torn == TornTail::Truncate => {
            summary.truncated_bytes = bytes.len() as u64 - stop.offset;
            storage.truncate(path, stop.offset).ctx(|| format!("truncating torn tail of {name}"))?;
        }
        Some(stop) if stop.torn => {}
        Some(stop) => return Err(Error::corruption(name, stop.offset, stop.what)),
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;

    /// Counts writeback hints and syncs.
    struct Counting {
        len_bytes: u64,
        hints: Arc<AtomicU64>,
    }

    impl WritableFile for Counting {
        fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
            self.len_bytes += data.len() as u64;
            Ok(())
        }
        fn sync_data(&mut self) -> std::io::Result<()> {
            Ok(())
        }
        fn len_bytes(&self) -> u64 {
            self.len_bytes
        }
        fn start_writeback(&mut self) {
            self.hints.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// A rotation's `finish` leaves an older WAL exactly its records: no reserved zero tail,
    /// which replay of a WAL that is not the newest would report as damage.
    #[cfg(target_os = "linux")]
    #[test]
    fn finish_cuts_a_mapped_wal_back_to_its_records_and_replay_reads_them_as_an_older_wal() {
        use crate::engine::storage::FsStorage;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("000007.wal");
        let storage = FsStorage;
        let file = storage.open_log(&path, false, 1 << 20, 64 * 1024).unwrap_or_else(|e| panic!("open_log: {e}"));
        let mut wal = WalWriter::new(file, 7);
        let mut records = Vec::new();
        for seq in 1..=50u64 {
            let mut batch = crate::engine::WriteBatch::new();
            batch.put(format!("k{seq}").as_bytes(), b"value").unwrap_or_default();
            let mut record = Vec::new();
            encode_record(&mut record, 7, seq, batch.payload());
            assert!(wal.append_in_memory(&record), "record {seq} in memory");
            records.extend_from_slice(&record);
        }
        let on_disk = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        assert!(on_disk > records.len() as u64, "a reserved tail while open");
        wal.finish().unwrap_or_else(|e| panic!("finish: {e}"));
        assert_eq!(std::fs::read(&path).unwrap_or_default(), records);
        let replayed = replay(&storage, &path, 7, false, 1, TornTail::Truncate, |_, _| {})
            .unwrap_or_else(|e| panic!("replay as an older WAL: {e}"));
        assert_eq!(replayed.records, 50);
    }

    /// A WAL asks for writeback once per `WRITEBACK_INTERVAL_BYTES` appended since the last
    /// hint or sync, so a rotation's `fdatasync` finds at most that much left to write.
    #[test]
    fn appends_start_writeback_every_interval_and_a_sync_restarts_the_count() {
        let hints = Arc::new(AtomicU64::new(0));
        let mut wal = WalWriter::new(Box::new(Counting { len_bytes: 0, hints: Arc::clone(&hints) }), 1);
        let record = vec![0u8; 64 * 1024];
        let per_interval = WRITEBACK_INTERVAL_BYTES / record.len() as u64;
        for _ in 0..4 * per_interval {
            wal.append(&record).unwrap_or_default();
        }
        assert_eq!(hints.load(Ordering::SeqCst), 4);
        for _ in 0..per_interval - 1 {
            wal.append(&record).unwrap_or_default();
        }
        wal.sync().unwrap_or_default();
        wal.append(&record).unwrap_or_default();
        assert_eq!(hints.load(Ordering::SeqCst), 4, "the sync wrote what the next hint would have covered");
        for _ in 0..per_interval - 1 {
            wal.append(&record).unwrap_or_default();
        }
        assert_eq!(hints.load(Ordering::SeqCst), 5);
    }
}

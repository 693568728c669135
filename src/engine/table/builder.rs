//! Writes a table file from entries arriving in internal-key order (flush, compaction).
//! Output is buffered into ~64 KiB writes; every byte is fed to the SHA-256 of the footer.

use sha2::{Digest, Sha256};

use super::block::{encode_stored, BlockBuilder};
use super::expiry::{ExpiryProfile, ExpirySampler};
use super::filter;
use super::format::{
    BlockHandle, Footer, Header, FILE_KIND_TABLE, FLAG_HAS_FILTER, FLAG_HAS_RANGE_DELETES, FLAG_PACKED_TAGS,
};
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::key::Kind;
use crate::engine::options::Compression;
use crate::engine::range_del::{inclusive_end, RangeTombstone};
use crate::engine::storage::WritableFile;

/// Bytes buffered before one `write`.
const WRITE_BUFFER_BYTES: usize = 64 * 1024;

/// Bytes written between two writeback hints (`WritableFile::start_writeback`; RocksDB's
/// `bytes_per_sync`, 1 MiB as RocksDB's tuning guide suggests).
const WRITEBACK_INTERVAL_BYTES: u64 = 1024 * 1024;

/// What the MANIFEST records about a finished table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableMeta {
    /// File number (`NNNNNN.sst`).
    pub number: u64,
    /// Level in the LSM tree (0 for flushed tables).
    pub level: u8,
    /// File size in bytes.
    pub file_size: u64,
    /// Entries in the table's data blocks (range tombstones not counted).
    pub entry_count: u64,
    /// Smallest stored key, or range-delete start.
    pub smallest: Vec<u8>,
    /// Largest stored key, or the largest key a range tombstone may cover
    /// (`range_del::inclusive_end`), whichever is larger: reads and compactions must not skip
    /// a table whose range tombstones cover a key.
    pub largest: Vec<u8>,
    /// Largest sequence number.
    pub max_seq: u64,
    /// When its values with an expiry time expire (compaction rewrites a table most of whose
    /// entries have expired).
    pub expiry: ExpiryProfile,
}

/// Builds one table.
pub struct TableBuilder {
    file: Box<dyn WritableFile>,
    number: u64,
    compression: Compression,
    block_size_bytes: usize,
    out: Vec<u8>,
    offset: u64,
    sha: Sha256,
    data: BlockBuilder,
    /// Data blocks finished so far: the index of the block `data` will become.
    data_blocks: usize,
    index: BlockBuilder,
    key_hashes: Vec<u64>,
    entry_count: u64,
    smallest: Option<Vec<u8>>,
    max_seq: u64,
    expiry: ExpirySampler,
    header: Header,
    range_deletes: Vec<RangeTombstone>,
}

impl TableBuilder {
    /// Starts a table in a freshly created file.
    pub fn new(file: Box<dyn WritableFile>, number: u64, compression: Compression, block_size_bytes: usize) -> Self {
        Self::new_at(file, number, compression, block_size_bytes, crate::engine::key::now_ms())
    }

    /// Starts a single-file export (`export(file, { format: 'bdb' })`): the table format with
    /// `file_kind` = export and table number 0.
    pub fn new_export(file: Box<dyn WritableFile>, compression: Compression, block_size_bytes: usize) -> Self {
        let mut b = Self::new(file, 0, compression, block_size_bytes);
        b.out.clear();
        b.header = Header {
            file_kind: super::format::FILE_KIND_EXPORT,
            compression,
            flags: FLAG_HAS_FILTER | FLAG_PACKED_TAGS,
            created_ms: crate::engine::key::now_ms(),
            table_number: 0,
        };
        let header = b.header.encode();
        b.emit(&header);
        b
    }

    /// Starts a table whose header records `created_ms` (fixed in format tests).
    pub fn new_at(
        file: Box<dyn WritableFile>,
        number: u64,
        compression: Compression,
        block_size_bytes: usize,
        created_ms: u64,
    ) -> Self {
        let header = Header {
            file_kind: FILE_KIND_TABLE,
            compression,
            flags: FLAG_HAS_FILTER | FLAG_PACKED_TAGS,
            created_ms,
            table_number: number,
        };
        let mut b = Self {
            file,
            number,
            compression,
            block_size_bytes,
            out: Vec::with_capacity(WRITE_BUFFER_BYTES * 2),
            offset: 0,
            sha: Sha256::new(),
            data: BlockBuilder::default(),
            data_blocks: 0,
            index: BlockBuilder::default(),
            key_hashes: Vec::new(),
            entry_count: 0,
            smallest: None,
            max_seq: 0,
            expiry: ExpirySampler::default(),
            header,
            range_deletes: Vec::new(),
        };
        let header = b.header.encode();
        b.emit(&header);
        b
    }

    /// Marks the table as carrying a range-delete block (header flag
    /// `FLAG_HAS_RANGE_DELETES`), possibly empty. Possible only while nothing has been
    /// written to the file (the header is its first bytes); `add_range_delete` calls it.
    pub fn allow_range_deletes(&mut self) -> Result<()> {
        if self.header.flags & FLAG_HAS_RANGE_DELETES != 0 {
            return Ok(());
        }
        let header_bytes = super::format::HEADER_BYTES;
        if self.offset != 0 || self.out.len() < header_bytes {
            return Err(Error::Internal("range deletes must be announced before a table's first write".into()));
        }
        self.header.flags |= FLAG_HAS_RANGE_DELETES;
        let header = self.header.encode();
        if let Some(head) = self.out.get_mut(..header_bytes) {
            head.copy_from_slice(&header);
        }
        Ok(())
    }

    /// Adds a range tombstone `[start, end)` (stored keys) at `seq`, in any order relative to
    /// the entries. Call before the first data block is written out (or after
    /// `allow_range_deletes`).
    pub fn add_range_delete(&mut self, start: &[u8], end: &[u8], seq: u64) -> Result<()> {
        self.allow_range_deletes()?;
        if start >= end {
            return Err(Error::Internal("an empty range tombstone".into()));
        }
        self.range_deletes.push(RangeTombstone { start: start.to_vec(), end: end.to_vec(), seq });
        self.max_seq = self.max_seq.max(seq);
        Ok(())
    }

    fn emit(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    fn write_out(&mut self) -> Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        self.sha.update(&self.out);
        self.file.append(&self.out).ctx(|| format!("writing table {:06}", self.number))?;
        // Start the disk writing every `WRITEBACK_INTERVAL_BYTES`, so the `fdatasync` at
        // `finish` waits for the last stretch only, not the whole table.
        let before = self.offset;
        self.offset += self.out.len() as u64;
        if before / WRITEBACK_INTERVAL_BYTES != self.offset / WRITEBACK_INTERVAL_BYTES {
            self.file.start_writeback();
        }
        self.out.clear();
        Ok(())
    }

    /// Adds an entry; entries must come in internal-key order.
    pub fn add(&mut self, key: &[u8], seq: u64, kind: Kind, expiry_ms: u64, value: &[u8]) -> Result<()> {
        if self.smallest.is_none() {
            self.smallest = Some(key.to_vec());
        }
        if self.data.is_empty() || self.data.last_key() != key {
            self.key_hashes.push(filter::key_hash(key));
        }
        self.data.add(key, seq, kind, expiry_ms, value);
        self.entry_count += 1;
        self.max_seq = self.max_seq.max(seq);
        if kind.has_expiry() {
            self.expiry.add(expiry_ms);
        }
        if self.data.estimated_bytes() >= self.block_size_bytes {
            self.finish_data_block()?;
        }
        Ok(())
    }

    fn finish_data_block(&mut self) -> Result<()> {
        if self.data.is_empty() {
            return Ok(());
        }
        let (last_key, last_seq) = (self.data.last_key().to_vec(), self.data.last_seq());
        let raw = self.data.finish();
        let offset = self.offset + self.out.len() as u64;
        let mut stored = std::mem::take(&mut self.out);
        let size = encode_stored(&raw, self.compression, &mut stored);
        self.out = stored;
        let mut handle = Vec::with_capacity(BlockHandle::ENCODED_BYTES);
        BlockHandle { offset, size: u32::try_from(size).unwrap_or(u32::MAX) }.encode(&mut handle);
        self.index.add(&last_key, last_seq, Kind::Put, 0, &handle);
        self.data_blocks += 1;
        if self.out.len() >= WRITE_BUFFER_BYTES {
            self.write_out()?;
        }
        Ok(())
    }

    /// The index of the data block the next `add` goes into.
    #[must_use]
    pub const fn next_data_block(&self) -> usize {
        self.data_blocks
    }

    /// Number of entries added so far.
    #[must_use]
    pub const fn entry_count(&self) -> u64 {
        self.entry_count
    }

    /// The table's file number.
    #[must_use]
    pub const fn number(&self) -> u64 {
        self.number
    }

    /// Bytes written or buffered so far.
    #[must_use]
    pub fn bytes_so_far(&self) -> u64 {
        self.offset + self.out.len() as u64
    }

    /// Writes filter, index, range-delete block (if announced) and footer, fsyncs the file,
    /// and returns its metadata.
    pub fn finish(mut self) -> Result<TableMeta> {
        let largest = self.data.last_key().to_vec();
        let mut largest = if largest.is_empty() { self.index_last_key() } else { largest };
        let mut smallest = self.smallest.take().unwrap_or_default();
        self.finish_data_block()?;
        let data_end = self.offset + self.out.len() as u64;
        let filter_bytes = filter::build(&self.key_hashes);
        let filter = self.write_meta_block(&filter_bytes);
        let index_raw = self.index.finish();
        let index = self.write_meta_block(&index_raw);
        if self.header.flags & FLAG_HAS_RANGE_DELETES != 0 {
            // Internal-key order: start ascending, newest first; a repeat of one tombstone
            // is written once.
            let mut tombstones = std::mem::take(&mut self.range_deletes);
            tombstones.sort_by(|a, b| a.start.cmp(&b.start).then(b.seq.cmp(&a.seq)));
            tombstones.dedup_by(|a, b| a.start == b.start && a.seq == b.seq);
            let mut block = BlockBuilder::default();
            for t in &tombstones {
                block.add(&t.start, t.seq, Kind::RangeDelete, 0, &t.end);
                if smallest.is_empty() || t.start < smallest {
                    smallest.clone_from(&t.start);
                }
                let end = inclusive_end(&t.end);
                if end > largest.as_slice() {
                    largest = end.to_vec();
                }
            }
            let raw = block.finish();
            self.write_meta_block(&raw);
        }
        self.write_out()?;
        let sha256: [u8; 32] = self.sha.clone().finalize().into();
        let footer = Footer {
            entry_count: self.entry_count,
            data_size: data_end - super::format::HEADER_BYTES as u64,
            filter,
            index,
            max_seq: self.max_seq,
            sha256,
        };
        self.file.append(&footer.encode()).ctx(|| format!("writing footer of table {:06}", self.number))?;
        self.file.sync_data().ctx(|| format!("syncing table {:06}", self.number))?;
        Ok(TableMeta {
            number: self.number,
            level: 0,
            file_size: self.file.len_bytes(),
            entry_count: self.entry_count,
            smallest,
            largest,
            max_seq: self.max_seq,
            expiry: std::mem::take(&mut self.expiry).finish(),
        })
    }

    fn index_last_key(&self) -> Vec<u8> {
        self.index.last_key().to_vec()
    }

    fn write_meta_block(&mut self, raw: &[u8]) -> BlockHandle {
        let offset = self.offset + self.out.len() as u64;
        let mut out = std::mem::take(&mut self.out);
        let size = encode_stored(raw, Compression::None, &mut out);
        self.out = out;
        BlockHandle { offset, size: u32::try_from(size).unwrap_or(u32::MAX) }
    }
}

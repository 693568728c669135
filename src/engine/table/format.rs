//! Fixed-size parts of a table file: the 40-byte header, the 96-byte footer, block handles
//! and the 5-byte block trailer (docs/format.md gives every offset).

use crate::engine::coding::{u32_at, u64_at};
use crate::engine::options::Compression;

/// File magic at the start of the header and the end of the footer.
pub const MAGIC: &[u8; 9] = b"BROWSERDB";
/// Table format version written by this code; readers refuse any other.
pub const FORMAT_VERSION: u8 = 1;
/// `file_kind` of a `.sst` table.
pub const FILE_KIND_TABLE: u8 = 1;
/// `file_kind` of a single-file `.bdb` export (reserved for `export`).
pub const FILE_KIND_EXPORT: u8 = 2;
/// Header size in bytes.
pub const HEADER_BYTES: usize = 40;
/// Footer size in bytes.
pub const FOOTER_BYTES: usize = 96;
/// Block trailer: compression byte + CRC32.
pub const BLOCK_TRAILER_BYTES: usize = 5;
/// Header flag: the table has a filter block.
pub const FLAG_HAS_FILTER: u32 = 1;
/// Header flag: a range-delete block follows the index block (docs/format.md "Range-delete
/// block"). Readers older than this flag refuse such tables instead of missing the deletes.
pub const FLAG_HAS_RANGE_DELETES: u32 = 2;
/// Header flag: blocks may hold packed entry tags (docs/format.md "Data blocks"; each block
/// says so itself). Set by every writer since, so readers older than the packed tag refuse the
/// table at open with "unknown header flags" instead of failing on its first block.
pub const FLAG_PACKED_TAGS: u32 = 4;
/// Flags this version understands; a reader refuses others.
pub const FLAGS_KNOWN: u32 = FLAG_HAS_FILTER | FLAG_HAS_RANGE_DELETES | FLAG_PACKED_TAGS;

/// Where a block lives: offset of its stored bytes and their length (trailer excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockHandle {
    /// Offset in the file.
    pub offset: u64,
    /// Stored (possibly compressed) size, trailer excluded.
    pub size: u32,
}

impl BlockHandle {
    /// Encoded size in bytes.
    pub const ENCODED_BYTES: usize = 12;

    /// Appends the 12-byte encoding.
    pub fn encode(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.offset.to_le_bytes());
        out.extend_from_slice(&self.size.to_le_bytes());
    }

    /// Decodes 12 bytes.
    #[must_use]
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != Self::ENCODED_BYTES {
            return None;
        }
        Some(Self { offset: u64_at(bytes, 0)?, size: u32_at(bytes, 8)? })
    }
}

/// The table header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// `FILE_KIND_TABLE` or `FILE_KIND_EXPORT`.
    pub file_kind: u8,
    /// Compression the writer used for data blocks (each block also names its own).
    pub compression: Compression,
    /// `FLAG_*` bits.
    pub flags: u32,
    /// Creation time, unix ms.
    pub created_ms: u64,
    /// The table's file number.
    pub table_number: u64,
}

impl Header {
    /// The 40-byte encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_BYTES);
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        out.push(self.file_kind);
        out.push(self.compression as u8);
        out.extend_from_slice(&self.flags.to_le_bytes());
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.table_number.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        debug_assert_eq!(out.len(), HEADER_BYTES);
        out
    }

    /// Decodes and checks a header; `Err(what)` names the failed rule.
    pub fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let body = bytes.get(..36).ok_or("header truncated")?;
        if u32_at(bytes, 36) != Some(crc32fast::hash(body)) {
            return Err("header checksum mismatch");
        }
        if body.get(..9) != Some(&MAGIC[..]) {
            return Err("bad magic: not a browserdb file");
        }
        if body.get(9) != Some(&FORMAT_VERSION) {
            return Err("unsupported format version");
        }
        let compression = body.get(11).and_then(|&b| Compression::from_byte(b)).ok_or("unknown compression")?;
        let flags = u32_at(body, 12).ok_or("header truncated")?;
        if flags & !FLAGS_KNOWN != 0 {
            return Err("unknown header flags");
        }
        Ok(Self {
            file_kind: body.get(10).copied().ok_or("header truncated")?,
            compression,
            flags,
            created_ms: u64_at(body, 16).ok_or("header truncated")?,
            table_number: u64_at(body, 24).ok_or("header truncated")?,
        })
    }
}

/// The table footer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footer {
    /// Entries in the data blocks.
    pub entry_count: u64,
    /// Bytes of the data-block region (header end to filter start), trailers included.
    pub data_size: u64,
    /// The filter block (size 0 when absent).
    pub filter: BlockHandle,
    /// The index block.
    pub index: BlockHandle,
    /// Largest sequence number in the table.
    pub max_seq: u64,
    /// SHA-256 of every byte before the footer.
    pub sha256: [u8; 32],
}

impl Footer {
    /// The 96-byte encoding.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(FOOTER_BYTES);
        out.extend_from_slice(&self.entry_count.to_le_bytes());
        out.extend_from_slice(&self.data_size.to_le_bytes());
        self.filter.encode(&mut out);
        self.index.encode(&mut out);
        out.extend_from_slice(&self.max_seq.to_le_bytes());
        out.extend_from_slice(&self.sha256);
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&[0; 3]);
        out.extend_from_slice(MAGIC);
        debug_assert_eq!(out.len(), FOOTER_BYTES);
        out
    }

    /// Decodes and checks a footer.
    pub fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        if bytes.len() != FOOTER_BYTES {
            return Err("footer truncated");
        }
        if bytes.get(87..) != Some(&MAGIC[..]) {
            return Err("bad footer magic");
        }
        if bytes.get(84..87) != Some(&[0u8; 3][..]) {
            return Err("footer padding is not zero");
        }
        let body = bytes.get(..80).ok_or("footer truncated")?;
        if u32_at(bytes, 80) != Some(crc32fast::hash(body)) {
            return Err("footer checksum mismatch");
        }
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(body.get(48..80).ok_or("footer truncated")?);
        Ok(Self {
            entry_count: u64_at(body, 0).ok_or("footer truncated")?,
            data_size: u64_at(body, 8).ok_or("footer truncated")?,
            filter: BlockHandle::decode(body.get(16..28).ok_or("footer truncated")?).ok_or("footer truncated")?,
            index: BlockHandle::decode(body.get(28..40).ok_or("footer truncated")?).ok_or("footer truncated")?,
            max_seq: u64_at(body, 40).ok_or("footer truncated")?,
            sha256,
        })
    }
}

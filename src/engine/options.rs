//! Every tunable of a database, with its unit and default (LevelDB's options.h idea).

use super::error::{Error, Result};

/// Block compression of tables. The byte value is stored in each block's trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Compression {
    /// Stored as is.
    None = 0,
    /// LZ4 block format (lz4_flex), size-prepended.
    Lz4 = 1,
    /// Zstandard, level 3 (zstd crate), size-prepended.
    Zstd = 2,
    /// zlib (RFC 1950) via flate2, size-prepended.
    Zlib = 3,
}

impl Compression {
    /// Decodes a stored compression byte.
    #[must_use]
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(Self::None),
            1 => Some(Self::Lz4),
            2 => Some(Self::Zstd),
            3 => Some(Self::Zlib),
            _ => None,
        }
    }

    /// Parses the option's name; names defined but not built yet are refused.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "none" => Ok(Self::None),
            "lz4" => Ok(Self::Lz4),
            "zstd" => Ok(Self::Zstd),
            "zlib" => Ok(Self::Zlib),
            other => Err(Error::InvalidArgument(format!(
                "unknown compression '{other}' (expected 'lz4', 'zstd', 'zlib' or 'none')"
            ))),
        }
    }
}

/// How tables are merged as the database grows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactionStyle {
    /// Levels 1.. each ten times the one above, disjoint tables: fewest tables per read,
    /// most rewriting (the default; good for read-heavy use).
    Leveled,
    /// Size-tiered runs in level 0: runs of similar size merge into one, so data is rewritten
    /// about once per tier; reads check more runs (for write-heavy use).
    Tiered,
}

impl CompactionStyle {
    /// Parses the option's name.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "leveled" => Ok(Self::Leveled),
            "tiered" => Ok(Self::Tiered),
            other => Err(Error::InvalidArgument(format!(
                "unknown compactionStyle '{other}' (expected 'leveled' or 'tiered')"
            ))),
        }
    }
}

/// Smallest accepted `write_buffer_size_bytes`.
pub const WRITE_BUFFER_SIZE_BYTES_MIN: usize = 64 * 1024;
/// Largest accepted `write_buffer_size_bytes`.
pub const WRITE_BUFFER_SIZE_BYTES_MAX: usize = 1024 * 1024 * 1024;

/// Options for `Db::open`.
#[derive(Debug, Clone)]
pub struct Options {
    /// Create the directory and database if missing (default true).
    pub create_if_missing: bool,
    /// Refuse to open an existing database (default false).
    pub error_if_exists: bool,
    /// Memtable size, in bytes, at which it is frozen and flushed to a table (default 4 MiB).
    pub write_buffer_size_bytes: usize,
    /// Compression of new tables' data blocks (default LZ4).
    pub compression: Compression,
    /// Target uncompressed size of a data block, in bytes (default 4 KiB).
    pub block_size_bytes: usize,
    /// Immutable memtables that may wait for flush before writers wait (default 2).
    pub immutable_memtables_max: usize,
    /// Block cache budget in bytes (default 16 MiB): decoded blocks kept in memory.
    pub cache_size_bytes: usize,
    /// Bytes of Bloom filters the tables may keep in memory before the deepest level's
    /// tables go without theirs (`FilterBudget`, docs/design.md "Filters of the deepest
    /// level"); `None` (the default): a quarter of `cache_size_bytes`, at least 1 MiB.
    pub filter_memory_bytes_max: Option<u64>,
    /// Leveled or tiered compaction (default leveled).
    pub compaction_style: CompactionStyle,
    /// Size at which compaction starts a new output table, in bytes (default 4 MiB).
    pub table_size_bytes_target: usize,
    /// Size level 1 may reach before it is compacted into level 2, in bytes (default
    /// 16 MiB); each deeper level may hold ten times the one above.
    pub level1_size_bytes_target: u64,
    /// The clock expiry times are compared with, in unix ms (tests substitute their own).
    pub clock: fn() -> u64,
    /// Keep no write-ahead log (ultra mode: the storage is RAM, a log would only copy).
    pub wal_disabled: bool,
    /// Refuse writes that would take memtables plus tables past this many bytes (ultra).
    pub memory_bytes_max: Option<u64>,
    /// Open for reading only: nothing in the directory is created, changed or removed (no
    /// WAL is created, a torn WAL tail is skipped in memory rather than truncated, nothing is
    /// flushed or compacted, close writes nothing). Writes fail with `InvalidArgument`.
    pub read_only: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            create_if_missing: true,
            error_if_exists: false,
            write_buffer_size_bytes: 4 * 1024 * 1024,
            compression: Compression::Lz4,
            block_size_bytes: 4096,
            immutable_memtables_max: 2,
            cache_size_bytes: 16 * 1024 * 1024,
            filter_memory_bytes_max: None,
            compaction_style: CompactionStyle::Leveled,
            table_size_bytes_target: 4 * 1024 * 1024,
            level1_size_bytes_target: 16 * 1024 * 1024,
            clock: super::key::now_ms,
            wal_disabled: false,
            memory_bytes_max: None,
            read_only: false,
        }
    }
}

impl Options {
    /// Checks ranges; called by `Db::open` before touching the disk.
    pub fn validate(&self) -> Result<()> {
        if !(WRITE_BUFFER_SIZE_BYTES_MIN..=WRITE_BUFFER_SIZE_BYTES_MAX).contains(&self.write_buffer_size_bytes) {
            return Err(Error::InvalidArgument(format!(
                "writeBufferSize must be between {WRITE_BUFFER_SIZE_BYTES_MIN} and {WRITE_BUFFER_SIZE_BYTES_MAX} bytes"
            )));
        }
        if !(256..=1024 * 1024).contains(&self.block_size_bytes) {
            return Err(Error::InvalidArgument("block size must be between 256 B and 1 MiB".into()));
        }
        if !(1..=16).contains(&self.immutable_memtables_max) {
            return Err(Error::InvalidArgument("immutable memtables max must be 1..=16".into()));
        }
        if self.table_size_bytes_target < 4096 || self.level1_size_bytes_target < 4096 {
            return Err(Error::InvalidArgument("table and level size targets must be at least 4 KiB".into()));
        }
        Ok(())
    }
}

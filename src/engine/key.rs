//! Entry kinds, keyspace tags and the internal key order.
//!
//! A *stored key* is one keyspace tag byte followed by the user's key bytes, so user data,
//! index entries and metadata share one ordered space without colliding (docs/format.md
//! "Stored keys"). An *internal key* is a stored key plus a sequence number; internal keys
//! sort by stored key ascending, then by sequence number descending (newest first).

use std::cmp::Ordering;

/// Largest user key, in bytes (DESIGN "On disk").
pub const KEY_SIZE_BYTES_MAX: usize = 64 * 1024;
/// Largest value, in bytes.
pub const VALUE_SIZE_BYTES_MAX: usize = 64 * 1024 * 1024;
/// Largest write batch, in bytes of keys and values: 64 MiB of values plus room for one
/// largest key, so any single valid operation fits in a batch.
pub const BATCH_SIZE_BYTES_MAX: usize = VALUE_SIZE_BYTES_MAX + KEY_SIZE_BYTES_MAX;
/// Largest sequence number (56 bits, so a number never needs more than 7 bytes of entropy).
pub const SEQUENCE_MAX: u64 = (1 << 56) - 1;

/// The kind byte every entry carries (docs/format.md "Entry kinds").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// A value.
    Put = 1,
    /// A tombstone: hides older versions of the key.
    Delete = 2,
    /// A value with an absolute expiry time (unix ms); after it, the entry acts as a tombstone.
    PutWithExpiry = 3,
    /// A range tombstone: deletes older versions of every key in `[key, value)` (the value is
    /// the stored end key). Kept apart from point versions: in a memtable's range list and a
    /// table's range-delete block, never in a data block.
    RangeDelete = 4,
}

impl Kind {
    /// Decodes a kind byte; `None` for unknown kinds (a reader reports corruption).
    #[must_use]
    pub const fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(Self::Put),
            2 => Some(Self::Delete),
            3 => Some(Self::PutWithExpiry),
            4 => Some(Self::RangeDelete),
            _ => None,
        }
    }

    /// Whether the entry carries an 8-byte expiry time.
    #[must_use]
    pub const fn has_expiry(self) -> bool {
        matches!(self, Self::PutWithExpiry)
    }

    /// Whether the entry carries a value.
    #[must_use]
    pub const fn has_value(self) -> bool {
        matches!(self, Self::Put | Self::PutWithExpiry | Self::RangeDelete)
    }
}

/// The keyspace tag: first byte of every stored key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Keyspace {
    /// The user's keys.
    User = 0,
    /// Secondary index entries (reserved).
    Index = 1,
    /// Engine metadata (reserved).
    Meta = 2,
}

/// Compares two internal keys: stored key ascending, then sequence descending.
#[must_use]
pub fn compare_internal(a_key: &[u8], a_seq: u64, b_key: &[u8], b_seq: u64) -> Ordering {
    a_key.cmp(b_key).then_with(|| b_seq.cmp(&a_seq))
}

/// What a point lookup found in one layer (memtable or table).
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The newest visible version is a value.
    Value(T),
    /// The newest visible version is a tombstone (or expired): stop looking.
    Deleted,
    /// This layer knows nothing of the key: look in older layers.
    Absent,
}

/// Resolves a decoded entry into a lookup result, applying expiry at `now_ms()`, which is
/// called only for a value with an expiry time (most reads never look at the clock).
#[must_use]
pub fn resolve<T>(kind: Kind, expiry_ms: u64, value: T, now_ms: impl FnOnce() -> u64) -> Lookup<T> {
    match kind {
        Kind::Put => Lookup::Value(value),
        Kind::PutWithExpiry if expiry_ms > now_ms() => Lookup::Value(value),
        Kind::PutWithExpiry | Kind::Delete | Kind::RangeDelete => Lookup::Deleted,
    }
}

/// Milliseconds since the Unix epoch.
#[must_use]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Lookup<&[u8]> {
    /// Copies a borrowed value out.
    #[must_use]
    pub fn map_value(self) -> Lookup<Vec<u8>> {
        match self {
            Self::Value(v) => Lookup::Value(v.to_vec()),
            Self::Deleted => Lookup::Deleted,
            Self::Absent => Lookup::Absent,
        }
    }
}

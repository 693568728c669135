//! A write batch: the unit of atomicity. It is kept in its encoded form, which is exactly the
//! WAL record payload (docs/format.md "WAL record payload"), so committing a batch copies no
//! key or value again.
//!
//! Payload: `count: u32` then `count` operations, each
//! `kind: u8 | key_len: varint | stored key | [expiry_ms: u64] | [value_len: varint | value]`.
//! A range delete (kind 4) stores its start as the key and its stored end key (exclusive) as
//! the value.

use super::coding::{put_varint, Reader};
use super::error::{Error, Result};
use super::key::{Keyspace, Kind, BATCH_SIZE_BYTES_MAX, KEY_SIZE_BYTES_MAX, VALUE_SIZE_BYTES_MAX};

/// The stored end key of a range delete that reaches the end of the user keyspace: the tag
/// of the next keyspace, which sorts after every stored user key.
pub const USER_KEYSPACE_END: [u8; 1] = [Keyspace::User as u8 + 1];

/// Longest stored end key of a range delete: tag + a largest key + one byte (the end just
/// past an inclusive upper bound).
pub const STORED_END_BYTES_MAX: usize = KEY_SIZE_BYTES_MAX + 2;

/// One decoded operation, borrowing from the payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op<'a> {
    /// Put, delete, ...
    pub kind: Kind,
    /// Keyspace tag + user key.
    pub stored_key: &'a [u8],
    /// Expiry time for `PutWithExpiry`, else 0.
    pub expiry_ms: u64,
    /// The value (empty for deletes).
    pub value: &'a [u8],
}

/// An atomic group of puts and deletes.
#[derive(Debug, Clone)]
pub struct WriteBatch {
    payload: Vec<u8>,
    count: u32,
    data_bytes: usize,
}

impl Default for WriteBatch {
    fn default() -> Self {
        Self::new()
    }
}

fn check_key(key: &[u8]) -> Result<()> {
    if key.is_empty() {
        return Err(Error::InvalidArgument("key must not be empty".into()));
    }
    if key.len() > KEY_SIZE_BYTES_MAX {
        return Err(Error::InvalidArgument(format!("key is {} bytes; the limit is {KEY_SIZE_BYTES_MAX}", key.len())));
    }
    Ok(())
}

impl WriteBatch {
    /// An empty batch.
    #[must_use]
    pub fn new() -> Self {
        Self { payload: vec![0; 4], count: 0, data_bytes: 0 }
    }

    /// Queues a put of a user key.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        self.push(Kind::Put, key, 0, value)
    }

    /// Queues a put of a user key that reads as absent from `expiry_ms` (unix ms) on.
    pub fn put_expiring(&mut self, key: &[u8], value: &[u8], expiry_ms: u64) -> Result<()> {
        self.push(Kind::PutWithExpiry, key, expiry_ms, value)
    }

    /// Queues a delete of a user key.
    pub fn delete(&mut self, key: &[u8]) -> Result<()> {
        self.push(Kind::Delete, key, 0, &[])
    }

    /// Queues a delete of every user key in `[start, end)`: one record, whatever the number of
    /// keys. `start < end`, both valid keys.
    pub fn delete_range(&mut self, start: &[u8], end: &[u8]) -> Result<()> {
        check_key(start)?;
        check_key(end)?;
        if start >= end {
            return Err(Error::InvalidArgument("delete_range needs start < end".into()));
        }
        let mut stored_end = Vec::with_capacity(end.len() + 1);
        stored_end.push(Keyspace::User as u8);
        stored_end.extend_from_slice(end);
        self.push_range(start, &stored_end)
    }

    /// Queues a delete of every user key at or after `start`. The stored end is the single
    /// byte `Keyspace::User + 1`, the first stored key past the user keyspace.
    pub fn delete_range_from(&mut self, start: &[u8]) -> Result<()> {
        check_key(start)?;
        self.push_range(start, &USER_KEYSPACE_END)
    }

    /// Queues a range delete of user keys from `start` (a user key) to `stored_end` (a stored
    /// key, exclusive; it may be one byte longer than a key, or `USER_KEYSPACE_END`).
    pub(crate) fn push_range(&mut self, start: &[u8], stored_end: &[u8]) -> Result<()> {
        check_key(start)?;
        let valid_end = stored_end == USER_KEYSPACE_END
            || (stored_end.len() <= STORED_END_BYTES_MAX
                && stored_end.first() == Some(&(Keyspace::User as u8))
                && stored_end.get(1..).unwrap_or_default() > start);
        if !valid_end {
            return Err(Error::InvalidArgument("range delete end must be a user key after its start".into()));
        }
        self.push(Kind::RangeDelete, start, 0, stored_end)
    }

    fn push(&mut self, kind: Kind, key: &[u8], expiry_ms: u64, value: &[u8]) -> Result<()> {
        check_key(key)?;
        if value.len() > VALUE_SIZE_BYTES_MAX {
            return Err(Error::InvalidArgument(format!(
                "value is {} bytes; the limit is {VALUE_SIZE_BYTES_MAX}",
                value.len()
            )));
        }
        let data_bytes = self.data_bytes + key.len() + value.len();
        if data_bytes > BATCH_SIZE_BYTES_MAX {
            return Err(Error::InvalidArgument(format!(
                "batch would hold {data_bytes} bytes; the limit is {BATCH_SIZE_BYTES_MAX}"
            )));
        }
        self.encode_op(kind, &[Keyspace::User as u8], key, expiry_ms, value);
        self.data_bytes = data_bytes;
        Ok(())
    }

    /// Queues an engine-made operation on a stored key of any keyspace (index entries,
    /// definitions). Not subject to the batch size limit: these follow a user batch that
    /// already passed it, and each is bounded by the key limit.
    pub(crate) fn push_stored(&mut self, kind: Kind, stored_key: &[u8], expiry_ms: u64, value: &[u8]) {
        debug_assert!((2..=KEY_SIZE_BYTES_MAX + 1).contains(&stored_key.len()));
        self.encode_op(kind, &[], stored_key, expiry_ms, value);
        self.data_bytes += stored_key.len() + value.len();
    }

    /// Appends one encoded operation whose stored key is `tag` followed by `key`.
    fn encode_op(&mut self, kind: Kind, tag: &[u8], key: &[u8], expiry_ms: u64, value: &[u8]) {
        self.payload.push(kind as u8);
        put_varint(&mut self.payload, (tag.len() + key.len()) as u64);
        self.payload.extend_from_slice(tag);
        self.payload.extend_from_slice(key);
        if kind.has_expiry() {
            self.payload.extend_from_slice(&expiry_ms.to_le_bytes());
        }
        if kind.has_value() {
            put_varint(&mut self.payload, value.len() as u64);
            self.payload.extend_from_slice(value);
        }
        self.count += 1;
        if let Some(head) = self.payload.get_mut(..4) {
            head.copy_from_slice(&self.count.to_le_bytes());
        }
    }

    /// Number of operations.
    #[must_use]
    pub const fn count(&self) -> u32 {
        self.count
    }

    /// Whether the batch holds no operation.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The encoded payload (what the WAL stores).
    #[must_use]
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Bytes of keys and values (for memtable accounting).
    #[must_use]
    pub const fn data_bytes(&self) -> usize {
        self.data_bytes
    }

    /// Appends all operations of `other`, keeping both atomic as one. Returns false (and
    /// changes nothing) if the result would exceed the batch size limit.
    pub fn append(&mut self, other: &Self) -> bool {
        let data_bytes = self.data_bytes + other.data_bytes;
        if data_bytes > BATCH_SIZE_BYTES_MAX {
            return false;
        }
        self.payload.extend_from_slice(other.payload.get(4..).unwrap_or_default());
        self.count += other.count;
        self.data_bytes = data_bytes;
        if let Some(head) = self.payload.get_mut(..4) {
            head.copy_from_slice(&self.count.to_le_bytes());
        }
        true
    }

    /// Empties the batch for reuse.
    pub fn clear(&mut self) {
        self.payload.truncate(4);
        self.payload.fill(0);
        self.count = 0;
        self.data_bytes = 0;
    }
}

/// Decodes a payload into its operations; `None` if it is malformed (the caller reports
/// corruption with the file and offset it knows).
#[must_use]
pub fn decode_payload(payload: &[u8]) -> Option<Vec<Op<'_>>> {
    let mut r = Reader::new(payload);
    let count = r.u32()?;
    // Each op takes at least 3 bytes, so a huge count in a short payload is rejected early.
    if u64::from(count) * 3 > r.remaining() as u64 {
        return None;
    }
    let mut ops = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let kind = Kind::from_byte(r.u8()?)?;
        let key_len = r.varint_len()?;
        if !(2..=KEY_SIZE_BYTES_MAX + 1).contains(&key_len) {
            return None;
        }
        let stored_key = r.take(key_len)?;
        let expiry_ms = if kind.has_expiry() { r.u64()? } else { 0 };
        let value = if kind.has_value() {
            let len = r.varint_len()?;
            if len > VALUE_SIZE_BYTES_MAX {
                return None;
            }
            r.take(len)?
        } else {
            &[]
        };
        if kind == Kind::RangeDelete && (value.is_empty() || value.len() > STORED_END_BYTES_MAX || value <= stored_key)
        {
            return None;
        }
        ops.push(Op { kind, stored_key, expiry_ms, value });
    }
    (r.remaining() == 0).then_some(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips() {
        let mut b = WriteBatch::new();
        b.put(b"a", b"1").unwrap();
        b.delete(b"b").unwrap();
        b.put(b"c", b"").unwrap();
        let ops = decode_payload(b.payload()).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[0].stored_key, b"\0a");
        assert_eq!(ops[0].value, b"1");
        assert_eq!(ops[1].kind, Kind::Delete);
        assert_eq!(ops[2].value, b"");
    }

    #[test]
    fn limits_are_enforced_before_anything_is_queued() {
        let mut b = WriteBatch::new();
        assert!(matches!(b.put(b"", b"x"), Err(Error::InvalidArgument(_))));
        assert!(matches!(b.put(&vec![1; KEY_SIZE_BYTES_MAX + 1], b"x"), Err(Error::InvalidArgument(_))));
        assert!(b.put(&vec![1; KEY_SIZE_BYTES_MAX], b"x").is_ok());
        assert_eq!(b.count(), 1);
    }

    #[test]
    fn range_deletes_round_trip_and_are_checked() {
        let mut b = WriteBatch::new();
        b.put(b"a", b"1").unwrap();
        b.delete_range(b"b", b"d").unwrap();
        b.delete_range_from(b"x").unwrap();
        let ops = decode_payload(b.payload()).unwrap();
        assert_eq!((ops[1].kind, ops[1].stored_key, ops[1].value), (Kind::RangeDelete, &b"\0b"[..], &b"\0d"[..]));
        assert_eq!((ops[2].stored_key, ops[2].value), (&b"\0x"[..], &USER_KEYSPACE_END[..]));
        for (start, end) in [(&b"b"[..], &b"b"[..]), (b"c", b"b"), (b"", b"b"), (b"a", b"")] {
            assert!(matches!(b.delete_range(start, end), Err(Error::InvalidArgument(_))), "{start:?}..{end:?}");
        }
        assert_eq!(b.count(), 3);
        // A payload whose range delete ends at or before its start is malformed.
        let mut bad = WriteBatch::new();
        bad.push(Kind::RangeDelete, b"b", 0, b"\0a").unwrap();
        assert!(decode_payload(bad.payload()).is_none());
    }

    #[test]
    fn malformed_payloads_are_rejected() {
        let mut b = WriteBatch::new();
        b.put(b"key", b"value").unwrap();
        let payload = b.payload().to_vec();
        for cut in 0..payload.len() {
            assert!(decode_payload(&payload[..cut]).is_none(), "cut at {cut}");
        }
        let mut extra = payload.clone();
        extra.push(0);
        assert!(decode_payload(&extra).is_none());
    }
}

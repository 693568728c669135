//! Index definitions and where index data lives (docs/format.md "Index definitions" and
//! "Index entries").
//!
//! A definition is a record in the metadata keyspace, stored key `02 "index\0" name`, written
//! through the WAL like any data, so it changes atomically with the entries it governs.
//! Value: `version: u8 = 1 | id: u32 | state: u8 | prefix_len: varint | prefix |
//! field_len: varint | field | resume_len: varint | resume key` (state 1 = building,
//! 2 = ready, 3 = dropping; the resume key is the last primary key the build has indexed,
//! empty when none).
//!
//! An index entry's stored key is `01 | id: u32 big-endian | encoded value | primary key`
//! with an empty value, so the entries of one index are contiguous and ordered by value, then
//! by primary key.

use crate::engine::coding::{put_varint, Reader};
use crate::engine::error::{Error, Result};
use crate::engine::key::{Keyspace, KEY_SIZE_BYTES_MAX};

use super::value::IndexValue;

/// Marks index definitions in the metadata keyspace (after the keyspace tag).
pub const DEFINITION_PREFIX: &[u8] = b"index\0";
/// Longest index name, in bytes.
pub const NAME_BYTES_MAX: usize = 128;
/// Longest field path, in bytes.
pub const FIELD_BYTES_MAX: usize = 1024;
/// Longest key prefix an index can cover, in bytes.
pub const PREFIX_BYTES_MAX: usize = 4096;
/// Indexes one database can hold (each one costs a lookup per write under its prefix).
pub const INDEXES_MAX: usize = 64;
const DEFINITION_VERSION: u8 = 1;

/// Where an index is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexState {
    /// Writes maintain it; a build is filling in older keys, after `resume_after` (a primary
    /// key, `None` before the first chunk).
    Building {
        /// The last primary key indexed by the build.
        resume_after: Option<Vec<u8>>,
    },
    /// Complete: every key under the prefix with the field has its entry.
    Ready,
    /// Dropped: writes ignore it; its entries are being deleted.
    Dropping,
}

/// One index definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexDef {
    /// Number naming its entries (unique among live definitions).
    pub id: u32,
    /// The user's name for it.
    pub name: String,
    /// Keys covered: those starting with this prefix.
    pub prefix: Vec<u8>,
    /// Dotted path of the JSON field, as given.
    pub field: String,
    /// The path, split at dots.
    pub path: Vec<String>,
    /// Its state.
    pub state: IndexState,
    /// In memory only (not in the record): the sequence number from which a snapshot holds
    /// every entry of this `Ready` index (the end of the group that made it ready; 0 for an
    /// index ready at open, which every snapshot of the session follows). Older snapshots
    /// hold some of its entries or none, or another index's under a reused id.
    pub ready_seq: u64,
}

impl IndexDef {
    /// A new definition in the `Building` state, after checking its parts.
    pub fn new(id: u32, name: &str, prefix: &[u8], field: &str) -> Result<Self> {
        if name.is_empty() || name.len() > NAME_BYTES_MAX {
            return Err(Error::InvalidArgument(format!("an index name must be 1 to {NAME_BYTES_MAX} bytes")));
        }
        if prefix.len() > PREFIX_BYTES_MAX {
            return Err(Error::InvalidArgument(format!("an index prefix must be at most {PREFIX_BYTES_MAX} bytes")));
        }
        let path: Vec<String> = field.split('.').map(str::to_owned).collect();
        if field.len() > FIELD_BYTES_MAX || path.iter().any(String::is_empty) {
            return Err(Error::InvalidArgument(format!(
                "an index field must be a dotted path of non-empty names, at most {FIELD_BYTES_MAX} bytes"
            )));
        }
        Ok(Self {
            id,
            name: name.to_owned(),
            prefix: prefix.to_vec(),
            field: field.to_owned(),
            path,
            state: IndexState::Building { resume_after: None },
            ready_seq: 0,
        })
    }

    /// Whether writes must keep this index's entries in step.
    #[must_use]
    pub const fn is_maintained(&self) -> bool {
        !matches!(self.state, IndexState::Dropping)
    }

    /// Whether the stored user key (with its keyspace tag) is covered.
    #[must_use]
    pub fn covers(&self, stored_key: &[u8]) -> bool {
        stored_key.first() == Some(&(Keyspace::User as u8))
            && stored_key.get(1..).is_some_and(|k| k.starts_with(&self.prefix))
    }

    /// The part of the stored-key range `[start, end)` under this index's prefix, if any.
    #[must_use]
    pub fn clip(&self, start: &[u8], end: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
        let mut low = vec![Keyspace::User as u8];
        low.extend_from_slice(&self.prefix);
        // The user tag is 0, so the tagged prefix is never all 0xff and always has an end.
        let high = crate::engine::iter::prefix_end(&low)?;
        let lo = if start > low.as_slice() { start.to_vec() } else { low };
        let hi = if end < high.as_slice() { end.to_vec() } else { high };
        (lo < hi).then_some((lo, hi))
    }

    /// The stored key of this definition's record.
    #[must_use]
    pub fn record_key(&self) -> Vec<u8> {
        record_key(&self.name)
    }

    /// Encodes the record value.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![DEFINITION_VERSION];
        out.extend_from_slice(&self.id.to_le_bytes());
        let (state, resume): (u8, &[u8]) = match &self.state {
            IndexState::Building { resume_after } => (1, resume_after.as_deref().unwrap_or_default()),
            IndexState::Ready => (2, &[]),
            IndexState::Dropping => (3, &[]),
        };
        out.push(state);
        for part in [self.prefix.as_slice(), self.field.as_bytes(), resume] {
            put_varint(&mut out, part.len() as u64);
            out.extend_from_slice(part);
        }
        out
    }

    /// Decodes a record; `None` if it is malformed.
    #[must_use]
    pub fn decode(stored_key: &[u8], value: &[u8]) -> Option<Self> {
        let name = std::str::from_utf8(definition_name(stored_key)?).ok()?;
        let mut r = Reader::new(value);
        if r.u8()? != DEFINITION_VERSION {
            return None;
        }
        let id = r.u32()?;
        let state = r.u8()?;
        let mut part = |max: usize| {
            let len = r.varint_len()?;
            (len <= max).then_some(())?;
            r.take(len)
        };
        let prefix = part(PREFIX_BYTES_MAX)?;
        let field = std::str::from_utf8(part(FIELD_BYTES_MAX)?).ok()?;
        let resume = part(KEY_SIZE_BYTES_MAX)?;
        let mut def = Self::new(id, name, prefix, field).ok()?;
        def.state = match state {
            1 => IndexState::Building { resume_after: (!resume.is_empty()).then(|| resume.to_vec()) },
            2 => IndexState::Ready,
            3 => IndexState::Dropping,
            _ => return None,
        };
        (r.remaining() == 0).then_some(def)
    }

    /// The stored key of the entry for `value` and primary key `key` (user bytes), or `None`
    /// when it would exceed the key size limit (such values are not indexed).
    #[must_use]
    pub fn entry_key(&self, value: &IndexValue, key: &[u8]) -> Option<Vec<u8>> {
        let mut out = self.entries_prefix();
        value.encode_into(&mut out);
        out.extend_from_slice(key);
        (out.len() <= KEY_SIZE_BYTES_MAX + 1).then_some(out)
    }

    /// The stored-key prefix shared by all of this index's entries.
    #[must_use]
    pub fn entries_prefix(&self) -> Vec<u8> {
        entries_prefix(self.id)
    }
}

/// `01 | id big-endian`: the start of every entry of index `id`.
#[allow(clippy::big_endian_bytes, reason = "big-endian keeps one index's entries contiguous and ordered by id")]
#[must_use]
pub fn entries_prefix(id: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.push(Keyspace::Index as u8);
    out.extend_from_slice(&id.to_be_bytes());
    out
}

/// Splits an entry's bytes after the index id (the Index-keyspace user key without its
/// 4-byte id) into the indexed value and the primary key.
#[must_use]
pub fn split_entry(tail: &[u8]) -> Option<(IndexValue, &[u8])> {
    IndexValue::decode(tail)
}

/// The stored key of the definition record for `name`.
#[must_use]
pub fn record_key(name: &str) -> Vec<u8> {
    let mut out = vec![Keyspace::Meta as u8];
    out.extend_from_slice(DEFINITION_PREFIX);
    out.extend_from_slice(name.as_bytes());
    out
}

/// The name part of a definition record's stored key, if it is one.
#[must_use]
pub fn definition_name(stored_key: &[u8]) -> Option<&[u8]> {
    let rest = stored_key.strip_prefix(&[Keyspace::Meta as u8])?;
    rest.strip_prefix(DEFINITION_PREFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_round_trip_in_every_state() {
        let mut def = IndexDef::new(7, "byVisit", b"history:", "meta.lastVisit").expect("valid");
        for state in [
            IndexState::Building { resume_after: None },
            IndexState::Building { resume_after: Some(b"history:42".to_vec()) },
            IndexState::Ready,
            IndexState::Dropping,
        ] {
            def.state = state;
            let back = IndexDef::decode(&def.record_key(), &def.encode()).expect("decodes");
            assert_eq!(back, def);
        }
        let bytes = def.encode();
        for cut in 0..bytes.len() {
            assert!(IndexDef::decode(&def.record_key(), &bytes[..cut]).is_none(), "cut at {cut}");
        }
    }

    #[test]
    fn bad_definitions_are_refused() {
        assert!(IndexDef::new(1, "", b"", "a").is_err());
        assert!(IndexDef::new(1, "x", b"", "").is_err());
        assert!(IndexDef::new(1, "x", b"", "a..b").is_err());
        assert!(IndexDef::new(1, &"n".repeat(NAME_BYTES_MAX + 1), b"", "a").is_err());
    }

    #[test]
    fn entries_sort_by_index_then_value_then_key() {
        let a = IndexDef::new(1, "a", b"", "f").expect("valid");
        let b = IndexDef::new(2, "b", b"", "f").expect("valid");
        let e = |d: &IndexDef, v: f64, k: &[u8]| d.entry_key(&IndexValue::Number(v), k).expect("fits");
        assert!(e(&a, 5.0, b"z") < e(&a, 6.0, b"a"));
        assert!(e(&a, 6.0, b"a") < e(&a, 6.0, b"b"));
        assert!(e(&a, 1e300, b"z") < e(&b, -1e300, b"a"));
        let tail = &e(&a, 6.0, b"key")[5..];
        assert_eq!(split_entry(tail), Some((IndexValue::Number(6.0), &b"key"[..])));
    }
}

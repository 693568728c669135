//! Reading an index: an iterator over its entries at one snapshot that joins each entry with
//! its primary value at the same snapshot, counts, and the check `verify` runs.

use std::ops::Bound;

use crate::engine::db::{Db, Snapshot};
use crate::engine::error::{Error, Result};
use crate::engine::iter::{prefix_end, DbIterator, IterOptions, PageEnd};
use crate::engine::key::Keyspace;

use super::catalog::{split_entry, IndexDef, IndexState};
use super::value::{extract, IndexValue};

/// Bytes of the index id at the front of an entry (after the keyspace tag).
const ID_BYTES: usize = 4;
/// Entries an index walk reads per page while counting or checking.
const WALK_PAGE_ENTRIES: usize = 4096;

/// A range of indexed values.
#[derive(Debug, Clone)]
pub struct IndexRange {
    /// Lower bound on the indexed value.
    pub lower: Bound<IndexValue>,
    /// Upper bound on the indexed value.
    pub upper: Bound<IndexValue>,
    /// Largest value first.
    pub reverse: bool,
}

impl Default for IndexRange {
    fn default() -> Self {
        Self { lower: Bound::Unbounded, upper: Bound::Unbounded, reverse: false }
    }
}

/// Entries of one index at one snapshot, each joined with its primary value.
pub struct IndexIterator {
    db: Db,
    entries: DbIterator,
    values: bool,
    keys: Vec<Vec<u8>>,
}

impl IndexIterator {
    /// Emits up to `entries_max` entries (about `bytes_max` bytes of entry keys) to
    /// `f(entry, value)`, where `entry` is the encoded indexed value followed by the primary
    /// key (split it with `split_entry`) and `value` the primary value (empty unless values
    /// were asked for). Never answers `cache_only` pages: the primary reads may need files,
    /// so every page is read off the JS thread.
    pub fn next_page(
        &mut self,
        entries_max: usize,
        bytes_max: usize,
        cache_only: bool,
        mut f: impl FnMut(&[u8], &[u8]),
    ) -> Result<PageEnd> {
        if cache_only {
            return Ok(PageEnd::NeedsDisk);
        }
        self.keys.clear();
        let keys = &mut self.keys;
        let end = self.entries.next_page(entries_max, bytes_max, false, |key, _| keys.push(key.to_vec()))?;
        for key in &self.keys {
            let entry = key.get(ID_BYTES..).unwrap_or_default();
            if !self.values {
                f(entry, &[]);
                continue;
            }
            let primary = split_entry(entry).map(|(_, pk)| pk).ok_or_else(|| malformed_entry(key))?;
            // An entry expires with its primary; between the two reads' clocks one may have
            // expired a millisecond before the other, so a missing primary is skipped.
            self.db.get_at_with(primary, Some(self.entries.snapshot()), |value| {
                if let Some(value) = value {
                    f(entry, value);
                }
            })?;
        }
        Ok(end)
    }

    /// The snapshot the iterator reads at.
    #[must_use]
    pub const fn snapshot(&self) -> &Snapshot {
        self.entries.snapshot()
    }
}

fn malformed_entry(key: &[u8]) -> Error {
    Error::Corruption {
        file: "index entries".into(),
        offset: 0,
        what: format!("an index entry does not decode: {key:02x?}"),
    }
}

/// The entry-key bounds (index keyspace, without the tag) of a value range.
fn entry_bounds(def: &IndexDef, range: &IndexRange) -> IterOptions {
    let base = def.entries_prefix().split_off(1);
    let at = |v: &IndexValue| {
        let mut key = base.clone();
        v.encode_into(&mut key);
        key
    };
    // "After every entry of value v" is the first key past all keys starting with enc(v).
    let past = |v: &IndexValue| prefix_end(&at(v)).map_or(Bound::Unbounded, Bound::Excluded);
    let lower = match &range.lower {
        Bound::Unbounded => Bound::Included(base.clone()),
        Bound::Included(v) => Bound::Included(at(v)),
        Bound::Excluded(v) => match past(v) {
            Bound::Excluded(k) => Bound::Included(k),
            _ => Bound::Excluded(at(v)),
        },
    };
    let upper = match &range.upper {
        Bound::Unbounded => prefix_end(&base).map_or(Bound::Unbounded, Bound::Excluded),
        Bound::Included(v) => past(v),
        Bound::Excluded(v) => Bound::Excluded(at(v)),
    };
    IterOptions { lower, upper, reverse: range.reverse }
}

impl Db {
    /// The definition of a ready index.
    fn ready_index(&self, name: &str) -> Result<IndexDef> {
        let defs = self.index_definitions();
        let def = defs
            .iter()
            .find(|d| d.name == name && d.is_maintained())
            .ok_or_else(|| Error::InvalidArgument(format!("there is no index {name:?}")))?;
        if def.state != IndexState::Ready {
            return Err(Error::InvalidArgument(format!("index {name:?} is still building; wait for it first")));
        }
        Ok(def.clone())
    }

    /// An iterator over a ready index's entries in `range`, at `snapshot` (or a new one);
    /// with `values`, each entry comes with its primary value at the same snapshot.
    pub fn index_iter(
        &self,
        name: &str,
        range: &IndexRange,
        values: bool,
        snapshot: Option<&Snapshot>,
    ) -> Result<IndexIterator> {
        let def = self.ready_index(name)?;
        if snapshot.is_some_and(|s| s.sequence() < def.ready_seq) {
            return Err(Error::InvalidArgument(format!(
                "index {name:?} was not ready yet at the snapshot; query it at a later one"
            )));
        }
        let entries = self.iter_in(Keyspace::Index, entry_bounds(&def, range), snapshot)?;
        Ok(IndexIterator { db: self.clone(), entries, values, keys: Vec::new() })
    }

    /// The number of entries of a ready index in `range`, at `snapshot` (or now).
    pub fn index_count(&self, name: &str, range: &IndexRange, snapshot: Option<&Snapshot>) -> Result<u64> {
        let mut iter = self.index_iter(name, range, false, snapshot)?;
        let mut count = 0u64;
        while iter.next_page(WALK_PAGE_ENTRIES, usize::MAX, false, |_, _| count += 1)? != PageEnd::Exhausted {}
        Ok(count)
    }

    /// Checks every ready index against its data at one snapshot; returns `(index name,
    /// what is wrong)` for each mismatch. Constant memory: every entry must be the one its
    /// primary's value implies (so entries map one-to-one to primaries), and their number
    /// must equal the number of primaries that have an entry.
    pub fn check_indexes(&self) -> Result<Vec<(String, String)>> {
        let snapshot = self.snapshot()?;
        let mut problems = Vec::new();
        for def in self.index_definitions().iter().filter(|d| d.state == IndexState::Ready) {
            if let Some(problem) = self.check_index(def, &snapshot)? {
                problems.push((def.name.clone(), problem));
            }
        }
        Ok(problems)
    }

    fn check_index(&self, def: &IndexDef, snapshot: &Snapshot) -> Result<Option<String>> {
        let mut expected = 0u64;
        let mut data = self.iter(IterOptions::default().with_prefix(&def.prefix), Some(snapshot))?;
        loop {
            let end = data.next_page(WALK_PAGE_ENTRIES, 16 << 20, false, |key, value| {
                if extract(value, &def.path).and_then(|v| def.entry_key(&v, key)).is_some() {
                    expected += 1;
                }
            })?;
            if end == PageEnd::Exhausted {
                break;
            }
        }
        drop(data);
        let mut found = 0u64;
        let mut wrong: Option<String> = None;
        let mut entries = self.index_iter(&def.name, &IndexRange::default(), false, Some(snapshot))?;
        let mut page: Vec<Vec<u8>> = Vec::new();
        loop {
            page.clear();
            let end = entries.next_page(WALK_PAGE_ENTRIES, usize::MAX, false, |entry, _| page.push(entry.to_vec()))?;
            for entry in &page {
                found += 1;
                if wrong.is_none() {
                    wrong = self.check_entry(def, entry, snapshot)?;
                }
            }
            if end == PageEnd::Exhausted {
                break;
            }
        }
        if wrong.is_none() && found != expected {
            wrong = Some(format!("{found} entries for {expected} keys with the field"));
        }
        Ok(wrong)
    }

    /// What is wrong with one entry, if anything: it must decode, and its primary must exist
    /// at the snapshot with exactly the indexed value in the field.
    fn check_entry(&self, def: &IndexDef, entry: &[u8], snapshot: &Snapshot) -> Result<Option<String>> {
        let Some((indexed, primary)) = split_entry(entry) else {
            return Ok(Some(format!("an entry does not decode: {entry:02x?}")));
        };
        let field = self.get_at_with(primary, Some(snapshot), |value| value.map(|v| extract(v, &def.path)))?;
        let shown = String::from_utf8_lossy(primary);
        Ok(match field {
            None => Some(format!("an entry points at key {shown:?}, which does not exist")),
            Some(field) if field.as_ref() != Some(&indexed) => {
                Some(format!("the entry for key {shown:?} holds {indexed:?}, but the value has {field:?}"))
            }
            Some(_) => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::engine::index::build::WaitFor;
    use crate::engine::key::Kind;
    use crate::engine::storage::MemStorage;
    use crate::engine::{Options, WriteBatch};

    fn indexed_db() -> (Db, IndexDef) {
        let db = Db::open_with_storage("/db", Options::default(), Arc::new(MemStorage::new())).expect("open");
        for n in 0..10 {
            db.put(format!("k{n}").as_bytes(), format!(r#"{{"f":{n}}}"#).as_bytes(), false).expect("put");
        }
        db.create_index("i", b"k", "f").expect("create");
        db.wait_index("i", WaitFor::Ready, &mut |_| {}).expect("ready");
        let def = db.index_definitions().first().cloned().expect("defined");
        (db, def)
    }

    fn write_raw(db: &Db, kind: Kind, stored_key: &[u8]) {
        let mut batch = WriteBatch::new();
        batch.push_stored(kind, stored_key, 0, &[]);
        db.write(batch, false).expect("write");
    }

    #[test]
    fn check_finds_stray_wrong_and_missing_entries() {
        let (db, def) = indexed_db();
        assert!(db.check_indexes().expect("check").is_empty());
        let entry = |v: f64, k: &[u8]| def.entry_key(&IndexValue::Number(v), k).expect("fits");

        write_raw(&db, Kind::Put, &entry(3.0, b"nothing-here"));
        let problems = db.check_indexes().expect("check");
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].1.contains("does not exist"), "{problems:?}");
        write_raw(&db, Kind::Delete, &entry(3.0, b"nothing-here"));

        write_raw(&db, Kind::Put, &entry(99.0, b"k1"));
        assert!(db.check_indexes().expect("check")[0].1.contains("holds"));
        write_raw(&db, Kind::Delete, &entry(99.0, b"k1"));

        write_raw(&db, Kind::Delete, &entry(2.0, b"k2"));
        assert!(db.check_indexes().expect("check")[0].1.contains("9 entries for 10 keys"));
    }
}

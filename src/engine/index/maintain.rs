//! Keeping index entries in step with writes. The commit leader calls [`expand`] for each
//! batch of a group before the group reaches the WAL, so a batch's data and its index entries
//! are one WAL record: after any crash both are there or neither is.
//!
//! For every put or delete of a key an index covers, the old value (from the group's earlier
//! batches, else the database) gives the entry to delete and the new value the entry to put.
//! Values that are not JSON, lack the field, or hold an array or object there have no entry
//! (skipped, never an error for the write).

use std::borrow::Cow;
use std::collections::HashMap;

use crate::engine::batch::{Op, WriteBatch};
use crate::engine::error::Result;
use crate::engine::key::Kind;

use super::catalog::IndexDef;
use super::value::extract;

/// Values of covered keys as the group's batches so far left them (`None`: deleted),
/// borrowed from the group's payloads.
pub type Overlay<'a> = HashMap<&'a [u8], Option<&'a [u8]>>;

/// Reads a stored key's newest value from the database.
pub type ReadLatest<'a> = dyn FnMut(&[u8]) -> Result<Option<Vec<u8>>> + 'a;

/// The batch `ops` came from plus the index operations they imply, or `None` when no
/// maintained index covers any of them. `overlay` carries values across a group's batches.
pub fn expand<'a>(
    defs: &[IndexDef],
    batch: &WriteBatch,
    ops: &[Op<'a>],
    overlay: &mut Overlay<'a>,
    read_latest: &mut ReadLatest<'_>,
) -> Result<Option<WriteBatch>> {
    let mut out: Option<WriteBatch> = None;
    for op in ops {
        let covering: Vec<&IndexDef> = defs.iter().filter(|d| d.is_maintained() && d.covers(op.stored_key)).collect();
        if covering.is_empty() || !matches!(op.kind, Kind::Put | Kind::PutWithExpiry | Kind::Delete) {
            continue;
        }
        let old: Option<Cow<'a, [u8]>> = match overlay.get(op.stored_key) {
            Some(value) => value.map(Cow::Borrowed),
            None => read_latest(op.stored_key)?.map(Cow::Owned),
        };
        let new = (op.kind != Kind::Delete).then_some(op.value);
        let out = out.get_or_insert_with(|| batch.clone());
        let user_key = op.stored_key.get(1..).unwrap_or_default();
        for def in covering {
            let entry = |value: Option<&[u8]>| {
                value.and_then(|v| extract(v, &def.path)).and_then(|v| def.entry_key(&v, user_key))
            };
            let old_entry = entry(old.as_deref());
            let new_entry = entry(new);
            if let Some(stale) = old_entry.as_ref().filter(|old| new_entry.as_ref() != Some(*old)) {
                out.push_stored(Kind::Delete, stale, 0, &[]);
            }
            if let Some(entry) = new_entry {
                out.push_stored(op.kind, &entry, op.expiry_ms, &[]);
            }
        }
        overlay.insert(op.stored_key, new);
    }
    Ok(out)
}

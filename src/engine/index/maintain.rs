//! Keeping index entries in step with writes. The commit leader calls [`expand`] for each
//! batch of a group before the group reaches the WAL, so a batch's data and its index entries
//! are one WAL record: after any crash both are there or neither is.
//!
//! For every put or delete of a key an index covers, the old value (from the group's earlier
//! batches, else the database) gives the entry to delete and the new value the entry to put.
//! Values that are not JSON, lack the field, or hold an array or object there have no entry
//! (skipped, never an error for the write).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use crate::engine::batch::{Op, WriteBatch};
use crate::engine::error::Result;
use crate::engine::key::Kind;

use super::catalog::IndexDef;
use super::value::extract;

/// Values of covered keys as the group's batches so far left them (`None`: deleted),
/// borrowed from the group's payloads (keys a range delete removed are owned).
pub type Overlay<'a> = HashMap<Cow<'a, [u8]>, Option<&'a [u8]>>;

/// Hands every live (stored key, value) in `[start, end)` of the user keyspace, at the newest
/// state, to the callback.
pub type ScanLatest<'a> = dyn FnMut(&[u8], &[u8], &mut dyn FnMut(&[u8], &[u8])) -> Result<()> + 'a;

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
    scan_latest: &mut ScanLatest<'_>,
) -> Result<Option<WriteBatch>> {
    let mut out: Option<WriteBatch> = None;
    for op in ops {
        if op.kind == Kind::RangeDelete {
            range_delete(defs, batch, op, overlay, scan_latest, &mut out)?;
            continue;
        }
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
        overlay.insert(Cow::Borrowed(op.stored_key), new);
    }
    Ok(out)
}

/// The entry deletes a range delete implies: for each live key of the range under a
/// maintained index's prefix (as the group's earlier batches left it), its entries go.
/// Holds those keys and values in memory; `clear()` avoids this path for indexed ranges by
/// deleting key by key (`Db::clear`).
fn range_delete<'a>(
    defs: &[IndexDef],
    batch: &WriteBatch,
    op: &Op<'a>,
    overlay: &mut Overlay<'a>,
    scan_latest: &mut ScanLatest<'_>,
    out: &mut Option<WriteBatch>,
) -> Result<()> {
    let (start, end) = (op.stored_key, op.value);
    let touched: Vec<&IndexDef> = defs.iter().filter(|d| d.is_maintained() && d.clip(start, end).is_some()).collect();
    if touched.is_empty() {
        return Ok(());
    }
    let mut doomed: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    for def in &touched {
        if let Some((lo, hi)) = def.clip(start, end) {
            scan_latest(&lo, &hi, &mut |sk, value| {
                doomed.insert(sk.to_vec(), Some(value.to_vec()));
            })?;
        }
    }
    for (key, value) in overlay.iter() {
        if start <= key.as_ref() && key.as_ref() < end {
            doomed.insert(key.to_vec(), value.map(<[u8]>::to_vec));
        }
    }
    let out = out.get_or_insert_with(|| batch.clone());
    for (sk, old) in doomed {
        let user_key = sk.get(1..).unwrap_or_default();
        for def in touched.iter().filter(|d| d.covers(&sk)) {
            if let Some(entry) =
                old.as_deref().and_then(|v| extract(v, &def.path)).and_then(|v| def.entry_key(&v, user_key))
            {
                out.push_stored(Kind::Delete, &entry, 0, &[]);
            }
        }
        overlay.insert(Cow::Owned(sk), None);
    }
    Ok(())
}

//! Creating, building, dropping and listing indexes.
//!
//! A new index is registered `Building` in one committed record; from that commit on, every
//! write maintains its entries. A worker thread (at most one per database, started on demand
//! and at open when a build or drop was interrupted) then walks the existing keys in chunks.
//! Each chunk runs as the only writer: it reads up to [`BUILD_CHUNK_KEYS`] keys at the newest
//! state and commits their entries together with the definition's resume key, so a crash
//! resumes after the last committed chunk and no write can slip between a read and its entry.
//! Dropping marks the definition `Dropping` (writes stop maintaining it), deletes its entries
//! in chunks, then deletes the definition.

use std::time::Duration;

use crate::engine::db::Db;
use crate::engine::error::{Error, Result};
use crate::engine::iter::{max_lower, IterOptions, PageEnd};
use crate::engine::key::{Keyspace, Kind};
use crate::engine::WriteBatch;

use super::catalog::{self, IndexDef, IndexState, INDEXES_MAX};
use super::value::extract;
use super::IndexInfo;

/// Keys one build chunk reads (and writers wait for) at most.
pub const BUILD_CHUNK_KEYS: usize = 1024;
/// Bytes of values one build chunk reads at most.
pub const BUILD_CHUNK_BYTES: usize = 1 << 20;
/// Entries one drop chunk deletes at most.
pub const DROP_CHUNK_KEYS: usize = 4096;
/// How often a waiter re-checks progress, close and poisoning.
const WAIT_POLL: Duration = Duration::from_millis(50);

/// What a waiter waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitFor {
    /// The index is ready to query.
    Ready,
    /// The index and all its entries are gone.
    Gone,
}

impl Db {
    /// Registers an index over the JSON field `field` (dotted path) of values under `prefix`
    /// and starts building it in the background (see [`Db::wait_index`]). Creating an index
    /// that exists with the same prefix and field does nothing.
    pub fn create_index(&self, name: &str, prefix: &[u8], field: &str) -> Result<()> {
        let _guard = self.begin()?;
        self.check_writable()?;
        if name.starts_with('\0') {
            return Err(Error::InvalidArgument("an index name must not start with a NUL character".into()));
        }
        let candidate = IndexDef::new(0, name, prefix, field)?;
        self.as_sole_writer(|| {
            let defs = self.index_definitions();
            if let Some(existing) = defs.iter().find(|d| d.name == name) {
                return match existing.state {
                    IndexState::Dropping => {
                        Err(Error::InvalidArgument(format!("index {name:?} is being dropped; create it again after")))
                    }
                    _ if existing.prefix == prefix && existing.field == field => Ok(()),
                    _ => Err(Error::InvalidArgument(format!(
                        "index {name:?} exists with another prefix or field; drop it first"
                    ))),
                };
            }
            if defs.len() >= INDEXES_MAX {
                return Err(Error::InvalidArgument(format!("a database holds at most {INDEXES_MAX} indexes")));
            }
            let id = defs.iter().map(|d| d.id).max().map_or(Ok(1), |max| {
                max.checked_add(1).ok_or_else(|| Error::InvalidArgument("index ids are exhausted".into()))
            })?;
            let def = IndexDef { id, ..candidate };
            self.commit_as_leader(definition_batch(&def), true)
        })?;
        self.start_index_worker();
        Ok(())
    }

    /// Marks an index dropped (writes stop maintaining it at once) and deletes its entries in
    /// the background (see [`Db::wait_index`] with [`WaitFor::Gone`]).
    pub fn drop_index(&self, name: &str) -> Result<()> {
        let _guard = self.begin()?;
        self.check_writable()?;
        self.as_sole_writer(|| {
            let defs = self.index_definitions();
            let def = defs
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| Error::InvalidArgument(format!("there is no index {name:?}")))?;
            if def.state == IndexState::Dropping {
                return Ok(());
            }
            let dropping = IndexDef { state: IndexState::Dropping, ..def.clone() };
            self.commit_as_leader(definition_batch(&dropping), true)
        })?;
        self.start_index_worker();
        Ok(())
    }

    /// Rebuilds every index from the data: before an ingest (import), which bypasses the
    /// commit path, and after a repair that found damage. Each maintained index is registered
    /// again, under a new id and building from scratch, and its old entries are handed to the
    /// worker to delete (under an internal name). One synced record, so a crash on either side
    /// leaves indexes that rebuild. Runs as the only writer. Returns how many it restarted.
    pub(crate) fn restart_indexes(&self) -> Result<u64> {
        let defs = self.index_definitions();
        let maintained: Vec<&IndexDef> = defs.iter().filter(|d| d.is_maintained()).collect();
        if maintained.is_empty() {
            return Ok(0);
        }
        let count = maintained.len() as u64;
        let mut next_id = defs.iter().map(|d| d.id).max().unwrap_or(0);
        let mut batch = WriteBatch::new();
        for def in maintained {
            next_id = next_id.checked_add(1).ok_or_else(|| Error::InvalidArgument("index ids are exhausted".into()))?;
            let fresh = IndexDef { id: next_id, state: IndexState::Building { resume_after: None }, ..def.clone() };
            let retired =
                IndexDef { name: format!("\0rebuild:{}", def.id), state: IndexState::Dropping, ..def.clone() };
            for d in [fresh, retired] {
                batch.push_stored(Kind::Put, &d.record_key(), 0, &d.encode());
            }
        }
        self.commit_as_leader(batch, true)?;
        Ok(count)
    }

    /// Blocks until the index is ready (or gone), calling `progress(keys_indexed)` as a build
    /// goes. Fails if the index does not exist (or is dropped while waiting for `Ready`), if
    /// its build failed, or if the database closes or is poisoned.
    pub fn wait_index(&self, name: &str, want: WaitFor, progress: &mut dyn FnMut(u64)) -> Result<()> {
        let (work, cv) = self.index_work();
        let mut reported = None;
        loop {
            self.check_open()?;
            self.check_poison()?;
            let state = self.index_definitions().iter().find(|d| d.name == name).map(|d| d.state.clone());
            match (want, state) {
                (WaitFor::Ready, Some(IndexState::Ready)) | (WaitFor::Gone, None) => return Ok(()),
                (WaitFor::Ready, None | Some(IndexState::Dropping)) => {
                    return Err(Error::InvalidArgument(format!("there is no index {name:?}")));
                }
                _ => {}
            }
            let mut guard = work.lock();
            if let Some(failure) = &guard.failure {
                return Err(Error::Internal(format!("building or dropping index {name:?} failed: {failure}")));
            }
            let done = guard.keys_indexed.get(name).copied().unwrap_or(0);
            if reported != Some(done) {
                reported = Some(done);
                drop(guard);
                progress(done);
                continue;
            }
            if !guard.running {
                drop(guard);
                self.start_index_worker();
                continue;
            }
            cv.wait_for(&mut guard, WAIT_POLL);
        }
    }

    /// `"building"`, `"ready"` or `"dropping"` for an index (dropping until its entries are
    /// gone), `None` when there is none by that name. Memory only.
    #[must_use]
    pub fn index_state(&self, name: &str) -> Option<&'static str> {
        self.index_definitions().iter().find(|d| d.name == name).map(|d| match d.state {
            IndexState::Building { .. } => "building",
            IndexState::Ready => "ready",
            IndexState::Dropping => "dropping",
        })
    }

    /// Why the index worker last stopped, if it failed (builds stay pending; the next
    /// `wait_index`, create, drop or open starts it again).
    #[must_use]
    pub fn index_failure(&self) -> Option<String> {
        self.index_work().0.lock().failure.clone()
    }

    /// Keys indexed by builds of `name` since open.
    #[must_use]
    pub fn index_keys_indexed(&self, name: &str) -> u64 {
        self.index_work().0.lock().keys_indexed.get(name).copied().unwrap_or(0)
    }

    /// The indexes, in creation order (dropping ones are left out).
    pub fn indexes(&self) -> Result<Vec<IndexInfo>> {
        self.check_open()?;
        let done = self.index_work().0.lock().keys_indexed.clone();
        Ok(self
            .index_definitions()
            .iter()
            .filter(|d| d.is_maintained())
            .map(|d| IndexInfo {
                name: d.name.clone(),
                prefix: d.prefix.clone(),
                field: d.field.clone(),
                state: if d.state == IndexState::Ready { "ready" } else { "building" },
                keys_indexed: done.get(&d.name).copied().unwrap_or(0),
            })
            .collect())
    }

    /// Reads the definitions from the metadata keyspace (at open) and resumes interrupted
    /// builds and drops.
    pub(crate) fn load_indexes(&self) -> Result<()> {
        let options = IterOptions::default().with_prefix(catalog::DEFINITION_PREFIX);
        let mut iter = self.iter_in(Keyspace::Meta, options, None)?;
        let mut defs = Vec::new();
        while let Some((key, value)) = iter.next_entry()? {
            let mut stored = vec![Keyspace::Meta as u8];
            stored.extend_from_slice(&key);
            let def = IndexDef::decode(&stored, &value).ok_or_else(|| Error::Corruption {
                file: "index definitions".into(),
                offset: 0,
                what: format!("the definition of index {:?} does not decode", String::from_utf8_lossy(&key)),
            })?;
            defs.push(def);
        }
        drop(iter);
        defs.sort_by_key(|d| d.id);
        let pending = defs.iter().any(|d| d.state != IndexState::Ready);
        self.set_index_definitions(defs);
        if pending && !self.options().read_only {
            self.start_index_worker();
        }
        Ok(())
    }

    /// Starts the worker unless one runs.
    pub(crate) fn start_index_worker(&self) {
        let (work, _) = self.index_work();
        let mut guard = work.lock();
        if guard.running || self.options().read_only {
            return;
        }
        guard.running = true;
        guard.failure = None;
        drop(guard);
        let db = self.clone();
        let spawned = std::thread::Builder::new().name("browserdb-index".into()).spawn(move || db.index_worker());
        if spawned.is_err() {
            let mut guard = work.lock();
            guard.running = false;
            guard.failure = Some("could not start the index worker thread".into());
        }
    }

    /// Works chunk by chunk until no index is building or dropping, or the database closes.
    fn index_worker(&self) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| loop {
            let defs = self.index_definitions();
            let Some(def) = defs.iter().find(|d| d.state != IndexState::Ready) else { return Ok(()) };
            let _guard = self.begin()?;
            match def.state {
                IndexState::Dropping => self.drop_chunk(def)?,
                _ => self.build_chunk(&def.name)?,
            }
        }));
        let failure = match outcome {
            Ok(Ok(())) | Ok(Err(Error::Closed)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("a panic in the index worker".into()),
        };
        let (work, cv) = self.index_work();
        let mut guard = work.lock();
        guard.running = false;
        guard.failure = failure;
        drop(guard);
        cv.notify_all();
    }

    /// Indexes the next chunk of keys of a building index, as the only writer.
    fn build_chunk(&self, name: &str) -> Result<()> {
        let indexed = self.as_sole_writer(|| {
            let Some(def) = self.index_definitions().iter().find(|d| d.name == name).cloned() else {
                return Ok(0);
            };
            let IndexState::Building { resume_after } = &def.state else { return Ok(0) };
            let mut options = IterOptions::default().with_prefix(&def.prefix);
            if let Some(after) = resume_after {
                options.lower = max_lower(options.lower, std::ops::Bound::Excluded(after.clone()));
            }
            let mut iter = self.iter(options, None)?;
            let mut batch = WriteBatch::new();
            let (mut last, mut keys) = (None, 0u64);
            let end =
                iter.next_page_with_expiry(BUILD_CHUNK_KEYS, BUILD_CHUNK_BYTES, false, |key, value, expiry_ms| {
                    if let Some(entry) = extract(value, &def.path).and_then(|v| def.entry_key(&v, key)) {
                        let kind = if expiry_ms == 0 { Kind::Put } else { Kind::PutWithExpiry };
                        batch.push_stored(kind, &entry, expiry_ms, &[]);
                    }
                    last = Some(key.to_vec());
                    keys += 1;
                })?;
            drop(iter);
            let finished = end == PageEnd::Exhausted;
            let state = if finished { IndexState::Ready } else { IndexState::Building { resume_after: last } };
            let next = IndexDef { state, ..def };
            batch.push_stored(Kind::Put, &next.record_key(), 0, &next.encode());
            self.commit_as_leader(batch, finished).map(|()| keys)
        })?;
        let (work, cv) = self.index_work();
        *work.lock().keys_indexed.entry(name.to_owned()).or_default() += indexed;
        cv.notify_all();
        Ok(())
    }

    /// Deletes the next chunk of a dropping index's entries; the definition goes last.
    fn drop_chunk(&self, def: &IndexDef) -> Result<()> {
        let prefix = def.entries_prefix();
        let options = IterOptions::default().with_prefix(prefix.get(1..).unwrap_or_default());
        let mut iter = self.iter_in(Keyspace::Index, options, None)?;
        let mut batch = WriteBatch::new();
        let mut stored = Vec::new();
        let end = iter.next_page(DROP_CHUNK_KEYS, usize::MAX, false, |key, _| {
            stored.clear();
            stored.push(Keyspace::Index as u8);
            stored.extend_from_slice(key);
            batch.push_stored(Kind::Delete, &stored, 0, &[]);
        })?;
        drop(iter);
        let finished = end == PageEnd::Exhausted;
        if finished {
            batch.push_stored(Kind::Delete, &def.record_key(), 0, &[]);
        }
        self.write(batch, finished)
    }
}

/// A batch writing one definition record.
fn definition_batch(def: &IndexDef) -> WriteBatch {
    let mut batch = WriteBatch::new();
    batch.push_stored(Kind::Put, &def.record_key(), 0, &def.encode());
    batch
}

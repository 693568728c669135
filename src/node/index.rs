//! The binding of secondary indexes: create, drop, list, query. Building and dropping run on
//! the engine's index worker; the JS face polls `indexState` (memory only) to wait, so no
//! libuv pool thread is held for the length of a build.

use napi::bindgen_prelude::{AsyncTask, Buffer};
use napi_derive::napi;

use super::convert::{arg_bytes, BytesArg};
use super::db::{snapshot_of, NativeDb};
use super::error::{no_panic, to_js};
use super::iter::{NativeIterator, PageShape, Walker};
use super::snapshot::NativeSnapshot;
use super::tasks::{Job, Output};
use crate::engine::{Error, IndexRange, IndexValue};
use std::ops::Bound;

/// A range of indexed values; each bound is the value as JSON text (the JS face stringifies).
#[napi(object)]
pub struct NativeIndexRange {
    pub gt: Option<String>,
    pub gte: Option<String>,
    pub lt: Option<String>,
    pub lte: Option<String>,
    pub reverse: Option<bool>,
}

/// One index, as `indexes()` lists it.
#[napi(object)]
pub struct NativeIndexInfo {
    pub name: String,
    pub prefix: Buffer,
    pub field: String,
    pub state: String,
    pub keys_indexed: f64,
}

fn bound(exclusive: Option<&String>, inclusive: Option<&String>) -> Result<Bound<IndexValue>, Error> {
    Ok(match (exclusive, inclusive) {
        (Some(json), _) => Bound::Excluded(IndexValue::parse_bound(json)?),
        (None, Some(json)) => Bound::Included(IndexValue::parse_bound(json)?),
        (None, None) => Bound::Unbounded,
    })
}

fn index_range(range: &NativeIndexRange) -> Result<IndexRange, Error> {
    Ok(IndexRange {
        lower: bound(range.gt.as_ref(), range.gte.as_ref())?,
        upper: bound(range.lt.as_ref(), range.lte.as_ref())?,
        reverse: range.reverse.unwrap_or(false),
    })
}

#[napi]
impl NativeDb {
    /// Registers an index (one synced record) and starts its build; resolves once registered.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn create_index(&self, name: String, prefix: BytesArg<'_>, field: String) -> AsyncTask<Job> {
        let (db, prefix) = (self.db.clone(), arg_bytes(&prefix).to_vec());
        AsyncTask::new(Job::new(move || db.create_index(&name, &prefix, &field).map(|()| Output::Unit)))
    }

    /// Marks an index dropped (one synced record); its entries are deleted in the background.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn drop_index(&self, name: String) -> AsyncTask<Job> {
        let db = self.db.clone();
        AsyncTask::new(Job::new(move || db.drop_index(&name).map(|()| Output::Unit)))
    }

    /// `"building"`, `"ready"`, `"dropping"` or `null`; memory only.
    #[napi]
    pub fn index_state(&self, name: String) -> napi::Result<Option<String>, String> {
        self.db.check_open().map_err(|e| to_js(&e))?;
        Ok(self.db.index_state(&name).map(str::to_owned))
    }

    /// Keys indexed by builds of `name` since open, and the worker's failure if it failed.
    #[napi]
    pub fn index_progress(&self, name: String) -> (f64, Option<String>) {
        #[allow(clippy::cast_precision_loss)]
        let keys = self.db.index_keys_indexed(&name) as f64;
        (keys, self.db.index_failure())
    }

    /// The indexes (dropping ones left out).
    #[napi]
    pub fn indexes(&self) -> napi::Result<Vec<NativeIndexInfo>, String> {
        let list = self.db.indexes().map_err(|e| to_js(&e))?;
        #[allow(clippy::cast_precision_loss)]
        Ok(list
            .into_iter()
            .map(|i| NativeIndexInfo {
                name: i.name,
                prefix: i.prefix.into(),
                field: i.field,
                state: i.state.to_owned(),
                keys_indexed: i.keys_indexed as f64,
            })
            .collect())
    }

    /// An iterator over a ready index: pages of `[entry, value]` where `entry` is the
    /// encoded indexed value followed by the primary key (decoded by the JS face).
    #[napi]
    pub fn index_iterator(
        &self,
        name: String,
        range: NativeIndexRange,
        values: bool,
        value_as_string: bool,
        snapshot: Option<&NativeSnapshot>,
    ) -> napi::Result<NativeIterator, String> {
        let shape = PageShape { keys: true, values, key_as_string: false, value_as_string };
        no_panic(|| {
            let range = index_range(&range)?;
            self.db.index_iter(&name, &range, values, snapshot_of(snapshot)?.as_ref())
        })
        .map(|iter| NativeIterator::new(Walker::Index(iter), shape))
        .map_err(|e| to_js(&e))
    }

    /// Entries of a ready index in a range, counted off the JS thread.
    #[napi(ts_return_type = "Promise<number>")]
    pub fn index_count(
        &self,
        name: String,
        range: NativeIndexRange,
        snapshot: Option<&NativeSnapshot>,
    ) -> napi::Result<AsyncTask<Job>, String> {
        let db = self.db.clone();
        let range = index_range(&range).map_err(|e| to_js(&e))?;
        let snapshot = snapshot_of(snapshot).map_err(|e| to_js(&e))?;
        Ok(AsyncTask::new(Job::new(move || Ok(Output::Count(db.index_count(&name, &range, snapshot.as_ref())?)))))
    }
}

//! `NativeIterator`: the binding of `engine::DbIterator`. Entries cross in pages: a page from
//! memory on the JS thread (`nextFast`), or a page read on the libuv pool (`next`), each a
//! flat array `[status, key?, value?, key?, value?, ...]` with status 0 = more may follow,
//! 1 = exhausted, 2 = the rest needs the disk (call `next`).

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Env};
use napi::sys;
use napi_derive::napi;
use parking_lot::Mutex;

use super::convert::{arg_bytes, bytes_to_js, BytesArg, RawValue};
use super::error::{no_panic, to_js};
use super::tasks::{Job, Output};
use crate::engine::{DbIterator, Error, IndexIterator, PageEnd};

/// What a `NativeIterator` walks: keys and values, or an index's entries joined with their
/// primary values (each entry's key is the encoded indexed value followed by the primary key).
pub enum Walker {
    /// A range of the user's keys.
    Data(DbIterator),
    /// A range of an index.
    Index(IndexIterator),
}

impl Walker {
    fn next_page(
        &mut self,
        entries_max: usize,
        bytes_max: usize,
        cache_only: bool,
        f: impl FnMut(&[u8], &[u8]),
    ) -> crate::engine::Result<PageEnd> {
        match self {
            Self::Data(iter) => iter.next_page(entries_max, bytes_max, cache_only, f),
            Self::Index(iter) => iter.next_page(entries_max, bytes_max, cache_only, f),
        }
    }

    fn seek(&mut self, target: &[u8]) -> crate::engine::Result<()> {
        match self {
            Self::Data(iter) => {
                iter.seek(target);
                Ok(())
            }
            Self::Index(_) => Err(Error::InvalidArgument("an index iterator cannot seek".into())),
        }
    }
}

/// What each entry of a page carries, and how bytes become JS values.
#[derive(Debug, Clone, Copy)]
pub struct PageShape {
    /// Include keys.
    pub keys: bool,
    /// Include values.
    pub values: bool,
    /// Keys as strings (else Buffers).
    pub key_as_string: bool,
    /// Values as strings (else Buffers).
    pub value_as_string: bool,
}

/// A page read off the JS thread: the bytes of its keys and values, end to end.
pub struct Page {
    arena: Vec<u8>,
    spans: Vec<(usize, usize)>,
    end: PageEnd,
    shape: PageShape,
}

const fn status(end: PageEnd) -> u32 {
    match end {
        PageEnd::Full => 0,
        PageEnd::Exhausted => 1,
        PageEnd::NeedsDisk => 2,
    }
}

/// A JS array under construction.
struct JsArray {
    env: sys::napi_env,
    array: sys::napi_value,
    len: u32,
}

impl JsArray {
    fn new(env: sys::napi_env, first: u32) -> napi::Result<Self> {
        let mut array = std::ptr::null_mut();
        let mut number = std::ptr::null_mut();
        // SAFETY: JS thread; valid env and out-pointers.
        let ok = unsafe {
            sys::napi_create_array(env, &raw mut array) == sys::Status::napi_ok
                && sys::napi_create_uint32(env, first, &raw mut number) == sys::Status::napi_ok
        };
        if !ok {
            return Err(napi::Error::from_reason("could not create a page array"));
        }
        let mut this = Self { env, array, len: 0 };
        this.push(RawValue(number))?;
        Ok(this)
    }

    fn push(&mut self, value: RawValue) -> napi::Result<()> {
        // SAFETY: `array` and `value` are live values of this env.
        if unsafe { sys::napi_set_element(self.env, self.array, self.len, value.0) } != sys::Status::napi_ok {
            return Err(napi::Error::from_reason("could not fill a page array"));
        }
        self.len += 1;
        Ok(())
    }

    fn push_entry(&mut self, key: &[u8], value: &[u8], shape: PageShape) -> napi::Result<()> {
        if shape.keys {
            self.push(bytes_to_js(self.env, key, shape.key_as_string)?)?;
        }
        if shape.values {
            self.push(bytes_to_js(self.env, value, shape.value_as_string)?)?;
        }
        Ok(())
    }

    /// Replaces the status in slot 0.
    fn set_status(&mut self, end: PageEnd) -> napi::Result<()> {
        let mut number = std::ptr::null_mut();
        // SAFETY: JS thread; valid env, array and out-pointer.
        let ok = unsafe {
            sys::napi_create_uint32(self.env, status(end), &raw mut number) == sys::Status::napi_ok
                && sys::napi_set_element(self.env, self.array, 0, number) == sys::Status::napi_ok
        };
        if ok {
            Ok(())
        } else {
            Err(napi::Error::from_reason("could not set a page status"))
        }
    }
}

impl Page {
    /// Converts to the flat JS array (JS thread).
    pub fn to_js(&self, env: sys::napi_env) -> napi::Result<RawValue> {
        let mut array = JsArray::new(env, status(self.end))?;
        for pair in self.spans.chunks_exact(2) {
            let bytes = |(start, end): (usize, usize)| self.arena.get(start..end).unwrap_or_default();
            array.push_entry(bytes(pair[0]), bytes(pair[1]), self.shape)?;
        }
        Ok(RawValue(array.array))
    }
}

/// Clamps a page request to what the engine accepts.
fn page_limits(entries_max: u32, bytes_max: u32) -> (usize, usize) {
    ((entries_max as usize).clamp(1, 100_000), (bytes_max as usize).clamp(1024, 64 * 1024 * 1024))
}

/// The binding of one iterator.
#[napi]
pub struct NativeIterator {
    inner: Arc<Mutex<Option<Walker>>>,
    shape: PageShape,
}

impl NativeIterator {
    pub(super) fn new(iter: Walker, shape: PageShape) -> Self {
        Self { inner: Arc::new(Mutex::new(Some(iter))), shape }
    }
}

fn closed_iterator() -> Error {
    Error::InvalidArgument("the iterator is closed".into())
}

#[napi]
impl NativeIterator {
    /// A page answered from memory on the JS thread (see the module doc for the layout).
    #[napi(ts_return_type = "Array<number | string | Buffer>")]
    pub fn next_fast(&self, env: Env, entries_max: u32, bytes_max: u32) -> napi::Result<RawValue, String> {
        let raw = env.raw();
        let shape = self.shape;
        let (entries, bytes) = page_limits(entries_max, bytes_max);
        let internal = |e: napi::Error| napi::Error::new("BROWSERDB_INTERNAL".to_string(), e.reason);
        let mut array = JsArray::new(raw, 0).map_err(internal)?;
        let mut failed = None;
        let end = no_panic(|| {
            let mut guard = self.inner.lock();
            let iter = guard.as_mut().ok_or_else(closed_iterator)?;
            iter.next_page(entries, bytes, true, |k, v| {
                if failed.is_none() {
                    failed = array.push_entry(k, v, shape).err();
                }
            })
        })
        .map_err(|e| to_js(&e))?;
        if let Some(e) = failed {
            return Err(internal(e));
        }
        array.set_status(end).map_err(internal)?;
        Ok(RawValue(array.array))
    }

    /// A page read on the libuv pool.
    #[napi(ts_return_type = "Promise<Array<number | string | Buffer>>")]
    pub fn next(&self, entries_max: u32, bytes_max: u32) -> AsyncTask<Job> {
        let inner = Arc::clone(&self.inner);
        let shape = self.shape;
        let (entries, bytes) = page_limits(entries_max, bytes_max);
        AsyncTask::new(Job::new(move || {
            let mut guard = inner.lock();
            let iter = guard.as_mut().ok_or_else(closed_iterator)?;
            let mut page = Page { arena: Vec::new(), spans: Vec::new(), end: PageEnd::Full, shape };
            page.end = iter.next_page(entries, bytes, false, |k, v| {
                for part in [k, v] {
                    let start = page.arena.len();
                    page.arena.extend_from_slice(part);
                    page.spans.push((start, page.arena.len()));
                }
            })?;
            Ok(Output::Page(page))
        }))
    }

    /// Repositions at `target` (see `DbIterator::seek`). Call only between pages.
    #[napi]
    pub fn seek(&self, target: BytesArg<'_>) -> napi::Result<(), String> {
        let mut guard = self.inner.lock();
        let iter = guard.as_mut().ok_or_else(|| to_js(&closed_iterator()))?;
        iter.seek(arg_bytes(&target)).map_err(|e| to_js(&e))
    }

    /// Releases the iterator's snapshot and the tables and memtables it holds.
    #[napi]
    pub fn close(&self) {
        *self.inner.lock() = None;
    }
}

//! `NativeIterator`: the binding of `engine::DbIterator`. Entries cross in pages: a page from
//! memory on the JS thread (`nextFast`), or a page read on the libuv pool (`next`), each a
//! flat array `[status, key?, value?, key?, value?, ...]` with status 0 = more may follow,
//! 1 = exhausted, 2 = the rest needs the disk (call `next`).

use std::sync::Arc;

use napi::bindgen_prelude::{AsyncTask, Env, FromNapiValue, TypeName, ValueType};
use napi::sys;
use napi_derive::napi;
use parking_lot::Mutex;

use super::convert::{arg_bytes, bytes_to_js, BytesArg, RawValue};
use super::error::{internal, no_panic, to_js};
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

/// Longest page (in values, status included) handed to the collector in one call: its values
/// travel as call arguments, on the stack. JS asks for at most 1000 entries (2001 values); a
/// longer page is built element by element.
const COLLECT_VALUES_MAX: usize = 4096;

/// The JS function that turns its arguments into an array (`(...items) => items`).
pub struct Collector(sys::napi_value);

impl TypeName for Collector {
    fn type_name() -> &'static str {
        "(...items: Array<number | string | Buffer>) => Array<number | string | Buffer>"
    }
    fn value_type() -> ValueType {
        ValueType::Function
    }
}

impl FromNapiValue for Collector {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut kind = 0;
        // SAFETY: called by napi-rs on the JS thread with a live env and value.
        let status = unsafe { sys::napi_typeof(env, value, &raw mut kind) };
        if status != sys::Status::napi_ok || kind != sys::ValueType::napi_function {
            return Err(napi::Error::from_reason("the page collector must be a function"));
        }
        Ok(Self(value))
    }
}

/// The values of a page under construction (JS thread), slot 0 reserved for the status. They
/// become one array at the end: one call of the collector, instead of a `napi_set_element`
/// per value (each a generic property store in V8, ~10% of a scan).
struct PageValues {
    env: sys::napi_env,
    values: Vec<sys::napi_value>,
}

impl PageValues {
    fn new(env: sys::napi_env, capacity: usize) -> Self {
        let mut values = Vec::with_capacity(capacity.saturating_add(1).min(COLLECT_VALUES_MAX));
        values.push(std::ptr::null_mut());
        Self { env, values }
    }

    fn push_entry(&mut self, key: &[u8], value: &[u8], shape: PageShape) -> napi::Result<()> {
        if shape.keys {
            self.values.push(bytes_to_js(self.env, key, shape.key_as_string)?.0);
        }
        if shape.values {
            self.values.push(bytes_to_js(self.env, value, shape.value_as_string)?.0);
        }
        Ok(())
    }

    /// The flat array: the collector's result, or (without one, or for a very long page) an
    /// array filled element by element.
    fn finish(mut self, end: PageEnd, collect: Option<&Collector>) -> napi::Result<RawValue> {
        let env = self.env;
        let failed = |what: &str| napi::Error::from_reason(format!("could not {what} a page array"));
        let mut number = std::ptr::null_mut();
        // SAFETY: JS thread; valid env and out-pointer.
        if unsafe { sys::napi_create_uint32(env, status(end), &raw mut number) } != sys::Status::napi_ok {
            return Err(failed("start"));
        }
        if let Some(first) = self.values.first_mut() {
            *first = number;
        }
        let mut array = std::ptr::null_mut();
        if let Some(collect) = collect.filter(|_| self.values.len() <= COLLECT_VALUES_MAX) {
            let mut this = std::ptr::null_mut();
            // SAFETY: JS thread; `collect` is a live function of this env and `values` holds
            // `values.len()` live values of this env.
            let ok = unsafe {
                sys::napi_get_undefined(env, &raw mut this) == sys::Status::napi_ok
                    && sys::napi_call_function(
                        env,
                        this,
                        collect.0,
                        self.values.len(),
                        self.values.as_ptr(),
                        &raw mut array,
                    ) == sys::Status::napi_ok
            };
            return if ok { Ok(RawValue(array)) } else { Err(failed("collect")) };
        }
        // SAFETY: JS thread; valid env and out-pointer.
        if unsafe { sys::napi_create_array_with_length(env, self.values.len(), &raw mut array) } != sys::Status::napi_ok
        {
            return Err(failed("create"));
        }
        for (i, value) in self.values.iter().enumerate() {
            let index = u32::try_from(i).map_err(|_| failed("index"))?;
            // SAFETY: `array` and `value` are live values of this env.
            if unsafe { sys::napi_set_element(env, array, index, *value) } != sys::Status::napi_ok {
                return Err(failed("fill"));
            }
        }
        Ok(RawValue(array))
    }
}

impl Page {
    /// Converts to the flat JS array (JS thread).
    pub fn to_js(&self, env: sys::napi_env) -> napi::Result<RawValue> {
        let mut values = PageValues::new(env, self.spans.len());
        for pair in self.spans.chunks_exact(2) {
            let bytes = |(start, end): (usize, usize)| self.arena.get(start..end).unwrap_or_default();
            values.push_entry(bytes(pair[0]), bytes(pair[1]), self.shape)?;
        }
        values.finish(self.end, None)
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
    /// A page answered from memory on the JS thread (see the module doc for the layout), made
    /// into an array by `collect` (`(...items) => items`).
    #[napi(ts_return_type = "Array<number | string | Buffer>")]
    pub fn next_fast(
        &self,
        env: Env,
        entries_max: u32,
        bytes_max: u32,
        collect: Collector,
    ) -> napi::Result<RawValue, String> {
        let raw = env.raw();
        let shape = self.shape;
        let (entries, bytes) = page_limits(entries_max, bytes_max);
        let per_entry = usize::from(shape.keys) + usize::from(shape.values);
        let mut values = PageValues::new(raw, entries.saturating_mul(per_entry));
        let mut failed = None;
        let end = no_panic(|| {
            let mut guard = self.inner.lock();
            let iter = guard.as_mut().ok_or_else(closed_iterator)?;
            iter.next_page(entries, bytes, true, |k, v| {
                if failed.is_none() {
                    failed = values.push_entry(k, v, shape).err();
                }
            })
        })
        .map_err(|e| to_js(&e))?;
        if let Some(e) = failed {
            return Err(internal(e));
        }
        values.finish(end, Some(&collect)).map_err(internal)
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

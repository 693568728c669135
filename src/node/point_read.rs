//! The point reads JS makes most often (`get` answered from memory, `getSync`), called
//! straight through N-API rather than through `#[napi]` functions.
//!
//! Why: a `#[napi]` function of napi-rs 3 that takes arguments opens a borrow scope on every
//! call (an `Arc<Mutex<_>>` allocated, locked and freed, a thread-local push and pop), and an
//! `&External<T>` argument is looked up in a process-wide registry behind a mutex. A profile
//! of `getSync` answered from the memtable put those at ~20% of the call. Here a call reads
//! its three arguments with `napi_get_cb_info` and checks the database handle against this
//! thread's own list of live handles: nothing is allocated or locked but the engine's read.
//!
//! Reads through a snapshot keep the `#[napi]` functions in `db.rs` (they take a snapshot
//! object), which take the same handle.

use std::cell::RefCell;
use std::ffi::{c_void, CString};
use std::ptr;

use napi::bindgen_prelude::{FromNapiValue, TypeName, ValueType};
use napi::sys;

use super::convert::{arg_bytes, null, option_to_js, BytesArg, RawValue};
use super::error::no_panic;
use crate::engine::{Db, Error};

/// What a handle's JS external points to. Owned by the external: freed by its finalizer.
struct Handle {
    db: Db,
}

thread_local! {
    /// The handles this thread created whose externals are not finalized yet: the only data
    /// pointers a handle argument is ever read through (an external made by other native code
    /// is refused, not dereferenced). A thread has a database or two open, so a scan is cheap.
    static LIVE_HANDLES: RefCell<Vec<usize>> = const { RefCell::new(Vec::new()) };
}

/// A new JS external naming `db`, for the point reads.
pub fn create_handle(env: sys::napi_env, db: Db) -> napi::Result<RawValue> {
    let data = Box::into_raw(Box::new(Handle { db }));
    let mut out = ptr::null_mut();
    // SAFETY: a live env on the JS thread; `data` is a valid pointer that the finalizer frees.
    let status =
        unsafe { sys::napi_create_external(env, data.cast(), Some(finalize_handle), ptr::null_mut(), &raw mut out) };
    if status != sys::Status::napi_ok {
        // SAFETY: `data` came from `Box::into_raw` above and was not handed to N-API.
        drop(unsafe { Box::from_raw(data) });
        return Err(napi::Error::from_reason(format!("napi call failed: create a handle (status {status})")));
    }
    LIVE_HANDLES.with_borrow_mut(|live| live.push(data as usize));
    Ok(RawValue(out))
}

/// Frees a handle whose external was collected.
unsafe extern "C" fn finalize_handle(_env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // At a worker thread's exit the list may be gone already; the handle is freed either way.
    let _ = LIVE_HANDLES.try_with(|live| live.borrow_mut().retain(|&p| p != data as usize));
    // SAFETY: `data` is the pointer `create_handle` boxed, finalized once by N-API.
    drop(unsafe { Box::from_raw(data.cast::<Handle>()) });
}

/// The database behind a handle argument, if `value` is a live handle made on this thread.
///
/// # Safety
/// `env` and `value` must be live values of the current JS-thread call.
unsafe fn handle_db<'a>(env: sys::napi_env, value: sys::napi_value) -> Option<&'a Db> {
    let mut data = ptr::null_mut();
    // SAFETY: per this function's contract; `data` is a valid out-pointer.
    if unsafe { sys::napi_get_value_external(env, value, &raw mut data) } != sys::Status::napi_ok {
        return None;
    }
    let live = LIVE_HANDLES.try_with(|live| live.borrow().contains(&(data as usize))).unwrap_or(false);
    // SAFETY: a live handle's data is a `Handle` its external owns; the external is an
    // argument of this call, so it outlives the call.
    live.then(|| unsafe { &(*data.cast::<Handle>()).db })
}

/// A handle as a `#[napi]` function argument (the snapshot reads).
pub struct HandleArg<'a>(pub &'a Db);

impl TypeName for HandleArg<'_> {
    fn type_name() -> &'static str {
        "ExternalObject<DbHandle>"
    }
    fn value_type() -> ValueType {
        ValueType::External
    }
}

impl FromNapiValue for HandleArg<'_> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        // SAFETY: called by napi-rs on the JS thread with a live env and value.
        unsafe { handle_db(env, value) }.map(HandleArg).ok_or_else(|| napi::Error::from_reason(NOT_A_HANDLE))
    }
}

const NOT_A_HANDLE: &str = "expected a database handle";

/// `{ getFast, getSync }`: `getFast(handle, key, asString)` answers from memory only (`null`
/// when a table block must be read: the caller then reads off the JS thread);
/// `getSync(handle, key, asString)` reads tables too (the documented exception). Both give
/// the value or `undefined`, and throw errors with the engine's `code`.
pub fn functions(env: sys::napi_env) -> napi::Result<RawValue> {
    let mut object = ptr::null_mut();
    // SAFETY: a live env on the JS thread; valid out-pointers throughout.
    check(unsafe { sys::napi_create_object(env, &raw mut object) })?;
    let entries: [(&str, sys::napi_callback); 2] = [("getFast", Some(get_fast)), ("getSync", Some(get_sync))];
    for (name, callback) in entries {
        let mut function = ptr::null_mut();
        // SAFETY: as above; `name` is valid UTF-8 of the given length.
        check(unsafe {
            sys::napi_create_function(
                env,
                name.as_ptr().cast(),
                name.len() as isize,
                callback,
                ptr::null_mut(),
                &raw mut function,
            )
        })?;
        // SAFETY: as above.
        check(unsafe { sys::napi_set_named_property(env, object, CString::new(name)?.as_ptr(), function) })?;
    }
    Ok(RawValue(object))
}

fn check(status: sys::napi_status) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!("napi call failed: create the point reads (status {status})")))
    }
}

/// Why a call failed: the JS error's `code` and message.
struct Failure(&'static str, String);

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Self(e.code(), e.to_string())
    }
}

impl From<napi::Error> for Failure {
    fn from(e: napi::Error) -> Self {
        Self("BROWSERDB_INTERNAL", e.reason)
    }
}

unsafe extern "C" fn get_fast(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: N-API calls this on the JS thread with a live env and callback info.
    unsafe { answer(env, info, Read::MemoryOnly) }
}

unsafe extern "C" fn get_sync(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    // SAFETY: as above.
    unsafe { answer(env, info, Read::Full) }
}

#[derive(Clone, Copy)]
enum Read {
    /// Memtables and cached blocks only (`null` otherwise).
    MemoryOnly,
    /// Tables too.
    Full,
}

/// Runs one read; a failure becomes a thrown JS error (and a panic `BROWSERDB_INTERNAL`),
/// never an unwind into Node.
///
/// # Safety
/// `env` and `info` must be those N-API passed to the callback.
unsafe fn answer(env: sys::napi_env, info: sys::napi_callback_info, read: Read) -> sys::napi_value {
    let outcome = std::panic::catch_unwind(|| {
        // SAFETY: per this function's contract.
        unsafe { read_value(env, info, read) }
    });
    let failure = match outcome {
        Ok(Ok(value)) => return value.0,
        Ok(Err(failure)) => failure,
        Err(_) => Failure("BROWSERDB_INTERNAL", "panic in a point read".into()),
    };
    let code = CString::new(failure.0).unwrap_or_default();
    let message = CString::new(failure.1.replace('\0', " ")).unwrap_or_default();
    // SAFETY: a live env; both strings are NUL-terminated and live across the call.
    unsafe { sys::napi_throw_error(env, code.as_ptr(), message.as_ptr()) };
    ptr::null_mut()
}

/// # Safety
/// `env` and `info` must be those N-API passed to the callback.
unsafe fn read_value(env: sys::napi_env, info: sys::napi_callback_info, read: Read) -> Result<RawValue, Failure> {
    let mut argc = 3usize;
    let mut argv = [ptr::null_mut(); 3];
    // SAFETY: per this function's contract; `argv` has room for `argc` values.
    let status =
        unsafe { sys::napi_get_cb_info(env, info, &raw mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) };
    if status != sys::Status::napi_ok || argc < 3 {
        return Err(Failure("BROWSERDB_INVALID_ARGUMENT", "expected a handle, a key and asString".into()));
    }
    // SAFETY: the arguments are live values of this call.
    let db = unsafe { handle_db(env, argv[0]) }.ok_or_else(|| Failure("BROWSERDB_INTERNAL", NOT_A_HANDLE.into()))?;
    // SAFETY: as above.
    let key = unsafe { BytesArg::from_napi_value(env, argv[1]) }
        .map_err(|_| Failure("BROWSERDB_INVALID_ARGUMENT", "key must be a string or a Uint8Array".into()))?;
    let mut as_string = false;
    // SAFETY: as above; `as_string` is a valid out-pointer.
    if unsafe { sys::napi_get_value_bool(env, argv[2], &raw mut as_string) } != sys::Status::napi_ok {
        return Err(Failure("BROWSERDB_INVALID_ARGUMENT", "asString must be a boolean".into()));
    }
    let key = arg_bytes(&key);
    let to_js = |v: Option<&[u8]>| option_to_js(env, v, as_string);
    let value = match read {
        Read::Full => no_panic(|| db.get_with(key, to_js))?,
        Read::MemoryOnly => match no_panic(|| db.get_in_memory(key, to_js))? {
            Some(value) => value,
            None => null(env),
        },
    };
    Ok(value?)
}

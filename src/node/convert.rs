//! Raw value conversions on the JS thread. Values cross into JS as copies in JS-owned memory
//! (strings, or Buffers made by `napi_create_buffer_copy`): Electron forbids external buffers.

use napi::bindgen_prelude::{Either, ToNapiValue, TypeName, ValueType};
use napi::sys;

/// A key or value argument: a JS string (UTF-8 encoded here) or a Uint8Array/Buffer.
pub type BytesArg<'a> = Either<String, &'a [u8]>;

/// The bytes of a key or value argument.
pub fn arg_bytes<'a>(arg: &'a BytesArg<'_>) -> &'a [u8] {
    match arg {
        Either::A(s) => s.as_bytes(),
        Either::B(b) => b,
    }
}

/// A JS value already created on the JS thread, returned as is.
pub struct RawValue(pub sys::napi_value);

impl TypeName for RawValue {
    fn type_name() -> &'static str {
        "unknown"
    }
    fn value_type() -> ValueType {
        ValueType::Unknown
    }
}

impl ToNapiValue for RawValue {
    unsafe fn to_napi_value(_env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

fn check(status: sys::napi_status, what: &str) -> napi::Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::from_reason(format!("napi call failed: {what} (status {status})")))
    }
}

/// Creates a JS string (invalid UTF-8 sequences become U+FFFD) or a Buffer copy of `bytes`.
pub fn bytes_to_js(env: sys::napi_env, bytes: &[u8], as_string: bool) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: `env` is the live env of the current JS-thread call; `bytes` outlives the call,
    // which copies them; `out` is a valid out-pointer.
    let status = unsafe {
        if as_string {
            sys::napi_create_string_utf8(env, bytes.as_ptr().cast(), bytes.len() as isize, &raw mut out)
        } else {
            sys::napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr().cast(), std::ptr::null_mut(), &raw mut out)
        }
    };
    check(status, "create value")?;
    Ok(RawValue(out))
}

/// `undefined`.
pub fn undefined(env: sys::napi_env) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out-pointer.
    check(unsafe { sys::napi_get_undefined(env, &raw mut out) }, "get undefined")?;
    Ok(RawValue(out))
}

/// `null`.
pub fn null(env: sys::napi_env) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out-pointer.
    check(unsafe { sys::napi_get_null(env, &raw mut out) }, "get null")?;
    Ok(RawValue(out))
}

/// A value or `undefined`.
pub fn option_to_js(env: sys::napi_env, value: Option<&[u8]>, as_string: bool) -> napi::Result<RawValue> {
    match value {
        Some(v) => bytes_to_js(env, v, as_string),
        None => undefined(env),
    }
}

/// A JS number.
pub fn number_to_js(env: sys::napi_env, value: f64) -> napi::Result<RawValue> {
    let mut out = std::ptr::null_mut();
    // SAFETY: valid env and out-pointer.
    check(unsafe { sys::napi_create_double(env, value, &raw mut out) }, "create number")?;
    Ok(RawValue(out))
}

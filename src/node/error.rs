//! The only place engine errors become JS errors: each carries the engine's stable `code`.

use crate::engine::Error;
use napi::bindgen_prelude::{JsObjectValue, JsValue};

/// Converts an engine error into a napi error whose JS `code` is the engine's code.
pub fn to_js(e: &Error) -> napi::Error<String> {
    napi::Error::new(e.code().to_string(), e.to_string())
}

/// A failed N-API call while building a JS value (a string, an array) from a result: the
/// engine did its part, so it is `BROWSERDB_INTERNAL` with N-API's reason.
pub fn internal(e: napi::Error) -> napi::Error<String> {
    napi::Error::new("BROWSERDB_INTERNAL".to_string(), e.reason)
}

/// Runs `f`, turning a panic into `BROWSERDB_INTERNAL` so it never unwinds into Node
/// (which would abort the process).
pub fn no_panic<T>(f: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(Error::Internal(format!("panic: {what}")))
    })
}

/// Builds the JS rejection value for an async task: an `Error` with `code` set.
pub fn reject_with_code(env: &napi::Env, code: &str, message: String) -> napi::Error {
    match env.create_error(napi::Error::from_reason(message.clone())) {
        Ok(mut obj) => {
            if obj.set_named_property("code", code).is_err() {
                return napi::Error::from_reason(message);
            }
            napi::Error::from(obj.to_unknown())
        }
        Err(e) => e,
    }
}

//! One `AsyncTask` type for every engine call that may touch disk. `compute` runs on the
//! libuv pool with panics caught; `reject` attaches the engine's error `code`.

use napi::bindgen_prelude::{Env, Task, ToNapiValue};
use napi::sys;

use super::convert::{bytes_to_js, option_to_js, undefined, RawValue};
use super::error::{no_panic, reject_with_code};
use crate::engine::{self, Db};

/// What an engine call produced, converted to JS on the JS thread.
pub enum Output {
    /// `undefined`.
    Unit,
    /// A value or `undefined`, as a string or a Buffer.
    Value(Option<Vec<u8>>, bool),
    /// An array of values or `undefined`s.
    Values(Vec<Option<Vec<u8>>>, bool),
    /// A newly opened database.
    Opened(Db),
    /// A page of an iterator.
    Page(super::iter::Page),
    /// A count (keys cleared).
    Count(u64),
    /// A report as JSON text (maintenance).
    Json(String),
}

type Work = Box<dyn FnOnce() -> engine::Result<Output> + Send>;

/// An engine call on the libuv pool.
pub struct Job {
    work: Option<Work>,
    code: &'static str,
}

impl Job {
    /// Wraps the work to run off the JS thread.
    pub fn new(work: impl FnOnce() -> engine::Result<Output> + Send + 'static) -> Self {
        Self { work: Some(Box::new(work)), code: "BROWSERDB_INTERNAL" }
    }
}

fn values_to_js(env: sys::napi_env, values: &[Option<Vec<u8>>], as_string: bool) -> napi::Result<RawValue> {
    let mut array = std::ptr::null_mut();
    // SAFETY: JS thread, valid env and out-pointer.
    let status = unsafe { sys::napi_create_array_with_length(env, values.len(), &raw mut array) };
    if status != sys::Status::napi_ok {
        return Err(napi::Error::from_reason("could not create an array"));
    }
    for (i, v) in values.iter().enumerate() {
        let item = option_to_js(env, v.as_deref(), as_string)?;
        let index = u32::try_from(i).map_err(|_| napi::Error::from_reason("too many values"))?;
        // SAFETY: `array` and `item` are live values of this env.
        let status = unsafe { sys::napi_set_element(env, array, index, item.0) };
        if status != sys::Status::napi_ok {
            return Err(napi::Error::from_reason("could not fill an array"));
        }
    }
    Ok(RawValue(array))
}

impl Task for Job {
    type Output = Output;
    type JsValue = RawValue;

    fn compute(&mut self) -> napi::Result<Output> {
        let work = self.work.take().ok_or_else(|| napi::Error::from_reason("task ran twice"))?;
        no_panic(work).map_err(|e| {
            self.code = e.code();
            napi::Error::from_reason(e.to_string())
        })
    }

    fn resolve(&mut self, env: Env, output: Output) -> napi::Result<RawValue> {
        let raw = env.raw();
        match output {
            Output::Unit => undefined(raw),
            Output::Value(v, as_string) => match v {
                Some(v) => bytes_to_js(raw, &v, as_string),
                None => undefined(raw),
            },
            Output::Values(values, as_string) => values_to_js(raw, &values, as_string),
            Output::Page(page) => page.to_js(raw),
            Output::Count(n) => {
                let mut out = std::ptr::null_mut();
                #[allow(clippy::cast_precision_loss)]
                // SAFETY: JS thread, valid env and out-pointer.
                let status = unsafe { sys::napi_create_double(raw, n as f64, &raw mut out) };
                if status != sys::Status::napi_ok {
                    return Err(napi::Error::from_reason("could not create a number"));
                }
                Ok(RawValue(out))
            }
            Output::Json(text) => bytes_to_js(raw, text.as_bytes(), true),
            Output::Opened(db) => {
                // SAFETY: JS thread; the class value is created in this env.
                let value = unsafe { super::db::NativeDb::to_napi_value(raw, super::db::NativeDb::new(db))? };
                Ok(RawValue(value))
            }
        }
    }

    fn reject(&mut self, env: Env, err: napi::Error) -> napi::Result<RawValue> {
        Err(reject_with_code(&env, self.code, err.reason))
    }
}

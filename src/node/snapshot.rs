//! `NativeSnapshot`: the binding of `engine::Snapshot`. Released by `close()` or, if the
//! caller forgets, when the garbage collector drops it.

use napi_derive::napi;

use super::error::to_js;
use crate::engine::{Error, Snapshot};

/// A snapshot held for JS.
#[napi]
pub struct NativeSnapshot {
    snapshot: Option<Snapshot>,
}

impl NativeSnapshot {
    pub(super) const fn new(snapshot: Snapshot) -> Self {
        Self { snapshot: Some(snapshot) }
    }

    /// The engine snapshot; `Closed` after `close()`.
    pub(super) fn get(&self) -> Result<&Snapshot, Error> {
        self.snapshot.as_ref().ok_or_else(|| Error::InvalidArgument("the snapshot is closed".into()))
    }
}

#[napi]
impl NativeSnapshot {
    /// Releases the snapshot (idempotent).
    #[napi]
    pub fn close(&mut self) {
        self.snapshot = None;
    }

    /// The sequence number the snapshot reads at.
    #[napi]
    pub fn sequence(&self) -> napi::Result<f64, String> {
        #[allow(clippy::cast_precision_loss)]
        self.get().map(|s| s.sequence() as f64).map_err(|e| to_js(&e))
    }
}

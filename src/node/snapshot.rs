//! `NativeSnapshot`: the binding of `engine::Snapshot`. Released by `close()` or, if the
//! caller forgets, when the garbage collector drops it.

use napi_derive::napi;

use super::error::to_js;
use crate::engine::{Error, Snapshot};

/// A snapshot held for JS.
#[napi]
pub struct NativeSnapshot {
    /// Interior mutability so `close` needs no `&mut self` (napi-rs refuses a mutable borrow
    /// while a task borrows the object).
    snapshot: parking_lot::RwLock<Option<Snapshot>>,
}

impl NativeSnapshot {
    pub(super) fn new(snapshot: Snapshot) -> Self {
        Self { snapshot: parking_lot::RwLock::new(Some(snapshot)) }
    }

    /// A registration of the engine snapshot for one read; refused after `close()`.
    pub(super) fn hold(&self) -> Result<Snapshot, Error> {
        self.snapshot
            .read()
            .as_ref()
            .map(Snapshot::clone_registration)
            .ok_or_else(|| Error::InvalidArgument("the snapshot is closed".into()))
    }
}

#[napi]
impl NativeSnapshot {
    /// Releases the snapshot (idempotent).
    #[napi]
    pub fn close(&self) {
        *self.snapshot.write() = None;
    }

    /// The sequence number the snapshot reads at.
    #[napi]
    pub fn sequence(&self) -> napi::Result<f64, String> {
        #[allow(clippy::cast_precision_loss)]
        self.hold().map(|s| s.sequence() as f64).map_err(|e| to_js(&e))
    }
}

//! The browserdb engine: an LSM-tree key-value store in plain Rust. It knows nothing of
//! Node or napi; `src/node/` binds it. Public surface: [`Db`], [`Options`], [`Error`],
//! [`WriteBatch`], and the [`storage`] seam for tests.
#![deny(unsafe_code)]

mod background;
pub mod batch;
pub mod cache;
mod coding;
mod compaction;
pub mod db;
pub mod error;
pub mod files;
pub mod heatmap;
pub mod index;
pub mod iter;
pub mod key;
pub mod maintenance;
pub mod manifest;
#[cfg(target_os = "linux")]
mod mapped_log;
pub mod memtable;
pub mod options;
pub mod range_del;
mod recovery;
pub mod storage;
pub mod table;
pub mod version;
pub mod wal;

pub use batch::WriteBatch;
pub use db::{Db, Event, LevelStats, QueuedWrite, Snapshot, Stats, TableInfo};
pub use error::{Error, Result};
pub use index::build::WaitFor;
pub use index::{IndexInfo, IndexIterator, IndexRange, IndexValue};
pub use iter::{DbIterator, IterOptions, PageEnd};
pub use options::{CompactionStyle, Compression, Options};

//! Secondary indexes: entries ordered by one JSON field of the values under a key prefix,
//! kept in step with every write by the commit leader (see [`maintain`]), built in the
//! background for existing data, queried at a snapshot (docs/design.md "Secondary indexes").
//!
//! - [`value`]: the indexed scalars and their order-preserving encoding.
//! - [`catalog`]: definitions (metadata keyspace) and entry keys (index keyspace).
//! - [`maintain`]: the index operations a batch implies.
//! - [`build`]: the background worker that builds and drops indexes.
//! - [`query`]: iterators and counts over an index; the consistency check `verify` runs.

pub mod build;
pub mod catalog;
pub mod maintain;
pub mod query;
pub mod value;

use std::collections::HashMap;

pub use catalog::{IndexDef, IndexState};
pub use query::{IndexIterator, IndexRange};
pub use value::IndexValue;

/// The index worker's state, shared with waiters.
#[derive(Debug, Default)]
pub struct IndexWork {
    /// A worker thread is running for this database.
    pub running: bool,
    /// Keys indexed by the builds since open, by index name.
    pub keys_indexed: HashMap<String, u64>,
    /// Why the last build or drop stopped, if it failed.
    pub failure: Option<String>,
}

/// What `indexes()` reports about one index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexInfo {
    /// Its name.
    pub name: String,
    /// The key prefix it covers.
    pub prefix: Vec<u8>,
    /// The dotted field path.
    pub field: String,
    /// `"building"` or `"ready"` (dropping indexes are not listed).
    pub state: &'static str,
    /// Keys the build has indexed since open (0 for a ready index built earlier).
    pub keys_indexed: u64,
}

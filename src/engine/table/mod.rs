//! The BDB sorted-table format (docs/format.md "Table files (.sst)"): header, data blocks,
//! filter block, index block, footer. Tables are immutable once written.

pub mod block;
pub mod builder;
pub mod compress;
pub mod expiry;
pub mod filter;
pub mod format;
pub mod reader;

pub use builder::{TableBuilder, TableMeta};
pub use expiry::ExpiryProfile;
pub use reader::Table;

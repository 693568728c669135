//! Keeping a long-lived database healthy: `verify` (check every byte), `repair` (rebuild from
//! what is intact), `backup`/`restore` (online, incremental, checksummed), and
//! `export`/`import` (NDJSON and single-file BDB). Built on the same table, WAL and MANIFEST
//! code as the engine; none of it trusts a byte it has not checked.

pub mod backup;
pub mod check;
pub mod exchange;
pub mod repair;
pub mod verify;

pub use backup::{backup, restore, BackupReport};
pub use check::{Problem, ProblemKind};
pub use exchange::{export, import, ExchangeFormat, ExchangeReport};
pub use repair::{repair, RepairReport};
pub use verify::{verify, VerifyReport};

//! The engine's one error type. Each variant maps 1:1 to a stable JS `code`
//! (see `code()`); `src/node/error.rs` is the only place that turns them into JS errors.

use std::path::PathBuf;

/// Every way an engine call can fail.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Bytes read back from disk do not match their checksum or format. Never returned as data.
    #[error("corruption in {file} at offset {offset}: {what}")]
    Corruption {
        /// The file holding the damaged bytes.
        file: String,
        /// Byte offset of the damaged record, block or header.
        offset: u64,
        /// What was wrong.
        what: String,
    },
    /// An operating-system I/O call failed.
    #[error("I/O error while {context}: {source}")]
    Io {
        /// What the engine was doing.
        context: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A write or fsync failed earlier, so the engine can no longer promise durability.
    /// Writes are refused until the database is closed and reopened (recovery reads the disk
    /// again). A failed fsync must not be retried: the kernel may have dropped the dirty pages
    /// (Rebello et al., "Can Applications Recover from fsync Failures?", USENIX ATC '20).
    #[error(
        "database is poisoned by an earlier I/O failure and refuses writes (close and reopen to recover): {cause}"
    )]
    Poisoned {
        /// The first failure.
        cause: String,
        /// Whether that failure was a full disk (ENOSPC, or a quota): JS sees
        /// `BROWSERDB_FULL`, which the user can act on by freeing space.
        disk_full: bool,
    },
    /// Another owner (this process or another) holds the database's `LOCK`.
    #[error("database at {} is locked by another owner", path.display())]
    Locked {
        /// The database directory.
        path: PathBuf,
    },
    /// The database was closed.
    #[error("database is closed")]
    Closed,
    /// The caller passed something out of range or of the wrong shape.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `createIfMissing: false` and no database exists at the location.
    #[error("no database at {}", .0.display())]
    NotFound(PathBuf),
    /// `errorIfExists: true` and a database already exists at the location.
    #[error("a database already exists at {}", .0.display())]
    Exists(PathBuf),
    /// The directory is not empty and holds no browserdb database; nothing was changed.
    #[error("{} is not a browserdb database (the directory is not empty and has no MANIFEST)", .0.display())]
    NotADatabase(PathBuf),
    /// The write would take an in-memory database past its `maxMemory`; nothing was written.
    #[error("the database would exceed its memory limit of {limit_bytes} bytes ({used_bytes} used, {wanted_bytes} more wanted)")]
    Full {
        /// The limit.
        limit_bytes: u64,
        /// Bytes in use before the write.
        used_bytes: u64,
        /// Bytes the write needed.
        wanted_bytes: u64,
    },
    /// A bug: a panic was caught or an internal invariant failed.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The engine's result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The stable code JS sees as `err.code`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        if self.is_disk_full() {
            return "BROWSERDB_FULL";
        }
        match self {
            Self::Corruption { .. } => "BROWSERDB_CORRUPTION",
            Self::Io { .. } | Self::Poisoned { .. } => "BROWSERDB_IO",
            Self::Locked { .. } => "BROWSERDB_LOCKED",
            Self::Closed => "BROWSERDB_CLOSED",
            Self::InvalidArgument(_) => "BROWSERDB_INVALID_ARGUMENT",
            Self::NotFound(_) => "BROWSERDB_NOT_FOUND",
            Self::Exists(_) => "BROWSERDB_EXISTS",
            Self::NotADatabase(_) => "BROWSERDB_NOT_A_DATABASE",
            Self::Full { .. } => "BROWSERDB_FULL",
            Self::Internal(_) => "BROWSERDB_INTERNAL",
        }
    }

    /// Whether the failure is (or was caused by) a full disk or an exhausted quota.
    #[must_use]
    pub fn is_disk_full(&self) -> bool {
        /// `ENOSPC` and `EDQUOT` on Linux.
        const DISK_FULL_OS_ERRORS: [i32; 2] = [28, 122];
        match self {
            Self::Io { source, .. } => {
                matches!(source.kind(), std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded)
                    || source.raw_os_error().is_some_and(|code| DISK_FULL_OS_ERRORS.contains(&code))
            }
            Self::Poisoned { disk_full, .. } => *disk_full,
            _ => false,
        }
    }

    /// Wraps an OS error with what the engine was doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io { context: context.into(), source }
    }

    /// A corruption error naming the file and offset.
    pub fn corruption(file: impl Into<String>, offset: u64, what: impl Into<String>) -> Self {
        Self::Corruption { file: file.into(), offset, what: what.into() }
    }
}

/// Attaches a context to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    /// Maps an I/O error into `Error::Io` with the given context.
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, context: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(context(), e))
    }
}

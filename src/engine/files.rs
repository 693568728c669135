//! File names in a database directory (docs/format.md "Directory"): `NNNNNN.wal`,
//! `NNNNNN.sst`, `MANIFEST`, `MANIFEST.tmp`, `LOCK`.

use std::path::{Path, PathBuf};

use super::storage::Storage;

/// The lock file's name.
pub const LOCK_FILE_NAME: &str = "LOCK";

/// Kinds of numbered files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A write-ahead log.
    Wal,
    /// A sorted table.
    Table,
}

impl FileKind {
    const fn extension(self) -> &'static str {
        match self {
            Self::Wal => "wal",
            Self::Table => "sst",
        }
    }
}

/// `dir/NNNNNN.ext`.
#[must_use]
pub fn path(dir: &Path, number: u64, kind: FileKind) -> PathBuf {
    dir.join(format!("{number:06}.{}", kind.extension()))
}

/// Parses `NNNNNN.wal` / `NNNNNN.sst`.
#[must_use]
pub fn parse(name: &str) -> Option<(u64, FileKind)> {
    let (stem, ext) = name.split_once('.')?;
    if stem.is_empty() || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let kind = match ext {
        "wal" => FileKind::Wal,
        "sst" => FileKind::Table,
        _ => return None,
    };
    Some((stem.parse().ok()?, kind))
}

/// Removes WALs numbered below `log_number` (already flushed). Best effort: a leftover is
/// ignored at the next open and removed then.
pub fn remove_obsolete_wals(storage: &dyn Storage, dir: &Path, log_number: u64) {
    let Ok(names) = storage.list_dir(dir) else {
        return;
    };
    for name in names {
        if let Some((number, FileKind::Wal)) = parse(&name) {
            if number < log_number {
                let _ = storage.remove(&dir.join(&name));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let p = path(Path::new("/d"), 7, FileKind::Wal);
        assert_eq!(p, Path::new("/d/000007.wal"));
        assert_eq!(parse("000007.wal"), Some((7, FileKind::Wal)));
        assert_eq!(parse("1234567.sst"), Some((1_234_567, FileKind::Table)));
        assert_eq!(parse("x.sst"), None);
        assert_eq!(parse("000007.txt"), None);
    }
}

//! Opening a database: directory checks, the lock, the MANIFEST, tables, WAL replay
//! (docs/design.md "Recovery").

use std::path::Path;
use std::sync::Arc;

use super::cache::BlockCache;
use super::db::{wal_room, Db, Recovered, MANIFEST_FILES};
use super::error::{Error, IoContext, Result};
use super::files::{self, FileKind, LOCK_FILE_NAME};
use super::heatmap::HeatMap;
use super::manifest::{Manifest, FILE_NUMBER_MAX};
use super::memtable::Memtable;
use super::options::Options;
use super::storage::Storage;
use super::table::Table;
use super::version::{FilterBudget, FilterShape, LiveTable};
use super::wal::{self, TornTail, WalWriter};

/// First file number of a new database.
const FIRST_FILE_NUMBER: u64 = 1;

/// Whether every name belongs to a database directory that has no MANIFEST yet (a crash
/// while creating it leaves at most these).
fn only_creation_leftovers(names: &[String]) -> bool {
    names.iter().all(|n| n == LOCK_FILE_NAME || MANIFEST_FILES.contains(&n.as_str()))
}

fn list(storage: &dyn Storage, dir: &Path) -> Result<Option<Vec<String>>> {
    match storage.list_dir(dir) {
        Ok(names) => Ok(Some(names)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(format!("listing {}", dir.display()), e)),
    }
}

/// Opens or creates the database in `dir`.
pub fn open(dir: &Path, options: Options, storage: Arc<dyn Storage>) -> Result<Db> {
    // Look before touching anything, so a foreign directory is left exactly as it was.
    let names = list(storage.as_ref(), dir)?;
    let has_manifest = names.as_ref().is_some_and(|n| n.iter().any(|n| n == MANIFEST_FILES[0]));
    if !has_manifest {
        if names.as_ref().is_some_and(|n| !only_creation_leftovers(n)) {
            return Err(Error::NotADatabase(dir.to_path_buf()));
        }
        if !options.create_if_missing || options.read_only {
            return Err(Error::NotFound(dir.to_path_buf()));
        }
        storage.create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
        // The new directory's entry must survive a power loss, or so would nothing in it.
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            storage.sync_dir(parent).ctx(|| format!("syncing {}", parent.display()))?;
        }
    } else if options.error_if_exists {
        return Err(Error::Exists(dir.to_path_buf()));
    }
    let lock = storage
        .lock(&dir.join(LOCK_FILE_NAME))
        .ctx(|| format!("locking {}", dir.display()))?
        .ok_or_else(|| Error::Locked { path: dir.to_path_buf() })?;
    let manifest = match Manifest::load(storage.as_ref(), dir)? {
        Some(m) => m,
        None => {
            let m = Manifest {
                next_file_number: FIRST_FILE_NUMBER + 1,
                last_sequence: 0,
                log_number: FIRST_FILE_NUMBER,
                tables: Vec::new(),
            };
            m.store(storage.as_ref(), dir)?;
            m
        }
    };
    let names = storage.list_dir(dir).ctx(|| format!("listing {}", dir.display()))?;
    let heat = Arc::new(HeatMap::new(options.cache_size_bytes));
    let tables = open_tables(&storage, dir, &manifest, heat.blocks(), FilterBudget::of(&options))?;
    let mut wals: Vec<u64> = names
        .iter()
        .filter_map(|n| files::parse(n))
        .filter(|&(number, kind)| kind == FileKind::Wal && number >= manifest.log_number)
        .map(|(number, _)| number)
        .collect();
    wals.sort_unstable();
    let max_number = names.iter().filter_map(|n| files::parse(n)).map(|(n, _)| n).max().unwrap_or(0);
    // No writer gets there; such a name would make file numbers wrap and be reused.
    if max_number > FILE_NUMBER_MAX {
        let name = names.iter().find(|n| files::parse(n).is_some_and(|(n, _)| n == max_number)).cloned();
        let path = dir.join(name.unwrap_or_default());
        return Err(Error::corruption(path.display().to_string(), 0, "file number out of range"));
    }
    let mut next_file_number = manifest.next_file_number.max(max_number + 1);

    let mem = Memtable::new();
    let mut last_seq = manifest.last_sequence;
    for (i, &number) in wals.iter().enumerate() {
        let path = files::path(dir, number, FileKind::Wal);
        let is_newest = i + 1 == wals.len();
        let torn = if options.read_only { TornTail::Keep } else { TornTail::Truncate };
        let summary = wal::replay(storage.as_ref(), &path, number, is_newest, last_seq + 1, torn, |first_seq, ops| {
            mem.apply(first_seq, ops, u64::MAX);
        })?;
        last_seq = last_seq.max(summary.last_seq);
    }
    // Read-only: nothing is created or removed; the active memtable keeps the newest WAL's
    // number and there is no WAL to append to.
    let (wal, wal_number) = if options.read_only {
        (None, wals.last().copied().unwrap_or(manifest.log_number))
    } else {
        let wal = open_live_wal(storage.as_ref(), dir, &options, wals.last().copied(), &mut next_file_number)?;
        remove_obsolete(storage.as_ref(), dir, &names, &manifest);
        let number = wal.number();
        (Some(wal), number)
    };
    Ok(Db::from_recovered(Recovered {
        dir: dir.to_path_buf(),
        storage,
        options,
        lock,
        heat,
        manifest,
        tables,
        mem,
        wal,
        wal_number,
        last_seq,
        next_file_number,
    }))
}

/// The WAL new writes append to: the newest one, or a new one when there is none.
fn open_live_wal(
    storage: &dyn Storage,
    dir: &Path,
    options: &Options,
    newest: Option<u64>,
    next_file_number: &mut u64,
) -> Result<WalWriter> {
    let (reserve, window) = wal_room(options);
    if let Some(number) = newest {
        let path = files::path(dir, number, FileKind::Wal);
        let file = storage.open_log(&path, true, reserve, window).ctx(|| format!("opening WAL {number:06}"))?;
        return Ok(WalWriter::new(file, number));
    }
    let number = *next_file_number;
    *next_file_number += 1;
    let path = files::path(dir, number, FileKind::Wal);
    let file = storage.open_log(&path, false, reserve, window).ctx(|| format!("creating WAL {number:06}"))?;
    storage.sync_dir(dir).ctx(|| "syncing the database directory".into())?;
    Ok(WalWriter::new(file, number))
}

fn open_tables(
    storage: &Arc<dyn Storage>,
    dir: &Path,
    manifest: &Manifest,
    cache: &Arc<BlockCache>,
    filter_budget: FilterBudget,
) -> Result<Vec<Arc<LiveTable>>> {
    let shape = FilterShape::of(&manifest.tables);
    manifest
        .tables
        .iter()
        .map(|meta| {
            let path = files::path(dir, meta.number, FileKind::Table);
            let load_filter = filter_budget.wants_filter(meta.level, shape);
            match Table::open(storage.as_ref(), &path, meta.number, Arc::clone(cache), load_filter) {
                Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                    Err(Error::corruption(path.display().to_string(), 0, "table listed in MANIFEST is missing"))
                }
                Err(e) => Err(e),
                Ok(table) => {
                    Ok(Arc::new(LiveTable::new(table, meta.clone(), Arc::clone(storage), path, Arc::clone(cache))))
                }
            }
        })
        .collect()
}

/// Deletes files no MANIFEST or live WAL refers to: flushed WALs, tables of an unfinished
/// flush, a leftover MANIFEST.tmp. Best effort.
fn remove_obsolete(storage: &dyn Storage, dir: &Path, names: &[String], manifest: &Manifest) {
    for name in names {
        let obsolete = match files::parse(name) {
            Some((number, FileKind::Wal)) => number < manifest.log_number,
            Some((number, FileKind::Table)) => !manifest.tables.iter().any(|t| t.number == number),
            None => {
                name == MANIFEST_FILES[1]
                    || (name.starts_with(super::maintenance::exchange::IMPORT_RUN_PREFIX) && name.ends_with(".tmp"))
            }
        };
        if obsolete {
            let _ = storage.remove(&dir.join(name));
        }
    }
}

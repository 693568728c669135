//! `verify`: reads every byte of every live table, the MANIFEST and the WALs of an open
//! database and reports what is wrong, while reads and writes go on (the tables are pinned by
//! a [`FileView`], so compaction cannot delete them under the check).

use super::check::{check_table, Problem, ProblemKind};
use crate::engine::db::{Db, FileView};
use crate::engine::error::Result;
use crate::engine::files::{self, FileKind};
use crate::engine::manifest::{self, Manifest};
use crate::engine::wal;

/// What `verify` found.
#[derive(Debug, Default, Clone)]
pub struct VerifyReport {
    /// Tables checked.
    pub tables: u64,
    /// Entries in the tables (every version and tombstone).
    pub entries: u64,
    /// Bytes read: tables, MANIFEST and WALs.
    pub bytes: u64,
    /// WAL records checked.
    pub wal_records: u64,
    /// Everything wrong; empty when the database is sound.
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Progress of a long check: bytes done of bytes in all.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// Checks the whole database. `progress(done_bytes, total_bytes)` is called as it goes.
pub fn verify(db: &Db, progress: Progress<'_>) -> Result<VerifyReport> {
    let view = db.file_view()?;
    let wals = live_wals(db, &view.manifest)?;
    let total: u64 = view.levels.all().map(|t| t.meta.file_size).sum::<u64>()
        + view.manifest_bytes.as_ref().map_or(0, |b| b.len() as u64)
        + wals.iter().map(|(_, bytes)| bytes.len() as u64).sum::<u64>();
    let mut report = VerifyReport::default();
    let mut done = 0u64;
    check_manifest(&view, &mut report);
    done += report.bytes;
    progress(done, total);
    for table in view.levels.all() {
        let meta = &table.meta;
        let name = format!("{:06}.sst", meta.number);
        let path = files::path(db.location(), meta.number, FileKind::Table);
        let checked = check_table(db.storage().as_ref(), &path, &name, &mut |_| Ok(()), &mut |n| {
            done += n;
            progress(done, total);
        })?;
        report.tables += 1;
        report.entries += checked.entries;
        report.bytes += checked.bytes;
        let clean = checked.problems.is_empty();
        report.problems.extend(checked.problems);
        let agrees = checked.bytes == meta.file_size
            && checked.entries == meta.entry_count
            && checked.smallest == meta.smallest
            && checked.largest == meta.largest
            && checked.max_seq == meta.max_seq;
        if clean && !agrees {
            report.problems.push(Problem::new(
                &name,
                0,
                ProblemKind::Mismatch,
                "the MANIFEST's record of the table (size, entries or key range) differs from the file",
            ));
        }
    }
    for (i, (number, bytes)) in wals.iter().enumerate() {
        let is_newest = i + 1 == wals.len();
        let scanned = wal::scan(bytes, *number, is_newest, 0, |_, _| {});
        report.wal_records += scanned.records;
        report.bytes += bytes.len() as u64;
        done += bytes.len() as u64;
        progress(done, total);
        // A torn tail of the newest WAL is a write in progress (or the last one before a
        // crash, which recovery removes), not damage.
        if let Some(stop) = scanned.stop.filter(|s| !s.torn) {
            report.problems.push(Problem::new(
                &format!("{number:06}.wal"),
                stop.offset,
                ProblemKind::Checksum,
                stop.what,
            ));
        }
    }
    // Indexes are checked by reading through the engine, which trusts the files: only when
    // the files are sound (damage is reported above, not as index mismatches).
    if report.problems.is_empty() {
        check_indexes(db, &mut report);
    }
    Ok(report)
}

/// Every ready index holds exactly the entries its data implies.
fn check_indexes(db: &Db, report: &mut VerifyReport) {
    match db.check_indexes() {
        Ok(mismatches) => report.problems.extend(
            mismatches
                .into_iter()
                .map(|(name, what)| Problem::new(&format!("index {name}"), 0, ProblemKind::Index, what)),
        ),
        Err(e) => report.problems.push(Problem::new("indexes", 0, ProblemKind::Index, e.to_string())),
    }
}

/// The MANIFEST decodes, its checksum holds, and it names exactly the live tables.
fn check_manifest(view: &FileView, report: &mut VerifyReport) {
    let name = manifest::FILE_NAME;
    let bytes = match &view.manifest_bytes {
        Ok(b) => b,
        Err(e) => {
            report.problems.push(Problem::new(name, 0, ProblemKind::Io, format!("cannot read: {e}")));
            return;
        }
    };
    report.bytes += bytes.len() as u64;
    match Manifest::decode(bytes) {
        Err((offset, what)) => report.problems.push(Problem::new(name, offset, ProblemKind::Checksum, what)),
        Ok(on_disk) if on_disk != view.manifest => {
            report.problems.push(Problem::new(
                name,
                0,
                ProblemKind::Mismatch,
                "the MANIFEST on disk is not the one last written",
            ));
        }
        Ok(on_disk) if on_disk.tables != view.levels.metas() => {
            report.problems.push(Problem::new(
                name,
                0,
                ProblemKind::Mismatch,
                "the MANIFEST does not name the live tables",
            ));
        }
        Ok(_) => {}
    }
}

/// The live WALs (numbered from the MANIFEST's log number) with their bytes, oldest first.
/// A WAL removed while we list (a flush finished) is simply skipped.
fn live_wals(db: &Db, manifest: &Manifest) -> Result<Vec<(u64, Vec<u8>)>> {
    let storage = db.storage();
    let names =
        storage.list_dir(db.location()).map_err(|e| crate::engine::Error::io("listing the database directory", e))?;
    let mut numbers: Vec<u64> = names
        .iter()
        .filter_map(|n| files::parse(n))
        .filter(|&(number, kind)| kind == FileKind::Wal && number >= manifest.log_number)
        .map(|(number, _)| number)
        .collect();
    numbers.sort_unstable();
    let mut wals = Vec::new();
    for number in numbers {
        match storage.read_all(&files::path(db.location(), number, FileKind::Wal)) {
            Ok(bytes) => wals.push((number, bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(crate::engine::Error::io(format!("reading WAL {number:06}"), e)),
        }
    }
    Ok(wals)
}

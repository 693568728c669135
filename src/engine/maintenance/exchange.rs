//! `export` and `import` (docs/format.md "Export files").
//!
//! - **NDJSON**: one `{"key":…,"value":…}` object per line, in key order. A key or value
//!   that is valid UTF-8 is written as a JSON string; anything else as standard base64 with
//!   `"keyEncoding":"base64"` / `"valueEncoding":"base64"` beside it. An expiring entry adds
//!   `"expires":<unix ms>`.
//! - **BDB**: one file in the table format (docs/format.md "Table files") with `file_kind` 2
//!   (export), table number 0, stored keys, and the SHA-256 footer.
//!
//! Export writes a snapshot to a temporary name, fsyncs and renames it into place. Import
//! reads the whole file and checks every line or byte before it writes anything, then adds
//! all entries in one atomic step (`Db::ingest`: one table, one MANIFEST swap); in NDJSON the
//! last line for a key wins. Unsorted NDJSON is sorted in runs of at most
//! `SORT_RUN_BYTES`, spilled to temporary tables and merged, so memory stays bounded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;

use super::check::check_table;
use crate::engine::cache::BlockCache;
use crate::engine::db::Db;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::iter::{IterOptions, PageEnd, TableMerge};
use crate::engine::key::{Keyspace, Kind, KEY_SIZE_BYTES_MAX, VALUE_SIZE_BYTES_MAX};
use crate::engine::storage::{ReadableFile, Storage, WritableFile};
use crate::engine::table::format::{FILE_KIND_EXPORT, MAGIC};
use crate::engine::table::{Table, TableBuilder, TableMeta};
use crate::engine::version::LiveTable;

/// Bytes buffered before one write of an export.
const WRITE_CHUNK_BYTES: usize = 1024 * 1024;
/// Bytes read per call while reading NDJSON.
const READ_CHUNK_BYTES: usize = 1024 * 1024;
/// Longest NDJSON line accepted: a maximum value in base64 plus a maximum key and framing.
const LINE_BYTES_MAX: usize = VALUE_SIZE_BYTES_MAX / 3 * 4 + 8 + KEY_SIZE_BYTES_MAX * 2 + 1024;
/// Bytes of entries sorted in memory before a run is spilled to a temporary table.
const SORT_RUN_BYTES: usize = 32 * 1024 * 1024;
/// Entries between two progress reports.
const PROGRESS_EVERY_ENTRIES: u64 = 10_000;
/// Per-entry bookkeeping counted against `SORT_RUN_BYTES`.
const SORT_ENTRY_OVERHEAD_BYTES: usize = 64;

/// File formats of `export` and `import`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExchangeFormat {
    /// Newline-delimited JSON.
    Ndjson,
    /// One file in the BDB table format.
    Bdb,
}

impl ExchangeFormat {
    /// Parses `'ndjson'` / `'bdb'`.
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "ndjson" => Ok(Self::Ndjson),
            "bdb" => Ok(Self::Bdb),
            other => Err(Error::InvalidArgument(format!("format must be 'ndjson' or 'bdb', got '{other}'"))),
        }
    }
}

/// What an export or import moved.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ExchangeReport {
    /// Entries written (export) or added (import).
    pub entries: u64,
    /// Bytes of the file.
    pub bytes: u64,
}

/// One entry on its way into the database: stored key, value, expiry (0 for none).
type Entry = (Vec<u8>, Vec<u8>, u64);

// ---------------------------------------------------------------------------------------------
// Export.

/// Writes every live entry of `db` (one snapshot) to `path` on `dest`.
pub fn export(
    db: &Db,
    dest: &dyn Storage,
    path: &Path,
    format: ExchangeFormat,
    progress: &mut dyn FnMut(u64),
) -> Result<ExchangeReport> {
    let temp = temp_path(path);
    let file = dest.create(&temp).ctx(|| format!("creating {}", temp.display()))?;
    let result = match format {
        ExchangeFormat::Ndjson => export_ndjson(db, file, progress),
        ExchangeFormat::Bdb => export_bdb(db, file, progress),
    };
    let entries = match result {
        Ok(n) => n,
        Err(e) => {
            let _ = dest.remove(&temp);
            return Err(e);
        }
    };
    dest.rename(&temp, path).ctx(|| format!("renaming {}", temp.display()))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        dest.sync_dir(parent).ctx(|| format!("syncing {}", parent.display()))?;
    }
    let bytes = dest.open_read(path).map(|f| f.len_bytes()).unwrap_or(0);
    Ok(ExchangeReport { entries, bytes })
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".tmp");
    path.with_file_name(name)
}

/// Walks a snapshot of `db` page by page: `f(user_key, value, expiry_ms)`.
fn for_each_live(db: &Db, mut f: impl FnMut(&[u8], &[u8], u64) -> Result<()>) -> Result<()> {
    let mut iter = db.iter(IterOptions::default(), None)?;
    loop {
        let mut failed = None;
        let end = iter.next_page_with_expiry(usize::MAX, WRITE_CHUNK_BYTES, false, |k, v, e| {
            if failed.is_none() {
                failed = f(k, v, e).err();
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
        if end == PageEnd::Exhausted {
            return Ok(());
        }
    }
}

fn json_field(out: &mut Vec<u8>, name: &str, bytes: &[u8]) {
    out.extend_from_slice(b"\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
    match std::str::from_utf8(bytes) {
        Ok(text) => {
            let quoted = serde_json::to_string(text).unwrap_or_default();
            out.extend_from_slice(quoted.as_bytes());
        }
        Err(_) => {
            out.push(b'"');
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(bytes).as_bytes());
            out.extend_from_slice(b"\",\"");
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"Encoding\":\"base64\"");
        }
    }
}

fn export_ndjson(db: &Db, mut file: Box<dyn WritableFile>, progress: &mut dyn FnMut(u64)) -> Result<u64> {
    let mut out = Vec::with_capacity(WRITE_CHUNK_BYTES * 2);
    let mut entries = 0u64;
    for_each_live(db, |key, value, expiry_ms| {
        out.push(b'{');
        json_field(&mut out, "key", key);
        out.push(b',');
        json_field(&mut out, "value", value);
        if expiry_ms != 0 {
            out.extend_from_slice(format!(",\"expires\":{expiry_ms}").as_bytes());
        }
        out.extend_from_slice(b"}\n");
        entries += 1;
        if out.len() >= WRITE_CHUNK_BYTES {
            file.append(&out).ctx(|| "writing the export".into())?;
            out.clear();
            progress(entries);
        }
        Ok(())
    })?;
    file.append(&out).ctx(|| "writing the export".into())?;
    file.sync_data().ctx(|| "syncing the export".into())?;
    progress(entries);
    Ok(entries)
}

fn export_bdb(db: &Db, file: Box<dyn WritableFile>, progress: &mut dyn FnMut(u64)) -> Result<u64> {
    let options = db.options();
    let mut builder = TableBuilder::new_export(file, options.compression, options.block_size_bytes);
    let mut entries = 0u64;
    let mut stored = Vec::new();
    for_each_live(db, |key, value, expiry_ms| {
        stored.clear();
        stored.push(Keyspace::User as u8);
        stored.extend_from_slice(key);
        let kind = if expiry_ms == 0 { Kind::Put } else { Kind::PutWithExpiry };
        entries += 1;
        if entries.is_multiple_of(PROGRESS_EVERY_ENTRIES) {
            progress(entries);
        }
        builder.add(&stored, 0, kind, expiry_ms, value)
    })?;
    builder.finish()?;
    progress(entries);
    Ok(entries)
}

// ---------------------------------------------------------------------------------------------
// Import.

/// Adds every entry of the file at `path` (on `source`) to `db`, atomically, after checking
/// all of it. `format` `None` tells the formats apart by the BDB magic.
pub fn import(
    db: &Db,
    source: &dyn Storage,
    path: &Path,
    format: Option<ExchangeFormat>,
    progress: &mut dyn FnMut(u64),
) -> Result<ExchangeReport> {
    let file = source.open_read(path).ctx(|| format!("opening {}", path.display()))?;
    let bytes = file.len_bytes();
    let format = match format {
        Some(f) => f,
        None => {
            let mut magic = [0u8; 9];
            let is_bdb = file.read_exact_at(&mut magic, 0).is_ok() && &magic == MAGIC;
            if is_bdb {
                ExchangeFormat::Bdb
            } else {
                ExchangeFormat::Ndjson
            }
        }
    };
    let entries = match format {
        ExchangeFormat::Bdb => import_bdb(db, source, path, progress)?,
        ExchangeFormat::Ndjson => import_ndjson(db, file.as_ref(), path, progress)?,
    };
    Ok(ExchangeReport { entries, bytes })
}

fn import_bdb(db: &Db, source: &dyn Storage, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<u64> {
    let name = path.display().to_string();
    let mut bad_entry: Option<&'static str> = None;
    let mut previous_key: Vec<u8> = Vec::new();
    let checked = check_table(
        source,
        path,
        &name,
        &mut |e| {
            if bad_entry.is_none() {
                bad_entry = entry_problem(e.key, e.kind, e.value.len());
            }
            // An export holds each key once; a second version (same key, older sequence)
            // would reach the ingested table out of internal-key order.
            if bad_entry.is_none() && e.key == previous_key.as_slice() {
                bad_entry = Some("export holds the same key twice");
            }
            previous_key.clear();
            previous_key.extend_from_slice(e.key);
            Ok(())
        },
        &mut |_| {},
    )?;
    if let Some(p) = checked.problems.first() {
        return Err(Error::corruption(&p.file, p.offset, p.message.clone()));
    }
    if checked.header.as_ref().map(|h| h.file_kind) != Some(FILE_KIND_EXPORT) {
        return Err(Error::InvalidArgument(format!("{name} is a BDB file but not an export")));
    }
    if let Some(what) = bad_entry {
        return Err(Error::corruption(name, 0, what));
    }
    if !checked.range_deletes.is_empty() {
        return Err(Error::corruption(name, 0, "export file holds range deletes"));
    }
    db.ingest(|add| {
        let mut entries = 0u64;
        let second = check_table(
            source,
            path,
            &name,
            &mut |e| {
                entries += 1;
                if entries.is_multiple_of(PROGRESS_EVERY_ENTRIES) {
                    progress(entries);
                }
                add(e.key, e.kind, e.expiry_ms, e.value)
            },
            &mut |_| {},
        )?;
        progress(entries);
        // The file changed between the check and the copy: refuse (the ingest is undone).
        match second.problems.first() {
            Some(p) => Err(Error::corruption(&p.file, p.offset, p.message.clone())),
            None => Ok(()),
        }
    })
}

/// Why an entry of an export file cannot be imported, if it cannot.
fn entry_problem(stored_key: &[u8], kind: Kind, value_len: usize) -> Option<&'static str> {
    if stored_key.first() != Some(&(Keyspace::User as u8)) {
        return Some("export entry outside the user keyspace");
    }
    if stored_key.len() < 2 || stored_key.len() - 1 > KEY_SIZE_BYTES_MAX {
        return Some("export entry with an empty or oversized key");
    }
    if !matches!(kind, Kind::Put | Kind::PutWithExpiry) || value_len > VALUE_SIZE_BYTES_MAX {
        return Some("export entry is not a value of an allowed size");
    }
    None
}

/// Reads a file line by line (bounded line length) through positional reads.
struct Lines<'a> {
    file: &'a dyn ReadableFile,
    offset: u64,
    buf: Vec<u8>,
    start: usize,
}

impl<'a> Lines<'a> {
    fn new(file: &'a dyn ReadableFile) -> Self {
        Self { file, offset: 0, buf: Vec::new(), start: 0 }
    }

    /// The next line (without its newline) and the file offset where it starts.
    fn next_line(&mut self, name: &str) -> Result<Option<(u64, Vec<u8>)>> {
        loop {
            let pending = self.buf.get(self.start..).unwrap_or_default();
            let line_offset = self.offset - pending.len() as u64;
            if let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line = pending.get(..end).unwrap_or_default().to_vec();
                self.start += end + 1;
                return Ok(Some((line_offset, line)));
            }
            if pending.len() > LINE_BYTES_MAX {
                return Err(Error::corruption(name, line_offset, "line longer than any valid entry"));
            }
            let len = self.file.len_bytes();
            if self.offset >= len {
                if pending.is_empty() {
                    return Ok(None);
                }
                let line = pending.to_vec();
                self.start = self.buf.len();
                return Ok(Some((line_offset, line)));
            }
            self.buf.drain(..self.start);
            self.start = 0;
            let n = usize::try_from(len - self.offset).unwrap_or(usize::MAX).min(READ_CHUNK_BYTES);
            let at = self.buf.len();
            self.buf.resize(at + n, 0);
            let chunk = self.buf.get_mut(at..).unwrap_or_default();
            self.file.read_exact_at(chunk, self.offset).ctx(|| format!("reading {name}"))?;
            self.offset += n as u64;
        }
    }
}

/// Decodes one field's bytes: a JSON string, as UTF-8 or (with `<name>Encoding: base64`)
/// as base64.
fn field_bytes(object: &serde_json::Map<String, serde_json::Value>, name: &str) -> Result<Vec<u8>, String> {
    let text =
        object.get(name).and_then(serde_json::Value::as_str).ok_or_else(|| format!("\"{name}\" must be a string"))?;
    match object.get(&format!("{name}Encoding")).map(|v| v.as_str()) {
        None | Some(Some("utf8")) => Ok(text.as_bytes().to_vec()),
        Some(Some("base64")) => {
            base64::engine::general_purpose::STANDARD.decode(text).map_err(|e| format!("\"{name}\" is not base64: {e}"))
        }
        Some(_) => Err(format!("\"{name}Encoding\" must be \"utf8\" or \"base64\"")),
    }
}

/// Parses one NDJSON line into a stored key, value and expiry.
fn parse_line(line: &[u8]) -> Result<Entry, String> {
    let value: serde_json::Value = serde_json::from_slice(line).map_err(|e| format!("not JSON: {e}"))?;
    let object = value.as_object().ok_or("not a JSON object")?;
    let key = field_bytes(object, "key")?;
    let data = field_bytes(object, "value")?;
    let expires = match object.get("expires") {
        None | Some(serde_json::Value::Null) => 0,
        Some(v) => v.as_u64().filter(|&ms| ms > 0).ok_or("\"expires\" must be a positive integer (unix ms)")?,
    };
    if key.is_empty() || key.len() > KEY_SIZE_BYTES_MAX {
        return Err(format!("key must be 1 to {KEY_SIZE_BYTES_MAX} bytes, got {}", key.len()));
    }
    if data.len() > VALUE_SIZE_BYTES_MAX {
        return Err(format!("value larger than {VALUE_SIZE_BYTES_MAX} bytes"));
    }
    let mut stored = Vec::with_capacity(key.len() + 1);
    stored.push(Keyspace::User as u8);
    stored.extend_from_slice(&key);
    Ok((stored, data, expires))
}

/// Calls `f` for every non-blank line's entry, or fails on the first bad line.
fn for_each_line(file: &dyn ReadableFile, name: &str, mut f: impl FnMut(Entry) -> Result<()>) -> Result<u64> {
    let mut lines = Lines::new(file);
    let mut count = 0u64;
    while let Some((offset, line)) = lines.next_line(name)? {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let entry =
            parse_line(&line).map_err(|what| Error::corruption(name, offset, format!("line {}: {what}", count + 1)))?;
        count += 1;
        f(entry)?;
    }
    Ok(count)
}

fn import_ndjson(db: &Db, file: &dyn ReadableFile, path: &Path, progress: &mut dyn FnMut(u64)) -> Result<u64> {
    let name = path.display().to_string();
    // Pass 1: every line must parse before anything is written.
    for_each_line(file, &name, |_| Ok(()))?;
    // Pass 2: sort in bounded runs (line number as the sequence, so the last line wins).
    let mut sorter = RunSorter::new(db);
    let mut line = 0u64;
    for_each_line(file, &name, |entry| {
        line += 1;
        sorter.push(entry, line)
    })?;
    let runs = sorter.finish()?;
    let mut merge = TableMerge::new(&runs, Vec::new());
    db.ingest(|add| {
        let mut last: Vec<u8> = Vec::new();
        let mut added = 0u64;
        loop {
            let step = merge.next_entry(|e| -> Result<()> {
                if added > 0 && e.key == last.as_slice() {
                    return Ok(()); // an older line for the same key
                }
                last.clear();
                last.extend_from_slice(e.key);
                added += 1;
                if added.is_multiple_of(PROGRESS_EVERY_ENTRIES) {
                    progress(added);
                }
                add(e.key, e.kind, e.expiry_ms, e.value)
            })?;
            match step {
                Some(result) => result?,
                None => {
                    progress(added);
                    return Ok(());
                }
            }
        }
    })
}

/// Sorts entries in memory up to `SORT_RUN_BYTES`, spilling each full run to a temporary
/// table in the database directory (deleted when the import ends, and by the next open if
/// the process dies: they are not named by the MANIFEST).
struct RunSorter<'a> {
    db: &'a Db,
    cache: Arc<BlockCache>,
    pending: Vec<(Entry, u64)>,
    pending_bytes: usize,
    runs: Vec<Arc<LiveTable>>,
    /// Tells apart the runs of imports running at once.
    id: u64,
}

/// Name prefix of an import's temporary run tables (recovery removes leftovers).
pub const IMPORT_RUN_PREFIX: &str = "import-run-";
static NEXT_SORTER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl<'a> RunSorter<'a> {
    fn new(db: &'a Db) -> Self {
        Self {
            db,
            cache: Arc::new(BlockCache::new(0)),
            pending: Vec::new(),
            pending_bytes: 0,
            runs: Vec::new(),
            id: NEXT_SORTER_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn push(&mut self, entry: Entry, line: u64) -> Result<()> {
        self.pending_bytes += entry.0.len() + entry.1.len() + SORT_ENTRY_OVERHEAD_BYTES;
        self.pending.push((entry, line));
        if self.pending_bytes >= SORT_RUN_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        // Internal-key order: key ascending, then newest (highest line) first.
        self.pending.sort_unstable_by(|a, b| a.0 .0.cmp(&b.0 .0).then_with(|| b.1.cmp(&a.1)));
        let number = self.runs.len() as u64 + 1;
        let path =
            self.db.location().join(format!("{IMPORT_RUN_PREFIX}{}-{}-{number}.tmp", std::process::id(), self.id));
        let storage = self.db.storage();
        let file = storage.create(&path).ctx(|| format!("creating {}", path.display()))?;
        let options = self.db.options();
        let mut builder =
            TableBuilder::new(file, number, crate::engine::options::Compression::Lz4, options.block_size_bytes);
        for ((key, value, expiry_ms), line) in self.pending.drain(..) {
            let kind = if expiry_ms == 0 { Kind::Put } else { Kind::PutWithExpiry };
            builder.add(&key, line, kind, expiry_ms, &value)?;
        }
        self.pending_bytes = 0;
        let meta: TableMeta = builder.finish()?;
        let table = Table::open(storage.as_ref(), &path, number, Arc::clone(&self.cache), true)?;
        let live = Arc::new(LiveTable::new(table, meta, Arc::clone(storage), path, Arc::clone(&self.cache)));
        // Deleted when the last reference drops (the end of the import, or an error).
        live.retire();
        self.runs.push(live);
        Ok(())
    }

    fn finish(mut self) -> Result<Vec<Arc<LiveTable>>> {
        if !self.pending.is_empty() {
            self.spill()?;
        }
        Ok(std::mem::take(&mut self.runs))
    }
}

//! Online, incremental, checksummed backups (docs/format.md "Backup directory").
//!
//! `backup` flushes the memtables, pins the live tables (a consistent state: every table
//! set the database ever publishes is a prefix of its history) and copies into the backup
//! directory each table it does not hold yet; tables are immutable and numbered once, so a
//! file with the same number, size and footer SHA-256 is the same table and is reused (after
//! reading it back whole: a copy damaged in the backup is copied again). Then
//! it writes the `BACKUP` file atomically and removes tables no longer named. Reads and
//! writes go on throughout.
//!
//! `BACKUP` layout (little-endian):
//!
//! ```text
//! 0   magic          8 bytes "BDBBACKP"
//! 8   version        u32     1
//! 12  created_ms     u64
//! 20  manifest_len   u32
//! 24  manifest       the database MANIFEST to restore (no live WAL), with its own CRC
//! ..  file_count     u32
//! ..  files          file_count × { number u64 | size u64 | footer_sha256 [32] }
//! end sha256         32 bytes, of every byte before it
//! ```
//!
//! `restore` checks the `BACKUP` checksum, then every table byte by byte (its SHA-256 and
//! block CRCs, and that it is the table the `BACKUP` names) before it writes anything.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::check::check_table;
use crate::engine::coding::{len_u32, Reader};
use crate::engine::db::Db;
use crate::engine::error::{Error, IoContext, Result};
use crate::engine::files::{self, FileKind, LOCK_FILE_NAME};
use crate::engine::manifest::Manifest;
use crate::engine::storage::Storage;
use crate::engine::table::format::{Footer, FOOTER_BYTES};

/// The backup description's file name.
pub const BACKUP_FILE_NAME: &str = "BACKUP";
const BACKUP_TEMP_NAME: &str = "BACKUP.tmp";
const MAGIC: &[u8; 8] = b"BDBBACKP";
const VERSION: u32 = 1;
/// Bytes per read while copying (bounded memory for any table size).
const COPY_CHUNK_BYTES: usize = 1024 * 1024;

/// What a backup did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BackupReport {
    /// Tables in the backup.
    pub tables: u64,
    /// Tables copied by this run.
    pub tables_copied: u64,
    /// Tables already in the backup directory and reused.
    pub tables_reused: u64,
    /// Bytes copied by this run.
    pub bytes_copied: u64,
    /// Bytes of all tables in the backup.
    pub bytes_total: u64,
}

/// One table named by a `BACKUP` file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BackupFile {
    number: u64,
    size: u64,
    footer_sha256: [u8; 32],
}

/// A decoded `BACKUP` file.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Description {
    created_ms: u64,
    manifest: Manifest,
    files: Vec<BackupFile>,
}

impl Description {
    fn encode(&self) -> Vec<u8> {
        let manifest = self.manifest.encode();
        let mut out = Vec::with_capacity(64 + manifest.len() + self.files.len() * 48);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&VERSION.to_le_bytes());
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&len_u32(manifest.len()).to_le_bytes());
        out.extend_from_slice(&manifest);
        out.extend_from_slice(&len_u32(self.files.len()).to_le_bytes());
        for f in &self.files {
            out.extend_from_slice(&f.number.to_le_bytes());
            out.extend_from_slice(&f.size.to_le_bytes());
            out.extend_from_slice(&f.footer_sha256);
        }
        let sha: [u8; 32] = Sha256::digest(&out).into();
        out.extend_from_slice(&sha);
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, &'static str> {
        let body_len = bytes.len().checked_sub(32).ok_or("BACKUP truncated")?;
        let (body, sha) = bytes.split_at(body_len);
        if sha != Sha256::digest(body).as_slice() {
            return Err("BACKUP checksum mismatch");
        }
        let mut r = Reader::new(body);
        if r.take(8) != Some(&MAGIC[..]) {
            return Err("not a browserdb BACKUP file");
        }
        if r.u32() != Some(VERSION) {
            return Err("unsupported BACKUP version");
        }
        let created_ms = r.u64().ok_or("BACKUP truncated")?;
        let manifest_len = r.u32().ok_or("BACKUP truncated")? as usize;
        let manifest = Manifest::decode(r.take(manifest_len).ok_or("BACKUP truncated")?).map_err(|(_, what)| what)?;
        let count = r.u32().ok_or("BACKUP truncated")? as usize;
        if count.saturating_mul(48) > r.remaining() {
            return Err("BACKUP truncated");
        }
        let mut files = Vec::with_capacity(count);
        for _ in 0..count {
            let number = r.u64().ok_or("BACKUP truncated")?;
            let size = r.u64().ok_or("BACKUP truncated")?;
            let mut footer_sha256 = [0u8; 32];
            footer_sha256.copy_from_slice(r.take(32).ok_or("BACKUP truncated")?);
            files.push(BackupFile { number, size, footer_sha256 });
        }
        if r.remaining() != 0 {
            return Err("BACKUP has trailing bytes");
        }
        Ok(Self { created_ms, manifest, files })
    }
}

/// The SHA-256 a table's footer records (of every byte before the footer), or `None` if the
/// file is missing, too short or its footer does not decode.
fn footer_sha256(storage: &dyn Storage, path: &Path) -> Option<(u64, [u8; 32])> {
    let file = storage.open_read(path).ok()?;
    let len = file.len_bytes();
    let at = len.checked_sub(FOOTER_BYTES as u64)?;
    let mut foot = [0u8; FOOTER_BYTES];
    file.read_exact_at(&mut foot, at).ok()?;
    Footer::decode(&foot).ok().map(|f| (len, f.sha256))
}

/// Whether a table copy already in the backup still reads back perfectly (a copy damaged
/// since the last backup is copied again rather than reused forever).
fn is_intact(storage: &dyn Storage, path: &Path) -> Result<bool> {
    let name = path.display().to_string();
    Ok(check_table(storage, path, &name, &mut |_| Ok(()), &mut |_| {})?.problems.is_empty())
}

/// Copies `from` (on `source`) to `to` (on `dest`) through a temporary name, synced.
fn copy_file(
    source: &dyn Storage,
    from: &Path,
    dest: &dyn Storage,
    to: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<u64> {
    let input = source.open_read(from).ctx(|| format!("opening {}", from.display()))?;
    let len = input.len_bytes();
    let temp = to.with_extension("tmp");
    let mut output = dest.create(&temp).ctx(|| format!("creating {}", temp.display()))?;
    let mut buf = vec![0u8; COPY_CHUNK_BYTES];
    let mut offset = 0u64;
    while offset < len {
        let n = usize::try_from(len - offset).unwrap_or(usize::MAX).min(COPY_CHUNK_BYTES);
        let chunk = buf.get_mut(..n).unwrap_or_default();
        input.read_exact_at(chunk, offset).ctx(|| format!("reading {}", from.display()))?;
        output.append(chunk).ctx(|| format!("writing {}", temp.display()))?;
        offset += n as u64;
        progress(n as u64);
    }
    output.sync_data().ctx(|| format!("syncing {}", temp.display()))?;
    drop(output);
    dest.rename(&temp, to).ctx(|| format!("renaming {}", temp.display()))?;
    Ok(len)
}

/// Writes `bytes` to `dir/name` atomically: temporary file, fsync, rename, directory fsync.
fn write_atomically(storage: &dyn Storage, dir: &Path, name: &str, temp_name: &str, bytes: &[u8]) -> Result<()> {
    let temp = dir.join(temp_name);
    let mut file = storage.create(&temp).ctx(|| format!("creating {}", temp.display()))?;
    file.append(bytes).ctx(|| format!("writing {}", temp.display()))?;
    file.sync_data().ctx(|| format!("syncing {}", temp.display()))?;
    drop(file);
    storage.rename(&temp, &dir.join(name)).ctx(|| format!("renaming {}", temp.display()))?;
    storage.sync_dir(dir).ctx(|| format!("syncing {}", dir.display()))
}

/// Backs `db` up into `dir` on `dest` (created if missing). `progress(done, total)` in bytes.
pub fn backup(db: &Db, dest: &dyn Storage, dir: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<BackupReport> {
    let previous = match dest.list_dir(dir) {
        Ok(names) => names,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(format!("listing {}", dir.display()), e)),
    };
    // Stale tables in `dir` are deleted below: only ever in an empty directory or an earlier
    // backup, never in a database (ours or another) or a directory of other files.
    if !previous.is_empty() && !previous.iter().any(|n| n == BACKUP_FILE_NAME) {
        return Err(Error::InvalidArgument(format!(
            "{} is neither empty nor a browserdb backup; give a backup its own directory",
            dir.display()
        )));
    }
    db.flush()?;
    let view = db.file_view()?;
    dest.create_dir_all(dir).ctx(|| format!("creating {}", dir.display()))?;
    let total: u64 = view.manifest.tables.iter().map(|t| t.file_size).sum();
    let mut report =
        BackupReport { tables: view.manifest.tables.len() as u64, bytes_total: total, ..BackupReport::default() };
    let mut done = 0u64;
    let mut files_named = Vec::with_capacity(view.manifest.tables.len());
    for meta in &view.manifest.tables {
        let from = files::path(db.location(), meta.number, FileKind::Table);
        let to = files::path(dir, meta.number, FileKind::Table);
        let (size, sha) = footer_sha256(db.storage().as_ref(), &from)
            .ok_or_else(|| Error::corruption(from.display().to_string(), 0, "table footer unreadable"))?;
        if footer_sha256(dest, &to) == Some((size, sha)) && is_intact(dest, &to)? {
            report.tables_reused += 1;
            done += size;
        } else {
            report.bytes_copied += copy_file(db.storage().as_ref(), &from, dest, &to, &mut |n| {
                done += n;
                progress(done, total);
            })?;
            report.tables_copied += 1;
        }
        progress(done, total);
        files_named.push(BackupFile { number: meta.number, size, footer_sha256: sha });
    }
    dest.sync_dir(dir).ctx(|| format!("syncing {}", dir.display()))?;
    let mut manifest = view.manifest.clone();
    manifest.last_sequence = manifest.tables.iter().map(|t| t.max_seq).fold(manifest.last_sequence, u64::max);
    manifest.log_number = manifest.next_file_number;
    manifest.next_file_number += 1;
    let description = Description { created_ms: (db.options().clock)(), manifest, files: files_named };
    write_atomically(dest, dir, BACKUP_FILE_NAME, BACKUP_TEMP_NAME, &description.encode())?;
    for name in previous {
        let stale = match files::parse(&name) {
            Some((number, FileKind::Table)) => !description.files.iter().any(|f| f.number == number),
            _ => name.ends_with(".tmp"),
        };
        if stale {
            let _ = dest.remove(&dir.join(name));
        }
    }
    Ok(report)
}

/// Checks a backup completely; the decoded description, or `Corruption`.
fn validate(storage: &dyn Storage, dir: &Path, progress: &mut dyn FnMut(u64, u64)) -> Result<Description> {
    let path = dir.join(BACKUP_FILE_NAME);
    let name = path.display().to_string();
    let bytes = match storage.read_all(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound(dir.to_path_buf())),
        Err(e) => return Err(Error::io(format!("reading {name}"), e)),
    };
    let description = Description::decode(&bytes).map_err(|what| Error::corruption(&name, 0, what))?;
    let listed: Vec<u64> = description.manifest.tables.iter().map(|t| t.number).collect();
    let named: Vec<u64> = description.files.iter().map(|f| f.number).collect();
    if listed != named {
        return Err(Error::corruption(name, 0, "BACKUP names other tables than its MANIFEST"));
    }
    // Saturating: the sizes are not checked against the tables yet (a crafted size must not overflow).
    let total = description.files.iter().map(|f| f.size).fold(0u64, u64::saturating_add);
    let mut done = 0u64;
    for f in &description.files {
        let table = files::path(dir, f.number, FileKind::Table);
        let table_name = table.display().to_string();
        let checked = check_table(storage, &table, &table_name, &mut |_| Ok(()), &mut |n| {
            done += n;
            progress(done, total);
        })?;
        if let Some(p) = checked.problems.first() {
            return Err(Error::corruption(&p.file, p.offset, p.message.clone()));
        }
        let sha = checked.footer.map(|footer| footer.sha256);
        if checked.bytes != f.size || sha != Some(f.footer_sha256) {
            return Err(Error::corruption(table_name, 0, "table differs from the one the BACKUP names"));
        }
    }
    Ok(description)
}

/// Restores the backup in `backup_dir` into `location`, which must not hold anything yet.
/// The whole backup is validated before anything is written.
pub fn restore(
    storage: &dyn Storage,
    backup_dir: &Path,
    location: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<u64> {
    let description = validate(storage, backup_dir, progress)?;
    match storage.list_dir(location) {
        Ok(names) if !names.is_empty() => return Err(Error::Exists(location.to_path_buf())),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("listing {}", location.display()), e)),
    }
    storage.create_dir_all(location).ctx(|| format!("creating {}", location.display()))?;
    let _lock = storage
        .lock(&location.join(LOCK_FILE_NAME))
        .ctx(|| format!("locking {}", location.display()))?
        .ok_or_else(|| Error::Locked { path: location.to_path_buf() })?;
    for f in &description.files {
        let from = files::path(backup_dir, f.number, FileKind::Table);
        let to = files::path(location, f.number, FileKind::Table);
        copy_file(storage, &from, storage, &to, &mut |_| {})?;
    }
    storage.sync_dir(location).ctx(|| format!("syncing {}", location.display()))?;
    description.manifest.store(storage, location)?;
    if let Some(parent) = location.parent().filter(|p| !p.as_os_str().is_empty()) {
        storage.sync_dir(parent).ctx(|| format!("syncing {}", parent.display()))?;
    }
    Ok(description.files.len() as u64)
}

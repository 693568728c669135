//! The WAL's file on Linux: appends by `pwrite`, and, for a commit made on the JS thread, by a
//! copy into pages of the file mapped and made ready in advance (docs/design.md "In-place
//! commits").
//!
//! A copy into a shared mapping of a file lands in the OS page cache as it is made, so a
//! killed process leaves it there exactly as it leaves a returned `write`: the same promise
//! (it survives a process crash; power loss only once synced). The copy makes no system call
//! and cannot wait for the disk when its page is resident, already dirty and mapped writable.
//! `MADV_POPULATE_WRITE` (Linux 5.14) makes a range so: the kernel allocates each page of the
//! file (with its disk reservation, so no later write can fail for space), marks it dirty and
//! maps it writable, all on the pool thread that prepares the range.
//!
//! A prepared page stays that way until the kernel writes it back: when the file's dirty
//! data expires (per file, not per page), at an `fdatasync`, at anyone's `sync`, or under
//! dirty-memory pressure. So in-memory appends go only into a range prepared less than
//! [`PREPARED_FRESH`] ago and not synced since; anything else goes by `pwrite` on the pool,
//! which prepares the next range. A page written back within that time makes the next copy
//! into it take a minor page fault, which can sleep as a buffered `write` can, and cannot fail
//! on the file systems mapped (`maps_safely`; documented).
//!
//! While open, the file is longer than its contents (the prepared range past them is
//! zeros): [`WritableFile::trim`] cuts it back before the file's last sync and on drop, and
//! recovery reads a zero tail as a torn one (wal.rs).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use memmap2::{Advice, MmapOptions, MmapRaw, UncheckedAdvice};

use super::storage::{start_writeback, WritableFile};

/// How long a prepared range takes in-memory appends; then a commit on the pool prepares it
/// again. The kernel can write a prepared page back (and make it read-only) at any moment —
/// it expires dirty data per file, not per page, and any process may call `sync` — so this
/// does not rule out a fault on the JS thread: it keeps a page's odds of having been cleaned
/// since it was prepared small, at the cost of one pool commit a second for a steady writer.
pub const PREPARED_FRESH: Duration = Duration::from_secs(1);

/// The file system a file lives on, by `statfs` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileSystem {
    /// ext4 or XFS: blocks are overwritten in place (the WAL is never reflinked).
    OverwritesInPlace,
    /// tmpfs: no disk at all.
    Memory,
    /// Anything else: copy-on-write (btrfs, bcachefs, ZFS), network, FUSE, or unknown.
    Other,
}

fn file_system(file: &File) -> FileSystem {
    use std::os::fd::AsRawFd;
    const EXT4: i64 = 0xEF53;
    const XFS: i64 = 0x5846_5342;
    const TMPFS: i64 = 0x0102_1994;
    // SAFETY: `statfs` is plain old data, filled by the kernel; the descriptor is owned by
    // `file`, which outlives the call.
    #[allow(unsafe_code)]
    let kind = unsafe {
        let mut stat: libc::statfs = std::mem::zeroed();
        if libc::fstatfs(file.as_raw_fd(), &raw mut stat) != 0 {
            return FileSystem::Other;
        }
        #[allow(clippy::unnecessary_cast, clippy::useless_conversion)]
        let kind = stat.f_type as i64;
        kind
    };
    match kind {
        EXT4 | XFS => FileSystem::OverwritesInPlace,
        TMPFS => FileSystem::Memory,
        _ => FileSystem::Other,
    }
}

/// File systems where a write fault on a page of the WAL that was prepared and then written
/// back can neither fail nor need a new disk reservation: blocks are overwritten in place
/// (ext4, XFS) or there is no disk (tmpfs). On copy-on-write file systems (btrfs, bcachefs,
/// ZFS) such a fault must reserve space and, on a full disk, raises SIGBUS, which would end
/// the process; they, network and FUSE file systems, and any other, keep a plain WAL.
pub fn maps_safely(file: &File) -> bool {
    file_system(file) != FileSystem::Other
}

/// Bytes of zeros a WAL that has been synced writes ahead of its records at a time, on ext4
/// and XFS. A synced append that grows the file makes `fdatasync` commit the new size and
/// block allocation to the journal; overwriting zeros already on disk needs no metadata
/// (measured on this project's VM: 125-173 µs against 91-96 µs per 200-byte record). Only
/// after a sync, so writers that never sync do not write the zeros.
const ZEROED_AHEAD_BYTES: u64 = 256 * 1024;

/// Alignment of every prepared and released range: a multiple of every page size Linux uses
/// (4, 16 and 64 KiB), so no range boundary cuts a page.
const GRANULE_BYTES: u64 = 64 * 1024;

fn floor_granule(bytes: u64) -> u64 {
    bytes / GRANULE_BYTES * GRANULE_BYTES
}

fn ceil_granule(bytes: u64) -> u64 {
    bytes.div_ceil(GRANULE_BYTES) * GRANULE_BYTES
}

/// What in-memory appends may use now.
#[derive(Debug, Clone, Copy)]
struct Prepared {
    /// Bytes `[.., end_bytes)` past the contents are ready.
    end_bytes: u64,
    /// When the range was made ready.
    at: Instant,
}

/// A WAL file of the real file system on Linux.
pub struct MappedLogFile {
    file: File,
    /// Bytes of contents (records); the file may be longer (a prepared zero tail).
    len_bytes: u64,
    /// The file's length on disk.
    file_bytes: u64,
    /// A shared read-write mapping of `[0, map_bytes)`; `None` once preparing failed or the
    /// file was trimmed.
    map: Option<MmapRaw>,
    map_bytes: u64,
    /// Bytes in-memory appends may take at most per preparation.
    window_bytes: u64,
    /// The window the next preparation uses: one granule after a sync (or at the start),
    /// doubling up to `window_bytes` each time in-memory appends use up a prepared range.
    /// Prepared pages are dirty zeros that the next `fdatasync` writes to the disk, so a
    /// workload of synced writes must not pay for a large window at every sync.
    next_window_bytes: u64,
    prepared: Option<Prepared>,
    /// `[0, released_bytes)` of the mapping is out of this process's page tables again.
    released_bytes: u64,
    /// Writeback was started for `[0, written_back_bytes)`.
    written_back_bytes: u64,
    /// Whether synced WALs write zeros ahead (`ZEROED_AHEAD_BYTES`): ext4 and XFS.
    zeroes_ahead: bool,
    /// `[.., zeroed_bytes)` past the records are zeros written with `pwrite`.
    zeroed_bytes: u64,
}

impl MappedLogFile {
    /// Wraps a file open for reading and writing whose contents are its first `len_bytes`
    /// bytes, mapping `reserve_bytes` past them (rounded up) for in-memory appends of at most
    /// `window_bytes` per preparation. Prepares the first range. Mapping failures leave a
    /// file that appends by `pwrite` only.
    pub fn new(file: File, len_bytes: u64, reserve_bytes: u64, window_bytes: u64) -> io::Result<Self> {
        let file_bytes = file.metadata()?.len();
        let map_bytes = ceil_granule(len_bytes + reserve_bytes.max(window_bytes));
        let kind = file_system(&file);
        let map = usize::try_from(map_bytes)
            .ok()
            .filter(|_| kind != FileSystem::Other)
            .and_then(|n| MmapOptions::new().len(n).map_raw(&file).ok());
        let mut log = Self {
            file,
            len_bytes,
            file_bytes,
            map,
            map_bytes,
            window_bytes: ceil_granule(window_bytes.max(1)),
            next_window_bytes: GRANULE_BYTES,
            prepared: None,
            released_bytes: floor_granule(len_bytes),
            written_back_bytes: len_bytes,
            zeroes_ahead: kind == FileSystem::OverwritesInPlace,
            zeroed_bytes: len_bytes,
        };
        log.prepare_in_memory();
        Ok(log)
    }

    /// Where the prepared range ends, if in-memory appends may use it now.
    fn fresh_end(&self) -> Option<u64> {
        self.prepared.filter(|p| p.at.elapsed() < PREPARED_FRESH).map(|p| p.end_bytes)
    }

    /// Makes `[floor(len), end)` ready: the file long enough, then every page populated
    /// writable. On failure nothing is prepared and appends go by `pwrite`.
    fn populate(&mut self, end_bytes: u64) -> io::Result<()> {
        let map = self.map.as_ref().ok_or_else(|| io::Error::other("not mapped"))?;
        if self.file_bytes < end_bytes {
            self.file.set_len(end_bytes)?;
            self.file_bytes = end_bytes;
        }
        let start = floor_granule(self.len_bytes);
        let (offset, len) = (usize::try_from(start), usize::try_from(end_bytes - start));
        let (Ok(offset), Ok(len)) = (offset, len) else { return Err(io::Error::other("range too large")) };
        map.advise_range(Advice::PopulateWrite, offset, len)
    }

    /// After a sync: once the records come within half of `ZEROED_AHEAD_BYTES` of the zeros'
    /// end, writes that many zeros more (not synced now: the next sync carries them, once).
    /// Best effort: a failure (a full disk) leaves appends growing the file as before, and a
    /// short write leaves zeros, which read as a torn tail.
    fn zero_ahead(&mut self) {
        if !self.zeroes_ahead || self.zeroed_bytes >= self.len_bytes + ZEROED_AHEAD_BYTES / 2 {
            return;
        }
        let start = self.zeroed_bytes.max(self.len_bytes);
        let Ok(len) = usize::try_from(ZEROED_AHEAD_BYTES) else { return };
        if self.file.write_all_at(&vec![0; len], start).is_ok() {
            self.zeroed_bytes = start + ZEROED_AHEAD_BYTES;
            self.file_bytes = self.file_bytes.max(self.zeroed_bytes);
        } else {
            // A full disk (or quota) may have taken part of the zeros: the file's length is
            // whatever it is now (`trim` must cut it), and no more zeros are tried.
            self.zeroes_ahead = false;
            self.file_bytes = self.file_bytes.max(self.file.metadata().map_or(0, |m| m.len()));
        }
    }

    /// Drops the pages wholly written since the last release from this process's page
    /// tables: they stay in the page cache, dirty until written back, but leave the RSS.
    fn release_written(&mut self) {
        let end = floor_granule(self.len_bytes).min(self.map_bytes);
        let Some(map) = self.map.as_ref().filter(|_| end > self.released_bytes) else { return };
        let (Ok(offset), Ok(len)) = (usize::try_from(self.released_bytes), usize::try_from(end - self.released_bytes))
        else {
            return;
        };
        // SAFETY: the range holds only bytes already appended, which no one reads or writes
        // through the mapping again; on a shared file mapping MADV_DONTNEED only unmaps the
        // pages (the data and its dirty state stay in the page cache), and a later access
        // would fault the same bytes back in.
        #[allow(unsafe_code)]
        let released = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, offset, len) };
        if released.is_ok() {
            self.released_bytes = end;
        }
    }
}

impl WritableFile for MappedLogFile {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        // `pwrite`, never a copy into the mapping: a page not prepared could fault, and on a
        // full tmpfs that fault is a SIGBUS where `pwrite` returns ENOSPC. Both go through
        // the same page cache, so the two kinds of append see each other's bytes.
        self.file.write_all_at(data, self.len_bytes)?;
        self.len_bytes += data.len() as u64;
        self.file_bytes = self.file_bytes.max(self.len_bytes);
        Ok(())
    }

    fn room_in_memory(&self) -> u64 {
        self.fresh_end().filter(|_| self.map.is_some()).map_or(0, |end| end.saturating_sub(self.len_bytes))
    }

    fn append_in_memory(&mut self, data: &[u8]) -> bool {
        let end = self.len_bytes + data.len() as u64;
        let Some(map) = self.map.as_ref().filter(|_| self.fresh_end().is_some_and(|fresh| end <= fresh)) else {
            return false;
        };
        let Ok(offset) = usize::try_from(self.len_bytes) else { return false };
        // SAFETY: `[offset, offset + len)` lies inside the mapping (`end` is within a
        // prepared range, which never passes `map_bytes`) and inside the file (prepared
        // ranges are within `file_bytes`, and the file only shrinks in `trim`, which drops
        // the mapping first). Only this writer, holding `&mut self`, writes the mapping, and
        // no Rust reference to its bytes exists.
        #[allow(unsafe_code)]
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), map.as_mut_ptr().add(offset), data.len());
        }
        self.len_bytes = end;
        true
    }

    fn prepare_in_memory(&mut self) {
        if self.map.is_none() {
            return;
        }
        self.release_written();
        // Nothing to do while at least half a window is left and the range is fresh for a
        // while yet: a steady writer prepares once per half window.
        let half_window_left = self
            .prepared
            .filter(|p| p.at.elapsed() < PREPARED_FRESH / 2)
            .is_some_and(|p| p.end_bytes >= self.len_bytes + self.next_window_bytes / 2);
        if half_window_left {
            return;
        }
        if self.prepared.is_some() {
            // In-memory appends used up the last range (no sync since): a larger one.
            self.next_window_bytes = (self.next_window_bytes * 2).min(self.window_bytes);
        }
        let end = (floor_granule(self.len_bytes) + self.next_window_bytes).min(self.map_bytes);
        if end <= self.len_bytes {
            self.prepared = None;
            return;
        }
        self.prepared = match self.populate(end) {
            Ok(()) => Some(Prepared { end_bytes: end, at: Instant::now() }),
            // A kernel without MADV_POPULATE_WRITE (before 5.14): no mapping from now on (the
            // zeros past the records stay until the trim, as any reserved tail).
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP)) => {
                self.map = None;
                None
            }
            // Out of space, or memory: appends go by `pwrite` (which reports it) until a
            // later preparation succeeds.
            Err(_) => None,
        };
    }

    fn sync_data(&mut self) -> io::Result<()> {
        // The sync writes the prepared pages back too, which makes them clean and read-only
        // in the page table: the next in-memory append would fault. Prepare again first, a
        // small window (see `next_window_bytes`).
        self.prepared = None;
        self.next_window_bytes = GRANULE_BYTES;
        self.file.sync_data()?;
        self.written_back_bytes = self.len_bytes;
        self.zero_ahead();
        Ok(())
    }

    fn len_bytes(&self) -> u64 {
        self.len_bytes
    }

    fn start_writeback(&mut self) {
        // Only pages wholly written (`WalWriter` calls this once per interval): writing back
        // a prepared page would make it read-only.
        let end = floor_granule(self.len_bytes);
        if end > self.written_back_bytes {
            start_writeback(&self.file, self.written_back_bytes, end - self.written_back_bytes);
            self.written_back_bytes = end;
        }
    }

    fn trim(&mut self) -> io::Result<()> {
        self.map = None;
        self.prepared = None;
        self.zeroes_ahead = false;
        // The file's real length too: a rotated WAL must end at its last record.
        self.file_bytes = self.file_bytes.max(self.file.metadata()?.len());
        if self.file_bytes > self.len_bytes {
            self.file.set_len(self.len_bytes)?;
            self.file_bytes = self.len_bytes;
        }
        Ok(())
    }
}

impl Drop for MappedLogFile {
    fn drop(&mut self) {
        // Best effort: a zero tail left by a failure here reads as a torn tail at the next open.
        let _ = self.trim();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A new log `name` in a temp dir, with its mapping; `None` (the test is skipped) where it
    /// gets none (a file system that is not ext4, XFS or tmpfs, such as overlayfs or btrfs, or
    /// a kernel before 5.14).
    fn mapped_log(
        name: &str,
        reserve: u64,
        window: u64,
    ) -> Option<(tempfile::TempDir, std::path::PathBuf, MappedLogFile)> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join(name);
        let log = MappedLogFile::new(open_rw(&path), 0, reserve, window).unwrap_or_else(|e| panic!("new: {e}"));
        if log.map.is_none() {
            eprintln!("skipped: the WAL is not mapped here (file system or kernel)");
            return None;
        }
        Some((dir, path, log))
    }

    fn open_rw(path: &std::path::Path) -> File {
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(path).unwrap_or_else(|e| {
            panic!("open {}: {e}", path.display());
        })
    }

    /// Appends of both kinds land in order in the file, the file is longer than its contents
    /// only while open, and a trim (or drop) cuts it back to them.
    #[test]
    fn in_memory_and_written_appends_interleave_and_trim_cuts_the_tail() {
        let Some((_dir, path, mut log)) = mapped_log("000001.log", 1 << 20, 128 * 1024) else { return };
        let mut expected = Vec::new();
        let mut in_memory = 0;
        for i in 0..2000u32 {
            let record = vec![u8::try_from(i % 251).unwrap_or(0); 100 + (i % 50) as usize];
            if log.append_in_memory(&record) {
                in_memory += 1;
            } else {
                log.append(&record).unwrap_or_else(|e| panic!("append: {e}"));
                log.prepare_in_memory();
            }
            expected.extend_from_slice(&record);
        }
        assert!(in_memory > 1900, "in-memory appends: {in_memory} of 2000");
        assert_eq!(log.len_bytes(), expected.len() as u64);
        assert!(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0) > expected.len() as u64, "a prepared tail");
        // Another reader sees the bytes while the file is open (one page cache).
        let seen = std::fs::read(&path).unwrap_or_default();
        assert_eq!(seen.get(..expected.len()), Some(&expected[..]));
        assert!(seen.get(expected.len()..).unwrap_or_default().iter().all(|&b| b == 0));
        drop(log);
        assert_eq!(std::fs::read(&path).unwrap_or_default(), expected);
    }

    /// A sync makes the prepared range stale (its pages were written back): in-memory appends
    /// decline until the next preparation.
    #[test]
    fn a_sync_stops_in_memory_appends_until_prepared_again() {
        let Some((_dir, path, mut log)) = mapped_log("000002.log", 1 << 20, 64 * 1024) else { return };
        assert!(log.append_in_memory(b"first"));
        log.sync_data().unwrap_or_else(|e| panic!("sync: {e}"));
        assert!(!log.append_in_memory(b"second"));
        log.append(b"second").unwrap_or_else(|e| panic!("append: {e}"));
        log.prepare_in_memory();
        assert!(log.append_in_memory(b"third"));
        log.trim().unwrap_or_else(|e| panic!("trim: {e}"));
        assert!(!log.append_in_memory(b"fourth"), "no in-memory appends after a trim");
        assert_eq!(std::fs::read(&path).unwrap_or_default(), b"firstsecondthird");
    }

    /// On ext4 and XFS a sync writes zeros ahead of the records, so later synced appends
    /// overwrite blocks already on disk instead of growing the file: across 4000 synced
    /// 200-byte records (800 KB, several refills), mixed with in-memory appends, the file grows
    /// only at a refill, the records stay exact, the zeros stay zeros, and a trim cuts them.
    #[test]
    fn a_sync_writes_zeros_ahead_on_file_systems_that_overwrite_in_place() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
        let path = dir.path().join("000004.log");
        let file = open_rw(&path);
        if file_system(&file) != FileSystem::OverwritesInPlace {
            eprintln!("skipped: the temp directory is not on ext4 or XFS");
            return;
        }
        let mut log = MappedLogFile::new(file, 0, 4 << 20, 64 * 1024).unwrap_or_else(|e| panic!("new: {e}"));
        let size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let mut expected = Vec::new();
        let (mut refills, mut in_memory) = (0, 0);
        let mut last_size = size(&path);
        for i in 0..4000u32 {
            let record = format!("{i:>199};").into_bytes();
            if i % 3 == 0 {
                log.prepare_in_memory();
            }
            if log.append_in_memory(&record) {
                in_memory += 1;
            } else {
                log.append(&record).unwrap_or_else(|e| panic!("append: {e}"));
            }
            expected.extend_from_slice(&record);
            if i % 2 == 0 {
                log.sync_data().unwrap_or_else(|e| panic!("sync: {e}"));
                let now = size(&path);
                assert!(now >= log.len_bytes() + ZEROED_AHEAD_BYTES / 2, "zeros ahead after sync {i}: {now}");
                if now != last_size {
                    refills += 1;
                    last_size = now;
                }
            }
        }
        assert!((3..=8).contains(&refills), "the file grew at {refills} syncs of 2000, only at refills");
        assert!(in_memory > 0, "in-memory appends between syncs");
        let seen = std::fs::read(&path).unwrap_or_default();
        assert_eq!(seen.get(..expected.len()), Some(&expected[..]));
        assert!(seen.get(expected.len()..).unwrap_or_default().iter().all(|&b| b == 0));
        log.trim().unwrap_or_else(|e| panic!("trim: {e}"));
        assert_eq!(std::fs::read(&path).unwrap_or_default(), expected);
    }

    /// In-memory appends never pass the mapped reserve: past it, appends go by `pwrite`.
    #[test]
    fn appends_past_the_reserve_go_by_pwrite() {
        let Some((_dir, path, mut log)) = mapped_log("000003.log", GRANULE_BYTES, GRANULE_BYTES) else { return };
        let record = vec![7u8; 1000];
        let mut total = 0u64;
        while log.append_in_memory(&record) {
            total += 1000;
        }
        assert!(total <= GRANULE_BYTES && total + 1000 > GRANULE_BYTES, "{total}");
        for _ in 0..100 {
            log.append(&record).unwrap_or_else(|e| panic!("append: {e}"));
            log.prepare_in_memory();
            assert!(!log.append_in_memory(&record), "past the reserve");
        }
        drop(log);
        assert_eq!(std::fs::read(&path).map(|b| b.len()).unwrap_or(0) as u64, total + 100_000);
    }
}

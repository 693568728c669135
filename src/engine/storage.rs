//! The I/O seam (LevelDB's `Env`): every file and directory operation of the engine goes
//! through [`Storage`]. Two implementations:
//! - [`FsStorage`], the real file system (`pread`, `write`, `fdatasync`, `flock`);
//! - [`MemStorage`], an in-memory file system for tests that models what survives a power
//!   loss (only synced bytes, only directory entries made durable by a directory sync) and can
//!   fail chosen calls (fault injection).
//!
//! Implementations are thread-safe: the write path, the background flush and readers on many
//! threads call them at once.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// A file open for appending (WAL, table being built, MANIFEST temp file).
pub trait WritableFile: Send {
    /// Appends all of `data`. Unbuffered: once it returns, the bytes are in the OS.
    fn append(&mut self, data: &[u8]) -> io::Result<()>;
    /// `fdatasync`: the bytes appended so far survive power loss.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Length of the file in bytes.
    fn len_bytes(&self) -> u64;
    /// Asks the OS to start writing the appended bytes to the disk without waiting for it
    /// (`sync_file_range(SYNC_FILE_RANGE_WRITE)` on Linux), so a later `sync_data` finds
    /// little left to write. A hint: durability still comes only from `sync_data`.
    fn start_writeback(&mut self) {}
    /// Appends all of `data` only if that cannot wait: a copy into memory the file already has
    /// ready (a WAL mapped and prepared by `prepare_in_memory`), no system call. Once it
    /// returns `true` the bytes are in the OS exactly as after `append`; `false` writes
    /// nothing. For a commit on the JS thread (docs/design.md "In-place commits").
    fn append_in_memory(&mut self, _data: &[u8]) -> bool {
        false
    }
    /// Bytes `append_in_memory` would take now (0 when it would decline), so a caller can
    /// skip work for a record that will not fit.
    fn room_in_memory(&self) -> u64 {
        0
    }
    /// Readies room past the end for `append_in_memory`. May make system calls and wait, so
    /// never on the JS thread. Best effort: if it cannot, in-memory appends decline.
    fn prepare_in_memory(&mut self) {}
    /// Gives back room reserved past the contents, so the file's length is its contents
    /// again; before the file's last sync. Later in-memory appends decline.
    fn trim(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A file open for positional reads (tables, WAL replay).
pub trait ReadableFile: Send + Sync {
    /// Fills `buf` from `offset`; an error if the file is shorter.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Length of the file in bytes.
    fn len_bytes(&self) -> u64;

    /// Fills `buf` from `offset` only if that needs no wait for the disk (the bytes are in
    /// the OS page cache); `Ok(false)` otherwise, or where the platform cannot tell. Lets
    /// the JS thread read without ever blocking on I/O.
    fn read_exact_at_nowait(&self, _buf: &mut [u8], _offset: u64) -> io::Result<bool> {
        Ok(false)
    }
}

/// An advisory lock on a database; dropping it releases the lock.
pub trait LockHandle: Send + Sync {}

/// All file-system operations the engine performs.
pub trait Storage: Send + Sync + 'static {
    /// `mkdir -p`.
    fn create_dir_all(&self, dir: &Path) -> io::Result<()>;
    /// Names of the entries in `dir`; `NotFound` if it does not exist.
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>>;
    /// Creates (or truncates) a file for appending.
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Opens an existing file for appending at its end.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>>;
    /// Creates (`existing == false`, truncating) or opens for appending a WAL, which may take
    /// in-memory appends (`WritableFile::append_in_memory`) into up to `reserve_bytes` past
    /// its contents, `window_bytes` per preparation. By default a plain file.
    fn open_log(
        &self,
        path: &Path,
        existing: bool,
        _reserve_bytes: u64,
        _window_bytes: u64,
    ) -> io::Result<Box<dyn WritableFile>> {
        if existing {
            self.open_append(path)
        } else {
            self.create(path)
        }
    }
    /// Opens an existing file for positional reads.
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadableFile>>;
    /// Atomically replaces `to` with `from` (the directory entry is durable after `sync_dir`).
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
    /// Shrinks a file to `len_bytes` and syncs it.
    fn truncate(&self, path: &Path, len_bytes: u64) -> io::Result<()>;
    /// `fsync` of a directory: created, renamed and removed entries in it become durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Takes the advisory lock on `path`; `Ok(None)` when another owner holds it.
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn LockHandle>>>;

    /// Reads a whole file.
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        let file = self.open_read(path)?;
        let len = usize::try_from(file.len_bytes()).map_err(|_| io::Error::other("file too large"))?;
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, 0)?;
        Ok(buf)
    }
}

/// Whether a WAL in `dir` on the real file system takes in-place commits (Linux, on ext4, XFS
/// or tmpfs: docs/design.md "In-place commits").
#[must_use]
pub fn in_place_commits_in(dir: &Path) -> bool {
    #[cfg(target_os = "linux")]
    {
        File::open(dir).is_ok_and(|d| super::mapped_log::maps_safely(&d))
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = dir;
        false
    }
}

// ---------------------------------------------------------------------------------------------
// The real file system.

/// The real file system.
#[derive(Debug, Default, Clone, Copy)]
pub struct FsStorage;

struct FsWritable {
    file: File,
    len_bytes: u64,
}

impl WritableFile for FsWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.file.write_all(data)?;
        self.len_bytes += data.len() as u64;
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn len_bytes(&self) -> u64 {
        self.len_bytes
    }
    fn start_writeback(&mut self) {
        start_writeback(&self.file, 0, 0);
    }
}

/// `sync_file_range(fd, offset, len, SYNC_FILE_RANGE_WRITE)`: starts writeback of a range of
/// the file's dirty pages (`len` 0: to the end) and returns. Its error is not lost by ignoring
/// it here: a failed writeback is recorded on the file and reported by the next `fdatasync`,
/// which is what durability waits for.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
pub(super) fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off64_t::try_from(offset), libc::off64_t::try_from(len)) else { return };
    // SAFETY: a plain syscall on a descriptor this `File` owns; no memory is passed.
    let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
const fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

struct FsReadable {
    file: File,
    len_bytes: u64,
}

impl ReadableFile for FsReadable {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.file.read_exact_at(buf, offset)
    }
    fn len_bytes(&self) -> u64 {
        self.len_bytes
    }
    #[cfg(target_os = "linux")]
    fn read_exact_at_nowait(&self, buf: &mut [u8], offset: u64) -> io::Result<bool> {
        preadv2_nowait(&self.file, buf, offset)
    }
}

/// One `preadv2(..., RWF_NOWAIT)`: succeeds only when every byte comes from the page cache.
/// EAGAIN (would wait for the disk), EOPNOTSUPP (the file system cannot tell) and a short
/// read all answer `Ok(false)`, and the caller reads off the JS thread instead.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn preadv2_nowait(file: &File, buf: &mut [u8], offset: u64) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let Ok(offset) = libc::off_t::try_from(offset) else { return Ok(false) };
    let iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // SAFETY: `iov` describes `buf`, which is valid for writes of `buf.len()` bytes and
    // outlives the call; the fd is open for as long as `file` is borrowed.
    let read = unsafe { libc::preadv2(file.as_raw_fd(), &raw const iov, 1, offset, libc::RWF_NOWAIT) };
    match usize::try_from(read) {
        Ok(n) => Ok(n == buf.len()),
        Err(_) => {
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN | libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS) => Ok(false),
                _ => Err(err),
            }
        }
    }
}

/// Paths locked by this process. `flock` alone does not stop a second open in the same
/// process on every platform (locks are per open file description on Linux, per process with
/// `fcntl`), so the registry makes the same-process case explicit.
static LOCKED_PATHS: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

struct FsLock {
    _file: File,
    path: PathBuf,
}

impl LockHandle for FsLock {}

impl Drop for FsLock {
    fn drop(&mut self) {
        if let Some(set) = LOCKED_PATHS.lock().as_mut() {
            set.remove(&self.path);
        }
        // The flock is released when `_file` closes.
    }
}

impl Storage for FsStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        std::fs::create_dir_all(dir)
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            names.push(entry?.file_name().to_string_lossy().into_owned());
        }
        Ok(names)
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(path)?;
        Ok(Box::new(FsWritable { file, len_bytes: 0 }))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        let file = OpenOptions::new().append(true).open(path)?;
        let len_bytes = file.metadata()?.len();
        Ok(Box::new(FsWritable { file, len_bytes }))
    }
    #[cfg(target_os = "linux")]
    fn open_log(
        &self,
        path: &Path,
        existing: bool,
        reserve_bytes: u64,
        window_bytes: u64,
    ) -> io::Result<Box<dyn WritableFile>> {
        let mut open = OpenOptions::new();
        open.read(true).write(true);
        if !existing {
            open.create(true).truncate(true);
        }
        let file = open.open(path)?;
        let len_bytes = file.metadata()?.len();
        Ok(Box::new(super::mapped_log::MappedLogFile::new(file, len_bytes, reserve_bytes, window_bytes)?))
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadableFile>> {
        let file = File::open(path)?;
        let len_bytes = file.metadata()?.len();
        Ok(Arc::new(FsReadable { file, len_bytes }))
    }
    fn read_all(&self, path: &Path) -> io::Result<Vec<u8>> {
        // To the end of the file, whatever its length by then: a live WAL shrinks when a
        // rotation trims its reserved tail (`verify` of an open database reads it).
        std::fs::read(path)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
    fn truncate(&self, path: &Path, len_bytes: u64) -> io::Result<()> {
        let file = OpenOptions::new().write(true).open(path)?;
        file.set_len(len_bytes)?;
        file.sync_all()
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn LockHandle>>> {
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path)?;
        let canonical = std::fs::canonicalize(path)?;
        let mut registry = LOCKED_PATHS.lock();
        let set = registry.get_or_insert_with(HashSet::new);
        if set.contains(&canonical) {
            return Ok(None);
        }
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
        set.insert(canonical.clone());
        Ok(Some(Box::new(FsLock { _file: file, path: canonical })))
    }
}

// ---------------------------------------------------------------------------------------------
// The in-memory file system for tests.

#[derive(Default)]
struct Inode {
    data: Vec<u8>,
    /// Bytes `[0, synced_len)` survive a power loss.
    synced_len: usize,
}

type InodeRef = Arc<Mutex<Inode>>;

#[derive(Default)]
struct Namespace {
    /// What a running process sees.
    live: HashMap<PathBuf, InodeRef>,
    /// What survives a power loss: entries made durable by `sync_dir` of their parent.
    durable: HashMap<PathBuf, InodeRef>,
    dirs: HashSet<PathBuf>,
    locks: HashSet<PathBuf>,
}

/// Fault-injection settings, shared by all handles of one [`MemStorage`].
#[derive(Default)]
struct Faults {
    /// Counts mutating calls (create, append, sync, rename, remove, truncate, sync_dir).
    mutating_calls: AtomicU64,
    /// Fail the mutating call with this 1-based number (0 = never).
    fail_call_number: AtomicU64,
    /// Fail every mutating call from this number on (0 = never).
    fail_from_call_number: AtomicU64,
    /// Fail every `sync_data` and `sync_dir`.
    fail_syncs: AtomicBool,
    /// Counts `read_exact_at` calls, so tests can see which reads touched a file.
    reads: AtomicU64,
    /// Fail every `read_exact_at` (a failing disk).
    fail_reads: AtomicBool,
    /// Milliseconds each `sync_data` sleeps (a slow disk, to make group commit observable).
    sync_delay_ms: AtomicU64,
    /// Milliseconds each `sync_data` of a table sleeps besides (a flush or compaction caught
    /// in the middle, while WAL and MANIFEST syncs stay fast).
    table_sync_delay_ms: AtomicU64,
    /// Whether `read_exact_at_nowait` succeeds (as if every file were in the page cache).
    page_cache_hits: AtomicBool,
    /// Whether WALs take in-memory appends (as the real file system's mapped WAL does).
    in_memory_appends: AtomicBool,
    /// Whether appends draw on `free_bytes` (a disk that can fill up).
    space_limited: AtomicBool,
    /// Bytes appends may still add while `space_limited`.
    free_bytes: AtomicU64,
}

impl Faults {
    fn check(&self, what: &str) -> io::Result<()> {
        let n = self.mutating_calls.fetch_add(1, Ordering::SeqCst) + 1;
        let nth = self.fail_call_number.load(Ordering::SeqCst);
        let from = self.fail_from_call_number.load(Ordering::SeqCst);
        if nth == n || (from != 0 && n >= from) {
            return Err(io::Error::other(format!("injected failure of {what} (call {n})")));
        }
        Ok(())
    }
    /// Takes room for an append of `wanted` bytes: how many fit (all of them unless the disk
    /// is full). A short count is what a full disk does: `write` stores a prefix, then ENOSPC.
    fn take_space(&self, wanted: usize) -> usize {
        if !self.space_limited.load(Ordering::SeqCst) {
            return wanted;
        }
        let wanted = wanted as u64;
        let mut granted = 0;
        let _ = self.free_bytes.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |free| {
            granted = free.min(wanted);
            Some(free - granted)
        });
        usize::try_from(granted).unwrap_or(usize::MAX)
    }
    fn check_sync(&self, what: &str) -> io::Result<()> {
        self.check(what)?;
        if self.fail_syncs.load(Ordering::SeqCst) {
            return Err(io::Error::other(format!("injected {what} failure")));
        }
        Ok(())
    }
}

/// An in-memory file system that can simulate power loss and fail chosen calls.
#[derive(Clone, Default)]
pub struct MemStorage {
    ns: Arc<Mutex<Namespace>>,
    faults: Arc<Faults>,
}

fn not_found(path: &Path) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("{} not found", path.display()))
}

impl MemStorage {
    /// An empty file system.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Simulates a power loss: returns a new file system holding only what was durable
    /// (synced bytes of files whose directory entries were synced). Fault settings reset.
    #[must_use]
    pub fn power_loss(&self) -> Self {
        let ns = self.ns.lock();
        let mut fresh = Namespace { dirs: ns.dirs.clone(), ..Namespace::default() };
        for (path, inode) in &ns.durable {
            let old = inode.lock();
            let data = old.data.get(..old.synced_len).unwrap_or(&old.data).to_vec();
            let synced_len = data.len();
            let node = Arc::new(Mutex::new(Inode { data, synced_len }));
            fresh.live.insert(path.clone(), Arc::clone(&node));
            fresh.durable.insert(path.clone(), node);
        }
        Self { ns: Arc::new(Mutex::new(fresh)), faults: Arc::default() }
    }

    /// A copy of the file system as a killed process leaves it: everything written survives.
    #[must_use]
    pub fn process_crash(&self) -> Self {
        let ns = self.ns.lock();
        let mut fresh = Namespace { dirs: ns.dirs.clone(), ..Namespace::default() };
        for (path, inode) in &ns.live {
            let old = inode.lock();
            let node = Arc::new(Mutex::new(Inode { data: old.data.clone(), synced_len: old.synced_len }));
            fresh.live.insert(path.clone(), node);
        }
        for (path, inode) in &ns.durable {
            if let Some(same) = ns.live.get(path).filter(|live| Arc::ptr_eq(live, inode)) {
                let _ = same;
                if let Some(copy) = fresh.live.get(path) {
                    fresh.durable.insert(path.clone(), Arc::clone(copy));
                }
            }
        }
        Self { ns: Arc::new(Mutex::new(fresh)), faults: Arc::default() }
    }

    /// Fails the mutating call with this 1-based number, counted from now.
    pub fn fail_call(&self, calls_from_now: u64) {
        let now = self.faults.mutating_calls.load(Ordering::SeqCst);
        self.faults.fail_call_number.store(now + calls_from_now, Ordering::SeqCst);
    }

    /// Fails every mutating call from the `calls_from_now`-th on (disk full, device gone).
    pub fn fail_from_call(&self, calls_from_now: u64) {
        let now = self.faults.mutating_calls.load(Ordering::SeqCst);
        self.faults.fail_from_call_number.store(now + calls_from_now, Ordering::SeqCst);
    }

    /// Makes every later `sync_data` and `sync_dir` fail (or succeed again).
    pub fn fail_syncs(&self, fail: bool) {
        self.faults.fail_syncs.store(fail, Ordering::SeqCst);
    }

    /// Limits the bytes all later appends may add, across all files, to `free_bytes` (`None`:
    /// unlimited). An append that does not fit stores the part that fits and fails with
    /// `ErrorKind::StorageFull` (ENOSPC), as a full disk does. Removing or truncating files
    /// gives no room back; `clear_faults` and the copies made by `power_loss` and
    /// `process_crash` have unlimited space.
    pub fn set_free_space_bytes(&self, free_bytes: Option<u64>) {
        self.faults.free_bytes.store(free_bytes.unwrap_or(0), Ordering::SeqCst);
        self.faults.space_limited.store(free_bytes.is_some(), Ordering::SeqCst);
    }

    /// Bytes appends may still add, or `None` when space is unlimited.
    #[must_use]
    pub fn free_space_bytes(&self) -> Option<u64> {
        self.faults.space_limited.load(Ordering::SeqCst).then(|| self.faults.free_bytes.load(Ordering::SeqCst))
    }

    /// Makes every later `sync_data` take this long (a slow disk).
    pub fn set_sync_delay_ms(&self, delay_ms: u64) {
        self.faults.sync_delay_ms.store(delay_ms, Ordering::SeqCst);
    }

    /// Makes every later `sync_data` of a table (`.sst`) take this long besides: a flush or a
    /// compaction stays in progress that long while other writes go on.
    pub fn set_table_sync_delay_ms(&self, delay_ms: u64) {
        self.faults.table_sync_delay_ms.store(delay_ms, Ordering::SeqCst);
    }

    /// Whether non-blocking reads succeed (as if files were in the page cache); off by
    /// default, so cache-only reads stop at every uncached block.
    pub fn set_page_cache_hits(&self, hits: bool) {
        self.faults.page_cache_hits.store(hits, Ordering::SeqCst);
    }

    /// Whether WALs created or opened from now on take in-memory appends (as the real file
    /// system's mapped WAL does on Linux); off by default, so every commit takes the pool.
    /// In-memory appends skip fault injection: they are copies into memory.
    pub fn set_in_memory_appends(&self, on: bool) {
        self.faults.in_memory_appends.store(on, Ordering::SeqCst);
    }

    /// Makes every later positional read fail (or succeed again).
    pub fn fail_reads(&self, fail: bool) {
        self.faults.fail_reads.store(fail, Ordering::SeqCst);
    }

    /// Clears all injected faults.
    pub fn clear_faults(&self) {
        self.faults.fail_call_number.store(0, Ordering::SeqCst);
        self.faults.fail_from_call_number.store(0, Ordering::SeqCst);
        self.faults.fail_syncs.store(false, Ordering::SeqCst);
        self.faults.fail_reads.store(false, Ordering::SeqCst);
        self.faults.space_limited.store(false, Ordering::SeqCst);
    }

    /// Number of mutating calls so far.
    #[must_use]
    pub fn mutating_calls(&self) -> u64 {
        self.faults.mutating_calls.load(Ordering::SeqCst)
    }

    /// Number of positional reads so far (all files).
    #[must_use]
    pub fn read_calls(&self) -> u64 {
        self.faults.reads.load(Ordering::SeqCst)
    }

    /// Test helper: the live bytes of a file.
    #[must_use]
    pub fn file_bytes(&self, path: &Path) -> Option<Vec<u8>> {
        self.ns.lock().live.get(path).map(|n| n.lock().data.clone())
    }

    /// Test helper: overwrites the live bytes of a file (damage on purpose); keeps it durable.
    pub fn set_file_bytes(&self, path: &Path, data: Vec<u8>) {
        let ns = self.ns.lock();
        if let Some(node) = ns.live.get(path) {
            let mut inode = node.lock();
            inode.synced_len = data.len();
            inode.data = data;
        }
    }
}

impl MemStorage {
    /// A new empty file at `path` (a mutating call: it can be made to fail).
    fn new_inode(&self, path: &Path) -> io::Result<InodeRef> {
        self.faults.check("create")?;
        let inode = InodeRef::default();
        self.ns.lock().live.insert(path.to_path_buf(), Arc::clone(&inode));
        Ok(inode)
    }

    /// The file at `path` as a running process sees it.
    fn live_inode(&self, path: &Path) -> io::Result<InodeRef> {
        self.ns.lock().live.get(path).cloned().ok_or_else(|| not_found(path))
    }

    fn writable(&self, inode: InodeRef, path: &Path, in_memory: bool) -> Box<dyn WritableFile> {
        Box::new(MemWritable { inode, faults: Arc::clone(&self.faults), is_table: is_table_path(path), in_memory })
    }
}

struct MemWritable {
    inode: InodeRef,
    faults: Arc<Faults>,
    is_table: bool,
    /// A WAL opened while `in_memory_appends` was on.
    in_memory: bool,
}

fn is_table_path(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "sst")
}

impl WritableFile for MemWritable {
    fn append(&mut self, data: &[u8]) -> io::Result<()> {
        self.faults.check("append")?;
        let fits = self.faults.take_space(data.len());
        self.inode.lock().data.extend_from_slice(data.get(..fits).unwrap_or(data));
        if fits < data.len() {
            return Err(io::Error::new(io::ErrorKind::StorageFull, "No space left on device (injected)"));
        }
        Ok(())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        self.faults.check_sync("sync_data")?;
        let mut delay_ms = self.faults.sync_delay_ms.load(Ordering::SeqCst);
        if self.is_table {
            delay_ms += self.faults.table_sync_delay_ms.load(Ordering::SeqCst);
        }
        if delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        }
        let mut inode = self.inode.lock();
        inode.synced_len = inode.data.len();
        Ok(())
    }
    fn len_bytes(&self) -> u64 {
        self.inode.lock().data.len() as u64
    }
    fn append_in_memory(&mut self, data: &[u8]) -> bool {
        if self.in_memory {
            self.inode.lock().data.extend_from_slice(data);
        }
        self.in_memory
    }
    fn room_in_memory(&self) -> u64 {
        if self.in_memory {
            u64::MAX
        } else {
            0
        }
    }
}

struct MemReadable {
    inode: InodeRef,
    faults: Arc<Faults>,
}

impl ReadableFile for MemReadable {
    fn read_exact_at_nowait(&self, buf: &mut [u8], offset: u64) -> io::Result<bool> {
        if !self.faults.page_cache_hits.load(Ordering::SeqCst) {
            return Ok(false);
        }
        self.read_exact_at(buf, offset).map(|()| true)
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        self.faults.reads.fetch_add(1, Ordering::Relaxed);
        if self.faults.fail_reads.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected read failure"));
        }
        let inode = self.inode.lock();
        let start = usize::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
        let src = inode
            .data
            .get(start..start.saturating_add(buf.len()))
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "read past end of file"))?;
        buf.copy_from_slice(src);
        Ok(())
    }
    fn len_bytes(&self) -> u64 {
        self.inode.lock().data.len() as u64
    }
}

struct MemLock {
    ns: Arc<Mutex<Namespace>>,
    path: PathBuf,
}

impl LockHandle for MemLock {}

impl Drop for MemLock {
    fn drop(&mut self) {
        self.ns.lock().locks.remove(&self.path);
    }
}

impl Storage for MemStorage {
    fn create_dir_all(&self, dir: &Path) -> io::Result<()> {
        let mut ns = self.ns.lock();
        for ancestor in dir.ancestors() {
            ns.dirs.insert(ancestor.to_path_buf());
        }
        Ok(())
    }
    fn list_dir(&self, dir: &Path) -> io::Result<Vec<String>> {
        let ns = self.ns.lock();
        if !ns.dirs.contains(dir) {
            return Err(not_found(dir));
        }
        Ok(ns
            .live
            .keys()
            .filter(|p| p.parent() == Some(dir))
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect())
    }
    fn create(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(self.writable(self.new_inode(path)?, path, false))
    }
    fn open_log(&self, path: &Path, existing: bool, _reserve: u64, _window: u64) -> io::Result<Box<dyn WritableFile>> {
        let inode = if existing { self.live_inode(path)? } else { self.new_inode(path)? };
        Ok(self.writable(inode, path, self.faults.in_memory_appends.load(Ordering::SeqCst)))
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn WritableFile>> {
        Ok(self.writable(self.live_inode(path)?, path, false))
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadableFile>> {
        let inode = self.ns.lock().live.get(path).cloned().ok_or_else(|| not_found(path))?;
        Ok(Arc::new(MemReadable { inode, faults: Arc::clone(&self.faults) }))
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.faults.check("rename")?;
        let mut ns = self.ns.lock();
        let inode = ns.live.remove(from).ok_or_else(|| not_found(from))?;
        ns.live.insert(to.to_path_buf(), inode);
        Ok(())
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        self.faults.check("remove")?;
        self.ns.lock().live.remove(path).map(|_| ()).ok_or_else(|| not_found(path))
    }
    fn truncate(&self, path: &Path, len_bytes: u64) -> io::Result<()> {
        self.faults.check("truncate")?;
        let inode = self.ns.lock().live.get(path).cloned().ok_or_else(|| not_found(path))?;
        let len = usize::try_from(len_bytes).map_err(|_| io::Error::other("length too large"))?;
        let mut inode = inode.lock();
        inode.data.truncate(len);
        inode.synced_len = inode.data.len();
        Ok(())
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        self.faults.check_sync("sync_dir")?;
        let mut ns = self.ns.lock();
        ns.durable.retain(|p, _| p.parent() != Some(dir));
        let entries: Vec<(PathBuf, InodeRef)> =
            ns.live.iter().filter(|(p, _)| p.parent() == Some(dir)).map(|(p, n)| (p.clone(), Arc::clone(n))).collect();
        ns.durable.extend(entries);
        Ok(())
    }
    fn lock(&self, path: &Path) -> io::Result<Option<Box<dyn LockHandle>>> {
        let mut ns = self.ns.lock();
        if !ns.locks.insert(path.to_path_buf()) {
            return Ok(None);
        }
        Ok(Some(Box::new(MemLock { ns: Arc::clone(&self.ns), path: path.to_path_buf() })))
    }
}

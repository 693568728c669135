//! Reads every byte of one table file and reports what is wrong with it, without trusting
//! any of it: the SHA-256 of the whole file against its footer, the footer's and every
//! block's CRC, the index, the order of internal keys within and across blocks, and the
//! entry count. Shared by `verify` (report), `repair` (salvage the intact blocks) and
//! `import` of `.bdb` files (refuse anything short of perfect).

use std::cmp::Ordering;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::engine::error::{IoContext, Result};
use crate::engine::key::{compare_internal, Kind};
use crate::engine::range_del::{inclusive_end, RangeTombstone};
use crate::engine::storage::{ReadableFile, Storage};
use crate::engine::table::block::{decode_stored, Block};
use crate::engine::table::format::{
    BlockHandle, Footer, Header, BLOCK_TRAILER_BYTES, FLAG_HAS_RANGE_DELETES, FOOTER_BYTES, HEADER_BYTES,
};
use crate::engine::table::reader::{decode_range_deletes, range_delete_handle};

/// Bytes hashed per read while checking the SHA-256 (bounded memory for any table size).
const HASH_CHUNK_BYTES: usize = 1024 * 1024;

/// The kind of a problem `verify` or `repair` found (the JS `kind` string).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    /// A CRC or SHA-256 does not match the bytes.
    Checksum,
    /// Bytes that cannot be decoded (bad magic, malformed block, truncated file).
    Format,
    /// Keys out of order.
    Order,
    /// Two records that must agree do not (MANIFEST against the file, footer counts).
    Mismatch,
    /// A file the MANIFEST names is absent.
    Missing,
    /// The file could not be read.
    Io,
    /// A secondary index does not match its data.
    Index,
}

impl ProblemKind {
    /// The stable name used in reports.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Checksum => "checksum",
            Self::Format => "format",
            Self::Order => "order",
            Self::Mismatch => "mismatch",
            Self::Missing => "missing",
            Self::Io => "io",
            Self::Index => "index",
        }
    }
}

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file's name within the database directory (or its path).
    pub file: String,
    /// Byte offset of the damage (0 when it concerns the whole file).
    pub offset: u64,
    /// What sort of problem.
    pub kind: ProblemKind,
    /// A sentence for people.
    pub message: String,
}

impl Problem {
    /// A problem at `offset` of `file`.
    pub fn new(file: &str, offset: u64, kind: ProblemKind, message: impl Into<String>) -> Self {
        Self { file: file.to_owned(), offset, kind, message: message.into() }
    }
}

/// One entry of an intact block, handed to the `visit` callback of [`check_table`].
pub struct CheckedEntry<'a> {
    /// Stored key (keyspace tag + user key).
    pub key: &'a [u8],
    /// Sequence number.
    pub seq: u64,
    /// Kind.
    pub kind: Kind,
    /// Expiry for `PutWithExpiry`.
    pub expiry_ms: u64,
    /// Value bytes.
    pub value: &'a [u8],
}

/// What checking one table found.
#[derive(Debug, Default, Clone)]
pub struct TableCheck {
    /// Header (when it decoded).
    pub header: Option<Header>,
    /// Footer (when it decoded).
    pub footer: Option<Footer>,
    /// Entries in intact, ordered blocks.
    pub entries: u64,
    /// Range tombstones of an intact range-delete block (not counted in `entries`).
    pub range_deletes: Vec<RangeTombstone>,
    /// Bytes of the file.
    pub bytes: u64,
    /// Smallest stored key seen (or range-delete start), as the MANIFEST records it.
    pub smallest: Vec<u8>,
    /// Largest stored key seen (or range-delete end), as the MANIFEST records it.
    pub largest: Vec<u8>,
    /// Largest sequence number seen.
    pub max_seq: u64,
    /// Everything wrong; empty for a perfect table.
    pub problems: Vec<Problem>,
}

impl TableCheck {
    fn problem(&mut self, name: &str, offset: u64, kind: ProblemKind, message: impl Into<String>) {
        self.problems.push(Problem::new(name, offset, kind, message));
    }
}

/// Checks the table at `path` (`name` labels problems). `visit` sees every entry of every
/// intact, well-ordered data block, in file order; `progress` is told of bytes read.
pub fn check_table(
    storage: &dyn Storage,
    path: &Path,
    name: &str,
    visit: &mut dyn FnMut(CheckedEntry<'_>) -> Result<()>,
    progress: &mut dyn FnMut(u64),
) -> Result<TableCheck> {
    let mut check = TableCheck::default();
    let file = match storage.open_read(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            check.problem(name, 0, ProblemKind::Missing, "the file is missing");
            return Ok(check);
        }
        Err(e) => {
            check.problem(name, 0, ProblemKind::Io, format!("cannot open: {e}"));
            return Ok(check);
        }
    };
    let len = file.len_bytes();
    check.bytes = len;
    if len < (HEADER_BYTES + FOOTER_BYTES) as u64 {
        check.problem(name, 0, ProblemKind::Format, "file too short to be a table");
        return Ok(check);
    }
    let footer_at = len - FOOTER_BYTES as u64;
    let sha = hash_prefix(file.as_ref(), footer_at, name, progress)?;
    let mut head = [0u8; HEADER_BYTES];
    file.read_exact_at(&mut head, 0).ctx(|| format!("reading {name}"))?;
    match Header::decode(&head) {
        Ok(h) => check.header = Some(h),
        Err(what) => check.problem(name, 0, ProblemKind::Format, what),
    }
    let mut foot = [0u8; FOOTER_BYTES];
    file.read_exact_at(&mut foot, footer_at).ctx(|| format!("reading {name}"))?;
    let footer = match Footer::decode(&foot) {
        Ok(f) => f,
        Err(what) => {
            check.problem(name, footer_at, ProblemKind::Format, what);
            return Ok(check);
        }
    };
    if footer.sha256 != sha {
        check.problem(name, 0, ProblemKind::Checksum, "SHA-256 of the file does not match its footer");
    }
    check_blocks(file.as_ref(), footer_at, &footer, name, &mut check, visit)?;
    if check.header.as_ref().is_some_and(|h| h.flags & FLAG_HAS_RANGE_DELETES != 0) {
        check_range_deletes(file.as_ref(), footer_at, &footer, name, &mut check)?;
    }
    progress(FOOTER_BYTES as u64);
    check.footer = Some(footer);
    Ok(check)
}

/// Reads the range-delete block (between the index block and the footer), checks it, and
/// widens the key range and sequence number seen by its tombstones, as the builder does.
fn check_range_deletes(
    file: &dyn ReadableFile,
    footer_at: u64,
    footer: &Footer,
    name: &str,
    check: &mut TableCheck,
) -> Result<()> {
    let Some(handle) = range_delete_handle(footer, footer_at) else {
        check.problem(name, footer_at, ProblemKind::Format, "range-delete block missing");
        return Ok(());
    };
    let block = match read_block(file, handle, footer_at)? {
        Ok(b) => b,
        Err(what) => {
            check.problem(name, handle.offset, ProblemKind::Checksum, format!("range-delete block: {what}"));
            return Ok(());
        }
    };
    let Some(tombstones) = decode_range_deletes(&block) else {
        check.problem(name, handle.offset, ProblemKind::Format, "malformed range-delete block");
        return Ok(());
    };
    for t in &tombstones {
        if check.smallest.is_empty() || t.start < check.smallest {
            check.smallest.clone_from(&t.start);
        }
        let end = inclusive_end(&t.end);
        if end > check.largest.as_slice() {
            check.largest = end.to_vec();
        }
        check.max_seq = check.max_seq.max(t.seq);
    }
    check.range_deletes = tombstones;
    Ok(())
}

/// SHA-256 of the first `len` bytes, read in bounded chunks.
fn hash_prefix(file: &dyn ReadableFile, len: u64, name: &str, progress: &mut dyn FnMut(u64)) -> Result<[u8; 32]> {
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; HASH_CHUNK_BYTES];
    let mut offset = 0u64;
    while offset < len {
        let n = usize::try_from(len - offset).unwrap_or(usize::MAX).min(HASH_CHUNK_BYTES);
        let chunk = buf.get_mut(..n).unwrap_or_default();
        file.read_exact_at(chunk, offset).ctx(|| format!("reading {name} at {offset}"))?;
        sha.update(&*chunk);
        offset += n as u64;
        progress(n as u64);
    }
    Ok(sha.finalize().into())
}

/// Reads and checks one block; `Err(message)` if its bytes do not hold.
fn read_block(file: &dyn ReadableFile, handle: BlockHandle, footer_at: u64) -> Result<Result<Block, &'static str>> {
    let len = handle.size as usize + BLOCK_TRAILER_BYTES;
    if handle.offset < HEADER_BYTES as u64 || handle.offset.saturating_add(len as u64) > footer_at {
        return Ok(Err("block handle outside the file's block region"));
    }
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, handle.offset).ctx(|| format!("reading block at {}", handle.offset))?;
    Ok(decode_stored(&buf).and_then(Block::new))
}

/// Walks the index and every data block; the filter block's CRC too.
fn check_blocks(
    file: &dyn ReadableFile,
    footer_at: u64,
    footer: &Footer,
    name: &str,
    check: &mut TableCheck,
    visit: &mut dyn FnMut(CheckedEntry<'_>) -> Result<()>,
) -> Result<()> {
    if footer.filter.size > 0 {
        if let Err(what) = read_raw_block(file, footer.filter, footer_at)? {
            check.problem(name, footer.filter.offset, ProblemKind::Checksum, format!("filter block: {what}"));
        }
    }
    let index = match read_block(file, footer.index, footer_at)? {
        Ok(b) => b,
        Err(what) => {
            check.problem(name, footer.index.offset, ProblemKind::Checksum, format!("index block: {what}"));
            return Ok(());
        }
    };
    let mut handles = Vec::new();
    let mut it = index.iter();
    while let Some(e) = it.next_entry() {
        match BlockHandle::decode(e.value) {
            Some(h) => handles.push(h),
            None => check.problem(name, footer.index.offset, ProblemKind::Format, "bad block handle in the index"),
        }
    }
    if it.is_corrupt() {
        check.problem(name, footer.index.offset, ProblemKind::Format, "malformed index block");
    }
    let mut last: Option<(Vec<u8>, u64)> = None;
    let mut entries_total = 0u64;
    for handle in handles {
        let block = match read_block(file, handle, footer_at)? {
            Ok(b) => b,
            Err(what) => {
                check.problem(name, handle.offset, ProblemKind::Checksum, format!("data block: {what}"));
                continue;
            }
        };
        entries_total += check_data_block(&block, handle, name, check, &mut last, visit)?;
    }
    if check.problems.is_empty() && entries_total != footer.entry_count {
        let message = format!("footer counts {} entries, the blocks hold {entries_total}", footer.entry_count);
        check.problem(name, footer_at, ProblemKind::Mismatch, message);
    }
    Ok(())
}

fn read_raw_block(file: &dyn ReadableFile, handle: BlockHandle, footer_at: u64) -> Result<Result<(), &'static str>> {
    let len = handle.size as usize + BLOCK_TRAILER_BYTES;
    if handle.offset.saturating_add(len as u64) > footer_at {
        return Ok(Err("block handle past the footer"));
    }
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, handle.offset).ctx(|| format!("reading block at {}", handle.offset))?;
    Ok(decode_stored(&buf).map(drop))
}

/// Checks one decoded data block's entries and their order after `last`; a block that is
/// malformed or out of order is reported and none of its entries are visited.
fn check_data_block(
    block: &Block,
    handle: BlockHandle,
    name: &str,
    check: &mut TableCheck,
    last: &mut Option<(Vec<u8>, u64)>,
    visit: &mut dyn FnMut(CheckedEntry<'_>) -> Result<()>,
) -> Result<u64> {
    let mut it = block.iter();
    let mut previous = last.clone();
    let mut count = 0u64;
    while let Some(e) = it.next_entry() {
        if let Some((key, seq)) = &previous {
            if compare_internal(key, *seq, it.key(), e.seq) != Ordering::Less {
                check.problem(name, handle.offset, ProblemKind::Order, "keys out of order");
                return Ok(0);
            }
        }
        previous = Some((it.key().to_vec(), e.seq));
        count += 1;
    }
    if it.is_corrupt() {
        check.problem(name, handle.offset, ProblemKind::Format, "malformed data block");
        return Ok(0);
    }
    let mut it = block.iter();
    while let Some(e) = it.next_entry() {
        if check.entries == 0 {
            check.smallest = it.key().to_vec();
        }
        check.entries += 1;
        check.largest.clear();
        check.largest.extend_from_slice(it.key());
        check.max_seq = check.max_seq.max(e.seq);
        visit(CheckedEntry { key: it.key(), seq: e.seq, kind: e.kind, expiry_ms: e.expiry_ms, value: e.value })?;
    }
    *last = previous;
    Ok(count)
}

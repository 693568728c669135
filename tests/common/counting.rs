//! A global allocator for accounting tests: forwards to the system allocator and counts the
//! bytes held, at the chunk sizes glibc malloc takes (`memtable::malloc_bytes`). A test binary
//! installs it with `#[global_allocator] static GLOBAL: Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use browserdb::engine::memtable::malloc_bytes;

/// The counting allocator.
pub struct Counting;

static CHUNKS: AtomicUsize = AtomicUsize::new(0);

/// Bytes allocated and not yet freed, in malloc chunks.
pub fn chunks() -> usize {
    CHUNKS.load(Ordering::Relaxed)
}

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CHUNKS.fetch_add(malloc_bytes(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CHUNKS.fetch_sub(malloc_bytes(layout.size()), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

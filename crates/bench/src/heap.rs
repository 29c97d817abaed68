//! Peak heap of an operation: a counting wrapper around the system allocator.
//!
//! The `conclave-bench` binary installs [`CountingAllocator`] as its `#[global_allocator]`.
//! It keeps two process-wide counters: the bytes currently allocated and the highest value
//! that count has reached. [`measure_peak`] lowers the peak to the current level, runs a
//! closure and reads the peak back: the result is how far the heap rose above its level at
//! the closure's start, whatever the closure freed in between. Bytes are the sizes the
//! program asked for (`Layout::size`), not what the system allocator reserved for them.
//!
//! This is the only module of the crate with unsafe code: `GlobalAlloc` is an unsafe trait,
//! so a counting allocator needs one `unsafe impl`. Its methods only forward to
//! [`System`] under the same contract and update the counters.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Bytes currently allocated through [`CountingAllocator`].
static CURRENT: AtomicUsize = AtomicUsize::new(0);
/// The highest value [`CURRENT`] reached since the last [`measure_peak`] started.
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Successful allocations so far, to tell whether the allocator is installed.
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// Each counter is one atomic changed only by read-modify-write operations, so every update
// is counted exactly once whatever the ordering; `Relaxed` is enough because no other memory
// is published through them. The measured closure's threads (rayon) are joined before the
// peak is read, and that join orders their updates before the read.
const ORDER: Ordering = Ordering::Relaxed;

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, ORDER).wrapping_add(bytes);
    if now > PEAK.load(ORDER) {
        PEAK.fetch_max(now, ORDER);
    }
}

fn shrank(bytes: usize) {
    CURRENT.fetch_sub(bytes, ORDER);
}

/// The system allocator, counting the bytes it hands out (see the module documentation).
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

// SAFETY: every method calls the same method of `System` with the caller's arguments, so
// each returns exactly what `System` returns under the contract `System` satisfies; the
// counters are updated only after a successful (non-null) allocation or before a
// deallocation, and never touch the memory itself.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantee (non-zero size).
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            ALLOCATIONS.fetch_add(1, ORDER);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantee (non-zero size).
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            ALLOCATIONS.fetch_add(1, ORDER);
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        // SAFETY: forwarded with the caller's guarantee (`ptr` came from this allocator,
        // which is `System`, with `layout`).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's guarantees (`ptr` from this allocator with
        // `layout`, `new_size` non-zero and not overflowing when rounded to the alignment).
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            // On failure the old block stays allocated and nothing changes.
            let old = layout.size();
            if new_size >= old {
                grew(new_size - old);
            } else {
                shrank(old - new_size);
            }
        }
        new
    }
}

/// Whether [`CountingAllocator`] is the global allocator of this process: a fresh
/// allocation must move its counter.
pub fn is_counting() -> bool {
    let before = ALLOCATIONS.load(ORDER);
    let probe = std::hint::black_box(Box::new(0u64));
    drop(probe);
    ALLOCATIONS.load(ORDER) != before
}

/// The bytes currently allocated (0 when [`CountingAllocator`] is not installed).
pub fn current_bytes() -> usize {
    CURRENT.load(ORDER)
}

/// Runs `f` and returns its result with the peak heap it caused: the highest number of
/// allocated bytes while it ran, minus the number at its start (memory `f` returns is
/// included). `None` when [`CountingAllocator`] is not the global allocator. Allocations of
/// other threads running at the same time count too: measure with nothing else running.
pub fn measure_peak<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    let counting = is_counting();
    let base = CURRENT.load(ORDER);
    PEAK.store(base, ORDER);
    let value = f();
    let peak = PEAK.load(ORDER);
    let above = u64::try_from(peak.saturating_sub(base)).unwrap_or(u64::MAX);
    (value, counting.then_some(above))
}

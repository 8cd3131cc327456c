//! A global allocator that counts live bytes and refuses to go past a ceiling.
//!
//! A worker sets the ceiling; past it an allocation returns null, which Rust turns into an
//! abort ("memory allocation of N bytes failed") that the supervisor sees and records. A library
//! that handles the failure itself (`try_reserve`) is caught too: the refusal is remembered and
//! the worker reports it after the case.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

/// The counting allocator; installed in `main.rs`.
pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CEILING: AtomicUsize = AtomicUsize::new(usize::MAX);
static REFUSED: AtomicBool = AtomicBool::new(false);

/// Sets the most bytes that may be live at once.
pub fn set_ceiling(bytes: usize) {
    CEILING.store(bytes, Relaxed);
}

/// Starts measuring one case: the peak restarts from what is live now.
pub fn start_case() -> usize {
    let live = LIVE.load(Relaxed);
    PEAK.store(live, Relaxed);
    REFUSED.store(false, Relaxed);
    live
}

/// The most bytes live at once since [`start_case`].
pub fn peak() -> usize {
    PEAK.load(Relaxed)
}

/// Whether an allocation was refused since [`start_case`].
pub fn refused() -> bool {
    REFUSED.load(Relaxed)
}

fn reserve(bytes: usize) -> bool {
    let live = LIVE.fetch_add(bytes, Relaxed).saturating_add(bytes);
    if live > CEILING.load(Relaxed) {
        LIVE.fetch_sub(bytes, Relaxed);
        REFUSED.store(true, Relaxed);
        return false;
    }
    PEAK.fetch_max(live, Relaxed);
    true
}

fn release(bytes: usize) {
    LIVE.fetch_sub(bytes, Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc(layout);
        if p.is_null() {
            release(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !reserve(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = System.alloc_zeroed(layout);
        if p.is_null() {
            release(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        release(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !reserve(new_size - old) {
            return std::ptr::null_mut();
        }
        let p = System.realloc(ptr, layout, new_size);
        if p.is_null() {
            if new_size > old {
                release(new_size - old);
            }
        } else if new_size < old {
            release(old - new_size);
        }
        p
    }
}

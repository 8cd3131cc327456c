//! How much a stream reader allocates for input whose segment table claims far more than it
//! sends. A counting global allocator records the peak of the bytes live on the test's thread
//! while a read runs, counting a `realloc` as holding the old and the new block at once (as a
//! moving one does for a moment). The documented bound is
//!
//! ```text
//! peak <= 3 * (bytes received, after unpacking) + 64 KiB (the first buffer) + 16 KiB
//! ```
//!
//! The buffer doubles only once the bytes received fill it, so it is at most twice what
//! arrived, and the old one, the size of what arrived, may be live while it moves; the last
//! 16 KiB cover the error, the segment list and other small allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use serde::de::IgnoredAny;
use serde_capnp::framing;
use serde_capnp::{ReadOptions, Schema, StructSchema};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn note(delta: isize) {
    // `try_with`: the thread's counters may be gone while it shuts down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            // A move holds both blocks for a moment; count the new one in full first.
            note(new_size as isize);
            note(-(layout.size() as isize));
        }
        p
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// The most bytes live at once on this thread while `f` runs, beyond those live before it.
fn peak_of<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let start = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(start));
    let r = f();
    let peak = PEAK.with(Cell::get) - start;
    (peak.max(0) as usize, r)
}

const FIRST_BUFFER: usize = 64 * 1024;
const SMALL: usize = 16 * 1024;

/// The documented bound for `received` bytes (after unpacking).
fn bound(received: usize) -> usize {
    3 * received + FIRST_BUFFER + SMALL
}

fn table(sizes: &[u32]) -> Vec<u8> {
    let mut out = (sizes.len() as u32 - 1).to_le_bytes().to_vec();
    for s in sizes {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out.resize(out.len().div_ceil(8) * 8, 0);
    out
}

fn point_type() -> StructSchema {
    Schema::parse(
        "point.capnp",
        "@0xbf5147cbbecf40c1;\nstruct Point { x @0 :Float64; y @1 :Float64; }\n",
    )
    .unwrap()
    .struct_type("Point")
    .unwrap()
}

fn lifted() -> ReadOptions {
    ReadOptions {
        traversal_limit_in_words: 1 << 40,
        ..ReadOptions::default()
    }
}

/// Inputs whose tables claim far more than follows: what each sends, and the claim.
fn liars() -> Vec<(&'static str, Vec<u8>)> {
    let with_body = |sizes: &[u32], body: usize| {
        let mut b = table(sizes);
        b.extend((0..body).map(|i| (i % 251) as u8));
        b
    };
    vec![
        ("8 bytes claiming 33 GB", vec![0, 0, 0, 0, 0x1d, 0, 0, 0xf6]),
        ("a table claiming 64 MiB", table(&[8 << 20])),
        ("a table claiming 2^32-1 words, then 1 MiB", {
            with_body(&[u32::MAX], 1 << 20)
        }),
        ("512 segments of 2^23 words, then 100 KiB", {
            with_body(&[1 << 23; 512], 100 << 10)
        }),
        ("two segments, the second huge, then 300 KiB", {
            with_body(&[10, 1 << 30], 300 << 10)
        }),
    ]
}

#[test]
fn reading_what_a_table_claims_allocates_only_what_arrives() {
    let st = point_type();
    for options in [ReadOptions::default(), lifted()] {
        let st = st.clone().with_read_options(options);
        for (what, input) in liars() {
            let n = input.len();
            let (peak, r) = peak_of(|| framing::read_message(&input[..], &options));
            assert!(r.is_err(), "{what}: read as Ok");
            eprintln!(
                "{what} (traversal limit {}): {n} bytes in, peak {peak} bytes",
                options.traversal_limit_in_words
            );
            assert!(peak <= bound(n), "{what}: {peak} bytes for {n}");
            let (peak, r) = peak_of(|| st.from_reader::<_, IgnoredAny>(&input[..]));
            assert!(r.is_err(), "{what}: read as Ok");
            assert!(
                peak <= bound(n),
                "{what}: from_reader, {peak} bytes for {n}"
            );
            let (peak, r) = peak_of(|| {
                st.iter_from_reader::<_, IgnoredAny>(&input[..])
                    .collect::<Vec<_>>()
            });
            assert!(r.len() == 1 && r[0].is_err(), "{what}: stream");
            assert!(peak <= bound(n), "{what}: stream, {peak} bytes for {n}");

            // Packed, the same bytes unpack to at most about as many again.
            let packed = serde_capnp::packing::pack(&input);
            let (peak, r) = peak_of(|| st.from_reader_packed::<_, IgnoredAny>(&packed[..]));
            assert!(r.is_err(), "{what}: packed read as Ok");
            assert!(peak <= bound(n), "{what}: packed, {peak} bytes for {n}");
        }
    }
}

#[test]
fn a_stream_of_zero_runs_allocates_in_step_with_what_it_unpacks_to() {
    // A table claiming 2^22 words (32 MiB), then zero runs: every two bytes are 2 KiB.
    let runs = 1000;
    let mut packed = vec![0x40, 0x40];
    packed.extend([0u8, 255].repeat(runs));
    let unpacked = runs * 256 * 8;
    for options in [ReadOptions::default(), lifted()] {
        let (peak, r) = peak_of(|| framing::read_packed_message(&packed[..], &options));
        let err = r.unwrap_err();
        assert_eq!(err.message(), "message is truncated");
        assert!(peak <= bound(unpacked), "{peak} bytes for {unpacked}");
    }
    // Without a table, flat packed data is bounded by the traversal limit.
    let bomb = [0u8, 255].repeat(64 << 10);
    let limit = ReadOptions {
        traversal_limit_in_words: 1 << 20,
        ..ReadOptions::default()
    };
    let (peak, r) = peak_of(|| framing::read_flat_packed(&bomb[..], &limit));
    assert!(r.is_err());
    assert!(peak <= bound(8 << 20), "{peak}");
    let (peak, r) = peak_of(|| serde_capnp::packing::unpack_with_limit(&bomb, 1 << 20));
    assert!(r.is_err());
    assert!(peak <= bound(8 << 20), "{peak}");
    // 128 KiB of packed input would be 128 MiB: the default limit stops it at 64 MiB.
    let (peak, r) = peak_of(|| serde_capnp::packing::unpack(&bomb));
    assert!(r.is_err());
    assert!(peak <= bound(64 << 20), "{peak}");
}

#[test]
fn an_honest_message_is_read_with_one_buffer_of_its_size() {
    // 1 MiB of segment: the buffer doubles up to it and no further.
    let mut input = table(&[1 << 17]);
    input.extend(std::iter::repeat_n(0x11u8, 1 << 20));
    let (peak, r) = peak_of(|| framing::read_message(&input[..], &ReadOptions::default()));
    let message = r.unwrap().unwrap();
    assert_eq!(message.word_count(), 1 << 17);
    drop(message);
    assert!(peak <= bound(1 << 20), "{peak}");
    assert!(peak >= 1 << 20, "{peak}");
}

//! The memory contract (docs/limits.md): with default `ReadOptions`, no read path allocates more
//! than a fixed multiple of the message it reads, whatever the message claims. A counting
//! allocator measures each read's peak on its own thread.
//!
//! The hostile messages are the amplifiers Cap'n Proto allows: lists of millions of zero-size
//! elements in a few words, many pointers to one blob, structs shorter than their schema
//! (every field then reads as its default), and deep self-reference.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use serde_capnp::{Category, ReadOptions, Schema, StructSchema};
use serde_capnp_suite::fixtures::addressbook::AddressBook;

#[allow(unused_macros, unused_imports)]
mod common;

use common::words::*;

/// A one-segment message of `words`, with its segment table.
fn one_segment(words: &[u64]) -> Vec<u8> {
    frame(&[words.to_vec()])
}

// -------------------------------------------------------------------------------------------
// A per-thread counting allocator
// -------------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn add(n: usize) {
    // `try_with`: the allocator also runs while thread locals are torn down.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + n;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

fn sub(n: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(n)));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        System.alloc(layout)
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size());
        System.alloc_zeroed(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        sub(layout.size());
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size);
        sub(layout.size());
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns what it returned and the most it had allocated at once (beyond what
/// was live when it started).
fn peak<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let r = f();
    (r, PEAK.with(Cell::get) - base)
}

// -------------------------------------------------------------------------------------------
// The contract
// -------------------------------------------------------------------------------------------

/// The most a read of an `n`-byte message may allocate, for the decoders that build a value
/// (typed, `Value`, `deserialize_any`, JSON and text output): see docs/limits.md. Messages
/// count as at least 8 KiB, the amplification allowance's floor.
fn bound(n: usize) -> usize {
    BYTES_PER_MESSAGE_BYTE * n.max(8 * 1024)
}

/// The documented multiple (docs/limits.md).
const BYTES_PER_MESSAGE_BYTE: usize = 256;

fn addressbook() -> StructSchema {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/addressbook.capnp");
    Schema::load(path)
        .unwrap()
        .struct_type("AddressBook")
        .unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.split_whitespace().collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An AddressBook whose `people` is a list of `count` zero-size structs: 32 bytes for any
/// count up to 2^29 - 1.
fn zero_size_people(count: u32) -> Vec<u8> {
    one_segment(&[
        struct_ptr(0, 0, 1),
        list_ptr(0, 7, 0),
        struct_ptr(count as i32, 0, 0),
    ])
}

/// Every way a message can be read into memory, each with its peak allocation.
fn every_read(st: &StructSchema, bytes: &[u8]) -> Vec<(&'static str, Category, usize)> {
    fn outcome<T>(r: serde_capnp::Result<T>) -> Category {
        match r {
            Ok(_) => Category::Data, // stands for "accepted": the peak is what matters
            Err(e) => e.category(),
        }
    }
    let mut out = Vec::new();
    let mut run = |name, f: &dyn Fn() -> Category| {
        let (c, p) = peak(f);
        out.push((name, c, p));
    };
    run("typed", &|| outcome(st.from_slice::<AddressBook>(bytes)));
    run("read_value", &|| outcome(st.read_value(bytes)));
    run("deserialize_any", &|| {
        outcome(st.from_slice::<serde_json::Value>(bytes))
    });
    run("to_json", &|| outcome(st.to_json(bytes)));
    run("to_text", &|| outcome(st.to_text(bytes)));
    run("dynamic to_value", &|| {
        outcome(st.reader(bytes).and_then(|m| m.root()?.to_value()))
    });
    run("dynamic list walk", &|| {
        outcome(st.reader(bytes).and_then(|m| {
            let people = m.root()?.get("people")?.into_list()?;
            let mut kept = Vec::new();
            for p in people.iter() {
                kept.push(p?.to_value()?);
            }
            Ok(kept)
        }))
    });
    run("dynamic deserialize", &|| {
        outcome(
            st.reader(bytes)
                .and_then(|m| m.root()?.deserialize::<AddressBook>()),
        )
    });
    out
}

#[test]
fn the_32_byte_address_book_of_8_million_people() {
    let bytes = hex("0000000003000000 0000000000000100 0100000007000000 00ffff0100000000");
    assert_eq!(bytes, zero_size_people(8_388_544));
    let st = addressbook();
    for (name, outcome, peak) in every_read(&st, &bytes) {
        assert_eq!(outcome, Category::Limit, "{name}");
        assert!(
            peak <= bound(bytes.len()),
            "{name} allocated {peak} bytes for a {}-byte message",
            bytes.len()
        );
    }
}

#[test]
fn zero_size_lists_of_every_length_stay_within_the_bound() {
    let st = addressbook();
    for count in [0, 1, 100, 1_000, 10_000, 100_000, (1 << 29) - 1] {
        let bytes = zero_size_people(count);
        for (name, _, peak) in every_read(&st, &bytes) {
            assert!(
                peak <= bound(bytes.len()),
                "{name} allocated {peak} bytes for {count} zero-size people"
            );
        }
    }
}

#[test]
fn a_short_list_of_zero_size_people_still_reads() {
    // Zero-size elements are legal: an older schema's empty struct. A few of them read, each
    // person with every field at its default.
    let st = addressbook();
    let book: AddressBook = st.from_slice(&zero_size_people(50)).unwrap();
    assert_eq!(book.people.len(), 50);
    assert_eq!(book.people[0].name, "");
    let json = st.to_json(&zero_size_people(50)).unwrap();
    assert_eq!(json.matches("\"id\"").count(), 50);
}

/// An AddressBook whose `people` has `n` elements of one data word and one pointer each,
/// every `name` pointing at one shared Text of `text_words` words.
fn shared_names(n: u32, text_words: u32) -> Vec<u8> {
    // Person: 1 data word (id), 4 pointers (name, email, phones, employment group lives in
    // data); only the layout of `name` (pointer 0) matters here.
    let (data, ptrs) = (1u16, 4u16);
    let elem = (data + ptrs) as u32;
    let mut words = vec![
        struct_ptr(0, 0, 1),
        list_ptr(0, 7, n * elem),
        struct_ptr(n as i32, data, ptrs),
    ];
    let list_start = words.len();
    let text_at = list_start + (n * elem) as usize;
    for i in 0..n as usize {
        words.push(i as u64);
        let at = list_start + i * elem as usize + data as usize;
        let offset = text_at as i32 - at as i32 - 1;
        words.push(list_ptr(offset, 2, text_words * 8));
        words.extend([0, 0, 0]);
    }
    for _ in 0..text_words {
        words.push(u64::from_le_bytes(*b"abcdefgh"));
    }
    // The Text's last byte is its NUL.
    let last = words.len() - 1;
    words[last] &= 0x00ff_ffff_ffff_ffff;
    one_segment(&words)
}

#[test]
fn many_pointers_to_one_text_stay_within_the_bound() {
    let st = addressbook();
    // 1,000 people naming one 64 KiB text: 64 MiB decoded, from a 104 KiB message.
    let bytes = shared_names(1_000, 8 * 1024);
    for (name, outcome, peak) in every_read(&st, &bytes) {
        assert_eq!(outcome, Category::Limit, "{name}");
        assert!(peak <= bound(bytes.len()), "{name} allocated {peak} bytes");
    }
    // Sharing within the allowance is read: 4 people naming one text.
    let book: AddressBook = st.from_slice(&shared_names(4, 64)).unwrap();
    assert!(book.people.iter().all(|p| p.name.len() == 511));
}

#[test]
fn the_dynamic_reader_shares_one_budget_between_its_decodes() {
    let st = addressbook().with_read_options(ReadOptions {
        amplification_limit: 0,
        ..ReadOptions::default()
    });
    // 1,000 people naming one 1 MiB text; each decode alone is within the traversal limit,
    // all of them together are not.
    let bytes = shared_names(1_000, 128 * 1024);
    let message = st.reader(&bytes).unwrap();
    let people = message
        .root()
        .unwrap()
        .get("people")
        .unwrap()
        .into_list()
        .unwrap();
    let mut decoded = 0;
    let err = loop {
        match people.get(decoded).and_then(|p| p.to_value()) {
            Ok(_) => decoded += 1,
            Err(e) => break e,
        }
        assert!(decoded < 1_000, "every decode was allowed");
    };
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    assert!(decoded < 70, "{decoded} decodes of 1 MiB each");
    // So is every later read through the same reader.
    let err = message.root().unwrap().to_value().unwrap_err();
    assert_eq!(err.category(), Category::Limit);
}

#[test]
fn the_amplification_limit_can_be_lifted() {
    let st = addressbook().with_read_options(ReadOptions::default().amplification_limit(0));
    let book: AddressBook = st.from_slice(&shared_names(100, 64)).unwrap();
    assert_eq!(book.people.len(), 100);
    let strict = addressbook().with_read_options(
        ReadOptions::default()
            .amplification_limit(1)
            .traversal_limit_in_words(u64::MAX),
    );
    let err = strict
        .from_slice::<AddressBook>(&shared_names(100, 64))
        .unwrap_err();
    assert_eq!(err.category(), Category::Limit);
}

// -------------------------------------------------------------------------------------------
// The writer and announced lengths
// -------------------------------------------------------------------------------------------

/// A struct with one field, written through `serialize_struct`, whose value is a sequence
/// that announces `announced` elements and gives `given`.
struct Lying {
    field: &'static str,
    announced: Option<usize>,
    given: usize,
}

impl serde::Serialize for Lying {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        struct Seq(Option<usize>, usize);
        impl serde::Serialize for Seq {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeSeq;
                let mut seq = s.serialize_seq(self.0)?;
                for i in 0..self.1 {
                    seq.serialize_element(&(i as u8))?;
                }
                seq.end()
            }
        }
        let mut st = s.serialize_struct("AllTypes", 1)?;
        st.serialize_field(self.field, &Seq(self.announced, self.given))?;
        st.end()
    }
}

fn all_types() -> StructSchema {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/alltypes.capnp");
    Schema::load(path).unwrap().struct_type("AllTypes").unwrap()
}

#[test]
fn announced_lengths_cost_nothing_until_the_elements_come() {
    let st = all_types();
    for field in [
        "dataField",
        "int32List",
        "uint8List",
        "textList",
        "structList",
    ] {
        for announced in [usize::MAX, 1 << 40, 1 << 28, (1 << 29) - 1, 100_000] {
            let lie = Lying {
                field,
                announced: Some(announced),
                given: 3,
            };
            let (r, p) = peak(|| st.to_vec(&lie));
            assert!(p < 1 << 21, "{field} announcing {announced}: {p} bytes");
            // Three elements where millions were announced: an error, or (for Data, whose
            // bytes are gathered anyway) the three bytes.
            if let Err(e) = r {
                assert_ne!(e.category(), Category::Io, "{e:?}");
            }
        }
    }
}

#[test]
fn an_honest_long_list_is_written_whatever_path_it_takes() {
    let st = all_types();
    // 2 MiB of Int32s, longer than the writer believes without seeing them.
    let n = 512 * 1024;
    let honest = Lying {
        field: "int32List",
        announced: Some(n),
        given: n,
    };
    let unannounced = Lying {
        field: "int32List",
        announced: None,
        given: n,
    };
    let a = st.to_vec(&honest).unwrap();
    let b = st.to_vec(&unannounced).unwrap();
    assert_eq!(a, b);
    let v = st.read_value(&a).unwrap();
    assert_eq!(v["int32List"].as_list().unwrap().len(), n);
    // Too few, and too many, against what was announced: an error whether the list was laid
    // out at once (a handle that has written a message that long) or gathered first (a new
    // handle).
    for given in [n - 1, n + 1] {
        let lie = Lying {
            field: "int32List",
            announced: Some(n),
            given,
        };
        for handle in [&st, &all_types()] {
            let err = handle.to_vec(&lie).unwrap_err();
            assert_eq!(err.category(), Category::Data, "{err:?}");
            assert!(err.to_string().contains("announced"), "{err}");
        }
    }
}

#[test]
fn a_float32_too_large_is_an_error_not_infinity() {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct F {
        float32_field: f64,
    }
    let st = all_types();
    let err = st
        .to_vec(&F {
            float32_field: 1e300,
        })
        .unwrap_err();
    assert_eq!(err.category(), Category::Data);
    assert!(
        err.to_string().contains("out of range for `Float32`"),
        "{err}"
    );
    assert!(err.to_string().contains("float32Field"), "{err}");
    for ok in [f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 3.4e38, -1e-300] {
        st.to_vec(&F { float32_field: ok }).unwrap();
    }
}

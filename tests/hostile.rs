//! Hostile input: truncated and corrupted messages, pointer cycles and amplification, deep
//! nesting, far pointers to nowhere, lying segment tables and list sizes. Every one must come
//! back as an `Err` (or, for random corruption, possibly an `Ok`), never as a panic, a hang or
//! a huge allocation.

#[allow(unused_macros, unused_imports)]
mod common;

use common::words::*;

use std::collections::BTreeMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};

use serde::de;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use serde_capnp::{Category, ReadOptions, Schema, StructSchema};
use serde_capnp_suite::fixtures::addressbook::{phone, AddressBook, Employment, Person, PhoneType};
use serde_capnp_suite::fixtures::alltypes::{
    inner, Color, Deeper, Inner, InnerMap, Nested, Point, Shape, Which,
};

// -------------------------------------------------------------------------------------------
// Types
// -------------------------------------------------------------------------------------------

/// The generic `Pair(Key, Value)` as one generic Rust struct.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct KeyValue<K, V> {
    key: K,
    value: V,
}

/// `AllTypes` with every kind of field the deserializer has; unlike the shared
/// `fixtures::alltypes::AllTypes` it reads the brands of `Pair` through the one generic
/// `KeyValue`, with their `Data` as `ByteBuf`.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Typed {
    void_field: (),
    bool_field: bool,
    int8_field: i8,
    int16_field: i16,
    int32_field: i32,
    int64_field: i64,
    uint8_field: u8,
    uint16_field: u16,
    uint32_field: u32,
    uint64_field: u64,
    float32_field: f32,
    float64_field: f64,
    text_field: String,
    #[serde(with = "serde_bytes")]
    data_field: Vec<u8>,
    enum_field: Color,
    struct_field: Inner,
    nested_field: Nested,
    any_field: (),
    void_list: Vec<()>,
    bool_list: Vec<bool>,
    int8_list: Vec<i8>,
    int16_list: Vec<i16>,
    int32_list: Vec<i32>,
    int64_list: Vec<i64>,
    uint8_list: Vec<u8>,
    uint16_list: Vec<u16>,
    uint32_list: Vec<u32>,
    uint64_list: Vec<u64>,
    float32_list: Vec<f32>,
    float64_list: Vec<f64>,
    text_list: Vec<String>,
    data_list: Vec<ByteBuf>,
    enum_list: Vec<Color>,
    struct_list: Vec<Inner>,
    int32_list_list: Vec<Vec<i32>>,
    struct_list_list: Vec<Vec<Inner>>,
    point: Point,
    shape: Shape,
    which: Which,
    text_inner_pair: KeyValue<String, Inner>,
    list_data_pair: KeyValue<Vec<i32>, ByteBuf>,
    nested_pair: KeyValue<String, KeyValue<ByteBuf, Inner>>,
    inner_by_name: InnerMap,
    names_by_id: BTreeMap<u32, String>,
}

fn typed() -> Typed {
    Typed {
        void_field: (),
        bool_field: true,
        int8_field: -8,
        int16_field: 16,
        int32_field: -32,
        int64_field: 64,
        uint8_field: 8,
        uint16_field: 16,
        uint32_field: 32,
        uint64_field: 64,
        float32_field: 3.5,
        float64_field: -6.25,
        text_field: "some text ✓".into(),
        data_field: vec![1, 2, 3, 4, 5],
        enum_field: Color::Blue,
        struct_field: inner(1, "struct", Color::Green),
        nested_field: Nested {
            depth: 2,
            deeper: Deeper {
                flag: true,
                note: "note".into(),
            },
        },
        any_field: (),
        void_list: vec![(); 3],
        bool_list: vec![true, false, true, true, false, false, true, false, true],
        int8_list: vec![-1, 2],
        int16_list: vec![-3, 4],
        int32_list: vec![-5, 6, 7],
        int64_list: vec![-8],
        uint8_list: vec![9, 10, 11],
        uint16_list: vec![12],
        uint32_list: vec![13, 14],
        uint64_list: vec![15],
        float32_list: vec![1.5, -2.5],
        float64_list: vec![0.25],
        text_list: vec!["a".into(), "".into(), "ccc".into()],
        data_list: vec![ByteBuf::from(vec![1u8]), ByteBuf::new()],
        enum_list: vec![Color::Red, Color::DarkGoldenrod],
        struct_list: vec![inner(2, "two", Color::Red), inner(3, "three", Color::Blue)],
        int32_list_list: vec![vec![1, 2], vec![], vec![3]],
        struct_list_list: vec![vec![inner(4, "four", Color::Green)], vec![]],
        point: Point { x: 1, y: -1 },
        shape: Shape::Rect {
            width: 2.0,
            height: 3.0,
        },
        which: Which::Nested(inner(5, "five", Color::Red)),
        text_inner_pair: KeyValue {
            key: "k".into(),
            value: inner(6, "six", Color::Blue),
        },
        list_data_pair: KeyValue {
            key: vec![1, 2],
            value: ByteBuf::from(vec![3u8]),
        },
        nested_pair: KeyValue {
            key: "outer".into(),
            value: KeyValue {
                key: ByteBuf::from(vec![7u8]),
                value: inner(7, "seven", Color::Green),
            },
        },
        inner_by_name: InnerMap {
            entries: [("x".to_string(), inner(8, "eight", Color::Red))]
                .into_iter()
                .collect(),
        },
        names_by_id: [(9, "nine".to_string()), (10, "ten".to_string())]
            .into_iter()
            .collect(),
    }
}

/// A small book, unlike `addressbook::sample()` with an empty text (Bob's email).
fn book() -> AddressBook {
    AddressBook {
        people: vec![
            Person {
                id: 1,
                name: "Alice".into(),
                email: "alice@example.com".into(),
                phones: vec![phone("555-1212", PhoneType::Mobile)],
                employment: Employment::School("MIT".into()),
            },
            Person {
                id: 2,
                name: "Bob".into(),
                email: "".into(),
                phones: vec![phone("1", PhoneType::Home), phone("2", PhoneType::Work)],
                employment: Employment::SelfEmployed,
            },
        ],
    }
}

fn schema(name: &str) -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema(name)).unwrap()
}

fn all_types() -> StructSchema {
    schema("alltypes").struct_type("AllTypes").unwrap()
}

/// Read limits for fuzzing: low enough that a corrupted list length cannot make a test
/// allocate much, high enough for the valid messages.
fn fuzz_options() -> ReadOptions {
    ReadOptions {
        traversal_limit_in_words: 1 << 16,
        nesting_limit: 64,
        ..ReadOptions::default()
    }
}

/// The root struct's section sizes, and the pointer slot a single field is written to, found
/// by writing a message that sets only that field.
struct Layout {
    data_words: u16,
    ptr_count: u16,
}

fn root_layout<T: Serialize>(st: &StructSchema, only: &T) -> (Layout, Option<u16>) {
    let bytes = st.to_vec(only).unwrap();
    let words: Vec<u64> = bytes[8..]
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    let root = words[0];
    assert_eq!(root & 3, 0);
    let start = 1 + ((root as u32 as i32) >> 2) as usize;
    let layout = Layout {
        data_words: (root >> 32) as u16,
        ptr_count: (root >> 48) as u16,
    };
    let ptrs = start + layout.data_words as usize;
    let slot = (0..layout.ptr_count).find(|&i| words[ptrs + i as usize] != 0);
    (layout, slot)
}

/// A one-segment message whose root is an `AllTypes` with every field zero or null except the
/// pointer `slot`, which points to `target` (words appended after the root struct; the
/// pointer's offset is relative to the start of `target`).
fn all_types_with(
    slot: u16,
    layout: &Layout,
    pointer: impl Fn(i32) -> u64,
    target: &[u64],
) -> Vec<u8> {
    let mut seg = vec![struct_ptr(0, layout.data_words, layout.ptr_count)];
    seg.extend(std::iter::repeat_n(
        0,
        layout.data_words as usize + layout.ptr_count as usize,
    ));
    let at = 1 + layout.data_words as usize + slot as usize;
    let target_start = seg.len();
    seg[at] = pointer((target_start - (at + 1)) as i32);
    seg.extend_from_slice(target);
    frame(&[seg])
}

fn slot_of<T: Serialize>(only: &T) -> (Layout, u16) {
    let (layout, slot) = root_layout(&all_types(), only);
    (layout, slot.expect("the field is a pointer"))
}

// -------------------------------------------------------------------------------------------
// Running a reader on hostile bytes
// -------------------------------------------------------------------------------------------

/// Reads `bytes` every way there is, returning how many reads succeeded; panics propagate.
fn read_every_way(st: &StructSchema, bytes: &[u8]) -> usize {
    let mut ok = 0;
    ok += st.from_slice::<Typed>(bytes).is_ok() as usize;
    ok += st.from_slice::<serde_json::Value>(bytes).is_ok() as usize;
    ok += st.from_slice::<Anything>(bytes).is_ok() as usize;
    ok += st.from_slice::<de::IgnoredAny>(bytes).is_ok() as usize;
    ok += st.from_reader::<_, Anything>(bytes).is_ok() as usize;
    ok
}

/// Runs `f` for each input, catching panics, and fails with the inputs that panicked.
fn no_panics<I: fmt::Debug>(inputs: impl IntoIterator<Item = I>, mut f: impl FnMut(&I)) -> usize {
    let mut panicked = Vec::new();
    let mut count = 0;
    for input in inputs {
        count += 1;
        if catch_unwind(AssertUnwindSafe(|| f(&input))).is_err() {
            panicked.push(format!("{input:?}"));
        }
    }
    assert!(
        panicked.is_empty(),
        "{} of {count} inputs panicked; the first ones:\n{}",
        panicked.len(),
        panicked
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    count
}

/// A small deterministic PRNG (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One corruption of a message, replayable from its description.
#[derive(Debug, Clone)]
enum Edit {
    Xor {
        at: usize,
        mask: u8,
    },
    Set {
        at: usize,
        byte: u8,
    },
    /// A plausible pointer word at a word-aligned offset.
    Pointer {
        word: usize,
        value: u64,
    },
}

impl Edit {
    fn apply(&self, bytes: &mut [u8]) {
        match *self {
            Edit::Xor { at, mask } => bytes[at] ^= mask,
            Edit::Set { at, byte } => bytes[at] = byte,
            Edit::Pointer { word, value } => {
                bytes[word * 8..word * 8 + 8].copy_from_slice(&value.to_le_bytes())
            }
        }
    }

    fn random(rng: &mut Rng, len: usize) -> Edit {
        match rng.below(10) {
            0..=4 => Edit::Xor {
                at: rng.below(len),
                mask: 1 << rng.below(8),
            },
            5..=7 => Edit::Set {
                at: rng.below(len),
                byte: [0, 0xff, rng.next() as u8][rng.below(3)],
            },
            _ => {
                let offset = rng.below(64) as i32 - 32;
                let value = match rng.below(4) {
                    0 => struct_ptr(offset, rng.below(4) as u16, rng.below(4) as u16),
                    1 => list_ptr(
                        offset,
                        rng.below(8) as u8,
                        rng.below(1 << 29) as u32 >> rng.below(29),
                    ),
                    2 => far_ptr(rng.below(2) == 1, rng.below(64) as u32, rng.below(3) as u32),
                    _ => rng.next(),
                };
                Edit::Pointer {
                    word: rng.below(len / 8),
                    value,
                }
            }
        }
    }
}

/// One corrupted message: the edits applied to the valid one, in order.
#[derive(Debug)]
struct Case {
    edits: Vec<Edit>,
}

fn cases(seed: u64, n: usize, len: usize) -> Vec<Case> {
    let mut rng = Rng(seed);
    (0..n)
        .map(|_| {
            let count = 1 + rng.below(3);
            Case {
                edits: (0..count).map(|_| Edit::random(&mut rng, len)).collect(),
            }
        })
        .collect()
}

// -------------------------------------------------------------------------------------------
// Truncation
// -------------------------------------------------------------------------------------------

#[test]
fn every_prefix_of_a_message_is_an_error() {
    let st = all_types().with_read_options(fuzz_options());
    let bytes = st.to_vec(&typed()).unwrap();
    assert_eq!(st.from_slice::<Typed>(&bytes).unwrap(), typed());
    no_panics(0..bytes.len(), |&len| {
        let prefix = &bytes[..len];
        let results = [
            st.from_slice::<Typed>(prefix).err(),
            st.from_slice::<Anything>(prefix).err(),
            st.from_slice::<de::IgnoredAny>(prefix).err(),
            st.from_reader::<_, Typed>(prefix).err(),
        ];
        for (way, r) in results.iter().enumerate() {
            assert!(r.is_some(), "prefix of {len} bytes read as Ok (way {way})");
        }
        let err = results[0].as_ref().unwrap();
        assert!(
            matches!(
                err.category(),
                Category::Wire | Category::Io | Category::Limit
            ),
            "prefix of {len}: {err:?}"
        );
        // A stream that ends early is an error too, never a clean end.
        let mut it = st.iter_from_reader::<_, Typed>(prefix);
        if len > 0 {
            assert!(matches!(it.next(), Some(Err(_))), "stream prefix of {len}");
        }
    });
}

#[test]
fn every_prefix_of_a_packed_message_is_an_error() {
    let st = all_types().with_read_options(fuzz_options());
    let packed = st.to_vec_packed(&typed()).unwrap();
    no_panics(0..packed.len(), |&len| {
        let prefix = &packed[..len];
        assert!(
            st.from_slice_packed::<Typed>(prefix).is_err(),
            "packed prefix of {len}"
        );
        assert!(
            st.from_reader_packed::<_, Anything>(prefix).is_err(),
            "packed prefix of {len}"
        );
    });
}

#[test]
fn every_truncated_segment_is_handled() {
    // Without a segment table to give the length away, a shortened segment may cut off
    // objects the root points to: reading must notice, never read past the end.
    let st = all_types().with_read_options(fuzz_options());
    let segment = st.to_segments(&typed()).unwrap().remove(0);
    let n = no_panics((0..segment.len() / 8).map(|w| w * 8), |&len| {
        let seg = &segment[..len];
        let r = st.from_segments::<Typed>(&[seg]);
        if len < segment.len() {
            assert!(r.is_err(), "segment cut to {len} bytes read as Ok");
        }
        let _ = st.from_segments::<Anything>(&[seg]);
    });
    assert!(n > 10);
    // Lengths that are not whole words.
    for len in [1, 7, 9, segment.len() - 1] {
        let err = st.from_segments::<Typed>(&[&segment[..len]]).unwrap_err();
        assert_eq!(err.category(), Category::Wire, "{err:?}");
    }
}

// -------------------------------------------------------------------------------------------
// Random corruption
// -------------------------------------------------------------------------------------------

#[test]
fn random_corruption_of_all_types_never_panics() {
    let st = all_types().with_read_options(fuzz_options());
    let bytes = st.to_vec(&typed()).unwrap();
    assert_eq!(
        read_every_way(&st, &bytes),
        5,
        "the valid message reads every way"
    );
    let mut oks = 0;
    let n = no_panics(cases(0x5eed_0001, 6000, bytes.len()), |case| {
        let mut b = bytes.clone();
        for e in &case.edits {
            e.apply(&mut b);
        }
        oks += read_every_way(&st, &b);
    });
    eprintln!("{n} corrupted messages, {oks} successful reads");
}

#[test]
fn random_corruption_of_an_address_book_never_panics() {
    let st = schema("addressbook")
        .struct_type("AddressBook")
        .unwrap()
        .with_read_options(fuzz_options());
    let bytes = st.to_vec(&book()).unwrap();
    assert_eq!(st.from_slice::<AddressBook>(&bytes).unwrap(), book());
    assert!(st.from_slice::<serde_json::Value>(&bytes).is_ok());
    no_panics(cases(0x5eed_0002, 6000, bytes.len()), |case| {
        let mut b = bytes.clone();
        for e in &case.edits {
            e.apply(&mut b);
        }
        let _ = st.from_slice::<AddressBook>(&b);
        let _ = st.from_slice::<serde_json::Value>(&b);
        let _ = st.from_slice::<Anything>(&b);
    });
}

#[test]
fn random_corruption_of_packed_messages_never_panics() {
    let st = all_types().with_read_options(fuzz_options());
    let packed = st.to_vec_packed(&typed()).unwrap();
    no_panics(cases(0x5eed_0003, 3000, packed.len()), |case| {
        let mut b = packed.clone();
        for e in &case.edits {
            e.apply(&mut b);
        }
        let _ = st.from_slice_packed::<Typed>(&b);
        let _ = st.from_slice_packed::<Anything>(&b);
    });
}

#[test]
fn random_corruption_with_default_limits_never_panics() {
    let st = all_types();
    let bytes = st.to_vec(&typed()).unwrap();
    // Only byte edits: a list length can grow to a few million elements at most.
    let mut rng = Rng(0x5eed_0004);
    let edits: Vec<Edit> = (0..1500)
        .map(|_| Edit::Xor {
            at: rng.below(bytes.len()),
            mask: 1 << rng.below(8),
        })
        .collect();
    no_panics(edits, |e| {
        let mut b = bytes.clone();
        e.apply(&mut b);
        let _ = st.from_slice::<Typed>(&b);
        let _ = st.from_slice::<Anything>(&b);
    });
}

// -------------------------------------------------------------------------------------------
// Amplification: many pointers to the same object
// -------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug)]
struct DataList<'a> {
    #[serde(borrow)]
    data_list: Vec<&'a [u8]>,
}

/// `dataList` with `n` pointers, all to one blob of `blob_words` words.
fn shared_blob_message(n: usize, blob_words: usize) -> Vec<u8> {
    let (layout, slot) = slot_of(&DataList {
        data_list: vec![b"x"],
    });
    let mut target = Vec::with_capacity(n + blob_words);
    for i in 0..n {
        // Element i is at word i of the target; the blob starts at word n.
        target.push(list_ptr((n - i - 1) as i32, 2, (blob_words * 8) as u32));
    }
    target.extend(std::iter::repeat_n(0x6161_6161_6161_6161, blob_words));
    all_types_with(slot, &layout, |off| list_ptr(off, 6, n as u32), &target)
}

#[test]
fn shared_blobs_hit_the_traversal_limit() {
    let st = all_types();
    // Small: 100 pointers to a 100-word blob are 10,000 words of reading.
    let bytes = shared_blob_message(100, 100);
    let fits = st.clone().with_read_options(ReadOptions {
        traversal_limit_in_words: 20_000,
        nesting_limit: 64,
        amplification_limit: 0,
    });
    let v: DataList<'_> = fits.from_slice(&bytes).unwrap();
    assert_eq!(v.data_list.len(), 100);
    assert!(v.data_list.iter().all(|d| d.len() == 800));
    let tight = st.clone().with_read_options(ReadOptions {
        traversal_limit_in_words: 5_000,
        nesting_limit: 64,
        amplification_limit: 0,
    });
    let err = tight.from_slice::<DataList<'_>>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    let err = tight.from_slice::<Anything>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");

    // With the default limit: a 90 KB message that claims 10 million words (80 MB).
    let bytes = shared_blob_message(10_000, 1_000);
    assert!(bytes.len() < 100_000);
    let err = st.from_slice::<DataList<'_>>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    assert!(err.path().starts_with("data_list["), "{err:?}");
}

#[derive(Deserialize, Debug)]
struct StructListList {
    struct_list_list: Vec<Vec<Inner>>,
}

#[test]
fn shared_struct_lists_hit_the_traversal_limit() {
    #[derive(Serialize)]
    struct Only {
        struct_list_list: Vec<Vec<Inner>>,
    }
    let (layout, slot) = slot_of(&Only {
        struct_list_list: vec![vec![]],
    });
    // `n` pointers to one struct list of `m` elements of `Inner` (1 data word, 1 pointer).
    let (n, m) = (2_000usize, 1_000usize);
    let mut target = Vec::new();
    for i in 0..n {
        target.push(list_ptr((n - i - 1) as i32, 7, (m * 2) as u32));
    }
    target.push(tag(m as u32, 1, 1));
    for k in 0..m {
        target.push(k as u64);
        target.push(0);
    }
    let bytes = all_types_with(slot, &layout, |off| list_ptr(off, 6, n as u32), &target);
    let st = all_types().with_read_options(ReadOptions {
        traversal_limit_in_words: 1_000_000,
        nesting_limit: 64,
        amplification_limit: 0,
    });
    let err = st.from_slice::<StructListList>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    // Fewer pointers fit.
    let bytes = all_types_with(slot, &layout, |off| list_ptr(off, 6, 10), &{
        let mut t = Vec::new();
        for i in 0..10usize {
            t.push(list_ptr((10 - i - 1) as i32, 7, (m * 2) as u32));
        }
        t.push(tag(m as u32, 1, 1));
        for k in 0..m {
            t.push(k as u64);
            t.push(0);
        }
        t
    });
    let v: StructListList = st.from_slice(&bytes).unwrap();
    assert_eq!(v.struct_list_list.len(), 10);
    assert_eq!(v.struct_list_list[9][999].id, 999);
}

#[test]
fn nesting_limit_on_the_all_types_schema() {
    let st = all_types();
    let bytes = st.to_vec(&typed()).unwrap();
    // The root struct is one level; a list of lists needs three, and `nestedPair.value.value`
    // four.
    for (limit, ok) in [(0, false), (1, false), (2, false), (3, false), (4, true)] {
        let r = with_nesting(&st, limit).from_slice::<Typed>(&bytes);
        match (ok, r) {
            (true, Ok(v)) => assert_eq!(v, typed()),
            (false, Err(e)) => assert_eq!(e.category(), Category::Limit, "limit {limit}: {e:?}"),
            (want, got) => panic!("nesting limit {limit}: expected ok = {want}, got {got:?}"),
        }
    }
}

// -------------------------------------------------------------------------------------------
// Far pointers
// -------------------------------------------------------------------------------------------

fn inner_schema() -> StructSchema {
    schema("alltypes").struct_type("Inner").unwrap()
}

/// `Inner` (1 data word, 1 pointer) with id 42 and label "far", in segment 1 at word
/// `at`, as words for that segment.
fn inner_words() -> Vec<u64> {
    let mut words = vec![42 | (2 << 32), list_ptr(0, 2, 4)];
    words.extend(text_words("far"));
    words
}

#[test]
fn valid_far_pointers_are_followed() {
    let st = inner_schema();
    // Single far: root → landing pad at segment 1 word 0 → struct at word 1.
    let mut seg1 = vec![struct_ptr(0, 1, 1)];
    seg1.extend(inner_words());
    let bytes = frame(&[vec![far_ptr(false, 0, 1)], seg1.clone()]);
    let v: Inner = st.from_slice(&bytes).unwrap();
    assert_eq!(v, inner(42, "far", Color::Blue));
    let refs = [segment_bytes(&[far_ptr(false, 0, 1)]), segment_bytes(&seg1)];
    let refs: Vec<&[u8]> = refs.iter().map(Vec::as_slice).collect();
    assert_eq!(st.from_segments::<Inner>(&refs).unwrap(), v);

    // Double far: root → two-word landing pad in segment 2 → struct at word 0 of segment 1.
    let seg1 = inner_words();
    let seg2 = vec![far_ptr(false, 0, 1), struct_ptr(0, 1, 1)];
    let bytes2 = frame(&[vec![far_ptr(true, 0, 2)], seg1, seg2]);
    let v2: Inner = st.from_slice(&bytes2).unwrap();
    assert_eq!(v2, v);

    // The C++ tool agrees on both messages.
    if common::capnp_tool().is_some() {
        for b in [&bytes, &bytes2] {
            let text =
                common::capnp_convert("binary:text", &common::schema_path("alltypes"), "Inner", b)
                    .unwrap();
            assert_eq!(
                String::from_utf8(text).unwrap().trim(),
                "(id = 42, label = \"far\", color = blue)"
            );
        }
    }
}

#[test]
fn far_pointers_to_nowhere_are_errors() {
    let st = inner_schema();
    let mut seg1 = vec![struct_ptr(0, 1, 1)];
    seg1.extend(inner_words());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("to a missing segment", frame(&[vec![far_ptr(false, 0, 5)]])),
        (
            "to segment u32::MAX",
            frame(&[vec![far_ptr(false, 0, u32::MAX)]]),
        ),
        (
            "double far to a missing segment",
            frame(&[vec![far_ptr(true, 0, 9)]]),
        ),
        (
            "landing pad past the segment",
            frame(&[vec![far_ptr(false, 100, 1)], seg1.clone()]),
        ),
        (
            "double-far landing pad at the last word of its segment",
            frame(&[vec![far_ptr(true, 3, 1)], seg1.clone()]),
        ),
        (
            "landing pad that is another far pointer",
            frame(&[vec![far_ptr(false, 0, 1)], vec![far_ptr(false, 0, 1)]]),
        ),
        (
            "landing pad that is a far pointer to itself, in its own segment",
            frame(&[vec![far_ptr(false, 0, 0)]]),
        ),
        (
            "double far whose pad names a missing segment",
            frame(&[
                vec![far_ptr(true, 0, 1)],
                vec![far_ptr(false, 0, 7), struct_ptr(0, 1, 1)],
            ]),
        ),
        (
            "double far whose pad does not start with a far pointer",
            frame(&[
                vec![far_ptr(true, 0, 1)],
                vec![struct_ptr(0, 1, 1), struct_ptr(0, 1, 1)],
            ]),
        ),
        (
            "double far whose tag has an offset",
            frame(&[
                vec![far_ptr(true, 0, 2)],
                inner_words(),
                vec![far_ptr(false, 0, 1), struct_ptr(5, 1, 1)],
            ]),
        ),
        (
            "double far to a struct past its segment",
            frame(&[
                vec![far_ptr(true, 0, 2)],
                vec![0],
                vec![far_ptr(false, 0, 1), struct_ptr(0, 1, 1)],
            ]),
        ),
        (
            "double far to a position past its segment",
            frame(&[
                vec![far_ptr(true, 0, 2)],
                vec![0],
                vec![far_ptr(false, 1000, 1), struct_ptr(0, 0, 0)],
            ]),
        ),
    ];
    no_panics(cases, |(what, bytes)| {
        let err = st
            .from_slice::<Inner>(bytes)
            .err()
            .unwrap_or_else(|| panic!("{what}: read as Ok"));
        assert_eq!(err.category(), Category::Wire, "{what}: {err:?}");
        assert!(st.from_slice::<Anything>(bytes).is_err(), "{what}");
    });
    // The message names the missing segment.
    let err = st
        .from_slice::<Inner>(&frame(&[vec![far_ptr(false, 0, 5)]]))
        .unwrap_err();
    assert!(err.message().contains('5'), "{err:?}");
}

#[test]
fn a_far_pointer_inside_a_list_element() {
    // A far pointer in the `label` of an element of `structList`, to a missing segment.
    #[derive(Serialize, Deserialize, Debug)]
    struct Only {
        struct_list: Vec<Inner>,
    }
    let (layout, slot) = slot_of(&Only {
        struct_list: vec![inner(0, "", Color::Red)],
    });
    let target = vec![tag(2, 1, 1), 1, 0, 2, far_ptr(false, 0, 3)];
    let bytes = all_types_with(slot, &layout, |off| list_ptr(off, 7, 4), &target);
    let err = all_types().from_slice::<Only>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Wire, "{err:?}");
    assert_eq!(err.path(), "struct_list[1].label", "{err:?}");
}

// -------------------------------------------------------------------------------------------
// Lying segment tables
// -------------------------------------------------------------------------------------------

fn table(sizes: &[u32], body_words: usize) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(sizes.len() as u32).wrapping_sub(1).to_le_bytes());
    for s in sizes {
        out.extend_from_slice(&s.to_le_bytes());
    }
    if out.len() % 8 != 0 {
        out.extend_from_slice(&[0; 4]);
    }
    out.extend(std::iter::repeat_n(0u8, body_words * 8));
    out
}

#[test]
fn segment_tables_claiming_huge_sizes() {
    let st = all_types();
    let mut many = vec![1u32; 512];
    many[511] = u32::MAX;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("one segment of 2^32-1 words", table(&[u32::MAX], 1)),
        ("one segment of 2^28 words", table(&[1 << 28], 4)),
        ("two segments of 2^31 words", table(&[1 << 31, 1 << 31], 4)),
        ("512 segments, the last huge", table(&many, 512)),
        ("513 segments", table(&[1; 513], 513)),
        ("2^32 segments", {
            let mut b = u32::MAX.to_le_bytes().to_vec();
            b.extend_from_slice(&[1, 0, 0, 0]);
            b.extend_from_slice(&[0; 64]);
            b
        }),
        ("a table cut short", {
            let mut b = table(&[1; 10], 10);
            b.truncate(20);
            b
        }),
        ("one segment of no words", table(&[0], 0)),
    ];
    no_panics(cases, |(what, bytes)| {
        let started = std::time::Instant::now();
        let err = st
            .from_slice::<Anything>(bytes)
            .err()
            .unwrap_or_else(|| panic!("{what}: from_slice read as Ok"));
        assert!(
            matches!(err.category(), Category::Wire | Category::Limit),
            "{what}: {err:?}"
        );
        let err = st
            .from_reader::<_, Anything>(&bytes[..])
            .err()
            .unwrap_or_else(|| panic!("{what}: from_reader read as Ok"));
        assert!(
            matches!(
                err.category(),
                Category::Wire | Category::Limit | Category::Io
            ),
            "{what}: {err:?}"
        );
        let mut it = st.iter_from_reader::<_, Anything>(&bytes[..]);
        assert!(matches!(it.next(), Some(Err(_))), "{what}: stream");
        assert!(
            it.next().is_none(),
            "{what}: the stream ends after an error"
        );
        // Packed, the same table must not make the reader allocate what it claims.
        let mut packed = Vec::new();
        pack_words(bytes, &mut packed);
        assert!(
            st.from_slice_packed::<Anything>(&packed).is_err(),
            "{what}: packed"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{what}: took {:?}",
            started.elapsed()
        );
    });
}

/// A plain implementation of the packing scheme, for inputs our serializer cannot produce.
fn pack_words(bytes: &[u8], out: &mut Vec<u8>) {
    let mut words = bytes.chunks(8).peekable();
    while let Some(w) = words.next() {
        let mut word = [0u8; 8];
        word[..w.len()].copy_from_slice(w);
        let tag: u8 = (0..8).filter(|&i| word[i] != 0).map(|i| 1 << i).sum();
        out.push(tag);
        out.extend(word.iter().filter(|&&b| b != 0));
        if tag == 0 {
            let mut run = 0u8;
            while run < 255
                && words
                    .peek()
                    .is_some_and(|n| n.iter().all(|&b| b == 0) && n.len() == 8)
            {
                words.next();
                run += 1;
            }
            out.push(run);
        } else if tag == 0xff {
            out.push(0);
        }
    }
}

#[test]
fn the_packing_helper_agrees_with_the_library() {
    let st = all_types();
    let bytes = st.to_vec(&typed()).unwrap();
    let mut packed = Vec::new();
    pack_words(&bytes, &mut packed);
    assert_eq!(st.from_slice_packed::<Typed>(&packed).unwrap(), typed());
}

#[test]
fn hostile_segment_lists() {
    let st = all_types();
    let empty: [&[u8]; 0] = [];
    let err = st.from_segments::<Anything>(&empty).unwrap_err();
    assert_eq!(err.category(), Category::Wire, "{err:?}");
    let zero: &[u8] = &[];
    let err = st.from_segments::<Anything>(&[zero]).unwrap_err();
    assert_eq!(err.category(), Category::Wire, "{err:?}");
    let word = [0u8; 8];
    let many: Vec<&[u8]> = vec![&word; 600];
    let err = st.from_segments::<Anything>(&many).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
}

// -------------------------------------------------------------------------------------------
// Lists that claim to be huge
// -------------------------------------------------------------------------------------------

/// The largest element count a list pointer can hold: 29 bits.
const MAX_COUNT: u32 = (1 << 29) - 1;

#[test]
fn a_void_list_of_2_pow_29_elements_hits_the_traversal_limit() {
    #[derive(Serialize, Deserialize, Debug)]
    struct Only {
        void_list: Vec<()>,
    }
    let (layout, slot) = slot_of(&Only {
        void_list: vec![()],
    });
    let bytes = all_types_with(slot, &layout, |off| list_ptr(off, 0, MAX_COUNT), &[]);
    let started = std::time::Instant::now();
    let err = all_types().from_slice::<Only>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let err = all_types().from_slice::<Anything>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    // A void list within the limit reads.
    let bytes = all_types_with(slot, &layout, |off| list_ptr(off, 0, 1000), &[]);
    assert_eq!(
        all_types()
            .from_slice::<Only>(&bytes)
            .unwrap()
            .void_list
            .len(),
        1000
    );
}

#[test]
fn lists_claiming_2_pow_29_elements_are_errors() {
    #[derive(Serialize, Deserialize, Debug)]
    struct Lists {
        bool_list: Vec<bool>,
        uint8_list: Vec<u8>,
        int64_list: Vec<i64>,
        text_field: String,
        #[serde(with = "serde_bytes")]
        data_field: Vec<u8>,
        text_list: Vec<String>,
        struct_list: Vec<Inner>,
    }
    // The root layout and the pointer slot of one field, found by writing just that field.
    let one = |field: &str| -> (Layout, u16) {
        let value = match field {
            "boolList" => serde_json::json!([true]),
            "textField" => serde_json::json!("x"),
            "textList" => serde_json::json!(["x"]),
            "structList" => serde_json::json!([{"id": 1}]),
            _ => serde_json::json!([1]),
        };
        slot_of(&BTreeMap::from([(field, value)]))
    };
    let st = all_types();
    for (field, size) in [
        ("boolList", 1u8),
        ("uint8List", 2),
        ("int64List", 5),
        ("textField", 2),
        ("dataField", 2),
        ("textList", 6),
        ("structList", 7),
        // Element sizes that do not fit the field's type, with the same huge count.
        ("int64List", 0),
        ("textList", 5),
    ] {
        let (layout, slot) = one(field);
        let bytes = all_types_with(slot, &layout, |off| list_ptr(off, size, MAX_COUNT), &[0; 4]);
        let started = std::time::Instant::now();
        let err = st
            .from_slice::<Lists>(&bytes)
            .err()
            .unwrap_or_else(|| panic!("{field} with element size {size}: read as Ok"));
        assert!(
            matches!(err.category(), Category::Wire | Category::Limit),
            "{field}: {err:?}"
        );
        assert!(st.from_slice::<Anything>(&bytes).is_err(), "{field}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "{field}: took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_struct_list_tag_claiming_2_pow_29_empty_elements() {
    #[derive(Serialize, Deserialize, Debug)]
    struct Only {
        struct_list: Vec<Inner>,
    }
    let (layout, slot) = slot_of(&Only {
        struct_list: vec![inner(0, "", Color::Red)],
    });
    // A composite list of no words whose tag claims 2^29 - 1 elements of size zero.
    let bytes = all_types_with(
        slot,
        &layout,
        |off| list_ptr(off, 7, 0),
        &[tag(MAX_COUNT, 0, 0)],
    );
    let started = std::time::Instant::now();
    let err = all_types().from_slice::<Only>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Limit, "{err:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    // A tag claiming more elements than the words hold.
    let bytes = all_types_with(
        slot,
        &layout,
        |off| list_ptr(off, 7, 2),
        &[tag(MAX_COUNT, 1, 1), 0, 0],
    );
    let err = all_types().from_slice::<Only>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Wire, "{err:?}");

    // A tag that is not a struct pointer, or has a negative count.
    for bad in [list_ptr(0, 2, 1), struct_ptr(-1, 1, 1)] {
        let bytes = all_types_with(slot, &layout, |off| list_ptr(off, 7, 2), &[bad, 0, 0]);
        let err = all_types().from_slice::<Only>(&bytes).unwrap_err();
        assert_eq!(err.category(), Category::Wire, "{err:?}");
    }
}

// -------------------------------------------------------------------------------------------
// Other malformed pointers
// -------------------------------------------------------------------------------------------

#[test]
fn malformed_pointers_are_wire_errors() {
    let st = inner_schema();
    let label = |p: u64, rest: &[u64]| {
        let mut seg = vec![struct_ptr(0, 1, 1), 0, p];
        seg.extend_from_slice(rest);
        frame(&[seg])
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("root is a list pointer", frame(&[vec![list_ptr(0, 2, 0)]])),
        ("root is a capability", frame(&[vec![3]])),
        (
            "root points before the segment",
            frame(&[vec![struct_ptr(-2, 0, 0)]]),
        ),
        (
            "root points past the segment",
            frame(&[vec![struct_ptr(5, 0, 0)]]),
        ),
        (
            "root struct larger than the segment",
            frame(&[vec![struct_ptr(0, 0xffff, 0xffff)]]),
        ),
        ("text is a struct pointer", label(struct_ptr(0, 1, 0), &[0])),
        (
            "text without its NUL",
            label(list_ptr(0, 2, 3), &[0x616161]),
        ),
        ("text of 16-bit elements", label(list_ptr(0, 3, 2), &[0x61])),
        ("text of pointers", label(list_ptr(0, 6, 1), &[0])),
        (
            "text of structs",
            label(list_ptr(0, 7, 1), &[tag(1, 1, 0), 0x61]),
        ),
        ("text past the segment", label(list_ptr(0, 2, 100), &[0])),
        ("text before the segment", label(list_ptr(-10, 2, 1), &[0])),
        (
            "text that is not UTF-8",
            label(list_ptr(0, 2, 3), &[0x00feff]),
        ),
        ("text is a capability", label(3, &[])),
    ];
    no_panics(cases, |(what, bytes)| {
        let err = st
            .from_slice::<Inner>(bytes)
            .err()
            .unwrap_or_else(|| panic!("{what}: read as Ok"));
        assert!(
            matches!(err.category(), Category::Wire | Category::Data),
            "{what}: {err:?}"
        );
        assert!(st.from_slice::<Anything>(bytes).is_err(), "{what}");
        assert!(st.from_slice::<serde_json::Value>(bytes).is_err(), "{what}");
    });
}

/// Text is checked a word at a time, padding included, before the exact UTF-8 check: padding
/// bytes with their high bit set must not make ASCII text an error, and a non-ASCII byte in
/// any word must still be caught or decoded exactly, whether the text is reached by a near
/// pointer or through a far one, and whatever its padding holds.
#[test]
fn text_is_checked_exactly_whatever_its_padding() {
    #[derive(Deserialize)]
    struct Label<'a> {
        label: &'a str,
    }
    let st = inner_schema();
    let message = |bytes: &[u8], padding: u8, far: bool| {
        let mut padded = bytes.to_vec();
        padded.resize(bytes.len().div_ceil(8) * 8, padding);
        let mut text = vec![list_ptr(0, 2, bytes.len() as u32)];
        text.extend(
            padded
                .chunks(8)
                .map(|w| u64::from_le_bytes(w.try_into().unwrap())),
        );
        if far {
            // The label's pointer lands on a pad in segment 1, followed by the text.
            frame(&[vec![struct_ptr(0, 1, 1), 0, far_ptr(false, 0, 1)], text])
        } else {
            let mut seg = vec![struct_ptr(0, 1, 1), 0];
            seg.extend(text);
            frame(&[seg])
        }
    };
    let cases: [(&[u8], Option<&str>); 8] = [
        (b"\0", Some("")),
        (b"a\0", Some("a")),
        (b"seven c\0", Some("seven c")),
        (b"eight ch\0", Some("eight ch")),
        (
            "caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e\0".as_bytes(),
            Some("caf\u{e9} cr\u{e8}me br\u{fb}l\u{e9}e"),
        ),
        (b"\xffbcdefg\0", None),
        (b"abcdefgh\xff\0", None),
        (b"abcdefghijklmnop\xc3\0", None),
    ];
    for (bytes, want) in cases {
        for (padding, far) in [(0, false), (0xff, false), (0, true), (0xff, true)] {
            let msg = message(bytes, padding, far);
            let case = format!("{bytes:?}, padding {padding:#x}, far {far}");
            let borrowed = st.from_slice::<Label<'_>>(&msg).map(|l| l.label.to_owned());
            let owned = st.from_slice::<Inner>(&msg).map(|i| i.label);
            let value = st.from_slice::<serde_json::Value>(&msg);
            match want {
                Some(text) => {
                    assert_eq!(borrowed.unwrap(), text, "{case}");
                    assert_eq!(owned.unwrap(), text, "{case}");
                    assert_eq!(value.unwrap()["label"], text, "{case}");
                }
                None => {
                    for err in [
                        borrowed.unwrap_err(),
                        owned.unwrap_err(),
                        value.unwrap_err(),
                    ] {
                        assert_eq!(err.category(), Category::Data, "{case}: {err}");
                        assert!(
                            err.message().starts_with("text is not valid UTF-8: "),
                            "{case}: {err}"
                        );
                        assert_eq!(err.path(), "label", "{case}: {err}");
                    }
                }
            }
        }
    }
}

/// Bytes after the message are an error on every reader of one message, naming how many.
#[test]
fn every_reader_refuses_bytes_after_the_message() {
    let st = all_types();
    let mut bytes = st.to_vec(&typed()).unwrap();
    bytes.extend_from_slice(&[0; 16]);
    let mut packed = st.to_vec_packed(&typed()).unwrap();
    packed.extend_from_slice(&[0; 16]);
    type Read = fn(&StructSchema, &[u8]) -> serde_capnp::Result<()>;
    let readers: [(&str, &[u8], Read); 6] = [
        ("from_slice", &bytes, |st, b| {
            st.from_slice::<Typed>(b).map(drop)
        }),
        ("read_value", &bytes, |st, b| st.read_value(b).map(drop)),
        ("to_json", &bytes, |st, b| st.to_json(b).map(drop)),
        ("to_text", &bytes, |st, b| st.to_text(b).map(drop)),
        ("reader", &bytes, |st, b| st.reader(b).map(drop)),
        ("from_slice_packed", &packed, |st, b| {
            st.from_slice_packed::<Typed>(b).map(drop)
        }),
    ];
    for (name, input, read) in readers {
        let err = read(&st, input).unwrap_err();
        assert_eq!(err.category(), Category::Wire, "{name}: {err:?}");
        assert_eq!(err.message(), "16 bytes follow the message", "{name}");
    }
}

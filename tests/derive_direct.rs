//! The derive's direct path against the serde path: the same bytes, the same values and the
//! same errors, on the benchmark datasets, on types with serde attributes, and on hostile input.
//!
//! `serde_capnp::to_vec`/`from_slice` take a bound type's direct path; the handle's own
//! `StructSchema::to_vec`/`from_slice` always take the serde path.

#[path = "../benches/bound/mod.rs"]
mod bound;

use std::borrow::Cow;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_capnp::{Capnp, CapnpRead, CapnpStruct};
use serde_capnp_suite::datasets;

/// Writes `value` both ways, checks the bytes are equal, and reads them back both ways.
fn same_both_ways<T>(value: &T) -> Vec<u8>
where
    T: Serialize + DeserializeOwned + for<'de> CapnpRead<'de> + PartialEq + std::fmt::Debug,
{
    let st = T::struct_schema().unwrap();
    let serde_bytes = st.to_vec(value).unwrap();
    let direct_bytes = serde_capnp::to_vec(value).unwrap();
    assert_eq!(direct_bytes, serde_bytes, "direct and serde bytes differ");
    let direct: T = serde_capnp::from_slice(&serde_bytes).unwrap();
    let serde: T = st.from_slice(&serde_bytes).unwrap();
    assert_eq!(direct, serde);
    assert_eq!(&direct, value);
    direct_bytes
}

#[test]
fn datasets_give_the_same_bytes_and_values() {
    const { assert!(<bound::Logs as CapnpStruct>::__DIRECT_WRITE) };
    const { assert!(<bound::Logs as CapnpRead>::__DIRECT_READ) };
    const { assert!(<bound::LogsBorrowed as CapnpRead>::__DIRECT_READ) };
    let logs: bound::Logs = bound::bind(&datasets::log::logs());
    let bytes = same_both_ways(&logs);
    let st = bound::Logs::struct_schema().unwrap();
    let borrowed: bound::LogsBorrowed = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!(
        borrowed,
        st.from_slice::<bound::LogsBorrowed>(&bytes).unwrap()
    );
    assert_eq!(serde_capnp::to_vec(&borrowed).unwrap(), bytes);
    let mesh: bound::Mesh = bound::bind(&datasets::mesh::mesh());
    same_both_ways(&mesh);
    let lot: bound::ParkingLot = bound::bind(&datasets::carsales::parking_lot());
    same_both_ways(&lot);
}

// -------------------------------------------------------------------------------------------
// serde attributes, fields that fall back to the serde path, enums, options and lists
// -------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone, Copy)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Color")]
enum Color {
    Red,
    Green,
    #[serde(rename = "blue")]
    Azure,
    DarkGoldenrod,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct Inner {
    id: u32,
    label: String,
    color: Color,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone, Default)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes.point")]
struct Point {
    x: i32,
    y: i32,
}

/// Not bound: written and read through the serde path wherever it appears.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct LooseInner {
    id: u32,
    label: String,
}

fn is_zero(v: &u16) -> bool {
    *v == 0
}

fn seven() -> u64 {
    7
}

/// Writes a list of `Int32` doubled, and halves it back: a function the macro cannot see into.
fn doubled<S: serde::Serializer>(v: &[i32], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.wrapping_mul(2)))
}

fn halved<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<i32>, D::Error> {
    Ok(Vec::<i32>::deserialize(d)?
        .into_iter()
        .map(|x| x / 2)
        .collect())
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct Attributes {
    #[serde(rename = "boolField")]
    flag: bool,
    int8_field: i8,
    int16_field: i16,
    #[serde(default)]
    int32_field: i32,
    int64_field: i64,
    uint8_field: u8,
    #[serde(skip_serializing_if = "is_zero")]
    uint16_field: u16,
    uint32_field: u32,
    #[serde(skip_deserializing, default = "seven")]
    uint64_field: u64,
    float32_field: f32,
    float64_field: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    text_field: Option<String>,
    #[serde(with = "serde_bytes")]
    data_field: Vec<u8>,
    enum_field: Color,
    struct_field: Option<Inner>,
    #[serde(serialize_with = "doubled", deserialize_with = "halved")]
    int32_list: Vec<i32>,
    struct_list: Vec<Inner>,
    text_list: Vec<String>,
    #[serde(rename = "structListList")]
    loose_lists: Vec<Vec<LooseInner>>,
    point: Point,
    #[serde(skip)]
    local: u32,
}

fn attributes(seed: u32) -> Attributes {
    let inner = |i: u32| Inner {
        id: i,
        label: format!("inner {i}"),
        color: [Color::Red, Color::Green, Color::Azure, Color::DarkGoldenrod][i as usize % 4],
    };
    Attributes {
        flag: seed % 2 == 1,
        int8_field: -(seed as i8),
        int16_field: -300 * seed as i16,
        int32_field: 70_000 * seed as i32,
        int64_field: -(1 << 40) * seed as i64,
        uint8_field: 200u8.wrapping_add(seed as u8),
        uint16_field: (seed % 3) as u16,
        uint32_field: 3_000_000_000 + seed,
        uint64_field: 7,
        float32_field: 1.5 * seed as f32,
        float64_field: -2.25e100 * seed as f64,
        text_field: seed.is_multiple_of(2).then(|| format!("text {seed}")),
        data_field: vec![0xde, 0xad, seed as u8],
        enum_field: inner(seed).color,
        struct_field: (!seed.is_multiple_of(3)).then(|| inner(seed + 1)),
        int32_list: vec![1, -2, seed as i32],
        struct_list: (0..seed % 5).map(inner).collect(),
        text_list: vec!["a".into(), format!("b{seed}")],
        loose_lists: vec![vec![LooseInner {
            id: seed,
            label: "loose".into(),
        }]],
        point: Point {
            x: seed as i32,
            y: -(seed as i32),
        },
        local: 0,
    }
}

#[test]
fn serde_attributes_give_the_same_bytes_and_values() {
    const { assert!(Attributes::__DIRECT_WRITE && <Attributes as CapnpRead>::__DIRECT_READ) };
    const { assert!(Inner::__DIRECT_WRITE && <Inner as CapnpRead>::__DIRECT_READ) };
    for seed in 0..12 {
        let value = attributes(seed);
        let bytes = same_both_ways(&value);
        // `skip` and `skip_deserializing` fields read back as their defaults either way.
        let mut local = value.clone();
        local.local = 99;
        local.uint64_field = 1234;
        assert_eq!(serde_capnp::to_vec(&local).unwrap(), {
            let mut v = value.clone();
            v.uint64_field = 1234;
            Attributes::struct_schema().unwrap().to_vec(&v).unwrap()
        });
        let back: Attributes = serde_capnp::from_slice(&bytes).unwrap();
        assert_eq!((back.local, back.uint64_field), (0, 7));
    }
}

#[test]
fn fields_that_fall_back_agree_with_the_serde_path() {
    // `int32_list` goes through its functions, `data_field` through serde_bytes, `loose_lists`
    // and the group `point` through the serde path: the bytes hold what the functions wrote.
    let value = attributes(4);
    let bytes = serde_capnp::to_vec(&value).unwrap();
    let schema = Attributes::struct_schema().unwrap();
    let json = schema.to_json_short(&bytes).unwrap();
    assert!(json.contains(r#""int32List":[2,-4,8]"#), "{json}");
    assert!(json.contains(r#""point":{"x":4,"y":-4}"#), "{json}");
    let back: Attributes = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!(back.int32_list, value.int32_list);
    assert_eq!(back.loose_lists, value.loose_lists);
}

#[test]
fn enums_map_by_serde_names() {
    for (color, name) in [
        (Color::Red, "red"),
        (Color::Azure, "blue"),
        (Color::DarkGoldenrod, "darkGoldenrod"),
    ] {
        let inner = Inner {
            id: 1,
            label: String::new(),
            color,
        };
        let bytes = same_both_ways(&inner);
        let json = Inner::struct_schema()
            .unwrap()
            .to_json_short(&bytes)
            .unwrap();
        assert!(json.contains(&format!(r#""color":"{name}""#)), "{json}");
    }
    // An ordinal the schema does not have, either way.
    let mut bytes = serde_capnp::to_vec(&Inner {
        id: 1,
        label: String::new(),
        color: Color::Red,
    })
    .unwrap();
    // The root struct's data word follows the segment table and the root pointer; `color`
    // is the UInt16 after `id`.
    bytes[16 + 4] = 9;
    same_error::<Inner>(&bytes);
}

// -------------------------------------------------------------------------------------------
// Hostile input: the same errors as the serde path
// -------------------------------------------------------------------------------------------

/// Reads `bytes` both ways and checks that the outcomes are equal: the same value, or errors
/// with the same category, message and path.
fn same_outcome<T>(bytes: &[u8]) -> Result<T, String>
where
    T: DeserializeOwned + for<'de> CapnpRead<'de> + PartialEq + std::fmt::Debug,
{
    let direct = serde_capnp::from_slice::<T>(bytes);
    let serde = T::struct_schema().unwrap().from_slice::<T>(bytes);
    match (direct, serde) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            Ok(a)
        }
        (Err(a), Err(b)) => {
            assert_eq!((a.category(), a.to_string()), (b.category(), b.to_string()));
            Err(a.to_string())
        }
        (a, b) => panic!("direct {a:?}, serde {b:?}"),
    }
}

fn same_error<T>(bytes: &[u8]) -> String
where
    T: DeserializeOwned + for<'de> CapnpRead<'de> + PartialEq + std::fmt::Debug,
{
    same_outcome::<T>(bytes).expect_err("the message is bad")
}

fn small_lot() -> bound::ParkingLot {
    let mut lot: bound::ParkingLot = bound::bind(&datasets::carsales::parking_lot());
    lot.cars.truncate(3);
    lot
}

fn small_logs() -> bound::Logs {
    let mut logs: bound::Logs = bound::bind(&datasets::log::logs());
    logs.logs.truncate(4);
    logs
}

#[test]
fn truncated_messages_fail_alike() {
    let bytes = serde_capnp::to_vec(&small_logs()).unwrap();
    for cut in (0..bytes.len()).step_by(8) {
        same_error::<bound::Logs>(&bytes[..cut]);
    }
    // A segment table that claims less than the bytes that follow it.
    let mut short = bytes.clone();
    let words = u32::from_le_bytes(short[4..8].try_into().unwrap());
    short[4..8].copy_from_slice(&(words - 3).to_le_bytes());
    same_error::<bound::Logs>(&short);
}

#[test]
fn pointers_out_of_bounds_fail_alike() {
    let bytes = serde_capnp::to_vec(&small_logs()).unwrap();
    let words = bytes.len() / 8;
    // Every word made into a pointer far past the end, or of the wrong kind.
    for w in 1..words {
        for bad in [
            0x7fff_fff0u64,        // a struct pointer far past the end
            0x0000_0100_7fff_fff1, // a list pointer far past the end
            0x0000_0005_0000_0001, // a list of 8-byte values where texts or structs are
            0x0000_0002_0000_000a, // a far pointer to a segment that does not exist
            0x0000_0000_0000_0003, // a capability
        ] {
            let mut b = bytes.clone();
            b[w * 8..w * 8 + 8].copy_from_slice(&bad.to_le_bytes());
            let _ = same_outcome::<bound::Logs>(&b);
        }
    }
}

#[test]
fn corrupted_bytes_give_the_same_outcome() {
    // A fixed pseudo-random walk over the bytes of each dataset's message.
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let lot = serde_capnp::to_vec(&small_lot()).unwrap();
    let logs = serde_capnp::to_vec(&small_logs()).unwrap();
    let mut mesh: bound::Mesh = bound::bind(&datasets::mesh::mesh());
    mesh.triangles.truncate(5);
    let mesh = serde_capnp::to_vec(&mesh).unwrap();
    let mut failures = 0;
    for _ in 0..3000 {
        let r = next();
        let (bytes, which) = match r % 3 {
            0 => (&lot, 0),
            1 => (&logs, 1),
            _ => (&mesh, 2),
        };
        let mut b = bytes.clone();
        for _ in 0..1 + (r >> 8) % 3 {
            let r = next();
            let at = 8 + (r as usize % (b.len() - 8));
            b[at] = (r >> 32) as u8;
        }
        let failed = match which {
            0 => same_outcome::<bound::ParkingLot>(&b).is_err(),
            1 => same_outcome::<bound::Logs>(&b).is_err(),
            _ => same_outcome::<bound::Mesh>(&b).is_err(),
        };
        failures += failed as u32;
    }
    assert!(failures > 100, "only {failures} corruptions were caught");
}

#[test]
fn the_amplification_limit_holds_alike() {
    // Many records whose four texts all point at one long text: a small message whose read
    // would traverse far more words than it holds.
    let count = 2000u32;
    let text = "x".repeat(8 * 1024 - 1);
    let text_words = (text.len() + 1).div_ceil(8) as u32;
    let mut words: Vec<u64> = Vec::new();
    words.push(0); // root pointer, set below: `Logs` has no data and one pointer
    let list_at = words.len();
    words.push(0); // its list pointer
                   // Struct list tag and the records: `Log` has 2 data words and 5 pointers.
    let tag_at = words.len();
    words.push(((count as u64) << 2) | (2u64 << 32) | (5u64 << 48));
    let records_at = words.len();
    words.resize(records_at + count as usize * 7, 0);
    let text_at = words.len();
    let mut text_bytes = text.into_bytes();
    text_bytes.push(0);
    text_bytes.resize(text_words as usize * 8, 0);
    for chunk in text_bytes.chunks(8) {
        words.push(u64::from_le_bytes(chunk.try_into().unwrap()));
    }
    let rel = |from: usize, to: usize| ((to as i64 - from as i64 - 1) as i32 as u32 as u64) << 2;
    words[0] = rel(0, 1) | (1u64 << 48);
    words[list_at] = rel(list_at, tag_at) | 1 | (7u64 << 32) | ((count as u64 * 7) << 35);
    // Each text's length counts its NUL.
    let len = 8 * 1024u64;
    for i in 0..count as usize {
        for p in 1..5 {
            let at = records_at + i * 7 + 2 + p;
            words[at] = rel(at, text_at) | 1 | (2u64 << 32) | (len << 35);
        }
    }
    let mut bytes = vec![0u8; 8];
    bytes[4..8].copy_from_slice(&(words.len() as u32).to_le_bytes());
    for w in &words {
        bytes.extend_from_slice(&w.to_le_bytes());
    }
    let e = same_error::<bound::Logs>(&bytes);
    assert!(e.contains("read limit exceeded"), "{e}");
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "tests/schemas/recursive.capnp", name = "Node")]
struct Node {
    value: u32,
    children: Vec<Node>,
}

fn chain(depth: u32) -> Node {
    let mut node = Node {
        value: 0,
        children: Vec::new(),
    };
    for value in 1..depth {
        node = Node {
            value,
            children: vec![node],
        };
    }
    node
}

#[test]
fn the_nesting_limit_holds_alike() {
    const { assert!(Node::__DIRECT_WRITE && <Node as CapnpRead>::__DIRECT_READ) };
    // Within the limit (64 levels: the root, then one per list), both paths agree.
    same_both_ways(&chain(60));
    // Past it, both refuse to write it ...
    let deep = chain(70);
    let st = Node::struct_schema().unwrap();
    let (direct, serde) = (serde_capnp::to_vec(&deep), st.to_vec(&deep));
    let (direct, serde) = (direct.unwrap_err(), serde.unwrap_err());
    assert_eq!(direct.to_string(), serde.to_string());
    assert!(
        direct.to_string().contains("nesting limit exceeded"),
        "{direct}"
    );
    // ... and to read it, written by a handle that allows more.
    let lenient = st
        .clone()
        .with_read_options(serde_capnp::ReadOptions::default().nesting_limit(200));
    let bytes = lenient.to_vec(&deep).unwrap();
    let e = same_error::<Node>(&bytes);
    assert!(e.contains("nesting limit exceeded"), "{e}");
}

#[test]
fn every_bound_io_function_takes_the_direct_path_alike() {
    let lot = small_lot();
    let st = bound::ParkingLot::struct_schema().unwrap();
    let packed = serde_capnp::to_vec_packed(&lot).unwrap();
    assert_eq!(packed, st.to_vec_packed(&lot).unwrap());
    assert_eq!(
        serde_capnp::from_slice_packed::<bound::ParkingLot>(&packed).unwrap(),
        lot
    );
    let mut written = Vec::new();
    serde_capnp::to_writer(&mut written, &lot).unwrap();
    written.extend_from_slice(&serde_capnp::to_vec(&lot).unwrap());
    let mut reader = &written[..];
    for _ in 0..2 {
        let back: bound::ParkingLot = serde_capnp::from_reader(&mut reader).unwrap();
        assert_eq!(back, lot);
    }
    assert!(serde_capnp::from_reader::<_, bound::ParkingLot>(&mut reader).is_err());
    let mut trailing = packed.clone();
    trailing.push(0);
    let (a, b) = (
        serde_capnp::from_slice_packed::<bound::ParkingLot>(&trailing).unwrap_err(),
        st.from_slice_packed::<bound::ParkingLot>(&trailing)
            .unwrap_err(),
    );
    assert_eq!(a.to_string(), b.to_string());
}

/// A hand-written `Serialize` the direct path would bypass: `direct = false` keeps serde's.
#[derive(Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/bench.capnp", name = "Address", direct = false)]
struct Reversed {
    x0: u8,
    x1: u8,
    x2: u8,
    x3: u8,
}

impl Serialize for Reversed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Reversed", 4)?;
        st.serialize_field("x0", &self.x3)?;
        st.serialize_field("x1", &self.x2)?;
        st.serialize_field("x2", &self.x1)?;
        st.serialize_field("x3", &self.x0)?;
        st.end()
    }
}

#[test]
fn direct_false_keeps_a_hand_written_serialize() {
    const { assert!(!Reversed::__DIRECT_WRITE && !<Reversed as CapnpRead>::__DIRECT_READ) };
    let value = Reversed {
        x0: 1,
        x1: 2,
        x2: 3,
        x3: 4,
    };
    let bytes = serde_capnp::to_vec(&value).unwrap();
    let back: Reversed = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!((back.x0, back.x3), (4, 1));
}

// -------------------------------------------------------------------------------------------
// Types that borrow from the message
// -------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct InnerBorrowed<'a> {
    id: u32,
    label: &'a str,
    color: Color,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes.Nested")]
struct NestedBorrowed<'a> {
    depth: u16,
    #[serde(borrow)]
    deeper: DeeperBorrowed<'a>,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes.Nested.Deeper")]
struct DeeperBorrowed<'a> {
    flag: bool,
    #[serde(borrow)]
    note: Cow<'a, str>,
}

/// Every kind of field a type that borrows can have: `&str`, `&[u8]` and `Option`s of them,
/// `Cow` with and without `#[serde(borrow)]`, nested bound structs that borrow (alone, in an
/// `Option` and in a list), and a field the serde path reads (`Vec<&str>`).
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct AllBorrowed<'a> {
    int32_field: i32,
    text_field: Option<&'a str>,
    data_field: &'a [u8],
    enum_field: Color,
    #[serde(borrow)]
    struct_field: Option<InnerBorrowed<'a>>,
    #[serde(borrow)]
    nested_field: NestedBorrowed<'a>,
    #[serde(borrow)]
    text_list: Vec<&'a str>,
    #[serde(borrow)]
    struct_list: Vec<InnerBorrowed<'a>>,
}

/// The other spellings of the same fields.
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct OtherBorrowed<'a, 'b> {
    /// Not borrowed: serde's `Cow<str>` is owned without `#[serde(borrow)]`.
    text_field: Cow<'a, str>,
    #[serde(borrow)]
    data_field: Cow<'b, [u8]>,
    #[serde(borrow)]
    struct_list: Vec<InnerBorrowed<'b>>,
}

/// Also bound to `AllTypes`: `Option<&[u8]>`, and a `&str` on the struct's `label`.
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct OptionalData<'a> {
    data_field: Option<&'a [u8]>,
    #[serde(borrow)]
    struct_field: InnerBorrowed<'a>,
}

fn all_borrowed(seed: u32, texts: &[String]) -> AllBorrowed<'_> {
    let inner = |i: u32| InnerBorrowed {
        id: i,
        label: &texts[i as usize % texts.len()],
        color: [Color::Red, Color::Green, Color::Azure, Color::DarkGoldenrod][i as usize % 4],
    };
    AllBorrowed {
        int32_field: seed as i32 * -7,
        text_field: seed.is_multiple_of(2).then(|| texts[0].as_str()),
        data_field: texts[seed as usize % texts.len()].as_bytes(),
        enum_field: inner(seed).color,
        struct_field: (!seed.is_multiple_of(3)).then(|| inner(seed + 1)),
        nested_field: NestedBorrowed {
            depth: seed as u16,
            deeper: DeeperBorrowed {
                flag: seed.is_multiple_of(2),
                note: Cow::Borrowed(&texts[1]),
            },
        },
        text_list: texts
            .iter()
            .take(seed as usize % 4)
            .map(|t| t.as_str())
            .collect(),
        struct_list: (0..seed % 5).map(inner).collect(),
    }
}

/// Reads `bytes` by the direct path and by the serde path, checks the outcomes are equal,
/// and returns the direct one.
fn same_outcome_borrowed<'a, T>(bytes: &'a [u8]) -> Result<T, String>
where
    T: Deserialize<'a> + CapnpRead<'a> + PartialEq + std::fmt::Debug,
{
    let direct = serde_capnp::from_slice::<T>(bytes);
    let serde = T::struct_schema().unwrap().from_slice::<T>(bytes);
    match (direct, serde) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a, b);
            Ok(a)
        }
        (Err(a), Err(b)) => {
            assert_eq!((a.category(), a.to_string()), (b.category(), b.to_string()));
            Err(a.to_string())
        }
        (a, b) => panic!("direct {a:?}, serde {b:?}"),
    }
}

fn points_into(bytes: &[u8], s: &[u8]) -> bool {
    s.is_empty() || bytes.as_ptr_range().contains(&s.as_ptr())
}

#[test]
fn borrowed_types_read_the_same_values_by_either_path() {
    const { assert!(<AllBorrowed as CapnpRead>::__DIRECT_READ) };
    const { assert!(<InnerBorrowed as CapnpRead>::__DIRECT_READ) };
    const { assert!(<NestedBorrowed as CapnpRead>::__DIRECT_READ) };
    const { assert!(<OtherBorrowed as CapnpRead>::__DIRECT_READ) };
    const { assert!(<OptionalData as CapnpRead>::__DIRECT_READ) };
    let texts: Vec<String> = ["zero", "", "two: ü", "three three three three"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    for seed in 0..12 {
        let value = all_borrowed(seed, &texts);
        let bytes = serde_capnp::to_vec(&value).unwrap();
        assert_eq!(
            bytes,
            AllBorrowed::struct_schema()
                .unwrap()
                .to_vec(&value)
                .unwrap()
        );
        let back: AllBorrowed = same_outcome_borrowed(&bytes).unwrap();
        assert_eq!(back, value);
        // Text and Data point into the message.
        assert!(points_into(&bytes, back.data_field));
        assert!(back
            .text_field
            .is_none_or(|t| points_into(&bytes, t.as_bytes())));
        for inner in back.struct_list.iter().chain(&back.struct_field) {
            assert!(points_into(&bytes, inner.label.as_bytes()));
        }
        assert!(matches!(back.nested_field.deeper.note, Cow::Borrowed(_)));

        let other: OtherBorrowed = same_outcome_borrowed(&bytes).unwrap();
        assert!(matches!(other.text_field, Cow::Owned(_)));
        assert!(matches!(other.data_field, Cow::Borrowed(d) if points_into(&bytes, d)));
        assert_eq!(other.text_field.as_ref(), value.text_field.unwrap_or(""));
        assert_eq!(&*other.data_field, value.data_field);
        assert_eq!(other.struct_list, value.struct_list);

        let optional: OptionalData = same_outcome_borrowed(&bytes).unwrap();
        assert_eq!(optional.data_field, Some(value.data_field));
        assert_eq!(
            optional.struct_field.id,
            value.struct_field.as_ref().map_or(0, |s| s.id)
        );
    }
    // Null pointers: `None`, "" and empty bytes alike by either path.
    let empty = serde_capnp::to_vec(&OptionalData {
        data_field: None,
        struct_field: InnerBorrowed {
            id: 1,
            label: "",
            color: Color::Red,
        },
    })
    .unwrap();
    let optional: OptionalData = same_outcome_borrowed(&empty).unwrap();
    assert_eq!(optional.data_field, None);
    let all: AllBorrowed = same_outcome_borrowed(&empty).unwrap();
    assert_eq!((all.text_field, all.data_field), (None, &[][..]));
    assert_eq!(all.nested_field.deeper.note, "");
}

#[test]
fn borrowed_types_fail_alike_on_hostile_input() {
    let texts: Vec<String> = ["alpha", "beta", "gamma delta"]
        .iter()
        .map(|t| t.to_string())
        .collect();
    let bytes = serde_capnp::to_vec(&all_borrowed(4, &texts)).unwrap();
    for cut in (0..bytes.len()).step_by(8) {
        same_outcome_borrowed::<AllBorrowed>(&bytes[..cut]).expect_err("the message is cut");
    }
    let logs = serde_capnp::to_vec(&small_logs()).unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut failures = 0;
    for _ in 0..3000 {
        let r = next();
        let mut b = if r % 2 == 0 {
            bytes.clone()
        } else {
            logs.clone()
        };
        for _ in 0..1 + (r >> 8) % 3 {
            let r = next();
            let at = 8 + (r as usize % (b.len() - 8));
            b[at] = (r >> 32) as u8;
        }
        let failed = if r % 2 == 0 {
            same_outcome_borrowed::<AllBorrowed>(&b).is_err()
        } else {
            same_outcome_borrowed::<bound::LogsBorrowed>(&b).is_err()
        };
        failures += failed as u32;
    }
    assert!(failures > 100, "only {failures} corruptions were caught");
    // Text that is not UTF-8, and Text without its NUL, by either path.
    let value = InnerBorrowed {
        id: 1,
        label: "abcdefg",
        color: Color::Red,
    };
    let good = serde_capnp::to_vec(&value).unwrap();
    let at = good.windows(7).position(|w| w == b"abcdefg").unwrap();
    let mut bad = good.clone();
    bad[at + 1] = 0xff;
    let e = same_outcome_borrowed::<InnerBorrowed>(&bad).unwrap_err();
    assert!(e.contains("label"), "{e}");
    let mut bad = good.clone();
    bad[at + 7] = b'!';
    same_outcome_borrowed::<InnerBorrowed>(&bad).unwrap_err();
}

/// Bound by the derive, with a `Deserialize` that always fails: only the direct path can
/// read it, so reading it at all shows that path was taken.
#[derive(Serialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct DirectOnly<'a> {
    id: u32,
    label: &'a str,
    color: Color,
}

impl<'de: 'a, 'a> Deserialize<'de> for DirectOnly<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("the serde path was taken"))
    }
}

/// Holds `DirectOnly` in an `Option` and in a list.
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct HoldsDirectOnly<'a> {
    text_field: &'a str,
    #[serde(borrow)]
    struct_field: Option<DirectOnly<'a>>,
    #[serde(borrow)]
    struct_list: Vec<DirectOnly<'a>>,
}

#[test]
fn borrowed_types_take_the_direct_path() {
    let inner = |id| DirectOnly {
        id,
        label: "borrowed",
        color: Color::Green,
    };
    let bytes = serde_capnp::to_vec(&inner(3)).unwrap();
    let st = DirectOnly::struct_schema().unwrap();
    let e = st.from_slice::<DirectOnly>(&bytes).unwrap_err();
    assert!(e.to_string().contains("the serde path was taken"), "{e}");
    let back: DirectOnly = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!(back, inner(3));

    // Nested in an `Option` and in a list.
    let value = HoldsDirectOnly {
        text_field: "root",
        struct_field: Some(inner(1)),
        struct_list: vec![inner(2), inner(4)],
    };
    let bytes = serde_capnp::to_vec(&value).unwrap();
    assert!(HoldsDirectOnly::struct_schema()
        .unwrap()
        .from_slice::<HoldsDirectOnly>(&bytes)
        .is_err());
    let back: HoldsDirectOnly = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!(back, value);
}

/// A lifetime that nothing borrows: serde reads it for messages of any lifetime, and so does
/// the direct path, into an owned `Cow`; a skipped field may be a `&str` too.
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct NothingBorrowed<'a, 'b> {
    id: u32,
    label: Cow<'a, str>,
    #[serde(skip)]
    local: &'b str,
}

#[test]
fn a_lifetime_nothing_borrows_reads_from_any_message() {
    const { assert!(<NothingBorrowed as CapnpRead>::__DIRECT_READ) };
    let value = NothingBorrowed {
        id: 5,
        label: Cow::Borrowed("five"),
        local: "",
    };
    let bytes = serde_capnp::to_vec(&value).unwrap();
    // From a reader, whose bytes do not outlive the call: the type is `for<'de> CapnpRead<'de>`.
    let back: NothingBorrowed<'static, 'static> = serde_capnp::from_reader(&bytes[..]).unwrap();
    assert_eq!(back, value);
    assert!(matches!(back.label, Cow::Owned(_)));
    assert_eq!(
        same_outcome_borrowed::<NothingBorrowed>(&bytes).unwrap(),
        value
    );
}

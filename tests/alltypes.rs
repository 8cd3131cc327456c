//! Every type and construct of `schemas/alltypes.capnp`: round trips through every API path,
//! interop with the C++ `capnp` tool (text, binary, canonical), schema defaults, and the
//! self-describing side of the deserializer (`deserialize_any`: `serde_json::Value`,
//! `#[serde(flatten)]`, untagged enums).

mod common;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use serde_capnp::{Schema, StructSchema};
use serde_capnp_suite::fixtures::alltypes::{
    empty, full, inner, samples, AllTypes, Color, Inner, Point, Shape, Which,
};

fn schema() -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema("alltypes")).unwrap()
}

fn all_types() -> StructSchema {
    schema().struct_type("AllTypes").unwrap()
}

fn schema_file() -> std::path::PathBuf {
    common::schema_path("alltypes")
}

// -------------------------------------------------------------------------------------------
// (a) Round trips through every path
// -------------------------------------------------------------------------------------------

/// Writes `value` and reads it back through every API path.
#[track_caller]
fn round_trip_everywhere(st: &StructSchema, value: &AllTypes) {
    let bytes = st.to_vec(value).unwrap();
    assert_eq!(bytes.len() % 8, 0, "a message is whole words");
    assert_eq!(
        &st.from_slice::<AllTypes>(&bytes).unwrap(),
        value,
        "from_slice"
    );

    // Reusing a buffer gives the same bytes.
    let reused = st.to_vec_in(value, vec![0xaa; 100]).unwrap();
    common::assert_same_bytes(&reused, &bytes);
    let mut written = Vec::new();
    st.to_writer(&mut written, value).unwrap();
    common::assert_same_bytes(&written, &bytes);

    let packed = st.to_vec_packed(value).unwrap();
    assert!(packed.len() <= bytes.len());
    assert_eq!(
        &st.from_slice_packed::<AllTypes>(&packed).unwrap(),
        value,
        "packed"
    );
    assert_eq!(
        &st.from_reader_packed::<_, AllTypes>(&packed[..]).unwrap(),
        value,
        "packed reader"
    );
    let mut packed_written = Vec::new();
    st.to_writer_packed(&mut packed_written, value).unwrap();
    assert_eq!(packed_written, packed);

    let segments = st.to_segments(value).unwrap();
    let refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    assert_eq!(
        &st.from_segments::<AllTypes>(&refs).unwrap(),
        value,
        "segments"
    );

    assert_eq!(
        &st.from_reader::<_, AllTypes>(&bytes[..]).unwrap(),
        value,
        "reader"
    );
}

#[test]
fn round_trip_every_sample_through_every_path() {
    let st = all_types();
    for (i, value) in samples().iter().enumerate() {
        eprintln!(
            "sample {i}: shape {:?}, which {:?}",
            value.shape, value.which
        );
        round_trip_everywhere(&st, value);
    }
}

#[test]
fn a_stream_of_messages_reads_back_in_order() {
    let st = all_types();
    let values = samples();
    let mut stream = Vec::new();
    for v in &values {
        st.to_writer(&mut stream, v).unwrap();
    }
    let back: Vec<AllTypes> = st
        .iter_from_reader(&stream[..])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, values);
}

#[test]
fn a_stream_of_packed_messages_reads_back_in_order() {
    let st = all_types();
    let values = samples();
    let mut packed = Vec::new();
    for v in &values {
        st.to_writer_packed(&mut packed, v).unwrap();
    }
    let mut reader = std::io::BufReader::new(&packed[..]);
    let back: Vec<AllTypes> = st
        .iter_from_reader_packed(&mut reader)
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back, values);
}

#[test]
fn bytes_after_the_message_are_an_error() {
    let st = all_types();
    let mut bytes = st.to_vec(&full()).unwrap();
    bytes.extend_from_slice(&[0; 8]);
    let err = st.from_slice::<AllTypes>(&bytes).unwrap_err();
    assert_eq!(err.category(), serde_capnp::Category::Wire, "{err}");
}

/// A view of some fields that borrows text and data from the message.
#[derive(Deserialize, Debug, PartialEq)]
struct Borrowed<'a> {
    #[serde(borrow)]
    text_field: &'a str,
    #[serde(borrow)]
    data_field: &'a [u8],
    #[serde(borrow)]
    text_list: Vec<&'a str>,
    #[serde(borrow)]
    data_list: Vec<&'a [u8]>,
    #[serde(borrow)]
    struct_field: BorrowedInner<'a>,
    #[serde(borrow)]
    names_by_id: BTreeMap<u32, &'a str>,
    #[serde(borrow)]
    cow_text: Option<std::borrow::Cow<'a, str>>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct BorrowedInner<'a> {
    id: u32,
    label: &'a str,
}

fn inside(buffer: &[u8], part: &[u8]) -> bool {
    let range = buffer.as_ptr_range();
    part.is_empty() || (range.start <= part.as_ptr() && part.as_ptr_range().end <= range.end)
}

#[test]
fn text_and_data_borrow_from_the_input() {
    let st = all_types();
    let value = full();
    let bytes = st.to_vec(&value).unwrap();
    let view: Borrowed<'_> = st.from_slice(&bytes).unwrap();
    assert_eq!(view.text_field, value.text_field);
    assert_eq!(view.data_field, &value.data_field[..]);
    assert_eq!(view.text_list, ["", "one", "ünïcödé 🦀"]);
    let data: Vec<&[u8]> = value.data_list.iter().map(|b| &b[..]).collect();
    assert_eq!(view.data_list, data);
    assert_eq!(view.struct_field.id, u32::MAX);
    assert_eq!(view.struct_field.label, "struct field");
    assert_eq!(view.names_by_id[&7], "seven");
    // `cowText` is not in the schema: the field stays absent.
    assert_eq!(view.cow_text, None);

    // Zero copy: every borrowed slice points into the message.
    assert!(inside(&bytes, view.text_field.as_bytes()));
    assert!(inside(&bytes, view.data_field));
    assert!(inside(&bytes, view.struct_field.label.as_bytes()));
    for t in &view.text_list {
        assert!(inside(&bytes, t.as_bytes()));
    }
    for d in &view.data_list {
        assert!(inside(&bytes, d));
    }

    // The same through segments.
    let segments = st.to_segments(&value).unwrap();
    let refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    let view: Borrowed<'_> = st.from_segments(&refs).unwrap();
    assert_eq!(view.text_field, value.text_field);
    assert!(inside(&segments[0], view.text_field.as_bytes()));
}

/// A sequence of `u8` (no `serde_bytes`) also reads and writes Data.
#[test]
fn data_as_a_plain_byte_sequence() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Plain {
        data_field: Vec<u8>,
        data_list: Vec<Vec<u8>>,
        uint8_list: serde_bytes::ByteBuf,
    }
    let st = all_types();
    let v = Plain {
        data_field: vec![1, 2, 255],
        data_list: vec![vec![], vec![7]],
        uint8_list: ByteBuf::from(vec![4u8, 5, 6]),
    };
    let bytes = st.to_vec(&v).unwrap();
    assert_eq!(st.from_slice::<Plain>(&bytes).unwrap(), v);
    #[derive(Deserialize)]
    struct Check {
        #[serde(with = "serde_bytes")]
        data_field: Vec<u8>,
        uint8_list: Vec<u8>,
    }
    let check: Check = st.from_slice(&bytes).unwrap();
    assert_eq!(check.data_field, [1, 2, 255]);
    assert_eq!(check.uint8_list, [4, 5, 6]);
}

#[test]
fn option_maps_to_null_pointers_and_data_defaults() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Optional {
        int32_field: Option<i32>,
        text_field: Option<String>,
        struct_field: Option<Inner>,
        int32_list: Option<Vec<i32>>,
    }
    let st = all_types();
    for v in [
        Optional {
            int32_field: Some(5),
            text_field: Some("set".into()),
            struct_field: Some(inner(1, "x", Color::Green)),
            int32_list: Some(vec![]),
        },
        Optional {
            int32_field: Some(0),
            text_field: Some(String::new()),
            struct_field: None,
            int32_list: None,
        },
    ] {
        let bytes = st.to_vec(&v).unwrap();
        assert_eq!(st.from_slice::<Optional>(&bytes).unwrap(), v);
    }
    // A data field written as `None` reads as its (zero) default.
    let none = Optional {
        int32_field: None,
        text_field: None,
        struct_field: None,
        int32_list: None,
    };
    let bytes = st.to_vec(&none).unwrap();
    let back: AllTypes = st.from_slice(&bytes).unwrap();
    assert_eq!(back, empty());
}

// -------------------------------------------------------------------------------------------
// (b) Interop with the C++ tool
// -------------------------------------------------------------------------------------------

fn convert(from_to: &str, type_name: &str, input: &[u8]) -> Vec<u8> {
    common::capnp_convert(from_to, &schema_file(), type_name, input)
        .unwrap_or_else(|e| panic!("capnp convert {from_to}: {e}"))
}

/// The tool's text on one line: it breaks lines (and pads brackets) where it likes.
fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("( ", "(")
        .replace(" )", ")")
        .replace("[ ", "[")
        .replace(" ]", "]")
}

fn to_text(type_name: &str, bytes: &[u8]) -> String {
    String::from_utf8(convert("binary:text", type_name, bytes)).unwrap()
}

#[test]
fn the_tool_prints_our_messages() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let bytes = st.to_vec(&full()).unwrap();
    let text = to_text("AllTypes", &bytes);
    // The tool's text puts line breaks where it likes; compare without them.
    let flat = one_line(&text);
    for snippet in [
        "voidField = void",
        "boolField = true",
        "int8Field = -128",
        "int16Field = 32767",
        "int32Field = -2147483648",
        "int64Field = -9223372036854775808",
        "uint8Field = 255",
        "uint16Field = 65535",
        "uint32Field = 4294967295",
        "uint64Field = 18446744073709551615",
        "textField = \"héllo, wörld — 日本語 🦀 -free\"",
        "dataField = \"\\000\\001\\177\\200\\376\\377\"",
        "enumField = darkGoldenrod",
        "structField = (id = 4294967295, label = \"struct field\", color = blue)",
        "nestedField = (depth = 65535, deeper = (flag = true, note = \"deep ✓\"))",
        "voidList = [void, void, void, void, void]",
        "boolList = [true, false, false, true, true, true, false, true, false, true, true]",
        "int8List = [-128, -1, 0, 1, 127]",
        "int64List = [-9223372036854775808, -4, 0, 4, 9223372036854775807]",
        "uint64List = [0, 1, 9223372036854775808, 18446744073709551615]",
        "float32Field = 3.4028235e38",
        "float64Field = -2.2250738585072014e-308",
        "float32List = [0, -1.5, 1.1754944e-38, inf, -inf]",
        "float64List = [0.1, -2.5e300, 1e-300, 1.7976931348623157e308]",
        "textList = [\"\", \"one\", \"ünïcödé 🦀\"]",
        "dataList = [\"\", \"\\000\", \"\\001\\002\\003\"]",
        "enumList = [red, green, blue, darkGoldenrod, red]",
        "int32ListList = [[], [1], [-2, 3], [-2147483648, 2147483647, 0]]",
        "structList = [(id = 1, label = \"first\", color = red), (id = 2, label = \"\", color = green), \
         (id = 0, label = \"third\", color = darkGoldenrod)]",
        "structListList = [[(id = 10, label = \"a\", color = blue)], [], \
         [(id = 11, label = \"b\", color = red), (id = 12, label = \"c\", color = green)]]",
        "nestedPair = (key = \"outer\", value = (key = \"\\t\\b\\a\", \
         value = (id = 6, label = \"innermost\", color = red)))",
        "innerByName = (entries = [(key = \"alpha\", value = (id = 1, label = \"A\", color = red)), \
         (key = \"beta\", value = (id = 2, label = \"B\", color = blue))])",
        "point = (x = -7, y = 2147483647)",
        "shape = (inner = (id = 42, label = \"shape inner\", color = green))",
        "pair = (left = -1, right = 1)",
        "textInnerPair = (key = \"key ✓\", value = (id = 5, label = \"pair value\", color = blue))",
        "listDataPair = (key = [1, -1, 2147483647], value = \"\\312\\376\")",
        "namesById = [(key = 1, value = \"one\"), (key = 7, value = \"seven\"), (key = 4294967295, value = \"max\")]",
    ] {
        assert!(flat.contains(snippet), "`{snippet}` not in the tool's text:\n{text}");
    }
    // A null AnyPointer is not printed.
    assert!(!flat.contains("anyField"), "{text}");
}

#[test]
fn the_tool_prints_every_union_member() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let expected = [
        ("shape = (none = void)", "number = 9223372036854775807"),
        ("shape = (radius = -0.5)", "word = \"wörd\""),
        (
            "shape = (name = \"circle ○\")",
            "nested = (id = 3, label = \"nested member\", color = blue)",
        ),
        (
            "shape = (rect = (width = 1.25, height = -3.5))",
            "unset = void",
        ),
        (
            "shape = (inner = (id = 0, label = \"\", color = red))",
            "pair = (left = -2147483648, right = 2147483647)",
        ),
    ];
    for (value, (shape, which)) in samples().iter().skip(2).zip(expected) {
        let text = to_text("AllTypes", &st.to_vec(value).unwrap());
        let flat = one_line(&text);
        assert!(flat.contains(shape), "`{shape}` not in:\n{text}");
        assert!(flat.contains(which), "`{which}` not in:\n{text}");
    }
}

#[test]
fn the_tool_copies_our_messages_and_we_read_its_copies() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    for value in samples() {
        let ours = st.to_vec(&value).unwrap();
        let theirs = convert("binary:binary", "AllTypes", &ours);
        assert_eq!(st.from_slice::<AllTypes>(&theirs).unwrap(), value);
        // And their packed encoding reads with our packed reader.
        let packed = convert("binary:packed", "AllTypes", &ours);
        assert_eq!(st.from_slice_packed::<AllTypes>(&packed).unwrap(), value);
        // Our packed encoding reads with theirs.
        let unpacked = convert(
            "packed:binary",
            "AllTypes",
            &st.to_vec_packed(&value).unwrap(),
        );
        assert_eq!(st.from_slice::<AllTypes>(&unpacked).unwrap(), value);
    }
}

/// The full value, written by hand in the Cap'n Proto text format.
const FULL_TEXT: &str = r#"(
  voidField = void,
  boolField = true,
  int8Field = -128,
  int16Field = 32767,
  int32Field = -2147483648,
  int64Field = -9223372036854775808,
  uint8Field = 255,
  uint16Field = 65535,
  uint32Field = 4294967295,
  uint64Field = 18446744073709551615,
  float32Field = 3.4028234663852886e38,
  float64Field = -2.2250738585072014e-308,
  textField = "héllo, wörld — 日本語 🦀 -free",
  dataField = 0x"00 01 7f 80 fe ff",
  enumField = darkGoldenrod,
  structField = (id = 4294967295, label = "struct field", color = blue),
  nestedField = (depth = 65535, deeper = (flag = true, note = "deep ✓")),
  voidList = [void, void, void, void, void],
  boolList = [true, false, false, true, true, true, false, true, false, true, true],
  int8List = [-128, -1, 0, 1, 127],
  int16List = [-32768, -2, 0, 2, 32767],
  int32List = [-2147483648, -3, 0, 3, 2147483647],
  int64List = [-9223372036854775808, -4, 0, 4, 9223372036854775807],
  uint8List = [0, 1, 128, 255],
  uint16List = [0, 1, 32768, 65535],
  uint32List = [0, 1, 2147483648, 4294967295],
  uint64List = [0, 1, 9223372036854775808, 18446744073709551615],
  float32List = [0, -1.5, 1.1754943508222875e-38, inf, -inf],
  float64List = [0.1, -2.5e300, 1e-300, 1.7976931348623157e308],
  textList = ["", "one", "ünïcödé 🦀"],
  dataList = ["", 0x"00", 0x"01 02 03"],
  enumList = [red, green, blue, darkGoldenrod, red],
  structList = [
    (id = 1, label = "first", color = red),
    (id = 2, label = "", color = green),
    (id = 0, label = "third", color = darkGoldenrod) ],
  int32ListList = [[], [1], [-2, 3], [-2147483648, 2147483647, 0]],
  structListList = [
    [(id = 10, label = "a", color = blue)],
    [],
    [(id = 11, label = "b", color = red), (id = 12, label = "c", color = green)] ],
  point = (x = -7, y = 2147483647),
  shape = (inner = (id = 42, label = "shape inner", color = green)),
  pair = (left = -1, right = 1),
  textInnerPair = (key = "key ✓", value = (id = 5, label = "pair value", color = blue)),
  listDataPair = (key = [1, -1, 2147483647], value = 0x"ca fe"),
  nestedPair = (key = "outer", value = (key = 0x"09 08 07", value = (id = 6, label = "innermost", color = red))),
  innerByName = (entries = [
    (key = "alpha", value = (id = 1, label = "A", color = red)),
    (key = "beta", value = (id = 2, label = "B", color = blue)) ]),
  namesById = [(key = 1, value = "one"), (key = 7, value = "seven"), (key = 4294967295, value = "max")]
)"#;

#[test]
fn we_read_what_the_tool_writes_from_text() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let bytes = convert("text:binary", "AllTypes", FULL_TEXT.as_bytes());
    assert_eq!(st.from_slice::<AllTypes>(&bytes).unwrap(), full());

    // Each union member, as the tool writes it.
    for (text, shape, which) in [
        (
            "(shape = (none = void), number = -5)",
            Shape::None,
            Which::Number(-5),
        ),
        (
            "(shape = (radius = 2.5), word = \"w\")",
            Shape::Radius(2.5),
            Which::Word("w".into()),
        ),
        (
            "(shape = (name = \"n\"), nested = (id = 1, label = \"l\", color = blue))",
            Shape::Name("n".into()),
            Which::Nested(inner(1, "l", Color::Blue)),
        ),
        (
            "(shape = (rect = (width = 0.5, height = 4)), unset = void)",
            Shape::Rect {
                width: 0.5,
                height: 4.0,
            },
            Which::Unset,
        ),
        (
            "(pair = (left = 3, right = -3))",
            Shape::None,
            Which::Pair { left: 3, right: -3 },
        ),
    ] {
        let bytes = convert("text:binary", "AllTypes", text.as_bytes());
        let v: AllTypes = st.from_slice(&bytes).unwrap();
        let mut expected = empty();
        expected.shape = shape;
        expected.which = which;
        assert_eq!(v, expected, "{text}");
    }

    // Packed output of the tool, through our packed reader.
    let packed = convert("text:packed", "AllTypes", FULL_TEXT.as_bytes());
    assert_eq!(st.from_slice_packed::<AllTypes>(&packed).unwrap(), full());
}

// -------------------------------------------------------------------------------------------
// (c) Byte identity with the C++ tool
// -------------------------------------------------------------------------------------------

/// Our bytes for `full()` against the tool's bytes for the same data written as text.
///
/// The tool builds the message from text in field order, and `AllTypes`'s Rust fields are
/// declared in that order, so the objects are allocated in the same order and the two messages
/// should be identical. Canonical forms must match in any case.
#[test]
fn canonical_bytes_match_the_tool() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let ours = st.to_vec(&full()).unwrap();
    let theirs = convert("text:binary", "AllTypes", FULL_TEXT.as_bytes());
    let our_canonical = convert("binary:canonical", "AllTypes", &ours);
    let their_canonical = convert("binary:canonical", "AllTypes", &theirs);
    common::assert_same_bytes(&our_canonical, &their_canonical);
}

#[test]
fn bytes_are_identical_to_the_tool() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let ours = st.to_vec(&full()).unwrap();
    let theirs = convert("text:binary", "AllTypes", FULL_TEXT.as_bytes());
    common::assert_same_bytes(&ours, &theirs);
}

#[test]
fn bytes_are_identical_to_the_tool_for_small_messages() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    let mut v = empty();
    v.int32_field = 1;
    v.text_field = "hi".into();
    v.struct_field = inner(2, "two", Color::Green);
    v.int32_list = vec![1, 2, 3];
    v.shape = Shape::Name("n".into());
    v.which = Which::Word("w".into());
    let text = r#"(int32Field = 1, textField = "hi", structField = (id = 2, label = "two", color = green),
        int32List = [1, 2, 3], shape = (name = "n"), word = "w")"#;
    let ours = st.to_vec(&v).unwrap();
    let theirs = convert("text:binary", "AllTypes", text.as_bytes());
    // Our message has empty (not null) lists and texts where the text leaves them out, so compare
    // a value with nulls there: only fields present in the text.
    #[derive(Serialize)]
    struct Sparse<'a> {
        int32_field: i32,
        text_field: &'a str,
        struct_field: &'a Inner,
        int32_list: &'a [i32],
        shape: &'a Shape,
        which: &'a Which,
    }
    let sparse = st
        .to_vec(&Sparse {
            int32_field: 1,
            text_field: "hi",
            struct_field: &v.struct_field,
            int32_list: &v.int32_list,
            shape: &v.shape,
            which: &v.which,
        })
        .unwrap();
    assert_eq!(
        st.from_slice::<AllTypes>(&theirs).unwrap(),
        st.from_slice::<AllTypes>(&ours).unwrap()
    );
    common::assert_same_bytes(&sparse, &theirs);
}

// -------------------------------------------------------------------------------------------
// (d) Defaults
// -------------------------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Settings {
    retries: u8,
    verbose: bool,
    tag: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Choice {
    Count(i32),
    Title(String),
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Defaults {
    void_default: (),
    bool_default: bool,
    int8_default: i8,
    int16_default: i16,
    int32_default: i32,
    int64_default: i64,
    uint8_default: u8,
    uint16_default: u16,
    uint32_default: u32,
    uint64_default: u64,
    float32_default: f32,
    float64_default: f64,
    text_default: String,
    #[serde(with = "serde_bytes")]
    data_default: Vec<u8>,
    enum_default: Color,
    struct_default: Inner,
    const_default: Inner,
    int32_answer: i32,
    bool_list_default: Vec<bool>,
    int16_list_default: Vec<i16>,
    uint64_list_default: Vec<u64>,
    float32_list_default: Vec<f32>,
    text_list_default: Vec<String>,
    data_list_default: Vec<ByteBuf>,
    enum_list_default: Vec<Color>,
    struct_list_default: Vec<Inner>,
    int32_list_list_default: Vec<Vec<i32>>,
    settings: Settings,
    choice: Choice,
}

/// Every default of `Defaults`, as the schema gives them.
fn schema_defaults() -> Defaults {
    Defaults {
        void_default: (),
        bool_default: true,
        int8_default: -123,
        int16_default: -12345,
        int32_default: -12345678,
        int64_default: -123456789012345,
        uint8_default: 234,
        uint16_default: 45678,
        uint32_default: 3456789012,
        uint64_default: 12345678901234567890,
        float32_default: 1234.5,
        float64_default: -1.25e-10,
        text_default: "hello, defaults".into(),
        data_default: vec![0xde, 0xad, 0xbe, 0xef],
        enum_default: Color::Blue,
        struct_default: inner(99, "default inner", Color::DarkGoldenrod),
        const_default: inner(7, "seven", Color::Green),
        int32_answer: 42,
        bool_list_default: vec![true, false, true],
        int16_list_default: vec![-1, 0, 1, 32767, -32768],
        uint64_list_default: vec![0, u64::MAX],
        float32_list_default: vec![0.5, -2.25],
        text_list_default: vec!["alpha".into(), "beta".into(), "gamma".into()],
        data_list_default: vec![ByteBuf::from(vec![0u8, 1]), ByteBuf::from(vec![0xffu8])],
        enum_list_default: vec![Color::Red, Color::DarkGoldenrod],
        struct_list_default: vec![inner(1, "one", Color::Red), inner(2, "", Color::Blue)],
        int32_list_list_default: vec![vec![1, 2, 3], vec![], vec![-4]],
        settings: Settings {
            retries: 3,
            verbose: true,
            tag: "group default".into(),
        },
        choice: Choice::Count(5),
    }
}

/// The smallest message with an empty `Defaults` root, built by hand: a root pointer to a
/// struct with no data and no pointers.
fn empty_struct_message() -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&0u32.to_le_bytes()); // one segment
    m.extend_from_slice(&1u32.to_le_bytes()); // of one word
    m.extend_from_slice(&[0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0]); // struct pointer, offset -1, 0/0
    m
}

#[test]
fn an_empty_struct_reads_as_every_schema_default() {
    let schema = schema();
    let st = schema.struct_type("Defaults").unwrap();
    let v: Defaults = st.from_slice(&empty_struct_message()).unwrap();
    assert_eq!(v, schema_defaults());
    // A root pointer that is null reads the same way.
    let mut null_root = Vec::new();
    null_root.extend_from_slice(&0u32.to_le_bytes());
    null_root.extend_from_slice(&1u32.to_le_bytes());
    null_root.extend_from_slice(&[0; 8]);
    assert_eq!(
        st.from_slice::<Defaults>(&null_root).unwrap(),
        schema_defaults()
    );
}

#[test]
fn the_tools_empty_message_reads_as_every_schema_default() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let schema = schema();
    let st = schema.struct_type("Defaults").unwrap();
    let bytes = convert("text:binary", "Defaults", b"()");
    assert_eq!(
        st.from_slice::<Defaults>(&bytes).unwrap(),
        schema_defaults()
    );
}

#[test]
fn defaults_written_and_read_back() {
    let schema = schema();
    let st = schema.struct_type("Defaults").unwrap();
    let v = schema_defaults();
    let bytes = st.to_vec(&v).unwrap();
    assert_eq!(st.from_slice::<Defaults>(&bytes).unwrap(), v);

    // Data fields are stored XORed with their defaults, so a value equal to the defaults has
    // an all-zero data section (the union's discriminant is 0 for `count` too).
    let root = u64::from_le_bytes(bytes[8..16].try_into().unwrap());
    assert_eq!(root & 3, 0, "root is a struct pointer");
    let offset = ((root as u32 as i32) >> 2) as usize;
    let data_words = ((root >> 32) & 0xffff) as usize;
    let start = 16 + offset * 8;
    assert!(data_words > 0);
    assert!(
        bytes[start..start + data_words * 8].iter().all(|&b| b == 0),
        "data section is not all zeros:\n{}",
        common::hex_words(&bytes)
    );

    // Other values, including the other union member, and a group off its defaults.
    let mut other = v.clone();
    other.bool_default = false;
    other.int8_default = 0;
    other.uint64_default = 0;
    other.float32_default = 0.0;
    other.text_default = String::new();
    other.data_default = Vec::new();
    other.enum_default = Color::Red;
    other.bool_list_default = vec![];
    other.settings = Settings {
        retries: 0,
        verbose: false,
        tag: "".into(),
    };
    other.choice = Choice::Title("custom".into());
    let bytes = st.to_vec(&other).unwrap();
    assert_eq!(st.from_slice::<Defaults>(&bytes).unwrap(), other);
}

/// `None` on a data field leaves the schema default in place; `None` on a pointer field leaves
/// it null, which reads as the default too.
#[test]
fn none_reads_as_the_default() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Some_ {
        bool_default: Option<bool>,
        int8_default: Option<i8>,
        text_default: Option<String>,
        int16_list_default: Option<Vec<i16>>,
    }
    let schema = schema();
    let st = schema.struct_type("Defaults").unwrap();
    let bytes = st
        .to_vec(&Some_ {
            bool_default: None,
            int8_default: None,
            text_default: None,
            int16_list_default: None,
        })
        .unwrap();
    assert_eq!(
        st.from_slice::<Defaults>(&bytes).unwrap(),
        schema_defaults()
    );
}

#[test]
fn defaults_in_the_tool_text() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let schema = schema();
    let st = schema.struct_type("Defaults").unwrap();
    let mut v = schema_defaults();
    v.int8_default = 1;
    v.text_default = "changed".into();
    v.choice = Choice::Title("t".into());
    let text = to_text("Defaults", &st.to_vec(&v).unwrap());
    let flat = one_line(&text);
    for snippet in [
        "int8Default = 1,",
        "int16Default = -12345,",
        "uint64Default = 12345678901234567890,",
        "textDefault = \"changed\"",
        "dataDefault = \"\\336\\255\\276\\357\"",
        "enumDefault = blue",
        "settings = (retries = 3, verbose = true, tag = \"group default\")",
        "choice = (title = \"t\")",
    ] {
        assert!(flat.contains(snippet), "`{snippet}` not in:\n{text}");
    }
}

#[derive(Serialize, Deserialize, Debug)]
struct FloatSpecials {
    pos_inf32: f32,
    neg_inf64: f64,
    nan64: f64,
}

#[test]
fn float_special_defaults() {
    let schema = schema();
    let st = schema.struct_type("FloatSpecials").unwrap();
    let v: FloatSpecials = st.from_slice(&empty_struct_message()).unwrap();
    assert_eq!(v.pos_inf32, f32::INFINITY);
    assert_eq!(v.neg_inf64, f64::NEG_INFINITY);
    assert!(v.nan64.is_nan());

    for w in [
        FloatSpecials {
            pos_inf32: f32::NEG_INFINITY,
            neg_inf64: f64::INFINITY,
            nan64: 0.0,
        },
        FloatSpecials {
            pos_inf32: f32::NAN,
            neg_inf64: -0.0,
            nan64: f64::NAN,
        },
    ] {
        let bytes = st.to_vec(&w).unwrap();
        let back: FloatSpecials = st.from_slice(&bytes).unwrap();
        assert_eq!(back.pos_inf32.to_bits(), w.pos_inf32.to_bits());
        assert_eq!(back.neg_inf64.to_bits(), w.neg_inf64.to_bits());
        assert_eq!(back.nan64.to_bits(), w.nan64.to_bits());
    }
}

#[test]
fn float_specials_in_the_tool_text() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let schema = schema();
    let st = schema.struct_type("FloatSpecials").unwrap();
    let bytes = convert("text:binary", "FloatSpecials", b"()");
    let v: FloatSpecials = st.from_slice(&bytes).unwrap();
    assert_eq!(v.pos_inf32, f32::INFINITY);
    assert_eq!(v.neg_inf64, f64::NEG_INFINITY);
    assert!(v.nan64.is_nan());
    let ours = st
        .to_vec(&FloatSpecials {
            pos_inf32: 1.0,
            neg_inf64: f64::INFINITY,
            nan64: 2.0,
        })
        .unwrap();
    let text = to_text("FloatSpecials", &ours);
    let flat = one_line(&text);
    assert_eq!(flat, "(posInf32 = 1, negInf64 = inf, nan64 = 2)");
}

// -------------------------------------------------------------------------------------------
// (e) deserialize_any: serde_json::Value, flatten, untagged
// -------------------------------------------------------------------------------------------

#[test]
fn json_value_of_a_struct_without_data() {
    let schema = schema();
    let st = schema.struct_type("Inner").unwrap();
    let bytes = st
        .to_vec(&inner(3, "three ✓", Color::DarkGoldenrod))
        .unwrap();
    let v: serde_json::Value = st.from_slice(&bytes).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"id": 3, "label": "three ✓", "color": "darkGoldenrod"})
    );
}

/// Every field of `AllTypes` as a `serde_json::Value`: camelCase keys, the active union
/// members only.
#[test]
fn json_value_of_all_types() {
    let st = all_types();
    let bytes = st.to_vec(&full()).unwrap();
    let v: serde_json::Value = st
        .from_slice(&bytes)
        .unwrap_or_else(|e| panic!("AllTypes as serde_json::Value: {e} ({e:?})"));
    let obj = v.as_object().expect("an object");
    assert_eq!(obj["int8Field"], -128);
    assert_eq!(obj["uint64Field"], u64::MAX);
    assert_eq!(obj["textField"], full().text_field.as_str());
    // Data, which JSON has no type for, reads as a sequence of bytes.
    assert_eq!(
        obj["dataField"],
        serde_json::json!([0, 1, 0x7f, 0x80, 0xfe, 0xff])
    );
    assert_eq!(obj["dataList"], serde_json::json!([[], [0], [1, 2, 3]]));
    assert_eq!(obj["enumField"], "darkGoldenrod");
    assert_eq!(obj["structField"]["label"], "struct field");
    assert_eq!(obj["nestedField"]["deeper"]["note"], "deep ✓");
    assert_eq!(
        obj["int32ListList"],
        serde_json::json!([[], [1], [-2, 3], [i32::MIN, i32::MAX, 0]])
    );
    assert_eq!(obj["point"], serde_json::json!({"x": -7, "y": i32::MAX}));
    assert_eq!(obj["shape"]["inner"]["id"], 42);
    assert_eq!(obj["pair"], serde_json::json!({"left": -1, "right": 1}));
    assert_eq!(
        obj["namesById"][2],
        serde_json::json!({"key": u32::MAX, "value": "max"})
    );
    // Inactive union members are absent.
    for absent in ["unset", "number", "word", "nested"] {
        assert!(!obj.contains_key(absent), "{absent} in {v}");
    }
    assert!(
        obj.keys().all(|k| !k.contains('_')),
        "keys are camelCase: {v}"
    );
}

#[test]
fn json_value_round_trips_through_the_serializer() {
    // A `serde_json::Value` read from one message writes the same data back.
    let schema = schema();
    let st = schema.struct_type("Inner").unwrap();
    let bytes = st.to_vec(&inner(9, "nine", Color::Green)).unwrap();
    let v: serde_json::Value = st.from_slice(&bytes).unwrap();
    let again = st.to_vec(&v).unwrap();
    assert_eq!(
        st.from_slice::<Inner>(&again).unwrap(),
        inner(9, "nine", Color::Green)
    );
}

/// With `#[serde(flatten)]` serde reads the struct as a map with the schema's own (camelCase)
/// names, so the Rust fields must carry those names.
#[test]
fn flatten_a_struct_and_the_unnamed_union() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Outer {
        int8_field: i8,
        #[serde(flatten)]
        rest: Rest,
        #[serde(flatten)]
        which: FlatWhich,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Rest {
        text_field: String,
        point: Point,
        int32_list: Vec<i32>,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(rename_all = "camelCase")]
    enum FlatWhich {
        Number(i64),
        Word(String),
        Pair { left: i32, right: i32 },
    }
    let st = all_types();
    for which in [
        FlatWhich::Number(-9),
        FlatWhich::Word("flat".into()),
        FlatWhich::Pair { left: 4, right: 5 },
    ] {
        let v = Outer {
            int8_field: -3,
            rest: Rest {
                text_field: "flattened".into(),
                point: Point { x: 1, y: 2 },
                int32_list: vec![7, 8],
            },
            which,
        };
        let bytes = st.to_vec(&v).unwrap();
        let back: Outer = st.from_slice(&bytes).unwrap();
        assert_eq!(back, v);
    }
}

#[test]
fn untagged_enums_read_by_content() {
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Loose {
        Int(i64),
        Text(String),
        Many(Vec<i32>),
        Inner(Labelled),
    }
    /// A struct read by content sees schema names, and an enum value as its enumerant name,
    /// so this one leaves out the `color`.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Labelled {
        id: u32,
        label: String,
    }
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct View {
        int64_field: Loose,
        text_field: Loose,
        int32_list: Loose,
        struct_field: Loose,
    }
    let st = all_types();
    let v = View {
        int64_field: Loose::Int(-77),
        text_field: Loose::Text("seventy-seven".into()),
        int32_list: Loose::Many(vec![7, 7]),
        struct_field: Loose::Inner(Labelled {
            id: 77,
            label: "77".into(),
        }),
    };
    let bytes = st.to_vec(&v).unwrap();
    let back: View = st.from_slice(&bytes).unwrap();
    assert_eq!(back, v);
}

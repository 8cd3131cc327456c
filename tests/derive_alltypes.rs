//! Every type of `schemas/alltypes.capnp` through bound types: the values of the shared
//! fixtures are read into types bound with `#[derive(Capnp)]` and written back, and the bytes
//! are the ones the runtime schema writes for the fixtures themselves.

mod common;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use serde_capnp::{Capnp, CapnpStruct, Schema, StructSchema};
use serde_capnp_suite::fixtures::alltypes as fixture;

const FILE: &str = "schemas/alltypes.capnp";

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, Copy, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Color")]
enum Color {
    Red,
    Green,
    Blue,
    DarkGoldenrod,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct Inner {
    id: u32,
    label: String,
    color: Color,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes.Nested")]
struct Nested {
    depth: u16,
    deeper: Deeper,
}

/// Bound by ID, as `capnp compile -ocapnp` prints it.
#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(
    schema = "schemas/alltypes.capnp",
    name = "alltypes.capnp:AllTypes.Nested.Deeper"
)]
struct Deeper {
    flag: bool,
    note: String,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes.point")]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes.shape")]
enum Shape {
    None,
    Radius(f64),
    Name(String),
    Inner(Inner),
    Rect { width: f32, height: f32 },
}

/// The unnamed union of `AllTypes`, bound to the struct itself.
#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
enum Which {
    Unset,
    Number(i64),
    Word(String),
    Nested(Inner),
    Pair { left: i32, right: i32 },
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Pair(Text, Inner)")]
struct TextInnerPair {
    key: String,
    value: Inner,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Pair(List(Int32), Data)")]
struct ListDataPair {
    key: Vec<i32>,
    #[serde(with = "serde_bytes")]
    value: Vec<u8>,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Pair(Data, Inner)")]
struct DataInnerPair {
    #[serde(with = "serde_bytes")]
    key: Vec<u8>,
    value: Inner,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(
    schema = "schemas/alltypes.capnp",
    name = "Pair(Text, Pair(Data, Inner))"
)]
struct NestedPair {
    key: String,
    value: DataInnerPair,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq, Eq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Map(Text, Inner)")]
struct InnerMap {
    entries: BTreeMap<String, Inner>,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct AllTypes {
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
    text_inner_pair: TextInnerPair,
    list_data_pair: ListDataPair,
    nested_pair: NestedPair,
    inner_by_name: InnerMap,
    names_by_id: BTreeMap<u32, String>,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Defaults")]
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
    data_default: ByteBuf,
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

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Defaults.settings")]
struct Settings {
    retries: u8,
    verbose: bool,
    tag: String,
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Defaults.choice")]
enum Choice {
    Count(i32),
    Title(String),
}

#[derive(Serialize, Deserialize, Capnp, Debug, Clone, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "FloatSpecials")]
struct FloatSpecials {
    pos_inf32: f32,
    neg_inf64: f64,
    nan64: f64,
}

fn schema() -> Schema {
    Schema::load(common::schema_path("alltypes")).unwrap()
}

fn runtime(name: &str) -> StructSchema {
    schema().struct_type(name).unwrap()
}

/// Every fixture value: read into the bound type from the runtime path's bytes, written back
/// through the bound type, the same bytes; and read back by the fixture type unchanged.
#[test]
fn every_alltypes_value_round_trips_byte_for_byte() {
    let st = runtime("AllTypes");
    for value in fixture::samples() {
        let bytes = st.to_vec(&value).unwrap();
        let bound: AllTypes = serde_capnp::from_slice(&bytes).unwrap();
        let again = serde_capnp::to_vec(&bound).unwrap();
        common::assert_same_bytes(&again, &bytes);
        assert_eq!(st.from_slice::<fixture::AllTypes>(&again).unwrap(), value);
        let packed = serde_capnp::to_vec_packed(&bound).unwrap();
        assert_eq!(packed, st.to_vec_packed(&value).unwrap());
        assert_eq!(
            serde_capnp::from_slice_packed::<AllTypes>(&packed).unwrap(),
            bound
        );
    }
}

/// Defaults and float specials: an empty message reads as the schema's defaults through the
/// bound types too, and they write back what the runtime path writes.
#[test]
fn defaults_and_float_specials_round_trip() {
    let empty = [0u8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    let d: Defaults = serde_capnp::from_slice(&empty).unwrap();
    assert_eq!(d.uint8_default, 234);
    assert_eq!(d.text_default, "hello, defaults");
    assert_eq!(d.struct_default.label, "default inner");
    assert_eq!(d.enum_default, Color::Blue);
    assert_eq!(d.settings.retries, 3);
    assert_eq!(d.choice, Choice::Count(5));
    assert_eq!(d.const_default.label, "seven");
    let bytes = serde_capnp::to_vec(&d).unwrap();
    assert_eq!(bytes, runtime("Defaults").to_vec(&d).unwrap());
    assert_eq!(serde_capnp::from_slice::<Defaults>(&bytes).unwrap(), d);

    let f: FloatSpecials = serde_capnp::from_slice(&empty).unwrap();
    assert_eq!(f.pos_inf32, f32::INFINITY);
    assert_eq!(f.neg_inf64, f64::NEG_INFINITY);
    assert!(f.nan64.is_nan());
    let bytes = serde_capnp::to_vec(&f).unwrap();
    assert_eq!(bytes, runtime("FloatSpecials").to_vec(&f).unwrap());
}

/// The node IDs the derive embeds are the schema's, for structs, groups, unions and enums.
#[test]
fn node_ids_are_the_schemas() {
    let schema = schema();
    let pool = schema.pool();
    let id = |name: &str| pool.node(pool.find(name).unwrap()).id;
    assert_eq!(AllTypes::NODE_ID, id("AllTypes"));
    assert_eq!(Which::NODE_ID, id("AllTypes"));
    assert_eq!(Shape::NODE_ID, id("AllTypes.shape"));
    assert_eq!(Point::NODE_ID, id("AllTypes.point"));
    assert_eq!(Deeper::NODE_ID, id("AllTypes.Nested.Deeper"));
    assert_eq!(Color::NODE_ID, id("Color"));
    assert_eq!(TextInnerPair::NODE_ID, id("Pair"));
    assert_eq!(InnerMap::NODE_ID, id("Map"));
    assert_eq!(Settings::NODE_ID, id("Defaults.settings"));
    assert_eq!(
        AllTypes::struct_schema().unwrap().display_name(),
        format!("{FILE}:AllTypes")
    );
}

/// A bound struct nested in a bound struct is written as its own handle writes it.
#[test]
fn a_bound_group_or_struct_alone() {
    let inner = Inner {
        id: 5,
        label: "five".into(),
        color: Color::DarkGoldenrod,
    };
    let bytes = serde_capnp::to_vec(&inner).unwrap();
    assert_eq!(
        bytes,
        runtime("Inner")
            .to_vec(&fixture::inner(5, "five", fixture::Color::DarkGoldenrod))
            .unwrap()
    );
    assert_eq!(serde_capnp::from_slice::<Inner>(&bytes).unwrap(), inner);
}

fn text_inner_pair() -> TextInnerPair {
    TextInnerPair {
        key: "key ✓".into(),
        value: Inner {
            id: 5,
            label: "pair value".into(),
            color: Color::Blue,
        },
    }
}

fn nested_pair() -> NestedPair {
    NestedPair {
        key: "outer".into(),
        value: DataInnerPair {
            key: vec![9, 8, 7],
            value: Inner {
                id: 6,
                label: "innermost".into(),
                color: Color::Red,
            },
        },
    }
}

/// The text of `text_inner_pair()` and `nested_pair()`, as `capnp convert` reads it.
const TEXT_INNER_PAIR: &str =
    r#"(key = "key ✓", value = (id = 5, label = "pair value", color = blue))"#;
const NESTED_PAIR: &str = r#"(key = "outer", value = (key = "\t\b\a", value = (id = 6, label = "innermost", color = red)))"#;

/// A generic struct with its parameters bound is a message's root: the handle
/// `struct_type("Pair(Text, Inner)")` and the type bound to that name write the same bytes, the
/// bytes `capnp convert text:binary` writes, and read them back.
#[test]
fn a_branded_generic_struct_as_a_root() {
    fn check<T>(name: &str, value: &T, text: &str)
    where
        T: Serialize
            + serde::de::DeserializeOwned
            + for<'de> serde_capnp::CapnpRead<'de>
            + PartialEq
            + std::fmt::Debug,
    {
        let st = runtime(name);
        assert!(st.brand().is_some(), "{name}");
        let bytes = st.to_vec(value).unwrap();
        common::assert_same_bytes(&serde_capnp::to_vec(value).unwrap(), &bytes);
        assert!(T::struct_schema().unwrap().brand().is_some(), "{name}");
        assert_eq!(&serde_capnp::from_slice::<T>(&bytes).unwrap(), value);
        assert_eq!(&st.from_slice::<T>(&bytes).unwrap(), value);
        common::assert_same_bytes(&st.from_text(text).unwrap(), &bytes);
        match common::capnp_convert(
            "text:binary",
            &common::schema_path("alltypes"),
            name,
            text.as_bytes(),
        ) {
            Ok(tool) => common::assert_same_bytes(&bytes, &tool),
            Err(why) if common::capnp_tool().is_none() => common::skip(&why),
            Err(why) => panic!("{why}"),
        }
    }
    check("Pair(Text, Inner)", &text_inner_pair(), TEXT_INNER_PAIR);
    check("Pair(Text, Pair(Data, Inner))", &nested_pair(), NESTED_PAIR);
}

/// JSON, the text format, `Value`s and the dynamic reader see a branded root's fields with their
/// bound types, not as `AnyPointer`s.
#[test]
fn a_branded_root_in_json_text_and_dynamic_reads() {
    let st = runtime("Pair(Text, Pair(Data, Inner))");
    let bytes = serde_capnp::to_vec(&nested_pair()).unwrap();
    let json = st.to_json_short(&bytes).unwrap();
    assert_eq!(
        json,
        r#"{"key":"outer","value":{"key":[9,8,7],"value":{"id":6,"label":"innermost","color":"red"}}}"#
    );
    common::assert_same_bytes(&st.from_json(&json).unwrap(), &bytes);
    assert_eq!(
        st.to_text_short(&bytes).unwrap(),
        r#"(key = "outer", value = (key = "\t\b\a", value = (id = 6, label = "innermost", color = red)))"#
    );
    if let Some(_tool) = common::capnp_tool() {
        let path = common::schema_path("alltypes");
        let name = "Pair(Text, Pair(Data, Inner))";
        let tool_json = common::capnp_convert("binary:json", &path, name, &bytes).unwrap();
        assert_eq!(
            st.to_json(&bytes).unwrap(),
            String::from_utf8(tool_json).unwrap().trim_end()
        );
        let tool_text = common::capnp_convert("binary:text", &path, name, &bytes).unwrap();
        assert_eq!(
            st.to_text(&bytes).unwrap(),
            String::from_utf8(tool_text).unwrap().trim_end()
        );
    } else {
        common::skip("the `capnp` tool is not installed");
    }

    let value = st.read_value(&bytes).unwrap();
    assert_eq!(st.to_vec(&value).unwrap(), bytes);
    assert_eq!(
        serde_capnp::from_value::<NestedPair>(&st, &value).unwrap(),
        nested_pair()
    );

    let reader = st.reader(&bytes).unwrap();
    let root = reader.root().unwrap();
    assert_eq!(
        root.path("value.value.label").unwrap().as_text().unwrap(),
        "innermost"
    );
    assert_eq!(root.deserialize::<NestedPair>().unwrap(), nested_pair());

    // Unbound, the same message's parameters are `AnyPointer`s, which JSON cannot print.
    let unbound = runtime("Pair");
    assert!(unbound.brand().is_none());
    assert!(unbound.to_json(&bytes).is_err());
}

/// A generic struct named with the wrong parameters is a schema error saying what it takes.
#[test]
fn wrong_generic_parameters_are_schema_errors() {
    let schema = schema();
    for (name, expected) in [
        (
            "Pair(Text)",
            "`Pair` takes 2 generic parameters (Key, Value), 1 given",
        ),
        (
            "Pair(Text, Pair(Data))",
            "`Pair` takes 2 generic parameters (Key, Value), 1 given",
        ),
        (
            "Pair(Text, Int32)",
            "generic parameter `Value` of `Pair` must be a pointer type",
        ),
        (
            "Pair(Text, Color)",
            "generic parameter `Value` of `Pair` must be a pointer type",
        ),
        (
            "Inner(Text)",
            "`Inner` is not generic: it takes no parameters, 1 given",
        ),
        ("Pair(Text, Inner", "expected `,` or `)`"),
        ("Pair(Text, Nope)", "no node named `Nope`"),
        (
            "Pair(Text, Inner) x",
            "unexpected `x` after the node's name",
        ),
    ] {
        let e = schema.struct_type(name).unwrap_err();
        assert_eq!(e.category(), serde_capnp::Category::Schema, "{name}: {e}");
        assert!(e.to_string().contains(expected), "{name}: {e}");
    }
}

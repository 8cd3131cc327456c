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

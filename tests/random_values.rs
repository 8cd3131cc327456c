//! Randomly generated `AllTypes` values round-trip through every encoding, and the reference
//! tool reads and re-encodes them into messages that read back the same.

mod common;

use std::collections::BTreeMap;

use rand::distributions::{Alphanumeric, DistString};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;
use serde_bytes::ByteBuf;
use serde_capnp::{Schema, StructSchema};
use serde_capnp_suite::fixtures::alltypes::{
    AllTypes, Color, DataInnerPair, Deeper, Inner, InnerMap, ListDataPair, Nested, NestedPair,
    Point, Shape, TextInnerPair, Which,
};

const CASES: u64 = 400;

fn all_types() -> StructSchema {
    Schema::from_code_generator_request(&common::compiled_schema("alltypes"))
        .unwrap()
        .struct_type("AllTypes")
        .unwrap()
}

fn len(rng: &mut Pcg64) -> usize {
    // Mostly short lists, sometimes empty, now and then long ones.
    match rng.gen_range(0..10) {
        0 => 0,
        1 => rng.gen_range(50..300),
        _ => rng.gen_range(1..6),
    }
}

fn text(rng: &mut Pcg64) -> String {
    if rng.gen_bool(0.2) {
        // Non-ASCII text, to exercise UTF-8 validation.
        "ünïcødé ✓ 🦀".repeat(rng.gen_range(0..3))
    } else {
        let n = len(rng);
        Alphanumeric.sample_string(rng, n)
    }
}

fn bytes(rng: &mut Pcg64) -> Vec<u8> {
    let n = len(rng);
    (0..n).map(|_| rng.gen()).collect()
}

fn list<T>(rng: &mut Pcg64, mut f: impl FnMut(&mut Pcg64) -> T) -> Vec<T> {
    let n = len(rng);
    (0..n).map(|_| f(rng)).collect()
}

fn color(rng: &mut Pcg64) -> Color {
    [Color::Red, Color::Green, Color::Blue, Color::DarkGoldenrod][rng.gen_range(0..4)]
}

fn inner(rng: &mut Pcg64) -> Inner {
    Inner {
        id: rng.gen(),
        label: text(rng),
        color: color(rng),
    }
}

/// A finite float (NaN never compares equal; NaN and infinities have their own tests).
fn f32_(rng: &mut Pcg64) -> f32 {
    if rng.gen_bool(0.1) {
        [0.0, -0.0, f32::MIN, f32::MAX, f32::MIN_POSITIVE][rng.gen_range(0..5)]
    } else {
        rng.gen_range(-1e30f32..1e30)
    }
}

fn f64_(rng: &mut Pcg64) -> f64 {
    if rng.gen_bool(0.1) {
        [0.0, -0.0, f64::MIN, f64::MAX, f64::MIN_POSITIVE][rng.gen_range(0..5)]
    } else {
        rng.gen_range(-1e300..1e300)
    }
}

fn random(seed: u64) -> AllTypes {
    let rng = &mut Pcg64::seed_from_u64(seed);
    AllTypes {
        void_field: (),
        bool_field: rng.gen(),
        int8_field: rng.gen(),
        int16_field: rng.gen(),
        int32_field: rng.gen(),
        int64_field: rng.gen(),
        uint8_field: rng.gen(),
        uint16_field: rng.gen(),
        uint32_field: rng.gen(),
        uint64_field: rng.gen(),
        float32_field: f32_(rng),
        float64_field: f64_(rng),
        text_field: text(rng),
        data_field: bytes(rng),
        enum_field: color(rng),
        struct_field: inner(rng),
        nested_field: Nested {
            depth: rng.gen(),
            deeper: Deeper {
                flag: rng.gen(),
                note: text(rng),
            },
        },
        any_field: (),
        void_list: list(rng, |_| ()),
        bool_list: list(rng, |r| r.gen()),
        int8_list: list(rng, |r| r.gen()),
        int16_list: list(rng, |r| r.gen()),
        int32_list: list(rng, |r| r.gen()),
        int64_list: list(rng, |r| r.gen()),
        uint8_list: list(rng, |r| r.gen()),
        uint16_list: list(rng, |r| r.gen()),
        uint32_list: list(rng, |r| r.gen()),
        uint64_list: list(rng, |r| r.gen()),
        float32_list: list(rng, f32_),
        float64_list: list(rng, f64_),
        text_list: list(rng, text),
        data_list: list(rng, |r| ByteBuf::from(bytes(r))),
        enum_list: list(rng, color),
        struct_list: list(rng, inner),
        int32_list_list: list(rng, |r| list(r, |r| r.gen())),
        struct_list_list: list(rng, |r| list(r, inner)),
        point: Point {
            x: rng.gen(),
            y: rng.gen(),
        },
        shape: match rng.gen_range(0..5) {
            0 => Shape::None,
            1 => Shape::Radius(f64_(rng)),
            2 => Shape::Name(text(rng)),
            3 => Shape::Inner(inner(rng)),
            _ => Shape::Rect {
                width: f32_(rng),
                height: f32_(rng),
            },
        },
        which: match rng.gen_range(0..5) {
            0 => Which::Unset,
            1 => Which::Number(rng.gen()),
            2 => Which::Word(text(rng)),
            3 => Which::Nested(inner(rng)),
            _ => Which::Pair {
                left: rng.gen(),
                right: rng.gen(),
            },
        },
        text_inner_pair: TextInnerPair {
            key: text(rng),
            value: inner(rng),
        },
        list_data_pair: ListDataPair {
            key: list(rng, |r| r.gen()),
            value: bytes(rng),
        },
        nested_pair: NestedPair {
            key: text(rng),
            value: DataInnerPair {
                key: bytes(rng),
                value: inner(rng),
            },
        },
        inner_by_name: InnerMap {
            entries: list(rng, |r| (text(r), inner(r))).into_iter().collect(),
        },
        names_by_id: list(rng, |r| (r.gen::<u32>(), text(r)))
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    }
}

#[test]
fn random_values_round_trip_through_every_encoding() {
    let st = all_types();
    for seed in 0..CASES {
        let value = random(seed);
        let bytes = st.to_vec(&value).unwrap();
        let back: AllTypes = st.from_slice(&bytes).unwrap();
        assert!(back == value, "seed {seed}: unpacked round trip");

        let packed = st.to_vec_packed(&value).unwrap();
        let back: AllTypes = st.from_slice_packed(&packed).unwrap();
        assert!(back == value, "seed {seed}: packed round trip");

        let segments = st.to_segments(&value).unwrap();
        let refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
        let back: AllTypes = st.from_segments(&refs).unwrap();
        assert!(back == value, "seed {seed}: segments round trip");

        // Through a dynamic value: written back, it reads as the same Rust value.
        let json: serde_json::Value = st.from_slice(&bytes).unwrap();
        let again = st.to_vec(&json).unwrap();
        let back: AllTypes = st.from_slice(&again).unwrap();
        assert!(back == value, "seed {seed}: through serde_json::Value");
    }
}

/// The reference tool re-encodes our messages (copying every object) and we read its copies.
#[test]
fn random_values_survive_the_reference_tool() {
    let _capnp = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let st = all_types();
    // Many messages in one stream: the tool converts a stream at once.
    let mut stream = Vec::new();
    let values: Vec<AllTypes> = (0..50).map(|seed| random(1000 + seed)).collect();
    for value in &values {
        stream.extend(st.to_vec(value).unwrap());
    }
    let copied = common::capnp_convert(
        "binary:binary",
        &common::schema_path("alltypes.capnp"),
        "AllTypes",
        &stream,
    )
    .unwrap();
    let back: Vec<AllTypes> = st
        .iter_from_reader(&copied[..])
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(back.len(), values.len());
    for (i, (a, b)) in back.iter().zip(&values).enumerate() {
        assert!(a == b, "message {i} differs after the tool's copy");
    }
}

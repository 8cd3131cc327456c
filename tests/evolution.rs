//! Schema evolution between `schemas/evolution_v1.capnp` and `schemas/evolution_v2.capnp`:
//! a newer reader sees defaults for what an older writer did not know, an older reader skips
//! what it does not know, and a union member it does not know is a clear error.

mod common;

use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use serde_capnp::{Category, Schema, StructSchema};

mod v1 {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    pub struct Record {
        pub id: u64,
        pub name: String,
        pub items: Vec<Item>,
        pub status: Status,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    pub enum Status {
        Active,
        Retired(i32),
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    pub struct Item {
        pub code: u16,
        pub label: String,
    }
}

mod v2 {
    use super::*;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    pub struct Record {
        pub id: u64,
        pub name: String,
        pub items: Vec<Item>,
        pub status: Status,
        pub score: f64,
        pub note: String,
        pub tags: Vec<String>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    pub enum Status {
        Active,
        Retired(i32),
        Suspended(String),
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    pub struct Item {
        pub code: u16,
        pub label: String,
        pub weight: u64,
        pub extra: ByteBuf,
    }
}

fn record(version: &str) -> StructSchema {
    let name = format!("evolution_{version}");
    Schema::from_code_generator_request(&common::compiled_schema(&name))
        .unwrap()
        .struct_type("Record")
        .unwrap()
}

fn v1_record() -> v1::Record {
    v1::Record {
        id: u64::MAX - 1,
        name: "written by v1 ✓".into(),
        items: vec![
            v1::Item {
                code: 1,
                label: "one".into(),
            },
            v1::Item {
                code: 65_535,
                label: "".into(),
            },
            v1::Item {
                code: 3,
                label: "three".into(),
            },
        ],
        status: v1::Status::Retired(-2020),
    }
}

fn v2_record(status: v2::Status) -> v2::Record {
    v2::Record {
        id: 77,
        name: "written by v2".into(),
        items: vec![
            v2::Item {
                code: 10,
                label: "ten".into(),
                weight: 0,
                extra: ByteBuf::from(vec![1u8, 2, 3]),
            },
            v2::Item {
                code: 20,
                label: "twenty".into(),
                weight: u64::MAX,
                extra: ByteBuf::new(),
            },
        ],
        status,
        score: -0.25,
        note: "a note".into(),
        tags: vec!["x".into(), "yz".into()],
    }
}

#[test]
fn a_newer_reader_gets_defaults_for_new_fields() {
    let old = v1_record();
    let bytes = record("v1").to_vec(&old).unwrap();
    let new: v2::Record = record("v2").from_slice(&bytes).unwrap();
    assert_eq!(
        new,
        v2::Record {
            id: old.id,
            name: old.name.clone(),
            items: old
                .items
                .iter()
                .map(|i| v2::Item {
                    code: i.code,
                    label: i.label.clone(),
                    weight: 10,
                    extra: ByteBuf::new(),
                })
                .collect(),
            status: v2::Status::Retired(-2020),
            score: 1.5,
            note: "no note".into(),
            tags: vec![],
        }
    );

    // The other v1 union member.
    let mut active = old;
    active.status = v1::Status::Active;
    let bytes = record("v1").to_vec(&active).unwrap();
    let new: v2::Record = record("v2").from_slice(&bytes).unwrap();
    assert_eq!(new.status, v2::Status::Active);
}

/// A pointer field missing from an older struct reads as null for an `Option`, and as the
/// schema default for a plain value.
#[test]
fn a_new_pointer_field_is_absent_in_an_old_message() {
    #[derive(Deserialize, Debug, PartialEq)]
    struct Probe {
        note: Option<String>,
        tags: Option<Vec<String>>,
        score: Option<f64>,
    }
    let bytes = record("v1").to_vec(&v1_record()).unwrap();
    let probe: Probe = record("v2").from_slice(&bytes).unwrap();
    assert_eq!(
        probe,
        Probe {
            note: None,
            tags: None,
            score: Some(1.5),
        }
    );
}

#[test]
fn an_older_reader_skips_unknown_fields() {
    for status in [v2::Status::Active, v2::Status::Retired(i32::MIN)] {
        let new = v2_record(status);
        let bytes = record("v2").to_vec(&new).unwrap();
        let old: v1::Record = record("v1").from_slice(&bytes).unwrap();
        assert_eq!(
            old,
            v1::Record {
                id: 77,
                name: "written by v2".into(),
                // The v2 elements are wider; the v1 reader steps over the extra words.
                items: vec![
                    v1::Item {
                        code: 10,
                        label: "ten".into(),
                    },
                    v1::Item {
                        code: 20,
                        label: "twenty".into(),
                    },
                ],
                status: match new.status {
                    v2::Status::Active => v1::Status::Active,
                    v2::Status::Retired(n) => v1::Status::Retired(n),
                    v2::Status::Suspended(_) => unreachable!(),
                },
            }
        );
    }
}

#[test]
fn an_unknown_union_member_is_a_clear_error() {
    let new = v2_record(v2::Status::Suspended("under review".into()));
    let bytes = record("v2").to_vec(&new).unwrap();
    let st = record("v1");
    let err = st.from_slice::<v1::Record>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Data, "{err:?}");
    assert_eq!(err.path(), "status", "{err:?}");
    let message = err.message();
    assert!(message.contains("discriminant 2"), "{message}");
    assert!(message.contains("does not know"), "{message}");
    assert!(err.to_string().ends_with("at `status`"), "{err}");

    // The same through `deserialize_any`.
    let err = st.from_slice::<serde_json::Value>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Data, "{err:?}");
    assert!(err.message().contains("discriminant 2"), "{err:?}");

    // A reader that does not ask for the union is not bothered by it.
    #[derive(Deserialize, Debug, PartialEq)]
    struct NoStatus {
        id: u64,
        name: String,
    }
    let v: NoStatus = st.from_slice(&bytes).unwrap();
    assert_eq!(
        v,
        NoStatus {
            id: 77,
            name: "written by v2".into()
        }
    );
}

#[test]
fn the_new_union_member_round_trips_in_v2() {
    let st = record("v2");
    for status in [
        v2::Status::Active,
        v2::Status::Retired(5),
        v2::Status::Suspended("".into()),
        v2::Status::Suspended("paused ⏸".into()),
    ] {
        let v = v2_record(status);
        let bytes = st.to_vec(&v).unwrap();
        assert_eq!(st.from_slice::<v2::Record>(&bytes).unwrap(), v);
    }
}

#[test]
fn writing_a_v2_only_field_with_the_v1_schema_is_an_error() {
    let st = record("v1");
    let mut v = v2_record(v2::Status::Active);
    // The first unknown field met is in the first item.
    let err = st.to_vec(&v).unwrap_err();
    assert_eq!(err.category(), Category::Schema, "{err:?}");
    assert_eq!(err.path(), "items[0]", "{err:?}");
    assert!(err.message().contains("`weight`"), "{err:?}");
    assert!(err.message().contains("`Item`"), "{err:?}");
    // Without items, it is `score` in `Record`.
    v.items.clear();
    let err = st.to_vec(&v).unwrap_err();
    assert_eq!(err.category(), Category::Schema, "{err:?}");
    assert!(err.message().contains("`score`"), "{err:?}");
    assert!(err.message().contains("`Record`"), "{err:?}");
}

/// The C++ tool, given the v1 schema, copies a v2 message whole, unknown fields included; a v2
/// reader then sees everything. And the tool, given the v2 schema, shows the defaults of the
/// data fields a v1 message lacks.
#[test]
fn the_tool_agrees_on_evolution() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let v1_schema = common::schema_path("evolution_v1");
    let v2_schema = common::schema_path("evolution_v2");

    let new = v2_record(v2::Status::Retired(3));
    let bytes = record("v2").to_vec(&new).unwrap();
    let copied = common::capnp_convert("binary:binary", &v1_schema, "Record", &bytes).unwrap();
    assert_eq!(record("v2").from_slice::<v2::Record>(&copied).unwrap(), new);

    let old_bytes = record("v1").to_vec(&v1_record()).unwrap();
    let text = common::capnp_convert("binary:text", &v2_schema, "Record", &old_bytes).unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains("score = 1.5"), "{text}");
    assert!(text.contains("weight = 10"), "{text}");

    // A v1 message written by the tool reads with v2 types.
    let tool_v1 = common::capnp_convert(
        "text:binary",
        &v1_schema,
        "Record",
        br#"(id = 5, name = "tool", items = [(code = 1, label = "a")], status = (active = void))"#,
    )
    .unwrap();
    let new: v2::Record = record("v2").from_slice(&tool_v1).unwrap();
    assert_eq!(new.items[0].weight, 10);
    assert_eq!(new.note, "no note");
    assert_eq!(new.status, v2::Status::Active);
}

#[test]
fn an_enumerant_this_schema_does_not_know_writes_back_unchanged() {
    // A newer writer's enumerants: ordinals 28 and 65535 where this schema knows three.
    let newer = Schema::parse(
        "e.capnp",
        "@0xd1b5a1c3e0f2a4b9;\nstruct S { c @0 :UInt16; cs @1 :List(UInt16); }\n",
    )
    .unwrap()
    .struct_type("S")
    .unwrap();
    let bytes = newer
        .to_vec(&serde_json::json!({ "c": 28, "cs": [1, 65535] }))
        .unwrap();
    let st = Schema::parse(
        "e.capnp",
        "@0xd1b5a1c3e0f2a4b9;\nenum Color { red @0; green @1; blue @2; }\n\
         struct S { c @0 :Color; cs @1 :List(Color); }\n",
    )
    .unwrap()
    .struct_type("S")
    .unwrap();
    let value = st.read_value(&bytes).unwrap();
    assert_eq!(value["c"].as_integer(), Some(28));
    assert_eq!(st.to_vec(&value).unwrap(), bytes);
    // A plain integer is still held to the enumerants the schema knows.
    let err = st.to_vec(&serde_json::json!({ "c": 28 })).unwrap_err();
    assert!(err.to_string().contains("28 is not an enumerant"), "{err}");
}

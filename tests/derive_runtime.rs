//! What the derive leaves to run time: types it cannot see through are checked once, when the
//! handle is first built, and a misfit is an `Error` from every call, never a panic. Also: bound
//! types inside unbound ones and the reverse, schema evolution between bound types, and
//! `include_schema!`.

mod common;

use serde::{Deserialize, Deserializer, Serialize};
use serde_capnp::{Capnp, CapnpStruct, Category};
use serde_capnp_suite::fixtures::alltypes as fixture;

/// An alias the macro cannot see through: the check runs when the handle is built.
type Id = u32;
type WideId = u64;

/// A newtype serde writes as its one field.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Label(String);

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct Aliased {
    id: Id,
    label: Label,
    // An unbound enum: its variants are checked against `Color` when the handle is built.
    color: fixture::Color,
}

#[derive(Serialize, Deserialize, Capnp, Debug)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct WrongAlias {
    id: WideId,
    label: String,
}

fn read_twice<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    u64::deserialize(d).map(|v| v * 2)
}

#[derive(Serialize, Deserialize, Capnp, Debug)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct WrongFunction {
    #[serde(deserialize_with = "read_twice")]
    id: u64,
}

/// An unbound struct whose fields are not those of the schema's `AllTypes.Nested`.
#[derive(Serialize, Deserialize, Debug)]
struct NotNested {
    depth: u16,
    deepest: bool,
}

#[derive(Serialize, Deserialize, Capnp, Debug)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct WrongNested {
    nested_field: NotNested,
}

#[test]
fn types_the_macro_cannot_see_are_checked_when_the_handle_is_built() {
    let value = Aliased {
        id: 7,
        label: Label("seven".into()),
        color: fixture::Color::DarkGoldenrod,
    };
    let bytes = serde_capnp::to_vec(&value).unwrap();
    assert_eq!(serde_capnp::from_slice::<Aliased>(&bytes).unwrap(), value);

    let err = serde_capnp::to_vec(&WrongAlias {
        id: 1,
        label: String::new(),
    })
    .unwrap_err();
    assert_eq!(err.category(), Category::Schema);
    assert_eq!(
        err.message(),
        "`WrongAlias` does not fit its schema: the field `id` (for the schema's `id`): the Rust type reads `u64`, and the schema has `UInt32`"
    );
    // The same error on every call, from the handle too.
    let again = WrongAlias::struct_schema().unwrap_err();
    assert_eq!(again.message(), err.message());

    let err = WrongFunction::struct_schema().unwrap_err();
    assert!(
        err.message()
            .contains("the field `id` (for the schema's `id`): the Rust type reads `u64`"),
        "{err}"
    );

    let err = WrongNested::struct_schema().unwrap_err();
    assert_eq!(
        err.message(),
        "`WrongNested` does not fit its schema: the field `nested_field` (for the schema's `nestedField`): the Rust type reads a field `deepest`, which `Nested` does not have"
    );
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct Inner {
    id: u32,
    label: String,
    color: fixture::Color,
}

/// A plain serde struct (read with a runtime handle) holding a bound one.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Unbound {
    struct_field: Inner,
    struct_list: Vec<Inner>,
}

/// A bound struct holding plain serde ones.
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct Bound {
    struct_field: fixture::Inner,
    point: fixture::Point,
    shape: fixture::Shape,
    which: fixture::Which,
}

#[test]
fn bound_inside_unbound_and_the_reverse() {
    let st = serde_capnp::Schema::load(common::schema_path("alltypes"))
        .unwrap()
        .struct_type("AllTypes")
        .unwrap();
    let inner = Inner {
        id: 3,
        label: "three".into(),
        color: fixture::Color::Blue,
    };
    let unbound = Unbound {
        struct_field: inner.clone(),
        struct_list: vec![inner.clone(), inner.clone()],
    };
    let bytes = st.to_vec(&unbound).unwrap();
    assert_eq!(st.from_slice::<Unbound>(&bytes).unwrap(), unbound);
    let full: fixture::AllTypes = st.from_slice(&bytes).unwrap();
    assert_eq!(
        full.struct_field,
        fixture::inner(3, "three", fixture::Color::Blue)
    );

    let bound = Bound {
        struct_field: fixture::inner(9, "nine", fixture::Color::Green),
        point: fixture::Point { x: 1, y: -1 },
        shape: fixture::Shape::Rect {
            width: 2.0,
            height: 0.5,
        },
        which: fixture::Which::Word("word".into()),
    };
    let bytes = serde_capnp::to_vec(&bound).unwrap();
    assert_eq!(bytes, st.to_vec(&bound).unwrap());
    assert_eq!(serde_capnp::from_slice::<Bound>(&bytes).unwrap(), bound);
}

mod v1 {
    use super::*;

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
    #[capnp(schema = "schemas/evolution_v1.capnp", name = "Record")]
    pub struct Record {
        pub id: u64,
        pub name: String,
        pub items: Vec<Item>,
        pub status: Status,
    }

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
    #[capnp(schema = "schemas/evolution_v1.capnp", name = "Item")]
    pub struct Item {
        pub code: u16,
        pub label: String,
    }

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
    #[capnp(schema = "schemas/evolution_v1.capnp", name = "Record.status")]
    pub enum Status {
        Active,
        Retired(i32),
    }
}

mod v2 {
    use super::*;

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
    #[capnp(schema = "schemas/evolution_v2.capnp", id = 0xf3ec53f0bf8d09c7)]
    pub struct Record {
        pub id: u64,
        pub name: String,
        pub items: Vec<Item>,
        pub status: Status,
        pub score: f64,
        pub note: String,
        pub tags: Vec<String>,
    }

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
    #[capnp(schema = "schemas/evolution_v2.capnp", name = "Item")]
    pub struct Item {
        pub code: u16,
        pub label: String,
        pub weight: u64,
        #[serde(with = "serde_bytes")]
        pub extra: Vec<u8>,
    }

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
    #[capnp(schema = "schemas/evolution_v2.capnp", name = "Record.status")]
    pub enum Status {
        Active,
        Retired(i32),
        Suspended(String),
    }
}

#[test]
fn bound_types_of_two_schema_versions_read_each_other() {
    assert_eq!(v1::Record::NODE_ID, v2::Record::NODE_ID);
    let old = v1::Record {
        id: 1,
        name: "old".into(),
        items: vec![v1::Item {
            code: 4,
            label: "four".into(),
        }],
        status: v1::Status::Retired(2020),
    };
    let bytes = serde_capnp::to_vec(&old).unwrap();
    let new: v2::Record = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!(new.id, 1);
    assert_eq!(new.items[0].label, "four");
    assert_eq!(new.items[0].weight, 10, "the schema's default");
    assert_eq!(new.status, v2::Status::Retired(2020));
    // Fields the old writer did not know read as the new schema's defaults.
    assert_eq!(new.score, 1.5);
    assert_eq!(new.note, "no note");
    assert!(new.tags.is_empty());

    let mut newer = new.clone();
    newer.tags = vec!["t".into()];
    newer.items[0].weight = 99;
    let bytes = serde_capnp::to_vec(&newer).unwrap();
    // The old reader skips what it does not know, including the wider list elements.
    assert_eq!(serde_capnp::from_slice::<v1::Record>(&bytes).unwrap(), old);

    newer.status = v2::Status::Suspended("why".into());
    let bytes = serde_capnp::to_vec(&newer).unwrap();
    let err = serde_capnp::from_slice::<v1::Record>(&bytes).unwrap_err();
    assert_eq!(err.category(), Category::Data);
}

#[test]
fn include_schema_gives_a_static_schema() {
    let schema: &'static serde_capnp::Schema =
        serde_capnp::include_schema!("schemas/addressbook.capnp").unwrap();
    let again = serde_capnp::include_schema!("schemas/addressbook.capnp").unwrap();
    assert!(
        std::ptr::eq(schema.pool(), again.pool()),
        "one schema per process for equal bytes"
    );
    let person = schema.struct_type("addressbook.capnp:Person").unwrap();
    assert_eq!(person.display_name(), "schemas/addressbook.capnp:Person");
    let with_imports =
        serde_capnp::include_schema!("schemas/json_annotated.capnp", import = "schemas").unwrap();
    assert!(with_imports.pool().nodes().len() > schema.pool().nodes().len());
}

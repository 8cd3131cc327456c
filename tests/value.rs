//! `serde_capnp::Value`: messages read without a Rust type write back byte for byte, and convert
//! to and from Rust types.

use serde_capnp::{from_value, to_value, Enumerant, Schema, StructSchema, Value};
use serde_capnp_suite::fixtures::{addressbook, alltypes};

mod common;

fn alltypes_schema() -> StructSchema {
    Schema::from_code_generator_request(&common::compiled_schema("alltypes"))
        .unwrap()
        .struct_type("AllTypes")
        .unwrap()
}

#[test]
fn every_sample_round_trips_through_a_value_byte_for_byte() {
    let schema = alltypes_schema();
    for sample in alltypes::samples() {
        let bytes = schema.to_vec(&sample).unwrap();
        let value = schema.read_value(&bytes).unwrap();
        assert_eq!(schema.to_vec(&value).unwrap(), bytes, "{value:#?}");
        let back: alltypes::AllTypes = from_value(&schema, &value).unwrap();
        assert_eq!(back, sample);
        assert_eq!(to_value(&schema, &sample).unwrap(), value);
    }
}

#[test]
fn values_are_typed_by_the_schema() {
    let schema = alltypes_schema();
    let value = to_value(&schema, &alltypes::full()).unwrap();
    // Data and List(UInt8) look alike to serde; the schema tells them apart.
    assert!(matches!(value["dataField"], Value::Data(_)));
    assert!(matches!(value["uint8List"][0], Value::UInt8(_)));
    assert!(matches!(
        value["enumField"],
        Value::Enum(Enumerant { name: Some(_), .. })
    ));
    assert!(matches!(value["textField"], Value::Text(_)));
    assert!(matches!(value["int16Field"], Value::Int16(_)));
    assert!(matches!(value["structField"], Value::Struct(_)));
    // A null pointer stays null, and indexing past what exists gives Null, as serde_json does.
    assert_eq!(value["anyField"], Value::Null);
    assert_eq!(value["noSuchField"], Value::Null);
    assert_eq!(value["int32List"][100_000], Value::Null);
    let empty = to_value(&schema, &alltypes::empty()).unwrap();
    assert_eq!(empty["textField"], Value::Text(String::new()));
}

#[test]
fn unions_report_the_active_member() {
    let schema = Schema::from_code_generator_request(&common::compiled_schema("addressbook"))
        .unwrap()
        .struct_type("AddressBook")
        .unwrap();
    let value = to_value(&schema, &addressbook::sample()).unwrap();
    let alice = &value["people"][0];
    assert_eq!(alice["name"], Value::from("Alice"));
    assert_eq!(alice["id"], Value::UInt32(123));
    assert_eq!(alice["employment"].which(), Some("school"));
    assert_eq!(alice["employment"]["school"], Value::from("MIT"));
    assert_eq!(
        value["people"][1]["employment"].which(),
        Some("selfEmployed")
    );
    assert_eq!(
        alice["phones"][0]["type"],
        Value::Enum(Enumerant {
            ordinal: 0,
            name: Some("mobile".into())
        })
    );
}

#[test]
fn values_built_by_hand_write_and_read() {
    let schema = Schema::from_code_generator_request(&common::compiled_schema("addressbook"))
        .unwrap()
        .struct_type("Person")
        .unwrap();
    let person = Value::structure([
        ("id", Value::UInt32(7)),
        ("name", "Grace".into()),
        (
            "phones",
            Value::List(vec![Value::structure([
                ("number", "555-0100".into()),
                ("type", Value::enumerant("work")),
            ])]),
        ),
        (
            "employment",
            Value::structure([("employer", "Navy".into())]),
        ),
    ]);
    let bytes = schema.to_vec(&person).unwrap();
    let typed: addressbook::Person = schema.from_slice(&bytes).unwrap();
    assert_eq!(typed.name, "Grace");
    assert_eq!(
        typed.employment,
        addressbook::Employment::Employer("Navy".into())
    );
    let back = schema.read_value(&bytes).unwrap();
    assert_eq!(back["phones"][0]["type"].as_integer(), Some(2));
    // A value the schema does not fit is an error naming the field.
    let wrong = Value::structure([("id", "seven".into())]);
    let err = schema.to_vec(&wrong).unwrap_err();
    assert!(err.to_string().contains("id"), "{err}");
}

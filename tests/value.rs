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

/// Our `Value` in the shape pycapnp's `to_dict` has (as `tests/py/dump.py` prints it): unset
/// pointers left out, Void as null, Data as hex, enums by name, floats as doubles.
fn to_dict_shape(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    let float = |f: f64| {
        if f.is_nan() {
            J::from("NaN")
        } else if f.is_infinite() {
            J::from(if f > 0.0 { "Infinity" } else { "-Infinity" })
        } else {
            J::from(f)
        }
    };
    match v {
        Value::Void | Value::Null => J::Null,
        Value::Bool(b) => J::from(*b),
        Value::Int8(x) => J::from(*x),
        Value::Int16(x) => J::from(*x),
        Value::Int32(x) => J::from(*x),
        Value::Int64(x) => J::from(*x),
        Value::UInt8(x) => J::from(*x),
        Value::UInt16(x) => J::from(*x),
        Value::UInt32(x) => J::from(*x),
        Value::UInt64(x) => J::from(*x),
        Value::Float32(x) => float(*x as f64),
        Value::Float64(x) => float(*x),
        Value::Text(t) => J::from(t.as_str()),
        Value::Data(d) => J::from(d.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        Value::List(items) => J::Array(items.iter().map(to_dict_shape).collect()),
        Value::Enum(e) => match &e.name {
            Some(n) => J::from(n.as_str()),
            None => J::from(e.ordinal),
        },
        Value::Struct(s) => J::Object(
            s.fields()
                .filter(|(_, v)| **v != Value::Null)
                .map(|(n, v)| (n.to_string(), to_dict_shape(v)))
                .collect(),
        ),
    }
}

#[test]
fn values_have_the_content_of_pycapnp_to_dict() {
    let python = common::require_tool!(common::python_with_pycapnp(), "pycapnp is not installed");
    let schema = alltypes_schema();
    let schema_file = common::schema_path("alltypes.capnp");
    for (i, sample) in alltypes::samples().iter().enumerate() {
        let bytes = schema.to_vec(sample).unwrap();
        let out = common::run_command(
            &python,
            [
                common::py_script("dump.py").as_os_str(),
                schema_file.as_os_str(),
                std::ffi::OsStr::new("AllTypes"),
            ],
            &bytes,
        )
        .unwrap();
        let theirs: serde_json::Value = serde_json::from_slice(&out).unwrap();
        let ours = to_dict_shape(&schema.read_value(&bytes).unwrap());
        assert!(same(&ours, &theirs), "sample {i}:\n{ours}\n{theirs}");
    }
}

/// Equal JSON, with floats compared to the last bit a JSON round trip keeps.
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (a, b) {
        (J::Number(x), J::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || ((x - y) / x).abs() < 1e-15
        }
        (J::Array(x), J::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (J::Object(x), J::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A capability has no `Value` form: it reads as `Null` (as the dynamic reader says), and such
/// a `Value` writes back, leaving the pointer null.
#[test]
fn a_capability_reads_as_null() {
    let schema = serde_capnp::Schema::parse(
        "caps.capnp",
        "@0xd0c1e2f3a4b5c6d7;\ninterface I {}\nstruct S { cap @0 :I; n @1 :UInt8; }\n",
    )
    .unwrap();
    let s = schema.struct_type("S").unwrap();
    let mut bytes = vec![0u8, 0, 0, 0, 3, 0, 0, 0];
    bytes.extend(0x0001_0001_0000_0000u64.to_le_bytes()); // root: 1 data word, 1 pointer
    bytes.extend(7u64.to_le_bytes()); // n = 7
    bytes.extend(3u64.to_le_bytes()); // capability 0
    let v = s.read_value(&bytes).unwrap();
    assert_eq!(v["cap"], serde_capnp::Value::Null);
    let again = s.to_vec(&v).unwrap();
    assert_eq!(
        s.read_value(&again).unwrap()["n"],
        serde_capnp::Value::UInt8(7)
    );
}

//! `Schema::load` and `Schema::parse`: schemas compiled at run time by the built-in compiler
//! serialize exactly like the same schemas compiled by `capnp compile`.

use serde_capnp::{Category, Compiler, Schema};
use serde_capnp_suite::fixtures::{addressbook, alltypes};

mod common;

#[test]
fn loaded_schema_writes_the_same_bytes_as_the_precompiled_one() {
    let loaded = Schema::load(common::schema_path("addressbook.capnp")).unwrap();
    let precompiled =
        Schema::from_code_generator_request(&common::compiled_schema("addressbook")).unwrap();
    let book = addressbook::sample();
    let ours = loaded
        .struct_type("AddressBook")
        .unwrap()
        .to_vec(&book)
        .unwrap();
    let theirs = precompiled
        .struct_type("AddressBook")
        .unwrap()
        .to_vec(&book)
        .unwrap();
    assert_eq!(ours, theirs);
    let back: addressbook::AddressBook = loaded
        .struct_type("AddressBook")
        .unwrap()
        .from_slice(&ours)
        .unwrap();
    assert_eq!(back, book);
}

#[test]
fn every_type_round_trips_through_a_loaded_schema() {
    let loaded = Schema::load(common::schema_path("alltypes.capnp")).unwrap();
    let precompiled =
        Schema::from_code_generator_request(&common::compiled_schema("alltypes")).unwrap();
    let ours = loaded.struct_type("AllTypes").unwrap();
    let theirs = precompiled.struct_type("AllTypes").unwrap();
    for value in alltypes::samples() {
        let bytes = ours.to_vec(&value).unwrap();
        assert_eq!(bytes, theirs.to_vec(&value).unwrap());
        let back: alltypes::AllTypes = ours.from_slice(&bytes).unwrap();
        assert_eq!(back, value);
    }
}

#[test]
fn parse_compiles_text_held_in_memory() {
    let schema = Schema::parse(
        "point.capnp",
        "@0xbf5147cbbecf40c1;\nstruct Point { x @0 :Float64; y @1 :Float64 = 2.5; }\n",
    )
    .unwrap();
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Point {
        x: f64,
        y: f64,
    }
    let point = schema.struct_type("Point").unwrap();
    let bytes = point.to_vec(&Point { x: 1.0, y: 2.5 }).unwrap();
    // y equals its default, so its slot holds zero.
    assert_eq!(
        &bytes[16..32],
        &[0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        point.from_slice::<Point>(&bytes).unwrap(),
        Point { x: 1.0, y: 2.5 }
    );
}

#[test]
fn imports_resolve_between_in_memory_files_and_to_the_bundled_standard_schemas() {
    let compiler = Compiler::new()
        .add_source(
            "shapes/base.capnp",
            "@0xd5c3c7f1a0b2e4f6;\nusing Cxx = import \"/capnp/c++.capnp\";\n$Cxx.namespace(\"shapes\");\nstruct Color { r @0 :UInt8; g @1 :UInt8; b @2 :UInt8; }\n",
        )
        .add_source(
            "shapes/circle.capnp",
            "@0xe1f2a3b4c5d6e7f8;\nusing import \"base.capnp\".Color;\nstruct Circle { radius @0 :Float32; color @1 :Color; }\n",
        );
    let schema = Schema::compile(&compiler, &["shapes/circle.capnp"]).unwrap();
    let circle = schema.struct_type("Circle").unwrap();
    assert_eq!(circle.display_name(), "shapes/circle.capnp:Circle");
}

#[test]
fn a_schema_that_does_not_compile_is_a_schema_error_naming_the_place() {
    let err = Schema::parse(
        "bad.capnp",
        "@0xbf5147cbbecf40c1;\nstruct S { a @0 :Strin; }\n",
    )
    .unwrap_err();
    assert_eq!(err.category(), Category::Schema);
    let message = err.to_string();
    assert!(
        message.contains("bad.capnp:2:18-23: error: Not defined: Strin"),
        "{message}"
    );
}

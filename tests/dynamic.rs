//! The zero-copy reader view: field access by name and path, defaults for unset pointers,
//! union members, typed decoding of a part of a message, and clear errors on bad input.

use serde_capnp::dynamic::DynamicValue;
use serde_capnp::{Category, ReadOptions, Schema, StructSchema, Value};
use serde_capnp_suite::fixtures::{addressbook, alltypes};

mod common;

fn schema(name: &str, root: &str) -> StructSchema {
    Schema::from_code_generator_request(&common::compiled_schema(name))
        .unwrap()
        .struct_type(root)
        .unwrap()
}

#[test]
fn the_whole_root_reads_as_the_same_value_as_read_value() {
    let all = schema("alltypes", "AllTypes");
    for sample in alltypes::samples() {
        let bytes = all.to_vec(&sample).unwrap();
        let message = all.reader(&bytes).unwrap();
        assert_eq!(
            message.root().unwrap().to_value().unwrap(),
            all.read_value(&bytes).unwrap()
        );
        // A typed decode from the view gives the value that was written.
        let back: alltypes::AllTypes = message.root().unwrap().deserialize().unwrap();
        assert_eq!(back, sample);
    }
}

#[test]
fn fields_read_by_name_and_path_without_decoding_the_rest() {
    let book = schema("addressbook", "AddressBook");
    let bytes = book.to_vec(&addressbook::sample()).unwrap();
    let message = book.reader(&bytes).unwrap();
    let root = message.root().unwrap();
    assert_eq!(root.type_name(), "addressbook.capnp:AddressBook");

    let people = root.get("people").unwrap().into_list().unwrap();
    assert_eq!(people.len(), 2);
    let alice = people.get(0).unwrap().into_struct().unwrap();
    assert_eq!(alice.get("name").unwrap().as_text(), Some("Alice"));
    assert_eq!(alice.get("id").unwrap().as_u64(), Some(123));
    assert_eq!(alice.get("id").unwrap().as_i64(), Some(123));
    // The named union is a group; its active member is what `which` names.
    let employment = alice.get("employment").unwrap().into_struct().unwrap();
    assert_eq!(employment.which(), Some("school"));
    assert_eq!(employment.get("school").unwrap().as_text(), Some("MIT"));

    assert_eq!(
        root.path("people[0].phones[0].number").unwrap().as_text(),
        Some("555-1212")
    );
    assert_eq!(
        root.path("people[0].phones[0].type")
            .unwrap()
            .as_enumerant(),
        Some("mobile")
    );
    assert_eq!(
        root.path("people[1].employment")
            .unwrap()
            .into_struct()
            .unwrap()
            .which(),
        Some("selfEmployed")
    );
    // Rust-style names find the same fields.
    assert!(root.path("people[1].employment.self_employed").is_ok());

    // A part of the message decodes into its Rust type, with Text borrowed from the input.
    #[derive(serde::Deserialize)]
    struct Phone<'a> {
        number: &'a str,
    }
    let phone: Phone<'_> = root
        .path("people[0].phones[0]")
        .unwrap()
        .into_struct()
        .unwrap()
        .deserialize()
        .unwrap();
    assert_eq!(phone.number, "555-1212");
    let person: addressbook::Person = alice.deserialize().unwrap();
    assert_eq!(person, addressbook::sample().people[0]);
}

#[test]
fn unset_pointers_read_as_their_schema_defaults() {
    let defaults = schema("alltypes", "Defaults");
    let bytes = defaults.to_vec(&Value::structure::<&str>([])).unwrap();
    let message = defaults.reader(&bytes).unwrap();
    let root = message.root().unwrap();
    assert_eq!(
        root.get("textDefault").unwrap().as_text(),
        Some("hello, defaults")
    );
    assert!(!root.has("textDefault").unwrap());
    assert_eq!(
        root.get("dataDefault").unwrap().as_data(),
        Some(&[0xde, 0xad, 0xbe, 0xef][..])
    );
    assert_eq!(root.get("int8Default").unwrap().as_i64(), Some(-123));
    assert_eq!(root.get("uint64Default").unwrap().as_i64(), None);
    assert_eq!(
        root.get("uint64Default").unwrap().as_u64(),
        Some(12345678901234567890)
    );
    assert_eq!(root.get("float32Default").unwrap().as_f64(), Some(1234.5));
    assert_eq!(
        root.get("enumDefault").unwrap().as_enumerant(),
        Some("blue")
    );
    assert_eq!(
        root.path("structDefault.label").unwrap().as_text(),
        Some("default inner")
    );
    assert_eq!(root.path("constDefault.id").unwrap().as_u64(), Some(7));
    assert_eq!(
        root.path("textListDefault[2]").unwrap().as_text(),
        Some("gamma")
    );
    assert_eq!(
        root.path("int32ListListDefault[2][0]").unwrap().as_i64(),
        Some(-4)
    );
    assert_eq!(
        root.path("settings.tag").unwrap().as_text(),
        Some("group default")
    );
    let choice = root.get("choice").unwrap().into_struct().unwrap();
    assert_eq!(choice.which(), Some("count"));
    assert_eq!(choice.get("count").unwrap().as_i64(), Some(5));

    // An unset struct with no default reads as all defaults; an unset list is empty.
    let all = schema("alltypes", "AllTypes");
    let bytes = all.to_vec(&Value::structure::<&str>([])).unwrap();
    let message = all.reader(&bytes).unwrap();
    let root = message.root().unwrap();
    assert!(!root.has("int32List").unwrap());
    assert!(!root.has("structField").unwrap());
    assert_eq!(root.path("structField.label").unwrap().as_text(), Some(""));
    assert!(root
        .get("int32List")
        .unwrap()
        .into_list()
        .unwrap()
        .is_empty());
}

#[test]
fn fields_iterate_in_code_order_with_only_the_active_union_member() {
    let book = schema("addressbook", "AddressBook");
    let bytes = book.to_vec(&addressbook::sample()).unwrap();
    let message = book.reader(&bytes).unwrap();
    let bob = message.root().unwrap().path("people[1]").unwrap();
    let bob = bob.into_struct().unwrap();
    let names: Vec<&str> = bob.fields().map(|(name, _)| name).collect();
    assert_eq!(names, ["id", "name", "email", "phones", "employment"]);
    let employment = bob.get("employment").unwrap().into_struct().unwrap();
    let members: Vec<&str> = employment.fields().map(|(name, _)| name).collect();
    assert_eq!(members, ["selfEmployed"]);
    assert!(matches!(
        employment.get("selfEmployed").unwrap(),
        DynamicValue::Void
    ));
    assert!(format!("{bob:?}").contains("\"Bob\""));
}

#[test]
fn mistakes_are_clear_errors() {
    let book = schema("addressbook", "AddressBook");
    let bytes = book.to_vec(&addressbook::sample()).unwrap();
    let message = book.reader(&bytes).unwrap();
    let root = message.root().unwrap();

    let err = root.path("people[0].nmae").unwrap_err();
    assert_eq!(err.category(), Category::Schema);
    assert!(
        err.to_string().contains("has no field named `nmae`"),
        "{err}"
    );

    let err = root.path("people[5].name").unwrap_err();
    assert!(
        err.to_string().contains("position 5 is past the end"),
        "{err}"
    );
    assert_eq!(err.path(), "people");

    let err = root.path("people[1].employment.school").unwrap_err();
    assert!(
        err.to_string()
            .contains("`school` is not the active member of the union (it holds `selfEmployed`)"),
        "{err}"
    );
    assert_eq!(err.path(), "people[1].employment");

    let err = root.path("people[0].name.first").unwrap_err();
    assert!(
        err.to_string()
            .contains("expected a struct, the message holds Text"),
        "{err}"
    );
    assert_eq!(err.path(), "people[0].name");

    for bad in ["people[", "people[x]", "people..name", "people[0]name"] {
        let err = root.path(bad).unwrap_err();
        assert!(err.to_string().contains("bad field path"), "{bad}: {err}");
    }
}

#[test]
fn hostile_messages_are_errors_not_panics() {
    let book = schema("addressbook", "AddressBook");
    let bytes = book.to_vec(&addressbook::sample()).unwrap();
    // Every truncation and every single-byte corruption either reads or fails cleanly, however
    // far a reader walks into it.
    let walk = |bytes: &[u8]| -> serde_capnp::Result<Value> {
        let message = book.reader(bytes)?;
        message.root()?.to_value()
    };
    for cut in 0..bytes.len() {
        let _ = walk(&bytes[..cut]);
    }
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut copy = bytes.clone();
            copy[at] ^= flip;
            let _ = walk(&copy);
            if let Ok(message) = book.reader(&copy) {
                if let Ok(root) = message.root() {
                    let _ = root.path("people[1].phones[0].number");
                    let _ = format!("{root:?}");
                }
            }
        }
    }

    // The nesting limit holds on the view as on every other read path.
    let shallow = book.clone().with_read_options(ReadOptions {
        nesting_limit: 2,
        ..ReadOptions::default()
    });
    let message = shallow.reader(&bytes).unwrap();
    let err = message
        .root()
        .unwrap()
        .path("people[0].phones[0]")
        .unwrap_err();
    assert_eq!(err.category(), Category::Limit);
}

#[test]
fn eval_follows_paths_from_constants_and_field_defaults() {
    let schema = Schema::from_code_generator_request(&common::compiled_schema("alltypes")).unwrap();
    let eval = |name: &str| schema.eval_text(name, false);
    assert_eq!(eval("defaultInner.label").unwrap(), "\"seven\"");
    assert_eq!(eval("Defaults.textListDefault[1]").unwrap(), "\"beta\"");
    assert_eq!(eval("Defaults.int32ListListDefault[2][0]").unwrap(), "-4");
    assert_eq!(eval("Defaults.structListDefault[1].color").unwrap(), "blue");
    assert_eq!(
        eval("Defaults.settings").unwrap(),
        "(retries = 3, verbose = true)"
    );
    let (ty, message) = schema.eval_struct("Defaults.structDefault").unwrap();
    assert_eq!(ty.name(), "Inner");
    assert_eq!(
        ty.to_text_short(&message).unwrap(),
        "(id = 99, label = \"default inner\", color = darkGoldenrod)"
    );
    assert!(schema
        .eval_struct("Defaults.int16ListDefault")
        .unwrap_err()
        .to_string()
        .contains("not a struct"));
    assert!(eval("Defaults.int16ListDefault[9]").is_err());
    assert!(eval("defaultInner[1]").is_err());
    // A whole constant prints as before; a type alone is not a value.
    assert_eq!(eval("answer").unwrap(), "42");
    let err = eval("Inner").unwrap_err().to_string();
    assert!(
        err.contains("cannot be evaluated: it is not a constant"),
        "{err}"
    );
}

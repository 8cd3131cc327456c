//! The classic address book: round trips, and interop with the C++ tool and pycapnp.

mod common;

use serde_capnp::Schema;
use serde_capnp_suite::fixtures::addressbook::{sample, AddressBook};

fn schema() -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema("addressbook")).unwrap()
}

#[test]
fn round_trip_all_paths() {
    let schema = schema();
    let ab = schema.struct_type("AddressBook").unwrap();
    let value = sample();
    let bytes = ab.to_vec(&value).unwrap();
    assert_eq!(ab.from_slice::<AddressBook>(&bytes).unwrap(), value);
    let packed = ab.to_vec_packed(&value).unwrap();
    assert!(packed.len() < bytes.len());
    assert_eq!(ab.from_slice_packed::<AddressBook>(&packed).unwrap(), value);
    assert_eq!(ab.from_reader::<_, AddressBook>(&bytes[..]).unwrap(), value);
    assert_eq!(
        ab.from_reader_packed::<_, AddressBook>(&packed[..])
            .unwrap(),
        value
    );
    let segments = ab.to_segments(&value).unwrap();
    let refs: Vec<&[u8]> = segments.iter().map(Vec::as_slice).collect();
    assert_eq!(ab.from_segments::<AddressBook>(&refs).unwrap(), value);
}

#[test]
fn text_matches_the_reference_tool() {
    let capnp = common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let _ = capnp;
    let ab = schema().struct_type("AddressBook").unwrap();
    let bytes = ab.to_vec(&sample()).unwrap();
    let text = common::capnp_convert(
        "binary:text",
        &common::schema_path("addressbook.capnp"),
        "AddressBook",
        &bytes,
    )
    .unwrap();
    let text = String::from_utf8(text).unwrap();
    let expected = r#"( people = [
    ( id = 123,
      name = "Alice",
      email = "alice@example.com",
      phones = [
        (number = "555-1212", type = mobile) ],
      employment = (school = "MIT") ),
    ( id = 456,
      name = "Bob",
      email = "bob@example.com",
      phones = [
        (number = "555-4567", type = home),
        (number = "555-7654", type = work) ],
      employment = (selfEmployed = void) ) ] )"#;
    assert_eq!(text.trim(), expected);
}

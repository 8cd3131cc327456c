//! The classic address book: round trips, and interop with the C++ tool and pycapnp.

mod common;

use serde::{Deserialize, Serialize};
use serde_capnp::Schema;

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct AddressBook {
    people: Vec<Person>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Person {
    id: u32,
    name: String,
    email: String,
    phones: Vec<PhoneNumber>,
    employment: Employment,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct PhoneNumber {
    number: String,
    #[serde(rename = "type")]
    kind: PhoneType,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
enum PhoneType {
    Mobile,
    Home,
    Work,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Employment {
    Unemployed,
    Employer(String),
    School(String),
    SelfEmployed,
}

fn book() -> AddressBook {
    AddressBook {
        people: vec![
            Person {
                id: 123,
                name: "Alice".into(),
                email: "alice@example.com".into(),
                phones: vec![PhoneNumber {
                    number: "555-1212".into(),
                    kind: PhoneType::Mobile,
                }],
                employment: Employment::School("MIT".into()),
            },
            Person {
                id: 456,
                name: "Bob".into(),
                email: "bob@example.com".into(),
                phones: vec![
                    PhoneNumber {
                        number: "555-4567".into(),
                        kind: PhoneType::Home,
                    },
                    PhoneNumber {
                        number: "555-7654".into(),
                        kind: PhoneType::Work,
                    },
                ],
                employment: Employment::SelfEmployed,
            },
        ],
    }
}

fn schema() -> Schema {
    Schema::from_code_generator_request(&common::compiled_schema("addressbook")).unwrap()
}

#[test]
fn round_trip_all_paths() {
    let schema = schema();
    let ab = schema.struct_type("AddressBook").unwrap();
    let value = book();
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
    let bytes = ab.to_vec(&book()).unwrap();
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

//! `#[derive(Capnp)]` on the address book: the example, compiled and checked against
//! the schema at build time, and written byte for byte as the runtime schema writes it.

use serde::{Deserialize, Serialize};
use serde_capnp::{Capnp, CapnpStruct, Schema};

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/addressbook.capnp", name = "AddressBook")]
struct AddressBook {
    people: Vec<Person>,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person")]
struct Person {
    id: u32,
    name: String,
    email: String,
    phones: Vec<PhoneNumber>,
    employment: Employment,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.PhoneNumber")]
struct PhoneNumber {
    number: String,
    #[serde(rename = "type")]
    kind: PhoneType,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone, Copy)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
enum PhoneType {
    Mobile,
    Home,
    Work,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.employment")]
enum Employment {
    Unemployed,
    Employer(String),
    School(String),
    SelfEmployed,
}

fn alice() -> Person {
    Person {
        id: 123,
        name: "Alice".into(),
        email: "alice@example.com".into(),
        phones: vec![PhoneNumber {
            number: "555-1212".into(),
            kind: PhoneType::Mobile,
        }],
        employment: Employment::School("MIT".into()),
    }
}

fn book() -> AddressBook {
    let mut bob = alice();
    bob.id = 456;
    bob.name = "Bob".into();
    bob.phones.push(PhoneNumber {
        number: "555-7654".into(),
        kind: PhoneType::Work,
    });
    bob.employment = Employment::SelfEmployed;
    AddressBook {
        people: vec![alice(), bob],
    }
}

/// The example: `serde_json::to_vec` becomes `serde_capnp::to_vec`, nothing else.
#[test]
fn the_free_functions_round_trip_a_bound_type() {
    let alice = alice();
    let bytes = serde_capnp::to_vec(&alice).unwrap();
    let back: Person = serde_capnp::from_slice(&bytes).unwrap();
    assert_eq!(back, alice);

    let book = book();
    let bytes = serde_capnp::to_vec(&book).unwrap();
    assert_eq!(
        serde_capnp::from_slice::<AddressBook>(&bytes).unwrap(),
        book
    );
    let packed = serde_capnp::to_vec_packed(&book).unwrap();
    assert_eq!(
        serde_capnp::from_slice_packed::<AddressBook>(&packed).unwrap(),
        book
    );
    assert_eq!(
        serde_capnp::from_reader::<_, AddressBook>(&bytes[..]).unwrap(),
        book
    );
}

/// The embedded schema writes what the schema loaded at run time writes.
#[test]
fn bound_bytes_are_the_runtime_schemas_bytes() {
    let schema = Schema::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/addressbook.capnp"
    ))
    .unwrap();
    let runtime = schema.struct_type("AddressBook").unwrap();
    let book = book();
    assert_eq!(
        serde_capnp::to_vec(&book).unwrap(),
        runtime.to_vec(&book).unwrap()
    );
    assert_eq!(AddressBook::NODE_ID, runtime.id());
    assert_eq!(Person::NODE_ID, schema.struct_type("Person").unwrap().id());
}

/// Every bound type of one schema shares one loaded schema, and each its own handle.
#[test]
fn types_of_one_schema_share_the_loaded_schema() {
    let a = AddressBook::struct_schema().unwrap();
    let p = Person::struct_schema().unwrap();
    assert!(std::ptr::eq(a.pool().0, p.pool().0));
    assert!(std::ptr::eq(a, AddressBook::struct_schema().unwrap()));
    assert_eq!(p.display_name(), "schemas/addressbook.capnp:Person");
    assert_eq!(
        PhoneType::NODE_ID,
        a.pool()
            .0
            .node(a.pool().0.find("Person.PhoneNumber.Type").unwrap())
            .id
    );
}

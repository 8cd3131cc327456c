//! The classic Cap'n Proto address book: serde types bound to the schema's nodes with
//! `#[derive(Capnp)]`, which compiles `schemas/addressbook.capnp` when the example is built and
//! checks every field against it.
//!
//! ```text
//! cargo run --example addressbook              # write a book, read it back, print it
//! cargo run --example addressbook -- write     # the message bytes on stdout
//! cargo run --example addressbook -- read      # read a message from stdin and print it
//! cargo run --example addressbook -- write | capnp convert binary:text schemas/addressbook.capnp AddressBook
//! ```

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/addressbook.capnp", name = "AddressBook")]
struct AddressBook {
    people: Vec<Person>,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person")]
struct Person {
    id: u32,
    name: String,
    email: String,
    phones: Vec<PhoneNumber>,
    employment: Employment,
}

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.PhoneNumber")]
struct PhoneNumber {
    number: String,
    #[serde(rename = "type")]
    kind: PhoneType,
}

/// The schema's `enum Type { mobile, home, work }`.
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq, Clone, Copy)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
enum PhoneType {
    Mobile,
    Home,
    Work,
}

/// The schema's `employment :union { ... }`.
#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.employment")]
enum Employment {
    Unemployed,
    Employer(String),
    School(String),
    SelfEmployed,
}

fn sample() -> AddressBook {
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

fn print(book: &AddressBook) {
    for person in &book.people {
        println!("{}: {}", person.name, person.email);
        for phone in &person.phones {
            println!("  {:?} phone: {}", phone.kind, phone.number);
        }
        match &person.employment {
            Employment::Unemployed => println!("  unemployed"),
            Employment::Employer(e) => println!("  employer: {e}"),
            Employment::School(s) => println!("  student at: {s}"),
            Employment::SelfEmployed => println!("  self-employed"),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The bound types know their schema: these are serde_json's function names, and nothing is
    // read from disk at run time. Without the derive, `Schema::load("schemas/addressbook.capnp")`
    // and its `struct_type("AddressBook")` handle offer the same calls.
    match std::env::args().nth(1).as_deref() {
        Some("write") => {
            let bytes = serde_capnp::to_vec(&sample())?;
            std::io::stdout().lock().write_all(&bytes)?;
        }
        Some("read") => {
            let mut bytes = Vec::new();
            std::io::stdin().lock().read_to_end(&mut bytes)?;
            let book: AddressBook = serde_capnp::from_slice(&bytes)?;
            print(&book);
        }
        None => {
            let bytes = serde_capnp::to_vec(&sample())?;
            println!("wrote {} bytes", bytes.len());
            let book: AddressBook = serde_capnp::from_slice(&bytes)?;
            assert_eq!(book, sample());
            print(&book);
        }
        Some(other) => {
            return Err(format!("unknown command `{other}`: use `write`, `read` or nothing").into())
        }
    }
    Ok(())
}

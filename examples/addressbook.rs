//! The classic Cap'n Proto address book, with plain serde types and a runtime schema.
//!
//! ```text
//! cargo run --example addressbook              # write a book, read it back, print it
//! cargo run --example addressbook -- write     # the message bytes on stdout
//! cargo run --example addressbook -- read      # read a message from stdin and print it
//! cargo run --example addressbook -- write | capnp convert binary:text schemas/addressbook.capnp AddressBook
//! ```

use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use serde_capnp::Schema;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct AddressBook {
    people: Vec<Person>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Person {
    id: u32,
    name: String,
    email: String,
    phones: Vec<PhoneNumber>,
    employment: Employment,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct PhoneNumber {
    number: String,
    #[serde(rename = "type")]
    kind: PhoneType,
}

/// The schema's `enum Type { mobile, home, work }`.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone, Copy)]
enum PhoneType {
    Mobile,
    Home,
    Work,
}

/// The schema's `employment :union { ... }`.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
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
    // The schema text, compiled at run time by the built-in compiler (no Cap'n Proto tool needed).
    // `Schema::load("schemas/addressbook.capnp")` reads it from disk instead, and
    // `Schema::from_code_generator_request` takes the output of `capnp compile -o-`.
    let schema = Schema::parse(
        "addressbook.capnp",
        include_str!("../schemas/addressbook.capnp"),
    )?;
    let address_book = schema.struct_type("AddressBook")?;

    match std::env::args().nth(1).as_deref() {
        Some("write") => {
            let bytes = address_book.to_vec(&sample())?;
            std::io::stdout().lock().write_all(&bytes)?;
        }
        Some("read") => {
            let mut bytes = Vec::new();
            std::io::stdin().lock().read_to_end(&mut bytes)?;
            let book: AddressBook = address_book.from_slice(&bytes)?;
            print(&book);
        }
        None => {
            let bytes = address_book.to_vec(&sample())?;
            println!("wrote {} bytes", bytes.len());
            let book: AddressBook = address_book.from_slice(&bytes)?;
            assert_eq!(book, sample());
            print(&book);
        }
        Some(other) => {
            return Err(format!("unknown command `{other}`: use `write`, `read` or nothing").into())
        }
    }
    Ok(())
}

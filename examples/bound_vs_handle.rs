//! How fast a bound type is next to the same type through a runtime `StructSchema`: both write
//! and read the address book a number of times and print the time per message. No benchmark
//! harness, so it runs anywhere in a few seconds:
//!
//! ```text
//! cargo run --release --example bound_vs_handle [ITERATIONS]
//! ```

use std::hint::black_box;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

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

fn book(people: u32) -> AddressBook {
    AddressBook {
        people: (0..people)
            .map(|i| Person {
                id: i,
                name: format!("Person {i}"),
                email: format!("person{i}@example.com"),
                phones: vec![
                    PhoneNumber {
                        number: format!("555-{i:04}"),
                        kind: PhoneType::Mobile,
                    },
                    PhoneNumber {
                        number: format!("556-{i:04}"),
                        kind: PhoneType::Work,
                    },
                ],
                employment: if i % 2 == 0 {
                    Employment::School("MIT".into())
                } else {
                    Employment::SelfEmployed
                },
            })
            .collect(),
    }
}

/// Nanoseconds per call of `a` and of `b`: the best of seven rounds of `n` calls each, the two
/// taking turns to go first so that neither gains from what the other warmed up.
fn time_pair(n: u32, mut a: impl FnMut(), mut b: impl FnMut()) -> (f64, f64) {
    let round = |f: &mut dyn FnMut()| {
        let start = Instant::now();
        for _ in 0..n {
            f();
        }
        start.elapsed().as_nanos() as f64 / n as f64
    };
    let (mut best_a, mut best_b) = (f64::INFINITY, f64::INFINITY);
    for i in 0..7 {
        if i % 2 == 0 {
            best_a = best_a.min(round(&mut a));
            best_b = best_b.min(round(&mut b));
        } else {
            best_b = best_b.min(round(&mut b));
            best_a = best_a.min(round(&mut a));
        }
    }
    (best_a, best_b)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(20_000);
    let schema = serde_capnp::Schema::load("schemas/addressbook.capnp")?;
    let handle = schema.struct_type("AddressBook")?;
    let value = book(10);
    let bytes = serde_capnp::to_vec(&value)?;
    assert_eq!(bytes, handle.to_vec(&value)?);

    let (bound_write, handle_write) = time_pair(
        n,
        || {
            black_box(serde_capnp::to_vec(black_box(&value)).unwrap());
        },
        || {
            black_box(handle.to_vec(black_box(&value)).unwrap());
        },
    );
    let (bound_read, handle_read) = time_pair(
        n,
        || {
            black_box(serde_capnp::from_slice::<AddressBook>(black_box(&bytes)).unwrap());
        },
        || {
            black_box(handle.from_slice::<AddressBook>(black_box(&bytes)).unwrap());
        },
    );
    println!(
        "address book of 10 people, {} bytes, {n} calls per round, best of 7",
        bytes.len()
    );
    println!("write  bound {bound_write:>8.0} ns   runtime handle {handle_write:>8.0} ns");
    println!("read   bound {bound_read:>8.0} ns   runtime handle {handle_read:>8.0} ns");
    Ok(())
}

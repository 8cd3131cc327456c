//! The types and traits bound under `#![no_implicit_prelude]` work as any others.

use capnp_serde::CapnpStruct;
use std::cell::Cell;

use serde_capnp_hygiene::{
    schema, Function, FunctionClient, Opened, PersonBorrowed, PhoneNumber, PhoneNumberBorrowed,
    PhoneType, Shape, Sink, SinkClient, Square, SquareClient, Store, StoreClient, Totals, Value,
    ValueClient,
};

#[test]
fn bound_under_no_prelude_and_a_renamed_crate() {
    let phone = PhoneNumber {
        number: "555-1212".into(),
        kind: PhoneType::Work,
    };
    let bytes = capnp_serde::to_vec(&phone).unwrap();
    assert_eq!(
        capnp_serde::from_slice::<PhoneNumber>(&bytes).unwrap(),
        phone
    );
    let st = schema().unwrap().struct_type("Person.PhoneNumber").unwrap();
    assert_eq!(st.id(), PhoneNumber::NODE_ID);
    assert_eq!(st.to_vec(&phone).unwrap(), bytes);
}

#[test]
fn borrowed_under_no_prelude_and_a_renamed_crate() {
    const { assert!(<PersonBorrowed as capnp_serde::CapnpRead>::__DIRECT_READ) };
    let person = PersonBorrowed {
        id: 7,
        name: "Alice",
        email: None,
        phones: vec![PhoneNumberBorrowed {
            number: "555-1212".into(),
            kind: PhoneType::Home,
        }],
    };
    let bytes = capnp_serde::to_vec(&person).unwrap();
    let back: PersonBorrowed = capnp_serde::from_slice(&bytes).unwrap();
    assert_eq!(back, person);
    assert!(matches!(
        back.phones[0].number,
        std::borrow::Cow::Borrowed(_)
    ));
}

struct Constant(f64);

impl Value for Constant {
    async fn read(&self) -> capnp_serde::Result<f64> {
        Ok(self.0)
    }
}

struct Sum;

impl Function for Sum {
    async fn call(&self, params: Vec<f64>) -> capnp_serde::Result<f64> {
        Ok(params.iter().sum())
    }
}

struct Tile(Cell<f64>);

impl Shape for Tile {
    async fn area(&self) -> capnp_serde::Result<f64> {
        Ok(self.0.get() * self.0.get())
    }
}

impl Square for Tile {
    async fn side(&self) -> capnp_serde::Result<f64> {
        Ok(self.0.get())
    }
    async fn grow(&self, by: f64) -> capnp_serde::Result<()> {
        self.0.set(self.0.get() + by);
        Ok(())
    }
}

#[derive(Default)]
struct Counter(Cell<u64>, Cell<u32>);

impl Sink for Counter {
    async fn write(&self, chunk: Vec<u8>) -> capnp_serde::Result<()> {
        self.0.set(self.0.get() + chunk.len() as u64);
        self.1.set(self.1.get() + 1);
        Ok(())
    }
    async fn total(&self) -> capnp_serde::Result<Totals> {
        Ok(Totals {
            bytes: self.0.get(),
            chunks: self.1.get(),
        })
    }
}

struct Shelf;

impl Store for Shelf {
    async fn open(&self, label: String) -> capnp_serde::Result<Opened> {
        Ok(Opened {
            sink: SinkClient::from_server(Counter::default()),
            label,
        })
    }
}

#[test]
fn traits_bound_under_no_prelude_and_a_renamed_crate() {
    capnp_serde::rpc::run(async {
        assert_eq!(ValueClient::from_server(Constant(1.5)).read().await?, 1.5);
        assert_eq!(
            FunctionClient::from_server(Sum)
                .call(vec![1.0, 2.0])
                .await?,
            3.0
        );
        let square = SquareClient::from_server(Tile(Cell::new(2.0)));
        square.grow(1.0).await?;
        assert_eq!(square.side().await?, 3.0);
        assert_eq!(square.area().await?, 9.0);
        let store = StoreClient::from_server(Shelf);
        let sink: SinkClient = store.open("x".into()).sink();
        sink.write(vec![1, 2, 3]).await?;
        assert_eq!(
            sink.total().await?,
            Totals {
                bytes: 3,
                chunks: 1
            }
        );
        Ok(())
    })
    .unwrap();
}

//! A `StructSchema` keeps what reading learnt about Rust types from one message to the next.
//! Reusing it — for many messages, for several Rust types, across clones and threads — must
//! give exactly what a fresh handle gives.

mod common;

use serde::{Deserialize, Serialize};
use serde_capnp::{Schema, StructSchema};
use serde_capnp_suite::fixtures::addressbook::{sample, AddressBook, PhoneType};

fn book() -> StructSchema {
    Schema::from_code_generator_request(&common::compiled_schema("addressbook"))
        .unwrap()
        .struct_type("AddressBook")
        .unwrap()
}

/// The same schema read into other Rust shapes: fewer fields, other order, borrowed text.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Names<'a> {
    #[serde(borrow)]
    people: Vec<Name<'a>>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Name<'a> {
    email: &'a str,
    name: &'a str,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Kinds {
    people: Vec<PhoneKinds>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct PhoneKinds {
    phones: Vec<Kind>,
}

#[derive(Deserialize, Debug, PartialEq)]
struct Kind {
    #[serde(rename = "type")]
    kind: PhoneType,
}

fn check_all(st: &StructSchema, bytes: &[u8], expected: &AddressBook) {
    let full: AddressBook = st.from_slice(bytes).unwrap();
    assert_eq!(&full, expected);
    let names: Names = st.from_slice(bytes).unwrap();
    assert_eq!(names.people.len(), expected.people.len());
    for (n, p) in names.people.iter().zip(&expected.people) {
        assert_eq!((n.name, n.email), (p.name.as_str(), p.email.as_str()));
    }
    let kinds: Kinds = st.from_slice(bytes).unwrap();
    let got: Vec<Vec<PhoneType>> = kinds
        .people
        .iter()
        .map(|k| k.phones.iter().map(|ph| ph.kind).collect())
        .collect();
    let want: Vec<Vec<PhoneType>> = expected
        .people
        .iter()
        .map(|p| p.phones.iter().map(|ph| ph.kind).collect())
        .collect();
    assert_eq!(got, want);
}

/// [`Kinds`] with an enum that lacks `work`: reading a work phone fails partway through the
/// message, after the read has taken the handle's plans.
#[derive(Deserialize, Debug)]
struct NoWork {
    #[allow(dead_code)]
    people: Vec<NoWorkPhones>,
}

#[derive(Deserialize, Debug)]
struct NoWorkPhones {
    #[allow(dead_code)]
    phones: Vec<NoWorkKind>,
}

#[derive(Deserialize, Debug)]
struct NoWorkKind {
    #[serde(rename = "type")]
    #[allow(dead_code)]
    kind: MobileOrHome,
}

#[derive(Deserialize, Debug)]
enum MobileOrHome {
    Mobile,
    Home,
}

#[test]
fn one_handle_reads_many_messages_into_several_types() {
    let st = book();
    let base = sample();
    for i in 0..50u32 {
        let mut b = base.clone();
        for p in &mut b.people {
            p.id += i;
            p.name = format!("{}{}", p.name, i);
        }
        if i % 3 == 0 {
            b.people.reverse();
        }
        let bytes = st.to_vec(&b).unwrap();
        assert_eq!(bytes, book().to_vec(&b).unwrap());
        check_all(&st, &bytes, &b);
        // Another Rust type written through the same handle.
        let names: Names = st.from_slice(&bytes).unwrap();
        let written = st.to_vec(&names).unwrap();
        assert_eq!(written, book().to_vec(&names).unwrap());
        assert_eq!(st.from_slice::<Names>(&written).unwrap(), names);
        // A fresh handle agrees.
        check_all(&book(), &bytes, &b);
        // A read that fails partway (the sample's second person has a work phone) leaves the
        // handle as good as before: the next round reads through it again.
        let err = st.from_slice::<NoWork>(&bytes).unwrap_err();
        assert!(err.path().ends_with("].phones[1].type"), "{err}");
    }
}

#[test]
fn clones_on_several_threads_share_one_handle() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<StructSchema>();
    let st = book();
    let b = sample();
    let bytes = st.to_vec(&b).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..4 {
            let st = st.clone();
            let (bytes, b) = (&bytes, &b);
            scope.spawn(move || {
                for _ in 0..300 {
                    check_all(&st, bytes, b);
                    assert_eq!(&st.to_vec(b).unwrap(), bytes);
                }
            });
        }
    });
}

/// Fields that serde skips in some values and not others: the fields a handle expects next
/// differ from value to value, within one message and between messages.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Sparse {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    email: Option<String>,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    id: Option<u32>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct SparseBook {
    people: Vec<Sparse>,
}

#[test]
fn values_whose_fields_vary_write_as_a_fresh_handle_writes_them() {
    let st = book();
    for round in 0..20u32 {
        let people = (0..6u32)
            .map(|i| Sparse {
                email: ((i + round) % 2 == 0).then(|| format!("p{i}@example.org")),
                name: format!("person {i}"),
                id: ((i + round) % 3 != 0).then_some(i * 10 + round),
            })
            .collect();
        let value = SparseBook { people };
        let bytes = st.to_vec(&value).unwrap();
        assert_eq!(bytes, book().to_vec(&value).unwrap(), "round {round}");
        let back: SparseBook = st.from_slice(&bytes).unwrap();
        for (got, sent) in back.people.iter().zip(&value.people) {
            assert_eq!(got.name, sent.name);
            assert_eq!(
                got.email.as_deref().unwrap_or(""),
                sent.email.as_deref().unwrap_or("")
            );
            assert_eq!(got.id.unwrap_or(0), sent.id.unwrap_or(0));
        }
    }
}

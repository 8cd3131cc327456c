//! The types bound under `#![no_implicit_prelude]` work as any others.

use capnp_serde::CapnpStruct;
use serde_capnp_hygiene::{schema, PhoneNumber, PhoneType};

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

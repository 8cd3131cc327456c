//! `include_schema!(static NAME = ...)`: one embedded copy of a schema that the module's bound
//! types (and those of modules that glob-import it) use instead of their own.

use serde::{Deserialize, Serialize};
use serde_capnp::{Capnp, CapnpStruct, IncludedSchema};

serde_capnp::include_schema!(pub(crate) static ADDRESSBOOK = "schemas/addressbook.capnp");

#[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.PhoneNumber")]
struct PhoneNumber {
    number: String,
    #[serde(rename = "type")]
    kind: nested::PhoneType,
}

mod nested {
    use super::*;

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
    #[capnp(schema = "schemas/addressbook.capnp", name = "Person.PhoneNumber.Type")]
    pub enum PhoneType {
        Mobile,
        Home,
        Work,
    }
}

#[test]
fn bound_types_share_the_included_schema() {
    let shared: &'static IncludedSchema = &ADDRESSBOOK;
    let schema = shared.get().unwrap();
    let phone = PhoneNumber {
        number: "555".into(),
        kind: nested::PhoneType::Home,
    };
    let bytes = serde_capnp::to_vec(&phone).unwrap();
    assert_eq!(
        serde_capnp::from_slice::<PhoneNumber>(&bytes).unwrap(),
        phone
    );
    let st = PhoneNumber::struct_schema().unwrap();
    assert!(std::ptr::eq(st.pool().0, schema.pool()));
    assert_eq!(
        format!("{shared:?}").split(' ').next(),
        Some("IncludedSchema")
    );
}

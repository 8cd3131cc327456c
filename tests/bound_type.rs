//! A type bound to its struct through `CapnpStruct` uses the free functions, which mirror
//! serde_json's: swapping `serde_json::to_vec` for `serde_capnp::to_vec` is the only change.

mod common;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_capnp::{CapnpRead, CapnpStruct, Schema, StructSchema};
use serde_capnp_suite::fixtures::addressbook::{self, AddressBook};

/// Binds `AddressBook` here, as the derive macro will.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(transparent)]
struct Bound(AddressBook);

/// By hand, with the committed `CodeGeneratorRequest`; `#[derive(Capnp)]` does this from the
/// `.capnp` file at compile time (`tests/derive.rs`).
impl CapnpStruct for Bound {
    const NODE_ID: u64 = 0x9560_7985_0759_aebd;

    fn struct_schema() -> serde_capnp::Result<&'static StructSchema> {
        static SCHEMA: OnceLock<StructSchema> = OnceLock::new();
        if let Some(st) = SCHEMA.get() {
            return Ok(st);
        }
        let st = Schema::from_code_generator_request(&common::compiled_schema("addressbook"))?
            .struct_by_id(Self::NODE_ID)?;
        Ok(SCHEMA.get_or_init(|| st))
    }
}

/// Read through its `Deserialize` (the derive's direct path is for derived types).
impl<'de> CapnpRead<'de> for Bound {}

#[test]
fn free_functions_use_the_bound_schema() {
    let book = Bound(addressbook::sample());
    let bytes = serde_capnp::to_vec(&book).unwrap();
    assert_eq!(
        bytes,
        Bound::struct_schema().unwrap().to_vec(&book).unwrap()
    );
    assert_eq!(serde_capnp::from_slice::<Bound>(&bytes).unwrap(), book);
    assert_eq!(
        serde_capnp::from_reader::<_, Bound>(&bytes[..]).unwrap(),
        book
    );

    let packed = serde_capnp::to_vec_packed(&book).unwrap();
    assert_eq!(
        serde_capnp::from_slice_packed::<Bound>(&packed).unwrap(),
        book
    );

    let mut written = Vec::new();
    serde_capnp::to_writer(&mut written, &book).unwrap();
    assert_eq!(written, bytes);
}

/// A reused buffer gives the same bytes as a fresh one.
#[test]
fn a_reused_buffer_gives_the_same_bytes() {
    let st = Bound::struct_schema().unwrap();
    let book = addressbook::sample();
    let fresh = st.to_vec(&book).unwrap();
    let big = st.to_vec_in(&book, vec![0xaa; 1 << 20]).unwrap();
    assert_eq!(big, fresh);
    let small = st.to_vec_in(&book, Vec::new()).unwrap();
    assert_eq!(small, fresh);
}

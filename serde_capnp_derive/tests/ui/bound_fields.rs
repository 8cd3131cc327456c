use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person")]
struct Person {
    id: u32,
    // Bound to `Person`, where the schema has `Person.PhoneNumber`.
    phones: Vec<Person>,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct Inner {
    id: u32,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct AllTypes {
    // `Inner` is bound to `Inner`, where the schema has `Nested`.
    nested_field: Inner,
    // And to `Inner` where the schema has the group `point`.
    point: Inner,
}

fn main() {}

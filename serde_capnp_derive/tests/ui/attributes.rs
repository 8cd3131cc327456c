use serde::Serialize;
use serde_capnp::Capnp;

#[derive(Serialize, Capnp)]
struct NoSchema {
    id: u32,
}

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp")]
struct NoName {
    id: u32,
}

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person", id = 0x1)]
struct NameAndId {
    id: u32,
}

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person", nmae = "x", crate = "not a path")]
struct UnknownKey {
    id: u32,
}

fn main() {}

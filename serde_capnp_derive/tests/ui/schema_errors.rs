use serde::Serialize;
use serde_capnp::Capnp;

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/missing.capnp", name = "Person")]
struct NoFile {
    id: u32,
}

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/broken.capnp", name = "Broken")]
struct DoesNotCompile {
    id: u32,
}

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Persn")]
struct NoSuchNode {
    id: u32,
}

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", id = 0x1234)]
struct NoSuchId {
    id: u32,
}

#[derive(Serialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "answer")]
struct NotAStruct {
    id: u32,
}

fn main() {}

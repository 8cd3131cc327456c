use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct Tuple(u32, String);

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
struct Unit;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Pair(Text)")]
struct OneParameter {
    key: String,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Pair(Text, UInt32)")]
struct DataParameter {
    key: String,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Pair(Text, Data)")]
struct WrongBinding {
    key: String,
    value: String,
}

fn main() {}

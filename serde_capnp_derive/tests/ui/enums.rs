use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Color")]
enum MissingAndExtra {
    Red,
    Green,
    Purple,
    Blue(u8),
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Color")]
struct StructForEnum {
    red: bool,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Inner")]
enum EnumForStructWithoutUnion {
    Id(u32),
}

fn main() {}

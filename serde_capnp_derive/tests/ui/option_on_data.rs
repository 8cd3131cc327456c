use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct Optional {
    // A data field always holds a value: `None` would read back as `Some(0)`.
    uint8_field: Option<u8>,
    // A pointer field may be null: `None` is a null pointer.
    text_field: Option<String>,
    bool_list: Vec<Option<bool>>,
    text_list: Option<Vec<Option<String>>>,
    data_field: Option<Option<Vec<u8>>>,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Defaults")]
struct WithDefaults {
    // The default is 234, so `None` would read back as `Some(234)`.
    uint8_default: Option<u8>,
    enum_default: Option<Color>,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "Color")]
enum Color {
    Red,
    Green,
    Blue,
    DarkGoldenrod,
}

fn main() {}

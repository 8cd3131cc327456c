use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.employment")]
enum Employment {
    Unemployed,
    // A unit variant can only select a Void member; `employer` is Text.
    Employer,
    School(u32),
    Retired,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes.shape")]
enum Shape {
    None,
    Radius(f32),
    Name { text: String },
    Inner(String),
    Rect { width: f32, depth: f32 },
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.employment")]
#[serde(tag = "kind")]
enum Tagged {
    Unemployed,
}

fn main() {}

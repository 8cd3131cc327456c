use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.employment")]
enum Employment {
    Unemployed,
    Employer(String),
    School(String),
    SelfEmployed,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct AllTypes {
    // The unnamed union of `AllTypes`, but bound to another union.
    which: Employment,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct Flattened {
    #[serde(flatten)]
    which: Employment,
}

#[derive(Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
union Raw {
    a: u32,
}

fn main() {}

use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person.PhoneNumber")]
struct PhoneNumber {
    number: String,
    // serde writes `kind`, which the schema does not have: its field is `type`.
    kind: u16,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person")]
#[serde(rename_all = "UPPERCASE")]
struct Shouting {
    // `ID` is not `id`: exact names, and snake_case to camelCase, are the only matches.
    id: u32,
}

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/addressbook.capnp", name = "Person")]
struct Aliased {
    id: u32,
    #[serde(alias = "email")]
    name: String,
    #[serde(rename = "name")]
    full_name: String,
}

fn main() {}

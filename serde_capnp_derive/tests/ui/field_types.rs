use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_capnp::Capnp;

#[derive(Serialize, Deserialize, Capnp)]
#[capnp(schema = "schemas/alltypes.capnp", name = "AllTypes")]
struct Wrong {
    int8_field: u8,
    int16_field: i32,
    int32_field: i16,
    uint64_field: usize,
    uint32_field: u64,
    float32_field: f64,
    bool_field: u8,
    text_field: Vec<u8>,
    data_field: String,
    int32_list: Vec<i64>,
    text_list: Vec<u8>,
    enum_field: u16,
    struct_field: String,
    any_field: String,
    names_by_id: BTreeMap<u64, String>,
    point: Option<(i32, i32)>,
    which: u32,
}

fn main() {}

//! Structs with no data and no pointers: Cap'n Proto writes their pointers with offset -1 and
//! allocates nothing for them, wherever they are, and a null pointer means a field that is
//! not set. Our writers must give the tool's bytes.

use serde::{Deserialize, Serialize};
use serde_capnp::{Capnp, Schema};

mod common;

fn schema_file() -> std::path::PathBuf {
    common::manifest_dir().join("tests/schemas/empty_structs.capnp")
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Empty {}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Holder {
    n: u8,
    first: Option<Empty>,
    last: Option<Empty>,
}

/// The same types bound to the schema, written by the derive's direct path.
mod bound {
    use super::*;

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
    #[capnp(schema = "tests/schemas/empty_structs.capnp", name = "Empty")]
    pub struct Empty {}

    #[derive(Serialize, Deserialize, Capnp, Debug, PartialEq)]
    #[capnp(schema = "tests/schemas/empty_structs.capnp", name = "Holder")]
    pub struct Holder {
        pub n: u8,
        pub first: Option<Empty>,
        pub last: Option<Empty>,
    }
}

/// The root pointer of a message of one segment: its second word.
fn root_word(message: &[u8]) -> [u8; 8] {
    message[8..16].try_into().unwrap()
}

#[test]
fn an_empty_struct_is_written_with_offset_minus_one() {
    let schema = Schema::load(schema_file()).unwrap();
    let empty = schema
        .struct_type("Empty")
        .unwrap()
        .to_vec(&Empty {})
        .unwrap();
    assert_eq!(root_word(&empty), [0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    let holder = schema.struct_type("Holder").unwrap();
    let bytes = holder
        .to_vec(&Holder {
            n: 1,
            first: Some(Empty {}),
            last: Some(Empty {}),
        })
        .unwrap();
    // The root, then Holder's data word and its two pointers, both empty structs, the last of
    // which is the last word of the message (where a pointer to the next word would be null).
    assert_eq!(bytes.len(), 8 + 8 * 4);
    for ptr in [&bytes[24..32], &bytes[32..40]] {
        assert_eq!(ptr, [0xfc, 0xff, 0xff, 0xff, 0, 0, 0, 0]);
    }
    let back: Holder = holder.from_slice(&bytes).unwrap();
    assert_eq!(back.last, Some(Empty {}));
    // The direct path of bound types writes the same bytes.
    assert_eq!(serde_capnp::to_vec(&bound::Empty {}).unwrap(), empty);
    let direct = serde_capnp::to_vec(&bound::Holder {
        n: 1,
        first: Some(bound::Empty {}),
        last: Some(bound::Empty {}),
    })
    .unwrap();
    assert_eq!(direct, bytes);
    let back: bound::Holder = serde_capnp::from_slice(&direct).unwrap();
    assert_eq!(back.last, Some(bound::Empty {}));
}

#[test]
fn empty_structs_are_the_tools_bytes() {
    common::require_tool!(common::capnp_tool(), "the `capnp` tool is not installed");
    let schema = Schema::load(schema_file()).unwrap();
    let convert = |type_name: &str, text: &str| {
        common::capnp_convert("text:binary", &schema_file(), type_name, text.as_bytes())
            .unwrap_or_else(|e| panic!("capnp convert: {e}"))
    };
    let ours = schema
        .struct_type("Empty")
        .unwrap()
        .to_vec(&Empty {})
        .unwrap();
    common::assert_same_bytes(&ours, &convert("Empty", "()"));
    let ours = schema
        .struct_type("Holder")
        .unwrap()
        .to_vec(&Holder {
            n: 1,
            first: Some(Empty {}),
            last: Some(Empty {}),
        })
        .unwrap();
    common::assert_same_bytes(&ours, &convert("Holder", "(n = 1, first = (), last = ())"));
}

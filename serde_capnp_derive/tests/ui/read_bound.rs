use serde::Deserialize;
use serde_capnp::{CapnpStruct, StructSchema};

// Bound by hand, without the reading half: the free read functions ask for it.
#[derive(Deserialize)]
struct ByHand {
    id: u32,
}

impl CapnpStruct for ByHand {
    const NODE_ID: u64 = 1;

    fn struct_schema() -> serde_capnp::Result<&'static StructSchema> {
        Err(serde_capnp::Error::failed("not needed to compile"))
    }
}

fn main() {
    let _ = serde_capnp::from_slice::<ByHand>(&[]);
    let _ = serde_capnp::from_reader::<_, ByHand>(&[][..]);
}

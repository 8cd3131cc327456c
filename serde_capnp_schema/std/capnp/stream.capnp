# Mirrors the declarations of the standard Cap'n Proto schema of the same
# path (/capnp/stream.capnp), for use when that schema is not installed.
# Written for serde_capnp: same IDs and declarations, our own comments.

@0x86c366a91393f3f8;
# The result type behind `-> stream` methods.

$import "/capnp/c++.capnp".namespace("capnp");

struct StreamResult @0x995f9a3377c0b16e {
  # What a method declared `-> stream` returns. It carries no data: a
  # streaming call only signals when the caller may send the next one (flow
  # control), and generators that know about streaming hide this type.
}

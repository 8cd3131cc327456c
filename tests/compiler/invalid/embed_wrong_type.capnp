@0xb9a9c66b9acb7646;
const number :UInt32 = embed "embed_wrong_type.capnp";

@0xb4d72234077393a2;
struct Record {
  value @0 :UInt64;
}
const record :Record = embed "embed_not_a_message.capnp";

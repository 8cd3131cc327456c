@0xa2b4299d3004419a;
using Other = import "support/same_id.capnp";
struct User {
  other @0 :Other.Thing;
}

@0x8cf8efe3378230bf;
using Missing = import "does-not-exist.capnp";
struct User {
  thing @0 :Missing.Thing;
}

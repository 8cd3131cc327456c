# Imported relatively from names.capnp; imports a file from the parent directory.
@0x9739577b7d8f43f1;

using Scalars = import "../scalars.capnp";
using Units = import "units.capnp";

using ShadeAlias = Scalars.Shade;

struct Colour {
  red @0 :UInt8;
  green @1 :UInt8;
  blue @2 :UInt8;
  shade @3 :ShadeAlias = dim;
  bearing @4 :Units.Direction = east;
}

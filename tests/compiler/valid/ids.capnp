# Explicit IDs on every kind of node. The file ID itself comes after the first
# declaration, which the parser accepts.
using Other = import "enums.capnp";

@0x9855356623960b3b;

struct Explicit @0x8fe3d41edbd1ec8f {
  field @0 :UInt8;

  struct NestedExplicit @0x95680b61a522319a {
    value @0 :Text;
  }

  struct NestedDerived {
    # No ID: derived from the parent's ID and this name.
    value @0 :Text;
  }

  enum NestedEnum @0xd44e3c848cc79f9e {
    x @0;
  }
}

struct GenericWithId @0xf98d8ad9e0f59d7e (T) $markerAlias {
  value @0 :T;
}

interface ServiceWithId @0xf612dc7d78dfdcc1 (T) extends(Other.Scheduler) {
  call @0 (t :T) -> ();
}

annotation marker @0xd2d5d7a3690b74cc (struct) :Void;
using markerAlias = marker;

# Shared definitions imported by several other files, both by absolute path
# ("/shared/units.capnp", through the import path) and by relative path.
@0x877487733308395d;

const standardGravity :Float64 = 9.80665;
const unitName :Text = "metre";

struct Metres {
  value @0 :Float64;
  const perKilometre :UInt32 = 1000;
}

struct Quantity {
  amount @0 :Float64;
  unit @1 :Unit;

  enum Unit {
    metre @0;
    second @1;
    kilogram @2;
  }
}

enum Direction {
  north @0;
  east @1;
  south @2;
  west @3;
}

interface Meter {
  read @0 () -> (quantity :Quantity);
}

annotation unitNote(*) :Text;
# An annotation declared in one file and applied in others.

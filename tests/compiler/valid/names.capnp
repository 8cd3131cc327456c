# Name resolution: aliases, absolute names, nested scopes, shadowing and imports.
@0xa08d660a9bd6435e;

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("compiler_tests::names");

using Units = import "/shared/units.capnp";
using RelativeUnits = import "shared/units.capnp";
using Palette = import "shared/palette.capnp";
using import "/shared/units.capnp".Direction;
# A 'using' without '=' takes the name of the member it refers to.
using Units.Quantity;
using Scalars = import "scalars.capnp";
using Scalars.Shade;

using Id = UInt64;
using Bytes = Data;
using Numbers = List(Int32);
using Grid = List(List(Float64));
using Kilometre = Units.Metres;
using AliasOfAlias = Kilometre;
using Unit = Quantity.Unit;
using gravity = Units.standardGravity;
using localLimit = Outer.limit;

struct Outer {
  const limit :UInt32 = 99;

  struct Thing {
    # A nested struct whose name is reused further in.
    id @0 :Id;
  }

  enum Kind {
    small @0;
    large @1;
  }

  struct Middle {
    struct Thing {
      # Shadows Outer.Thing inside Middle.
      label @0 :Text;
    }

    near @0 :Thing;
    # Resolves to Outer.Middle.Thing.
    far @1 :Outer.Thing;
    kind @2 :Kind;
    # Found by searching enclosing scopes.
    absolute @3 : .Outer.Kind;
    topLevel @4 : .Thing;
    # The file-level Thing, despite two nested Things in scope.
    limit @5 :UInt32 = Outer.limit;
  }

  interface Callback {
    # An interface nested in a struct, using its sibling declarations.
    notify @0 (kind :Kind, thing :Thing) -> (handled :Bool);
  }

  annotation note(field) :Kind;
  # An annotation nested in a struct.

  using Inner = Middle.Thing;
  inner @0 :Inner;
  middle @1 :Middle;
  callback @2 :Callback $note(large);
}

struct Thing {
  # A file-level struct sharing its name with nested ones.
  value @0 :Float32;
}

struct UsesAliases {
  id @0 :Id = 0xffffffffffffffff;
  bytes @1 :Bytes = "abc";
  numbers @2 :Numbers = [1, -2];
  grid @3 :Grid = [[0.5], [1.5, 2.5]];
  distance @4 :Kilometre = (value = 1000);
  again @5 :AliasOfAlias;
  direction @6 :Direction = south;
  quantity @7 :Quantity = (amount = 3, unit = kilogram);
  unit @8 :Unit = second;
  relative @9 :RelativeUnits.Metres;
  weight @10 :Float64 = .gravity;
  limit @11 :UInt32 = .localLimit;
  shade @12 :Shade = bright;
  colour @13 :Palette.Colour;
  shadeViaPalette @14 :Palette.ShadeAlias = blinding;
  nested @15 :Outer.Middle.Thing;
  aliasInside @16 :Outer.Inner;
  inlineImport @17 :import "scalars.capnp".Everything;
  inlineEnum @18 :import "/shared/units.capnp".Quantity.Unit = metre;
  viaAbsolute @19 : .Outer.Middle;
}

struct Scopes {
  # Names in a struct body are visible to members declared before them.
  first @0 :Later;
  second @1 :Later.Deeper;

  struct Later {
    struct Deeper {
      back @0 :Scopes;
      sibling @1 :Later;
    }
  }
}

# Explicit default values for fields of every type.
@0xb3ed9c30debe2c8c;

using Scalars = import "scalars.capnp";

enum Phase {
  waxing @0;
  full @1;
  waning @2;
  new @3;
}

struct Reading {
  label @0 :Text;
  value @1 :Float64;
  phase @2 :Phase;
  inner @3 :Reading;
  tags @4 :List(Text);
}

struct Numbers {
  # Integer literals: decimal, hexadecimal, octal, negative, extremes.
  i8min @0 :Int8 = -128;
  i8max @1 :Int8 = 127;
  i16min @2 :Int16 = -0x8000;
  i16max @3 :Int16 = 0x7fff;
  i32min @4 :Int32 = -2147483648;
  i32max @5 :Int32 = 017777777777;
  i64min @6 :Int64 = -9223372036854775808;
  i64max @7 :Int64 = 0x7FFFFFFFFFFFFFFF;
  u8max @8 :UInt8 = 0xff;
  u16max @9 :UInt16 = 65535;
  u32max @10 :UInt32 = 0xffffffff;
  u64max @11 :UInt64 = 18446744073709551615;
  octal @12 :UInt16 = 0644;
  zero @13 :Int32 = 0;
  negativeZero @14 :Int64 = -0;
  smallNegative @15 :Int16 = -7;
}

struct Floats {
  # Floating-point literals, including the special values.
  plain @0 :Float64 = 3.25;
  exponent @1 :Float64 = 6.02214076e23;
  negativeExponent @2 :Float32 = -1.5e-7;
  upperExponent @3 :Float64 = 2.5E+3;
  fromInteger @4 :Float32 = 42;
  fromNegativeInteger @5 :Float64 = -17;
  huge @6 :Float32 = 3e38;
  positiveInfinity @7 :Float64 = inf;
  negativeInfinity @8 :Float32 = -inf;
  notANumber @9 :Float64 = nan;
  notANumber32 @10 :Float32 = nan;
  trailingDot @11 :Float64 = 9.;
  tinyNumber @12 :Float64 = 4.9e-324;
}

struct Blobs {
  # Text and Data literals.
  empty @0 :Text = "";
  escapes @1 :Text = "line one\nline two\ttabbed \"quoted\" back\\slash \x7e \101\102";
  concatenated @2 :Text = "part one, "
                          "part two, "
                          "part three";
  unicode @3 :Text = "Grüße — ünïcödé ✓ 🌙";
  hexData @4 :Data = 0x"00 01 7f 80 ff";
  hexDataNoSpaces @5 :Data = 0x"cafebabe";
  textAsData @6 :Data = "raw bytes\x00\xff";
  emptyData @7 :Data = "";
  singleQuote @8 :Text = "it's \'fine\'";
}

struct Simple {
  nothing @0 :Void = void;
  yes @1 :Bool = true;
  no @2 :Bool = false;
  phase @3 :Phase = waning;
  otherPhase @4 :Phase = new;
}

struct Lists {
  voids @0 :List(Void) = [void, void, void];
  bools @1 :List(Bool) = [true, false, true, true, false, false, false, true, true];
  int8s @2 :List(Int8) = [-128, 0, 127];
  int16s @3 :List(Int16) = [-300, 300];
  int32s @4 :List(Int32) = [0x10, 010, 10];
  int64s @5 :List(Int64) = [-9000000000, 9000000000];
  uint8s @6 :List(UInt8) = [0, 1, 255];
  uint16s @7 :List(UInt16) = [65535];
  uint32s @8 :List(UInt32) = [4000000000, 1];
  uint64s @9 :List(UInt64) = [0xffffffffffffffff, 0];
  float32s @10 :List(Float32) = [1.5, -2.25e10, inf, -inf, nan];
  float64s @11 :List(Float64) = [1e300, -1e-300, nan];
  texts @12 :List(Text) = ["north", "south", "", "east\nwest"];
  datas @13 :List(Data) = [0x"01 02", "ab", ""];
  phases @14 :List(Phase) = [new, full, waxing];
  readings @15 :List(Reading) = [
    (label = "first", value = 1.0),
    (label = "second", phase = full, tags = ["a", "b"]),
    (),
  ];
  nestedInts @16 :List(List(Int32)) = [[1, 2, 3], [], [-4]];
  nestedTexts @17 :List(List(Text)) = [["x", "y"], ["z"]];
  nestedStructs @18 :List(List(Reading)) = [[(label = "deep")], [(value = -1), (value = 2)]];
  nestedBools @19 :List(List(Bool)) = [[true], [false, true]];
  empty @20 :List(UInt32) = [];
  trailingComma @21 :List(Text) = ["one", "two",];
}

struct Structs {
  # Struct literals, nested several levels, with lists inside.
  reading @0 :Reading = (
      label = "outer",
      value = -273.15,
      phase = waxing,
      inner = (label = "middle", inner = (label = "innermost", tags = ["deep"])),
      tags = ["t1", "t2"]);
  emptyLiteral @1 :Reading = ();
  everything @2 :Scalars.Everything = (
      nothing = void, flag = true, tiny = -1, short = -2, medium = -3, large = -4,
      utiny = 1, ushort = 2, umedium = 3, ularge = 4, single = 0.5, double = -0.25,
      words = "imported", bytes = 0x"aa", child = (words = "child"), shade = blinding,
      blank = ());
  everyList @3 :Scalars.EveryList = (
      voids = [void], flags = [true], shades = [dim, bright],
      nested = [[1], [2, 3]], deeper = [[["a"]], []],
      listsOfEnums = [[blinding]], listsOfVoids = [[void, void]],
      structs = [(tiny = 5), (short = 6)]);
  trailingComma @4 :Reading = (label = "x", value = 2,);
}

struct WithUnions {
  # Union members and groups set inside struct literals.
  union {
    circle :group {
      radius @0 :Float64;
    }
    square :group {
      side @1 :Float64;
      rotated @2 :Bool;
    }
    nothing @3 :Void;
    named @4 :Text;
  }
  extra :group {
    weight @5 :UInt32;
    kind :union {
      light @6 :Void;
      heavy @7 :UInt8;
    }
  }
}

struct UnionDefaults {
  a @0 :WithUnions = (circle = (radius = 2.5));
  b @1 :WithUnions = (square = (side = 4, rotated = true), extra = (weight = 10, kind = (heavy = 3)));
  c @2 :WithUnions = (nothing = void);
  d @3 :WithUnions = (named = "label", extra = (kind = (light = void)));
  e @4 :List(WithUnions) = [(circle = (radius = 1)), (named = "n"), (square = ())];
}

struct ConstantRefs {
  # Defaults that refer to constants in every way a name can be written.
  local @0 :UInt32 = .limit;
  nested @1 :Text = ConstantRefs.greeting;
  deeper @2 :Int16 = Outer.Inner.depth;
  absoluteDeeper @3 :Int16 = .Outer.Inner.depth;
  imported @4 :Text = Consts.motto;
  structConst @5 :Reading = .sampleReading;
  listConst @6 :List(Text) = .compass;
  inLiteral @7 :Reading = (label = ConstantRefs.greeting, tags = .compass, inner = .sampleReading);
  inList @8 :List(UInt32) = [.limit, 3];
  fromOtherFile @9 :Text = import "constants.capnp".motto;
  fromAlias @10 :Int64 = Consts.Limits.smallest;
  enumLiteral @11 :Phase = waxing;
  anyPointer @12 :AnyPointer = .sampleReading;
  anyStruct @13 :AnyStruct = .sampleReading;
  anyList @14 :AnyList = .compass;
  anyPointerList @15 :AnyPointer = .compass;

  const greeting :Text = "hello";
}

using Consts = import "constants.capnp";

const limit :UInt32 = 4096;
const favouritePhase :Phase = full;
const sampleReading :Reading = (label = "sample", value = 0.125, tags = ["s"]);
const compass :List(Text) = ["n", "e", "s", "w"];

struct Outer {
  struct Inner {
    const depth :Int16 = -3;
    const phase :Phase = waning;
  }
}

# A schema that touches every type and construct of the Cap'n Proto schema
# language that can appear in a message, for interoperability tests: a
# message built from it by one implementation (this crate, the C++ `capnp`
# tool, pycapnp) must read back identically in every other one.
#
# What is covered, and where:
#   AllTypes      every primitive, Text, Data, enum, struct, AnyPointer,
#                 a group, a named union and an unnamed union (with Void,
#                 primitive, Text, struct and group members), lists of every
#                 element kind including lists of lists, generic structs
#                 with brands, and map-like lists of key/value entries
#   Defaults      non-zero default values of every kind (negative integers,
#                 floats, `true`, Text, Data, enum, struct and list literals,
#                 a constant used as a default)
#   FloatSpecials infinities and NaN as defaults
#   Pair, Map     generic structs (parameters are always pointer types)
#
# Interfaces are left out on purpose: this file is about data.
# Names are camelCase; Rust code sees them as snake_case.

@0xa156caa5fb54daa8;

enum Color {
  red @0;
  green @1;
  blue @2;
  darkGoldenrod @3;
}

struct Inner {
  id @0 :UInt32;
  label @1 :Text;
  color @2 :Color;
}

# A generic pair; both parameters must be pointer types
# (Text, Data, structs, lists, AnyPointer).
struct Pair(Key, Value) {
  key @0 :Key;
  value @1 :Value;
}

# The usual way to express a map in Cap'n Proto.
struct Map(Key, Value) {
  entries @0 :List(Entry);

  struct Entry {
    key @0 :Key;
    value @1 :Value;
  }
}

# A non-generic map entry with an integer key (a Rust `BTreeMap<u32, String>`).
struct IdEntry {
  key @0 :UInt32;
  value @1 :Text;
}

const defaultInner :Inner = (id = 7, label = "seven", color = green);
const answer :Int32 = 42;

struct AllTypes {
  # Primitives.
  voidField @0 :Void;
  boolField @1 :Bool;
  int8Field @2 :Int8;
  int16Field @3 :Int16;
  int32Field @4 :Int32;
  int64Field @5 :Int64;
  uint8Field @6 :UInt8;
  uint16Field @7 :UInt16;
  uint32Field @8 :UInt32;
  uint64Field @9 :UInt64;
  float32Field @10 :Float32;
  float64Field @11 :Float64;

  # Blobs, enums, structs, untyped pointers.
  textField @12 :Text;
  dataField @13 :Data;
  enumField @14 :Color;
  structField @15 :Inner;
  nestedField @16 :Nested;
  anyField @17 :AnyPointer;

  # Lists of every element kind.
  voidList @18 :List(Void);
  boolList @19 :List(Bool);
  int8List @20 :List(Int8);
  int16List @21 :List(Int16);
  int32List @22 :List(Int32);
  int64List @23 :List(Int64);
  uint8List @24 :List(UInt8);
  uint16List @25 :List(UInt16);
  uint32List @26 :List(UInt32);
  uint64List @27 :List(UInt64);
  float32List @28 :List(Float32);
  float64List @29 :List(Float64);
  textList @30 :List(Text);
  dataList @31 :List(Data);
  enumList @32 :List(Color);
  structList @33 :List(Inner);
  int32ListList @34 :List(List(Int32));
  structListList @35 :List(List(Inner));

  # A group: its fields live in this struct's own sections.
  point :group {
    x @36 :Int32;
    y @37 :Int32;
  }

  # A named union.
  shape :union {
    none @38 :Void;
    radius @39 :Float64;
    name @40 :Text;
    inner @41 :Inner;
    rect :group {
      width @42 :Float32;
      height @43 :Float32;
    }
  }

  # The unnamed union.
  union {
    unset @44 :Void;
    number @45 :Int64;
    word @46 :Text;
    nested @47 :Inner;
    pair :group {
      left @48 :Int32;
      right @49 :Int32;
    }
  }

  # Generics with brands.
  textInnerPair @50 :Pair(Text, Inner);
  listDataPair @51 :Pair(List(Int32), Data);
  nestedPair @52 :Pair(Text, Pair(Data, Inner));

  # Maps.
  innerByName @53 :Map(Text, Inner);
  namesById @54 :List(IdEntry);

  struct Nested {
    depth @0 :UInt16;
    deeper @1 :Deeper;

    struct Deeper {
      flag @0 :Bool;
      note @1 :Text;
    }
  }
}

struct Defaults {
  voidDefault @0 :Void = void;
  boolDefault @1 :Bool = true;
  int8Default @2 :Int8 = -123;
  int16Default @3 :Int16 = -12345;
  int32Default @4 :Int32 = -12345678;
  int64Default @5 :Int64 = -123456789012345;
  uint8Default @6 :UInt8 = 234;
  uint16Default @7 :UInt16 = 45678;
  uint32Default @8 :UInt32 = 3456789012;
  uint64Default @9 :UInt64 = 12345678901234567890;
  float32Default @10 :Float32 = 1234.5;
  float64Default @11 :Float64 = -1.25e-10;
  textDefault @12 :Text = "hello, defaults";
  dataDefault @13 :Data = 0x"de ad be ef";
  enumDefault @14 :Color = blue;
  structDefault @15 :Inner = (id = 99, label = "default inner", color = darkGoldenrod);
  constDefault @16 :Inner = .defaultInner;
  int32Answer @17 :Int32 = .answer;

  boolListDefault @18 :List(Bool) = [true, false, true];
  int16ListDefault @19 :List(Int16) = [-1, 0, 1, 32767, -32768];
  uint64ListDefault @20 :List(UInt64) = [0, 18446744073709551615];
  float32ListDefault @21 :List(Float32) = [0.5, -2.25];
  textListDefault @22 :List(Text) = ["alpha", "beta", "gamma"];
  dataListDefault @23 :List(Data) = [0x"00 01", 0x"ff"];
  enumListDefault @24 :List(Color) = [red, darkGoldenrod];
  structListDefault @25 :List(Inner) = [(id = 1, label = "one"), (id = 2, color = blue)];
  int32ListListDefault @26 :List(List(Int32)) = [[1, 2, 3], [], [-4]];

  # A group whose fields have defaults, and a union whose members do.
  settings :group {
    retries @27 :UInt8 = 3;
    verbose @28 :Bool = true;
    tag @29 :Text = "group default";
  }
  choice :union {
    count @30 :Int32 = 5;
    title @31 :Text = "union default";
  }
}

struct FloatSpecials {
  posInf32 @0 :Float32 = inf;
  negInf64 @1 :Float64 = -inf;
  nan64 @2 :Float64 = nan;
}

# Every built-in type in field position, and the struct layouts they produce.
@0xe318804a79e99332;

enum Shade {
  # A small enum used as a field and list element type.
  dim @0;
  bright @1;
  blinding @2;
}

struct Empty {}
# A struct with no fields at all: zero data words, zero pointers.

interface Beacon {
  ping @0 () -> ();
}

struct Everything {
  # One field of every primitive and blob type, in ordinal order.
  nothing @0 :Void;
  flag @1 :Bool;
  tiny @2 :Int8;
  short @3 :Int16;
  medium @4 :Int32;
  large @5 :Int64;
  utiny @6 :UInt8;
  ushort @7 :UInt16;
  umedium @8 :UInt32;
  ularge @9 :UInt64;
  single @10 :Float32;
  double @11 :Float64;
  words @12 :Text;
  bytes @13 :Data;
  child @14 :Everything;
  shade @15 :Shade;
  beacon @16 :Beacon;
  blank @17 :Empty;
}

struct EveryList {
  # A list of every element kind.
  voids @0 :List(Void);
  flags @1 :List(Bool);
  tinies @2 :List(Int8);
  shorts @3 :List(Int16);
  mediums @4 :List(Int32);
  larges @5 :List(Int64);
  utinies @6 :List(UInt8);
  ushorts @7 :List(UInt16);
  umediums @8 :List(UInt32);
  ularges @9 :List(UInt64);
  singles @10 :List(Float32);
  doubles @11 :List(Float64);
  texts @12 :List(Text);
  blobs @13 :List(Data);
  structs @14 :List(Everything);
  shades @15 :List(Shade);
  beacons @16 :List(Beacon);
  empties @17 :List(Empty);
  nested @18 :List(List(Int16));
  deeper @19 :List(List(List(Text)));
  listsOfStructs @20 :List(List(EveryList));
  listsOfEnums @21 :List(List(Shade));
  listsOfBools @22 :List(List(Bool));
  listsOfVoids @23 :List(List(Void));
  anyLists @24 :List(AnyList);
  capabilities @25 :List(Capability);
}

struct Opaque {
  # The untyped pointer kinds.
  anything @0 :AnyPointer;
  someStruct @1 :AnyStruct;
  someList @2 :AnyList;
  someCap @3 :Capability;
  listOfCaps @4 :List(Capability);
}

struct Interleaved {
  # Sizes chosen so that later small fields must fill holes left by earlier ones.
  a64 @0 :UInt64;
  b1 @1 :Bool;
  c8 @2 :UInt8;
  d16 @3 :UInt16;
  e1 @4 :Bool;
  f32 @5 :Float32;
  g8 @6 :Int8;
  h64 @7 :Float64;
  i1 @8 :Bool;
  j16 @9 :Int16;
  k32 @10 :Int32;
  lp @11 :Text;
  m1 @12 :Bool;
  n8 @13 :UInt8;
  o0 @14 :Void;
  pp @15 :Data;
  q1 @16 :Bool;
  r32 @17 :UInt32;
  s16 @18 :UInt16;
  t64 @19 :Int64;
}

struct BoolsFirst {
  # Bools at ordinal 0 and 1, then a byte, then a 64-bit value.
  first @0 :Bool;
  second @1 :Bool;
  third @2 :UInt8;
  fourth @3 :UInt64;
  fifth @4 :Bool;
}

struct Shuffled {
  # Declared in an order unrelated to the ordinals.
  seventh @6 :Text;
  third @2 :UInt16;
  first @0 :UInt8;
  ninth @8 :Bool;
  second @1 :Float64;
  sixth @5 :Int32;
  fourth @3 :Bool;
  eighth @7 :List(Int8);
  fifth @4 :Int8;
}

struct Keywords {
  # Field names that collide with words of the schema language are fine.
  struct @0 :Bool;
  enum @1 :UInt8;
  interface @2 :Text;
  const @3 :Int16;
  using @4 :Void;
  annotation @5 :Float32;
  import @6 :Data;
  embed @7 :Int64;
  extends @8 :UInt32;
  group @9 :Bool;
  union @10 :Bool;
  stream @11 :Text;
  list @12 :List(Bool);
  void @13 :Void;
  true @14 :Bool;
  inf @15 :Float64;
}

struct OnlyVoids {
  a @0 :Void;
  b @1 :Void;
}

struct OnlyPointers {
  a @0 :Text;
  b @1 :OnlyPointers;
  c @2 :List(OnlyPointers);
}

@0xd6a1d4c3b2a19081;

# Structs with no fields, which Cap'n Proto writes as a pointer with offset -1 and no words.
struct Empty {}

struct Holder {
  n @0 :UInt8;
  first @1 :Empty;
  last @2 :Empty;
}

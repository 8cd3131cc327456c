@0xec79bb557d3add0b;
struct Settings {
  count @0 :UInt16 = [1, 2];
}

@0x8175066f63e1183d;
struct Settings {
  retries @0 :UInt8 = 1.5;
}

@0x9d372af8aa217260;
struct Settings {
  level @0 :UInt8 = 256;
}

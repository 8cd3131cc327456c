@0xb493b05133e506a4;
struct Settings {
  level @0 :UInt16 = -1;
}

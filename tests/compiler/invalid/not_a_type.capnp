@0xb1565302750bffe1;
const size :UInt32 = 4;
struct Holder {
  value @0 :size;
}

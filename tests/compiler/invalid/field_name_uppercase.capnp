@0xc38d81a0e155ad48;
struct Point {
  X @0 :Float32;
}

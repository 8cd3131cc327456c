@0x8eafecacf34f02c6;
struct Point {
  x @0 :Float32;

@0xd63da06f5a1df406;
struct Point {
  x @0 :Float32;
  y @1 :Float32;
  z @1 :Float32;
}

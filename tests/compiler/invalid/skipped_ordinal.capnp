@0xd394613ba576b384;
struct Point {
  x @0 :Float32;
  y @2 :Float32;
}

@0x92f4386b1c2f57b9;
struct Point {
  x @0 :Float32;
  x @1 :Float64;
}

@0xde5d0cc325c22e21;
struct Point {
  x_coordinate @0 :Float32;
}

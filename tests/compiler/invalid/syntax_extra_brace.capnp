@0xa26999efc73fb0ae;
struct Point {
  x @0 :Float32;
}
}

@0xdf589640148cde73;
struct point {
  x @0 :Float32;
}

@0xf94f3b13bddb50a6;
struct Point {
  x @0 :Float32;
  y @1 :Float32;
}
const origin :Point = (1, 2);

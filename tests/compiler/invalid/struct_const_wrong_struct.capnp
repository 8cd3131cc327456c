@0x9ad53697a4c200f2;
struct Point {
  x @0 :Int8;
}
struct Size {
  width @0 :Int8;
}
const point :Point = (x = 1);
const size :Size = .point;

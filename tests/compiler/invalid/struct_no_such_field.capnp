@0x82e740a273eb8b6e;
struct Point {
  x @0 :Float32;
}
const origin :Point = (x = 0, y = 0);

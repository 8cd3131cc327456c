@0xe053d79483062696;
struct Point {}
struct Line {
  start @0 :.Point;
}

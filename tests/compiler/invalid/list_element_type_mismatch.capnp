@0xe9edc2c68af3283e;
struct Point {
  x @0 :Int8;
}
const points :List(Point) = [(x = 1), 5];

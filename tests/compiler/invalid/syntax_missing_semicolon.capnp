@0xe90ba707d64bd8fd;
struct Point {
  x @0 :Float32
  y @1 :Float32;
}

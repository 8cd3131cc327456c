@0xa622babd97788c1b;
enum Colour {
  red @0;
  green @1;
}
struct Paint {
  colour @0 :Colour = purple;
}

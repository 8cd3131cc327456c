@0xd6f7eb6ffff9f58a;
enum Colour {
  red @0;
  red @1;
}

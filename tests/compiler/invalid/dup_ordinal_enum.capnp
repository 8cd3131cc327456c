@0x87bf99f5abb6a0f2;
enum Colour {
  red @0;
  green @0;
}

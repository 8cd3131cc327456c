@0xedc50a05a1b07ef3;
struct Mixed {
  red @0;
}

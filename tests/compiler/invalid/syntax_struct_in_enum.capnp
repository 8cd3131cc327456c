@0x8d06418291da2299;
enum Mixed {
  a @0;
  struct Nested {}
}

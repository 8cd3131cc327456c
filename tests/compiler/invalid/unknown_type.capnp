@0x98e2558ff1ec92f8;
struct Holder {
  thing @0 :Widget;
}

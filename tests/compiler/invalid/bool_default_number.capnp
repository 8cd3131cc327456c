@0x9cd89d49c663b775;
struct Holder {
  flag @0 :Bool = 1;
}

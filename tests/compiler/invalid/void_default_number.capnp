@0xf36c55f28fbae2ec;
struct Holder {
  nothing @0 :Void = 0;
}

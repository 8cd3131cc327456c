@0xd1b028e262d59a2b;
struct Holder {
  value @0 :AnyPointer = "text";
}

@0x8bdc3f0563eae830;
struct Bag {
  items @0 :List(AnyPointer);
}

@0xceb99d021251332a;
struct Bag {
  items @0 :List(AnyStruct);
}

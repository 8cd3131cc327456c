@0x87faa2f8f1e7ab16;
struct Bag {
  items @0 :List(Text, Data);
}

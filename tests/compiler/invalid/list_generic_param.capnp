@0xa0af7fc7a8d2b563;
struct Bag(Item) {
  items @0 :List(Item);
}

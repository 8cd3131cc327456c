@0xa7ff3177e79d898e;
struct Bag {
  items @0 :List;
}

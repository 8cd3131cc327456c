@0xa35a1535b573ed24;
struct Holder {
  value @0 :42;
}

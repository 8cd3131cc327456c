@0xf0b4813e057ad0a6;
struct Legacy {
  choice @0! union {
    a @1 :Void;
    b @2 :Void;
  }
}

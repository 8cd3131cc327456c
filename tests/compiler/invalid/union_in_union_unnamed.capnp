@0x9f073332168a575d;
struct Nested {
  outer :union {
    a @0 :Void;
    union {
      b @1 :Void;
      c @2 :Void;
    }
  }
}

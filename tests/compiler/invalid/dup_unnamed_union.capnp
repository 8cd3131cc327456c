@0xcc90cad103dd220a;
struct Token {
  union {
    a @0 :Void;
    b @1 :Void;
  }
  union {
    c @2 :Void;
    d @3 :Void;
  }
}

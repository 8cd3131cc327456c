@0xa8499ec27c14a43e;
struct Retro {
  choice @2! :union {
    a @0 :Void;
    b @1 :Void;
    c @3 :Void;
  }
}

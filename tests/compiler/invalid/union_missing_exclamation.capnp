@0xb837ecd665fc50c9;
struct Legacy {
  choice @0 :union {
    a @1 :Void;
    b @2 :Void;
  }
}

@0xabf76a78d8032db5;
annotation tag(union) :Void;
struct Mixed {
  union $tag {
    a @0 :Void;
    b @1 :Void;
  }
}

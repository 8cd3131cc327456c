@0x8836bfe4a1ef8c32;
struct Plain {}
struct User {
  plain @0 :Plain(Text);
}

@0xd41c89eeeeba89f2;
struct Outer {
  struct Inner {}
}
struct User {
  thing @0 :Outer.Missing;
}

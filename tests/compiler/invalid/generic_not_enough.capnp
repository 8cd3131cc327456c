@0xe1b578307fc1b5cd;
struct Pair(A, B) {
  a @0 :A;
  b @1 :B;
}
struct User {
  pair @0 :Pair(Text);
}

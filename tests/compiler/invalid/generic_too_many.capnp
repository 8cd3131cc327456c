@0xd6411e315cac54fa;
struct Pair(A, B) {
  a @0 :A;
  b @1 :B;
}
struct User {
  pair @0 :Pair(Text, Text, Text);
}

@0xfcde89b707192c77;
struct Box(T) {
  value @0 :T;
}
struct User {
  box @0 :Box(T = Text);
}

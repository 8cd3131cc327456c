@0xfd548eb6bfd85032;
struct Box(T) {
  value @0 :T;
}
struct User {
  box @0 :Box(AnyStruct);
}

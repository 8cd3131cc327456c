@0x9b55c2f6669e3889;
struct Box(T) {
  value @0 :T;
}
struct User {
  box @0 :Box(T);
}

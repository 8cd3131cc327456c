@0xd8f30d9e6b3a02fd;
struct Box(T) {
  value @0 :T;
}
struct User {
  box @0 :Box(UInt32);
}

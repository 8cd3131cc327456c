@0xee3c1c990523044b;
struct Box(T) {
  value @0 :T;
}
struct User {
  box @0 :Box(Capability);
}

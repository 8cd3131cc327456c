@0x82f760aeeb2e551e;
struct Box(T) {
  value @0 :T;
}
struct User {
  box @0 :Box(Text)(Data);
}

@0xde605cff32849176;
struct Box(T) {
  value @0 :T = "text";
}

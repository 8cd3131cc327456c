@0xfaf65dc595b17092;
struct Huge {
  value @65536 :Bool;
}

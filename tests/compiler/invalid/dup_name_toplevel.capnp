@0x8ead4d8c90660ac6;
struct Shape {}
enum Shape {
  round @0;
}

@0x9037c52ed8bf2acd;
struct Point {
  x :Float32;
}

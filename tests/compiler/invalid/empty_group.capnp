@0xd7b1648fed16303b;
struct Settings {
  nothing :group {}
}

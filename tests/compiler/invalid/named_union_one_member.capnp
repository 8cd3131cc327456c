@0xb0bb74f766e6cee2;
struct Choice {
  pick :union {
    only @0 :Text;
  }
}

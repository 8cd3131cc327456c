@0xa1e142592f00df29;
struct Choice {
  pick :union {}
}

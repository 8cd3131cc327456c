@0xef294b809667444d;
struct Box {
  size :group {
    width @0 :UInt32;
    height @1 :UInt32;
  }
}
const square :Box = (size = 5);

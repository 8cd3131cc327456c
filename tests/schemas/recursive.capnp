# A struct that holds itself, for the nesting limit of bound types' direct path.
@0xd5e4b1a2c3f40918;

struct Node {
  value @0 :UInt32;
  children @1 :List(Node);
  next @2 :Node;
}

@0x9ea75e23a6366428;
using First = Second;
using Second = First;
struct User {
  value @0 :First;
}

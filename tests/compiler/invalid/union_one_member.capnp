@0xd79cc0883c868bed;
struct Choice {
  union {
    only @0 :Void;
  }
}

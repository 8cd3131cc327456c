# Inputs the reference compiler (0.9.2) accepts although they look doubtful or are easy
# to get wrong.
# Each is recorded here so that a second implementation reproduces the same result.
@0x8db3bb43705b2ee4;

const saturated :UInt64 = 0x1ffffffffffffffff;
# An integer literal too large for 64 bits saturates to the maximum instead of failing.

const overflowedFloat :Float32 = 1e39;
# A Float64 literal beyond the Float32 range becomes infinity.

const underflowedFloat :Float32 = 1e-50;
# ... and one below the smallest Float32 becomes zero.

struct Shadowing {
  # A group member may reuse the name of a field outside the group.
  value @0 :Bool;
  inner :group {
    value @1 :Bool;
  }
}

interface Ping extends(Pong) {}
interface Pong extends(Ping) {}
# Interfaces may (indirectly) extend themselves.

struct Twins(T, T) {
  # The same parameter name may be declared twice.
  value @0 :T;
}

struct UsesTwins {
  twins @0 :Twins(Text, Data);
}

# Schema evolution, version 1 (the older schema).
#
# evolution_v2.capnp declares the same file id and the same struct ids, and
# only adds to this one, following Cap'n Proto's evolution rules: new fields
# get new ordinals, nothing is renumbered, retyped or removed. A message
# written with either version must read with the other: fields missing from
# an older message read as their defaults, and fields unknown to an older
# reader are skipped (and kept by a plain copy of the message).
#
# Never compile the two files together, nor load both into one pycapnp
# process (it aborts on the duplicate id): they share their ids.

@0xbc7c7e57cf71bc37;

struct Record @0xf3ec53f0bf8d09c7 {
  id @0 :UInt64;
  name @1 :Text;
  items @2 :List(Item);

  status :union {
    active @3 :Void;
    retired @4 :Int32;
  }
}

struct Item @0xa51b05a496095ae2 {
  code @0 :UInt16;
  label @1 :Text;
}

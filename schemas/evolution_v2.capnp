# Schema evolution, version 2 (the newer schema).
#
# Same file id and struct ids as evolution_v1.capnp. Compared with v1 it adds
#   Record.score    a data-section field with a non-zero default
#   Record.note     a Text field with a default
#   Record.tags     a List(Text) field
#   Record.status   a new union member, `suspended`
#   Item.weight     a UInt64 field, so a List(Item) written by v2 has a larger
#                   data section per element than one written by v1
#   Item.extra      a Data field, so the elements also gain a pointer
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
    suspended @8 :Text;
  }

  score @5 :Float64 = 1.5;
  note @6 :Text = "no note";
  tags @7 :List(Text);
}

struct Item @0xa51b05a496095ae2 {
  code @0 :UInt16;
  label @1 :Text;
  weight @2 :UInt64 = 10;
  extra @3 :Data;
}

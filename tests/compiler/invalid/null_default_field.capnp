@0xccd9dc617c3f5ae9;
struct Holder {
  name @0 :Text = null;
}

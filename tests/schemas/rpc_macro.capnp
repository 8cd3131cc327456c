# Interfaces for the tests of the `interface` attribute macro: inheritance, a `-> stream`
# method, and results with several fields, one of them a capability.
@0xd41a6c2e8b7f3905;

interface Shape {
  area @0 () -> (value :Float64);
  name @1 () -> (name :Text);
}

interface Square extends(Shape) {
  side @0 () -> (length :Float64);
  grow @1 (by :Float64) -> ();
}

interface Sink {
  write @0 (chunk :Data) -> stream;
  total @1 () -> (bytes :UInt64, chunks :UInt32);
}

interface Store {
  open @0 (label :Text) -> (sink :Sink, label :Text);
}

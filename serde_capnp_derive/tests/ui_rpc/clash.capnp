# An interface that declares a method of the interface it extends, for the macro's tests.
@0xe7a1c3b5d9f20486;

interface Base {
  ping @0 () -> ();
}

interface Derived extends(Base) {
  ping @0 () -> ();
}

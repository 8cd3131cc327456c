@0xc7d9c930d459546d;
interface Relay(T) {
  forward @0 T -> ();
}

@0xc0888b65d9f3780c;
interface Relay {
  forward @0 Text -> ();
}

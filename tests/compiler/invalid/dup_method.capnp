@0xfdaedea57b745cf2;
interface Clock {
  tick @0 ();
  tick @1 ();
}

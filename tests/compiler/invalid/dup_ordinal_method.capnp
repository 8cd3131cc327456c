@0xbeafeba4b6060095;
interface Clock {
  now @0 () -> (seconds :UInt64);
  tick @0 ();
}

@0xc668792e8f8ddad8;
interface Clock {
  now @1 () -> (seconds :UInt64);
}

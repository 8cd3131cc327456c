@0xa633e4130c9f3a07;
struct Mixed {
  call @0 () -> ();
}

@0xe386836db4c5c183;
struct Settings {
  level @0 :Int64 = -9223372036854775809;
}

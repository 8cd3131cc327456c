@0xa459aa2ae99b5509;
struct Settings {
  level @0 :Int8 = -129;
}

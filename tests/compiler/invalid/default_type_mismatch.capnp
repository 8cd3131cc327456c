@0xf87101001437af5e;
struct Settings {
  retries @0 :Int32 = "three";
}

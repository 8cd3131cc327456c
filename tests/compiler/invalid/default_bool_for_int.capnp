@0xb38bb560ee767847;
struct Settings {
  count @0 :Int8 = true;
}

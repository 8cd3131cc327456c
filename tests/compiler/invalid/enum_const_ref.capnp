@0x82d125ac64971f59;
enum Level {
  low @0;
  high @1;
}
const preferred :Level = high;
struct Setting {
  level @0 :Level = .preferred;
}

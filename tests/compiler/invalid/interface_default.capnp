@0x859f593f2ff447ef;
interface Service {}
struct Holder {
  service @0 :Service = 5;
}

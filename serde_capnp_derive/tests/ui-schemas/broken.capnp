@0xd2b1a7c4e9f30a11;

struct Broken {
  id @0 :UInt32;
  name @1 :Txt;
}

@0x81380c1c2bcb6a9b;
const total :UInt32 = .missing;

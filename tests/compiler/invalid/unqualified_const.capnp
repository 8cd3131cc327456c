@0xf1cb8ed2253dd77d;
const base :UInt32 = 10;
const derived :UInt32 = base;

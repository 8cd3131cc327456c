@0xbf9dd67a06a02c14;
const count :UInt8 = -1.0;

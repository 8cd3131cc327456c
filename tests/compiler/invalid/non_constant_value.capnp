@0xcc57ad989f633198;
struct Marker {}
const value :UInt32 = .Marker;

@0xda132213c1239765;
struct Plain {}
struct Target $Plain {}

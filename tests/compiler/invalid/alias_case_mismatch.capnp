@0xf26c031a46e8ed6d;
const limit :UInt32 = 5;
using Limit = limit;

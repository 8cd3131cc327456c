@0xe1bf05b4eb38b801;
const number :Int32 = 7;
const words :Text = .number;

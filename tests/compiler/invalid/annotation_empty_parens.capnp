@0x9189aa3a893acb2c;
annotation flag(struct) :Void;
struct Target $flag() {}

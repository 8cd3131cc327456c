@0x91f564f5a0457f86;
annotation weight(struct) :Float64;
struct Target $weight("heavy") {}

@0x973df97b9c49d9fb;
annotation label(struct) :Text;
struct Target $label {}

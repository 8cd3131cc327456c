@0xa015441ac54348da;
annotation onlyFields(field) :Text;
struct Target $onlyFields("x") {}

@0xb2508d1879ff7397;
struct Base {}
interface Derived extends(Base) {}

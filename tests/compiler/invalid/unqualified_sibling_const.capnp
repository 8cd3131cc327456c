@0xdee320632e87b9a8;
struct Scope {
  const base :Int16 = 3;
  const derived :Int16 = base;
}

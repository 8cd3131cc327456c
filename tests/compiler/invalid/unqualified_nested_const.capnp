@0xcc3a47324cf87c7c;
struct Scope {
  const base :Int16 = 3;
  value @0 :Int16 = base;
}

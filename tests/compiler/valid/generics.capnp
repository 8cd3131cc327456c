# Generic (parameterised) structs, interfaces, annotations, aliases and constants.
@0xc5192b36587110b7;

using Units = import "/shared/units.capnp";

struct Person {
  name @0 :Text;
  age @1 :UInt8;
}

struct Map(Key, Value) {
  # A generic struct whose nested struct refers to the outer parameters.
  entries @0 :List(Entry);
  fallback @1 :Value;

  struct Entry {
    key @0 :Key;
    value @1 :Value;
  }

  struct Bucket(Tag) {
    # A generic struct nested in a generic struct: it sees Key, Value and Tag.
    tag @0 :Tag;
    first @1 :Entry;
    rest @2 :Map(Key, Value);
    flipped @3 :Map(Value, Key);
    unbound @4 :Map.Entry;
  }

  using KeyAlias = Key;
  using EntryAlias = Entry;
  using Swapped = Map(Value, Key);

  annotation describedBy(struct, field) :Value;
  # A generic annotation: its type is a parameter of the enclosing struct.

  const separator :Text = ": ";
  # A constant inside a generic scope.
  const sample :Map(Text, Text) = (entries = [(key = "k", value = "v")], fallback = "none");
  const openSample :Map = (entries = []);
}

struct Pair(First, Second) {
  first @0 :First;
  second @1 :Second;

  union {
    neither @2 :Void;
    both :group {
      left @3 :First;
      right @4 :Second;
    }
  }
}

struct Directory {
  # Generic types applied to concrete arguments of every pointer kind.
  byName @0 :Map(Text, Person);
  byId @1 :Map(Data, List(Person));
  entry @2 :Map(Text, Person).Entry;
  bucket @3 :Map(Text, Person).Bucket(Data);
  unbound @4 :Map;
  unboundBucket @5 :Map.Bucket(Text);
  anyValues @6 :Map(AnyPointer, Text);
  structs @7 :Pair(AnyPointer, AnyPointer);
  caps @8 :Pair(Units.Meter, Store(Text));
  nestedGeneric @9 :Map(Pair(Text, Data), Map(Text, Text));
  entryList @10 :List(Map(Text, Person).Entry);
  aliasField @11 :Map(Text, Person).KeyAlias;
  aliasEntry @12 :Map(Text, Data).EntryAlias;
  swapped @13 :Map(Text, Data).Swapped;
  swappedBack @14 :Map(Text, Data).Swapped.Swapped;
  imported @15 :Pair(Units.Quantity, Units.Metres);
}

using PersonMap = Map(Text, Person);
using TextPair = Pair(Text, Text);
using OpenMap = Map;

struct UsesAliases {
  people @0 :PersonMap;
  entry @1 :PersonMap.Entry;
  pair @2 :TextPair;
  open @3 :OpenMap(Data, Data);
  bucket @4 :OpenMap(Text, Text).Bucket(Person);
}

struct Defaults {
  # Default values for fields of generic types bound to concrete arguments.
  pair @0 :Pair(Text, Person) = (first = "key", second = (name = "Ada", age = 36));
  map @1 :Map(Text, UInt8List) = (
      entries = [(key = "a", value = (values = [1, 2])), (key = "b")],
      fallback = (values = []));
  both @2 :Pair(Text, Text) = (both = (left = "l", right = "r"));
  entry @3 :PersonMap.Entry = (key = "k", value = (name = "Grace"));
  wrapped @4 :Wrapper(Text) = (inner = (first = "one", second = "two"));
}

struct UInt8List {
  values @0 :List(UInt8);
}

struct Wrapper(T) {
  # Instantiates another generic type with its own parameter.
  inner @0 :Pair(T, T);
  map @1 :Map(T, Wrapper(T));
}

struct Outer(A) {
  struct Middle(B) {
    struct Inner(C) {
      a @0 :A;
      b @1 :B;
      c @2 :C;
      plain @3 :Plain;
    }
  }
  struct Plain {
    # Not generic itself, but nested in a generic scope: it inherits A.
    a @0 :A;
  }
  deep @0 :Middle(Text).Inner(Data);
}

struct DeepUser {
  deep @0 :Outer(Person).Middle(Text).Inner(Data);
  plain @1 :Outer(Text).Plain;
}

interface Store(Item) {
  get @0 (key :Text) -> (item :Item);
  map @1 [Out] (key :Text) -> (mapped :Map(Text, Out));
  snapshot @2 () -> (data :Map(Text, Item));
}

struct HasStores {
  people @0 :Store(Person);
  generic @1 :Store;
  nested @2 :Store(Map(Text, Person));
}

struct Annotated $Map(Text, Text).describedBy("a generic annotation") {
  field @0 :UInt32 $Map(Text, Int64Box).describedBy((value = -5));
}

struct Int64Box {
  value @0 :Int64;
}

const personPair :Pair(Text, Person) = (first = "p", second = (name = "Lin", age = 4));
const personMap :PersonMap = (entries = [(key = "x", value = (name = "X"))]);
const fromConst :Pair(Text, Person) = .personPair;
const separator :Text = Map(Data, Data).separator;
const sampleCopy :Map(Text, Text) = Map.sample;

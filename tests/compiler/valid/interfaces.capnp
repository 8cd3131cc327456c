# Interfaces: methods, parameter lists, inheritance, streaming and generic methods.
@0x927b6c110a08f044;

using Units = import "shared/units.capnp";

struct Request {
  query @0 :Text;
  limit @1 :UInt32 = 10;
}

struct Response {
  rows @0 :List(Text);
  truncated @1 :Bool;
}

interface Empty {}
# An interface with no methods.

interface Catalogue {
  # Inline parameter lists, defaults, omitted results, named struct types.
  lookup @0 (key :Text) -> (value :Text, found :Bool);
  search @1 Request -> Response;
  searchInline @2 Request -> (count :UInt32);
  count @3 () -> (total :UInt64);
  clear @4 ();
  reset @5 () -> ();
  insert @6 (key :Text, value :Text = "unset", overwrite :Bool = true,
             ttlSeconds :UInt32 = 3600, weight :Float64 = -0.5) -> (replaced :Bool = false);
  nullDefaults @7 (note :Text = null, blob :Data = null, items :List(UInt8) = null,
                   request :Request = null, peer :Catalogue = null, any :AnyPointer = null);
  structDefault @8 (request :Request = (query = "*", limit = 1)) -> (response :Response = (rows = ["none"]));
  listDefault @9 (keys :List(Text) = ["a", "b"], weights :List(Float32) = [0.5, inf]);
  enumDefault @10 (direction :Units.Direction = west) -> (unit :Units.Quantity.Unit = second);
  importedTypes @11 Units.Quantity -> Units.Quantity;
  capabilities @12 (meter :Units.Meter, meters :List(Units.Meter)) -> (child :Catalogue);
  anyArgs @13 (p :AnyPointer, s :AnyStruct, l :AnyList, c :Capability) -> (p :AnyPointer);
}

interface Keywords {
  # Method names that are keywords in other languages.
  delete @0 ();
  class @1 ();
  return @2 ();
  new @3 ();
  struct @4 ();
  interface @5 ();
}

interface OutOfOrder {
  third @2 ();
  first @0 ();
  second @1 ();
}

interface Base {
  identify @0 () -> (name :Text);
}

interface Readable extends(Base) {
  read @0 (length :UInt32) -> (bytes :Data);
}

interface Writable extends(Base) {
  write @0 (bytes :Data) -> stream;
  # A streaming method: its result type is the standard StreamResult.
  flush @1 () -> ();
}

interface ReadWrite extends(Readable, Writable) {
  # Multiple (diamond-shaped) inheritance.
  truncate @0 (length :UInt64);
}

interface Extended extends(ReadWrite, Empty, Units.Meter) {}

interface Sink {
  push @0 (chunk :Data) -> stream;
  pushMany @1 (chunks :List(Data), final :Bool) -> stream;
  done @2 () -> (bytesReceived :UInt64);
}

interface Factory {
  # Nested declarations inside an interface.
  struct Options {
    name @0 :Text;
    mode @1 :Mode;
  }

  enum Mode {
    fast @0;
    careful @1;
  }

  interface Product {
    describe @0 () -> (options :Options);
  }

  make @0 Options -> (product :Product);
  makeWith @1 (mode :Mode = careful, name :Text) -> (product :Product, options :Options);
}

interface Container(Item) {
  # A generic interface.
  put @0 (item :Item) -> (index :UInt32);
  get @1 (index :UInt32) -> (item :Item);
  all @2 () -> (items :Container(Item));
  transform @3 [Result] (fn :Transformer(Item, Result)) -> (results :Container(Result));
  # A method with its own type parameter.
  wrap @4 [T] (value :T) -> Holder(T);
  store @5 Holder(Text) -> Holder(Item);
  # Generic struct types as whole parameter and result lists.

  struct Holder(Value) {
    value @0 :Value;
    item @1 :Item;
  }
}

interface Transformer(In, Out) {
  apply @0 (input :In) -> (output :Out);
}

interface Generic {
  identity @0 [T] (x :T) -> (y :T);
  pair @1 [A, B] (first :A, second :B) -> (first :B, second :A);
  boxed @2 [T] (box :Container(T)) -> (item :T);
}

interface TextContainer extends(Container(Text)) {
  # Extending a generic interface bound to a concrete type.
  concatenated @0 () -> (all :Text);
}

interface PassThrough(T) extends(Container(T)) {
  # Extending a generic interface with the extender's own parameter.
  drain @0 () -> (rest :Container(T));
}

struct Uses {
  catalogue @0 :Catalogue;
  textBox @1 :Container(Text);
  holder @2 :Container(Request).Holder(Response);
  transformer @3 :Transformer(Text, List(UInt32));
  products @4 :List(Factory.Product);
}

# Constants of generic struct types: the brand of the constant's type gives the parameters their
# types, also in nested generics, in lists and in structs nested in the generic scope.
@0xe6d72d08387574eb;

struct Pair(First, Second) {
  first @0 :First;
  second @1 :Second;
  rev @2 :Pair(Second, First);
}

struct Point {
  x @0 :Int32;
  y @1 :Int32;
}

const pair :Pair(Point, Text) =
    (first = (x = 1), second = "two", rev = (first = "r", second = (y = 2)));

struct Wrapper(T) {
  inner @0 :T;
  list @1 :List(Pair(T, Text));
  nested @2 :Nested;

  struct Nested {
    t @0 :T;
  }
}

const wrapped :Wrapper(Pair(Text, Point)) = (
  inner = (first = "a", second = (x = 5)),
  list = [(first = (first = "b"), second = "s")],
  nested = (t = (first = "c")),
);
const pairs :List(Pair(Text, Text)) = [(first = "a", second = "b")];
const copied :Pair(Point, Text) = .pair;

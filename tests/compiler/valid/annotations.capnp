# Annotation declarations for every target, applied to every kind of declaration.
@0xd4b90746ae264e2d;

$import "/capnp/c++.capnp".namespace("compiler_tests::annotations");
$onFile;
$everywhere("applied to the file");
$Units.unitNote(.fileNote);

using Units = import "shared/units.capnp";

annotation onFile(file) :Void;
annotation onConst(const) :Int32;
annotation onEnum(enum) :Text;
annotation onEnumerant(enumerant) :UInt16;
annotation onStruct(struct) :Detail;
annotation onField(field) :List(Text);
annotation onUnion(union) :Bool;
annotation onGroup(group) :Float64;
annotation onInterface(interface) :Data;
annotation onMethod(method) :Severity;
annotation onParam(param) :Int64;
annotation onAnnotation(annotation) :Text;
annotation everywhere(*) :Text;
# Applies to any declaration.
annotation flag(*) :Void;
annotation several(struct, enum, interface) :UInt8 $onAnnotation("targets three kinds");
annotation withId @0x85d0c9a13a7dfebc (field, param) :Float32;
annotation listOfStructs(const, field) :List(Detail);
annotation anyValue(struct) :AnyPointer;
annotation nestedList(*) :List(List(Int8));

const fileNote :Text = "set through a constant";

struct Detail {
  # The type of struct-valued annotations.
  text @0 :Text;
  level @1 :Severity;
  numbers @2 :List(UInt32);
  child @3 :Detail;
}

enum Severity {
  info @0;
  warning @1;
  error @2;
}

struct Annotated
    $onStruct(text = "tuple written directly", level = warning, numbers = [1, 2])
    $everywhere("struct")
    $flag
    $several(3)
    $nestedList([[1, -1], []]) {
  # A struct carrying annotations on each of its members.

  plain @0 :Text $onField(["field", "annotation"]) $everywhere("field") $withId(1.5);
  parenthesised @1 :UInt32 $flag(void);

  choice :union $onUnion(true) $everywhere("union") {
    left @2 :Void $flag;
    right @3 :Int32 $onField([]);
  }

  details :group $onGroup(-2.5e3) $everywhere("group") {
    inner @4 :Bool $flag;
    more @5 :Text;
  }

  structured @6 :Detail $listOfStructs([(text = "one"), (text = "two", child = (level = error))]);

  const nested :Int32 = 7 $onConst(-1) $everywhere("nested const");

  struct Child $onStruct((text = "value in parentheses", child = (text = "grandchild"))) {
    value @0 :Int8 $flag;
  }

  enum InnerEnum $onEnum("inner") {
    a @0 $onEnumerant(0xffff);
    b @1 $everywhere("enumerant") $flag;
  }
}

enum Colour $onEnum("colour") $everywhere("enum") $several(1) {
  red @0 $onEnumerant(1);
  green @1 $onEnumerant(2) $everywhere("enumerant");
  blue @2;
}

interface Service $onInterface(0x"00ff") $everywhere("interface") $several(2) {
  call @0 (first :Text $onParam(-9) $everywhere("param"),
           second :UInt8 $withId(-0.0) $flag)
       -> (result :Text $onParam(0x7fffffffffffffff))
       $onMethod(warning) $everywhere("method");
  plain @1 () $flag;
}

const answer :Int32 = 42 $onConst(42) $everywhere("const") $listOfStructs([]);

annotation annotated(struct) :Text $onAnnotation("an annotated annotation") $everywhere("annotation") $flag;

struct UsesAnnotatedAnnotation $annotated("x") $anyValue(.sampleDetail) {
  x @0 :Void;
}

struct Renamed $import "/capnp/c++.capnp".name("RenamedForCxx") {
  oldName @0 :Bool $import "/capnp/c++.capnp".name("newName");
}

struct UsedBeforeDeclared $laterDeclared(5) {}
annotation laterDeclared(struct) :UInt64;

const constFromEnum :Severity = info;
const sampleDetail :Detail = (text = "sample", numbers = [9]);

# Mirrors the declarations of the standard Cap'n Proto schema of the same
# path (/capnp/schema.capnp), for use when that schema is not installed.
# Written for serde_capnp: same IDs and declarations, our own comments.

using Cxx = import "/capnp/c++.capnp";

@0xa93fc509624c72d9;
# The compiled form of a schema: what `capnp compile` hands to code
# generator plugins (`CodeGeneratorRequest`), and what generated code embeds.

$Cxx.namespace("capnp::schema");

using Id = UInt64;
# A 64-bit type ID: explicit in the schema (`@0x...`) or derived from the
# parent's ID and the declaration's name.

struct Node {
  # One named declaration of a schema: a file, struct, enum, interface,
  # const or annotation. Groups and parameter lists are structs too.

  id @0 :Id;

  displayName @1 :Text;
  # Printable name, e.g. `dir/file.capnp:Outer.Inner`; not for lookups.

  displayNamePrefixLength @2 :UInt32;
  # Where the last name component starts in `displayName`.

  scopeId @3 :Id;
  # The node this one is declared in (0 for a file, and for nodes with no
  # real parent such as method parameter lists).

  parameters @32 :List(Parameter);
  # The generic parameters this node itself declares.

  isGeneric @33 :Bool;
  # Whether this node or one of its scopes has generic parameters.

  struct Parameter {
    # A generic parameter.

    name @0 :Text;
  }

  nestedNodes @4 :List(NestedNode);
  # The named declarations inside this one, in the order of the source.

  struct NestedNode {
    name @0 :Text;
    # The name within the parent scope.

    id @1 :Id;
    # The ID of the nested node.
  }

  annotations @5 :List(Annotation);
  # Annotations applied to this declaration.

  union {
    # What kind of declaration this is.

    file @6 :Void;

    struct :group {
      dataWordCount @7 :UInt16;
      # Size of the data section, in 64-bit words.

      pointerCount @8 :UInt16;
      # Size of the pointer section.

      preferredListEncoding @9 :ElementSize;
      # The most compact list element size that can hold this struct.

      isGroup @10 :Bool;
      # A group shares the layout of its enclosing struct.

      discriminantCount @11 :UInt16;
      # Members of the unnamed union (0 if there is none).

      discriminantOffset @12 :UInt32;
      # Where the union tag is, in 16-bit units of the data section.

      fields @13 :List(Field);
      # Fields in ordinal order; `codeOrder` gives the source order.
    }

    enum :group {
      enumerants@14 :List(Enumerant);
      # In ordinal order.
    }

    interface :group {
      methods @15 :List(Method);
      # In ordinal order.

      superclasses @31 :List(Superclass);
      # The interfaces this one extends.
    }

    const :group {
      type @16 :Type;
      value @17 :Value;
    }

    annotation :group {
      type @18 :Type;
      # The type of the annotation's value.

      targetsFile @19 :Bool;
      targetsConst @20 :Bool;
      targetsEnum @21 :Bool;
      targetsEnumerant @22 :Bool;
      targetsStruct @23 :Bool;
      targetsField @24 :Bool;
      targetsUnion @25 :Bool;
      targetsGroup @26 :Bool;
      targetsInterface @27 :Bool;
      targetsMethod @28 :Bool;
      targetsParam @29 :Bool;
      targetsAnnotation @30 :Bool;
    }
  }

  struct SourceInfo {
    # Source-level details of a node, kept apart from `Node` because
    # generated code does not embed them.

    id @0 :Id;
    # The node described.

    docComment @1 :Text;
    # The comment documenting the declaration, if any.

    members @2 :List(Member);
    # For a struct or enum, per field or enumerant in ordinal order;
    # for an interface, per method.

    struct Member {
      docComment @0 :Text;
      # The member's comment, if any.
    }
  }
}

struct Field {
  # A field of a struct, or a group in it.

  name @0 :Text;

  codeOrder @1 :UInt16;
  # Position in the source among the struct's members.

  annotations @2 :List(Annotation);

  const noDiscriminant :UInt16 = 0xffff;
  # The `discriminantValue` of a field outside the union.

  discriminantValue @3 :UInt16 = Field.noDiscriminant;
  # The union tag value that selects this field.

  union {
    slot :group {
      # An ordinary field stored in the struct.

      offset @4 :UInt32;
      # In units of the field's own size (bits for Bool), from the start
      # of the data or the pointer section.

      type @5 :Type;
      defaultValue @6 :Value;

      hadExplicitDefault @10 :Bool;
      # Whether the schema wrote `= value`, as opposed to the type's zero.
    }

    group :group {
      # A group: its fields are in another struct node.

      typeId @7 :Id;
      # The group's node.
    }
  }

  ordinal :union {
    implicit @8 :Void;
    explicit @9 :UInt16;
    # The `@N` number; groups and unions have none.
  }
}

struct Enumerant {
  # One value of an enum; its number is its index in the list.

  name @0 :Text;

  codeOrder @1 :UInt16;
  # Position in the source.

  annotations @2 :List(Annotation);
}

struct Superclass {
  # An interface extended by another, with its generic arguments.
  id @0 :Id;
  brand @1 :Brand;
}

struct Method {
  # A method of an interface; its number is its index in the list.

  name @0 :Text;

  codeOrder @1 :UInt16;
  # Position in the source.

  implicitParameters @7 :List(Node.Parameter);
  # Generic parameters of the method itself.

  paramStructType @2 :Id;
  # The parameter struct: declared elsewhere or generated for an inline
  # parameter list.

  paramBrand @5 :Brand;
  # Generic arguments of the parameter struct.

  resultStructType @3 :Id;
  # The result struct, likewise.

  resultBrand @6 :Brand;
  # Generic arguments of the result struct.

  annotations @4 :List(Annotation);
}

struct Type {
  # The type of a field, constant, list element or annotation value.

  union {
    # The built-in kinds first.

    void @0 :Void;
    bool @1 :Void;
    int8 @2 :Void;
    int16 @3 :Void;
    int32 @4 :Void;
    int64 @5 :Void;
    uint8 @6 :Void;
    uint16 @7 :Void;
    uint32 @8 :Void;
    uint64 @9 :Void;
    float32 @10 :Void;
    float64 @11 :Void;
    text @12 :Void;
    data @13 :Void;

    list :group {
      elementType @14 :Type;
    }

    enum :group {
      typeId @15 :Id;
      brand @21 :Brand;
    }
    struct :group {
      typeId @16 :Id;
      brand @22 :Brand;
    }
    interface :group {
      typeId @17 :Id;
      brand @23 :Brand;
    }

    anyPointer :union {
      unconstrained :union {
        # `AnyPointer`, `AnyStruct`, `AnyList` or `Capability`.

        anyKind @18 :Void;
        struct @25 :Void;
        list @26 :Void;
        capability @27 :Void;
      }

      parameter :group {
        # A generic parameter of some scope.

        scopeId @19 :Id;
        # The node declaring the parameter.

        parameterIndex @20 :UInt16;
        # Its position in that node's `parameters`.
      }

      implicitMethodParameter :group {
        # A generic parameter of the enclosing method.

        parameterIndex @24 :UInt16;
      }
    }
  }
}

struct Brand {
  # The generic arguments applied to a type, per enclosing generic scope.
  # Scopes that are not listed bind nothing (their parameters stay open).

  scopes @0 :List(Scope);

  struct Scope {
    scopeId @0 :Id;
    # The generic node whose parameters are bound.

    union {
      bind @1 :List(Binding);
      # One binding per parameter, in order.

      inherit @2 :Void;
      # Keep the bindings of the scope this brand is used in.
    }
  }

  struct Binding {
    union {
      unbound @0 :Void;
      type @1 :Type;
    }
  }
}

struct Value {
  # A constant or default value; the member set matches the type's kind.

  union {
    void @0 :Void;
    bool @1 :Bool;
    int8 @2 :Int8;
    int16 @3 :Int16;
    int32 @4 :Int32;
    int64 @5 :Int64;
    uint8 @6 :UInt8;
    uint16 @7 :UInt16;
    uint32 @8 :UInt32;
    uint64 @9 :UInt64;
    float32 @10 :Float32;
    float64 @11 :Float64;
    text @12 :Text;
    data @13 :Data;

    list @14 :AnyPointer;
    # The list itself, with the element type taken from the `Type`.

    enum @15 :UInt16;
    struct @16 :AnyPointer;

    interface @17 :Void;
    # Only null is possible.

    anyPointer @18 :AnyPointer;
  }
}

struct Annotation {
  # An annotation applied to a declaration.

  id @0 :Id;
  # The annotation declaration's node.

  brand @2 :Brand;
  # Generic arguments of the annotation's scope, if it has any.

  value @1 :Value;
}

enum ElementSize {
  # The element encoding of a list pointer; for structs, the smallest one
  # that can hold the struct.

  empty @0;
  bit @1;
  byte @2;
  twoBytes @3;
  fourBytes @4;
  eightBytes @5;
  pointer @6;
  inlineComposite @7;
}

struct CapnpVersion {
  major @0 :UInt16;
  minor @1 :UInt8;
  micro @2 :UInt8;
}

struct CodeGeneratorRequest {
  # What the compiler sends a code generator plugin on its standard input.

  capnpVersion @2 :CapnpVersion;
  # The compiler's version (unset before 0.6).

  nodes @0 :List(Node);
  # Every node of the requested files and of the files they import.

  sourceInfo @3 :List(Node.SourceInfo);
  # Comments and other source details, per node.

  requestedFiles @1 :List(RequestedFile);
  # The files named on the command line.

  struct RequestedFile {
    id @0 :Id;

    filename @1 :Text;
    # The name as given on the command line, after `--src-prefix` removal.

    imports @2 :List(Import);
    # The files this one imports.

    struct Import {
      id @0 :Id;

      name @1 :Text;
      # The path as written in the `import` expression.
    }
  }
}

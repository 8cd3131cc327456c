# Mirrors the declarations of the standard Cap'n Proto schema of the same
# path (/capnp/compat/json.capnp), for use when that schema is not installed.
# Written for serde_capnp: same IDs and declarations, our own comments.

@0x8ef99297a43a5e34;
# A generic JSON value type, and annotations that tune the JSON codec.

$import "/capnp/c++.capnp".namespace("capnp::json");

struct Value {
  # Any JSON value.
  union {
    null @0 :Void;
    boolean @1 :Bool;
    number @2 :Float64;
    string @3 :Text;
    array @4 :List(Value);
    object @5 :List(Field);
    # The plain JSON kinds.

    call @6 :Call;
    # An extension outside JSON proper: `name(arg, ...)`, as some tools
    # write typed values such as dates or binary blobs.
  }

  struct Field {
    # One member of an object.
    name @0 :Text;
    value @1 :Value;
  }

  struct Call {
    # A function-call-like value: a bare identifier and its arguments.
    function @0 :Text;
    params @1 :List(Value);
  }
}

# Annotations read by the JSON codec.

annotation name @0xfa5b1fd61c2e7c3d (field, enumerant, method, group, union) :Text;
# The key or enumerant text to use in JSON instead of the schema name.

annotation flatten @0x82d3e852af0336bf (field, group, union) :FlattenOptions;
# Writes the members of a struct, group or union field directly into the
# enclosing object instead of a nested one. Flattened union members need a
# `discriminator` on their union.

struct FlattenOptions {
  prefix @0 :Text = "";
  # Put in front of each flattened member's name.
}

annotation discriminator @0xcfa794e8d19a0162 (struct, union) :DiscriminatorOptions;
# Records which union member is set in a separate text field, rather than
# through the name of the one member present.

struct DiscriminatorOptions {
  name @0 :Text;
  # The key of the field naming the active member (default: the union name).

  valueName @1 :Text;
  # If set, the active member's value goes under this key, whatever the
  # member; not allowed together with flattened members.
}

annotation base64 @0xd7d879450a253e4b (field) :Void;
# A `Data` field written as a Base64 string.

annotation hex @0xf061e22f0ae5c7b5 (field) :Void;
# A `Data` field written as a string of hex digits.

annotation notification @0xa0a054dea32fd98c (method) :Void;
# A JSON-RPC method that is sent as a notification: no reply expected.

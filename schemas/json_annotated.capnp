# The `$Json` annotations of /capnp/compat/json.capnp, for the JSON codec's interop tests
# (tests/json.rs): renamed fields, groups, unions and enumerants; flattened structs, groups and
# unions, with and without a prefix; discriminators with and without a value name; Data as
# base64 and hex; and `Json.Value`, which stands for JSON itself. Each message is compared with
# `capnp convert binary:json` / `json:binary`.

@0xb12a23d0bce8384a;

using Json = import "/capnp/compat/json.capnp";

enum Level {
  low @0 $Json.name("LOW");
  mid @1;
  high @2 $Json.name("very high");
}

struct Address {
  street @0 :Text;
  city @1 :Text $Json.name("town");
  zip @2 :UInt32;
}

struct Phone {
  number @0 :Text;
  ext @1 :UInt16;
  checksum @2 :Data $Json.hex;
}

# A discriminator on the struct applies to its unnamed union.
struct Contact $Json.discriminator(name = "via") {
  label @0 :Text;
  union {
    email @1 :Text;
    phone @2 :Phone $Json.flatten(prefix = "phone_");
    mail @3 :Address $Json.flatten();
    nowhere @4 :Void;
    pager :group $Json.flatten(prefix = "pager.") {
      code @5 :UInt32;
      level @6 :Level;
    }
  }
}

struct Annotated {
  id @0 :UInt64 $Json.name("ID");
  title @1 :Text $Json.name("the \"title\"");
  blob @2 :Data $Json.base64;
  digest @3 :Data $Json.hex;
  level @4 :Level;
  levels @5 :List(Level);
  home @6 :Address = (street = "default street", zip = 1234) $Json.flatten(prefix = "home_");
  work @7 :Address $Json.flatten();

  settings :group $Json.flatten(prefix = "set.") {
    verbose @8 :Bool;
    depth @9 :Int8;
  }

  stats :group $Json.name("statistics") {
    count @10 :UInt32;
    mean @11 :Float64;
  }

  # Not flattened: the tag goes inside the union's own object.
  shape :union $Json.discriminator(name = "shapeType") {
    circle @12 :Float64;
    square @13 :Phone;
    nothing @14 :Void;
  }

  # Flattened, so the tag takes the union's name; the value has a fixed name.
  payload :union $Json.flatten() $Json.discriminator(valueName = "value") {
    text @15 :Text;
    number @16 :Int64 $Json.name("num");
    empty @17 :Void;
    point @18 :Phone;
  }

  contacts @19 :List(Contact);
  primary @20 :Contact $Json.flatten(prefix = "primary.");

  union {
    draft @21 :Void;
    published @22 :Text $Json.name("publishedAt");
    revision @23 :UInt32;
  }

  nested @24 :Annotated;
  rawList @25 :List(Data);

  # JSON itself, written and read as the JSON it holds.
  json @26 :Json.Value;
  jsonList @27 :List(Json.Value);
}

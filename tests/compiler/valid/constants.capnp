# Constants of every type, including ones defined in terms of others and ones imported
# from other files.
@0xa22b320910b89255;

using Units = import "/shared/units.capnp";
using Scalars = import "scalars.capnp";

const motto :Text = "constant in another file";

const nothing :Void = void;
const truth :Bool = true;
const falsehood :Bool = false;
const byteSigned :Int8 = -100;
const shortSigned :Int16 = 0x1234;
const wordSigned :Int32 = -070;
const longSigned :Int64 = -1234567890123;
const byteUnsigned :UInt8 = 200;
const shortUnsigned :UInt16 = 0xBEEF;
const wordUnsigned :UInt32 = 3000000000;
const longUnsigned :UInt64 = 10000000000000000000;
const singlePrecision :Float32 = 1.25e-3;
const doublePrecision :Float64 = -9.80665;
const infinite :Float64 = inf;
const negativeInfinite :Float32 = -inf;
const undefinedNumber :Float32 = nan;
const greeting :Text = "good evening\n";
const payload :Data = 0x"0a0b 0c0d";
const textPayload :Data = "as text";
const shade :Scalars.Shade = bright;

const someInts :List(Int32) = [3, -1, 4, -1, 5];
const someFloats :List(Float64) = [0.1, -inf, 1e10];
const someTexts :List(Text) = ["alpha", "beta"];
const someDatas :List(Data) = [0x"ff", "x"];
const someBools :List(Bool) = [true, true, false];
const someVoids :List(Void) = [void];
const someShades :List(Scalars.Shade) = [blinding, dim];
const someLists :List(List(UInt8)) = [[1], [2, 2], []];
const someStructs :List(Scalars.Shuffled) = [(first = 1), (seventh = "seven", eighth = [-8])];

const record :Scalars.Everything = (
    flag = true,
    tiny = .byteSigned,
    large = .longSigned,
    words = .greeting,
    bytes = .payload,
    child = (double = .doublePrecision, child = (single = .singlePrecision)),
    shade = blinding);

const lists :Scalars.EveryList = (
    mediums = .someInts,
    texts = .someTexts,
    shades = .someShades,
    structs = [.record, (tiny = 1)],
    nested = [[1, 2], [3]]);

# Constants defined as other constants.
const aliasOfText :Text = .greeting;
const aliasOfAlias :Text = .aliasOfText;
const aliasOfStruct :Scalars.Everything = .record;
const aliasOfList :List(Int32) = .someInts;
const aliasOfImported :Float64 = Units.standardGravity;
const aliasOfImportedNested :UInt32 = Units.Metres.perKilometre;
const aliasOfInline :Text = import "/shared/units.capnp".unitName;
const forwardReference :UInt16 = .declaredLater;
const declaredLater :UInt16 = 77;

const withId @0xad237eeab0765268 :Int32 = 5;
# A constant with an explicit ID.

struct Limits {
  # Constants nested inside a struct.
  const smallest :Int64 = -9223372036854775808;
  const largest :UInt64 = 0xffffffffffffffff;
  const sibling :Int64 = Limits.smallest;

  struct Deeper {
    const value :Text = "deep";
    const fromOuter :UInt64 = Limits.largest;
  }
}

interface HasConstants {
  # Constants nested inside an interface.
  const timeoutMs :UInt32 = 1500;
  const fromStruct :Text = Limits.Deeper.value;
}

enum Level {
  low @0;
  high @1;
}

const anyFromStruct :AnyPointer = .record;
const anyFromList :AnyPointer = .someTexts;

# Constants and defaults whose values are read from other files with 'embed'.
@0xb1b4d7f253ff1423;

struct Station {
  # The struct type of data/station.bin, written with `capnp encode`.
  name @0 :Text;
  latitude @1 :Float64;
  longitude @2 :Float64;
  elevation @3 :Int32;
  sensors @4 :List(Sensor);

  struct Sensor {
    kind @0 :Text;
    active @1 :Bool;
  }
}

const tideText :Text = embed "data/tide.txt";
# Text embedded from a file relative to this one.
const tideBytes :Data = embed "data/tide.txt";
const rawBytes :Data = embed "data/bytes.bin";
const absoluteEmbed :Text = embed "/data/tide.txt";
# An absolute path is looked up in the import path.
const station :Station = embed "data/station.bin";
# A struct embedded from a binary (unpacked) Cap'n Proto message.
const padded :Station = embed "data/padded.bin";
# A message whose struct ends in zeros (`elevation` is 0): they stay, as the file has them.
# This file and the next two were written with `capnp encode`.
const segmented :Station = embed "data/segmented.bin";
# A message in several segments (`--segment-size=3`), objects reached through far pointers.
const later :Station = embed "data/later.bin";
# A message of `LaterStation`, a later version of `Station` with more fields.

struct LaterStation {
  name @0 :Text;
  latitude @1 :Float64;
  longitude @2 :Float64;
  elevation @3 :Int32;
  sensors @4 :List(Station.Sensor);
  serial @5 :UInt64;
  note @6 :Text;
}

struct WithEmbeddedDefaults {
  text @0 :Text = embed "data/tide.txt";
  bytes @1 :Data = embed "data/bytes.bin";
  home @2 :Station = embed "data/station.bin";
  inLiteral @3 :Station = (name = embed "data/tide.txt", sensors = [(kind = "wind")]);
}

const stations :List(Station) = [embed "data/station.bin", (name = "literal")];
const laterStations :List(Station) = [embed "data/later.bin", embed "data/padded.bin"];
# List elements keep what fits `Station`.
const embeddedList :List(Data) = [embed "data/bytes.bin", 0x"00"];

# Mirrors the declarations of the standard Cap'n Proto schema of the same
# path (/capnp/rpc-twoparty.capnp), for use when that schema is not installed.
# Written for serde_capnp: same IDs and declarations, our own comments.

@0xa184c7885cdaf2a1;
# The network-specific types of rpc.capnp for the simplest network: exactly
# two vats on one connection, such as a client and a server or a parent
# process and its child.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("capnp::rpc::twoparty");

enum Side {
  # Which end of the connection a vat is.

  server @0;
  # The end that accepted the connection.

  client @1;
  # The end that opened the connection.
}

struct VatId {
  # Names a vat by its side: there are only two.
  side @0 :Side;
}

struct ProvisionId {
  # Only used by three-party handoff, which has no use on this network
  # apart from joins.

  joinId @0 :UInt32;
  # The `joinId` of the join request this provision belongs to.
}

struct RecipientId {}
# Empty: there is never a third party to hand a capability to.

struct ThirdPartyCapId {}
# Empty, for the same reason.

struct JoinKeyPart {
  # One part of a join, as sent to the other vat.

  joinId @0 :UInt32;
  # Shared by every part of one join; chosen by the joining vat.

  partCount @1 :UInt16;
  # How many parts the join has in total.

  partNum @2 :UInt16;
  # This part's index, from 0 to `partCount - 1`.
}

struct JoinResult {
  # What the joined object answers to one part of a join.

  joinId @0 :UInt32;
  # Copied from the `JoinKeyPart`.

  succeeded @1 :Bool;
  # False if the parts turned out to name different objects.

  cap @2 :AnyPointer;
  # The joined capability, sent with exactly one of the answers.
}

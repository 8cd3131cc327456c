# Mirrors the declarations of the standard Cap'n Proto schema of the same
# path (/capnp/rpc.capnp), for use when that schema is not installed.
# Written for serde_capnp: same IDs and declarations, our own comments.

@0xb312981b2552a250;
# The messages of the Cap'n Proto RPC protocol, exchanged between two vats
# (processes or other units that host objects).
#
# Each side keeps four tables, indexed by 32-bit IDs that the side which
# adds the entry chooses:
# - questions: calls it has sent and not yet finished;
# - answers: the peer's questions, seen from the receiving side;
# - exports: capabilities it has handed to the peer;
# - imports: the peer's exports, seen from the receiving side.
#
# Types that depend on the network (how vats and capabilities are named
# beyond one connection) are `AnyPointer` aliases at the end of this file;
# rpc-twoparty.capnp gives them for a two-vat network.

using Cxx = import "/capnp/c++.capnp";
$Cxx.namespace("capnp::rpc");

using QuestionId = UInt32;
# Index into the question table of the side that asked.

using AnswerId = QuestionId;
# The same ID, seen from the side that answers.

using ExportId = UInt32;
# Index into the export table of the side that exported.

using ImportId = ExportId;
# The same ID, seen from the side that imported.

struct Message {
  # Everything one vat sends another on a connection.

  union {
    unimplemented @0 :Message;
    # Sent back with a copy of a message the receiver does not know how to
    # handle, so the sender can clean up.

    abort @1 :Exception;
    # A fatal error: the connection is about to close.

    bootstrap @8 :Bootstrap;
    call @2 :Call;
    return @3 :Return;
    finish @4 :Finish;
    # The life of a call: ask, answer, and release the answer.

    resolve @5 :Resolve;
    release @6 :Release;
    disembargo @13 :Disembargo;
    # Capability bookkeeping: promises settling, references dropped, and
    # ordering after a promise resolves.

    obsoleteSave @7 :AnyPointer;
    # Removed from the protocol; the tag stays reserved.

    obsoleteDelete @9 :AnyPointer;
    # Removed from the protocol; the tag stays reserved.

    provide @10 :Provide;
    accept @11 :Accept;
    # Handing a capability to a third vat.

    join @12 :Join;
    # Checking that several references lead to the same object.
  }
}

struct Bootstrap {
  # Asks for the peer's main ("bootstrap") capability; the answer comes in
  # a `Return` like any call.

  questionId @0 :QuestionId;
  # A new question ID for this request.

  deprecatedObjectId @1 :AnyPointer;
  # From older protocol versions, where a vat could offer several named
  # objects; leave null.
}

struct Call {
  # Calls a method on a capability the sender can reach.

  questionId @0 :QuestionId;
  # A new question ID: the return and any pipelined calls refer to it.

  target @1 :MessageTarget;
  # The object called.

  interfaceId @2 :UInt64;
  # Type ID of the interface declaring the method.

  methodId @3 :UInt16;
  # Index of the method in that interface.

  allowThirdPartyTailCall @8 :Bool = false;
  # Whether the callee may send the result from a third vat instead.

  params @4 :Payload;
  # The parameter struct, and the capabilities it holds.

  sendResultsTo :union {
    # Where the result goes.

    caller @5 :Void;
    # Back to the caller in a `Return` (the usual case).

    yourself @6 :Void;
    # Kept by the callee, for a tail call: the caller will take it with
    # `takeFromOtherQuestion`.

    thirdParty @7 :RecipientId;
    # To another vat (three-party handoff).
  }
}

struct Return {
  # The answer to a `Call` or `Bootstrap`.

  answerId @0 :AnswerId;
  # The question being answered.

  releaseParamCaps @1 :Bool = true;
  # If true, the capabilities of the call's parameters are released, as if
  # by `Release` messages.

  union {
    results @2 :Payload;
    # The call succeeded.

    exception @3 :Exception;
    # The call failed.

    canceled @4 :Void;
    # The call was canceled by a `Finish` before it completed.

    resultsSentElsewhere @5 :Void;
    # The results went where the call's `sendResultsTo` said.

    takeFromOtherQuestion @6 :QuestionId;
    # The result is that of one of the receiver's own questions to the
    # sender (a tail call).

    acceptFromThirdParty @7 :ThirdPartyCapId;
    # The result is to be fetched from a third vat.
  }
}

struct Finish {
  # Tells the callee the caller no longer needs a question: it may cancel
  # the call or drop the answer, and the question ID becomes free.

  questionId @0 :QuestionId;
  # The question finished.

  releaseResultCaps @1 :Bool = true;
  # If true, capabilities in the result are released too.
}

struct Resolve {
  # Tells the importer that an exported promise has settled.

  promiseId @0 :ExportId;
  # The export that was a promise.

  union {
    cap @1 :CapDescriptor;
    # What it resolved to.

    exception @2 :Exception;
    # Why it broke.
  }
}

struct Release {
  # Drops references to an imported capability.

  id @0 :ImportId;
  # The import released.

  referenceCount @1 :UInt32;
  # How many references to drop: the receiver frees the export once every
  # reference it handed out has been released.
}

struct Disembargo {
  # Keeps calls in order after a promise resolves to a capability that the
  # sender could reach by a shorter path: calls on the new path wait until
  # this message has gone around the old one.

  target @0 :MessageTarget;
  # The promise (on the receiver's side) whose calls must be flushed.

  using EmbargoId = UInt32;
  # Chosen by the side that starts the embargo.

  context :union {
    senderLoopback @1 :EmbargoId;
    # Sent by the side that started the embargo: reflect it back.

    receiverLoopback @2 :EmbargoId;
    # The reflection: the embargo with this ID may be lifted.

    accept @3 :Void;
    provide @4 :QuestionId;
    # For three-party handoff.
  }
}

struct Provide {
  # Asks a vat to hold a capability for a given third vat, which will pick
  # it up with `Accept` (three-party handoff).

  questionId @0 :QuestionId;
  # A new question, finished once the handoff is no longer needed.

  target @1 :MessageTarget;
  # The capability handed over.

  recipient @2 :RecipientId;
  # The vat allowed to pick it up.
}

struct Accept {
  # Picks up a capability provided for the sender by another vat.

  questionId @0 :QuestionId;
  # A new question; its answer is the capability.

  provision @1 :ProvisionId;
  # Which provision to pick up.

  embargo @2 :Bool;
  # Hold calls on the result until a matching `Disembargo` arrives.
}

struct Join {
  # One part of a request checking that several capabilities designate the
  # same object, so the requester can trust they are one.

  questionId @0 :QuestionId;
  # A new question; its answer is the joined capability.

  target @1 :MessageTarget;
  # The capability this part is about.

  keyPart @2 :JoinKeyPart;
  # Network-specific data identifying the join and this part.
}

struct MessageTarget {
  # The object a message is addressed to.

  union {
    importedCap @0 :ImportId;
    # A capability the receiver exported.

    promisedAnswer @1 :PromisedAnswer;
    # A capability inside an answer, possibly not yet known (pipelining).
  }
}

struct Payload {
  # A message body with the capabilities it refers to.

  content @0 :AnyPointer;
  # The body; its capability pointers index `capTable`.

  capTable @1 :List(CapDescriptor);
  # The capabilities of the body.
}

struct CapDescriptor {
  # How a capability travels in a message.

  union {
    none @0 :Void;
    # A null capability.

    senderHosted @1 :ExportId;
    # An export of the sender, new or already known to the receiver.

    senderPromise @2 :ExportId;
    # Like `senderHosted`, but a promise: a `Resolve` will follow.

    receiverHosted @3 :ImportId;
    # An object of the receiver, coming back.

    receiverAnswer @4 :PromisedAnswer;
    # A capability in one of the receiver's answers.

    thirdPartyHosted @5 :ThirdPartyCapDescriptor;
    # An object in a third vat.
  }

  attachedFd @6 :UInt8 = 0xff;
  # Index of a file descriptor sent with the message that stands for this
  # capability, on transports that can pass them; 0xff if none.
}

struct PromisedAnswer {
  # A capability within the result of a question, given as a path into the
  # result struct.

  questionId @0 :QuestionId;
  # The question whose answer holds the capability.

  transform @1 :List(Op);
  # Steps from the result struct to the capability.

  struct Op {
    union {
      noop @0 :Void;
      # Does nothing.

      getPointerField @1 :UInt16;
      # Follows this pointer field of the current struct.
    }
  }
}

struct ThirdPartyCapDescriptor {
  # A capability in a third vat, to be fetched from there.

  id @0 :ThirdPartyCapId;
  # How to pick it up from the third vat.

  vineId @1 :ExportId;
  # A proxy export kept by the sender until the receiver has fetched the
  # capability, so that it cannot be lost in between.
}

struct Exception {
  # Why something failed.

  reason @0 :Text;
  # A human-readable explanation.

  type @3 :Type;
  # The kind of failure, which tells the caller whether to retry.

  enum Type {
    failed @0;
    # Anything else: do not simply retry.

    overloaded @1;
    # Temporary lack of resources: retrying later may work.

    disconnected @2;
    # The connection broke: reconnect and retry.

    unimplemented @3;
    # The callee does not implement the method.
  }

  obsoleteIsCallersFault @1 :Bool;
  # Replaced by `type`.

  obsoleteDurability @2 :UInt16;
  # Replaced by `type`.

  trace @4 :Text;
  # Optional debugging trace from the remote side.
}

# Network-specific types, left open here.

using SturdyRef = AnyPointer;
# A stored, restorable reference to a capability.

using ProvisionId = AnyPointer;
# Names a capability provided for a third vat.

using RecipientId = AnyPointer;
# Names the vat a capability is provided for.

using ThirdPartyCapId = AnyPointer;
# How to pick up a capability from a third vat.

using JoinKeyPart = AnyPointer;
# Network data of one part of a join.

using JoinResult = AnyPointer;
# A vat's answer to one part of a join.

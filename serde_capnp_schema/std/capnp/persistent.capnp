# Mirrors the declarations of the standard Cap'n Proto schema of the same
# path (/capnp/persistent.capnp), for use when that schema is not installed.
# Written for serde_capnp: same IDs and declarations, our own comments.

@0xb8630836983feed7;
# Capabilities that can be saved and restored across connections.

$import "/capnp/c++.capnp".namespace("capnp");

interface Persistent@0xc8cb212fcd9f5691(SturdyRef, Owner) {
  # A capability that can be turned into a storable token (`SturdyRef`)
  # and revived from it on a later connection. Both type parameters depend
  # on the deployment: what a stored reference looks like, and who may be
  # allowed to restore it (`Owner`, for sealed references).

  save @0 SaveParams -> SaveResults;
  # Produces a stored form of this capability; capabilities that cannot
  # be saved fail the call.

  struct SaveParams {
    sealFor @0 :Owner;
    # Restricts restoring the saved reference to this owner; null means
    # no restriction, where the deployment allows that.
  }
  struct SaveResults {
    sturdyRef @0 :SturdyRef;
  }
}

annotation persistent(interface, field) :Void;
# Marks an interface whose objects are always persistent, or a capability
# field that always holds a persistent capability, without tying it to the
# type parameters of `Persistent`.

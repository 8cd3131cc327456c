# Mirrors the declarations of the standard Cap'n Proto schema of the same
# path (/capnp/c++.capnp), for use when that schema is not installed.
# Written for serde_capnp: same IDs and declarations, our own comments.

@0xbdf87d7bb8304e81;
$namespace("capnp::annotations");

annotation namespace(file): Text;
# The C++ namespace the generated code of a file goes into.

annotation name(field, enumerant, struct, enum, interface, method, param, group, union): Text;
# Renames a declaration in generated C++ code, e.g. to dodge a keyword.

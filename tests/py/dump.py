#!/usr/bin/env python3
"""Print a Cap'n Proto message from stdin as stable, sorted JSON.

Usage: dump.py SCHEMA.capnp TYPE [--packed]

TYPE names a struct of the schema, dotted for nested structs
(``Person.PhoneNumber``). The input is one message in the standard stream
framing, unpacked unless ``--packed`` is given. The output is
``json.dumps(reader.to_dict(), sort_keys=True, indent=2)`` plus a newline,
with Data fields written as lower-case hex strings, enums as their names,
Void as null and only the active member of each union present.

Fields of a struct are printed only when pycapnp's ``to_dict`` includes them
(it leaves out unset pointer fields and inactive union members), so two
messages with equal content print the same text whatever wrote them.
"""

import json
import sys

import capnp


def find_type(module, dotted):
    node = module
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


def to_jsonable(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {key: to_jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(item) for item in value]
    if isinstance(value, float) and value != value:
        return "NaN"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def dump_message(schema_path, type_name, data, packed=False):
    """Return the JSON text for one message held in ``data``."""
    module = capnp.load(schema_path)
    struct = find_type(module, type_name)
    read = struct.from_bytes_packed if packed else struct.from_bytes
    result = read(data)
    # pycapnp 2.x returns a context manager from from_bytes; older
    # releases return the reader itself.
    if hasattr(result, "__enter__") and not hasattr(result, "to_dict"):
        with result as reader:
            content = reader.to_dict()
    else:
        content = result.to_dict()
    return json.dumps(to_jsonable(content), sort_keys=True, indent=2) + "\n"


def main(argv):
    args = [arg for arg in argv[1:] if arg != "--packed"]
    if len(args) != 2:
        sys.stderr.write(__doc__)
        return 2
    data = sys.stdin.buffer.read()
    sys.stdout.write(dump_message(args[0], args[1], data, "--packed" in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

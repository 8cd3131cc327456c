#!/usr/bin/env python3
"""Read an AddressBook message from stdin and print it as sorted JSON.

Usage: addressbook_read.py SCHEMA.capnp [--packed]

SCHEMA.capnp is schemas/addressbook.capnp (or any schema with a compatible
AddressBook, such as pycapnp's own examples/addressbook.capnp). The input is
one message in the standard stream framing, unpacked unless ``--packed`` is
given. See dump.py for the output format; for the message addressbook_write.py
writes it begins:

    {
      "people": [
        {
          "email": "alice@example.com",
          "employment": {
            "employer": "MIT"
          },
          ...
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from dump import dump_message  # noqa: E402


def main(argv):
    args = [arg for arg in argv[1:] if arg != "--packed"]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    data = sys.stdin.buffer.read()
    sys.stdout.write(dump_message(args[0], "AddressBook", data, "--packed" in argv))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

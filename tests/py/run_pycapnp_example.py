#!/usr/bin/env python3
"""Run pycapnp's own examples/addressbook.py against stdin/stdout.

Usage: run_pycapnp_example.py DIR write   > message
       run_pycapnp_example.py DIR read    < message

DIR is where pycapnp_example.sh extracted pycapnp's examples. The example
module is imported unchanged and its functions are called with the standard
streams instead of its hard-coded file named `example`:

  write  calls writeAddressBook(stdout): one UNPACKED message in the standard
         stream framing (the example uses `message.write`, not write_packed)
  read   calls printAddressBook(stdin) and prints the example's own listing
"""

import os
import sys


def main(argv):
    if len(argv) != 3 or argv[2] not in ("write", "read"):
        sys.stderr.write(__doc__)
        return 2
    # The example imports `addressbook_capnp`, which pycapnp's import hook
    # resolves by finding addressbook.capnp on sys.path.
    sys.path.insert(0, os.path.abspath(argv[1]))
    import addressbook  # noqa: E402  (pycapnp's example module)

    if argv[2] == "write":
        sys.stdout.flush()
        addressbook.writeAddressBook(sys.stdout)
    else:
        addressbook.printAddressBook(sys.stdin)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

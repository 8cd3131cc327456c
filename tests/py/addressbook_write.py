#!/usr/bin/env python3
"""Write an AddressBook message with two people to stdout.

Usage: addressbook_write.py SCHEMA.capnp [--packed] [--pycapnp-example-data]

The message is a single message in the standard stream framing (segment
table, then segments), unpacked unless ``--packed`` is given. Its content:

    Alice  id 123, alice@example.com, mobile 555-1212, employer "MIT"
    Bob    id 456, bob@example.com, home 555-4567, work 555-7654,
           school "Stanford"

With ``--pycapnp-example-data`` it writes the content of pycapnp's own
examples/addressbook.py instead, which differs only in the employment
union: Alice has school "MIT" and Bob is unemployed (Void). Fields are set
in the same order as there, so with pycapnp's examples/addressbook.capnp as
SCHEMA the output is byte for byte the file that example writes.
"""

import sys

import capnp


def build(module, like_pycapnp_example):
    book = module.AddressBook.new_message()
    people = book.init("people", 2)

    alice = people[0]
    alice.id = 123
    alice.name = "Alice"
    alice.email = "alice@example.com"
    phones = alice.init("phones", 1)
    phones[0].number = "555-1212"
    phones[0].type = "mobile"
    if like_pycapnp_example:
        alice.employment.school = "MIT"
    else:
        alice.employment.employer = "MIT"

    bob = people[1]
    bob.id = 456
    bob.name = "Bob"
    bob.email = "bob@example.com"
    phones = bob.init("phones", 2)
    phones[0].number = "555-4567"
    phones[0].type = "home"
    phones[1].number = "555-7654"
    phones[1].type = "work"
    if like_pycapnp_example:
        bob.employment.unemployed = None
    else:
        bob.employment.school = "Stanford"
    return book


def main(argv):
    flags = {"--packed", "--pycapnp-example-data"}
    args = [arg for arg in argv[1:] if arg not in flags]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    module = capnp.load(args[0])
    book = build(module, "--pycapnp-example-data" in argv)
    data = book.to_bytes_packed() if "--packed" in argv else book.to_bytes()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

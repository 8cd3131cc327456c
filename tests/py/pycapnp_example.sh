#!/usr/bin/env bash
# Fetches pycapnp's own examples (and its golden test messages) from the
# pycapnp source distribution on the Python package index, for interop tests.
#
# Usage: tests/py/pycapnp_example.sh DIR [VERSION]
#
# VERSION defaults to the pycapnp installed for $PYTHON (default python3), so
# the examples match the library that runs them. The script runs
#   python3 -m pip download --no-deps --no-binary :all: pycapnp==VERSION
# (pip prepares the sdist's metadata, which takes a few seconds and installs
# Cython into a throwaway build environment) and extracts into DIR:
#
#   DIR/addressbook.py, DIR/addressbook.capnp, ...   the sdist's examples/
#   DIR/test/*.capnp, DIR/test/all-types.*           the sdist's test schemas
#                                                    and golden messages
#   DIR/VERSION                                      the pycapnp version
#
# If DIR/VERSION already names that version, nothing is downloaded.
# The tests look for DIR in $SERDE_CAPNP_PYCAPNP_EXAMPLE, then in
# target/pycapnp-example (.ci/run uses the latter and exports the former).
#
# What pycapnp's examples/addressbook.py does: it imports addressbook_capnp
# (pycapnp's import hook loads addressbook.capnp from the script's own
# directory), builds an AddressBook with two people (Alice: id 123,
# alice@example.com, mobile 555-1212, employment.school "MIT"; Bob: id 456,
# bob@example.com, home 555-4567, work 555-7654, employment.unemployed),
# writes it with `message.write(file)` to a file named `example` in the
# current directory (UNPACKED, standard stream framing, one segment), then
# reads that file back and prints a short human-readable listing to stdout.
#
#   (cd "$(mktemp -d)" && python3 DIR/addressbook.py)   # leaves ./example
#   python3 tests/py/run_pycapnp_example.py DIR write > msg.bin
#   python3 tests/py/run_pycapnp_example.py DIR read < msg.bin
#
# Note that pycapnp's addressbook.capnp is not schemas/addressbook.capnp: it
# has its own file id, a constant `qux`, and two more Person fields
# (`testGroup` group @8..@10, `extraData @11 :Data`). Messages still read
# both ways because the extra fields are only appended.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
  echo "usage: $0 DIR [VERSION]" >&2
  exit 2
fi
dir="$1"
python="${PYTHON:-python3}"
version="${2:-}"
if [ -z "$version" ]; then
  if ! version="$("$python" -c 'import capnp; print(capnp.__version__)')"; then
    echo "error: pycapnp is not installed for $python; pass VERSION explicitly" >&2
    exit 1
  fi
fi

if [ -f "$dir/VERSION" ] && [ "$(cat "$dir/VERSION")" = "$version" ] \
   && [ -f "$dir/addressbook.py" ] && [ -f "$dir/addressbook.capnp" ]; then
  echo "pycapnp $version examples already in $dir"
  exit 0
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$python" -m pip download --quiet --disable-pip-version-check \
  --no-deps --no-binary :all: "pycapnp==$version" -d "$work"
sdist="$(ls "$work"/pycapnp-*.tar.gz)"
top="pycapnp-$version"

tar -xzf "$sdist" -C "$work" "$top/examples" "$top/test"
mkdir -p "$dir/test"
cp -R "$work/$top/examples/." "$dir/"
cp "$work/$top/test/"*.capnp "$dir/test/"
cp "$work/$top/test/"all-types.* "$dir/test/"
echo "$version" >"$dir/VERSION"
echo "pycapnp $version examples extracted to $dir"

#!/usr/bin/env bash
# Regenerates schemas/compiled/NAME.bin from every schemas/NAME.capnp.
#
# Each .bin file holds the bytes `capnp compile -o-` writes: a single
# unpacked Cap'n Proto message whose root is a schema.capnp
# CodeGeneratorRequest (the same input a `capnpc-*` plugin receives). It
# contains every node of the file, with ids, layouts and default values as
# computed by the reference C++ compiler, plus the source info (doc comments)
# and the requested file.
#
# The files are committed so that tests and examples can load schemas on
# machines without the `capnp` tool, and so that the pure-Rust compiler has a
# reference to compare against. Re-run this script after editing any schema
# and commit the results together with the .capnp change.
#
# Files are compiled with `--src-prefix=schemas`, so the file node's display
# name is plain `NAME.capnp` (not `schemas/NAME.capnp`) and a type can be
# named `NAME.capnp:Type`.
#
# Usage:
#   scripts/regen-schemas.sh           rewrite schemas/compiled/*.bin
#   scripts/regen-schemas.sh --check   only report files that are out of date
#                                      (exit status 1 if any is)
#
# Needs the `capnp` tool (Debian: apt-get install capnproto). The committed
# files were produced by Cap'n Proto 0.9.2, as recorded in
# schemas/compiled/CAPNP_VERSION; another version writes different bytes (at
# least its own version number), so --check with another version only says
# so and succeeds, and a rewrite updates CAPNP_VERSION.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

check=0
case "${1:-}" in
  "") ;;
  --check) check=1 ;;
  *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

if ! command -v capnp >/dev/null 2>&1; then
  echo "error: the capnp tool is not on PATH (Debian: apt-get install capnproto)" >&2
  exit 1
fi

mkdir -p schemas/compiled
have="$(capnp --version)"
if [ "$check" = 1 ] && [ -f schemas/compiled/CAPNP_VERSION ] \
   && [ "$(cat schemas/compiled/CAPNP_VERSION)" != "$have" ]; then
  echo "not checking: schemas/compiled was made by $(cat schemas/compiled/CAPNP_VERSION), this is $have" >&2
  exit 0
fi
if [ "$check" = 0 ]; then
  echo "$have" >schemas/compiled/CAPNP_VERSION
fi

stale=0
for src in schemas/*.capnp; do
  name="$(basename "$src" .capnp)"
  out="schemas/compiled/$name.bin"
  tmp="$(mktemp)"
  capnp compile -o- -I schemas --src-prefix=schemas "$src" >"$tmp"
  if cmp -s "$tmp" "$out"; then
    rm -f "$tmp"
    continue
  fi
  if [ "$check" = 1 ]; then
    echo "out of date: $out" >&2
    stale=1
    rm -f "$tmp"
  else
    cat "$tmp" >"$out"
    rm -f "$tmp"
    echo "wrote $out ($(wc -c <"$out") bytes)"
  fi
done

# Flag compiled files whose schema is gone.
for bin in schemas/compiled/*.bin; do
  [ -e "$bin" ] || continue
  name="$(basename "$bin" .bin)"
  if [ ! -e "schemas/$name.capnp" ]; then
    echo "no schemas/$name.capnp for $bin (delete it?)" >&2
    stale=1
  fi
done

exit "$stale"

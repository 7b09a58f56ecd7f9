#!/bin/sh
# check-host.sh: installs moonlet into a temporary prefix with make install,
# builds the example host (examples/host/health.c) against that copy with
# pkg-config alone, runs it and checks its status table. Prints TAP.
set -u
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
if ! make -s install PREFIX="$prefix" BUILD=build-install >"$prefix/log" 2>&1; then
  cat "$prefix/log"; echo "not ok 1 - make install PREFIX=..."; exit 1
fi
echo "ok 1 - make install PREFIX=... installs libmoonlet, moonlet.h and moonlet.pc"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
if ! cc -Wall -o "$prefix/health" examples/host/health.c $(pkg-config --cflags --libs moonlet) -lpthread; then
  echo "not ok 2 - the host builds with pkg-config --cflags --libs moonlet"; exit 1
fi
echo "ok 2 - the host builds with pkg-config --cflags --libs moonlet"
out=$("$prefix/health" examples/host/checks.lua 2>&1)
echo "$out" | sed 's/^/# /'
if echo "$out" | grep -q "^7 checks, 3 failed; host timer ticked [1-9][0-9]* times meanwhile; loop closed: yes$" &&
   echo "$out" | grep -q "^checksum thread  *OK .*fnv1a(hello) = 4f9f2cab$"; then
  echo "ok 3 - the installed host runs its Lua checks and closes its loop"
else
  echo "not ok 3 - the installed host runs its Lua checks and closes its loop"; exit 1
fi

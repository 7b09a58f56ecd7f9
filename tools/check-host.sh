#!/bin/sh
# check-host.sh: installs moonlet into a temporary prefix with make install,
# builds the example host (examples/host/health.c) against that copy with
# pkg-config alone, runs it and checks its status table; then a C++ host
# (test/host.cpp), linked with libmoonlet.so and statically with
# libmoonlet.a (pkg-config --static). Prints TAP.
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
flags=$(pkg-config --cflags --libs moonlet)
if c++ -Wall -o "$prefix/host-cpp" test/host.cpp $flags && out=$("$prefix/host-cpp") &&
   echo "$out" | grep -q "^moonlet [0-9.]* (header [0-9.]*)$"; then
  echo "ok 4 - a C++ host builds with pkg-config and runs a task ($out)"
else
  echo "not ok 4 - a C++ host builds with pkg-config and runs a task"; exit 1
fi
# The static library by name: the shared one beside it would win -lmoonlet.
static=$(pkg-config --static --libs moonlet | sed 's/-lmoonlet\b/-l:libmoonlet.a/')
if c++ -Wall -o "$prefix/host-static" test/host.cpp $(pkg-config --cflags moonlet) $static &&
   ! ldd "$prefix/host-static" | grep -q libmoonlet && "$prefix/host-static" >/dev/null; then
  echo "ok 5 - a host links libmoonlet.a with pkg-config --static --libs moonlet"
else
  echo "not ok 5 - a host links libmoonlet.a with pkg-config --static --libs moonlet"; exit 1
fi

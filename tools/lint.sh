#!/bin/sh
# lint.sh [BUILD] - luacheck over lua/, spec/, examples/ and bench/ with the
# checked-in .luacheckrc (clean: no warning), then the check that every
# public name has a LuaCATS annotation in types/moonlet.lua. Prints TAP;
# exits non-zero on any failure.
set -u
build=${1:-build}
status=0
if out=$(luacheck --no-color --codes lua spec examples bench 2>&1); then
  echo "ok 1 - luacheck: $(echo "$out" | tail -1)"
else
  echo "$out" | grep -v ' OK$'
  echo "not ok 1 - luacheck"
  status=1
fi
LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./$build/?.so;;" \
  lua5.4 tools/check-types.lua types/moonlet.lua 2 || status=1
exit $status

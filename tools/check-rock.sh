#!/bin/sh
# check-rock.sh - installs moonlet into a temporary tree with luarocks, as a
# user would, and runs the smoke spec against the installed copy from
# outside the source tree.
set -u
repo=$(pwd)
tree=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$tree" "$log" "$repo/build-rock"' EXIT
if ! luarocks --lua-version=5.4 --tree="$tree" make rockspec/moonlet-scm-1.rockspec >"$log" 2>&1; then
  cat "$log"
  echo "not ok 1 - luarocks make rockspec/moonlet-scm-1.rockspec"
  exit 1
fi
echo "ok 1 - luarocks make rockspec/moonlet-scm-1.rockspec"
if [ -f "$tree/share/lua/5.4/moonlet/types/moonlet.lua" ]; then
  echo "ok 2 - the rock installs the type annotations (moonlet/types/moonlet.lua)"
else
  echo "not ok 2 - the rock installs the type annotations (moonlet/types/moonlet.lua)"
fi
eval "$(luarocks --lua-version=5.4 --tree="$tree" path)"
# busted starts under the default lua (5.1 on Debian) before it re-executes
# with lua5.4: give the paths to Lua 5.4 alone.
export LUA_PATH_5_4="$LUA_PATH" LUA_CPATH_5_4="$LUA_CPATH"
unset LUA_PATH LUA_CPATH
cd "$tree" && MOONLET_ROCK_TREE="$tree" busted --lua=lua5.4 -o TAP \
  --helper="$repo/test/empty_helper.lua" "$repo/test/installed_spec.lua"

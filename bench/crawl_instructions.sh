#!/bin/sh
# Instructions per request of moonlet's HTTP client in the crawl
# (bench/crawl/moonlet.lua against bench/crawl/server.go, concurrency CONC):
# the client process's instructions for N2 URLs minus those for N1, over
# N2 - N1 (callgrind, so start-up cancels out), split by where they run:
# libcurl, the Lua VM, malloc/free, moonlet's C, libuv, the rest of libc.
# Then the same total for the libcurl floor (bench/crawl/curl_floor.c) and
# for Go's client. The kernel's share is not counted by callgrind.
#   sh bench/crawl_instructions.sh [N1 [N2 [BUILD [CONC]]]]   (CONC: 100)
set -eu
n1=${1:-1000}
n2=${2:-3000}
build=${3:-build}
conc=${4:-100}
[ -x "$build/crawl-server" ] || { echo "build $build/crawl-server first (make bench-deps)"; exit 1; }
tmp=$(mktemp -d)
"./$build/crawl-server" > "$tmp/server" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
while ! grep -q http "$tmp/server"; do sleep 0.2; done
url=$(grep -o 'http://[^ ]*' "$tmp/server" | head -1)
MOONLET="lua5.4 bench/crawl/moonlet.lua"
count() { # n [command] -> "total part=instructions ..."
  rm -f "$tmp"/cg.*
  LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./$build/?.so;;" MOONLET_WATCHDOG=0 GOMAXPROCS=1 \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
    ${2:-$MOONLET} "$url" "$1" "$conc" > "$tmp/out" 2>&1
  grep -q "bad 0" "$tmp/out" || { cat "$tmp/out" >&2; exit 1; }
  callgrind_annotate --threshold=100 "$tmp"/cg.* 2>/dev/null | awk -f bench/callgrind_parts.awk
}
a=$(count "$n1")
b=$(count "$n2")
echo "$a" "$b" | awk -v prefix=client -v d=$((n2 - n1)) \
  -v parts="libcurl lua_vm malloc moonlet_c libuv libc_other other" -f bench/callgrind_diff.awk
for other in "curl_floor ./$build/curl-floor" "go ./$build/crawl-client-go"; do
  name=${other%% *}
  cmd=${other#* }
  [ -x "${cmd%% *}" ] || continue
  a=$(count "$n1" "$cmd")
  b=$(count "$n2" "$cmd")
  echo "RESULT ${name}_instructions_per_request $(( (${b%% *} - ${a%% *}) / (n2 - n1) ))"
done

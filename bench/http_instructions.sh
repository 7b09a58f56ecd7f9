#!/bin/sh
# Instructions per request of moonlet's HTTP server and of its raw streams
# answering the same requests (callgrind, the stable figure on a noisy
# machine): the server's instructions for 2,500 requests minus those for
# 500, over 2,000. One keep-alive connection, requests one at a time:
# the plaintext request (http), the realistic one (bench/servers/realistic.lua:
# a query, ten header fields, three in the answer and a 1 KB body), and
# the plaintext one answered by raw streams.
# Each figure is also split by where the instructions run: the Lua VM
# (interpreting moonlet's Lua and the handler, and Lua's own allocation
# and collection), malloc/free, moonlet's C, http-parser, libuv, the rest
# of libc. The kernel's share is not counted by callgrind.
#   sh bench/http_instructions.sh [BUILD]
set -eu
build=${1:-build}
tmp=$(mktemp -d)
count() { # mode n -> "total part=instructions ..."
  rm -f "$tmp/port" "$tmp"/cg.*
  LUA_PATH='./lua/?.lua;./lua/?/init.lua;;' LUA_CPATH="./$build/?.so;;" MOONLET_WATCHDOG=0 \
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.%p" \
    lua5.4 bench/servers/count_http.lua "$1" "$2" "$tmp/port" >/dev/null 2>&1 &
  while [ ! -s "$tmp/port" ]; do sleep 0.2; done
  lua5.4 bench/servers/seq_client.lua "$(cat "$tmp/port")" "$2" "$1"
  wait
  callgrind_annotate --threshold=100 "$tmp"/cg.* 2>/dev/null | awk -f bench/callgrind_parts.awk
}
for mode in http realistic raw; do
  a=$(count $mode 500)
  b=$(count $mode 2500)
  echo "$a" "$b" | awk -v prefix="$mode" -v d=2000 \
    -v parts="lua_vm malloc moonlet_c http_parser libuv libc_other other" -f bench/callgrind_diff.awk
done
rm -rf "$tmp"
